"""Bounded extraction of a firmware image into root file systems.

This is the foundation's extractor: a directory (an already unpacked tree), a tar archive, and SquashFS
v4 file systems found at any offset (kernel + rootfs concatenations) unpacked with Debian's
``unsquashfs``. Every layer is recorded in the extraction log; a layer that fails or trips a limit
becomes a clear message, never an exception. Extractors run as ``nobody`` when iotcop runs as root, so
no device node, owner or setuid bit from the image is ever applied (they are recorded instead). A tar
member that Python's 'data' filter refuses ('..', a link out of the tree, a device node) is skipped and
named in the log while the rest is extracted; a SquashFS cut short is a failed step, not silence.
"""

from __future__ import annotations

import math
import os
import posixpath
import re
import shutil
import stat
import struct
import subprocess
import tarfile
import tempfile
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from iotcop.firmware.filesystem import FileSystem, walk
from iotcop.model import ExtractionStep

SQUASHFS_MAGIC = b"hsqs"  # little-endian v4; big-endian v4 ('sqsh') is reported, not unpacked yet
SQUASHFS_COMPRESSORS = {1: "gzip", 2: "lzma", 3: "lzo", 4: "xz", 5: "lz4", 6: "zstd"}
_LISTING = re.compile(r"^(?P<mode>[-dlcbps][-rwxsStT]{9}) (?P<uid>\d+)/(?P<gid>\d+) +\S+(?:, *\d+)? "
                      r"\d{4}-\d\d-\d\d \d\d:\d\d (?P<path>.*)$")


@dataclass(frozen=True)
class Limits:
    """Bounds on what one image may make iotcop do; each one that trips is logged."""

    max_total_bytes: int = 2 * 1024**3
    max_files: int = 200_000
    max_ratio: float = 200.0  # extracted bytes per byte of the layer
    seconds_per_layer: float = 300.0


@dataclass
class Extraction:
    """The result: root file systems, the log, and a work directory removed on close."""

    filesystems: list[FileSystem] = field(default_factory=list)
    steps: list[ExtractionStep] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    workdir: Path | None = None

    def close(self) -> None:
        if self.workdir is not None:
            _remove_tree(str(self.workdir))
            self.workdir = None

    def __enter__(self) -> Extraction:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    @property
    def root(self) -> FileSystem | None:
        """The file system that looks like the Linux root, if any."""
        roots = [fs for fs in self.filesystems if fs.looks_like_root()]
        return max(roots, key=len) if roots else None


def _remove_tree(root: str) -> None:
    """Remove an extraction without recursion (``shutil.rmtree`` recurses per directory level in Python
    3.11 and fails on a deep hostile tree) and despite read-only directories from the image."""
    dirs, stack = [], [root]
    while stack:
        directory = stack.pop()
        dirs.append(directory)
        with suppress(OSError):
            os.chmod(directory, 0o700)
        try:
            items = os.scandir(directory)
        except OSError:
            continue
        with items:
            for item in items:
                if item.is_dir(follow_symlinks=False):
                    stack.append(item.path)
                else:
                    with suppress(OSError):
                        os.unlink(item.path)
    for directory in reversed(dirs):  # children were listed after their parents
        with suppress(OSError):
            os.rmdir(directory)


def extract(image: Path, limits: Limits | None = None) -> Extraction:
    """Unpack ``image`` (file or directory) into file systems; never raises for bad content."""
    limits = limits or Limits()
    result = Extraction()
    if image.is_dir():
        result.filesystems.append(FileSystem.scan(image, label=image.name or "rootfs"))
        result.steps.append(ExtractionStep(format="directory", tool="iotcop", outcome="extracted",
                                           message="an unpacked tree: read in place"))
        return result
    result.workdir = Path(tempfile.mkdtemp(prefix="iotcop-"))
    os.chmod(result.workdir, 0o755)  # the unprivileged extractor must reach it
    try:
        if _is_tar(image):
            _extract_tar(image, result, limits)
        else:
            _extract_squashfs_all(image, result, limits)
        if not result.steps:  # a layer that was found and failed explains itself in its step
            result.notes.append(_unknown_blob_note(image))
    except BaseException:
        result.close()
        raise
    return result


