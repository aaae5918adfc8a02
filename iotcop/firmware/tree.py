"""Small tools over extracted trees: limits, unprivileged runs, removal, special bits, entropy."""

from __future__ import annotations

import functools
import math
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from iotcop.firmware.filesystem import FileSystem, walk
from iotcop.model import ExtractionStep


@dataclass(frozen=True)
class Limits:
    """Bounds on what one image may make iotcop do; each one that trips is logged."""

    max_total_bytes: int = 2 * 1024**3
    max_files: int = 200_000
    max_ratio: float = 200.0  # extracted bytes per byte of the layer
    seconds_per_layer: float = 300.0
    max_depth: int = 8  # layers inside layers (a zip in a gzip in a tar is depth 3)


@dataclass
class Extraction:
    """The result: root file systems, the log, and a work directory removed on close (unless ``keep``:
    an output directory the user asked for, or the extraction cache)."""

    filesystems: list[FileSystem] = field(default_factory=list)
    steps: list[ExtractionStep] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    workdir: Path | None = None
    keep: bool = False

    def close(self) -> None:
        if self.workdir is not None and not self.keep:
            remove_tree(str(self.workdir))
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


def remove_tree(root: str) -> None:
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


def unprivileged() -> list[str]:
    """Drop root for extractors: nothing from the image can then create devices or set owners.

    ``nobody`` must be able to reach the Python that runs the extractors and iotcop itself (a venv or
    checkout below a 0700 home cannot be reached); where it cannot, extractors run with iotcop's own
    rights and ``privilege_note()`` says so in the extraction log."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None or not _reachable_by_others():
        return []
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def reachable_tempdir(prefix: str) -> Path:
    """A new directory (0755) in the first temporary area that others can reach: ``$TMPDIR`` may be a
    private 0700 directory, which an extractor running as ``nobody`` could not enter."""
    for base in (tempfile.gettempdir(), "/tmp", "/var/tmp"):
        if _searchable_by_others(base):
            area = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
            break
    else:
        area = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(area, 0o755)
    return area


def _searchable_by_others(directory: str) -> bool:
    path = os.path.realpath(directory)
    while True:
        try:
            if not os.stat(path).st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
        if path == os.path.dirname(path):
            return True
        path = os.path.dirname(path)


def privilege_note() -> str | None:
    if os.geteuid() == 0 and (shutil.which("setpriv") is None or not _reachable_by_others()):
        return ("extractors ran as root: the unprivileged user 'nobody' cannot reach this Python or iotcop "
                f"({os.path.realpath(sys.executable)}); install iotcop where all users can read it")
    return None


@functools.cache
def _reachable_by_others() -> bool:
    """Whether every directory above the interpreter, the standard library and iotcop is searchable by
    others, and the files are readable (the static form of 'can nobody run us')."""
    import iotcop

    paths = [os.path.realpath(sys.executable), os.path.realpath(os.__file__), os.path.realpath(iotcop.__file__),
             os.path.realpath(functools.__file__)]
    return all(os.stat(p).st_mode & stat.S_IROTH and _searchable_by_others(os.path.dirname(p)) for p in paths)


def strip_special_bits(root: Path) -> None:
    for path, st in walk(root):
        if not stat.S_ISLNK(st.st_mode) and st.st_mode & (stat.S_ISUID | stat.S_ISGID):
            os.chmod(path, stat.S_IMODE(st.st_mode) & ~(stat.S_ISUID | stat.S_ISGID))


def run_limited(cmd: list[str], limits: Limits) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                              timeout=limits.seconds_per_layer, stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, 124, "", f"timed out after {limits.seconds_per_layer:.0f} s")


_ERROR_WORDS = re.compile(r"fatal|error|unsupported|unknown|failed|could not|cannot", re.IGNORECASE)


def error_line(text: str) -> str:
    """The line of an extractor's stderr that says what went wrong: the first fatal one, else the first
    naming an error, else the last (unsquashfs ends an unknown-compressor error with the list of the
    compressors it has, which says nothing on its own)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    fatal = [line for line in lines if line.upper().startswith("FATAL")]
    errors = [line for line in lines if _ERROR_WORDS.search(line)]
    return (fatal or errors or lines[-1:] or [""])[0][:300]


def nature_of(bits_per_byte: float) -> str:
    """What an entropy value says about unidentified data: high entropy is itself evidence."""
    if bits_per_byte > 7.5:
        return f"entropy {bits_per_byte:.2f} bits/byte: compressed or encrypted"
    if bits_per_byte > 6.0:
        return f"entropy {bits_per_byte:.2f} bits/byte: partly compressed"
    if bits_per_byte < 0.1:
        return f"entropy {bits_per_byte:.2f} bits/byte: padding"
    return f"entropy {bits_per_byte:.2f} bits/byte: uncompressed code, text or data"


def entropy(data: bytes) -> float:
    """Shannon entropy in bits per byte (8.0 = indistinguishable from random)."""
    if not data:
        return 0.0
    counts = Counter(data)
    n = len(data)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


