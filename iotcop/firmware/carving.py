"""Carving and nested extraction with unblob, run in a watched child process.

The child (``_unblob_worker``) runs as ``nobody`` when iotcop runs as root. The parent watches it: the
bytes and files it writes and the time it takes. When a limit trips, the parent kills the whole process
group and logs the limit; it never waits on a hung extractor. unblob's JSON report becomes extraction
steps: one per chunk, with its handler, offset, size and outcome, and one per unidentified region with
its entropy. The trees it unpacked are searched for root file systems.
"""

from __future__ import annotations

import base64
import json
import os
import re
import resource
import shutil
import signal
import stat
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

from iotcop.firmware.filesystem import FileSystem, walk
from iotcop.firmware.tree import (
    Extraction,
    Limits,
    nature_of,
    reachable_tempdir,
    remove_tree,
    strip_special_bits,
    unprivileged,
)
from iotcop.model import ExtractionStep

ROOT_DIRS = ("etc", "bin", "lib", "sbin", "usr")
POLL_SECONDS = 0.05
META_SUFFIX = ".iotcop-meta.json"


def run_unblob(image: Path, workdir: Path, result: Extraction, limits: Limits, depth: int) -> None:
    """Carve and unpack ``image`` (up to the depth left) under ``workdir``; append steps and trees.

    The worker runs in a fresh directory of the system's temporary area, which ``nobody`` can reach
    (a cache below a 0700 home cannot be), and its output is then moved under ``workdir``."""
    final = workdir / f"unblob-{len(list(workdir.glob('unblob-*')))}"
    area = reachable_tempdir("iotcop-unblob-")
    try:
        _run_in(area, image, result, limits, depth)
        shutil.move(str(area), str(final))  # a rename on one file system, else a copy keeping links as links
    finally:
        if area.exists():
            remove_tree(str(area))
    extract_root = final / "out"
    if extract_root.exists():
        roots = find_roots(extract_root)
        roots += [fs for fs in find_filesystems(extract_root) if not any(_related(fs, r) for r in roots)]
        recorded = {root: {**_special_bits(root), **(_meta(root) or {})} for root in roots}
        strip_special_bits(extract_root)  # recorded above, now never left applied on disk
        for root in roots:
            result.filesystems.append(FileSystem.scan(root, label=_label(root, extract_root), meta=recorded[root]))


def _special_bits(root: Path) -> dict[str, tuple[int, int, int]]:
    """setuid/setgid files as the extractor left them (cpio, tar, ext, JFFS2 keep the bits as 'nobody'
    may set them on its own files); their owner on disk is the extractor's, so owner 0 is assumed only
    where the image's own record (the SquashFS sidecar) does not say otherwise."""
    out = {}
    for host, st in walk(root):
        if not stat.S_ISLNK(st.st_mode) and st.st_mode & (stat.S_ISUID | stat.S_ISGID):
            out["/" + os.path.relpath(host, root)] = (st.st_mode, 0, 0)
    return out


def _run_in(area: Path, image: Path, result: Extraction, limits: Limits, depth: int) -> None:
    source = area / "input" / image.name
    source.parent.mkdir()
    try:
        os.link(image, source)
    except OSError:
        shutil.copyfile(image, source)
    os.chmod(source, 0o644)
    extract_root, report = area / "out", area / "report.json"
    drop = unprivileged()
    if drop:
        for path in (area, source.parent):
            os.chown(path, 65534, 65534)
    levels = max(1, limits.max_depth - depth)
    cmd = [*drop, sys.executable, "-m", "iotcop.firmware._unblob_worker", str(source), str(extract_root),
           str(report), str(levels)]
    started = time.monotonic()
    size = image.stat().st_size
    tripped = _watch(cmd, area, extract_root, limits, size)
    elapsed = time.monotonic() - started
    steps = _steps(report, extract_root, depth) if report.exists() else []
    deepest = _deepest_task(report) if report.exists() else 0
    if not tripped and deepest >= levels:  # unblob stops at its depth silently; the log must not
        steps.append(ExtractionStep(format="nested layer", size=size, depth=depth + levels, tool="unblob",
                                    outcome="limit", message=f"layers deeper than {limits.max_depth} were not "
                                                             "unpacked (--max-depth)"))
    if not tripped and extract_root.exists():
        per_file = _per_file(limits.max_total_bytes)
        stopped = [h for h, st in walk(extract_root) if stat.S_ISREG(st.st_mode) and st.st_size >= per_file]
        if stopped:  # the kernel stopped a write: the extractor then reports a failure of its own
            tripped = (f"a file reached the per-file limit of {per_file} bytes (a quarter of the byte limit "
                       f"of {limits.max_total_bytes}): {len(stopped)} file(s) cut short")
    if tripped:
        steps.append(ExtractionStep(format="nested layers", size=size, depth=depth, tool="unblob", outcome="limit",
                                    message=f"{tripped}; unpacking stopped after {elapsed:.1f} s"))
    elif not report.exists():
        log = (area / "worker.err").read_text(errors="replace")[-300:] if (area / "worker.err").exists() else ""
        steps.append(ExtractionStep(format="nested layers", size=size, depth=depth, tool="unblob", outcome="failed",
                                    message=f"unblob wrote no report. {log}".strip()))
    result.steps.extend(steps)


