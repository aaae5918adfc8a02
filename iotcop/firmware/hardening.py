"""Exploit mitigations of one ELF file, decided as checksec.sh (v2.6, Debian's ``checksec``) decides them,
so that a user can compare the two and find them equal:

- RELRO: a ``GNU_RELRO`` segment gives partial RELRO; with ``BIND_NOW`` in the dynamic section (the
  ``BIND_NOW`` tag, or the ``BIND_NOW`` bit of ``DT_FLAGS``) full RELRO;
- stack canary: a symbol (dynamic or static) named ``__stack_chk_fail``, ``__stack_chk_guard`` or
  ``__intel_security_cookie``;
- NX: a ``GNU_STACK`` segment that is not read-write-execute (no ``GNU_STACK`` at all: NX disabled);
- PIE: ``EXEC`` no; ``DYN`` with a ``DEBUG`` dynamic entry yes (an executable), without it ``dso``; ``REL``;
- FORTIFY_SOURCE: a dynamic symbol ending in ``_chk`` (``__memcpy_chk``), and how many there are;
- RPATH / RUNPATH and whether a ``.symtab`` section (symbols) is left.

The static symbol table is not parsed (it is large): its names are searched in ``.strtab``'s bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

CANARY_SYMBOLS = (b"__stack_chk_fail", b"__stack_chk_guard", b"__intel_security_cookie")
# Imports whose misuse is the classic memory-safety or injection flaw in embedded code (CWE-120, CWE-78)
DANGEROUS_IMPORTS = ("gets", "strcpy", "strcat", "sprintf", "vsprintf", "scanf", "sscanf", "system", "popen")


@dataclass(frozen=True)
class Hardening:
    nx: bool
    pie: Literal["yes", "no", "dso", "rel"]
    relro: Literal["full", "partial", "no"]
    canary: bool
    fortify: bool
    fortified: int  # dynamic symbols ending in _chk
    rpath: tuple[str, ...]
    runpath: tuple[str, ...]
    symbols: bool  # a .symtab section is left (not stripped)

    @property
    def executable(self) -> bool:
        """An executable rather than a shared library (PIE executables are DYN with a DEBUG entry)."""
        return self.pie in ("yes", "no")


def hardening_of(binary: Any, lief: Any, data: bytes) -> Hardening:
    """``binary``: a parsed ``lief.ELF.Binary`` of ``data``; ``lief``: the module (imported lazily)."""
    elf = lief.ELF
    segments = {s.type for s in binary.segments}
    stacks = [s for s in binary.segments if s.type == elf.Segment.TYPE.GNU_STACK]
    rwx = elf.Segment.FLAGS.R | elf.Segment.FLAGS.W | elf.Segment.FLAGS.X
    tags = {e.tag: e for e in binary.dynamic_entries}
    flags = tags.get(elf.DynamicEntry.TAG.FLAGS)
    bind_now = elf.DynamicEntry.TAG.BIND_NOW in tags or (
        flags is not None and flags.has(elf.DynamicEntryFlags.FLAG.BIND_NOW))
    relro: Literal["full", "partial", "no"] = "no"
    if elf.Segment.TYPE.GNU_RELRO in segments:
        relro = "full" if bind_now else "partial"
    file_type = binary.header.file_type
    pie: Literal["yes", "no", "dso", "rel"] = "rel"
    if file_type == elf.Header.FILE_TYPE.EXEC:
        pie = "no"
    elif file_type == elf.Header.FILE_TYPE.DYN:
        pie = "yes" if elf.DynamicEntry.TAG.DEBUG_TAG in tags else "dso"
    dynamic = [s.name for s in binary.dynamic_symbols]
    names = [n.decode("latin-1") if isinstance(n, bytes) else n for n in dynamic]
    strtab = next((bytes(s.content) for s in binary.sections if s.name == ".strtab"), b"")
    canary = any(c.decode() in n for n in names for c in CANARY_SYMBOLS) or any(c in strtab for c in CANARY_SYMBOLS)
    fortified = sum(1 for n in names if n.endswith("_chk"))
    return Hardening(
        nx=bool(stacks) and (stacks[0].flags & rwx) != rwx,
        pie=pie,
        relro=relro,
        canary=canary,
        fortify=fortified > 0,
        fortified=fortified,
        rpath=_paths(tags.get(elf.DynamicEntry.TAG.RPATH)),
        runpath=_paths(tags.get(elf.DynamicEntry.TAG.RUNPATH)),
        symbols=any(s.name == ".symtab" for s in binary.sections),
    )


def _paths(entry: Any) -> tuple[str, ...]:
    if entry is None:
        return ()
    value = getattr(entry, "rpath", None) or getattr(entry, "runpath", None) or ""
    return tuple(p for p in str(value).split(":") if p)
