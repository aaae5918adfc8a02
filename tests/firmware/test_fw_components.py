"""Component identification (the SBOM) on real binaries: Debian bookworm's mipsel packages (downloaded by
scripts/fetch-foreign-binaries.sh), whose version strings are the real ones, put into a root file system and
run through the one content pass. The version each must show is read from the .deb itself (dpkg-deb -f),
and the CPE each must have is written out here, independently of the YAML table. Look-alikes: programs that
merely mention a product, programs built against a library's headers, documentation copies, init scripts.
Package databases: an opkg status file as OpenWrt writes it and a dpkg status made of the real packages'
control data."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from fwimages import TPLINK_WR841N, require_tool, write_tree
from golden import DEBS, unpack_deb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packageurl import PackageURL

from iotcop.firmware import content
from iotcop.firmware.components import (
    ComponentEvidence,
    Components,
    ComponentScanner,
    Hit,
    collect_components,
    installed,
    parse_status,
    upstream_version,
)
from iotcop.firmware.content import scan_content
from iotcop.firmware.elf import ElfFiles, ElfScanner, parse_elf
from iotcop.firmware.facts import collect_firmware
from iotcop.firmware.filesystem import FileSystem
from iotcop.knowledge.components import DATA, Signature, component_table, cpe_name, parse_table

LIB = "usr/lib/mipsel-linux-gnu"


def scan(root: Path) -> Components:
    fs = FileSystem.scan(root)
    elves, found = ElfScanner(), ComponentScanner()
    stats = scan_content(fs, [elves, found])
    assert stats.failed == {}
    return collect_components(fs, elves.result(), found.result())


def deb_path(package: str, arch: str = "mipsel") -> Path:
    debs = sorted(DEBS.glob(f"{package}_*_{arch}.deb"))
    if not debs:
        pytest.skip(f"no {package} package for {arch} in {DEBS} (scripts/fetch-foreign-binaries.sh)")
    return debs[-1]


def deb_field(package: str, name: str, arch: str = "mipsel") -> str:
    out = subprocess.run(["dpkg-deb", "-f", str(deb_path(package, arch)), name], check=True, capture_output=True)
    return out.stdout.decode().strip()


def upstream(debian_version: str) -> str:
    """The upstream part of a Debian version, written independently of the code under test."""
    version = re.sub(r"^\d+:", "", debian_version).rsplit("-", 1)[0]
    return re.split(r"\+dfsg|\.dfsg|\+ds", version)[0]


@pytest.fixture(scope="module")
def debs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("debs")


def unpacked(debs: Path, package: str, arch: str = "mipsel") -> Path:
    tree = debs / f"{package}_{arch}"
    return tree if tree.is_dir() else unpack_deb(package, arch, tree)


def cpe(vendor_product: str, version: str, update: str = "*", part: str = "a") -> str:
    return f"cpe:2.3:{part}:{vendor_product}:{version}:{update}:*:*:*:*:*:*"


# (package, file in the package (a glob), component, CPE vendor:product) — one real binary per signature
REAL = [
    ("busybox-static", "bin/busybox", "busybox", "busybox:busybox"),
    ("libssl3", f"{LIB}/libcrypto.so.3", "openssl", "openssl:openssl"),
    ("libwolfssl35", f"{LIB}/libwolfssl.so.*.*", "wolfssl", "wolfssl:wolfssl"),
    ("libmbedcrypto7", f"{LIB}/libmbedcrypto.so.*.*", "mbedtls", "arm:mbed_tls"),
    ("dropbear-bin", "usr/sbin/dropbear", "dropbear", "dropbear_ssh_project:dropbear_ssh"),
    ("openssh-server", "usr/sbin/sshd", "openssh", "openbsd:openssh"),
    ("openssh-client", "usr/bin/ssh", "openssh", "openbsd:openssh"),
    ("lighttpd", "usr/sbin/lighttpd", "lighttpd", "lighttpd:lighttpd"),
    ("nginx", "usr/sbin/nginx", "nginx", "f5:nginx"),
    ("mini-httpd", "usr/sbin/mini_httpd", "mini_httpd", "acme:mini_httpd"),
    ("dnsmasq-base", "usr/sbin/dnsmasq", "dnsmasq", "thekelleys:dnsmasq"),
    ("hostapd", "usr/sbin/hostapd", "hostapd", "w1.fi:hostapd"),
    ("hostapd", "usr/sbin/hostapd_cli", "hostapd", "w1.fi:hostapd"),
    ("wpasupplicant", "sbin/wpa_supplicant", "wpa_supplicant", "w1.fi:wpa_supplicant"),
    ("curl", "usr/bin/curl", "curl", "haxx:curl"),
    ("libcurl4", f"{LIB}/libcurl.so.4.*", "libcurl", "haxx:libcurl"),
    ("mosquitto", "usr/sbin/mosquitto", "mosquitto", "eclipse:mosquitto"),
    ("miniupnpd-iptables", "usr/sbin/miniupnpd", "miniupnpd", "miniupnp_project:miniupnpd"),
    ("samba", "usr/sbin/samba", "samba", "samba:samba"),
    ("musl", "lib/mipsel-linux-musl/libc.so", "musl", "musl-libc:musl"),
    ("libc6", "lib/mipsel-linux-gnu/libc.so.6", "glibc", "gnu:glibc"),
    ("libsqlite3-0", f"{LIB}/libsqlite3.so.0.*", "sqlite", "sqlite:sqlite"),
    ("zlib1g", "lib/mipsel-linux-gnu/libz.so.1.*", "zlib", "zlib:zlib"),
    ("libexpat1", "lib/mipsel-linux-gnu/libexpat.so.1.*", "expat", "libexpat_project:libexpat"),
    ("libxml2", f"{LIB}/libxml2.so.2.*", "libxml2", "xmlsoft:libxml2"),
    ("libpng16-16", f"{LIB}/libpng16.so.16.*", "libpng", "libpng:libpng"),
    ("openvpn", "usr/sbin/openvpn", "openvpn", "openvpn:openvpn"),
    ("iptables", "usr/sbin/xtables-nft-multi", "iptables", "netfilter:iptables"),
    ("iptables", "usr/sbin/xtables-legacy-multi", "iptables", "netfilter:iptables"),
    ("ppp", "usr/sbin/pppd", "ppp", "point-to-point_protocol_project:point-to-point_protocol"),
    ("ppp", "usr/sbin/pppoe-discovery", "ppp", "point-to-point_protocol_project:point-to-point_protocol"),
    ("ntpsec", "usr/sbin/ntpd", "ntpsec", "ntpsec:ntpsec"),
    ("avahi-daemon", "usr/sbin/avahi-daemon", "avahi", "avahi:avahi"),
    ("libdbus-1-3", "lib/mipsel-linux-gnu/libdbus-1.so.3.*", "dbus", "freedesktop:dbus"),
    ("liblua5.1-0", f"{LIB}/liblua5.1.so.0.*", "lua", "lua:lua"),
    ("libpcre2-8-0", f"{LIB}/libpcre2-8.so.0.*", "pcre2", "pcre:pcre2"),
]
# Debian's version of the package, where the program says something else on purpose
UPDATE = {"openssh": ("9.2", "p1")}


@pytest.mark.parametrize(("package", "inside", "name", "vendor_product"), REAL,
                         ids=[f"{r[0]}:{r[1].rsplit('/', 1)[1]}" for r in REAL])
def test_real_binary(tmp_path: Path, debs: Path, package: str, inside: str, name: str, vendor_product: str) -> None:
    tree = unpacked(debs, package)
    source = next(p for p in sorted(tree.glob(inside)) if not p.is_symlink())
    path = "/" + str(source.relative_to(tree))
    found = scan(write_tree(tmp_path / "root", {path: source.read_bytes()}, skeleton=False))
    version = upstream(deb_field(package, "Version"))
    # exactly the one component: a program built against a library (hostapd and libcrypto, ntpd and
    # libcrypto, curl and libcurl) does not also count as that library
    assert [(c.name, c.version) for c in found.components] == [(name, version)]
    component = found.components[0]
    assert component.cpe == cpe(vendor_product, *UPDATE.get(name, (version,)))
    assert component.locations == (path,)
    assert component.source == "version string"
    assert component.confidence in ("high", "medium")
    assert component.purl == f"pkg:generic/{name}@{version}"
    assert component.evidence and version.split(".")[0] in component.evidence


def test_a_component_file_is_its_own_evidence(tmp_path: Path, debs: Path) -> None:
    """A program that loads libcrypto holds OpenSSL's version only as a compiled-in header constant, but
    glibc's own libc.so.6 loading glibc's dynamic loader (ld-linux-armhf.so.3 on ARM) is still glibc."""
    libc = unpacked(debs, "libc6") / "lib/mipsel-linux-gnu/libc.so.6"
    info = parse_elf("/lib/arm-linux-gnueabihf/libc.so.6", libc.read_bytes())
    assert info is not None
    elves = ElfFiles((dataclasses.replace(info, libraries=("ld-linux-armhf.so.3",)),))
    fs = FileSystem.scan(write_tree(tmp_path / "root", {}, skeleton=False))
    found = collect_components(fs, elves, ComponentEvidence())
    assert [(c.name, c.version) for c in found.components] == [("glibc", upstream(deb_field("libc6", "Version")))]


def test_chrony_shows_only_its_name(tmp_path: Path, debs: Path) -> None:
    """chronyd's version ('4.3') is three characters, below what ELF string extraction keeps."""
    tree = unpacked(debs, "chrony")
    root = write_tree(tmp_path / "root", {"/usr/sbin/chronyd": (tree / "usr/sbin/chronyd").read_bytes()},
                      skeleton=False)
    [component] = scan(root).components
    assert (component.name, component.version, component.confidence, component.cpe) == ("chrony", None, "low", None)
    assert component.source == "file name" and component.locations == ("/usr/sbin/chronyd",)


