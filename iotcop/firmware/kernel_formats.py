"""Parsers of the kernel's and the boot loader's byte formats; every one takes untrusted bytes and never raises.

- a uImage (U-Boot ``include/image.h``: 64-byte big-endian header, magic 0x27051956, its own CRC-32, payload
  compression named in the header);
- raw LZMA, gzip, XZ, bzip2, zstd or LZ4 (the kernel's legacy format) streams, decompressed bounded;
- a kernel configuration (``CONFIG_X=y|m|value`` lines);
- U-Boot environments: a CRC-32 block in flash (``env/common.c``: CRC, optional flag byte, ``key=value\\0``
  pairs ending in ``\\0\\0``), or the default environment compiled into a U-Boot binary (no CRC).
"""

from __future__ import annotations

import bz2
import io
import lzma
import re
import struct
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

MAX_STREAM_OUT = 64 * 1024 * 1024  # decompressed from one stream (an embedded kernel is a few MiB)
MAX_CONFIG_BYTES = 4 * 1024 * 1024
MAX_OPTIONS = 30_000
MAX_ENVS = 16
ENV_SIZES = tuple(1 << n for n in range(10, 19))  # 1 KiB .. 256 KiB, the sizes CONFIG_ENV_SIZE takes
Buffer = bytes | memoryview
UIMAGE_MAGIC = b"\x27\x05\x19\x56"
UIMAGE_COMPRESSION = {0: "none", 1: "gzip", 2: "bzip2", 3: "lzma", 4: "lzo", 5: "lz4", 6: "zstd"}
UIMAGE_TYPES = {1: "standalone", 2: "kernel", 3: "ramdisk", 4: "multi", 5: "firmware", 6: "script",
                7: "filesystem", 8: "flat_dt", 14: "kernel_noload"}
ENV_KEYS = re.compile(rb"(?:bootcmd|bootdelay|bootargs|baudrate)=")  # one of them marks a U-Boot environment
_ENV_ENTRY = re.compile(rb"([A-Za-z0-9_.:-]{1,64})=([^\x00]{0,4096})\x00")
_KEY_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-")
_CONFIG_LINE = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")


@dataclass(frozen=True)
class KernelConfig:
    options: Mapping[str, str]  # "CONFIG_X" -> "y" | "m" | value (strings unquoted); "is not set" is no key
    source: str  # where it came from: "/boot/config-4.14", "IKCFG in kernel@0x40 (uImage lzma)"


@dataclass(frozen=True)
class UBootEnv:
    where: str
    variables: Mapping[str, str]
    checksum: bool  # True: a CRC-checked block (a flash partition); False: a default compiled into U-Boot


def parse_config(text: str, source: str) -> KernelConfig:
    """A kernel .config: ``CONFIG_X=y|m|value`` lines; a string value is unquoted; comments are dropped."""
    options: dict[str, str] = {}
    for line in text.splitlines():
        if (m := _CONFIG_LINE.match(line.strip())) and len(options) < MAX_OPTIONS:
            value = m[2].strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            options[m[1]] = value
    return KernelConfig(options, source)


def parse_uimage(data: Buffer, offset: int = 0) -> tuple[str, str, str, Buffer] | None:
    """(type, compression, name, payload) of a uImage whose header CRC holds, else None."""
    header = bytes(data[offset:offset + 64])
    if len(header) < 64 or header[:4] != UIMAGE_MAGIC:
        return None
    hcrc, size = struct.unpack_from(">I", header, 4)[0], struct.unpack_from(">I", header, 12)[0]
    if zlib.crc32(header[:4] + b"\0\0\0\0" + header[8:]) != hcrc:
        return None
    kind = UIMAGE_TYPES.get(header[30], f"type {header[30]}")
    name = header[32:64].split(b"\0", 1)[0].decode("ascii", "replace")
    return kind, UIMAGE_COMPRESSION.get(header[31], f"compression {header[31]}"), name, \
        data[offset + 64:offset + 64 + size]


def decompress(data: Buffer, method: str, limit: int = MAX_STREAM_OUT) -> tuple[bytes, int] | None:
    """(output up to ``limit`` bytes, input bytes consumed) of the stream at the start of ``data``; None when
    it does not decompress. Consumed is 1 when the stream's end was not reached or is not known: what follows
    is then not skipped as part of it. Never raises for bad input."""
    try:
        return DECODERS[method](data, limit)
    except (OSError, ValueError, EOFError, LookupError, MemoryError, RuntimeError, struct.error, zlib.error,
            lzma.LZMAError):
        return None
    except Exception as exc:  # zstandard.ZstdError, lz4's LZ4BlockError
        if type(exc).__module__.split(".")[0] in ("zstandard", "lz4", "_lz4"):
            return None
        raise


def whole_gzip(data: Buffer, limit: int = MAX_CONFIG_BYTES) -> bytes | None:
    """A gzip stream decompressed to its end, or None (damaged, cut short, or more than ``limit`` bytes)."""
    obj = zlib.decompressobj(31)
    try:
        out = obj.decompress(data, limit)
    except zlib.error:
        return None
    return out if obj.eof else None


def _stream(obj: zlib._Decompress | lzma.LZMADecompressor | bz2.BZ2Decompressor, data: Buffer,
            limit: int) -> tuple[bytes, int] | None:
    out = obj.decompress(data, limit)
    if not out:
        return None
    eof = obj.eof
    return out, len(data) - len(obj.unused_data) if eof else 1


