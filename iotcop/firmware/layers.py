"""Iotcop's own first-layer handlers: tar archives and SquashFS v4 file systems.

A tar is unpacked with Python's 'data' filter member by member (a refused member is skipped and named
in the log). A SquashFS that fills the image is unpacked with Debian's ``unsquashfs`` (fast, and its
``-lln`` listing records modes and owners), falling back to iotcop's own reader (big-endian, codecs
``unsquashfs`` lacks). Everything else goes to unblob (``carving.py``).
"""

from __future__ import annotations

import lzma
import os
import posixpath
import re
import shutil
import stat
import struct
import subprocess
import tarfile
import zlib
from pathlib import Path

from iotcop.firmware import squashfs
from iotcop.firmware.filesystem import FileSystem
from iotcop.firmware.tree import (
    Extraction,
    Limits,
    error_line,
    reachable_tempdir,
    remove_tree,
    run_limited,
    strip_special_bits,
    unprivileged,
)
from iotcop.model import ExtractionStep

SQUASHFS_MAGIC = b"hsqs"
SQUASHFS_COMPRESSORS = squashfs.COMPRESSORS
_LISTING = re.compile(r"^(?P<mode>[-dlcbps][-rwxsStT]{9}) (?P<uid>\d+)/(?P<gid>\d+) +\S+(?:, *\d+)? "
                      r"\d{4}-\d\d-\d\d \d\d:\d\d (?P<path>.*)$")


# tarfile reads these compressions itself; the step names the one it met, as unblob's steps would
_TAR_COMPRESSION = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"), (b"\x5d\x00\x00", "lzma"))
# what a corrupt compressed stream raises from inside tarfile: all mean "this layer failed"
_TAR_ERRORS = (tarfile.TarError, OSError, EOFError, ValueError, zlib.error, lzma.LZMAError)


def _tar_format(image: Path) -> str:
    with open(image, "rb") as fh:
        head = fh.read(6)
    return next((f"tar ({name})" for magic, name in _TAR_COMPRESSION if head.startswith(magic)), "tar")


def is_tar(image: Path) -> bool:
    """A tar with at least one member: ``tarfile.is_tarfile`` also accepts a zero block (an empty archive),
    and firmware often starts with zero padding before its kernel and SquashFS."""
    try:
        with tarfile.open(image) as tar:
            return tar.next() is not None
    except _TAR_ERRORS:
        return False


def extract_tar(image: Path, dest: Path, result: Extraction, limits: Limits, depth: int) -> None:
    """Unpack a tar into ``dest``; appends its step and its tree (a root or not) to ``result``."""
    dest.mkdir()
    meta: dict[str, tuple[int, int, int]] = {}
    refused: list[str] = []
    size = image.stat().st_size
    fmt = _tar_format(image)
    try:
        with tarfile.open(image) as tar:
            members: list[tarfile.TarInfo] = []
            total = 0
            for member in tar:
                total += member.size
                if len(members) >= limits.max_files or total > limits.max_total_bytes:
                    result.steps.append(ExtractionStep(format=fmt, size=size, depth=depth, tool="tarfile",
                                                       outcome="limit",
                                                       message=f"stopped: over {limits.max_files} files or "
                                                               f"{limits.max_total_bytes} bytes"))
                    return
                meta[posixpath.normpath("/" + member.name)] = (member.mode | _tar_type(member), member.uid, member.gid)
                members.append(member)
            top = _archive_top([m.name for m in members])
            _extract_members(tar, members, dest, top, refused)
    except _TAR_ERRORS as exc:
        result.steps.append(ExtractionStep(format=fmt, size=size, depth=depth, tool="tarfile", outcome="failed",
                                           message=str(exc)))
        return
    message = f"{len(members) - len(refused)} members"
    if refused:  # refused members are named in the log: they are part of what the image tried to do
        message += f"; {len(refused)} refused: " + "; ".join(refused[:10]) + ("; ..." if len(refused) > 10 else "")
    if fmt != "tar":  # two layers, as they are: the compressed stream, and the tar inside it
        result.steps.append(ExtractionStep(format=fmt[5:-1], size=size, depth=depth, tool="tarfile",
                                           outcome="extracted"))
        fmt, depth = "tar", depth + 1
    result.steps.append(ExtractionStep(format=fmt, size=size, depth=depth, tool="tarfile", outcome="extracted",
                                       message=message[:2000]))
    root = dest / top if top else dest
    if top and root.is_dir() and not root.is_symlink():  # 'rootfs/etc/passwd' in the archive is '/etc/passwd'
        prefix = "/" + top
        meta = {k[len(prefix):] or "/": v for k, v in meta.items() if k == prefix or k.startswith(prefix + "/")}
    else:
        root = dest
    result.filesystems.append(FileSystem.scan(root, label=f"tar:{image.name}", meta=meta))