def _deepest_task(report: Path) -> int:
    try:
        tasks = json.loads(report.read_text())
        return max((int(t.get("task", {}).get("depth", 0)) for t in tasks if isinstance(t, dict)), default=0)
    except (OSError, ValueError, TypeError, AttributeError):
        return 0


def _per_file(max_bytes: int) -> int:
    """No single file may take more than a quarter of the byte limit, so that between two polls a burst
    of writes (several bombs unpacked in parallel) stays near the limit."""
    return max(1 << 20, max_bytes // 4)


def _limit_file_size(max_bytes: int) -> None:
    """In the worker, before exec: the per-file limit, enforced by the kernel (RLIMIT_FSIZE)."""
    per_file = _per_file(max_bytes)
    resource.setrlimit(resource.RLIMIT_FSIZE, (per_file, per_file))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead of killing


def _watch(cmd: list[str], area: Path, extract_root: Path, limits: Limits, size: int) -> str:
    """Run the worker; return '' when it ended by itself, else why it was stopped."""
    # the venv's bin first: unblob calls jefferson and ubireader by name, and they live beside Python
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)])
    env = {**os.environ, "HOME": str(area), "TMPDIR": str(area), "PATH": path}
    with open(area / "worker.err", "wb") as err:
        proc = subprocess.Popen(cmd, cwd=area, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err, start_new_session=True,
                                preexec_fn=lambda: _limit_file_size(limits.max_total_bytes))
    budget = limits.seconds_per_layer * max(1, limits.max_depth)  # every layer of the nesting gets its time
    deadline = time.monotonic() + budget
    reason = ""
    try:
        while True:
            try:
                proc.wait(timeout=POLL_SECONDS)  # returns as soon as the worker ends
                break
            except subprocess.TimeoutExpired:
                pass
            written, files = _usage(extract_root)
            if written > limits.max_total_bytes:
                reason = f"extracted bytes passed the limit of {limits.max_total_bytes}"
            elif written > limits.max_ratio * max(size, 4096):
                reason = f"extracted {written} bytes from {size}: past the expansion ratio of {limits.max_ratio:g}"
            elif files > limits.max_files:
                reason = f"extracted files passed the limit of {limits.max_files}"
            elif time.monotonic() > deadline:
                reason = f"time limit of {budget:.0f} s for the nested layers passed"
            if reason:
                break
    finally:
        if proc.poll() is None:  # a limit, Ctrl-C or an error: the whole process group goes
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return reason


def _usage(root: Path) -> tuple[int, int]:
    total = files = 0
    for _, st in walk(root):
        files += 1
        total += st.st_blocks * 512 if st.st_blocks else st.st_size
    return total, files


def _steps(report: Path, extract_root: Path, depth: int) -> list[ExtractionStep]:
    try:
        tasks = json.loads(report.read_text())
    except (OSError, ValueError):
        return [ExtractionStep(format="nested layers", tool="unblob", depth=depth, outcome="failed",
                               message="unblob's report is unreadable")]
    steps: list[tuple[str, ExtractionStep]] = []
    for task in tasks if isinstance(tasks, list) else []:
        where = _relative(task.get("task", {}).get("path", ""), extract_root)
        level = depth + int(task.get("task", {}).get("depth", 0))
        for report_item in task.get("reports", []):
            step = _step(report_item, where, level)
            if step is not None:  # messages speak of paths in the extraction, not of this run's temp dir
                message = step.message.replace(str(extract_root) + "/", "").replace(str(extract_root.parent), "")
                steps.append((where, step.model_copy(update={"message": message})))
    # unblob works in parallel: its report order varies from run to run, the log must not
    steps.sort(key=lambda ws: (ws[0], ws[1].offset, ws[1].format, ws[1].size, ws[1].message))
    return [step for _, step in steps]


