"""What a file system or blob is (iotcop.firmware.identify): CPU architecture from real ELF binaries, the
OS flavour from the marker files build systems leave, RTOS blobs, and file types by libmagic.

The binaries are real: the host's /bin/true, busybox from the real TP-Link image, and Debian's
busybox-static for foreign architectures, downloaded to build/debs by scripts/fetch-foreign-binaries.sh
(part of `make test`; skipped, saying why, when the mirror could not deliver them). Marker files carry the
content the named build systems write.
"""

from __future__ import annotations

import os
import platform as host_platform
import random
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fwimages import TPLINK_WR841N, write_tree

from iotcop.api import assess_firmware
from iotcop.firmware.facts import collect_firmware
from iotcop.firmware.filesystem import FileSystem
from iotcop.firmware.identify import ElfIdent, elf_ident, file_type, os_flavour, platform, rtos_of
from iotcop.model import RunStatus

HOST_TRUE = Path("/bin/true")
HOST_ARCH = {"x86_64": ElfIdent("x86_64", 64, "little"), "aarch64": ElfIdent("aarch64", 64, "little")}
DEBS = Path(__file__).resolve().parents[2] / "build" / "debs"


def _no_debs(message: str) -> None:
    # make test fetches them from Debian's mirror; a mirror that fails must not fail unrelated work
    pytest.skip(message)


def host_true_ident() -> ElfIdent:
    expected = HOST_ARCH.get(host_platform.machine())
    if expected is None:
        pytest.skip(f"no expectation written for a {host_platform.machine()} host")
    return expected


# ---------------------------------------------------------------- ELF identification


def test_elf_ident_of_the_hosts_true() -> None:
    assert elf_ident(HOST_TRUE.read_bytes()[:20]) == host_true_ident()


@pytest.mark.parametrize("header", [
    b"#!/bin/sh\necho hello world\n",  # a script
    HOST_TRUE.read_bytes()[:19],  # too short to hold e_machine
    b"\x7fELF\x03" + HOST_TRUE.read_bytes()[5:20],  # an ELF class that does not exist
    b"\x7fELF\x02\x00" + HOST_TRUE.read_bytes()[6:20],  # no data encoding
    b"\x7fELG" + HOST_TRUE.read_bytes()[4:20],  # one bit off the magic
], ids=["script", "short", "bad-class", "bad-encoding", "bad-magic"])
def test_elf_ident_refuses_what_is_not_elf(header: bytes) -> None:
    assert elf_ident(header) is None


@pytest.fixture(scope="module")
def tplink_root() -> Iterator[FileSystem]:
    if not TPLINK_WR841N.is_file():
        message = f"the real vendor image is not there: {TPLINK_WR841N} (shared/ beside the checkout)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    facts = collect_firmware(TPLINK_WR841N)  # from the session's extraction cache after the first module
    try:
        assert facts.root is not None
        yield facts.root
    finally:
        facts.close()


def test_elf_ident_of_the_tplink_busybox(tplink_root: FileSystem) -> None:
    assert elf_ident(tplink_root.read_bytes("/bin/busybox", 20) or b"") == ElfIdent("mips", 32, "big")


def test_platform_of_the_tplink_root(tplink_root: FileSystem) -> None:
    p = platform(tplink_root)
    assert (p.arch, p.bits, p.endianness) == ("mips", 32, "big")
    assert p.elf_count >= 2  # busybox and the shared libraries agree
    assert (p.os_flavour, p.os_version) == ("Linux (unidentified)", None)  # TP-Link's own build: no marker


DEB_ARCHES = {
    "armhf": ElfIdent("arm", 32, "little"),
    "mipsel": ElfIdent("mips", 32, "little"),
    "arm64": ElfIdent("aarch64", 64, "little"),
}


@pytest.mark.parametrize("deb_arch", sorted(DEB_ARCHES))
def test_debian_busybox_static_of_foreign_architectures(deb_arch: str, tmp_path: Path) -> None:
    debs = sorted(DEBS.glob(f"busybox-static_*_{deb_arch}.deb"))
    if not debs or shutil.which("dpkg-deb") is None:
        _no_debs(f"no busybox-static package for {deb_arch} in {DEBS} (scripts/fetch-foreign-binaries.sh)")
    tree = tmp_path / "rootfs"
    subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(tree)], check=True, capture_output=True)
    fs = FileSystem.scan(tree)
    assert elf_ident(fs.read_bytes("/bin/busybox", 20) or b"") == DEB_ARCHES[deb_arch]
    p = platform(fs)
    assert (p.arch, p.bits, p.endianness, p.elf_count) == (*_fields(DEB_ARCHES[deb_arch]), 1)


def _fields(ident: ElfIdent) -> tuple[str, int, str]:
    return ident.arch, ident.bits, ident.endianness