def test_u_boot_images(tmp_path: Path, debs: Path) -> None:
    tree = unpacked(debs, "u-boot-qemu", "all")
    files: dict[str, str | bytes] = {
        "/boot/u-boot.bin": (tree / "usr/lib/u-boot/qemu_arm/u-boot.bin").read_bytes(),  # raw image: content
        "/boot/uboot.elf": (tree / "usr/lib/u-boot/qemu_arm/uboot.elf").read_bytes(),  # ELF: its strings
    }
    [component] = scan(write_tree(tmp_path / "root", files, skeleton=False)).components
    version = upstream(deb_field("u-boot-qemu", "Version", "all"))
    assert (component.name, component.version) == ("u-boot", version) == ("u-boot", "2023.01")
    assert component.locations == ("/boot/u-boot.bin", "/boot/uboot.elf")
    assert component.cpe == cpe("denx:u-boot", version) and component.confidence == "high"


def test_jquery_in_web_root_not_in_doc(tmp_path: Path, debs: Path) -> None:
    tree = unpacked(debs, "libjs-jquery", "all")
    minified = (tree / "usr/share/javascript/jquery/jquery.min.js").read_bytes()
    full = (tree / "usr/share/javascript/jquery/jquery.js").read_bytes()
    files: dict[str, str | bytes] = {
        "/www/js/jquery.min.js": minified,
        "/usr/share/javascript/jquery/jquery.js": full,
        "/usr/share/doc/webui/examples/jquery-1.4.2.min.js": "/*! jQuery v1.4.2 jquery.com */\n",  # doc: not counted
        "/www/js/plugin.js": "/*!\n * Requires jQuery v1.9.1 or later\n */\n",
        "/www/js/old.js": "/*! jQuery v1.4.2 jquery.com | jquery.org/license */\n",
    }
    found = scan(write_tree(tmp_path / "root", files, skeleton=False))
    version = upstream(deb_field("libjs-jquery", "Version", "all"))
    assert [(c.name, c.version, c.locations) for c in found.components] == [
        ("jquery", "1.4.2", ("/www/js/old.js",)),
        ("jquery", version, ("/usr/share/javascript/jquery/jquery.js", "/www/js/jquery.min.js")),
    ]
    assert found.components[1].purl == f"pkg:npm/jquery@{version}"
    assert found.components[1].cpe == cpe("jquery:jquery", version)


