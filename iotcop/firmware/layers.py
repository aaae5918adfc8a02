"""Iotcop's own first-layer handler for SquashFS v4 file systems (tar: ``tarball.py``).

A SquashFS that fills the image is unpacked with Debian's ``unsquashfs`` (fast, and its
``-lln`` listing records modes and owners), falling back to iotcop's own reader (big-endian, codecs
``unsquashfs`` lacks). Everything else goes to unblob (``carving.py``).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import struct
import subprocess
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


