"""The kernel and the boot loader: version banners, the kernel configuration and U-Boot's environment.

They usually live outside the root file system: a uImage (U-Boot ``include/image.h``: 64-byte big-endian
header, magic 0x27051956, its own CRC-32, payload compression named in the header) or a raw LZMA, gzip, XZ,
bzip2, zstd or LZ4 stream (a zImage's payload, a vendor header followed by the kernel), and a U-Boot before
them. So the image file is searched outside the file systems extraction unpacked (their files are the
content pass's), and every compressed stream found is decompressed, bounded, and searched again (two levels).
Inside the root file system, ``KernelScanner`` (a content-pass scanner) reads kernel images in /boot,
/boot/config-*, copies of /proc/config.gz and notes the modules in /lib/modules.

What is searched for in every blob:
- the Linux banner ``Linux version 4.14.221 (builder@host) (gcc ...) #0 ...`` (init/version.c);
- the U-Boot banner ``U-Boot 2018.03 (Jan 01 2020 - 00:00:00 +0000)`` (version_string, ``cmd/version.c``);
- the embedded kernel configuration: ``IKCFG_ST`` + gzip(.config) + ``IKCFG_ED`` (CONFIG_IKCONFIG,
  kernel/configs.c);
- U-Boot environments: a CRC-32 block in flash (``env/common.c``: CRC, optional flag byte, ``key=value\\0``
  pairs ending in ``\\0\\0``), or the default environment compiled into a U-Boot binary (no CRC).
The regular expressions of the banners are those of ``knowledge/data/components.yaml`` for linux and u-boot.
"""

from __future__ import annotations

import bz2
import io
import lzma
import posixpath
import re
import struct
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from iotcop.firmware.components import Components
from iotcop.firmware.content import Blob, FileKind
from iotcop.firmware.tree import Extraction
from iotcop.knowledge.components import component_table, cpe_name, generic_purl
from iotcop.model import Component

MAX_IMAGE_BYTES = 256 * 1024 * 1024  # of the image file read outside its file systems
MAX_FILE_BYTES = 64 * 1024 * 1024  # of a kernel image in the root file system
MAX_STREAM_IN = 32 * 1024 * 1024  # compressed bytes offered to one decompressor
MAX_STREAM_OUT = 64 * 1024 * 1024  # decompressed from one stream (an embedded kernel is a few MiB)
MAX_TOTAL_OUT = 256 * 1024 * 1024  # decompressed from one image in all
MAX_STREAMS = 48  # compressed-stream candidates tried per blob
MAX_DEPTH = 2  # a stream inside a stream (a uImage's LZMA kernel holding a gzip initramfs or config)
MAX_CONFIG_BYTES = 4 * 1024 * 1024
MAX_OPTIONS = 30_000
MAX_ENVS = 16
ENV_SIZES = tuple(1 << n for n in range(10, 19))  # 1 KiB .. 256 KiB, the sizes CONFIG_ENV_SIZE takes
FS_FORMATS = re.compile(r"(?i)^(squashfs|jffs2|ubi|extfs|ext[234]|cramfs|yaffs|romfs|fat|erofs|minixfs|iso9660|"
                        r"ntfs|btrfs|ufs|tar|cpio|directory)")
Buffer = bytes | memoryview
UIMAGE_MAGIC = b"\x27\x05\x19\x56"
UIMAGE_COMPRESSION = {0: "none", 1: "gzip", 2: "bzip2", 3: "lzma", 4: "lzo", 5: "lz4", 6: "zstd"}
UIMAGE_TYPES = {1: "standalone", 2: "kernel", 3: "ramdisk", 4: "multi", 5: "firmware", 6: "script",
                7: "filesystem", 8: "flat_dt", 14: "kernel_noload"}
_MAGICS = re.compile(rb"\x27\x05\x19\x56|\x1f\x8b\x08|\xfd7zXZ\x00|\x5d\x00\x00[\x00-\x80]|BZh[1-9]1AY&SY|"
                     rb"\x28\xb5\x2f\xfd|\x02\x21\x4c\x18")
