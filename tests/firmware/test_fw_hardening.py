"""Exploit mitigations of real binaries: iotcop's flags (``ElfInfo.hardening``) against Debian's ``checksec``
on the same files, for binaries compiled with and without hardening for x86_64, armhf, mipsel and aarch64
(tests/fixtures/hardening_binaries.py) and for Debian's own armhf/mipsel/arm64 binaries. The flags must
agree, all mismatches reported at once; what each variant must show is asserted too, so that the two tools
cannot pass by being wrong the same way."""

from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fwimages import require_tool
from hardening_binaries import ARCHES, foreign_binaries, matrix
from hypothesis import given, settings
from hypothesis import strategies as st

from iotcop.firmware.elf import parse_elf
from iotcop.firmware.hardening import Hardening

FLAGS = ("relro", "canary", "nx", "pie", "rpath", "runpath", "symbols", "fortify_source")
Flags = dict[str, str]

# What each variant must show (iotcop's flags; checksec's must equal them). mipsel-linux-gnu-gcc marks the
# stack executable unless linked with -z noexecstack, which "buildflags", "pie", "canary", "fortify" and
# "static" are not: NX is then off on mipsel only.
EXPECTED: dict[str, Flags] = {
    "buildflags": {"relro": "full", "canary": "yes", "pie": "yes", "fortify_source": "yes", "nx": "yes"},
    "hardened": {"relro": "full", "canary": "yes", "nx": "yes", "pie": "yes", "fortify_source": "yes",
                 "rpath": "no", "runpath": "no", "symbols": "yes"},
    "none": {"relro": "no", "canary": "no", "nx": "no", "pie": "no", "fortify_source": "no"},
    "partial-relro": {"relro": "partial", "canary": "no", "nx": "yes", "pie": "no", "fortify_source": "no"},
    "pie": {"pie": "yes", "relro": "no", "canary": "no", "fortify_source": "no", "nx": "yes"},
    "canary": {"canary": "yes", "relro": "no", "pie": "no", "fortify_source": "no", "nx": "yes"},
    "fortify": {"fortify_source": "yes", "canary": "no", "relro": "no", "pie": "no", "nx": "yes"},
    "rpath": {"rpath": "yes", "runpath": "no", "relro": "full", "pie": "yes"},
    "runpath": {"runpath": "yes", "rpath": "no", "relro": "full", "pie": "yes"},
    "stripped": {"symbols": "no", "canary": "yes", "fortify_source": "yes", "relro": "full", "pie": "yes"},
    "static": {"pie": "no", "canary": "yes", "fortify_source": "no", "nx": "yes", "symbols": "yes"},
    "shared": {"pie": "dso", "relro": "full", "canary": "yes", "fortify_source": "yes", "nx": "yes"},
    "shared-plain": {"pie": "dso", "relro": "no", "canary": "no", "fortify_source": "no"},
    "sstripped": {"symbols": "no", "canary": "yes", "fortify_source": "yes", "relro": "full", "nx": "yes"},
}
MIPS_EXECSTACK = {"buildflags", "pie", "canary", "fortify", "static"}
# The mipsel static binary has no GNU_RELRO segment (the other toolchains' static links have one)
MIPS_OVERRIDES: dict[str, Flags] = {"static": {"nx": "no", "relro": "no"}}

# Known, understood disagreements: (iotcop, checksec). A binary without a section header table (sstrip,
# llvm-objcopy --strip-sections: OpenWrt's firmware) still imports __stack_chk_fail and __sprintf_chk through
# its dynamic segment, which LIEF reads; checksec asks `readelf -s`/`--dyn-syms`, which need section
# headers ("Dynamic symbol information is not available"), and reports no canary and no FORTIFY.
KNOWN: dict[str, dict[str, tuple[str, str]]] = {
    "sstripped": {"canary": ("yes", "no"), "fortify_source": ("yes", "no")},
}


def _yes(value: object) -> str:
    return "yes" if value else "no"


def iotcop_flags(path: Path) -> Flags:
    info = parse_elf(str(path), path.read_bytes())
    assert info is not None, f"{path}: iotcop could not parse it"
    h = info.hardening
    return {"relro": h.relro, "canary": _yes(h.canary), "nx": _yes(h.nx), "pie": h.pie, "rpath": _yes(h.rpath),
            "runpath": _yes(h.runpath), "symbols": _yes(h.symbols), "fortify_source": _yes(h.fortify)}


def checksec_flags(checksec: str, path: Path) -> Flags:
    done = subprocess.run([checksec, "--format=json", f"--file={path}"], capture_output=True, text=True,
                          check=True)
    (found,) = json.loads(done.stdout).values()
    return {flag: found[flag] for flag in FLAGS}


