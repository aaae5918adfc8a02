"""A bounded, pure-Python reader and extractor for SquashFS 4.0 (little- and big-endian).

Why our own: Debian's ``unsquashfs`` is built without the legacy LZMA compressor that many router
images use (TP-Link, D-Link, ...), reads no big-endian v4 images, and unblob's SquashFS handler wants
``sasquatch``, which Debian does not ship. This reader follows the on-disk format (superblock,
metadata blocks, inode/directory/fragment/id tables) and decompresses with the standard library
(zlib, lzma/xz) or optional codecs (lz4, zstandard). It never trusts a size or an offset from the image:
every read is bounds-checked and every table walk is bounded, and a broken image raises
``SquashfsError`` with a message, never anything else.

Extraction writes only regular files, directories and symlinks, with names checked (no '/', '.',
'..' or NUL), files created with O_EXCL|O_NOFOLLOW, and no device node, owner or setuid bit applied;
those are returned as metadata instead.
"""

from __future__ import annotations

import lzma
import os
import stat
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

MAGIC_LE, MAGIC_BE = b"hsqs", b"sqsh"
METADATA_SIZE = 8192
NO_FRAGMENT = 0xFFFFFFFF
UNCOMPRESSED_BLOCK = 1 << 24
MAX_DEPTH = 256
COMPRESSORS = {1: "gzip", 2: "lzma", 3: "lzo", 4: "xz", 5: "lz4", 6: "zstd"}
# bytes of each inode type's fixed part after the 16-byte common header
_BODY = {1: 16, 2: 16, 3: 8, 4: 8, 5: 8, 6: 4, 7: 4, 8: 24, 9: 40, 10: 8, 11: 12, 12: 12, 13: 8, 14: 8}
_TYPE_BITS = {1: stat.S_IFDIR, 2: stat.S_IFREG, 3: stat.S_IFLNK, 4: stat.S_IFBLK, 5: stat.S_IFCHR,
              6: stat.S_IFIFO, 7: stat.S_IFSOCK}


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
    blocks: tuple[int, ...] = ()
    blocks_start: int = 0
    fragment: int = NO_FRAGMENT
    fragment_offset: int = 0


def _decompressor(name: str) -> Callable[[bytes, int], bytes]:
    if name == "gzip":
        return lambda data, limit: zlib.decompressobj().decompress(data, limit)
    if name in ("xz", "lzma"):
        fmt = lzma.FORMAT_XZ if name == "xz" else lzma.FORMAT_ALONE
        return lambda data, limit: lzma.LZMADecompressor(format=fmt).decompress(data, max_length=limit)
    if name == "lz4":
        try:
            import lz4.block
        except ImportError as exc:
            raise SquashfsError("lz4 compression needs the 'lz4' Python package") from exc
        return lambda data, limit: lz4.block.decompress(data, uncompressed_size=limit)  # type: ignore[no-any-return]
    if name == "zstd":
        try:
            import zstandard
        except ImportError as exc:
            raise SquashfsError("zstd compression needs the 'zstandard' Python package") from exc
        return lambda data, limit: zstandard.ZstdDecompressor().decompressobj().decompress(data)[:limit]
    raise SquashfsError(f"{name} compression is not supported by the built-in reader")


