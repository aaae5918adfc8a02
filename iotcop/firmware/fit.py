"""Boot-image facts for secure-boot hints: flattened device trees (FIT images and U-Boot's control DTB),
legacy uImage headers and U-Boot binaries, read from bytes without running anything.

A FIT image is a device tree whose ``/images`` hold the kernel, DTB and ramdisk and whose
``/configurations`` say what boots together. ``mkimage -f its -k keydir`` signs it: a ``signature*`` node
with ``algo`` ('sha256,rsa2048') and a ``value`` under a configuration or an image. U-Boot enforces the
signature only when its own control DTB carries the public key under ``/signature/key-*`` with
``required`` ('conf' or 'image'); otherwise an unsigned image boots too. A legacy uImage carries CRC32s
only. Parsing is bounded (nodes, depth, properties, hits) and never raises on malformed bytes.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

FDT_MAGIC = b"\xd0\x0d\xfe\xed"
UIMAGE_MAGIC = b"\x27\x05\x19\x56"
MAX_NODES = 4096
MAX_DEPTH = 32
MAX_HITS = 64  # device trees or uImage headers looked at in one blob
MAX_ITEMS = 200
UBOOT_SPAN = 1024 * 1024  # a U-Boot binary is smaller: strings farther from its banner are not its own
_UBOOT_BANNER = re.compile(rb"U-Boot (?:SPL )?20\d\d\.\d\d[-\w.+]*")
# strings U-Boot carries when built with FIT signature verification (CONFIG_FIT_SIGNATURE)
_FIT_SIG_STRINGS = (b"CONFIG_FIT_SIGNATURE=y", b"Failed to verify required signature", b"Verifying Hash Integrity")
_SIG_ALGOS = re.compile(rb"\b(?:sha(?:1|256|384|512),)?(?:rsa(?:2048|3072|4096)|ecdsa(?:256|384))\b")
_VERIFY_OFF = re.compile(rb"(?:^|[\0\n])verify=(n|no|0|off)(?:[\0\n\r]|$)")


@dataclass
class Node:
    name: str
    props: dict[str, bytes] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)

    def child(self, name: str) -> Node | None:
        return next((c for c in self.children if c.name == name), None)

    def text(self, prop: str) -> str:
        return self.props.get(prop, b"").split(b"\0", 1)[0].decode("latin-1")


def parse_fdt(data: bytes, offset: int = 0) -> tuple[Node, int] | None:
    """The root node of the device tree at ``offset`` and its total size, or None if it is not one."""
    if data[offset:offset + 4] != FDT_MAGIC or len(data) < offset + 40:
        return None
    total, off_struct, off_strings, _, version, _, _, size_strings, size_struct = \
        struct.unpack_from(">9I", data, offset + 4)
    if version < 16 or total > len(data) - offset or off_struct >= total or off_strings > total:
        return None
    blob = data[offset:offset + total]
    strings = blob[off_strings:off_strings + size_strings] if version >= 17 else blob[off_strings:]
    end = off_struct + size_struct if version >= 17 else total
    try:
        root = _walk(blob, off_struct, min(end, total), strings)
    except (struct.error, ValueError, IndexError):
        return None
    return (root, total) if root is not None else None


def _walk(blob: bytes, pos: int, end: int, strings: bytes) -> Node | None:
    stack: list[Node] = []
    root: Node | None = None
    nodes = 0
    while pos + 4 <= end:
        (token,) = struct.unpack_from(">I", blob, pos)
        pos += 4
        if token == 1:  # FDT_BEGIN_NODE
            nul = blob.index(b"\0", pos, end)
            node = Node(blob[pos:nul].decode("latin-1"))
            pos = (nul + 4) & ~3
            nodes += 1
            if nodes > MAX_NODES or len(stack) >= MAX_DEPTH:
                return None
            if stack:
                stack[-1].children.append(node)
            elif root is None:
                root = node
            else:
                return None
            stack.append(node)
        elif token == 2:  # FDT_END_NODE
            if not stack:
                return None
            stack.pop()
        elif token == 3:  # FDT_PROP
            size, name_off = struct.unpack_from(">II", blob, pos)
            pos += 8
            if not stack or pos + size > end:
                return None
            nul = strings.find(b"\0", name_off)
            name = strings[name_off:nul if nul >= 0 else len(strings)].decode("latin-1")
            stack[-1].props[name] = blob[pos:pos + size]
            pos = (pos + size + 3) & ~3
        elif token == 4:  # FDT_NOP
            continue
        elif token == 9:  # FDT_END
            break
        else:
            return None
    return root if root is not None and not stack else None


@dataclass(frozen=True)
class FitImage:
    """A FIT image: which of its nodes are signed (``configurations/conf-1/signature-1``) and with what."""

    source: str
    offset: int
    images: tuple[str, ...]
    signatures: tuple[tuple[str, str, str], ...]  # (node path, algo, key-name-hint) of signed nodes
    unsigned_signatures: tuple[str, ...]  # signature nodes without a value: declared in the .its, never signed
    hashes: tuple[str, ...]  # hash algorithms of the images (integrity only)

    @property
    def signed(self) -> bool:
        return bool(self.signatures)


@dataclass(frozen=True)
class RequiredKey:
    """A public key in a U-Boot control DTB (``/signature/key-NAME``); ``required`` is '' when not enforced."""

    source: str
    offset: int
    name: str
    algo: str
    required: str
    bits: int | None


@dataclass(frozen=True)
class BootHint:
    """A secure-boot fact seen in a U-Boot binary, environment or legacy image header."""

    source: str
    offset: int
    kind: str  # uboot, fit-signature-support, verify-off, legacy-uimage
    detail: str


@dataclass(frozen=True)
class BootImages:
    fits: tuple[FitImage, ...] = ()
    keys: tuple[RequiredKey, ...] = ()
    hints: tuple[BootHint, ...] = ()
    sources: tuple[str, ...] = ()  # what was searched (image, files)


def _fit_of(root: Node, source: str, offset: int) -> FitImage | None:
    images, configs = root.child("images"), root.child("configurations")
    if images is None or configs is None:
        return None
    signed: list[tuple[str, str, str]] = []
    declared: list[str] = []
    hashes: list[str] = []
    for group, parent in (("configurations", configs), ("images", images)):
        for node in parent.children[:MAX_ITEMS]:
            for sub in node.children[:MAX_ITEMS]:
                path = f"/{group}/{node.name}/{sub.name}"
                if sub.name.startswith("signature"):
                    if sub.props.get("value"):
                        signed.append((path, sub.text("algo"), sub.text("key-name-hint")))
                    else:
                        declared.append(path)
                elif sub.name.startswith("hash"):
                    hashes.append(sub.text("algo"))
    return FitImage(source, offset, tuple(n.name for n in images.children[:MAX_ITEMS]), tuple(signed),
                    tuple(declared), tuple(sorted(set(hashes))))


def _keys_of(root: Node, source: str, offset: int) -> list[RequiredKey]:
    sig = root.child("signature")
    if sig is None:
        return []
    out = []
    for key in sig.children[:MAX_ITEMS]:
        raw_bits = key.props.get("rsa,num-bits", b"")
        bits = int.from_bytes(raw_bits, "big") if len(raw_bits) == 4 else None
        out.append(RequiredKey(source, offset, key.text("key-name-hint") or key.name, key.text("algo"),
                               key.text("required"), bits))
    return out


def boot_images(data: bytes, source: str) -> BootImages:
    """Every FIT image, U-Boot key and secure-boot hint in ``data`` (an image, a file, a carved layer)."""
    fits: list[FitImage] = []
    keys: list[RequiredKey] = []
    hints: list[BootHint] = []
    trees: list[tuple[int, int]] = []
    pos, hits = 0, 0
    while (at := data.find(FDT_MAGIC, pos)) != -1 and hits < MAX_HITS:
        hits += 1
        parsed = parse_fdt(data, at)
        if parsed is None:
            pos = at + 4
            continue
        root, size = parsed
        trees.append((at, size))
        if (fit := _fit_of(root, source, at)) is not None:
            fits.append(fit)
        keys.extend(_keys_of(root, source, at))
        pos = at + max(size, 4)  # the DTBs inside a FIT are part of it
    hints.extend(_uimages(data, source))
    hints.extend(_uboot(data, source, trees))
    return BootImages(tuple(fits), tuple(keys), tuple(hints[:MAX_ITEMS]), (source,))


def _uimages(data: bytes, source: str) -> list[BootHint]:
    out: list[BootHint] = []
    pos = 0
    while (at := data.find(UIMAGE_MAGIC, pos)) != -1 and len(out) < MAX_HITS:
        pos = at + 4
        if at + 64 > len(data):
            break
        size = struct.unpack_from(">I", data, at + 12)[0]
        name = data[at + 32:at + 64].split(b"\0", 1)[0]
        if 0 < size <= len(data) - at - 64 and name.isascii() and all(32 <= c < 127 for c in name):
            out.append(BootHint(source, at, "legacy-uimage",
                                f"legacy uImage {name.decode()!r} ({size} bytes): protected by CRC32 only"))
    return out


def _uboot(data: bytes, source: str, trees: list[tuple[int, int]]) -> list[BootHint]:
    banner = _UBOOT_BANNER.search(data)
    out = []
    if banner is not None:
        out.append(BootHint(source, banner.start(), "uboot", banner.group(0).decode("latin-1")))
        start = max(banner.start() - UBOOT_SPAN, 0)
        near = bytearray(data[start:banner.start() + UBOOT_SPAN])  # U-Boot's own bytes, not a FIT's beside it
        for at, size in trees:
            if at + size > start and at < start + len(near):
                lo = max(at - start, 0)
                near[lo:at - start + size] = bytes(len(near[lo:at - start + size]))
        algos = sorted({m.group(0).decode() for m in _SIG_ALGOS.finditer(near)})[:8]
        support = [s.decode() for s in _FIT_SIG_STRINGS if s in near]
        if support or algos:
            where = data.find(support[0].encode(), start) if support else banner.start()
            out.append(BootHint(source, max(where, 0), "fit-signature-support",
                                "; ".join(support + [f"signature algorithms named: {', '.join(algos)}"] * bool(algos))))
    if (off := _VERIFY_OFF.search(data)) is not None:
        out.append(BootHint(source, off.start(), "verify-off",
                            f"U-Boot environment sets verify={off.group(1).decode()}: bootm skips image checks"))
    return out


def merge_boot(*parts: BootImages) -> BootImages:
    return BootImages(tuple(f for p in parts for f in p.fits), tuple(k for p in parts for k in p.keys),
                      tuple(h for p in parts for h in p.hints), tuple(s for p in parts for s in p.sources))


MAX_IMAGE = 64 * 1024 * 1024  # of the image file searched for boot images (boot loaders and kernels lie early)


def boot_of_image(image: Path) -> BootImages:
    """The boot images in the first ``MAX_IMAGE`` bytes of a firmware file (a directory has none)."""
    if not image.is_file():
        return BootImages()
    try:
        with open(image, "rb") as fh:
            data = fh.read(MAX_IMAGE)
    except OSError:
        return BootImages()
    return boot_images(data, f"image:{image.name}")
