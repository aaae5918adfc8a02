"""Tar archives, unpacked by iotcop itself (the first-layer handler for tar and compressed tar).

Members are written one by one the way Python's 'data' extraction filter would allow (Debian's Python
3.11.2 has no such filter): names re-rooted inside the destination, nothing written through a link,
links leaving the tree and special files refused and named in the log, no setuid bit applied (modes and
owners are recorded as the archive says). A compressed tar is logged as two layers.
"""

from __future__ import annotations

import lzma
import os
import posixpath
import shutil
import stat
import tarfile
import zlib
from pathlib import Path

from iotcop.firmware.filesystem import FileSystem
from iotcop.firmware.tree import Extraction, Limits
from iotcop.model import ExtractionStep

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