class SquashFS:
    """Read-only access to one SquashFS 4.0 image held in memory (``data`` starts at the superblock)."""

    def __init__(self, data: bytes | memoryview) -> None:
        self.data = memoryview(data)
        if len(self.data) < 96:
            raise SquashfsError("too short for a SquashFS superblock")
        magic = bytes(self.data[:4])
        if magic not in (MAGIC_LE, MAGIC_BE):
            raise SquashfsError("no SquashFS magic")
        self.e = "<" if magic == MAGIC_LE else ">"
        self.sb = self._superblock()
        self._decompress = _decompressor(self.sb.compressor)
        self._meta_cache: dict[int, tuple[bytes, int]] = {}
        self._ids = self._table(self.sb.id_table, self.sb.id_count, 4, "I")
        self._fragments = self._fragment_table()

    # --- low level -------------------------------------------------------------------------------
    def _unpack(self, fmt: str, offset: int) -> tuple[int, ...]:
        size = struct.calcsize(self.e + fmt)
        if offset < 0 or offset + size > len(self.data):
            raise SquashfsError(f"read past the end of the image at {offset}")
        return struct.unpack_from(self.e + fmt, self.data, offset)

    def _superblock(self) -> Superblock:
        (_, inodes, _, block_size, frags, comp, block_log, flags, ids, major, _, root, used, id_table, _,
         inode_table, dir_table, frag_table, _) = self._unpack("IIIIIHHHHHHQQQQQQQQ", 0)
        if major != 4:
            raise SquashfsError(f"SquashFS version {major} (only 4.x is read)")
        if not 4096 <= block_size <= 1 << 20 or block_size != 1 << block_log:
            raise SquashfsError(f"implausible block size {block_size}")
        if used > len(self.data):
            raise SquashfsError(f"truncated: the superblock says {used} bytes, {len(self.data)} present")
        if comp not in COMPRESSORS:
            raise SquashfsError(f"unknown compressor id {comp}")
        return Superblock("little" if self.e == "<" else "big", inodes, block_size, frags, COMPRESSORS[comp], flags,
                          ids, root, used, id_table, inode_table, dir_table, frag_table)

    def _block(self, data: bytes | memoryview, compressed: bool, limit: int) -> bytes:
        if not compressed:
            return bytes(data[:limit])
        try:
            out = self._decompress(bytes(data), limit)
        except Exception as exc:  # every codec has its own error types; all mean a corrupt block
            raise SquashfsError(f"{self.sb.compressor} block does not decompress: {exc}") from None
        if len(out) > limit:
            raise SquashfsError("a block decompresses past its size limit")
        return out

    def _metadata_block(self, offset: int) -> tuple[bytes, int]:
        """(uncompressed bytes, offset of the next block) of the metadata block at ``offset``."""
        cached = self._meta_cache.get(offset)
        if cached is not None:
            return cached
        (header,) = self._unpack("H", offset)
        size = header & 0x7FFF
        if size == 0 or size > METADATA_SIZE or offset + 2 + size > len(self.data):
            raise SquashfsError(f"bad metadata block header at {offset}")
        block = self._block(self.data[offset + 2:offset + 2 + size], not header & 0x8000, METADATA_SIZE)
        result = (block, offset + 2 + size)
        if len(self._meta_cache) < 4096:
            self._meta_cache[offset] = result
        return result

    def _metadata(self, start: int, offset: int, length: int) -> bytes:
        """``length`` bytes of the metadata stream beginning at block ``start``, byte ``offset``."""
        out = bytearray()
        block_pos = start
        while len(out) < offset + length:
            block, block_pos = self._metadata_block(block_pos)
            out += block
            if len(out) > offset + length + METADATA_SIZE * 2 or not block:
                break
        if len(out) < offset + length:
            raise SquashfsError("metadata ends early")
        return bytes(out[offset:offset + length])

    def _table(self, start: int, count: int, entry_size: int, fmt: str) -> tuple[int, ...]:
        if count == 0:
            return ()
        per_block = METADATA_SIZE // entry_size
        pointers = [self._unpack("Q", start + 8 * i)[0] for i in range((count + per_block - 1) // per_block)]
        raw = b"".join(self._metadata_block(p)[0] for p in pointers)
        if len(raw) < count * entry_size:
            raise SquashfsError("lookup table ends early")
        return struct.unpack_from(self.e + fmt * count, raw)

    def _fragment_table(self) -> tuple[tuple[int, int], ...]:
        if self.sb.fragment_count == 0 or self.sb.fragment_table >= len(self.data):
            return ()
        flat = self._table(self.sb.fragment_table, self.sb.fragment_count, 16, "QII")
        return tuple((flat[i], flat[i + 1]) for i in range(0, len(flat), 3))

    def _id(self, index: int) -> int:
        return self._ids[index] if index < len(self._ids) else 0

    # --- inodes and directories -------------------------------------------------------------------
    def _inode(self, ref: int, path: str) -> tuple[Node, tuple[int, int, int] | None]:
        """The node at an inode reference, and for directories (block, offset, size) of the listing."""
        start, offset = self.sb.inode_table + (ref >> 16), ref & 0xFFFF
        head = self._metadata(start, offset, 16)
        kind, perm, uid_i, gid_i, _, _ = struct.unpack_from(self.e + "HHHHII", head)
        base = 1 + (kind - 1) % 7 if 1 <= kind <= 14 else 0
        if not base:
            raise SquashfsError(f"{path}: unknown inode type {kind}")
        mode = _TYPE_BITS[base] | (perm & 0o7777)
        uid, gid = self._id(uid_i), self._id(gid_i)
        body = self._metadata(start, offset, 16 + _BODY[kind])[16:]
        u = lambda fmt, at=0: struct.unpack_from(self.e + fmt, body, at)  # noqa: E731
        if kind == 1:
            block, _, size, blk_off, _ = u("IIHHI")
            return Node(path, mode, uid, gid, 0), (block, blk_off, size)
        if kind == 8:
            _, size, block, _, _, blk_off, _ = u("IIIIHHI")
            return Node(path, mode, uid, gid, 0), (block, blk_off, size)
        if kind in (2, 9):
            if kind == 2:
                blocks_start, frag, frag_off, size = u("IIII")
                header = 32
            else:
                blocks_start, size, _, _, frag, frag_off, _ = u("QQQIIII")
                header = 56
            bs = self.sb.block_size
            count = size // bs if frag != NO_FRAGMENT else (size + bs - 1) // bs
            if count > (1 << 22):  # 512 GiB at 128 KiB blocks: a lie, not a file
                raise SquashfsError(f"{path}: implausible block count {count}")
            raw = self._metadata(start, offset, header + 4 * count)[header:]
            sizes = struct.unpack_from(f"{self.e}{count}I", raw) if count else ()
            return Node(path, mode, uid, gid, size, None, sizes, blocks_start, frag, frag_off), None
        if kind in (3, 10):
            _, target_size = u("II")
            if target_size > 4096:
                raise SquashfsError(f"{path}: symlink target of {target_size} bytes")
            target = self._metadata(start, offset, 24 + target_size)[24:]
            return Node(path, mode, uid, gid, target_size, target.decode("utf-8", "surrogateescape")), None
        return Node(path, mode, uid, gid, 0), None  # devices, fifos, sockets: recorded, never created

    def _listing(self, block: int, offset: int, size: int, path: str) -> Iterator[tuple[str, int]]:
        """(name, inode reference) of each entry in a directory listing."""
        if size <= 3:
            return
        raw = self._metadata(self.sb.directory_table + block, offset, size - 3)
        pos = 0
        while pos + 12 <= len(raw):
            count, inode_block, _ = struct.unpack_from(self.e + "III", raw, pos)
            pos += 12
            for _ in range(min(count + 1, 256)):
                if pos + 8 > len(raw):
                    raise SquashfsError(f"{path}: directory listing ends early")
                entry_off, _, _, name_size = struct.unpack_from(self.e + "HhHH", raw, pos)
                name = raw[pos + 8:pos + 9 + name_size]
                pos += 9 + name_size
                yield name.decode("utf-8", "surrogateescape"), (inode_block << 16) | entry_off

    def walk(self, max_entries: int = 1_000_000) -> Iterator[Node]:
        """Every node, parents before children, with validated in-image paths ('/etc/passwd')."""
        root, listing = self._inode(self.sb.root_inode, "/")
        yield root
        stack = [("/", listing, 0)] if listing else []
        seen = 1
        visited_dirs: set[tuple[int, int]] = set()
        while stack:
            path, (block, offset, size), depth = stack.pop()
            if (block, offset) in visited_dirs or depth > MAX_DEPTH:
                raise SquashfsError(f"{path}: directory loop or nesting deeper than {MAX_DEPTH}")
            visited_dirs.add((block, offset))
            for name, ref in self._listing(block, offset, size, path):
                if not name or name in (".", "..") or "/" in name or "\0" in name:
                    raise SquashfsError(f"{path}: unsafe name {name!r} in a directory")
                seen += 1
                if seen > max_entries:
                    raise SquashfsError(f"more than {max_entries} entries")
                child_path = f"{path.rstrip('/')}/{name}"
                node, child_listing = self._inode(ref, child_path)
                yield node
                if child_listing is not None and child_listing[2] > 3:  # empty directories list nothing
                    stack.append((child_path, child_listing, depth + 1))

    def read(self, node: Node, limit: int | None = None) -> Iterator[bytes]:
        """The contents of a regular file, block by block (at most ``limit`` bytes)."""
        remaining = node.size if limit is None else min(node.size, limit)
        pos = node.blocks_start
        bs = self.sb.block_size
        for word in node.blocks:
            if remaining <= 0:
                return
            size = word & ~UNCOMPRESSED_BLOCK
            want = min(bs, remaining)
            if size == 0:  # a sparse block
                chunk = bytes(want)
            else:
                if pos + size > len(self.data):
                    raise SquashfsError(f"{node.path}: data block past the end of the image")
                chunk = self._block(self.data[pos:pos + size], not word & UNCOMPRESSED_BLOCK, bs)[:want]
                pos += size
            remaining -= len(chunk)
            yield chunk
        if remaining > 0 and node.fragment != NO_FRAGMENT:
            if node.fragment >= len(self._fragments):
                raise SquashfsError(f"{node.path}: fragment {node.fragment} does not exist")
            start, word = self._fragments[node.fragment]
            size = word & ~UNCOMPRESSED_BLOCK
            if start + size > len(self.data):
                raise SquashfsError(f"{node.path}: fragment past the end of the image")
            frag = self._block(self.data[start:start + size], not word & UNCOMPRESSED_BLOCK, bs)
            yield frag[node.fragment_offset:node.fragment_offset + remaining]


def extract(image: bytes | memoryview, dest: Path, max_bytes: int, max_files: int) -> dict[str, tuple[int, int, int]]:
    """Unpack into ``dest`` (which must not exist); returns in-image path → (mode, uid, gid) as recorded.

    Raises ``SquashfsError`` on corruption or when a limit trips (what was written so far stays).
    """
    fs = SquashFS(image)
    dest.mkdir()
    meta: dict[str, tuple[int, int, int]] = {}
    written = 0
    for node in fs.walk(max_entries=max_files):
        meta[node.path] = (node.mode, node.uid, node.gid)
        host = dest / node.path.lstrip("/") if node.path != "/" else dest
        kind = stat.S_IFMT(node.mode)
        if kind == stat.S_IFDIR:
            if node.path != "/":
                host.mkdir(mode=0o755)
        elif kind == stat.S_IFLNK:
            os.symlink(node.target or "", host)
        elif kind == stat.S_IFREG:
            fd = os.open(host, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            with os.fdopen(fd, "wb") as fh:
                for chunk in fs.read(node):
                    written += len(chunk)
                    if written > max_bytes:
                        raise SquashfsError(f"extracted bytes exceed the limit of {max_bytes}")
                    fh.write(chunk)
    return meta