# ---------------------------------------------------------------- kernel: module vermagic, uImage header


MODULE = r"""
static const char vermagic[] __attribute__((section(".modinfo"), used, aligned(1))) =
    "vermagic=5.10.176 SMP mod_unload MIPS32_R2 32BIT ";
static const char license[] __attribute__((section(".modinfo"), used, aligned(1))) = "license=GPL";
int init_module(void) { return 0; }
"""


def test_kernel_from_module_vermagic_and_uimage(tmp_path: Path) -> None:
    gcc = require_tool("mipsel-linux-gnu-gcc")
    mkimage = require_tool("mkimage")
    (tmp_path / "mod.c").write_text(MODULE)
    subprocess.run([gcc, "-c", "-O2", "-o", str(tmp_path / "mod.ko"), str(tmp_path / "mod.c")], check=True)
    (tmp_path / "payload").write_bytes(b"\0" * 4096)
    subprocess.run([mkimage, "-A", "mips", "-O", "linux", "-T", "kernel", "-C", "none", "-a", "0x80000000",
                    "-e", "0x80000000", "-n", "MIPS OpenWrt Linux-5.15.134", "-d", str(tmp_path / "payload"),
                    str(tmp_path / "uImage")], check=True, capture_output=True)
    files: dict[str, str | bytes] = {
        "/lib/modules/5.10.176/nf_test.ko": (tmp_path / "mod.ko").read_bytes(),
        "/lib/modules/5.10.176/modules.dep": "nf_test.ko:\n",
        "/boot/uImage": (tmp_path / "uImage").read_bytes(),
    }
    found = scan(write_tree(tmp_path / "root", files, skeleton=False))
    assert [(c.name, c.version, c.confidence, c.locations) for c in found.components] == [
        ("linux", "5.10.176", "high", ("/lib/modules/5.10.176/modules.dep", "/lib/modules/5.10.176/nf_test.ko")),
        ("linux", "5.15.134", "high", ("/boot/uImage",)),
    ]
    assert found.components[0].cpe == cpe("linux:linux_kernel", "5.10.176", part="o")
    assert "vermagic=5.10.176 SMP" in found.components[0].evidence


# ---------------------------------------------------------------- look-alikes


LOOKALIKE = r"""
#include <stdio.h>
int main(int argc, char **argv) {
    puts("usage: vendor-tool [--openssl|--mbedtls] [--busybox-compat]");
    puts("TLS backend: OpenSSL (see openssl.org), version %s");
    puts("requires dropbear or OpenSSH_ server");
    puts("Linux version %s");
    return argc > 5 ? printf("%s", argv[1]) : 0;
}
"""


