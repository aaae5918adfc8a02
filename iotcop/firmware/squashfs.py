"""A bounded, pure-Python reader and extractor for SquashFS 4.0 (little- and big-endian).

Why our own: unblob's SquashFS handler wants ``sasquatch``, which Debian does not ship, and Debian's
``unsquashfs`` reads no big-endian v4 images (some vendor builds for big-endian MIPS). This reader
follows the on-disk format (superblock, metadata blocks, inode/directory/fragment/id tables) and
decompresses with the standard library (zlib, xz, legacy LZMA) or the optional lz4 and zstandard
packages; LZO has no Python decoder and is refused with a message. It never trusts a size or an offset
from the image: every read is bounds-checked, every walk is bounded (entries, depth, metadata decoded,
directory loops), and a broken image raises ``SquashfsError`` with a message, never anything else.

Extraction writes only regular files, directories and symlinks, with names checked (no '/', '.', '..',
NUL or duplicates), files created with O_EXCL|O_NOFOLLOW, and no device node, fifo, owner or setuid bit
applied: those are returned as metadata instead. Data blocks are decompressed in a thread pool (zlib,
lzma, lz4 and zstd release the GIL) while files are written in walk order, within a bounded window.
"""

from __future__ import annotations

import lzma
import stat
import struct
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

MAGIC_LE, MAGIC_BE = b"hsqs", b"sqsh"
METADATA_SIZE = 8192
NO_FRAGMENT = 0xFFFFFFFF
UNCOMPRESSED_BLOCK = 1 << 24  # flag in a data/fragment block size word; the low 24 bits are the size
MAX_DEPTH = 256
MAX_BLOCKS = 1 << 22  # blocks of one file: 512 GiB at 128 KiB, a lie rather than a file
MAX_METADATA = 1 << 30  # metadata bytes one walk may decode: far above real images, a bound on a bomb
LZMA_MEMLIMIT = 1 << 28  # real images use a dictionary of one block (<= 1 MiB)
COMPRESSORS = {1: "gzip", 2: "lzma", 3: "lzo", 4: "xz", 5: "lz4", 6: "zstd"}
# bytes of each inode type's fixed part after the 16-byte common header
_BODY = {1: 16, 2: 16, 3: 8, 4: 8, 5: 8, 6: 4, 7: 4, 8: 24, 9: 40, 10: 8, 11: 12, 12: 12, 13: 8, 14: 8}
_TYPE_BITS = {1: stat.S_IFDIR, 2: stat.S_IFREG, 3: stat.S_IFLNK, 4: stat.S_IFBLK, 5: stat.S_IFCHR,
              6: stat.S_IFIFO, 7: stat.S_IFSOCK}
_SPARSE, _BLOCK, _FRAGMENT = 0, 1, 2
_Piece = tuple[int, int, int, int]  # (kind, block position | fragment index, size word | offset, bytes wanted)
_Codec = Callable[[memoryview, int], bytes]


class SquashfsError(Exception):
    """The image is not a SquashFS 4.0 file system this reader can read, or it is corrupt."""


@dataclass(frozen=True)
class Superblock:
    endian: str
    inode_count: int
    block_size: int
    fragment_count: int
    compressor: str
    flags: int
    id_count: int
    root_inode: int
    bytes_used: int
    id_table: int
    inode_table: int
    directory_table: int
    fragment_table: int


@dataclass(frozen=True)
class Node:
    """One inode as found through a directory entry."""

    path: str
    mode: int  # file type bits | permission bits (incl. setuid) as recorded
    uid: int
    gid: int
    size: int
    target: str | None = None  # symlink target
    rdev: int = 0  # device number of a block or character device, Linux 32-bit encoding
    blocks: tuple[int, ...] = ()
    blocks_start: int = 0
    fragment: int = NO_FRAGMENT
    fragment_offset: int = 0

    @property
    def device(self) -> tuple[int, int]:
        """(major, minor) of a device node."""
        return (self.rdev >> 8) & 0xFFF, (self.rdev & 0xFF) | ((self.rdev >> 12) & 0xFFF00)


