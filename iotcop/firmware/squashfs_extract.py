"""Extraction of a SquashFS 4.0 image read by ``squashfs.py``: files written in walk order while a thread
pool decompresses the blocks ahead (zlib and lzma release the GIL), within a bounded window.

Only regular files, directories and symlinks are written; names were checked by the reader; files are
created with O_EXCL|O_NOFOLLOW; sparse blocks stay holes; no device node, owner or setuid bit is applied:
they are returned as metadata instead.
"""

from __future__ import annotations

import os
import stat
from collections import OrderedDict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from iotcop.firmware.squashfs import _BLOCK, _FRAGMENT, _SPARSE, Node, SquashFS, SquashfsError, _tail

_WORKERS = min(8, os.cpu_count() or 1)
_WINDOW_BYTES = 64 << 20  # decompressed data waiting to be written
_WINDOW_PIECES = 256


@dataclass(frozen=True, slots=True)
class _Op:
    """One step of writing a file: open it, skip a hole, or write a block or a fragment tail."""

    kind: int  # _OPEN, _SPARSE, _BLOCK, _FRAGMENT
    size: int  # file size (open) or bytes (others)
    path: str  # in-image path, for messages
    host: str = ""
    future: Future[bytes] | None = None
    offset: int = 0  # of the tail in its fragment block


_OPEN = 3


class _Writer:
    """Writes regular files in walk order while a thread pool decompresses their blocks ahead of it."""

    def __init__(self, fs: SquashFS, pool: ThreadPoolExecutor, max_bytes: int) -> None:
        self.fs, self.pool, self.budget, self.max_bytes = fs, pool, max_bytes, max_bytes
        self.queue: deque[_Op] = deque()
        self.in_flight = 0  # bytes decompressed or being decompressed, not yet written
        self.fragments: OrderedDict[int, Future[bytes]] = OrderedDict()
        self.fd = -1

    def add(self, host: str, node: Node) -> None:
        if node.size > self.budget:
            raise SquashfsError(f"{node.path}: its {node.size} bytes exceed the limit of {self.max_bytes} "
                                "extracted bytes")
        self.budget -= node.size
        self._put(_Op(_OPEN, node.size, node.path, host))
        for kind, a, b, want in self.fs._pieces(node):
            if kind == _SPARSE:
                self._put(_Op(_SPARSE, want, node.path))
            elif kind == _BLOCK:
                self._put(_Op(_BLOCK, want, node.path, future=self.pool.submit(self.fs._data_block, a, b, want)))
            else:
                self._put(_Op(_FRAGMENT, want, node.path, future=self._fragment(a), offset=b))

    def _fragment(self, index: int) -> Future[bytes]:
        """Files in one directory share fragment blocks: each is decompressed once while it is in use."""
        future = self.fragments.get(index)
        if future is None:
            future = self.fragments[index] = self.pool.submit(self.fs._fragment_block, index)
            if len(self.fragments) > 16:
                self.fragments.popitem(last=False)
        return future

    def _put(self, op: _Op) -> None:
        self.queue.append(op)
        if op.future is not None:
            self.in_flight += op.size
        while self.queue and (self.in_flight > _WINDOW_BYTES or len(self.queue) > _WINDOW_PIECES):
            self.flush_one()

    def flush_one(self) -> None:
        op = self.queue.popleft()
        try:
            if op.kind == _OPEN:
                self.close()
                self.fd = os.open(op.host, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                                  0o644)
                os.ftruncate(self.fd, op.size)  # sparse blocks stay holes; the size is right from the start
            elif op.future is None:
                os.lseek(self.fd, op.size, os.SEEK_CUR)
            else:
                self.in_flight -= op.size
                data = op.future.result()
                view = memoryview(data) if op.kind == _BLOCK else _tail(data, op.offset, op.size, op.path)
                while view:
                    view = view[os.write(self.fd, view):]
        except SquashfsError as exc:
            raise SquashfsError(f"{op.path}: {exc}") from None
        except (OSError, ValueError) as exc:  # ValueError: a name the file system encoding cannot hold
            raise SquashfsError(f"{op.path}: cannot be written: {exc}") from None

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def extract(image: bytes | memoryview, dest: Path, max_bytes: int, max_files: int) -> dict[str, tuple[int, int, int]]:
    """Unpack into ``dest`` (which must not exist); returns in-image path → (mode, uid, gid) as recorded.

    Raises ``SquashfsError`` on corruption or when a limit trips (what was written so far stays).
    """
    fs = SquashFS(image)
    dest.mkdir()
    meta: dict[str, tuple[int, int, int]] = {}
    pool = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="squashfs")
    writer = _Writer(fs, pool, max_bytes)
    try:
        for node in fs.walk(max_entries=max_files):
            meta[node.path] = (node.mode, node.uid, node.gid)
            _create(writer, os.path.join(dest, node.path[1:]), node)
        while writer.queue:
            writer.flush_one()
    finally:
        writer.close()
        pool.shutdown(wait=True, cancel_futures=True)
    return meta


def _create(writer: _Writer, host: str, node: Node) -> None:
    kind = stat.S_IFMT(node.mode)
    try:
        if kind == stat.S_IFDIR and node.path != "/":
            os.mkdir(host, 0o755)
        elif kind == stat.S_IFLNK:
            os.symlink(node.target or "", host)
    except (OSError, ValueError) as exc:  # ValueError: a name the file system encoding cannot hold
        raise SquashfsError(f"{node.path}: cannot be written: {exc}") from None
    if kind == stat.S_IFREG:
        writer.add(host, node)