def test_lookalikes_are_not_components(tmp_path: Path, debs: Path) -> None:
    gcc = require_tool("mipsel-linux-gnu-gcc")
    (tmp_path / "tool.c").write_text(LOOKALIKE)
    subprocess.run([gcc, "-O2", "-o", str(tmp_path / "tool"), str(tmp_path / "tool.c")], check=True)
    files: dict[str, str | bytes] = {
        "/usr/bin/vendor-tool": (tmp_path / "tool").read_bytes(),  # names products, no version
        "/etc/init.d/mosquitto": "#!/bin/sh\n/usr/sbin/mosquitto -d # mosquitto version 2.0.11\n",  # a script
        "/etc/lighttpd/lighttpd.conf": 'server.tag = "lighttpd/1.4.69"\n',  # configuration, not the server
        "/usr/share/doc/openssl/README": "OpenSSL 1.0.2k  26 Jan 2017\n",
    }
    assert scan(write_tree(tmp_path / "root", files, skeleton=False)).components == ()


def test_file_names_and_release_files(tmp_path: Path) -> None:
    """Names say what a binary is when its strings do not (uhttpd has no version string; uClibc's version
    is in its file names); the release file names the OS. Only programs count: a script or a configuration
    file of the same name is not the program."""
    stub = b"\x7fELF\x01\x01\x01" + b"\0" * 41  # does not parse: the name is all there is
    files: dict[str, str | bytes] = {
        "/usr/sbin/uhttpd": stub,
        "/lib/libuClibc-0.9.33.2.so": stub,
        "/lib/ld-uClibc-0.9.33.2.so": stub,
        "/etc/init.d/uhttpd": "#!/bin/sh /etc/rc.common\nSTART=50\n",
        "/etc/config/dnsmasq": "config dnsmasq\n",
        "/etc/os-release": 'NAME=Buildroot\nVERSION=2023.02.1\nID=buildroot\nVERSION_ID=2023.02.1\n',
    }
    found = scan(write_tree(tmp_path / "root", files, skeleton=False))
    assert [(c.name, c.version, c.confidence, c.source, c.locations, c.cpe) for c in found.components] == [
        ("buildroot", "2023.02.1", "high", "os-release", ("/etc/os-release",),
         cpe("buildroot:buildroot", "2023.02.1")),
        ("uclibc", "0.9.33.2", "medium", "file name", ("/lib/ld-uClibc-0.9.33.2.so", "/lib/libuClibc-0.9.33.2.so"),
         cpe("uclibc:uclibc", "0.9.33.2")),
        ("uhttpd", None, "low", "file name", ("/usr/sbin/uhttpd",), None),
    ]


def test_real_vendor_firmware() -> None:
    """TP-Link TL-WR841N v10 (shared/fixtures/real): no package database, so every version comes from the
    binaries' strings, uClibc's file names and the kernel modules' vermagic. zlib 1.1.4 is a copy inside
    the web server (/usr/bin/httpd loads no libz), the kind of component only string evidence shows."""
    if not TPLINK_WR841N.is_file():
        message = f"the real vendor image is not there: {TPLINK_WR841N} (shared/ beside the checkout)"
        if os.environ.get("CI"):  # CI always has shared/ beside the clone: losing the real image is a failure
            pytest.fail(message)
        pytest.skip(message)
    facts = collect_firmware(TPLINK_WR841N)
    try:
        assert facts.root is not None
        elves, found = ElfScanner(), ComponentScanner()
        scan_content(facts.root, [elves, found])
        components = collect_components(facts.root, elves.result(), found.result())
    finally:
        facts.close()
    assert [(c.name, c.version, c.locations[0]) for c in components.components] == [
        ("busybox", "1.01", "/bin/busybox"),
        ("dropbear", "2012.55", "/usr/sbin/dropbearmulti"),
        ("hostapd", "0.5.9", "/sbin/hostapd"),
        ("iptables", "1.4.5", "/sbin/iptables-multi"),
        ("linux", "2.6.31", "/lib/modules/2.6.31/kernel/br_MultiSsidVlan_InputForward.ko"),
        ("ppp", "2.4.3", "/usr/sbin/pppd"),
        ("uclibc", "0.9.30", "/lib/ld-uClibc-0.9.30.so"),
        ("wpa_supplicant", "0.5.9", "/sbin/wpa_supplicant"),
        ("zlib", "1.1.4", "/usr/bin/httpd"),
    ]
    assert components.named("dropbear")[0].cpe == cpe("dropbear_ssh_project:dropbear_ssh", "2012.55")


# ---------------------------------------------------------------- package databases