def _codec(name: str) -> _Codec:
    if name == "gzip":
        return lambda data, limit: zlib.decompressobj().decompress(data, limit)
    if name in ("xz", "lzma"):
        fmt = lzma.FORMAT_XZ if name == "xz" else lzma.FORMAT_ALONE
        return lambda data, limit: lzma.LZMADecompressor(fmt, memlimit=LZMA_MEMLIMIT).decompress(data, limit)
    if name == "lz4":
        return _lz4()
    if name == "zstd":
        return _zstd()
    if name == "lzo":
        raise SquashfsError("lzo compression is not supported by iotcop's SquashFS reader (Python has no LZO "
                            "decoder); Debian's unsquashfs reads little-endian lzo images")
    raise SquashfsError(f"{name} compression is not supported by iotcop's SquashFS reader")


def _lz4() -> _Codec:
    try:
        import lz4.block  # type: ignore[import-untyped]
    except ImportError as exc:
        raise SquashfsError("lz4 compression needs the 'lz4' Python package") from exc

    def run(data: memoryview, limit: int) -> bytes:
        out: bytes = lz4.block.decompress(data, uncompressed_size=limit)  # bounded by the output buffer
        return out
    return run


def _zstd() -> _Codec:
    try:
        import zstandard
    except ImportError as exc:
        raise SquashfsError("zstd compression needs the 'zstandard' Python package") from exc

    def run(data: memoryview, limit: int) -> bytes:
        if zstandard.frame_content_size(data) > limit:  # -1 (unknown) is bounded by max_output_size
            raise SquashfsError("the zstd frame claims more than a block")
        return zstandard.ZstdDecompressor().decompress(data, max_output_size=limit)
    return run


class _Cursor:
    """Sequential reader of a metadata stream (inode or directory table) from (block position, offset)."""

    __slots__ = ("_at", "_buf", "_fs", "_next")

    def __init__(self, fs: SquashFS, block: int, offset: int) -> None:
        self._fs, self._next, self._buf, self._at = fs, block, b"", 0
        self.read(offset)

    def read(self, n: int) -> bytes:
        self._fs._charge(n)
        if self._at + n <= len(self._buf):
            self._at += n
            return self._buf[self._at - n:self._at]
        parts = [self._buf[self._at:]]
        n -= len(parts[0])
        while n > 0:
            self._buf, self._next = self._fs._metadata_block(self._next)
            self._at = min(n, len(self._buf))
            parts.append(self._buf[:self._at])
            n -= self._at
        return b"".join(parts)