_LINUX = re.compile(rb"Linux version (\d+\.\d+(?:\.\d+)?)[^\s\x00]* \([^\x00\n]{1,400}")
_UBOOT = re.compile(rb"U-Boot (?:SPL |TPL )?(\d{4}\.\d{2}(?:\.\d+)?|1\.[0-3]\.\d+(?:\.\d+)?)(?:[-+][^\s\x00]*)? "
                    rb"\([^\x00\n)]{1,80}\)[^\x00\n]{0,80}")
_ENV_KEYS = re.compile(rb"(?:bootcmd|bootdelay|bootargs|baudrate)=")
_ENV_ENTRY = re.compile(rb"([A-Za-z0-9_.:-]{1,64})=([^\x00]{0,4096})\x00")
_KEY_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-")
_CONFIG_LINE = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")
_KERNEL_FILES = re.compile(r"^/boot/.*(vmlinu[xz]|[zb]?Image|uImage|kernel|fitImage|\.itb)[^/]*$")
_CONFIG_FILES = re.compile(r"^/boot/config-[^/]+$|^/lib/modules/[^/]+/(build/)?\.?config$|/config\.gz$")
_MODULE = re.compile(r"^/lib/modules/[^/]+/.+\.ko(\.[gx]z|\.zst)?$")


@dataclass(frozen=True)
class KernelConfig:
    options: Mapping[str, str]  # "CONFIG_X" -> "y" | "m" | value (strings unquoted); "is not set" is no key
    source: str  # where it came from: "/boot/config-4.14", "IKCFG in kernel@0x40 (uImage lzma)"


@dataclass(frozen=True)
class Banner:
    component: str  # "linux" | "u-boot"
    version: str  # "4.14.221", "2018.03"
    where: str  # "kernel@0x40 (uImage lzma)", "lzma@0x20400", "image@0x3480", "/boot/vmlinuz-4.14 > gzip@0x4000"
    text: str  # the banner as found (up to its line's end)


@dataclass(frozen=True)
class UBootEnv:
    where: str
    variables: Mapping[str, str]
    checksum: bool  # True: a CRC-checked block (a flash partition); False: a default compiled into U-Boot


@dataclass(frozen=True)
class KernelFacts:
    config: KernelConfig | None = None
    banners: tuple[Banner, ...] = ()
    notes: tuple[str, ...] = ()
    environments: tuple[UBootEnv, ...] = ()
    modules: tuple[str, ...] = ()  # kernel modules in the root file system (weak evidence of =m options)


# ---------------------------------------------------------------- parsers of untrusted bytes


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
        return _DECODERS[method](data, limit)
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


_DECODERS: dict[str, Callable[[Buffer, int], tuple[bytes, int] | None]] = {
    "none": lambda d, n: (bytes(d[:n]), len(d)) if len(d) else None,
    "gzip": lambda d, n: _stream(zlib.decompressobj(31), d, n),
    "xz": lambda d, n: _stream(lzma.LZMADecompressor(lzma.FORMAT_XZ), d, n),
    "lzma": lambda d, n: _stream(lzma.LZMADecompressor(lzma.FORMAT_ALONE), d, n),
    "bzip2": lambda d, n: _stream(bz2.BZ2Decompressor(), d, n),
    "zstd": _zstd,
    "lz4": _lz4_legacy,
}


def _method(data: Buffer, offset: int) -> str | None:
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
    for hit in _ENV_KEYS.finditer(data):
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


# ---------------------------------------------------------------- searching blobs