OPKG_STATUS = """\
Package: busybox
Version: 1.36.1-1
Depends: libc
Status: install user installed
Architecture: mips_24kc
Installed-Time: 1700000000

Package: dropbear
Version: 2022.83-1
Depends: libc
Conffiles:
 /etc/config/dropbear 7fcb1cc2d1c9c0a2b5b7c8c3a7e7a9fa
Status: install user installed
Architecture: mips_24kc
Installed-Time: 1700000000

Package: libopenssl3
Version: 3.0.13-1
Status: install user installed
Architecture: mips_24kc

Package: wpad-basic-mbedtls
Version: 2023-09-08-e5ccbfc6-6
Status: install user installed
Architecture: mips_24kc

Package: kernel
Version: 5.15.134-1-b4a0e2e5b3d2cd2e7ce1f6e7a9b4b3b7
Status: install user installed
Architecture: mips_24kc

Package: libc
Version: 1.2.4-4
Status: install user installed
Architecture: mips_24kc

Package: uhttpd
Version: 2023-06-25-34a8a74d-2
Status: install user installed
Architecture: mips_24kc

Package: miniupnpd-iptables
Version: 2.3.3-1
Status: deinstall ok not-installed
Architecture: mips_24kc
"""
OPENWRT_RELEASE = "DISTRIB_ID='OpenWrt'\nDISTRIB_RELEASE='23.05.2'\nDISTRIB_REVISION='r23630-842932a63d'\n"
CONTROL = "Package: mosquitto-ssl\nVersion: 2.0.18-1\nArchitecture: mips_24kc\nDescription: MQTT broker\n"


def test_opkg_status_as_openwrt_writes_it(tmp_path: Path, debs: Path) -> None:
    files: dict[str, str | bytes] = {
        "/usr/lib/opkg/status": OPKG_STATUS,
        "/usr/lib/opkg/info/mosquitto-ssl.control": CONTROL,  # a package the status file does not list
        "/usr/lib/opkg/info/busybox.control": "Package: busybox\nVersion: 9.9.9-1\n",  # status wins
        "/etc/openwrt_release": OPENWRT_RELEASE,
        # the real binaries: dropbear agrees with its package; busybox says 1.35.0, its package 1.36.1
        "/usr/sbin/dropbear": (unpacked(debs, "dropbear-bin") / "usr/sbin/dropbear").read_bytes(),
        "/bin/busybox": (unpacked(debs, "busybox-static") / "bin/busybox").read_bytes(),
    }
    found = scan(write_tree(tmp_path / "root", files, skeleton=False))
    got = {(c.name, c.version, c.confidence, c.source, c.locations, c.cpe, c.purl) for c in found.components}
    status, arch = "/usr/lib/opkg/status", "?arch=mips_24kc"
    assert got == {
        # package databases win: the string evidence of the same name joins them
        ("busybox", "1.36.1", "high", "opkg status", ("/bin/busybox", status), cpe("busybox:busybox", "1.36.1"),
         f"pkg:generic/openwrt/busybox@1.36.1-1{arch}"),
        ("dropbear", "2022.83", "high", "opkg status", (status, "/usr/sbin/dropbear"),
         cpe("dropbear_ssh_project:dropbear_ssh", "2022.83"), f"pkg:generic/openwrt/dropbear@2022.83-1{arch}"),
        ("openssl", "3.0.13", "high", "opkg status", (status,), cpe("openssl:openssl", "3.0.13"),
         f"pkg:generic/openwrt/libopenssl3@3.0.13-1{arch}"),
        ("hostapd", "2023-09-08-e5ccbfc6", "high", "opkg status", (status,),
         cpe("w1.fi:hostapd", "2023-09-08-e5ccbfc6"),
         f"pkg:generic/openwrt/wpad-basic-mbedtls@2023-09-08-e5ccbfc6-6{arch}"),
        ("wpa_supplicant", "2023-09-08-e5ccbfc6", "high", "opkg status", (status,),
         cpe("w1.fi:wpa_supplicant", "2023-09-08-e5ccbfc6"),
         f"pkg:generic/openwrt/wpad-basic-mbedtls@2023-09-08-e5ccbfc6-6{arch}"),
        ("linux", "5.15.134", "high", "opkg status", (status,), cpe("linux:linux_kernel", "5.15.134", part="o"),
         f"pkg:generic/openwrt/kernel@5.15.134-1-b4a0e2e5b3d2cd2e7ce1f6e7a9b4b3b7{arch}"),
        ("libc", "1.2.4", "high", "opkg status", (status,), None, f"pkg:generic/openwrt/libc@1.2.4-4{arch}"),
        ("uhttpd", "2023-06-25-34a8a74d", "high", "opkg status", (status,), None,  # no CPE of its own
         f"pkg:generic/openwrt/uhttpd@2023-06-25-34a8a74d-2{arch}"),
        ("mosquitto", "2.0.18", "high", "opkg control file", ("/usr/lib/opkg/info/mosquitto-ssl.control",),
         cpe("eclipse:mosquitto", "2.0.18"), f"pkg:generic/openwrt/mosquitto-ssl@2.0.18-1{arch}"),
        ("openwrt", "23.05.2", "high", "openwrt_release", ("/etc/openwrt_release",),
         cpe("openwrt:openwrt", "23.05.2", part="o"), "pkg:generic/openwrt@23.05.2"),
    }
    assert [c.name for c in found.components] == sorted(c.name for c in found.components)