def _extract_members(tar: tarfile.TarFile, members: list[tarfile.TarInfo], dest: Path, top: str,
                     refused: list[str]) -> None:
    """Write the members ourselves, the way Python's 'data' filter would allow (which Debian's Python
    3.11.2 lacks): names re-rooted inside ``dest``; nothing written through a link; links that leave the
    tree, device nodes and FIFOs refused (and named in the log); permissions kept without setuid/setgid.

    An absolute symlink ('/bin/sh -> /bin/busybox') is how root file systems are built; it is relative to
    the image root, so it is stored as the equivalent relative link (on disk it can never reach the host).
    """
    for member in members:
        name = posixpath.normpath("/" + member.name).lstrip("/")
        if not name or name == ".":
            continue
        if posixpath.normpath(member.name.lstrip("/")).startswith(".."):
            refused.append(f"{member.name!r} is outside the destination")
            continue
        target = dest / name
        if not _inside_without_links(dest, target.parent):
            refused.append(f"{member.name!r} would be written through a link")
            continue
        try:
            _write_member(tar, member, name, dest, top, refused)
        except (OSError, ValueError) as exc:
            refused.append(f"{member.name!r}: {exc}")


def _inside_without_links(dest: Path, directory: Path) -> bool:
    """Every existing component from ``dest`` down to ``directory`` is a real directory, not a link."""
    current = dest
    for part in directory.relative_to(dest).parts:
        current = current / part
        try:
            if stat.S_ISLNK(os.lstat(current).st_mode):
                return False
        except FileNotFoundError:
            return True  # the rest will be created as real directories
    return True


def _write_member(tar: tarfile.TarFile, member: tarfile.TarInfo, name: str, dest: Path, top: str,
                  refused: list[str]) -> None:
    target = dest / name
    mode = member.mode & 0o777  # never setuid/setgid/sticky on disk: recorded in the listing instead
    if member.isdir():
        target.mkdir(parents=True, exist_ok=True)
        os.chmod(target, mode | 0o700)
    elif member.isreg():
        target.parent.mkdir(parents=True, exist_ok=True)
        source = tar.extractfile(member)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode | 0o600)
        with os.fdopen(fd, "wb") as out:
            if source is not None:
                shutil.copyfileobj(source, out, 1 << 20)
    elif member.issym():
        link = member.linkname
        inside = name[len(top) + 1:] if top and name.startswith(f"{top}/") else name
        if link.startswith("/"):  # relative to the image root, which is dest (or dest/top)
            link = posixpath.relpath(posixpath.normpath(link), posixpath.dirname("/" + inside))
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), link))
        if resolved.startswith("..") or "\0" in link:
            refused.append(f"{member.name!r} is a link to {member.linkname!r}, which is outside the destination")
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(link, target)
    elif member.islnk():
        source_name = posixpath.normpath("/" + member.linkname).lstrip("/")
        source_path = dest / source_name
        if not _inside_without_links(dest, source_path.parent) or not source_path.is_file():
            refused.append(f"{member.name!r} is a hard link to {member.linkname!r}, which is not in the archive")
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source_path, target, follow_symlinks=False)
    else:
        refused.append(f"{member.name!r} is a special file (device node or FIFO): recorded, not created")


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