def _zstd(data: Buffer, limit: int) -> tuple[bytes, int] | None:
    import zstandard

    out = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=False).read(limit)
    return (out, 1) if out else None


def _lz4_legacy(data: Buffer, limit: int) -> tuple[bytes, int] | None:
    """The kernel's LZ4 format (``lz4 -l``): magic, then blocks of [le32 size][block], 8 MiB each at most."""
    import lz4.block  # type: ignore[import-untyped]

    out, pos = bytearray(), 4
    while pos + 4 <= len(data) and len(out) < limit:
        (size,) = struct.unpack_from("<I", data, pos)
        if size == 0x184C2102 or size == 0 or size > len(data) - pos - 4:
            break
        out += lz4.block.decompress(data[pos + 4:pos + 4 + size], uncompressed_size=8 << 20)
        pos += 4 + size
    return (bytes(out[:limit]), pos) if out else None


DECODERS: dict[str, Callable[[Buffer, int], tuple[bytes, int] | None]] = {
    "none": lambda d, n: (bytes(d[:n]), len(d)) if len(d) else None,
    "gzip": lambda d, n: _stream(zlib.decompressobj(31), d, n),
    "xz": lambda d, n: _stream(lzma.LZMADecompressor(lzma.FORMAT_XZ), d, n),
    "lzma": lambda d, n: _stream(lzma.LZMADecompressor(lzma.FORMAT_ALONE), d, n),
    "bzip2": lambda d, n: _stream(bz2.BZ2Decompressor(), d, n),
    "zstd": _zstd,
    "lz4": _lz4_legacy,
}


def stream_method(data: Buffer, offset: int) -> str | None:
    head = bytes(data[offset:offset + 13])
    if head.startswith(b"\x1f\x8b\x08"):
        return "gzip" if len(head) > 3 and head[3] < 0x20 else None
    if head.startswith(b"\xfd7zXZ"):
        return "xz"
    if head.startswith(b"BZh"):
        return "bzip2"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    if head.startswith(b"\x02\x21\x4c\x18"):
        return "lz4"
    if head[:1] == b"\x5d" and len(head) == 13:  # LZMA-alone: lc3 lp0 pb2, a sane dictionary and size
        dictionary, size = struct.unpack_from("<IQ", head, 1)
        if 1 << 12 <= dictionary <= 1 << 30 and (size == (1 << 64) - 1 or size < 1 << 30):
            return "lzma"
    return None


def uboot_envs(data: bytes, where: str = "") -> list[tuple[int, UBootEnv]]:
    """(offset, environment) of the U-Boot environments in ``data``: CRC-checked blocks, else default
    environments (two or more ``key=value`` entries closed by an empty one, one of them bootcmd,
    bootdelay, bootargs or baudrate)."""
    found: list[tuple[int, UBootEnv]] = []
    label = f"{where} " if where else ""
    done = -1
    for hit in ENV_KEYS.finditer(data):
        if hit.start() < done or len(found) >= MAX_ENVS:
            continue
        start = _first_entry(data, hit.start())
        # printable bytes of a CRC may have joined the first key: the next few starts are tried too
        for first in range(start, min(start + 5, hit.start()) + 1):
            entries = _entries(data, first)
            if entries is not None and (block := _crc_block(data, first, entries[1])) is not None:
                offset, size = block
                found.append((offset, UBootEnv(f"{label}env@0x{offset:x} ({size >> 10} KiB, CRC valid)",
                                               entries[0], True)))
                done = offset + size
                break
        else:
            if (entries := _entries(data, start)) is not None:
                found.append((start, UBootEnv(f"{label}default env@0x{start:x}", entries[0], False)))
                done = entries[1]
    return found


def _first_entry(data: bytes, hit: int) -> int:
    """Where the list of entries holding the one at ``hit`` starts (walking back over whole entries)."""
    start = hit
    while start > 0 and hit - start < 64 and data[start - 1] in _KEY_CHARS:
        start -= 1
    while start >= 2 and data[start - 1] == 0 and data[start - 2] != 0:
        begin = start - 1
        while begin > 0 and data[begin - 1] != 0 and start - begin < 4096:
            begin -= 1
        equals = data.find(b"=", begin, start - 1)
        key = equals
        while key > begin and data[key - 1] in _KEY_CHARS:
            key -= 1
        if equals == -1 or key == equals:
            break
        start = key
        if key > begin:  # bytes before the key that are no entry: a CRC, so this is the first entry
            break
    return start


def _entries(data: bytes, first: int) -> tuple[dict[str, str], int] | None:
    """The ``key=value`` entries from ``first`` and where their closing empty entry ends, or None."""
    variables: dict[str, str] = {}
    pos = first
    while (m := _ENV_ENTRY.match(data, pos)) is not None and len(variables) < 1024:
        variables[m[1].decode("latin-1")] = m[2].decode("latin-1")
        pos = m.end()
    if len(variables) < 2 or data[pos:pos + 1] != b"\x00":
        return None
    return variables, pos + 1


def _crc_block(data: bytes, first: int, end: int) -> tuple[int, int] | None:
    """(offset, size) of the environment block whose CRC-32 covers the entries from ``first`` to ``end``."""
    for header in (4, 5):  # CRC, or CRC and the flag byte of a redundant environment
        if first < header:
            continue
        (crc,) = struct.unpack_from("<I", data, first - header)
        for size in ENV_SIZES:
            if size - header >= end - first and first - header + size <= len(data) and \
                    zlib.crc32(data[first:first - header + size]) == crc:
                return first - header, size
    return None
