"""Firmware checks on the exploit mitigations of the image's programs and libraries (guideline 6;
EN 303 645 5.6-8), as checksec decides them (``firmware.hardening``). One finding per mitigation names the
binaries that lack it: a router has hundreds, and the reader wants the list, not hundreds of findings."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from iotcop.checks.registry import CheckFunc, check, spec_of
from iotcop.errors import CannotAssess
from iotcop.firmware.elf import ElfFiles, ElfInfo
from iotcop.model import Evidence, EvidenceKind, Finding, Location, Severity

SHOWN = 12


def _binaries(elves: ElfFiles, executables_only: bool = False) -> list[ElfInfo]:
    chosen = [f for f in elves.files if f.hardening.pie != "rel"  # relocatable objects (.ko, .o) are not run
              and (f.hardening.executable or not executables_only)]
    if not chosen:
        raise CannotAssess("no ELF program or shared library was parsed from the image" + (
            f" ({len(elves.unparsed)} did not parse)" if elves.unparsed else ""))
    return chosen


def _lacking(func: CheckFunc, elves: ElfFiles, lacks: Callable[[ElfInfo], bool], what: str,
             executables_only: bool = False) -> Iterator[Finding]:
    chosen = _binaries(elves, executables_only)
    missing = sorted((f for f in chosen if lacks(f)), key=lambda f: f.path)
    if not missing:
        return
    names = ", ".join(f.path for f in missing[:SHOWN]) + (f" and {len(missing) - SHOWN} more"
                                                           if len(missing) > SHOWN else "")
    kind = "executables" if executables_only else "programs and libraries"
    yield spec_of(func).finding(
        message=f"{len(missing)} of {len(chosen)} {kind} {what}: {names}.",
        location=Location.in_image(missing[0].path),
        evidence=Evidence.of("\n".join(f"{f.path}: {_flags(f)}" for f in missing[:SHOWN]),
                             "ELF program headers, dynamic section and symbols (as checksec reads them)"))


def _flags(f: ElfInfo) -> str:
    h = f.hardening
    return (f"{f.machine}, NX {'yes' if h.nx else 'no'}, PIE {h.pie}, RELRO {h.relro}, canary "
            f"{'yes' if h.canary else 'no'}, FORTIFY {'yes' if h.fortify else 'no'}")


@check(
    id="fw.binaries.no-nx",
    title="Programs or libraries have an executable stack (no NX)",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.MEDIUM,
    remediation="Link with -z noexecstack (the toolchain default) and remove assembly objects that lack a "
                ".note.GNU-stack section; check the result with checksec.",
)
def no_nx(elves: ElfFiles) -> Iterator[Finding]:
    """An executable stack lets a stack overflow run injected code directly: the memory access control the
    CPU offers is not used (5.6-8)."""
    mips = any(f.machine.startswith("MIPS") and not f.hardening.nx for f in elves.files)
    why = ("; MIPS toolchains still mark stacks executable by default, a relic of FPU emulation that kernels "
           "since 4.8 no longer need" if mips else "")
    yield from _lacking(no_nx, elves, lambda f: not f.hardening.nx, f"lack a non-executable stack (NX{why})")


@check(
    id="fw.binaries.no-pie",
    title="Executables are not position-independent (no PIE)",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.LOW,
    remediation="Build executables with -fPIE -pie so that address space layout randomisation applies to them.",
)
def no_pie(elves: ElfFiles) -> Iterator[Finding]:
    """A fixed-address executable gives an attacker known addresses for code reuse (ROP): ASLR cannot move
    it (5.6-8)."""
    yield from _lacking(no_pie, elves, lambda f: f.hardening.pie == "no", "lack position independence (PIE)",
                        executables_only=True)


@check(
    id="fw.binaries.no-relro",
    title="Programs or libraries have no RELRO",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.LOW,
    remediation="Link with -Wl,-z,relro,-z,now (full RELRO) so that the GOT is read-only after start-up.",
)
def no_relro(elves: ElfFiles) -> Iterator[Finding]:
    """Without RELRO the global offset table stays writable, and a memory-corruption bug becomes a control
    flow hijack by overwriting one pointer (5.6-8). Partial RELRO is not reported."""
    yield from _lacking(no_relro, elves, lambda f: f.hardening.relro == "no", "lack RELRO")


@check(
    id="fw.binaries.no-canary",
    title="No binary uses stack canaries",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.LOW,
    remediation="Build with -fstack-protector-strong.",
)
def no_canary(elves: ElfFiles) -> Iterator[Finding]:
    """Stack canaries stop most stack buffer overflows at function return (5.6-8). A small program with no
    stack arrays has no canary even when built with -fstack-protector-strong, so one binary without a canary
    proves little: this finding is made only when none of the image's executables has one."""
    executables = _binaries(elves, executables_only=True)
    if any(f.hardening.canary for f in executables):
        return
    yield from _lacking(no_canary, elves, lambda f: not f.hardening.canary, "lack stack canaries",
                        executables_only=True)


@check(
    id="fw.binaries.dangerous-import",
    title="Programs call gets(), which cannot be used safely",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.MEDIUM,
    remediation="Replace gets() with fgets() and a buffer size; build with -Werror=implicit-function-declaration "
                "and a libc that no longer offers gets().",
)
def dangerous_import(elves: ElfFiles) -> Iterator[Finding]:
    """gets() writes input of any length into a fixed buffer: every call is a buffer overflow waiting for
    long input (CWE-242); input is not validated (5.13-1). strcpy, sprintf and system are not reported on
    their own: most uses are safe, and their flows are judged by the input-handling checks."""
    yield from _lacking(dangerous_import, elves, lambda f: "gets" in f.imports, "import gets()")