def whole_squashfs(data: bytes | memoryview) -> tuple[int, str] | None:
    """(size, compressor) when the data is one SquashFS v4 file system from its first byte, followed by
    nothing but padding: the common rootfs-image case, unpacked directly without carving."""
    if bytes(data[:4]) not in (squashfs.MAGIC_LE, squashfs.MAGIC_BE) or len(data) < 96:
        return None
    endian = "<" if bytes(data[:4]) == squashfs.MAGIC_LE else ">"
    (compression,) = struct.unpack_from(endian + "H", data, 20)
    (major,) = struct.unpack_from(endian + "H", data, 28)
    (used,) = struct.unpack_from(endian + "Q", data, 40)
    if major != 4 or not 96 <= used <= len(data):
        return None
    tail = bytes(data[used:used + 1024 * 1024])
    if tail.strip(b"\x00") and tail.strip(b"\xff"):
        return None
    return used, SQUASHFS_COMPRESSORS.get(compression, f"unknown({compression})")


def extract_squashfs(image: Path, data: memoryview, dest: Path, result: Extraction, limits: Limits) -> None:
    """Unpack a whole-image SquashFS: ``unsquashfs`` for little-endian images it can read, else (or when it
    fails) iotcop's own reader. Appends the step and the tree to ``result``."""
    found = whole_squashfs(data)
    assert found is not None
    size, compressor = found
    little = bytes(data[:4]) == squashfs.MAGIC_LE
    step = None
    # unsquashfs as root would create the image's device nodes: only where it can run unprivileged
    as_root_only = os.geteuid() == 0 and not unprivileged()
    if little and compressor != "lzma" and shutil.which("unsquashfs") and not as_root_only:
        step = _unsquashfs(image, dest, 0, size, compressor, limits)  # it reads past no padding: no copy needed
        if step.outcome == "extracted":
            result.steps.append(step)
            meta = _squashfs_listing(dest)
            result.filesystems.append(FileSystem.scan(dest, label="squashfs@0x0", meta=meta))
            return
        if step.outcome == "limit":
            result.steps.append(step)
            return
        remove_tree(str(dest))
    fmt = f"squashfs-v4 ({compressor})" if little else f"squashfs-v4-be ({compressor})"
    try:
        meta = squashfs.extract(data[:size], dest, max_bytes=limits.max_total_bytes, max_files=limits.max_files)
    except squashfs.SquashfsError as exc:
        tried = f"unsquashfs: {step.message}; " if step is not None else ""
        outcome = "limit" if "limit" in str(exc) or "more than" in str(exc) else "failed"
        result.steps.append(ExtractionStep(format=fmt, size=size,
                                           tool="iotcop-squashfs", outcome=outcome, message=f"{tried}{exc}"))
        return
    result.steps.append(ExtractionStep(format=fmt, size=size, tool="iotcop-squashfs",
                                       outcome="extracted", message=f"{len(meta)} entries"))
    result.filesystems.append(FileSystem.scan(dest, label="squashfs@0x0", meta=meta))


