"""Runs unblob on one file, in its own process (started by ``iotcop.firmware.carving``).

Usage: ``python -m iotcop.firmware._unblob_worker IMAGE EXTRACT_ROOT REPORT_JSON MAX_DEPTH``

It is a separate process so that it can run as ``nobody`` (no device node, owner or setuid bit from an
image can then be applied), be killed as a whole when a byte, file or time limit trips, and never take
iotcop down with it. unblob's Landlock sandbox confines it further where the kernel offers Landlock.

unblob's SquashFS v4 handlers want ``sasquatch``, which Debian does not ship; here they use iotcop's
own SquashFS reader instead (legacy LZMA and big-endian included).
"""

from __future__ import annotations

import json
import posixpath
import sys
from pathlib import Path

from unblob import file_utils, processing
from unblob.extractors import Command
from unblob.handlers import BUILTIN_DIR_HANDLERS, BUILTIN_HANDLERS
from unblob.handlers.archive import cpio
from unblob.handlers.filesystem.cramfs import CramFSHandler
from unblob.handlers.filesystem.squashfs import SquashFSv4BEHandler, SquashFSv4LEHandler
from unblob.logging import configure_logger
from unblob.models import ExtractError, Extractor, ExtractResult, Task, TaskResult
from unblob.processing import ExtractionConfig, process_file
from unblob.report import ExtractCommandFailedReport, SpecialFileExtractionProblem, StatReport
from unblob.sandbox import Sandbox

from iotcop.firmware import squashfs
from iotcop.firmware.carving import META_SUFFIX
from iotcop.firmware.unblob_handlers import FitHandler, UImageHandler

MAX_SQUASHFS_BYTES = 2 * 1024**3  # the parent's live byte limit is the real bound


class IotcopSquashfsExtractor(Extractor):
    """unblob extractor backed by ``iotcop.firmware.squashfs`` (replaces sasquatch)."""

    def get_dependencies(self) -> list[str]:
        return []

    def extract(self, inpath: Path, outdir: Path) -> ExtractResult | None:
        data = inpath.read_bytes()
        try:
            meta = squashfs.extract(data, outdir / "squashfs-root", max_bytes=MAX_SQUASHFS_BYTES,
                                    max_files=1_000_000)
        except squashfs.SquashfsError as exc:
            raise ExtractError(ExtractCommandFailedReport(command="iotcop squashfs reader", stdout=b"",
                                                          stderr=str(exc).encode(), exit_code=1)) from None
        # modes, owners and setuid bits as recorded (never applied on disk), read back by the parent
        (outdir / ("squashfs-root" + META_SUFFIX)).write_text(json.dumps({p: list(v) for p, v in meta.items()}))
        return None


class IotcopSquashfsV4LE(SquashFSv4LEHandler):
    EXTRACTOR = IotcopSquashfsExtractor()  # type: ignore[assignment]


class IotcopSquashfsV4BE(SquashFSv4BEHandler):
    EXTRACTOR = IotcopSquashfsExtractor()  # type: ignore[assignment]


ROOT_DIRS = ("etc", "bin", "lib", "sbin", "usr")
_process_task = processing.Processor._process_task


def _looks_like_root(path: Path) -> bool:
    try:
        return sum(1 for c in path.iterdir() if c.name in ROOT_DIRS and c.is_dir() and not c.is_symlink()) >= 2
    except OSError:
        return False


def _stop_at_roots(self: processing.Processor, result: TaskResult, task: Task) -> None:
    """A root file system is where iotcop's collectors take over: unblob does not carve each of its files
    (hundreds of ELF binaries, seconds of work, no new layer)."""
    if task.path.is_dir() and _looks_like_root(task.path):
        result.add_report(StatReport.from_path(task.path))
        return
    _process_task(self, result, task)


class FsckCramfs(CramFSHandler):
    """util-linux's fsck.cramfs reads both endiannesses and keeps the image's relative links, which 7z
    (unblob's choice) refuses as 'dangerous link path'."""

    EXTRACTOR = Command("fsck.cramfs", "--extract={outdir}/cramfs-root", "{inpath}")


def _never_mknod(self: file_utils.FileSystem, path: Path, mode: int = 0o600, device: int = 0) -> None:
    """Even when the worker has to run as root, no device node or socket from an image is created."""
    self.record_problem(SpecialFileExtractionProblem(
        problem="iotcop never creates device nodes or sockets from an image", resolution="Skipped.",
        path=str(path), mode=mode, device=device))


_dump_cpio = cpio.CPIOParserBase.dump_entries


def _dump_cpio_recording(self: cpio.CPIOParserBase, fs: file_utils.FileSystem) -> None:
    """unblob writes a cpio's files but not their modes: record them (setuid bits, device nodes) beside."""
    meta = {posixpath.normpath("/" + str(e.path)): [e.mode, 0, 0] for e in self.entries}
    (fs.root.parent / (fs.root.name + META_SUFFIX)).write_text(json.dumps(meta))
    _dump_cpio(self, fs)


def handlers() -> tuple[type, ...]:
    swap: dict[type, type] = {SquashFSv4LEHandler: IotcopSquashfsV4LE, SquashFSv4BEHandler: IotcopSquashfsV4BE,
                              CramFSHandler: FsckCramfs}
    return (*(swap.get(h, h) for h in BUILTIN_HANDLERS), UImageHandler, FitHandler)


def main(argv: list[str]) -> int:
    image, extract_root, report, depth = Path(argv[0]), Path(argv[1]), Path(argv[2]), int(argv[3])
    log_path = extract_root.parent / "unblob.log"
    configure_logger(0, extract_root, log_path)
    config = ExtractionConfig(
        extract_root=extract_root,
        max_depth=depth,
        randomness_depth=1,
        process_num=2,
        handlers=handlers(),
        dir_handlers=BUILTIN_DIR_HANDLERS,
        verbose=0,
        # iotcop's metadata sidecars are JSON; no firmware layer hides in a JSON file
        skip_extension=(*processing.DEFAULT_SKIP_EXTENSION, ".json"),
    )
    extract_root.mkdir(parents=True, exist_ok=True)
    processing.Processor._process_task = _stop_at_roots  # type: ignore[method-assign]
    file_utils.FileSystem.mknod = _never_mknod  # type: ignore[method-assign]
    cpio.CPIOParserBase.dump_entries = _dump_cpio_recording  # type: ignore[method-assign]
    try:
        Sandbox(config, log_path, report).run(process_file, config, image, report)
    except Exception as exc:
        print(f"unblob failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