DEB_PACKAGES = [("busybox-static", "mipsel"), ("libssl3", "mipsel"), ("openssh-server", "mipsel"),
                ("zlib1g", "mipsel"), ("libjs-jquery", "all")]


def test_dpkg_status_of_real_packages(tmp_path: Path, debs: Path) -> None:
    stanzas = []
    for package, arch in DEB_PACKAGES:
        control = subprocess.run(["dpkg-deb", "-f", str(deb_path(package, arch))], check=True,
                                 capture_output=True).stdout.decode()
        stanzas.append(control.replace("\nVersion:", "\nStatus: install ok installed\nVersion:", 1))
    stanzas.append("Package: telnetd\nStatus: deinstall ok config-files\nVersion: 0.17+2.4-2\nArchitecture: mipsel\n")
    files: dict[str, str | bytes] = {
        "/var/lib/dpkg/status": "\n".join(stanzas),
        "/etc/os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n',
        f"/{LIB}/libcrypto.so.3": (unpacked(debs, "libssl3") / LIB / "libcrypto.so.3").read_bytes(),
    }
    found = scan(write_tree(tmp_path / "root", files, skeleton=False))
    version = {p: deb_field(p, "Version", a) for p, a in DEB_PACKAGES}
    status = "/var/lib/dpkg/status"
    got = {(c.name, c.version, c.source, c.locations, c.purl) for c in found.components}

    def purl(package: str, arch: str = "mipsel") -> str:
        return str(PackageURL("deb", "debian", package, version[package], {"arch": arch}).to_string())

    assert got == {
        ("busybox", upstream(version["busybox-static"]), "dpkg status", (status,), purl("busybox-static")),
        ("openssl", upstream(version["libssl3"]), "dpkg status", (f"/{LIB}/libcrypto.so.3", status),
         purl("libssl3")),
        ("openssh", upstream(version["openssh-server"]), "dpkg status", (status,), purl("openssh-server")),
        ("zlib", upstream(version["zlib1g"]), "dpkg status", (status,), purl("zlib1g")),
        ("jquery", upstream(version["libjs-jquery"]), "dpkg status", (status,), purl("libjs-jquery", "all")),
        ("debian", "12", "os-release", ("/etc/os-release",), "pkg:generic/debian@12"),
    }
    assert all(c.confidence == "high" for c in found.components)
    openssh = found.named("openssh")[0]
    assert openssh.cpe == cpe("openbsd:openssh", "9.2", "p1")


def test_merging_by_name_and_version(tmp_path: Path) -> None:
    """One component per (name, version); a name without a version joins the only version there is, and
    stays apart when there are several (which one it belongs to is unknown)."""
    fs = FileSystem.scan(write_tree(tmp_path / "root", {}, skeleton=False))
    hits = (Hit("openssl", "3.0.20", "high", "version string", "/lib/libcrypto.so.3", "OpenSSL 3.0.20 7 Apr 2026"),
            Hit("openssl", "1.0.2k", "high", "version string", "/usr/bin/vendord", "OpenSSL 1.0.2k  26 Jan 2017"),
            Hit("openssl", None, "low", "file name", "/lib/libssl.so.3", "libssl.so.3"),
            Hit("zlib", "1.2.13", "high", "version string", "/lib/libz.so.1", " deflate 1.2.13 Copyright"),
            Hit("zlib", "1.2.13", "medium", "version string", "/usr/lib/libz.so.1", "1.2.13"),
            Hit("zlib", None, "low", "file name", "/lib/libz.so.1.2.13", "libz.so.1.2.13"))
    found = collect_components(fs, ElfFiles(), ComponentEvidence(hits))
    assert [(c.name, c.version, c.confidence, c.locations) for c in found.components] == [
        ("openssl", None, "low", ("/lib/libssl.so.3",)),
        ("openssl", "1.0.2k", "high", ("/usr/bin/vendord",)),
        ("openssl", "3.0.20", "high", ("/lib/libcrypto.so.3",)),
        ("zlib", "1.2.13", "high", ("/lib/libz.so.1", "/lib/libz.so.1.2.13", "/usr/lib/libz.so.1")),
    ]
    assert found.components[0].cpe is None and found.components[0].purl == "pkg:generic/openssl"


