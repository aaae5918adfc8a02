"""Kernel and boot-loader facts: banners, the kernel configuration and U-Boot environments, from the image's
bytes outside its file systems and from the root file system's /boot.

Artefacts (tests/fixtures/kernelimages.py): a kernel Image linked by the cross compilers with the real
banner layout and an IKCFG blob as kernel/configs.c embeds it; uImages made by mkimage with every
compression the kernel's build uses; environments made by mkenvimage; Debian's real U-Boot for QEMU Malta;
a flash image concatenating them with a SquashFS made by mksquashfs; and the real TP-Link TL-WR841N image
(shared/fixtures/real). Look-alikes: format strings and requirements that look like banners, a banner in a
file of the root file system, a uImage whose header CRC is wrong, an IKCFG marker with no gzip after it,
damaged environment blocks, a single ``bootcmd=`` line."""

from __future__ import annotations

import gzip
import os
import subprocess
import zlib
from pathlib import Path

import pytest
from fwimages import TPLINK_WR841N, write_tree
from golden import DEBS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kernelimages import (
    CONFIG,
    DECOY_BANNER,
    ENV,
    RELEASE,
    banner,
    compress,
    debian_uboot,
    flash_image,
    kernel_image,
    uboot_env,
    uimage,
)

from iotcop.firmware.components import Components
from iotcop.firmware.content import scan_content
from iotcop.firmware.extract import Extraction
from iotcop.firmware.facts import collect_firmware
from iotcop.firmware.filesystem import FileSystem
from iotcop.firmware.kernel import (
    KernelFacts,
    KernelScanner,
    collect_kernel,
    decompress,
    kernel_components,
    module_names,
    parse_config,
    parse_uimage,
    search_blob,
    uboot_envs,
    with_kernel,
)
from iotcop.model import Component

OPTIONS = {"CONFIG_MIPS": "y", "CONFIG_IKCONFIG": "y", "CONFIG_IKCONFIG_PROC": "y", "CONFIG_MODULES": "y",
           "CONFIG_DEVMEM": "y", "CONFIG_CMDLINE": "console=ttyS0,115200 rootfstype=squashfs",
           "CONFIG_LOG_BUF_SHIFT": "14", "CONFIG_NF_CONNTRACK": "m"}


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kernel")


@pytest.fixture(scope="module")
def image_bytes(work: Path) -> bytes:
    return kernel_image(work / "mipsel")


def found(facts: KernelFacts) -> list[tuple[str, str, str]]:
    return [(b.component, b.version, b.where) for b in facts.banners]


# ---------------------------------------------------------------- kernels in uImages and raw streams


@pytest.mark.parametrize("method", ["none", "gzip", "lzma", "bzip2", "zstd", "lz4"])
def test_uimage_kernel_banner_and_ikconfig(work: Path, image_bytes: bytes, method: str) -> None:
    facts = search_blob(uimage(work, image_bytes, method))
    assert found(facts) == [("linux", RELEASE, f"kernel@0x0 (uImage {method})")]
    assert facts.banners[0].text == banner(RELEASE).strip()
    assert facts.config is not None
    assert facts.config.source == f"IKCFG in kernel@0x0 (uImage {method})"
    assert dict(facts.config.options) == OPTIONS  # "is not set" options are no keys
    assert facts.notes == ()


@pytest.mark.parametrize("method", ["xz", "gzip", "lzma", "zstd"])
def test_raw_stream_after_a_vendor_header(work: Path, method: str) -> None:
    """An ARM kernel compressed as a zImage's payload, behind a 512-byte vendor header (as TP-Link does)."""
    image = kernel_image(work / "armel", release="5.10.176", config=None, arch="armel")
    header = b"TP-LINK Technologies\0" + b"\0" * (512 - 21)
    facts = search_blob(header + compress(work, image, method) + b"\xff" * 1024)
    assert found(facts) == [("linux", "5.10.176", f"{method}@0x200")]
    assert facts.config is None


def test_uimage_with_a_wrong_header_crc_is_no_uimage(work: Path, image_bytes: bytes) -> None:
    broken = bytearray(uimage(work, image_bytes, "lzma"))
    broken[40] ^= 0xFF  # a byte of the name: the header CRC no longer holds
    assert parse_uimage(bytes(broken)) is None
    facts = search_blob(bytes(broken))
    assert found(facts) == [("linux", RELEASE, "lzma@0x40")]  # the stream is still a kernel: found as one


