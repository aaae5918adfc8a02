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
The byte formats (uImage, compressed streams, .config, U-Boot environments) are parsed by ``kernel_formats``.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from iotcop.firmware.components import Components
from iotcop.firmware.content import Blob, FileKind
from iotcop.firmware.identify import read_head
from iotcop.firmware.kernel_formats import (
    DECODERS,
    ENV_KEYS,
    MAX_CONFIG_BYTES,
    MAX_STREAM_OUT,
    UIMAGE_MAGIC,
    stream_method,
)
from iotcop.firmware.kernel_formats import KernelConfig as KernelConfig
from iotcop.firmware.kernel_formats import UBootEnv as UBootEnv
from iotcop.firmware.kernel_formats import decompress as decompress
from iotcop.firmware.kernel_formats import parse_config as parse_config
from iotcop.firmware.kernel_formats import parse_uimage as parse_uimage
from iotcop.firmware.kernel_formats import uboot_envs as uboot_envs
from iotcop.firmware.kernel_formats import whole_gzip as whole_gzip
from iotcop.firmware.tree import Extraction
from iotcop.knowledge.components import component_table, cpe_name, generic_purl
from iotcop.model import Component

MAX_IMAGE_BYTES = 256 * 1024 * 1024  # of the image file read outside its file systems
MAX_FILE_BYTES = 64 * 1024 * 1024  # of a kernel image in the root file system
MAX_STREAM_IN = 32 * 1024 * 1024  # compressed bytes offered to one decompressor
MAX_TOTAL_OUT = 256 * 1024 * 1024  # decompressed from one image in all
MAX_STREAMS = 48  # compressed-stream candidates tried per blob
MAX_DEPTH = 2  # a stream inside a stream (a uImage's LZMA kernel holding a gzip initramfs or config)
FS_FORMATS = re.compile(r"(?i)^(squashfs|jffs2|ubi|extfs|ext[234]|cramfs|yaffs|romfs|fat|erofs|minixfs|iso9660|"
                        r"ntfs|btrfs|ufs|tar|cpio|directory)")
_MAGICS = re.compile(rb"\x27\x05\x19\x56|\x1f\x8b\x08|\xfd7zXZ\x00|\x5d\x00\x00[\x00-\x80]|BZh[1-9]1AY&SY|"
                     rb"\x28\xb5\x2f\xfd|\x02\x21\x4c\x18")
_LINUX = re.compile(rb"Linux version (\d+\.\d+(?:\.\d+)?)[^\s\x00]* \([^\x00\n]{1,400}")
_UBOOT = re.compile(rb"U-Boot (?:SPL |TPL )?(\d{4}\.\d{2}(?:\.\d+)?|1\.[0-3]\.\d+(?:\.\d+)?)(?:[-+][^\s\x00]*)? "
                    rb"\([^\x00\n)]{1,80}\)[^\x00\n]{0,80}")
_KERNEL_FILES = re.compile(r"^/boot/.*(vmlinu[xz]|[zb]?Image|uImage|kernel|fitImage|\.itb)[^/]*$")
_CONFIG_FILES = re.compile(r"^/boot/config-[^/]+$|^/lib/modules/[^/]+/(build/)?\.?config$|/config\.gz$")
_MODULE = re.compile(r"^/lib/modules/[^/]+/.+\.ko(\.[gx]z|\.zst)?$")


@dataclass(frozen=True)
class Banner:
    component: str  # "linux" | "u-boot"
    version: str  # "4.14.221", "2018.03"
    where: str  # "kernel@0x40 (uImage lzma)", "lzma@0x20400", "image@0x3480", "/boot/vmlinuz-4.14 > gzip@0x4000"
    text: str  # the banner as found (up to its line's end)


@dataclass(frozen=True)
class KernelFacts:
    config: KernelConfig | None = None
    banners: tuple[Banner, ...] = ()
    notes: tuple[str, ...] = ()
    environments: tuple[UBootEnv, ...] = ()
    modules: tuple[str, ...] = ()  # kernel modules in the root file system (weak evidence of =m options)


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
            out = decompress(payload, method, min(MAX_STREAM_OUT, self.budget)) if method in DECODERS else None
            if out is None:
                self.notes.append(f"{label}: {name!r}: the payload could not be decompressed")
                return 64 + len(payload)
            self.budget -= len(out[0])
            self.blob(out[0], label, depth + 1)
            return 64 + len(payload)
        codec = stream_method(data, offset)
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
        if ENV_KEYS.search(data):
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


def collect_kernel(image: Path | bytes | None, extraction: Extraction,
                   in_root: KernelFacts | None = None) -> KernelFacts:
    """The kernel facts of an image: its bytes outside the file systems extraction unpacked (``image`` is the
    file, or its first bytes as read by ``identify.read_head``; None or a directory: none), merged with what the
    content pass found in the root file system."""
    found = _Search()
    notes: list[str] = []
    data = image[:MAX_IMAGE_BYTES] if isinstance(image, bytes) else read_head(image, MAX_IMAGE_BYTES)
    if data is not None:
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
