"""Every format iotcop must unpack, built with the real tools from one root file system
(tests/fixtures/build_formats.py): the root is found, its bytes are the source's, and the extraction log
names every layer, nested ones in depth order.

Each image is extracted once per module (the extraction is kept open for all tests of that format) and
built once per session.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from build_formats import FORMATS, SQUASHFS_COMPRESSORS, Format, FormatImages

from iotcop.firmware.extract import Extraction, extract
from iotcop.model import ExtractionStep

# how a layer may be spelt in a step's format ('squashfs-v4 (xz)', 'squashfs_v4_le', 'tar.gz', 'ext4', ...)
LAYER_SPELLINGS = {
    "squashfs": r"squashfs", "jffs2": r"jffs2", "ubi": r"ubi", "ubifs": r"ubifs", "ext": r"ext[234]?|extfs",
    "cramfs": r"cramfs", "cpio": r"cpio|newc|initramfs", "tar": r"tar|ustar", "zip": r"zip",
    "gzip": r"gzip|gz", "xz": r"xz", "bzip2": r"bzip2|bz2", "zstd": r"zstd|zst", "lzma": r"lzma", "lzo": r"lzop?",
    "lz4": r"lz4", "uimage": r"uimage|u-?boot", "fit": r"fit|fdt|dtb", "trx": r"trx",
}


def names(step: ExtractionStep, layer: str) -> bool:
    """Whether ``step.format`` names ``layer`` as a word ('ubi' is not named by 'ubifs')."""
    return re.search(rf"(?<![a-z])(?:{LAYER_SPELLINGS[layer]})(?![a-z])", step.format.lower()) is not None


def extracted_steps(ex: Extraction, layer: str) -> list[ExtractionStep]:
    return [s for s in ex.steps if s.outcome == "extracted" and names(s, layer)]


def log(ex: Extraction) -> str:
    return "\n".join(f"  depth {getattr(s, 'depth', '?')} {s.format} @0x{s.offset:x} +{s.size} {s.tool}: "
                     f"{s.outcome} {s.message[:120]}" for s in ex.steps) + "".join(f"\n  note: {n}" for n in ex.notes)


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> FormatImages:
    return FormatImages(tmp_path_factory.getbasetemp() / "fw-formats")


@pytest.fixture(scope="module", params=sorted(FORMATS))
def unpacked(request: pytest.FixtureRequest, images: FormatImages) -> Iterator[tuple[Format, Extraction]]:
    fmt = FORMATS[request.param]
    ex = extract(images.path(fmt.name))
    workdir = ex.workdir
    try:
        yield fmt, ex
    finally:
        ex.close()
    assert workdir is None or not workdir.exists(), f"{fmt.name}: the work dir outlived close()"


def test_the_root_file_system_is_found_with_the_source_bytes(unpacked: tuple[Format, Extraction],
                                                            images: FormatImages) -> None:
    fmt, ex = unpacked
    root = ex.root
    assert root is not None, f"{fmt.name}: no root file system; log:\n{log(ex)}"
    assert root.read_bytes("/etc/shadow") == images.shadow
    busybox = root.read_bytes("/bin/busybox")
    assert busybox is not None and busybox[:4] == b"\x7fELF"
    assert busybox == (images.rootfs / "bin" / "busybox").read_bytes()
    rcs = root.read_text("/etc/init.d/rcS")
    assert rcs is not None and "telnetd" in rcs


def test_links_of_the_root_resolve_inside_it(unpacked: tuple[Format, Extraction]) -> None:
    fmt, ex = unpacked
    if ex.root is None:
        pytest.fail(f"{fmt.name}: no root file system; log:\n{log(ex)}")
    for link in ("/bin/sh", "/sbin/init", "/usr/sbin/telnetd"):  # relative, relative up, absolute
        entry = ex.root.lstat(link)
        assert entry is not None and entry.is_symlink, link
        target = ex.root.resolve(link)
        assert target is not None and target.path == "/bin/busybox", link


def test_the_log_names_every_layer(unpacked: tuple[Format, Extraction]) -> None:
    fmt, ex = unpacked
    missing = [layer for layer in fmt.layers if not extracted_steps(ex, layer)]
    assert missing == [], f"{fmt.name}: no extracted step names {missing}; log:\n{log(ex)}"


def test_a_valid_image_logs_no_failure_and_no_limit(unpacked: tuple[Format, Extraction]) -> None:
    fmt, ex = unpacked
    bad = [s for s in ex.steps if s.outcome in ("failed", "limit")]
    assert bad == [], f"{fmt.name}: log:\n{log(ex)}"
    for step in ex.steps:
        assert step.tool and step.offset >= 0 and step.size >= 0 and step.depth >= 0, step


def test_nested_layers_are_logged_outermost_first(unpacked: tuple[Format, Extraction]) -> None:
    fmt, ex = unpacked
    if len(fmt.layers) < 2:
        pytest.skip("one layer")
    if fmt.name in ("flash-dump", "uimage-squashfs"):  # side by side, not nested: both at depth 0
        pytest.skip("partitions of one flash are siblings")
    found = {layer: min((s.depth for s in extracted_steps(ex, layer)), default=None) for layer in fmt.layers}
    depths = [d for d in found.values() if d is not None]
    assert len(depths) == len(found), f"{fmt.name}: {found}; log:\n{log(ex)}"
    assert depths == sorted(depths) and depths[0] < depths[-1], f"{fmt.name}: depths {found}; log:\n{log(ex)}"
    assert depths[0] == min(s.depth for s in ex.steps)


@pytest.mark.parametrize("unpacked", [f"squashfs-{c}" for c in SQUASHFS_COMPRESSORS], indirect=True)
def test_the_squashfs_step_names_its_compressor(unpacked: tuple[Format, Extraction]) -> None:
    fmt, ex = unpacked
    compressor = fmt.name.removeprefix("squashfs-")
    steps = extracted_steps(ex, "squashfs")
    assert steps and all(compressor in f"{s.format} {s.message}".lower() for s in steps), log(ex)


@pytest.mark.parametrize("unpacked", [f.name for f in FORMATS.values() if f.offsets], indirect=True)
def test_a_file_system_at_an_offset_is_logged_there(unpacked: tuple[Format, Extraction]) -> None:
    fmt, ex = unpacked
    for layer, offset in fmt.offsets:
        assert offset in [s.offset for s in extracted_steps(ex, layer) if s.depth == 0], log(ex)


@pytest.mark.parametrize("unpacked", ["flash-dump"], indirect=True)
def test_a_flash_dump_gives_the_root_and_the_config_partition(unpacked: tuple[Format, Extraction],
                                                               images: FormatImages) -> None:
    _, ex = unpacked
    assert ex.root is not None and ex.root.read_bytes("/etc/shadow") == images.shadow, log(ex)
    configs = [fs for fs in ex.filesystems if fs.read_text("/etc/config/network") is not None]
    assert len(configs) == 1 and configs[0] is not ex.root, log(ex)
    assert not configs[0].looks_like_root()
    assert "option hostname 'iotcop'" in (configs[0].read_text("/etc/config/system") or "")


def test_the_workdir_is_removed_on_close(images: FormatImages) -> None:
    ex = extract(images.path("tar.gzip"))
    workdir = ex.workdir
    assert workdir is not None and workdir.is_dir()
    ex.close()
    assert not workdir.exists()
    ex.close()  # idempotent


def test_the_source_tree_is_untouched(images: FormatImages) -> None:
    """Sanity of the fixture itself: what the tests compare against is what write_rootfs wrote."""
    assert images.shadow.startswith(b"root:$1$iotcopfx$")
    assert (images.rootfs / "bin" / "sh").readlink() == Path("busybox")
