"""ELF facts: one LIEF parse per executable or shared library, during the content pass.

What checks need of a binary is kept, not the parse: its machine, the functions it imports, the
libraries it needs, the printable strings of its read-only data (where string constants such as
prompts, command templates and hard-coded passwords live) and its exploit mitigations (``hardening``).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from iotcop.firmware.content import Blob, FileKind
from iotcop.firmware.hardening import Hardening, hardening_of

MAX_ELF = 32 * 1024 * 1024  # larger than any user-space binary of an embedded product
MAX_STRINGS = 20_000  # per binary
_PRINTABLE = re.compile(rb"[\x20-\x7e\t]{4,}")
_STRING_SECTIONS = (".rodata", ".rodata1", ".data.rel.ro", ".data", ".rodata.str1.1", ".rodata.str1.4")

if TYPE_CHECKING:
    import lief


@cache
def _lief() -> object:
    """LIEF, imported on first use: a quarter of a second that commands without binaries should not pay."""
    import lief

    lief.logging.disable()  # LIEF logs malformed headers to stderr; a hostile binary is reported, not logged
    return lief


@dataclass(frozen=True)
class ElfInfo:
    path: str
    machine: str
    imports: frozenset[str]
    libraries: tuple[str, ...]
    strings: tuple[str, ...]  # printable strings of the read-only data, in file order
    stripped: bool
    interpreter: str | None
    hardening: Hardening

    def imports_any(self, *names: str) -> list[str]:
        return sorted(n for n in names if n in self.imports)


@dataclass(frozen=True)
class ElfFiles:
    """Facts: every ELF file that parsed, and those that did not (with the reason)."""

    files: tuple[ElfInfo, ...] = ()
    unparsed: tuple[str, ...] = ()

    def get(self, path: str) -> ElfInfo | None:
        return next((f for f in self.files if f.path == path), None)


@dataclass
class ElfScanner:
    max_bytes: int = MAX_ELF
    files: list[ElfInfo] = field(default_factory=list)
    unparsed: list[str] = field(default_factory=list)

    def wants(self, path: str, kind: FileKind, language: str | None, head: bytes) -> bool:
        return kind is FileKind.ELF

    def feed(self, blob: Blob) -> None:
        if blob.truncated:
            self.unparsed.append(f"{blob.path}: larger than {MAX_ELF >> 20} MiB, not parsed")
            return
        info = parse_elf(blob.path, blob.data)
        if info is None:
            self.unparsed.append(f"{blob.path}: not a valid ELF file")
        else:
            self.files.append(info)

    def result(self) -> ElfFiles:
        return ElfFiles(tuple(self.files), tuple(self.unparsed))


def parse_elf(path: str, data: bytes) -> ElfInfo | None:
    """The facts of one ELF file, or None when it does not parse. Headers are the file's own: an
    interpreter path that is not UTF-8 or a section offset past the end must not escape as an exception."""
    try:
        with warnings.catch_warnings():  # unknown enum values (machine, section type) are values, not warnings
            warnings.simplefilter("ignore", RuntimeWarning)
            return _parse(path, data)
    except (RuntimeError, ValueError, TypeError, OverflowError, UnicodeError, MemoryError):
        return None


def _parse(path: str, data: bytes) -> ElfInfo | None:
    lief_module = _lief()
    config = lief_module.ELF.ParserConfig()  # type: ignore[attr-defined]
    # what the facts need: sections, dynamic symbols and libraries; relocations, the static symbol table,
    # symbol versions, notes and overlay cost a third of the parse time and are not read
    config.parse_relocations = config.parse_symtab_symbols = config.parse_symbol_versions = False
    config.parse_notes = config.parse_overlay = False
    binary = lief_module.ELF.parse(data, config)  # type: ignore[attr-defined]
    if binary is None:
        return None
    imports = frozenset(_text(f.name) for f in binary.imported_functions if f.name)
    machine = str(binary.header.machine_type).rsplit(".", 1)[-1]
    return ElfInfo(
        path=path,
        machine=machine,
        imports=imports,
        libraries=tuple(_text(lib) for lib in binary.libraries),
        strings=_strings(binary, data),
        stripped=not any(s.name == ".symtab" for s in binary.sections),
        interpreter=binary.interpreter if binary.has_interpreter else None,
        hardening=hardening_of(binary, lief_module, data),
    )


def _strings(binary: lief.ELF.Binary, data: bytes) -> tuple[str, ...]:
    """Printable strings of the data sections; the whole file when the section table is gone."""
    nobits = _lief().ELF.Section.TYPE.NOBITS  # type: ignore[attr-defined]
    regions = [(min(s.offset, len(data)), s.size) for s in binary.sections
               if s.name in _STRING_SECTIONS and s.type != nobits and s.size]
    if not regions:
        regions = [(0, len(data))]
    out: list[str] = []
    for offset, size in regions:
        for match in _PRINTABLE.finditer(data, offset, min(offset + size, len(data))):
            out.append(match.group().decode("ascii"))
            if len(out) >= MAX_STRINGS:
                return tuple(out)
    return tuple(out)


def _text(name: str | bytes) -> str:
    return name.decode("latin-1") if isinstance(name, bytes) else name