class SquashFS:
    """Read-only access to one SquashFS 4.0 image held in memory (``data`` starts at the superblock)."""

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self.data = memoryview(data).cast("B")
        if len(self.data) < 96:
            raise SquashfsError("too short for a SquashFS superblock")
        magic = bytes(self.data[:4])
        if magic not in (MAGIC_LE, MAGIC_BE):
            raise SquashfsError("no SquashFS magic")
        self.e = "<" if magic == MAGIC_LE else ">"
        self._structs: dict[str, struct.Struct] = {}
        self.sb = self._superblock()
        self.data = self.data[:self.sb.bytes_used]  # nothing the file system refers to lies beyond
        self._decompress = _codec(self.sb.compressor)
        self._meta_cache: OrderedDict[int, tuple[bytes, int]] = OrderedDict()
        self._meta_left = MAX_METADATA
        self._fragments: OrderedDict[int, bytes] = OrderedDict()  # decompressed, for read()
        self._ids = self._id_table()

    # --- low level -------------------------------------------------------------------------------
    def _unpack(self, fmt: str, buf: bytes | memoryview, offset: int = 0) -> tuple[int, ...]:
        s = self._structs.get(fmt)
        if s is None:
            s = self._structs[fmt] = struct.Struct(self.e + fmt)
        if offset < 0 or offset + s.size > len(buf):
            raise SquashfsError(f"read past the end of the image at {offset}")
        return s.unpack_from(buf, offset)

    def _superblock(self) -> Superblock:
        (_, inodes, _, block_size, frags, comp, block_log, flags, ids, major, _, root, used, id_table, _,
         inode_table, dir_table, frag_table, _) = self._unpack("IIIIIHHHHHHQQQQQQQQ", self.data)
        if major != 4:
            raise SquashfsError(f"SquashFS version {major} (only 4.x is read)")
        if not 4096 <= block_size <= 1 << 20 or block_size != 1 << block_log:
            raise SquashfsError(f"implausible block size {block_size} (block log {block_log})")
        if used > len(self.data):
            raise SquashfsError(f"truncated: the superblock says {used} bytes, {len(self.data)} present")
        if used < 96:
            raise SquashfsError(f"implausible file system size {used}")
        if comp not in COMPRESSORS:
            raise SquashfsError(f"unknown compressor id {comp}")
        return Superblock("little" if self.e == "<" else "big", inodes, block_size, frags, COMPRESSORS[comp], flags,
                          ids, root, used, id_table, inode_table, dir_table, frag_table)

    def _block(self, data: memoryview, compressed: bool, limit: int) -> bytes:
        """One block as stored: decompressed to at most ``limit`` bytes (safe to call from any thread)."""
        if not compressed:
            return bytes(data[:limit])
        try:
            return self._decompress(data, limit)[:limit]
        except Exception as exc:  # every codec has its own error types; all mean a corrupt block
            raise SquashfsError(f"{self.sb.compressor} block does not decompress: {exc}") from None

    def _charge(self, n: int) -> None:
        self._meta_left -= n
        if self._meta_left < 0:
            raise SquashfsError(f"more than {MAX_METADATA} bytes of metadata decoded: a loop or a bomb")

    def _metadata_block(self, offset: int) -> tuple[bytes, int]:
        """(uncompressed bytes, position of the next block) of the metadata block at ``offset``."""
        cached = self._meta_cache.get(offset)
        if cached is not None:
            self._meta_cache.move_to_end(offset)
            return cached
        (header,) = self._unpack("H", self.data, offset)
        size = header & 0x7FFF
        if size == 0 or size > METADATA_SIZE or offset + 2 + size > len(self.data):
            raise SquashfsError(f"bad metadata block header at {offset}")
        block = self._block(self.data[offset + 2:offset + 2 + size], not header & 0x8000, METADATA_SIZE)
        if not block:
            raise SquashfsError(f"empty metadata block at {offset}")
        result = (block, offset + 2 + size)
        self._meta_cache[offset] = result
        if len(self._meta_cache) > 512:
            self._meta_cache.popitem(last=False)
        return result

    def _table_entry(self, table: int, index: int, size: int) -> bytes:
        """Entry ``index`` of a lookup table (id, fragment): 8-byte block pointers, then metadata blocks."""
        per_block = METADATA_SIZE // size
        (pointer,) = self._unpack("Q", self.data, table + 8 * (index // per_block))
        block, _ = self._metadata_block(pointer)
        at = (index % per_block) * size
        if at + size > len(block):
            raise SquashfsError("lookup table ends early")
        return block[at:at + size]

    def _id_table(self) -> tuple[int, ...]:
        count, per_block = self.sb.id_count, METADATA_SIZE // 4
        raw = bytearray()
        for first in range(0, count, per_block):
            (pointer,) = self._unpack("Q", self.data, self.sb.id_table + 8 * (first // per_block))
            raw += self._metadata_block(pointer)[0][:4 * min(per_block, count - first)]
        if len(raw) < 4 * count:
            raise SquashfsError("the id table ends early")
        return self._unpack(f"{count}I", bytes(raw)) if count else ()

    def _fragment(self, index: int) -> tuple[int, int]:
        """(position, size word) of fragment block ``index``."""
        if index >= self.sb.fragment_count:
            raise SquashfsError(f"fragment {index} does not exist ({self.sb.fragment_count} fragments)")
        start, word, _ = self._unpack("QII", self._table_entry(self.sb.fragment_table, index, 16))
        return start, word

    # --- inodes and directories -------------------------------------------------------------------
    def _inode(self, ref: int, path: str) -> tuple[Node, tuple[int, int, int] | None]:
        """The node at an inode reference, and for directories (block, offset, size) of the listing."""
        cur = _Cursor(self, self.sb.inode_table + (ref >> 16), ref & 0xFFFF)
        kind, perm, uid_i, gid_i, _, _ = self._unpack("HHHHII", cur.read(16))
        if not 1 <= kind <= 14:
            raise SquashfsError(f"{path}: unknown inode type {kind}")
        if uid_i >= len(self._ids) or gid_i >= len(self._ids):
            raise SquashfsError(f"{path}: owner index {max(uid_i, gid_i)} outside the id table")
        mode = _TYPE_BITS[1 + (kind - 1) % 7] | (perm & 0o7777)
        uid, gid = self._ids[uid_i], self._ids[gid_i]
        body = cur.read(_BODY[kind])
        if kind in (1, 8):
            if kind == 1:
                block, _, size, blk_off, _ = self._unpack("IIHHI", body)
            else:
                _, size, block, _, _, blk_off, _ = self._unpack("IIIIHHI", body)
            return Node(path, mode, uid, gid, 0), (block, blk_off, size)
        if kind in (2, 9):
            if kind == 2:
                blocks_start, frag, frag_off, size = self._unpack("IIII", body)
            else:
                blocks_start, size, _, _, frag, frag_off, _ = self._unpack("QQQIIII", body)
            bs = self.sb.block_size
            count = size // bs if frag != NO_FRAGMENT else (size + bs - 1) // bs
            if count > MAX_BLOCKS:
                raise SquashfsError(f"{path}: implausible block count {count}")
            sizes = self._unpack(f"{count}I", cur.read(4 * count)) if count else ()
            return Node(path, mode, uid, gid, size, blocks=sizes, blocks_start=blocks_start, fragment=frag,
                        fragment_offset=frag_off), None
        if kind in (3, 10):
            _, target_size = self._unpack("II", body)
            if not 0 < target_size <= 4096:
                raise SquashfsError(f"{path}: symlink target of {target_size} bytes")
            target = cur.read(target_size)
            if b"\0" in target:
                raise SquashfsError(f"{path}: symlink target contains NUL")
            return Node(path, mode, uid, gid, target_size, target.decode("utf-8", "surrogateescape")), None
        rdev = self._unpack("II", body)[1] if kind in (4, 5, 11, 12) else 0
        return Node(path, mode, uid, gid, 0, rdev=rdev), None  # devices, fifos, sockets: recorded, never created

    def _listing(self, block: int, offset: int, size: int, path: str) -> Iterator[tuple[str, int]]:
        """(name, inode reference) of each entry in a directory listing of ``size`` - 3 bytes."""
        cur = _Cursor(self, self.sb.directory_table + block, offset)
        left = size - 3
        while left >= 12:
            count, inode_block, _ = self._unpack("III", cur.read(12))
            left -= 12
            if count >= 256:
                raise SquashfsError(f"{path}: a directory header claims {count + 1} entries (at most 256)")
            for _ in range(count + 1):
                if left < 9:
                    raise SquashfsError(f"{path}: directory listing ends early")
                entry_off, _, _, name_size = self._unpack("HhHH", cur.read(8))
                if name_size >= 256:
                    raise SquashfsError(f"{path}: a name of {name_size + 1} bytes in a directory")
                left -= 9 + name_size
                if left < 0:
                    raise SquashfsError(f"{path}: directory listing ends early")
                yield cur.read(name_size + 1).decode("utf-8", "surrogateescape"), (inode_block << 16) | entry_off

    def walk(self, max_entries: int = 1_000_000) -> Iterator[Node]:
        """Every node, parents before children, with validated in-image paths ('/etc/passwd')."""
        self._meta_left = MAX_METADATA
        root, listing = self._inode(self.sb.root_inode, "/")
        if listing is None:
            raise SquashfsError("the root inode is not a directory")
        yield root
        stack = [("/", listing, 0)]
        seen = 1
        visited_dirs: set[tuple[int, int]] = set()
        while stack:
            path, (block, offset, size), depth = stack.pop()
            if size <= 3:  # empty directories list nothing
                continue
            if (block, offset) in visited_dirs or depth > MAX_DEPTH:
                raise SquashfsError(f"{path}: directory loop or nesting deeper than {MAX_DEPTH}")
            visited_dirs.add((block, offset))
            names: set[str] = set()
            for name, ref in self._listing(block, offset, size, path):
                if not name or name in (".", "..") or "/" in name or "\0" in name:
                    raise SquashfsError(f"{path}: unsafe name {name!r} in a directory")
                if name in names:
                    raise SquashfsError(f"{path}: the name {name!r} appears twice in a directory")
                names.add(name)
                seen += 1
                if seen > max_entries:
                    raise SquashfsError(f"more than {max_entries} entries (the file limit)")
                child_path = f"{path.rstrip('/')}/{name}"
                node, child_listing = self._inode(ref, child_path)
                yield node
                if child_listing is not None:
                    stack.append((child_path, child_listing, depth + 1))

    # --- file data --------------------------------------------------------------------------------
    def _pieces(self, node: Node, limit: int | None = None) -> Iterator[_Piece]:
        """Where the (first ``limit``) bytes of a regular file come from, block by block."""
        remaining = node.size if limit is None else max(0, min(node.size, limit))
        pos, bs = node.blocks_start, self.sb.block_size
        for word in node.blocks:
            if remaining <= 0:
                return
            size, want = word & (UNCOMPRESSED_BLOCK - 1), min(bs, remaining)
            if size == 0:
                yield _SPARSE, 0, 0, want
            else:
                if word >> 25 or size > bs or pos + size > len(self.data):
                    raise SquashfsError(f"{node.path}: data block of {word:#x} at {pos} is outside the image")
                yield _BLOCK, pos, word, want
                pos += size
            remaining -= want
        if remaining > 0:
            if node.fragment == NO_FRAGMENT:
                raise SquashfsError(f"{node.path}: its blocks end before its size")
            yield _FRAGMENT, node.fragment, node.fragment_offset, remaining

    def _data_block(self, pos: int, word: int, want: int) -> bytes:
        size = word & (UNCOMPRESSED_BLOCK - 1)
        out = self._block(self.data[pos:pos + size], not word & UNCOMPRESSED_BLOCK, self.sb.block_size)
        if len(out) < want:
            raise SquashfsError(f"the data block at {pos} holds {len(out)} bytes, {want} expected")
        return out if len(out) == want else out[:want]

    def _fragment_block(self, index: int) -> bytes:
        start, word = self._fragment(index)
        size = word & (UNCOMPRESSED_BLOCK - 1)
        if word >> 25 or not 0 < size <= self.sb.block_size or start + size > len(self.data):
            raise SquashfsError(f"fragment {index} of {word:#x} bytes at {start} is outside the image")
        return self._block(self.data[start:start + size], not word & UNCOMPRESSED_BLOCK, self.sb.block_size)

    def read(self, node: Node, limit: int | None = None) -> Iterator[bytes]:
        """The contents of a regular file, block by block (at most ``limit`` bytes)."""
        for kind, a, b, want in self._pieces(node, limit):
            if kind == _SPARSE:
                yield bytes(want)
            elif kind == _BLOCK:
                yield self._data_block(a, b, want)
            else:
                block = self._fragments.pop(a, None) or self._fragment_block(a)
                self._fragments[a] = block  # files of one directory share fragment blocks: keep the last few
                if len(self._fragments) > 4:
                    self._fragments.popitem(last=False)
                yield bytes(_tail(block, b, want, node.path))


def _tail(fragment: bytes | memoryview, offset: int, want: int, path: str) -> memoryview:
    if offset + want > len(fragment):
        raise SquashfsError(f"{path}: its tail lies outside its fragment block")
    return memoryview(fragment)[offset:offset + want]


def extract(image: bytes | memoryview, dest: Path, max_bytes: int, max_files: int) -> dict[str, tuple[int, int, int]]:
    """Unpack into ``dest``; see ``squashfs_extract.extract`` (kept here: callers know one module)."""
    from iotcop.firmware.squashfs_extract import extract as _extract

    return _extract(image, dest, max_bytes=max_bytes, max_files=max_files)
