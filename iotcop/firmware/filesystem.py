"""A read-only view of one extracted root file system, built by a single walk.

Checks query it without touching the disk again (metadata), and read file bytes lazily through it,
bounded in size. Links are never followed outside the root: a symlink's target is resolved inside the
view only, and '..' at the image root stays at the root, as it does on the device (a link to
'../../../../etc/passwd' means the image's /etc/passwd, never the host's). Walking and resolving are
iterative and bounded, so a hostile tree (link loops, thousands of nested directories) cannot exhaust the
Python stack.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_READ = 16 * 1024 * 1024  # a config file larger than this is not a config file
MAX_LINK_HOPS = 40
# Formats whose extraction records each file's owner as stored in the image (SquashFS, tar; not cpio as
# unblob writes it); elsewhere files belong to whoever extracted them, and owners say nothing.
OWNER_RECORDING_FORMATS = ("squashfs", "tar:")
_SPECIAL = (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK)


@dataclass(frozen=True, slots=True)
class Entry:
    """Metadata of one path in the image (path is absolute inside the image, e.g. '/etc/shadow')."""

    path: str
    mode: int
    size: int
    uid: int
    gid: int
    link_target: str | None = None

    @property
    def is_file(self) -> bool:
        return stat.S_ISREG(self.mode)

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)

    @property
    def is_symlink(self) -> bool:
        return stat.S_ISLNK(self.mode)

    @property
    def setuid(self) -> bool:
        return bool(self.mode & stat.S_ISUID)

    @property
    def setgid(self) -> bool:
        return bool(self.mode & stat.S_ISGID)


class FileSystem:
    """One root file system; ``host_root`` is where its files lie on disk."""

    def __init__(self, host_root: Path, entries: dict[str, Entry], label: str = "rootfs",
                 meta: dict[str, tuple[int, int, int]] | None = None) -> None:
        self.host_root = host_root
        self.label = label
        self._entries = entries
        self.meta = meta or {}  # as recorded in the image; kept so that a cached extraction can be re-read

    @classmethod
    def scan(cls, host_root: Path, label: str = "rootfs",
             meta: dict[str, tuple[int, int, int]] | None = None) -> FileSystem:
        """Walk ``host_root`` once (lstat only, never following links).

        ``meta`` maps in-image paths to (mode, uid, gid) as recorded in the image; they override what is
        on disk, since setuid bits and owners are recorded at extraction but never applied. Device nodes,
        FIFOs and sockets of the record, which extraction never creates, become entries without content.
        """
        entries: dict[str, Entry] = {"/": _entry("/", host_root.lstat(), None)}
        for host, st in walk(host_root):
            path = "/" + os.path.relpath(host, host_root).replace(os.sep, "/")
            target = os.readlink(host) if stat.S_ISLNK(st.st_mode) else None
            entries[path] = _entry(path, st, target)
        for path, (mode, uid, gid) in (meta or {}).items():
            if path in entries:
                e = entries[path]
                if stat.S_IFMT(mode) == stat.S_IFMT(e.mode):  # never let the record change a file's type
                    entries[path] = Entry(e.path, mode, e.size, uid, gid, e.link_target)
            elif stat.S_IFMT(mode) in _SPECIAL and posixpath.dirname(path) in entries:
                entries[path] = Entry(path, mode, 0, uid, gid)  # a device node: recorded, never created
        return cls(host_root, entries, label, meta)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def owners_recorded(self) -> bool:
        """Whether uid/gid of the entries are the image's own (see OWNER_RECORDING_FORMATS)."""
        kind = self.label.rsplit("/", 1)[-1]  # 'squashfs_v4_le@0x120200', 'rootfs.squashfs', 'tar:fw.tar'
        return bool(self.meta) and any(f in kind for f in OWNER_RECORDING_FORMATS)

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self.resolve(path) is not None

    def entries(self) -> Iterator[Entry]:
        return iter(self._entries.values())

    def files(self) -> Iterator[Entry]:
        return (e for e in self._entries.values() if e.is_file)

    def lstat(self, path: str) -> Entry | None:
        return self._entries.get(_norm(path))

    def resolve(self, path: str) -> Entry | None:
        """Follow symlinks inside the image, component by component as the kernel does (absolute
        targets are relative to the image root). None for a missing path, a link loop, or a path
        through something that is not a directory."""
        todo = [c for c in reversed(path.split("/")) if c]  # a stack: the next component is last
        current, hops = "/", 0
        while todo:
            name = todo.pop()
            if name == ".":
                continue
            if name == "..":
                current = posixpath.dirname(current)  # the parent of '/' is '/'
                continue
            candidate = posixpath.join(current, name)
            entry = self._entries.get(candidate)
            if entry is None:
                return None
            if entry.is_symlink and entry.link_target is not None:
                hops += 1
                if hops > MAX_LINK_HOPS:
                    return None  # a link loop
                if entry.link_target.startswith("/"):
                    current = "/"
                todo.extend(c for c in reversed(entry.link_target.split("/")) if c)
                continue
            if todo and not entry.is_dir:
                return None
            current = candidate
        return self._entries.get(current)

    def glob(self, pattern: str) -> list[Entry]:
        """Entries whose path matches a shell pattern (fnmatch on the full path)."""
        from fnmatch import fnmatchcase

        return sorted((e for e in self._entries.values() if fnmatchcase(e.path, pattern)), key=lambda e: e.path)

    def read_bytes(self, path: str, limit: int = MAX_READ) -> bytes | None:
        """The first ``limit`` bytes of a regular file, or None if it is not one."""
        entry = self.resolve(path)
        if entry is None or not entry.is_file:
            return None
        host = self.host_root / entry.path.lstrip("/")
        with open(host, "rb") as fh:  # the entry is a regular file (lstat), so no link is followed
            return fh.read(limit)

    def read_text(self, path: str, limit: int = MAX_READ) -> str | None:
        data = self.read_bytes(path, limit)
        return None if data is None else data.decode("utf-8", errors="replace")

    def looks_like_root(self) -> bool:
        """A Linux root file system has at least two of /etc, /bin, /lib, /sbin, /usr as directories."""
        dirs = sum(1 for d in ("/etc", "/bin", "/lib", "/sbin", "/usr") if (e := self.resolve(d)) and e.is_dir)
        return dirs >= 2


def walk(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """(host path, lstat) of everything below ``root``, never following links; iterative, so depth is
    no limit (``os.walk`` recurses and fails on a few thousand nested directories)."""
    stack = [str(root)]
    while stack:
        try:
            items = os.scandir(stack.pop())
        except OSError:  # unreadable: skipped, as os.walk does
            continue
        with items:
            for item in items:
                try:
                    st = item.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    stack.append(item.path)
                yield item.path, st


def _entry(path: str, st: os.stat_result, target: str | None) -> Entry:
    return Entry(path=path, mode=st.st_mode, size=st.st_size, uid=st.st_uid, gid=st.st_gid, link_target=target)


def _norm(path: str) -> str:
    """Normalise an in-image path; '..' never climbs above the root."""
    return posixpath.normpath("/" + path.lstrip("/")).replace("//", "/")
