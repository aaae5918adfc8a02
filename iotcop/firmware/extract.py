"""Bounded extraction of a firmware image into root file systems, layer by layer.

``extract()`` is the one entry point. It reads an unpacked directory in place. It unpacks a tar itself
(member by member, ``tarball.py``), and a SquashFS that fills the image with ``unsquashfs`` or iotcop's
own reader (``layers.py``). Everything else goes to unblob, in a watched, unprivileged
child process (``carving.py``): it carves concatenations, unpacks nested layers, and logs unidentified
regions with their entropy. A tar whose content is not itself a root file system (an update package)
has each of its files handled again, one level deeper.

Every layer becomes a step in the extraction log. A layer that fails or trips a limit (bytes, files,
expansion ratio, depth, time) becomes a clear message, never an exception. The work directory is
removed on ``close()``, also when extraction is interrupted.
"""

from __future__ import annotations

import bz2
import os
import tempfile
from pathlib import Path

from iotcop.errors import UsageError
from iotcop.firmware import layers, tarball
from iotcop.firmware.carving import run_unblob
from iotcop.firmware.filesystem import FileSystem
from iotcop.firmware.layers import find_squashfs
from iotcop.firmware.tree import Extraction, Limits, entropy, nature_of, privilege_note
from iotcop.model import ExtractionStep

__all__ = ["Extraction", "Limits", "extract", "find_squashfs"]

MAX_PACKAGE_MEMBERS = 64  # files of an update package looked into
MIN_MEMBER_BYTES = 512  # smaller files (manifests, checksums, scripts) are not images


def extract(image: Path, limits: Limits | None = None, workdir: Path | None = None) -> Extraction:
    """Unpack ``image`` (file or directory) into file systems; never raises for bad content.

    ``workdir``, when given, is where the layers are unpacked and kept (it must be empty or absent);
    otherwise a temporary directory is used and removed on ``close()``."""
    limits = limits or Limits()
    result = Extraction()
    if image.is_dir():
        result.filesystems.append(FileSystem.scan(image, label=image.name or "rootfs"))
        result.steps.append(ExtractionStep(format="directory", tool="iotcop", outcome="extracted",
                                           message="an unpacked tree: read in place"))
        return result
    if workdir is None:
        result.workdir = Path(tempfile.mkdtemp(prefix="iotcop-"))
    else:
        workdir.mkdir(parents=True, exist_ok=True)
        if any(workdir.iterdir()):
            raise UsageError(f"{workdir} is not empty: extract into a new or empty directory")
        result.workdir, result.keep = workdir, True
    os.chmod(result.workdir, 0o755)  # the unprivileged extractors must reach it
    try:
        _layer(image, result, limits, depth=0)
        if not result.steps:
            result.notes.append(_unknown_blob_note(image))
        if (note := privilege_note()) and any(s.tool in ("unblob", "unsquashfs") for s in result.steps):
            result.notes.append(note)
    except BaseException:  # Ctrl-C included: never leave a half-extracted tree behind
        result.keep = False
        result.close()
        raise
    return result


def _layer(path: Path, result: Extraction, limits: Limits, depth: int) -> None:
    assert result.workdir is not None
    if depth > limits.max_depth:
        result.steps.append(ExtractionStep(format="nested layer", depth=depth, tool="iotcop", outcome="limit",
                                           message=f"{path.name}: deeper than {limits.max_depth} layers"))
        return
    dest = result.workdir / f"layer-{len(result.steps)}-{depth}"
    if tarball.is_tar(path):
        before = len(result.filesystems)
        tarball.extract_tar(path, dest, result, limits, depth)
        _into_package(result, before, limits, depth)
        return
    with open(path, "rb") as fh:
        data = fh.read()  # one copy of the image: the SquashFS reader slices it through a memoryview
    if layers.whole_squashfs(data) is not None:
        layers.extract_squashfs(path, memoryview(data), dest, result, limits)
        return
    for offset, needed, compressor in layers.truncated_squashfs(data, find_squashfs(data)):
        result.steps.append(ExtractionStep(
            format=f"squashfs-v4 ({compressor})", offset=offset, size=len(data) - offset, depth=depth,
            tool="iotcop", outcome="failed", message=f"truncated: the superblock says {needed} bytes, only "
                                                     f"{len(data) - offset} remain in the image"))
    broken = _broken_bzip2(data)
    del data
    if broken:  # unblob finds no chunk in a cut bzip2 stream: say what it is, not only its entropy
        result.steps.append(ExtractionStep(format="bzip2", size=path.stat().st_size, depth=depth, tool="iotcop",
                                           outcome="failed", message=broken))
        return
    run_unblob(path, result.workdir, result, limits, depth)


def _broken_bzip2(data: bytes) -> str:
    """Why a file that starts as a bzip2 stream cannot be decompressed, or '' (also when it can)."""
    if len(data) < 4 or bytes(data[:3]) != b"BZh" or not 0x31 <= data[3] <= 0x39:  # 'BZh1'..'BZh9'
        return ""
    decompressor = bz2.BZ2Decompressor()
    try:
        for start in range(0, len(data), 1 << 20):
            decompressor.decompress(bytes(data[start:start + (1 << 20)]), max_length=64 << 20)
            if decompressor.eof:
                return ""
            if not decompressor.needs_input:
                return ""  # it decompresses: a large stream, left to unblob
    except (OSError, ValueError) as exc:
        return f"the bzip2 stream is corrupt: {exc}"
    return "the bzip2 stream is truncated: it ends before its end-of-stream marker"


def _into_package(result: Extraction, before: int, limits: Limits, depth: int) -> None:
    """A tar that is not a root file system is an update package: look into each of its files."""
    new = result.filesystems[before:]
    if not new or any(fs.looks_like_root() for fs in new):
        return
    package = new[0]
    members = sorted((e for e in package.files() if e.size >= MIN_MEMBER_BYTES), key=lambda e: e.path)
    if len(members) > MAX_PACKAGE_MEMBERS:
        result.notes.append(f"{package.label}: only the first {MAX_PACKAGE_MEMBERS} of {len(members)} files "
                            "were looked into")
    for entry in members[:MAX_PACKAGE_MEMBERS]:
        _layer(package.host_root / entry.path.lstrip("/"), result, limits, depth + 1)


def _unknown_blob_note(image: Path) -> str:
    with open(image, "rb") as fh:
        sample = fh.read(8 * 1024 * 1024)
    return f"no file system or known format was found in the image; {nature_of(entropy(sample))}"
