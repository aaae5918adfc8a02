"""unblob handlers for two U-Boot formats that unblob does not name: legacy uImage and FIT.

Loaded by ``_unblob_worker`` only. The uImage header is 64 bytes, big-endian, magic 0x27051956, with its
own CRC-32 (U-Boot ``include/image.h``); the payload follows it. A FIT image is a flattened device tree
(magic 0xd00dfeed, Devicetree Specification ch. 5) whose ``/images/<name>`` nodes carry each image in a
``data`` property (or ``data-offset``/``data-size`` after the tree, for ``mkimage -E``). Both extractors
write the payloads as files; unblob then unpacks them as further layers.
"""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

from unblob.file_utils import File, InvalidInputFormat
from unblob.models import Extractor, HandlerDoc, HandlerType, HexString, StructHandler, ValidChunk

UIMAGE_HEADER = 64
UIMAGE_COMPRESSION = {0: "none", 1: "gzip", 2: "bzip2", 3: "lzma", 4: "lzo", 5: "lz4", 6: "zstd"}
FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_NOP, FDT_END = 1, 2, 3, 4, 9
MAX_FIT_BYTES = 512 * 1024 * 1024


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:64] or "image"


class UImageExtractor(Extractor):
    def extract(self, inpath: Path, outdir: Path) -> None:
        data = inpath.read_bytes()
        (size,) = struct.unpack_from(">I", data, 12)
        comp = UIMAGE_COMPRESSION.get(data[31], "unknown")
        name = _safe(data[32:64].split(b"\0", 1)[0].decode("ascii", "replace"))
        outdir.mkdir(parents=True, exist_ok=True)
        (outdir / f"{name}.{comp}").write_bytes(data[UIMAGE_HEADER:UIMAGE_HEADER + size])


class UImageHandler(StructHandler):
    NAME = "uimage"
    PATTERNS = [HexString("27 05 19 56")]  # noqa: RUF012 - unblob's declared class interface
    C_DEFINITIONS = r"""
        typedef struct uimage_header {
            uint32 magic; uint32 hcrc; uint32 time; uint32 size; uint32 load; uint32 ep; uint32 dcrc;
            uint8 os; uint8 arch; uint8 type; uint8 comp; char name[32];
        } uimage_header_t;
    """
    HEADER_STRUCT = "uimage_header_t"
    EXTRACTOR = UImageExtractor()
    DOC = HandlerDoc(name="U-Boot legacy uImage", description="64-byte header, CRC-checked, then the payload",
                     vendor=None, references=[], limitations=[], handler_type=HandlerType.ARCHIVE)

    def calculate_chunk(self, file: File, start_offset: int) -> ValidChunk | None:
        file.seek(start_offset)
        header = bytearray(file.read(UIMAGE_HEADER))
        if len(header) < UIMAGE_HEADER:
            raise InvalidInputFormat("short uImage header")
        (hcrc,) = struct.unpack_from(">I", header, 4)
        (size,) = struct.unpack_from(">I", header, 12)
        header[4:8] = b"\0\0\0\0"
        if zlib.crc32(header) != hcrc:
            raise InvalidInputFormat("uImage header CRC mismatch")
        return ValidChunk(start_offset=start_offset, end_offset=start_offset + UIMAGE_HEADER + size)


def fit_images(data: bytes) -> dict[str, bytes]:
    """name → data of each node under /images of a FIT (flattened device tree) blob."""
    magic, total, off_struct, off_strings, _, version = struct.unpack_from(">IIIIII", data, 0)
    if magic != 0xD00DFEED or total > len(data) or version < 16:
        raise ValueError("not a flattened device tree")
    strings = data[off_strings:total]
    pos, path = off_struct, []
    props: list[dict[str, bytes]] = []  # one dict per open node: a node's own properties
    images: dict[str, bytes] = {}
    while pos + 4 <= total:
        (token,) = struct.unpack_from(">I", data, pos)
        pos += 4
        if token == FDT_BEGIN_NODE:
            end = data.index(b"\0", pos)
            path.append(data[pos:end].decode("ascii", "replace"))
            props.append({})
            pos = (end + 4) & ~3
        elif token == FDT_END_NODE:
            if not path:
                raise ValueError("unbalanced nodes")
            current = props.pop()
            if len(path) == 3 and path[1] == "images":
                blob = current.get("data")
                if blob is None and "data-size" in current:
                    start = ((total + 3) & ~3) + int.from_bytes(current.get("data-offset", b"\0" * 4), "big")
                    blob = data[start:start + int.from_bytes(current["data-size"], "big")]
                if blob:
                    images[path[2]] = blob
            path.pop()
        elif token == FDT_PROP:
            if not props:
                raise ValueError("a property outside any node")
            length, name_off = struct.unpack_from(">II", data, pos)
            pos += 8
            name = strings[name_off:strings.index(b"\0", name_off)].decode("ascii", "replace")
            props[-1][name] = data[pos:pos + length]
            pos = (pos + length + 3) & ~3
        elif token == FDT_NOP:
            continue
        elif token == FDT_END:
            break
        else:
            raise ValueError(f"unknown token {token}")
    return images


class FitExtractor(Extractor):
    def extract(self, inpath: Path, outdir: Path) -> None:
        outdir.mkdir(parents=True, exist_ok=True)
        for name, blob in fit_images(inpath.read_bytes()).items():
            (outdir / _safe(name)).write_bytes(blob)


class FitHandler(StructHandler):
    NAME = "fit"
    PATTERNS = [HexString("d0 0d fe ed")]  # noqa: RUF012 - unblob's declared class interface
    C_DEFINITIONS = r"""
        typedef struct fdt_header {
            uint32 magic; uint32 totalsize; uint32 off_dt_struct; uint32 off_dt_strings; uint32 off_mem_rsvmap;
            uint32 version; uint32 last_comp_version; uint32 boot_cpuid_phys; uint32 size_dt_strings;
            uint32 size_dt_struct;
        } fdt_header_t;
    """
    HEADER_STRUCT = "fdt_header_t"
    EXTRACTOR = FitExtractor()
    DOC = HandlerDoc(name="U-Boot FIT image", description="a flattened device tree with /images nodes",
                     vendor=None, references=[], limitations=[], handler_type=HandlerType.ARCHIVE)

    def calculate_chunk(self, file: File, start_offset: int) -> ValidChunk | None:
        file.seek(start_offset)
        head = file.read(40)
        if len(head) < 40:
            raise InvalidInputFormat("short FDT header")
        total = struct.unpack_from(">I", head, 4)[0]
        if not 40 <= total <= MAX_FIT_BYTES:
            raise InvalidInputFormat("implausible FDT size")
        file.seek(start_offset)
        blob = file.read(total)
        try:
            images = fit_images(blob + file.read(MAX_FIT_BYTES) if b"data-size" in blob else blob)
        except (ValueError, struct.error, IndexError) as exc:
            raise InvalidInputFormat(f"not a FIT image: {exc}") from None
        if not images:  # a plain device tree (no /images): nothing to unpack
            raise InvalidInputFormat("a device tree without images")
        end = start_offset + total
        return ValidChunk(start_offset=start_offset, end_offset=end)