def truncated_squashfs(data: bytes, found: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """(offset, size needed, compressor) of well-formed v4 superblocks whose file system runs past the end
    of the image (a truncated download or a cut carve): worth a failed step, not silence."""
    out = []
    start = 0
    while (offset := data.find(SQUASHFS_MAGIC, start)) != -1 and offset + 96 <= len(data):
        start = offset + 1
        if any(o <= offset < o + n for o, n, _ in found):
            continue
        block_size, _, compression, block_log, _, _, major = struct.unpack_from("<IIHHHHH", data, offset + 12)
        bytes_used, _, _, inode_table, directory_table = struct.unpack_from("<QQQQQ", data, offset + 40)
        # a superblock quoted inside another stream (an lz4 block copies bytes verbatim) has tables that
        # make no sense for its size: only a plausible one is a truncated file system
        plausible = compression in SQUASHFS_COMPRESSORS and bytes_used < 1 << 36 \
            and 96 <= inode_table < directory_table < bytes_used
        if major == 4 and block_size == 1 << block_log and 4096 <= block_size <= 1 << 20 and plausible \
                and bytes_used > len(data) - offset:
            out.append((offset, bytes_used, SQUASHFS_COMPRESSORS.get(compression, f"unknown({compression})")))
    return out


def _unsquashfs(carved: Path, dest: Path, offset: int, size: int, compressor: str, limits: Limits) -> ExtractionStep:
    def step(outcome: str, message: str) -> ExtractionStep:
        return ExtractionStep(format=f"squashfs-v4 ({compressor})", offset=offset, size=size, tool="unsquashfs",
                              outcome=outcome, message=message)

    if shutil.which("unsquashfs") is None:
        return step("skipped", "unsquashfs is not installed (see `iotcop doctor`)")
    listing = run_limited(["unsquashfs", "-lln", "-d", "", str(carved)], limits)
    if listing.returncode != 0:
        return step("failed", error_line(listing.stderr) or "unsquashfs could not list the file system")
    count = listing.stdout.count("\n")
    if count > limits.max_files:
        return step("limit", f"{count} entries exceed the limit of {limits.max_files} files")
    sizes = sum(int(m.group(0).split()[2]) for line in listing.stdout.splitlines()
                if (m := _LISTING.match(line)) and line.startswith("-"))
    if sizes > limits.max_total_bytes or sizes > limits.max_ratio * max(size, 1):
        return step("limit", f"{sizes} bytes uncompressed exceed the size or expansion-ratio limit")
    (dest.parent / (dest.name + ".listing")).write_text(listing.stdout)
    proc = _unsquashfs_unprivileged(carved, dest, limits)
    if proc.returncode != 0 and not dest.exists():
        return step("failed", error_line(proc.stderr) or f"unsquashfs exited with {proc.returncode}")
    strip_special_bits(dest)
    message = f"{count} entries"
    if proc.returncode != 0:
        message += f"; unsquashfs reported: {error_line(proc.stderr)}"
    return step("extracted", message)


def _unsquashfs_unprivileged(carved: Path, dest: Path, limits: Limits) -> subprocess.CompletedProcess[str]:
    """Run unsquashfs; as root, run it as ``nobody`` in a fresh area of the temporary directory that
    ``nobody`` can reach (``dest`` may lie below a 0700 home or cache), then move the tree to ``dest``."""
    drop = unprivileged()
    if not drop:
        proc = run_limited(["unsquashfs", "-no-progress", "-no-xattrs", "-d", str(dest), str(carved)], limits)
        return _in_image_paths(proc, dest)
    area = reachable_tempdir("iotcop-unsquashfs-")
    try:
        os.chown(area, 65534, 65534)
        source = area / "image"
        try:
            os.link(carved, source)
        except OSError:
            shutil.copyfile(carved, source)
        os.chmod(source, 0o644)
        out = area / "root"
        proc = run_limited([*drop, "unsquashfs", "-no-progress", "-no-xattrs", "-d", str(out), str(source)], limits)
        if out.exists():
            shutil.move(str(out), str(dest))
        return _in_image_paths(proc, out)
    finally:
        remove_tree(str(area))


def _in_image_paths(proc: subprocess.CompletedProcess[str], root: Path) -> subprocess.CompletedProcess[str]:
    """unsquashfs names host paths in its messages; the log speaks of paths in the image (and must not
    change from run to run with a temporary directory's name)."""
    proc.stderr = proc.stderr.replace(str(root), "")
    return proc


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


