"""One pass over the content of a root file system: each regular file is opened and read at most once, and
offered to every scanner that wants it (keys, secrets, web handlers, ELF facts, ...).

A scanner looks at a file's kind and first bytes (``wants``) and, if it wants the file, receives its
content up to its own bound (``feed``). The pass reads the largest bound any interested scanner asked for,
so a file several scanners want is still read once. Scanners keep their own results; the collector in
``facts.py`` asks each for its facts afterwards. Scanners never touch the disk: all I/O is here.
"""

from __future__ import annotations

import multiprocessing
import os
import posixpath
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
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


def scan_content(fs: FileSystem, scanners: Sequence[Scanner], workers: int | None = None) -> PassStats:
    """Offer every regular file of ``fs`` to ``scanners``, reading each at most once. A scanner that raises
    (a bug, or input its parser did not foresee) is dropped with the error recorded; the others go on.

    Scanning is CPU work in Python, so on a machine with several cores a large tree is cut into
    ``workers`` runs of consecutive paths of about equal size; forked processes scan all runs but the
    first, which this process scans, and their scanners' lists and counters are appended to the local
    ones in path order, so the facts are the same as from one pass (``merge``)."""
    entries = list(_regular_files(fs.files()))
    skipped = [f"more than {MAX_FILES} files: the rest were not scanned"] if len(entries) > MAX_FILES else []
    entries = entries[:MAX_FILES]
    workers = workers if workers is not None else min(os.cpu_count() or 1, MAX_WORKERS)
    if workers < 2 or sum(e.size for e in entries) < PARALLEL_BYTES:
        stats = _scan(fs, entries, list(scanners))
    else:
        stats = _parallel(fs, _runs(entries, workers), list(scanners))
    return PassStats(stats.files, stats.read, stats.bytes_read, (*skipped, *stats.skipped), stats.failed)


MAX_WORKERS = 4
PARALLEL_BYTES = 4 * 1024 * 1024  # below this, forking costs more than it saves
_JOB: tuple[FileSystem, list[list[Entry]], list[Scanner]] | None = None  # what forked workers inherit


def _runs(entries: list[Entry], parts: int) -> list[list[Entry]]:
    """``entries`` cut into ``parts`` runs of consecutive paths with about equal bytes."""
    total, size = sum(e.size for e in entries), 0
    runs: list[list[Entry]] = []
    current: list[Entry] = []
    for entry in entries:
        current.append(entry)
        size += entry.size
        if size >= total * (len(runs) + 1) / parts and len(runs) < parts - 1:
            runs.append(current)
            current = []
    return [*runs, current]


def _parallel(fs: FileSystem, runs: list[list[Entry]], scanners: list[Scanner]) -> PassStats:
    global _JOB
    _JOB = (fs, runs, scanners)
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(len(runs) - 1, mp_context=context) as pool:
            parts = pool.map(_scan_run, range(1, len(runs)))
            stats = [_scan(fs, runs[0], scanners)]
            for part_scanners, part_stats in parts:
                for mine, theirs in zip(scanners, part_scanners, strict=True):
                    merge(mine, theirs)
                stats.append(part_stats)
    except (OSError, BrokenProcessPool) as exc:  # no fork here (a sandbox), or a worker killed: do it alone
        for scanner in scanners:
            reset(scanner)
        one = _scan(fs, [e for run in runs for e in run], scanners)
        return PassStats(one.files, one.read, one.bytes_read, (*one.skipped, f"scanned in one process ({exc})"),
                         one.failed)
    finally:
        _JOB = None
    return PassStats(sum(s.files for s in stats), sum(s.read for s in stats), sum(s.bytes_read for s in stats),
                     tuple(x for s in stats for x in s.skipped), {k: v for s in stats for k, v in s.failed.items()})


def _scan_run(index: int) -> tuple[list[Scanner], PassStats]:
    assert _JOB is not None, "a worker forked without its job"
    fs, runs, scanners = _JOB
    return scanners, _scan(fs, runs[index], scanners)


def merge(mine: object, theirs: object) -> None:
    """Append a part's state to a scanner's: its lists are extended and its counters added (a scanner's
    state is lists and counters by this convention; anything else, such as tables, it keeps)."""
    for name, value in _state(theirs):
        if isinstance(value, list):
            getattr(mine, name).extend(value)
        else:
            setattr(mine, name, getattr(mine, name) + value)


def reset(scanner: object) -> None:
    for name, value in _state(scanner):
        if isinstance(value, list):
            value.clear()
        else:
            setattr(scanner, name, 0)


def _state(scanner: object) -> Iterator[tuple[str, list[object] | int]]:
    """A scanner's lists and counters (``max_bytes`` is a setting, not state)."""
    for name, value in list(vars(scanner).items()):
        if isinstance(value, list) or (isinstance(value, int) and not isinstance(value, bool) and name != "max_bytes"):
            yield name, value


def _scan(fs: FileSystem, entries: list[Entry], scanners: list[Scanner]) -> PassStats:
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

    for entry in entries:
        files += 1
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


def _regular_files(entries: Iterable[Entry]) -> list[Entry]:
    return sorted((e for e in entries if e.is_file and e.size > 0), key=lambda e: e.path)