@dataclass
class _Search:
    """What one search found; the decompression budget is shared by everything one image holds."""

    budget: int = MAX_TOTAL_OUT
    banners: list[Banner] = field(default_factory=list)
    configs: list[KernelConfig] = field(default_factory=list)
    envs: list[UBootEnv] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def blob(self, data: bytes, where: str, depth: int = 0, skip: Iterable[tuple[int, int]] = ()) -> None:
        """Search ``data``: its streams first (decompressed and searched one level deeper), then its own
        bytes outside the file systems (``skip``) and the streams already searched."""
        taken = sorted(skip)
        tried = 0
        view = memoryview(data)  # streams are decompressed from slices of it, not copies
        for m in _MAGICS.finditer(data) if depth < MAX_DEPTH else ():
            offset = m.start()
            if tried >= MAX_STREAMS or self.budget <= 0:
                break
            if any(a <= offset < b for a, b in taken):
                continue
            tried += 1
            inner = self._layer(view, offset, where, depth)
            if inner is not None:
                taken.append((offset, offset + inner))
        self._strings(data, where, taken)

    def _layer(self, data: memoryview, offset: int, parent: str, depth: int) -> int | None:
        """Decompress what starts at ``offset`` and search it; the input bytes it took, or None."""
        prefix = f"{parent} > " if parent else ""
        if bytes(data[offset:offset + 4]) == UIMAGE_MAGIC:
            if (image := parse_uimage(data, offset)) is None:
                return None
            kind, method, name, payload = image
            label = f"{prefix}{kind}@0x{offset:x} (uImage {method})"
            out = decompress(payload, method, min(MAX_STREAM_OUT, self.budget)) if method in _DECODERS else None
            if out is None:
                self.notes.append(f"{label}: {name!r}: the payload could not be decompressed")
                return 64 + len(payload)
            self.budget -= len(out[0])
            self.blob(out[0], label, depth + 1)
            return 64 + len(payload)
        codec = _method(data, offset)
        stream = data[offset:offset + MAX_STREAM_IN]
        out = decompress(stream, codec, min(MAX_STREAM_OUT, self.budget)) if codec else None
        if out is None or len(out[0]) < 64:
            return None
        self.budget -= len(out[0])
        self.blob(out[0], f"{prefix}{codec}@0x{offset:x}", depth + 1)
        return out[1]

    def _strings(self, data: bytes, where: str, masked: list[tuple[int, int]]) -> None:
        def at(offset: int) -> str:
            return where or f"image@0x{offset:x}"

        def free(offset: int) -> bool:
            return not any(a <= offset < b for a, b in masked)

        for component, regex in (("linux", _LINUX), ("u-boot", _UBOOT)):
            for m in regex.finditer(data):
                if free(m.start()):
                    text = m[0].decode("latin-1").strip()
                    self.banners.append(Banner(component, m[1].decode("ascii"), at(m.start()), text))
        start = 0
        while (start := data.find(b"IKCFG_ST", start)) != -1:
            end = data.find(b"IKCFG_ED", start + 8, start + 8 + MAX_CONFIG_BYTES)
            stream = data[start + 8:end if end != -1 else start + 8 + MAX_CONFIG_BYTES]
            if free(start) and (config := whole_gzip(stream)) is not None:
                self.configs.append(parse_config(config.decode("latin-1"), f"IKCFG in {at(start)}"))
            elif free(start) and data[start + 8:start + 10] == b"\x1f\x8b":
                self.notes.append(f"IKCFG in {at(start)}: the configuration's gzip stream is damaged")
            start += 8
        if _ENV_KEYS.search(data):
            self.envs += [env for offset, env in uboot_envs(data, where) if free(offset)]


def search_blob(data: bytes, where: str = "") -> KernelFacts:
    """Everything found in one blob (a kernel image, a U-Boot, a whole firmware image)."""
    found = _Search()
    found.blob(data, where)
    return _facts(found, [], [])


# ---------------------------------------------------------------- the root file system (content pass)


@dataclass
class KernelScanner:
    """Content-pass scanner: kernel images and configurations in the root file system, module paths."""

    max_bytes: int = MAX_FILE_BYTES
    banners: list[Banner] = field(default_factory=list)
    configs: list[KernelConfig] = field(default_factory=list)
    envs: list[UBootEnv] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)

    def wants(self, path: str, kind: FileKind, language: str | None, head: bytes) -> bool:
        if _MODULE.match(path):
            self.modules.append(path)
            return False
        return bool(_CONFIG_FILES.search(path) or _KERNEL_FILES.match(path))

    def feed(self, blob: Blob) -> None:
        if blob.truncated:
            self.notes.append(f"{blob.path}: larger than {self.max_bytes >> 20} MiB; only its start was searched")
        if _CONFIG_FILES.search(blob.path):
            raw = whole_gzip(blob.data) if blob.data[:2] == b"\x1f\x8b" else blob.data
            if raw is None or blob.truncated or len(raw) > MAX_CONFIG_BYTES:
                # a configuration cut short would make the options after the cut look "not set"
                self.notes.append(f"{blob.path}: the kernel configuration is damaged or too large; not used")
            elif b"CONFIG_" in raw:
                self.configs.append(parse_config(raw.decode("latin-1"), blob.path))
            return
        found = _Search(budget=MAX_STREAM_OUT * 2)
        found.blob(blob.data, blob.path)
        self.banners += found.banners
        self.configs += found.configs
        self.envs += found.envs
        self.notes += found.notes

    def result(self) -> KernelFacts:
        return _facts(_Search(0, list(self.banners), list(self.configs), list(self.envs), list(self.notes)),
                      [], sorted(self.modules))