def test_parallel_pass_finds_the_same(tmp_path: Path, debs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files: dict[str, str | bytes] = {
        "/bin/busybox": (unpacked(debs, "busybox-static") / "bin/busybox").read_bytes(),
        "/usr/sbin/dropbear": (unpacked(debs, "dropbear-bin") / "usr/sbin/dropbear").read_bytes(),
        "/www/js/jquery.min.js": "/*! jQuery v3.4.1 | (c) JS Foundation and other contributors */\n",
        "/lib/modules/5.4.0/x.ko": b"\x7fELF",
    }
    fs = FileSystem.scan(write_tree(tmp_path / "root", files, skeleton=False))

    def run(workers: int) -> Components:
        elves, found = ElfScanner(), ComponentScanner()
        content.scan_content(fs, [elves, found], workers=workers)
        return collect_components(fs, elves.result(), found.result())

    alone = run(1)
    monkeypatch.setattr(content, "PARALLEL_BYTES", 0)
    assert run(2) == alone
    assert [(c.name, c.version) for c in alone.components] == [
        ("busybox", "1.35.0"), ("dropbear", "2022.83"), ("jquery", "3.4.1"), ("linux", "5.4.0")]


def test_upstream_versions() -> None:
    assert upstream_version("1:1.35.0-4+deb12u1+b1", "deb") == "1.35.0"
    assert upstream_version("3.6.1+dfsg+~3.5.14-1", "deb") == "3.6.1"
    assert upstream_version("1:1.2.13.dfsg-1", "deb") == "1.2.13"
    assert upstream_version("2.4.7+really2.4.5-1", "deb") == "2.4.5"
    assert upstream_version("1.1.1w-1", "opkg") == "1.1.1w"
    assert upstream_version("2023-06-25-34a8a74d-2", "opkg") == "2023-06-25-34a8a74d"
    assert upstream_version("5.15.134-1-b4a0e2e5", "opkg", r"^(\d+\.\d+(?:\.\d+)?)") == "5.15.134"


# ---------------------------------------------------------------- the table


# The brief's CPE mapping, written out: a change in the YAML must be a deliberate change here too
CPES = {
    "openssl": "openssl:openssl", "busybox": "busybox:busybox", "dropbear": "dropbear_ssh_project:dropbear_ssh",
    "dnsmasq": "thekelleys:dnsmasq", "lighttpd": "lighttpd:lighttpd", "mosquitto": "eclipse:mosquitto",
    "curl": "haxx:curl", "libcurl": "haxx:libcurl", "hostapd": "w1.fi:hostapd",
    "wpa_supplicant": "w1.fi:wpa_supplicant", "linux": "linux:linux_kernel", "u-boot": "denx:u-boot",
    "sqlite": "sqlite:sqlite", "zlib": "zlib:zlib", "expat": "libexpat_project:libexpat",
    "libxml2": "xmlsoft:libxml2", "openssh": "openbsd:openssh", "uclibc": "uclibc:uclibc",
    "uclibc-ng": "uclibc-ng_project:uclibc-ng", "glibc": "gnu:glibc", "musl": "musl-libc:musl",
    "mbedtls": "arm:mbed_tls", "wolfssl": "wolfssl:wolfssl", "miniupnpd": "miniupnp_project:miniupnpd",
    "samba": "samba:samba", "openvpn": "openvpn:openvpn", "iptables": "netfilter:iptables",
    "ppp": "point-to-point_protocol_project:point-to-point_protocol", "ntp": "ntp:ntp",
    "chrony": "chrony_project:chrony", "avahi": "avahi:avahi", "dbus": "freedesktop:dbus",
    "libpng": "libpng:libpng", "jquery": "jquery:jquery", "nginx": "f5:nginx", "goahead": "embedthis:goahead",
    "boa": "boa:boa", "mini_httpd": "acme:mini_httpd", "thttpd": "acme:thttpd", "uhttpd": None,
}


def test_table_integrity() -> None:
    table = component_table()
    names = [s.name for s in table.signatures]
    assert len(names) >= 40 and len(names) == len(set(names))
    for s in table.signatures:
        assert s.packages or s.files or s.os_ids or s.versions, s.name
        if s.cpe is None:
            assert "no CPE" in s.cpe_source, s.name  # an explicit null says why
    got = {s.name: f"{s.cpe.vendor}:{s.cpe.product}" if s.cpe else None for s in table.signatures}
    assert {name: got[name] for name in CPES} == CPES
    assert signature("nginx").cpe_aliases == ("nginx:nginx",)
    assert signature("chrony").cpe_aliases == ("tuxfamily:chrony",)


@pytest.mark.parametrize("name", [s.name for s in component_table().signatures if s.versions])
def test_every_rule_on_its_examples(name: str) -> None:
    """Each version rule finds what its examples say and nothing in its look-alikes, through the engine."""
    for rule, spec in zip(component_table().rules_of(name), signature(name).versions, strict=True):
        for example in spec.examples:
            found = rule.search(example.path, example.lines)
            assert found is not None and found.version == example.version, (spec.regex, example)
            if rule.keyword and rule.source != "name":
                assert any(rule.keyword in line for line in example.lines)
        for lookalike in spec.lookalikes:
            assert rule.search(lookalike.path, lookalike.lines) is None, (spec.regex, lookalike)


def signature(name: str) -> Signature:
    found = component_table().get(name)
    assert found is not None
    return found


def test_cpe_names() -> None:
    assert cpe_name(signature("openssh"), "9.2p1") == "cpe:2.3:a:openbsd:openssh:9.2:p1:*:*:*:*:*:*"
    assert cpe_name(signature("ntp"), "4.2.8p15") == "cpe:2.3:a:ntp:ntp:4.2.8:p15:*:*:*:*:*:*"
    assert cpe_name(signature("openssl"), "1.0.2k") == "cpe:2.3:a:openssl:openssl:1.0.2k:*:*:*:*:*:*:*"
    assert cpe_name(signature("u-boot"), "2023.01+x") == "cpe:2.3:a:denx:u-boot:2023.01\\+x:*:*:*:*:*:*:*"
    assert cpe_name(signature("linux"), "5.10.176") == "cpe:2.3:o:linux:linux_kernel:5.10.176:*:*:*:*:*:*:*"
    assert cpe_name(signature("openssl"), None) is None  # any version would match every CVE
    assert cpe_name(signature("uhttpd"), "1.0") is None


@pytest.mark.parametrize(("text", "error"), [
    ("- {name: a, title: A, cpe: null, cpe_source: no CPE known, verified: false, files: [a]}\n" * 2, "unique"),
    ("- {name: a, title: A, cpe: null, cpe_source: no CPE known, verified: false}\n", "no way"),
    ("- {name: a, title: A, cpe: null, cpe_source: no CPE known, verified: false,"
     " versions: [{regex: 'x(', keyword: x, examples: [{version: '1'}]}]}\n", "bad regex"),
    ("- {name: a, title: A, cpe: null, cpe_source: no CPE known, verified: false,"
     " versions: [{regex: 'x', keyword: x, examples: [{version: '1'}]}]}\n", "no version group"),
    ("- {name: a, title: A, cpe: null, cpe_source: no CPE known, verified: false,"
     " versions: [{regex: '(x)', source: content, keyword: x, examples: [{version: '1'}]}]}\n", "names the files"),
    ("- {name: a, title: A, cpe: null, cpe_source: no CPE known, verified: false,"
     " versions: [{regex: '(x)', examples: [{version: '1'}]}]}\n", "runs on everything"),
])
def test_malformed_tables_are_rejected(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_table(text)


def test_shipped_table_parses() -> None:
    assert len(parse_table(DATA.read_text()).signatures) == len(component_table().signatures)


# ---------------------------------------------------------------- hostile input

_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=2000)
_STANZA = st.lists(st.sampled_from(["Package: a", "Package: b+c", "Version: 1:2.3-4", "Version: \x00",
                                    "Status: install ok installed", "Status: installed", "Status:", ":", " x",
                                    "", "Architecture: mips", "Architecture: ../..", "Package:"]), max_size=40)


@given(_TEXT)
@settings(max_examples=200, deadline=None)
def test_status_parser_never_raises(text: str) -> None:
    for stanza in parse_status(text):
        installed(stanza, True)
        installed(stanza, False)


@given(_STANZA)
@settings(max_examples=200, deadline=None)
def test_status_lines_give_sane_packages(lines: list[str]) -> None:
    for stanza in parse_status("\n".join(lines)):
        package = installed(stanza, True)
        if package is not None:
            assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9+._-]*", package[0])
            assert package[1] is None or "\x00" not in package[1]