def test_parse_uimage_reads_the_header(work: Path, image_bytes: bytes) -> None:
    parsed = parse_uimage(uimage(work, image_bytes, "gzip", name="Linux-4.14 test"))
    assert parsed is not None
    kind, method, name, payload = parsed
    assert (kind, method, name) == ("kernel", "gzip", "Linux-4.14 test")
    assert gzip.decompress(bytes(payload)) == image_bytes


def test_lookalike_banners_and_markers() -> None:
    blob = (b"\0Linux version %s (%s)\0Linux version 2.6 or later is required\0"
            b"U-Boot 2014.01 or newer is needed\0U-Boot %s (%s)\0IKCFG_ST not a gzip stream IKCFG_ED\0"
            b"#!/bin/sh\nfw_setenv bootcmd=run boot_flash\n\0")
    facts = search_blob(blob)
    assert facts == KernelFacts()


def test_damaged_ikconfig_is_noted(work: Path) -> None:
    stream = gzip.compress(CONFIG.encode(), mtime=0)
    blob = b"\0" * 16 + b"IKCFG_ST" + stream[: len(stream) // 2] + b"\xaa" * 40 + b"IKCFG_ED"
    facts = search_blob(blob)
    assert facts.config is None
    assert facts.notes == ("IKCFG in image@0x10: the configuration's gzip stream is damaged",)


def test_parse_config() -> None:
    text = ('CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=m\nCONFIG_S="a \\"quoted\\" \\\\ value"\n'
            "CONFIG_HEX=0x10\n  CONFIG_SPACED=y  \nNOT_CONFIG=y\n# CONFIG_D=y\nCONFIG_E\n")
    assert dict(parse_config(text, "/boot/config").options) == {
        "CONFIG_A": "y", "CONFIG_C": "m", "CONFIG_S": 'a "quoted" \\ value', "CONFIG_HEX": "0x10",
        "CONFIG_SPACED": "y"}


# ---------------------------------------------------------------- U-Boot


def test_debian_uboot_banner_and_default_environment(work: Path) -> None:
    """Debian's real U-Boot 2023.01 for QEMU Malta: its version string and compiled-in default env."""
    data = debian_uboot(work)  # skips when the package is not there
    version = subprocess.run(["dpkg-deb", "-f", str(sorted(DEBS.glob("u-boot-qemu_*_all.deb"))[-1]), "Version"],
                             check=True, capture_output=True, text=True).stdout.strip()
    facts = search_blob(data)
    assert [(b.component, b.version) for b in facts.banners] == [("u-boot", version.split("+")[0])]
    assert facts.banners[0].text.startswith(f"U-Boot {version} (")
    assert [(dict(e.variables), e.checksum) for e in facts.environments] == [
        ({"baudrate": "115200", "loadaddr": "0x81000000"}, False)]
    assert [c.cpe for c in kernel_components(facts)] == [f"cpe:2.3:a:denx:u-boot:{version.split('+')[0]}:*:*:*:*:*:*:*"]


@pytest.mark.parametrize("redundant", [False, True])
def test_environment_block_made_by_mkenvimage(work: Path, redundant: bool) -> None:
    block = uboot_env(work, ENV, size=0x4000, redundant=redundant)
    envs = uboot_envs(b"\xff" * 0x100 + block + b"\xff" * 0x100, "mtd3")
    assert [(offset, env.where, dict(env.variables), env.checksum) for offset, env in envs] == [
        (0x100, "mtd3 env@0x100 (16 KiB, CRC valid)", ENV, True)]


def test_damaged_environment_block_is_not_crc_valid(work: Path) -> None:
    block = bytearray(uboot_env(work, ENV, size=0x4000))
    block[0x2000] ^= 0x01  # a byte of the padding: the CRC no longer holds
    envs = uboot_envs(bytes(block))
    assert [env.checksum for _, env in envs] == [False]
    assert list(envs[0][1].variables.values()) == list(ENV.values())


# ---------------------------------------------------------------- the root file system


def test_root_filesystem_kernel_and_configs(work: Path, image_bytes: bytes, tmp_path: Path) -> None:
    """The IKCFG of the kernel in /boot outranks /boot/config-*, which differs (and is noted); modules are
    listed; a banner in a text file and a config in the documentation are not the kernel's."""
    root = write_tree(tmp_path / "root", files={
        f"/boot/vmlinuz-{RELEASE}": gzip.compress(image_bytes, mtime=0),
        f"/boot/config-{RELEASE}": CONFIG.replace("CONFIG_DEVMEM=y", "# CONFIG_DEVMEM is not set"),
        f"/lib/modules/{RELEASE}/kernel/net/netfilter/nf_conntrack.ko": b"\x7fELF\x01\x01\x01" + b"\0" * 64,
        f"/lib/modules/{RELEASE}/kernel/drivers/usb/usbcore.ko.xz": b"\xfd7zXZ\0" + b"\0" * 64,
        "/etc/banner": DECOY_BANNER,
        "/usr/share/doc/linux/config-3.2": "CONFIG_X=y\n"})
    scanner = KernelScanner()
    assert scan_content(FileSystem.scan(root), [scanner]).failed == {}
    facts = collect_kernel(None, Extraction(), scanner.result())
    assert found(facts) == [("linux", RELEASE, f"/boot/vmlinuz-{RELEASE} > gzip@0x0")]
    assert facts.config is not None and facts.config.source == f"IKCFG in /boot/vmlinuz-{RELEASE} > gzip@0x0"
    assert facts.notes == (f"kernel configuration /boot/config-{RELEASE} differs from "
                           f"IKCFG in /boot/vmlinuz-{RELEASE} > gzip@0x0, which was chosen",)
    assert facts.modules == (f"/lib/modules/{RELEASE}/kernel/drivers/usb/usbcore.ko.xz",
                             f"/lib/modules/{RELEASE}/kernel/net/netfilter/nf_conntrack.ko")
    assert module_names(facts) == ("nf_conntrack", "usbcore")


def test_proc_config_copy_outranks_boot_config(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "root", files={
        "/boot/config-5.4.0": "CONFIG_A=y\n", "/root/config.gz": gzip.compress(b"CONFIG_A=m\n", mtime=0)})
    scanner = KernelScanner()
    scan_content(FileSystem.scan(root), [scanner])
    config = scanner.result().config
    assert config is not None and (config.source, dict(config.options)) == ("/root/config.gz", {"CONFIG_A": "m"})


def test_damaged_config_gz_is_not_used(tmp_path: Path) -> None:
    """A configuration cut short would make every option after the cut look "not set": it is noted instead."""
    whole = gzip.compress(CONFIG.encode(), mtime=0)
    root = write_tree(tmp_path / "root", files={"/root/config.gz": whole[: len(whole) // 2]})
    scanner = KernelScanner()
    scan_content(FileSystem.scan(root), [scanner])
    facts = scanner.result()
    assert facts.config is None
    assert facts.notes == ("/root/config.gz: the kernel configuration is damaged or too large; not used",)


# ---------------------------------------------------------------- whole images


def test_flash_image_through_collect_firmware(work: Path) -> None:
    """U-Boot + env + uImage(lzma kernel) + SquashFS, extracted by collect_firmware (unblob carves it): the
    kernel, its configuration, the boot loader and both environments are found outside the root file
    system; the banner in the root file system's /etc/banner (uncompressed SquashFS) is not a kernel."""
    image, offsets = flash_image(work / "flash")
    facts = collect_firmware(image, use_cache=False)
    try:
        assert facts.root is not None
        scanner = KernelScanner()
        scan_content(facts.root, [scanner])
        kernel = collect_kernel(image, facts.extraction, scanner.result())
        components = with_kernel(facts.components, kernel)
    finally:
        facts.close()
    uboot = debian_uboot(work)
    at = uboot.find(b"U-Boot 2023")
    where = f"kernel@0x{offsets['kernel']:x} (uImage lzma)"
    assert found(kernel) == [("linux", RELEASE, where), ("u-boot", "2023.01", f"image@0x{at:x}")]
    assert kernel.config is not None and kernel.config.source == f"IKCFG in {where}"
    assert [(e.where, e.checksum) for e in kernel.environments] == [
        (f"default env@0x{uboot.find(b'baudrate=115200'):x}", False),
        (f"env@0x{offsets['env']:x} (64 KiB, CRC valid)", True)]
    assert kernel.notes == ()
    assert [(c.name, c.version, c.source, c.locations) for c in components.named("linux")] == [
        ("linux", RELEASE, "kernel banner", (where,))]
    assert components.named("u-boot")[0].cpe == "cpe:2.3:a:denx:u-boot:2023.01:*:*:*:*:*:*:*"


def test_with_kernel_adds_locations_to_a_known_version() -> None:
    known = Component(name="linux", version="2.6.31", confidence="high", source="version string in file",
                      locations=("/lib/modules/2.6.31/x.ko",))
    facts = search_blob(b"\0Linux version 2.6.31 (tomcat@buildserver) (gcc version 4.3.3 (GCC) ) #35\n\0")
    merged = with_kernel(Components((known,), ("a note",)), facts)
    assert [(c.name, c.version, c.source, c.locations) for c in merged.components] == [
        ("linux", "2.6.31", "version string in file", ("/lib/modules/2.6.31/x.ko", "image@0x1"))]
    assert merged.notes == ("a note",)


def test_real_vendor_image() -> None:
    """TP-Link TL-WR841N v10: U-Boot 1.1.4 (and its LZMA second stage in a uImage with the default env),
    an LZMA Linux 2.6.31 behind TP-Link's header; no kernel configuration is embedded."""
    if not TPLINK_WR841N.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"the real vendor image is not there: {TPLINK_WR841N}")
        pytest.skip(f"the real vendor image is not there: {TPLINK_WR841N}")
    facts = search_blob(TPLINK_WR841N.read_bytes())
    assert found(facts) == [("u-boot", "1.1.4", "firmware@0x39d0 (uImage lzma)"), ("linux", "2.6.31", "lzma@0x20400"),
                            ("u-boot", "1.1.4", "image@0x3480")]
    assert facts.config is None
    assert [(e.where, e.checksum, e.variables.get("bootcmd")) for e in facts.environments] == [
        ("firmware@0x39d0 (uImage lzma) default env@0x15d90", False, "bootm 0x9f020000")]


# ---------------------------------------------------------------- hostile input never raises


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_random_bytes_never_raise(data: bytes) -> None:
    search_blob(data)
    uboot_envs(data)
    parse_uimage(data)
    for method in ("none", "gzip", "xz", "lzma", "bzip2", "zstd", "lz4"):
        decompress(data, method, 1 << 16)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=0, max_size=200), st.integers(0, 0xFFFFFFFF), st.integers(0, 255), st.integers(0, 255))
def test_malformed_uimage_headers_never_raise(payload: bytes, size: int, kind: int, comp: int) -> None:
    header = bytearray(b"\x27\x05\x19\x56" + b"\0" * 60)
    header[12:16] = size.to_bytes(4, "big")
    header[30], header[31] = kind, comp
    header[4:8] = zlib.crc32(bytes(header)).to_bytes(4, "big")
    parsed = parse_uimage(bytes(header) + payload)
    assert parsed is not None and len(parsed[3]) <= len(payload)
    search_blob(b"\0" * 8 + bytes(header) + payload)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 400), st.binary(max_size=64))
def test_truncated_and_corrupted_streams_never_raise(cut: int, tail: bytes) -> None:
    text = CONFIG.encode() * 4
    for stream in (gzip.compress(text, mtime=0), zlib.compress(text)):
        search_blob(b"IKCFG_ST" + stream[:cut] + tail + b"IKCFG_ED")
        decompress(stream[:cut] + tail, "gzip")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text("abcdt_=", min_size=0, max_size=8), st.text(max_size=12)), max_size=8),
       st.binary(max_size=8))
def test_environment_like_bytes_never_raise(pairs: list[tuple[str, str]], prefix: bytes) -> None:
    body = b"".join(f"{k}={v}".encode("utf-8", "replace") + b"\0" for k, v in pairs)
    uboot_envs(prefix + b"bootcmd=x\0" + body + b"\0")
    parse_config("\n".join(f"CONFIG_{k}={v}" for k, v in pairs), "fuzz")