# ---------------------------------------------------------------- the image


def collect_kernel(image: Path | None, extraction: Extraction, in_root: KernelFacts | None = None) -> KernelFacts:
    """The kernel facts of an image: its bytes outside the file systems extraction unpacked (``image`` is
    None or a directory: none), merged with what the content pass found in the root file system."""
    found = _Search()
    notes: list[str] = []
    if image is not None and image.is_file():
        with open(image, "rb") as fh:
            data = fh.read(MAX_IMAGE_BYTES)
        if len(data) == MAX_IMAGE_BYTES:
            notes.append(f"only the first {MAX_IMAGE_BYTES >> 20} MiB of the image were searched for a kernel")
        skip = [(s.offset, s.offset + (s.size or len(data))) for s in extraction.steps
                if s.depth == 0 and not s.container and s.outcome == "extracted" and FS_FORMATS.match(s.format)]
        found.blob(data, "", skip=skip)
        if found.budget <= 0:
            notes.append(f"decompression stopped at {MAX_TOTAL_OUT >> 20} MiB: later streams were not searched")
    if in_root is not None:
        found.banners += in_root.banners
        found.configs += [in_root.config] if in_root.config else []
        found.envs += in_root.environments
        notes += in_root.notes
    return _facts(found, notes, list(in_root.modules) if in_root else [])


def _facts(found: _Search, notes: list[str], modules: list[str]) -> KernelFacts:
    banners = tuple(dict.fromkeys(found.banners))
    envs = tuple({(e.where, tuple(e.variables.items())): e for e in found.envs}.values())
    # the configuration compiled into the kernel is the one that runs; a file in /boot may be stale
    configs = sorted(found.configs, key=lambda c: (not c.source.startswith("IKCFG"), "config.gz" not in c.source,
                                                   c.source))
    chosen = configs[0] if configs else None
    notes += found.notes
    notes += [f"kernel configuration {c.source} differs from {chosen.source}, which was chosen"
              for c in configs[1:] if chosen is not None and c.options != chosen.options]
    return KernelFacts(chosen, banners, tuple(dict.fromkeys(notes)), envs, tuple(modules))


# ---------------------------------------------------------------- components


def kernel_components(facts: KernelFacts) -> tuple[Component, ...]:
    """linux and u-boot components from the banners, one per (name, version), with every place seen."""
    table = component_table()
    groups: dict[tuple[str, str], list[Banner]] = {}
    for banner in facts.banners:
        groups.setdefault((banner.component, banner.version), []).append(banner)
    out = []
    for (name, version), banners in sorted(groups.items()):
        signature = table.get(name)
        out.append(Component(
            name=name, version=version, confidence="high",
            source="kernel banner" if name == "linux" else "u-boot banner",
            locations=tuple(sorted({b.where for b in banners})), evidence=banners[0].text[:500],
            purl=generic_purl(signature, version) if signature else None,
            cpe=cpe_name(signature, version) if signature else None))
    return tuple(out)


def with_kernel(components: Components, facts: KernelFacts) -> Components:
    """``components`` with the kernel's and boot loader's added: a (name, version) already known gains the
    new locations; a new one is added. Sorted as ``collect_components`` sorts."""
    merged = {(c.name, c.version): c for c in components.components}
    for extra in kernel_components(facts):
        key = (extra.name, extra.version)
        if key in merged:
            old = merged[key]
            merged[key] = old.model_copy(update={"locations": tuple(dict.fromkeys((*old.locations,
                                                                                    *extra.locations)))})
        else:
            merged[key] = extra
    out = sorted(merged.values(), key=lambda c: (c.name, c.version or "", c.locations[:1]))
    return Components(tuple(out), components.notes)


def module_names(facts: KernelFacts) -> tuple[str, ...]:
    """Module names (``nf_conntrack``) of the modules shipped: weak evidence of ``CONFIG_...=m``."""
    return tuple(sorted({re.sub(r"\.ko(\..*)?$", "", posixpath.basename(p)) for p in facts.modules}))
