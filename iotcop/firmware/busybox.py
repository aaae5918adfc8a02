"""Which BusyBox applets an image really has: read from the applet name table compiled into each BusyBox binary.

Since BusyBox 1.15 the build generates ``applet_names[]`` (``include/applet_tables.h``): every compiled-in applet
name, sorted with ``strcmp``, each ended by one NUL, in one contiguous string (``"[\\0[[\\0acpid\\0..."``). That
table is the strong evidence: an applet not in it is not in the binary, whatever links the tree has. Links to the
binary (``/sbin/udhcpc -> /bin/busybox``) are a weaker signal: they say an applet is meant to run, but a missing
link does not mean a missing applet (``busybox udhcpc`` still works), and a link may name an applet left out.

``BusyBoxScanner`` is a content-pass scanner (``scan_content``): it wants ELF files named ``busybox*`` and any file
three or more symlinks point to (a renamed multi-call binary); it keeps those that carry the ``BusyBox`` banner.
Build it with ``BusyBoxScanner.for_tree(fs)`` (the symlinks are read from the FileSystem view, in memory) and take
the facts with ``.result()``.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from iotcop.firmware.content import Blob, FileKind
from iotcop.firmware.filesystem import FileSystem

MAX_BYTES = 16 * 1024 * 1024  # the largest static BusyBox builds are ~2.5 MB
MAX_APPLETS = 1024  # BusyBox 1.37 has ~400 applets; a longer "table" is something else
MIN_APPLETS = 6  # a shorter sorted run of names is too likely to be chance
MIN_LINKS = 3  # a file this many symlinks point to is a multi-call binary worth reading
MAX_LINKS_KEPT = 2048
# an applet name: lower-case letters, digits, '[' ('[', '[['), '-', '_' and '.' ('mkfs.ext2', 'run-parts')
_RUN = re.compile(rb"(?:[a-z\[][a-z0-9_.\-\[]{0,31}\x00){%d,}" % MIN_APPLETS)
_BANNER = re.compile(rb"BusyBox v(\d+\.\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class BusyBoxBinary:
    """One BusyBox binary: its compiled-in applets (``table_offset`` None: no applet table was found, so the
    applets are unknown, not absent) and the symlinks in the tree that point to it."""

    path: str
    version: str | None
    applets: frozenset[str] = frozenset()
    table_offset: int | None = None
    links: tuple[str, ...] = ()

    @property
    def table_found(self) -> bool:
        return self.table_offset is not None

    def linked(self, applet: str) -> tuple[str, ...]:
        return tuple(p for p in self.links if posixpath.basename(p) == applet)


@dataclass(frozen=True)
class BusyBoxApplets:
    """Facts: every BusyBox binary found in the image, sorted by path."""

    binaries: tuple[BusyBoxBinary, ...] = ()

    def at(self, paths: Iterable[str]) -> tuple[BusyBoxBinary, ...]:
        """The binaries at ``paths`` (a component's locations), or every binary if none is there."""
        wanted = set(paths)
        return tuple(b for b in self.binaries if b.path in wanted) or self.binaries


def parse_applet_table(data: bytes) -> tuple[int, tuple[str, ...]] | None:
    """(offset, names) of the longest run of at least ``MIN_APPLETS`` applet-like names, each ended by a single
    NUL and in strictly increasing ``strcmp`` order; None when there is none. Never raises."""
    best: tuple[int, tuple[str, ...]] | None = None
    for match in _RUN.finditer(data):
        names = match.group().split(b"\x00")[:-1]
        start = offset = match.start()
        run: list[bytes] = []
        for name in names:
            if run and name <= run[-1]:  # sorting broken: a new run begins here
                best = _better(best, start, run)
                start, run = offset, []
            run.append(name)
            offset += len(name) + 1
        best = _better(best, start, run)
    return best


def _better(best: tuple[int, tuple[str, ...]] | None, start: int,
            run: list[bytes]) -> tuple[int, tuple[str, ...]] | None:
    if MIN_APPLETS <= len(run) <= MAX_APPLETS and (best is None or len(run) > len(best[1])):
        return start, tuple(n.decode("ascii") for n in run)
    return best


def binary_of(path: str, data: bytes, truncated: bool, links: tuple[str, ...] = ()) -> BusyBoxBinary | None:
    """The BusyBox facts of one file's content, or None when it is not BusyBox (no ``BusyBox`` banner)."""
    if b"BusyBox" not in data:
        return None
    banner = _BANNER.search(data)
    version = banner.group(1).decode("ascii") if banner else None
    table = parse_applet_table(data)
    if table is None or (truncated and table[0] + sum(len(n) + 1 for n in table[1]) >= len(data)):
        return BusyBoxBinary(path, version, links=links)  # a table cut by the read bound is not complete
    return BusyBoxBinary(path, version, frozenset(table[1]), table[0], links)


@dataclass
class BusyBoxScanner:
    """Content-pass scanner for BusyBox binaries (see the module's docstring)."""

    links: dict[str, tuple[str, ...]] = field(default_factory=dict)  # target path -> symlinks to it
    max_bytes: int = MAX_BYTES
    found: list[BusyBoxBinary] = field(default_factory=list)

    @classmethod
    def for_tree(cls, fs: FileSystem) -> BusyBoxScanner:
        """A scanner that knows the tree's symlinks (read from the in-memory view, no I/O)."""
        links: dict[str, list[str]] = {}
        for entry in fs.entries():
            if entry.is_symlink and (target := fs.resolve(entry.path)) is not None and target.is_file:
                kept = links.setdefault(target.path, [])
                if len(kept) < MAX_LINKS_KEPT:
                    kept.append(entry.path)
        return cls({k: tuple(sorted(v)) for k, v in links.items()})

    def wants(self, path: str, kind: FileKind, language: str | None, head: bytes) -> bool:
        if kind is not FileKind.ELF:
            return False
        return posixpath.basename(path).startswith("busybox") or len(self.links.get(path, ())) >= MIN_LINKS

    def feed(self, blob: Blob) -> None:
        found = binary_of(blob.path, blob.data, blob.truncated, self.links.get(blob.path, ()))
        if found is not None:
            self.found.append(found)

    def result(self) -> BusyBoxApplets:
        return BusyBoxApplets(tuple(sorted(self.found, key=lambda b: b.path)))