def test_the_majority_of_binaries_decides_the_architecture(tmp_path: Path) -> None:
    """One stray foreign binary (a tool copied in for debugging) does not decide."""
    debs = sorted(DEBS.glob("busybox-static_*_armhf.deb"))
    if not debs or shutil.which("dpkg-deb") is None:
        _no_debs(f"no armhf busybox-static package in {DEBS}")
    subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(tmp_path / "deb")], check=True, capture_output=True)
    arm = (tmp_path / "deb" / "bin" / "busybox").read_bytes()
    host = HOST_TRUE.read_bytes()
    root = write_tree(tmp_path / "rootfs", skeleton=False,
                      files={"/bin/busybox": arm, "/sbin/ubusd": arm, "/usr/bin/strace": host})
    p = platform(FileSystem.scan(root))
    assert (p.arch, p.bits, p.endianness, p.elf_count) == ("arm", 32, "little", 3)


# ---------------------------------------------------------------- OS flavour from marker files

OPENWRT_RELEASE = """DISTRIB_ID='OpenWrt'
DISTRIB_RELEASE='23.05.2'
DISTRIB_REVISION='r23630-842932a63d'
DISTRIB_TARGET='ath79/generic'
DISTRIB_ARCH='mips_24kc'
DISTRIB_DESCRIPTION='OpenWrt 23.05.2 r23630-842932a63d'
DISTRIB_TAINTS=''
"""
OPENWRT_BANNER = r"""  _______                     ________        __
 |       |.-----.-----.-----.|  |  |  |.----.|  |_
 |   -   ||  _  |  -__|     ||  |  |  ||   _||   _|
 |_______||   __|_____|__|__||________||__|  |____|
          |__| W I R E L E S S   F R E E D O M
 -----------------------------------------------------
 OpenWrt 23.05.2, r23630-842932a63d
 -----------------------------------------------------
"""
BUILDROOT_OS_RELEASE = """NAME=Buildroot
VERSION=2023.02.9
ID=buildroot
VERSION_ID=2023.02.9
PRETTY_NAME="Buildroot 2023.02.9"
"""
POKY_OS_RELEASE = """ID=poky
NAME="Poky (Yocto Project Reference Distro)"
VERSION="4.0.15 (kirkstone)"
VERSION_ID=4.0.15
VERSION_CODENAME="kirkstone"
PRETTY_NAME="Poky (Yocto Project Reference Distro) 4.0.15 (kirkstone)"
CPE_NAME="cpe:/o:openembedded:poky:4.0.15"
"""
DEBIAN_OS_RELEASE = """PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"""
UBUNTU_OS_RELEASE = """PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
ID=ubuntu
ID_LIKE=debian
"""
ALPINE_OS_RELEASE = """NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.19.1
PRETTY_NAME="Alpine Linux v3.19"
"""
DPKG_STATUS = """Package: busybox
Status: install ok installed
Priority: optional
Section: utils
Installed-Size: 2077
Maintainer: Debian Install System Team <debian-boot@lists.debian.org>
Architecture: armhf
Multi-Arch: foreign
Version: 1:1.35.0-4+b3
Description: Tiny utilities for small and embedded systems
"""
ANDROID_BUILD_PROP = """# begin common build properties
ro.build.id=TQ3A.230901.001
ro.build.version.sdk=33
ro.build.version.release=13
ro.product.system.brand=google
"""
POKY_BUILD = """-----------------------
Build Configuration:  |
-----------------------
DISTRO = poky
DISTRO_VERSION = 4.0.15
-----------------------
Layer Revisions:      |
-----------------------
meta              = kirkstone:755632c2fcab43aa05cdcfa529727064b045073c
"""

FLAVOURS = {
    "openwrt": ({"/etc/openwrt_release": OPENWRT_RELEASE, "/etc/banner": OPENWRT_BANNER}, {},
                ("OpenWrt", "23.05.2")),
    # Buildroot and Debian write /usr/lib/os-release and link /etc/os-release to it
    "buildroot": ({"/usr/lib/os-release": BUILDROOT_OS_RELEASE}, {"/etc/os-release": "../usr/lib/os-release"},
                  ("Buildroot", "2023.02.9")),
    "poky": ({"/usr/lib/os-release": POKY_OS_RELEASE}, {"/etc/os-release": "../usr/lib/os-release"},
             ("Yocto/Poky", "4.0.15")),
    "poky-build-only": ({"/etc/build": POKY_BUILD, "/etc/version": "20240115093000\n"}, {}, ("Yocto/Poky", None)),
    "debian": ({"/usr/lib/os-release": DEBIAN_OS_RELEASE, "/var/lib/dpkg/status": DPKG_STATUS},
               {"/etc/os-release": "../usr/lib/os-release"}, ("Debian-based (Debian GNU/Linux)", "12")),
    "ubuntu": ({"/etc/os-release": UBUNTU_OS_RELEASE}, {}, ("Debian-based (Ubuntu)", "22.04")),
    "dpkg-only": ({"/var/lib/dpkg/status": DPKG_STATUS, "/etc/debian_version": "12.5\n"}, {},
                  ("Debian-based", "12.5")),
    "android": ({"/system/build.prop": ANDROID_BUILD_PROP}, {}, ("Android", "13")),
    "android-system-partition": ({"/build.prop": ANDROID_BUILD_PROP}, {}, ("Android", "13")),
    # look-alikes: a name in a banner, a Yocto timestamp file, another distribution, no marker at all
    "banner-only": ({"/etc/banner": OPENWRT_BANNER}, {}, ("Linux (unidentified)", None)),
    "version-timestamp-only": ({"/etc/version": "20240115093000\n"}, {}, ("Linux (unidentified)", None)),
    "alpine": ({"/etc/os-release": ALPINE_OS_RELEASE}, {}, ("Alpine Linux", "3.19.1")),
    "os-release-outside-the-image": ({}, {"/etc/os-release": "../../../../usr/lib/os-release"},
                                     ("Linux (unidentified)", None)),  # never the host's os-release
    "nothing": ({}, {}, ("Linux (unidentified)", None)),
}