@given(st.text(max_size=60), st.sampled_from(["deb", "opkg"]))
@settings(deadline=None)
def test_upstream_version_never_raises(version: str, flavour: str) -> None:
    assert isinstance(upstream_version(version, flavour), str)


@given(st.binary(max_size=3000), st.binary(max_size=3000), st.binary(max_size=500))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_collector_never_raises_on_hostile_files(tmp_path: Path, dpkg: bytes, opkg: bytes, release: bytes) -> None:
    root = tmp_path / "hostile"
    shutil.rmtree(root, ignore_errors=True)
    files: dict[str, str | bytes] = {"/var/lib/dpkg/status": dpkg, "/usr/lib/opkg/status": opkg,
                                     "/usr/lib/opkg/info/x.control": opkg, "/etc/os-release": release,
                                     "/etc/openwrt_release": release, "/www/app.js": dpkg + opkg,
                                     "/boot/uImage": opkg, "/lib/modules/5.4.0/x.ko": dpkg}
    fs = FileSystem.scan(write_tree(root, files, skeleton=False))
    scanner = ComponentScanner()
    assert scan_content(fs, [scanner]).failed == {}
    assert isinstance(collect_components(fs, ElfFiles(), scanner.result()), Components)


def test_empty_image_has_no_components(tmp_path: Path) -> None:
    fs = FileSystem.scan(write_tree(tmp_path / "root", {}, skeleton=False))
    assert collect_components(fs, ElfFiles(), ComponentEvidence()) == Components()