def _is_tar(image: Path) -> bool:
    """A tar with at least one member: ``tarfile.is_tarfile`` also accepts a zero block (an empty archive),
    and firmware often starts with zero padding before its kernel and SquashFS."""
    try:
        with tarfile.open(image) as tar:
            return tar.next() is not None
    except (tarfile.TarError, OSError, EOFError):
        return False


def _extract_tar(image: Path, result: Extraction, limits: Limits) -> None:
    assert result.workdir is not None
    dest = result.workdir / "tar"
    dest.mkdir()
    meta: dict[str, tuple[int, int, int]] = {}
    refused: list[str] = []
    size = image.stat().st_size
    try:
        with tarfile.open(image) as tar:
            members: list[tarfile.TarInfo] = []
            total = 0
            for member in tar:
                total += member.size
                if len(members) >= limits.max_files or total > limits.max_total_bytes:
                    result.steps.append(ExtractionStep(format="tar", size=size, tool="tarfile", outcome="limit",
                                                       message=f"stopped: over {limits.max_files} files or "
                                                               f"{limits.max_total_bytes} bytes"))
                    return
                meta[posixpath.normpath("/" + member.name)] = (member.mode | _tar_type(member), member.uid, member.gid)
                members.append(member)
            top = _archive_top([m.name for m in members])
            tar.extractall(dest, members=members, filter=_member_filter(top, refused))
    except (tarfile.TarError, OSError, EOFError) as exc:
        result.steps.append(ExtractionStep(format="tar", size=size, tool="tarfile", outcome="failed",
                                           message=str(exc)))
        return
    message = f"{len(members) - len(refused)} members"
    if refused:  # refused members are named in the log: they are part of what the image tried to do
        message += f"; {len(refused)} refused: " + "; ".join(refused[:10]) + ("; ..." if len(refused) > 10 else "")
    result.steps.append(ExtractionStep(format="tar", size=size, tool="tarfile", outcome="extracted",
                                       message=message[:2000]))
    root = dest / top if top else dest
    if top and root.is_dir() and not root.is_symlink():  # 'rootfs/etc/passwd' in the archive is '/etc/passwd'
        prefix = "/" + top
        meta = {k[len(prefix):] or "/": v for k, v in meta.items() if k == prefix or k.startswith(prefix + "/")}
    else:
        root = dest
    result.filesystems.append(FileSystem.scan(root, label="tar", meta=meta))