def mismatches(checksec: str, binaries: dict[str, Path], known: dict[str, dict[str, tuple[str, str]]]) -> list[str]:
    """Every flag on which the two tools differ (or, for a known divergence, differ otherwise than known)."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        theirs = dict(zip(binaries, pool.map(lambda p: checksec_flags(checksec, p), binaries.values()),
                          strict=True))
    problems = []
    for label, path in binaries.items():
        ours = iotcop_flags(path)
        for flag in FLAGS:
            expected = known.get(label, {}).get(flag, (theirs[label][flag],) * 2)
            if (ours[flag], theirs[label][flag]) != expected:
                problems.append(f"{label}: {flag}: iotcop {ours[flag]!r}, checksec {theirs[label][flag]!r}"
                                + (f" (known divergence: {expected})" if expected[0] != expected[1] else ""))
    return problems


@pytest.fixture(scope="module")
def checksec() -> str:
    return require_tool("checksec")


@pytest.mark.parametrize("arch", ARCHES)
def test_compiled_binaries_agree_with_checksec(arch: str, checksec: str) -> None:
    built = matrix(arch)
    assert built.binaries.keys() >= {"hardened", "none", "shared", "stripped"}, built.skipped
    problems = mismatches(checksec, built.binaries, KNOWN)
    assert not problems, f"{arch}: {len(problems)} mismatches:\n" + "\n".join(problems)


@pytest.mark.parametrize("arch", ARCHES)
def test_compiled_binaries_show_what_they_were_built_with(arch: str) -> None:
    built = matrix(arch)
    problems = []
    for variant, path in built.binaries.items():
        expected = dict(EXPECTED[variant])
        if arch == "mipsel":
            expected |= MIPS_OVERRIDES.get(variant, {}) | ({"nx": "no"} if variant in MIPS_EXECSTACK else {})
        ours = iotcop_flags(path)
        problems += [f"{arch}/{variant}: {flag}: {ours[flag]!r}, expected {value!r}"
                     for flag, value in expected.items() if ours[flag] != value]
    assert not problems, "\n".join(problems)


def test_paths_and_counts_are_kept() -> None:
    built = matrix("mipsel")
    rpath, runpath = (_hardening(built.binaries[v]) for v in ("rpath", "runpath"))
    assert (rpath.rpath, rpath.runpath) == (("/opt/lib",), ())
    assert (runpath.rpath, runpath.runpath) == ((), ("/opt/lib", "/usr/local/lib"))
    hardened = _hardening(built.binaries["hardened"])
    assert hardened.fortified >= 2 and hardened.executable  # __strcpy_chk/__memcpy_chk/__sprintf_chk
    assert _hardening(built.binaries["none"]).fortified == 0
    assert not _hardening(built.binaries["shared"]).executable


def test_the_fully_hardened_and_the_bare_mipsel_binaries(checksec: str) -> None:
    """Stated directly, for both tools: neither can pass by being wrong the same way as the other."""
    built = matrix("mipsel")
    hardened = {"relro": "full", "canary": "yes", "nx": "yes", "pie": "yes"}
    bare = {"relro": "no", "canary": "no", "nx": "no", "pie": "no"}
    for variant, expected in (("hardened", hardened), ("none", bare)):
        path = built.binaries[variant]
        for tool, flags in (("iotcop", iotcop_flags(path)), ("checksec", checksec_flags(checksec, path))):
            assert {k: flags[k] for k in expected} == expected, f"{tool} on mipsel/{variant}"


def test_debian_foreign_binaries_agree_with_checksec(checksec: str, tmp_path: Path) -> None:
    binaries = foreign_binaries(tmp_path, limit=20)
    if not binaries:
        pytest.skip("no busybox-static/dropbear-bin/lighttpd/mosquitto .deb in build/debs "
                    "(scripts/fetch-foreign-binaries.sh)")
    problems = mismatches(checksec, binaries, {})
    assert not problems, f"{len(problems)} mismatches:\n" + "\n".join(problems)
    flags = {label: iotcop_flags(path) for label, path in binaries.items()}
    for label, found in flags.items():  # a few facts of Debian's builds, checked directly
        if label.startswith("busybox-static_"):
            assert (found["pie"], found["fortify_source"]) == ("no", "no"), label  # static, not PIE
        if label == "dropbear-bin_mipsel/usr/sbin/dropbear":
            # hardened, but with the MIPS toolchain's executable stack
            assert {k: found[k] for k in ("relro", "canary", "pie", "nx")} == {
                "relro": "full", "canary": "yes", "pie": "yes", "nx": "no"}, label


def _hardening(path: Path) -> Hardening:
    info = parse_elf(str(path), path.read_bytes())
    assert info is not None
    return info.hardening


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_damaged_binaries_never_raise(data: st.DataObject) -> None:
    """Real binaries with bytes of their headers, program headers and dynamic section overwritten: parsing
    returns facts in their domains or None, and never raises."""
    arch = data.draw(st.sampled_from(sorted(ARCHES)))
    built = matrix(arch)
    original = bytearray(built.binaries[data.draw(st.sampled_from(sorted(built.binaries)))].read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        offset = data.draw(st.integers(0, min(len(original), 8192) - 1))
        chunk = data.draw(st.binary(min_size=1, max_size=8))
        original[offset:offset + len(chunk)] = chunk
    if data.draw(st.booleans()):
        del original[data.draw(st.integers(0, len(original))):]
    info = parse_elf("/bin/damaged", bytes(original))
    if info is not None:
        h = info.hardening
        assert h.relro in ("full", "partial", "no") and h.pie in ("yes", "no", "dso", "rel")
        assert h.fortified >= 0 and h.fortify == (h.fortified > 0)
