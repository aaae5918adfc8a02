"""One pass over the content of a root file system: each regular file is opened and read at most once, and
offered to every scanner that wants it (keys, secrets, web handlers, ELF facts, ...).

A scanner looks at a file's kind and first bytes (``wants``) and, if it wants the file, receives its
content up to its own bound (``feed``). The pass reads the largest bound any interested scanner asked for,
so a file several scanners want is still read once. Scanners keep their own results; the collector in
``facts.py`` asks each for its facts afterwards. Scanners never touch the disk: all I/O is here.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from typing import Protocol

from iotcop.firmware.filesystem import Entry, FileSystem

HEAD = 4096  # what is read of every file to classify it
MAX_FILES = 200_000  # a root file system with more regular files than this is not an embedded product

_SHEBANG = re.compile(rb"^#![ \t]*(\S+)(?:[ \t]+(\S+))?")
_INTERPRETERS = {"sh": "sh", "ash": "sh", "bash": "sh", "dash": "sh", "hush": "sh", "ksh": "sh", "haserl": "sh",
                 "lua": "lua", "luajit": "lua", "php": "php", "php-cgi": "php", "python": "python",
                 "python2": "python", "python3": "python", "perl": "perl", "ucode": "ucode", "node": "js"}
_SUFFIX_LANGUAGE = {".sh": "sh", ".cgi": "sh", ".lua": "lua", ".php": "php", ".py": "python", ".pl": "perl",
                    ".js": "js", ".uc": "ucode"}
_DOC_DIRS = ("/usr/share/doc/", "/usr/share/man/", "/usr/man/", "/usr/share/info/", "/usr/share/examples/",
             "/usr/doc/", "/usr/share/gtk-doc/", "/usr/share/licenses/", "/usr/share/common-licenses/")
_DOC_NAMES = re.compile(r"(?i)^(readme|changelog|changes|news|copying|license|licence|authors|todo)"
                        r"([._-].*)?$|\.(md|rst|man|info|pod|sample|example|dist)$")
_EXAMPLE_DIRS = re.compile(r"(?i)/(examples?|samples?|docs?)/")
_TEST_DIRS = re.compile(r"(?i)^/usr/(lib|share)/.*/(tests?|testing)/")  # test suites of shipped libraries
# Where the device serves or runs code: a 'test.cgi' or a 'doc/' folder there is live (and vendors'
# test and debug CGIs are a classic backdoor), never documentation.
_LIVE = re.compile(r"/(cgi-bin|www|htdocs|webroot|web)/")


class FileKind(StrEnum):
    ELF = "elf"
    SCRIPT = "script"  # a program in an interpreted language (shebang, or a known suffix)
    TEXT = "text"  # configuration and other text
    BINARY = "binary"  # anything else (images, archives, databases, key blobs)


@dataclass(frozen=True, slots=True)
class Blob:
    """A file as the pass offers it to scanners: ``data`` is its content up to the bound asked for."""

    entry: Entry
    kind: FileKind
    language: str | None  # for scripts: sh, lua, php, python, perl, js, ucode
    data: bytes

    @property
    def path(self) -> str:
        return self.entry.path

    @property
    def truncated(self) -> bool:
        return len(self.data) < self.entry.size

    @property
    def documentation(self) -> bool:
        return is_documentation(self.entry.path)

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


class Scanner(Protocol):
    """What the pass needs of a scanner. ``max_bytes`` bounds what it is given of any one file."""

    max_bytes: int

    def wants(self, path: str, kind: FileKind, language: str | None, head: bytes) -> bool: ...

    def feed(self, blob: Blob) -> None: ...


def is_documentation(path: str) -> bool:
    """Whether a path is documentation, an example or a template: text that describes a product, not
    the product's own configuration (a password in a man page is not a shipped credential)."""
    if path.startswith(_DOC_DIRS) or _DOC_NAMES.search(posixpath.basename(path)):
        return True
    if _LIVE.search(path) or path.startswith(("/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/")):
        return False
    return bool(_EXAMPLE_DIRS.search(path) or _TEST_DIRS.search(path))


def classify(path: str, head: bytes) -> tuple[FileKind, str | None]:
    """The kind of a file from its first bytes (and, for scripts without a shebang, its suffix)."""
    if head.startswith(b"\x7fELF"):
        return FileKind.ELF, None
    if match := _SHEBANG.match(head):
        program = posixpath.basename(match.group(1).decode("latin-1"))
        if program == "env" and match.group(2):
            program = posixpath.basename(match.group(2).decode("latin-1"))
        language = _INTERPRETERS.get(program) or _INTERPRETERS.get(program.rstrip("0123456789."))
        return FileKind.SCRIPT, language or "sh"
    if b"\0" in head:
        return FileKind.BINARY, None
    language = _SUFFIX_LANGUAGE.get(posixpath.splitext(path)[1].lower())
    if language is not None:
        return FileKind.SCRIPT, language
    if head.startswith(b"<?php") or b"<?php" in head[:512]:
        return FileKind.SCRIPT, "php"
    return FileKind.TEXT, None


@dataclass(frozen=True)
class PassStats:
    """What the pass did: files offered, read, and bytes read (for the assessment's notes and the bench);
    ``failed`` maps a scanner (by class name) that raised to the error: it was offered nothing after it,
    and its facts are not to be trusted."""

    files: int
    read: int
    bytes_read: int
    skipped: tuple[str, ...] = ()
    failed: dict[str, str] = field(default_factory=dict)


def scan_content(fs: FileSystem, scanners: Sequence[Scanner]) -> PassStats:
    """Offer every regular file of ``fs`` to ``scanners``, reading each at most once. A scanner that raises
    (a bug, or input its parser did not foresee) is dropped with the error recorded; the others go on."""
    files = read = total = 0
    skipped: list[str] = []
    failed: dict[str, str] = {}
    live = list(scanners)

    def guarded(scanner: Scanner, path: str, call: Callable[[], bool | None]) -> bool:
        try:
            return bool(call())
        except Exception as exc:  # one scanner's failure must not end the pass for the others
            failed[type(scanner).__name__] = f"{type(exc).__name__} on {path}: {exc}"
            live.remove(scanner)
            return False

    for entry in _regular_files(fs.files()):
        files += 1
        if files > MAX_FILES:
            skipped.append(f"more than {MAX_FILES} files: the rest were not scanned")
            break
        host = fs.host_root / entry.path.lstrip("/")
        try:
            with open(host, "rb") as fh:  # a regular file by lstat: no link is followed
                head = fh.read(HEAD)
                kind, language = classify(entry.path, head)
                interested = [s for s in list(live)
                              if guarded(s, entry.path, partial(s.wants, entry.path, kind, language, head))]
                if not interested:
                    continue
                bound = max(s.max_bytes for s in interested)
                data = head[:bound] if bound <= len(head) else head + fh.read(bound - len(head))
        except OSError as exc:
            skipped.append(f"{entry.path}: cannot read ({exc.strerror})")
            continue
        read += 1
        total += len(data)
        for scanner in interested:
            blob = Blob(entry, kind, language, data[: scanner.max_bytes])
            if scanner in live:
                guarded(scanner, entry.path, partial(scanner.feed, blob))
    return PassStats(files, read, total, tuple(skipped), failed)


def _regular_files(entries: Iterable[Entry]) -> Iterable[Entry]:
    return sorted((e for e in entries if e.is_file and e.size > 0), key=lambda e: e.path)