def _member_filter(top: str, refused: list[str]) -> Callable[[tarfile.TarInfo, str], tarfile.TarInfo | None]:
    """Python's 'data' filter applied member by member: it refuses '..' and absolute paths escaping the
    tree, links out of it and device nodes; a refused member is skipped and logged, not fatal to the rest.

    An absolute symlink ('/bin/sh -> /bin/busybox', '/etc/passwd -> /tmp/passwd') is how root file systems
    are built; it is relative to the image root, so it is stored re-rooted as the equivalent relative link
    rather than refused (on disk it then can never point at the host)."""

    def keep(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
        if member.issym() and member.linkname.startswith("/"):
            name = posixpath.normpath("/" + member.name)
            name = name[len(top) + 1:] if top and name.startswith(f"/{top}/") else name
            member = member.replace(linkname=posixpath.relpath(posixpath.normpath(member.linkname),
                                                               posixpath.dirname(name)), deep=False)
        try:
            return tarfile.data_filter(member, dest)
        except tarfile.FilterError as exc:
            refused.append(str(exc))  # the message names the member
            return None

    return keep


def _archive_top(names: list[str]) -> str:
    """'rootfs' when every member lies under that one top directory (a tar of 'rootfs/...'), else ''."""
    parts = [p for p in (posixpath.normpath(n.lstrip("/")).split("/") for n in names)
             if p != ["."] and p[0] != ".."]  # '../evil' is refused: it must not hide the top directory
    tops = {p[0] for p in parts}
    return tops.pop() if len(tops) == 1 and any(len(p) > 1 for p in parts) else ""


def _tar_type(member: tarfile.TarInfo) -> int:
    kinds = ((member.isdir, stat.S_IFDIR), (member.issym, stat.S_IFLNK), (member.ischr, stat.S_IFCHR),
             (member.isblk, stat.S_IFBLK), (member.isfifo, stat.S_IFIFO))
    return next((kind for test, kind in kinds if test()), stat.S_IFREG)


def find_squashfs(data: bytes) -> list[tuple[int, int, str]]:
    """(offset, size, compressor) of each plausible SquashFS v4 superblock in ``data``."""
    found = []
    start = 0
    while (offset := data.find(SQUASHFS_MAGIC, start)) != -1:
        start = offset + 1
        if offset + 96 > len(data):
            break
        (compression,) = struct.unpack_from("<H", data, offset + 20)
        (major,) = struct.unpack_from("<H", data, offset + 28)
        (bytes_used,) = struct.unpack_from("<Q", data, offset + 40)
        if major != 4 or not 96 <= bytes_used <= len(data) - offset:
            continue
        found.append((offset, bytes_used, SQUASHFS_COMPRESSORS.get(compression, f"unknown({compression})")))
        start = offset + bytes_used
    return found


def _extract_squashfs_all(image: Path, result: Extraction, limits: Limits) -> None:
    data = image.read_bytes()
    if b"sqsh" in data and not find_squashfs(data):
        result.notes.append("a big-endian SquashFS magic ('sqsh') was seen; this extractor unpacks only v4 LE")
    assert result.workdir is not None
    found = find_squashfs(data)
    for offset, needed, compressor in _truncated_squashfs(data, found):
        result.steps.append(ExtractionStep(
            format=f"squashfs-v4 ({compressor})", offset=offset, size=len(data) - offset, tool="iotcop",
            outcome="failed", message=f"truncated: the superblock says {needed} bytes, only "
                                      f"{len(data) - offset} remain in the image"))
    for offset, size, compressor in found:
        carved = result.workdir / f"squashfs-{offset:x}.img"
        carved.write_bytes(data[offset:offset + size])
        os.chmod(carved, 0o644)
        dest = result.workdir / f"squashfs-{offset:x}"
        step = _unsquashfs(carved, dest, offset, size, compressor, limits)
        result.steps.append(step)
        carved.unlink()
        if step.outcome == "extracted":
            meta = _squashfs_listing(dest)
            result.filesystems.append(FileSystem.scan(dest, label=f"squashfs@0x{offset:x}", meta=meta))


def _truncated_squashfs(data: bytes, found: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """(offset, size needed, compressor) of well-formed v4 superblocks whose file system runs past the end
    of the image (a truncated download or a cut carve): worth a failed step, not silence."""
    out = []
    start = 0
    while (offset := data.find(SQUASHFS_MAGIC, start)) != -1 and offset + 96 <= len(data):
        start = offset + 1
        if any(o <= offset < o + n for o, n, _ in found):
            continue
        block_size, _, compression, block_log, _, _, major = struct.unpack_from("<IIHHHHH", data, offset + 12)
        (bytes_used,) = struct.unpack_from("<Q", data, offset + 40)
        if major == 4 and block_size == 1 << block_log and 4096 <= block_size <= 1 << 20 \
                and bytes_used > len(data) - offset:
            out.append((offset, bytes_used, SQUASHFS_COMPRESSORS.get(compression, f"unknown({compression})")))
    return out


def _unprivileged() -> list[str]:
    """Drop root for extractors: nothing from the image can then create devices or set owners."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return []
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def _unsquashfs(carved: Path, dest: Path, offset: int, size: int, compressor: str, limits: Limits) -> ExtractionStep:
    def step(outcome: str, message: str) -> ExtractionStep:
        return ExtractionStep(format=f"squashfs-v4 ({compressor})", offset=offset, size=size, tool="unsquashfs",
                              outcome=outcome, message=message)

    if shutil.which("unsquashfs") is None:
        return step("skipped", "unsquashfs is not installed (see `iotcop doctor`)")
    listing = _run(["unsquashfs", "-lln", "-d", "", str(carved)], limits)
    if listing.returncode != 0:
        return step("failed", _error_line(listing.stderr) or "unsquashfs could not list the file system")
    count = listing.stdout.count("\n")
    if count > limits.max_files:
        return step("limit", f"{count} entries exceed the limit of {limits.max_files} files")
    sizes = sum(int(m.group(0).split()[2]) for line in listing.stdout.splitlines()
                if (m := _LISTING.match(line)) and line.startswith("-"))
    if sizes > limits.max_total_bytes or sizes > limits.max_ratio * max(size, 1):
        return step("limit", f"{sizes} bytes uncompressed exceed the size or expansion-ratio limit")
    (dest.parent / (dest.name + ".listing")).write_text(listing.stdout)
    proc = _run([*_unprivileged(), "unsquashfs", "-no-progress", "-no-xattrs", "-d", str(dest), str(carved)],
                limits, owner_dir=dest.parent)
    if proc.returncode != 0 and not dest.exists():
        return step("failed", _error_line(proc.stderr) or f"unsquashfs exited with {proc.returncode}")
    _strip_special_bits(dest)
    message = f"{count} entries"
    if proc.returncode != 0:
        message += f"; unsquashfs reported: {_error_line(proc.stderr)}"
    return step("extracted", message)


def _squashfs_listing(dest: Path) -> dict[str, tuple[int, int, int]]:
    """Modes and owners as recorded in the image, from ``unsquashfs -lln``."""
    listing = dest.parent / (dest.name + ".listing")
    meta: dict[str, tuple[int, int, int]] = {}
    for line in listing.read_text(errors="replace").splitlines():
        m = _LISTING.match(line)
        if not m:
            continue
        path = m["path"].split(" -> ", 1)[0] if m["mode"][0] == "l" else m["path"]
        meta["/" + path.lstrip("/")] = (_parse_mode(m["mode"]), int(m["uid"]), int(m["gid"]))
    meta["/"] = meta.pop("/", (stat.S_IFDIR | 0o755, 0, 0))
    return meta


def _parse_mode(text: str) -> int:
    kinds = {"-": stat.S_IFREG, "d": stat.S_IFDIR, "l": stat.S_IFLNK, "c": stat.S_IFCHR, "b": stat.S_IFBLK,
             "p": stat.S_IFIFO, "s": stat.S_IFSOCK}
    mode = kinds[text[0]]
    bits = [stat.S_IRUSR, stat.S_IWUSR, stat.S_IXUSR, stat.S_IRGRP, stat.S_IWGRP, stat.S_IXGRP,
            stat.S_IROTH, stat.S_IWOTH, stat.S_IXOTH]
    for char, bit in zip(text[1:], bits, strict=True):
        if char not in "-ST":
            mode |= bit
    if text[3] in "sS":
        mode |= stat.S_ISUID
    if text[6] in "sS":
        mode |= stat.S_ISGID
    if text[9] in "tT":
        mode |= stat.S_ISVTX
    return mode


def _strip_special_bits(root: Path) -> None:
    for path, st in walk(root):
        if not stat.S_ISLNK(st.st_mode) and st.st_mode & (stat.S_ISUID | stat.S_ISGID):
            os.chmod(path, stat.S_IMODE(st.st_mode) & ~(stat.S_ISUID | stat.S_ISGID))


def _run(cmd: list[str], limits: Limits, owner_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    if owner_dir is not None and cmd[0] == "setpriv":
        os.chown(owner_dir, 65534, 65534)
    try:
        return subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                              timeout=limits.seconds_per_layer, stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, 124, "", f"timed out after {limits.seconds_per_layer:.0f} s")


_ERROR_WORDS = re.compile(r"fatal|error|unsupported|unknown|failed|could not|cannot", re.IGNORECASE)


def _error_line(text: str) -> str:
    """The line of an extractor's stderr that says what went wrong: the first fatal one, else the first
    naming an error, else the last (unsquashfs ends an unknown-compressor error with the list of the
    compressors it has, which says nothing on its own)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    fatal = [line for line in lines if line.upper().startswith("FATAL")]
    errors = [line for line in lines if _ERROR_WORDS.search(line)]
    return (fatal or errors or lines[-1:] or [""])[0][:300]


def entropy(data: bytes) -> float:
    """Shannon entropy in bits per byte (8.0 = indistinguishable from random)."""
    if not data:
        return 0.0
    counts = Counter(data)
    n = len(data)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _unknown_blob_note(image: Path) -> str:
    with open(image, "rb") as fh:
        sample = fh.read(8 * 1024 * 1024)
    value = entropy(sample)
    nature = ("compressed or encrypted" if value > 7.5 else "partly compressed" if value > 6.0
              else "mostly uncompressed (code, text or padding)")
    return (f"no file system this extractor knows was found; the image's entropy is {value:.2f} bits/byte, "
            f"so it is {nature}")
