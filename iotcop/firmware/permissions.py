"""File modes and owners that matter for least privilege: world-writable paths, setuid/setgid programs and
system files owned by unprivileged users, gathered from the FileSystem view's metadata (no file is read).

Modes come from the image's own records where extraction kept them (SquashFS, tar, cpio: setuid bits are
recorded, never applied); owners only where the format records them (``FileSystem.owners_recorded``).
"""

from __future__ import annotations

import posixpath
import stat
from collections import Counter
from dataclasses import dataclass, field

from iotcop.firmware.filesystem import Entry, FileSystem

SYSTEM_DIRS = ("/bin/", "/sbin/", "/lib/", "/usr/bin/", "/usr/sbin/", "/usr/lib/", "/usr/libexec/", "/etc/")
RUNTIME_DIRS = ("/tmp/", "/var/tmp/", "/var/run/", "/run/", "/proc/", "/sys/")  # mounted over at boot
# Device nodes meant to be writable by everyone (Linux Documentation/admin-guide/devices.txt conventions)
PUBLIC_DEVICES = frozenset({"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty",
                            "/dev/ptmx", "/dev/net/tun"})


@dataclass(frozen=True)
class FileModes:
    """Facts: the entries with a mode or owner worth judging, and how many symlinks name each target
    (a BusyBox binary with 300 applet links is 300 programs)."""

    world_writable: tuple[Entry, ...] = ()
    privileged: tuple[Entry, ...] = ()  # setuid or setgid
    foreign_owned: tuple[Entry, ...] = ()  # system files whose owner is not root (only if owners are recorded)
    owners_recorded: bool = False
    link_counts: dict[str, int] = field(default_factory=dict)
    entries: int = 0


def collect_file_modes(fs: FileSystem) -> FileModes:
    writable, privileged, foreign = [], [], []
    targets: Counter[str] = Counter()
    for e in fs.entries():
        if e.is_symlink:
            if (t := fs.resolve(e.path)) is not None and t.is_file:
                targets[t.path] += 1
            continue
        if e.path.startswith(RUNTIME_DIRS) or e.path == "/":
            continue
        if e.mode & stat.S_IWOTH and not (e.is_dir and e.mode & stat.S_ISVTX) and e.path not in PUBLIC_DEVICES:
            writable.append(e)
        if e.is_file and (e.setuid or e.setgid):
            privileged.append(e)
        if fs.owners_recorded and e.uid != 0 and (e.path + "/").startswith(SYSTEM_DIRS) and not e.is_dir:
            foreign.append(e)
    counts = {p.path: targets[p.path] for p in privileged if targets[p.path]}
    return FileModes(tuple(writable), tuple(privileged), tuple(foreign), fs.owners_recorded, counts, len(fs))


def group_by_dir(entries: list[Entry]) -> dict[str, list[Entry]]:
    out: dict[str, list[Entry]] = {}
    for e in sorted(entries, key=lambda e: e.path):
        out.setdefault(posixpath.dirname(e.path), []).append(e)
    return out