@pytest.mark.parametrize("case", list(FLAVOURS))
def test_os_flavour(case: str, tmp_path: Path) -> None:
    files, links, expected = FLAVOURS[case]
    fs = FileSystem.scan(write_tree(tmp_path / "rootfs", files=files, links=links))
    assert os_flavour(fs) == expected
    assert (platform(fs).os_flavour, platform(fs).os_version) == expected


def test_platform_of_a_tree_with_real_binaries(tmp_path: Path) -> None:
    true = HOST_TRUE.read_bytes()
    root = write_tree(tmp_path / "rootfs", files={"/etc/openwrt_release": OPENWRT_RELEASE, "/bin/busybox": true,
                                                 "/usr/sbin/dropbear": true, "/etc/init.d/boot": "#!/bin/sh\n" * 8})
    p = platform(FileSystem.scan(root))
    expected = host_true_ident()
    assert (p.os_flavour, p.os_version, p.arch, p.bits, p.endianness, p.elf_count) == (
        "OpenWrt", "23.05.2", expected.arch, expected.bits, expected.endianness, 2)


def test_platform_without_binaries(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "rootfs", skeleton=False, files={"/etc/hostname": "camera\n",
                                                                  "/bin/start.sh": "#!/bin/sh\n" * 20})
    p = platform(FileSystem.scan(root))
    assert (p.arch, p.bits, p.endianness, p.elf_count) == (None, None, None, 0)


# ---------------------------------------------------------------- RTOS blobs

FREERTOS_BANNER = b"FreeRTOS Kernel V10.4.3\x00"


def freertos_blob() -> bytes:
    """A Cortex-M style image: vector table, code-like bytes, and the strings FreeRTOS builds carry."""
    rng = random.Random(10_4_3)
    vectors = (0x20008000).to_bytes(4, "little") + b"".join((0x08000101 + 4 * i).to_bytes(4, "little")
                                                            for i in range(47))
    code = bytes(rng.choice(b"\x00\x10\x20\x46\x47\x68\x70\xb5\xbd\xe0\xf0\xff") for _ in range(48 * 1024))
    strings = FREERTOS_BANNER + b"IDLE\x00Tmr Svc\x00Tmr Q\x00"
    return vectors + code + strings + bytes(rng.choice(b"\x00\x01\xff") for _ in range(16 * 1024))


def test_rtos_of_a_freertos_blob(tmp_path: Path) -> None:
    blob = tmp_path / "mcu.bin"
    blob.write_bytes(freertos_blob())
    assert rtos_of(blob) == "FreeRTOS"


def test_rtos_of_random_bytes_is_none(tmp_path: Path) -> None:
    blob = tmp_path / "random.bin"
    blob.write_bytes(random.Random(7).randbytes(2 * 1024 * 1024))
    assert rtos_of(blob) is None


def test_rtos_of_reads_only_up_to_its_limit(tmp_path: Path) -> None:
    blob = tmp_path / "late.bin"
    blob.write_bytes(bytes(4096) + FREERTOS_BANNER)
    assert rtos_of(blob, limit=4096) is None
    assert rtos_of(blob) == "FreeRTOS"


def test_assessing_a_freertos_blob_is_inconclusive_naming_freertos(tmp_path: Path) -> None:
    blob = tmp_path / "mcu.bin"
    blob.write_bytes(freertos_blob())
    assessment = assess_firmware(blob)
    runs = {r.check_id: r for r in assessment.check_runs if r.check_id.startswith("fw.")}
    assert runs, "no firmware check ran"
    for check_id, run in runs.items():
        assert run.status is RunStatus.INCONCLUSIVE, check_id
        assert "FreeRTOS firmware blob, not a Linux file system" in run.reason, (check_id, run.reason)
    assert assessment.findings == ()
    assert assessment.filesystems == ()
    assert "FreeRTOS" in assessment.notes[0]


# ---------------------------------------------------------------- file types


def test_file_type(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "rootfs", files={"/bin/true": HOST_TRUE.read_bytes(),
                                                 "/etc/hostname": "camera\n"}, links={"/bin/false": "true"})
    fs = FileSystem.scan(root)
    assert file_type(fs, "/bin/true").startswith("ELF 64-bit LSB ")
    assert file_type(fs, "/bin/false").startswith("ELF 64-bit LSB ")  # a link, followed inside the image
    assert file_type(fs, "/etc/hostname") == "ASCII text"
    assert file_type(fs, "/etc") == "not a regular file"
    assert file_type(fs, "/etc/missing") == "not a regular file"