def _step(item: dict[str, Any], where: str, depth: int) -> ExtractionStep | None:
    kind = item.get("__typename__")
    if kind == "ChunkReport":
        errors = [e for e in item.get("extraction_reports", []) if "severity" in e]
        outcome = "failed" if errors else "extracted"
        message = "; ".join(_error_text(e) for e in errors) or ("encrypted" if item.get("is_encrypted") else "")
        return ExtractionStep(format=item.get("handler_name", "?"), offset=int(item.get("start_offset", 0)),
                              size=int(item.get("size", 0)), depth=depth, tool="unblob", outcome=outcome,
                              container=where, message=message[:2000])
    if kind == "UnknownChunkReport":
        randomness = item.get("randomness") or {}
        mean = (randomness.get("shannon") or {}).get("mean")
        value = round(float(mean) / 100 * 8, 2) if mean is not None else None
        nature = f"; {nature_of(value)}" if value is not None else ""
        return ExtractionStep(format="unknown", offset=int(item.get("start_offset", 0)), size=int(item.get("size", 0)),
                              depth=depth, tool="unblob", outcome="skipped", entropy=value, container=where,
                              message=f"no known format{nature}"[:2000])
    if kind in ("ErrorReport", "UnknownError", "ExtractorTimedOut", "MaliciousSymlinkRemoved") or (
            "severity" in item and kind != "ChunkReport"):
        return ExtractionStep(format="error", depth=depth, tool="unblob", outcome="failed", container=where,
                              message=_error_text(item)[:2000])
    return None


def _error_text(item: dict[str, Any]) -> str:
    kind = str(item.get("__typename__", "error"))
    if kind == "ExtractorDependencyNotFoundReport":
        return f"missing extractor(s) {', '.join(item.get('dependencies', []))} (see `iotcop doctor`)"
    detail = item.get("stderr") or item.get("exception") or item.get("path") or item.get("command") or ""
    if item.get("stderr"):  # unblob's report carries the command's stderr as base64
        with suppress(ValueError):
            detail = base64.b64decode(str(detail), validate=True).decode("utf-8", "replace").strip()
    return f"{kind}: {str(detail)[-300:]}"


def _relative(path: str, extract_root: Path) -> str:
    try:
        return str(Path(path).relative_to(extract_root))
    except ValueError:
        return ""  # the input file itself


def find_roots(extract_root: Path) -> list[Path]:
    """Directories that look like a Linux root (two or more of etc, bin, lib, sbin, usr as real dirs);
    the search does not descend into a root once found."""
    roots, stack = [], [extract_root]
    while stack:
        directory = stack.pop()
        try:
            children = [c for c in directory.iterdir() if c.is_dir() and not c.is_symlink()]
        except OSError:
            continue
        if sum(1 for c in children if c.name in ROOT_DIRS) >= 2:
            roots.append(directory)
            continue
        stack.extend(children)
    return sorted(roots)


_CHUNK_DIR = re.compile(r"^(\d+)-(\d+)\.(\w+)_extract$")


# unblob handler names of file systems: an extracted one is a file system even when it is not a root
# (a JFFS2 or UBIFS configuration partition, an overlay)
_FS_HANDLERS = re.compile(r"^(squashfs|jffs2|ubifs|extfs|cramfs|yaffs|romfs|fat|erofs|minixfs|iso9660|ntfs|btrfs|ufs)")


def find_filesystems(extract_root: Path) -> list[Path]:
    """Directories unblob unpacked from a file-system chunk (``<start>-<end>.<handler>_extract``, or
    ``<name>_extract`` for a whole file), with iotcop's 'squashfs-root'/'cramfs-root' level skipped."""
    found = []
    for host, st in walk(extract_root):
        name = os.path.basename(host)
        if not stat.S_ISDIR(st.st_mode) or not name.endswith("_extract"):
            continue
        m = _CHUNK_DIR.match(name)
        handler = m[3] if m else ""
        if not _FS_HANDLERS.match(handler):
            continue
        path = Path(host)
        inner = [path / sub for sub in ("squashfs-root", "cramfs-root") if (path / sub).is_dir()]
        found.append(inner[0] if inner else path)
    return sorted(found)


def _related(a: Path, b: Path) -> bool:
    return a == b or a.is_relative_to(b) or b.is_relative_to(a)


def _label(root: Path, extract_root: Path) -> str:
    """'squashfs_v4_le@0x120200': the handler and offset of the chunk the tree came from."""
    for part in reversed(root.relative_to(extract_root).parts):
        if m := _CHUNK_DIR.match(part):
            return f"{m[3]}@0x{int(m[1]):x}"
        if part.endswith("_extract"):  # a whole file was the chunk (e.g. 'rootfs.squashfs_extract')
            return part[: -len("_extract")]
    return "unblob"


def _meta(root: Path) -> dict[str, tuple[int, int, int]] | None:
    """Modes and owners the SquashFS reader recorded beside the tree (a sidecar written by the worker)."""
    sidecar = root.parent / (root.name + META_SUFFIX)
    try:
        raw = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return None
    return {str(k): (int(v[0]), int(v[1]), int(v[2])) for k, v in raw.items()}
