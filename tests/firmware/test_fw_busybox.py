"""BusyBox applets: read from the applet name table of real BusyBox binaries (Debian's busybox-static for armhf,
mipsel and arm64) and of small cross-compiled programs carrying a table in BusyBox's generated format (a router
build without the DHCP client or wget), fed by the one content pass; links in the tree as the weaker signal."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iotcop.firmware.busybox import BusyBoxApplets, BusyBoxScanner, binary_of, parse_applet_table
from iotcop.firmware.content import scan_content
from iotcop.firmware.filesystem import FileSystem

DEBS = Path(__file__).resolve().parents[2] / "build" / "debs"
ROUTER_APPLETS = ("[", "[[", "ash", "cat", "echo", "ls", "mount", "ping", "sh", "telnetd", "tftp", "udhcpd")
SOURCE = """#include <stdio.h>
#include <string.h>
/* the layout of BusyBox's generated include/applet_tables.h: sorted names, one NUL each */
const char applet_names[] = ""
@TABLE@;
static const char banner[] = "@BANNER@";
int main(int argc, char **argv) {
    const char *p = applet_names;
    int n = 0;
    while (*p) { if (argc > 1 && strcmp(p, argv[1]) == 0) return n; p += strlen(p) + 1; n++; }
    puts(banner);
    return 0;
}
"""


def real_busybox(arch: str, dest: Path) -> Path:
    debs = sorted(DEBS.glob(f"busybox-static_*_{arch}.deb"))
    if not debs or shutil.which("dpkg-deb") is None:
        pytest.skip(f"no busybox-static package for {arch} in {DEBS}")
    subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(dest)], check=True, capture_output=True)
    return dest / "bin" / "busybox"


def compile_program(out: Path, applets: tuple[str, ...], banner: str) -> Path:
    """A mipsel program holding ``applets`` as BusyBox's applet_names[] and ``banner``."""
    compiler = shutil.which("mipsel-linux-gnu-gcc")
    if compiler is None:
        pytest.skip("mipsel-linux-gnu-gcc is not installed")
    table = "\n".join(f'"{a}" "\\0"' for a in applets)
    src = out.with_suffix(".c")
    src.write_text(SOURCE.replace("@TABLE@", table).replace("@BANNER@", banner))
    subprocess.run([compiler, "-Os", "-o", str(out), str(src)], check=True, capture_output=True)
    return out


def tree(root: Path, files: dict[str, Path], links: dict[str, str]) -> BusyBoxApplets:
    for inside, host in files.items():
        copy = root / inside.lstrip("/")
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(host, copy)
    for link, target in links.items():
        path = root / link.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, path)
    fs = FileSystem.scan(root)
    scanner = BusyBoxScanner.for_tree(fs)
    stats = scan_content(fs, [scanner], workers=1)
    assert not stats.failed
    return scanner.result()


@pytest.mark.parametrize("arch", ["armhf", "mipsel", "arm64"])
def test_real_debian_busybox(arch: str, tmp_path: Path) -> None:
    binary = real_busybox(arch, tmp_path / "deb")
    facts = tree(tmp_path / "root", {"/bin/busybox": binary},
                 {"/sbin/udhcpc": "/bin/busybox", "/bin/sh": "busybox", "/usr/bin/wget": "../../bin/busybox"})
    bb, = facts.binaries
    assert (bb.path, bb.version, bb.table_found) == ("/bin/busybox", "1.35.0", True)
    assert len(bb.applets) == 269  # Debian 1:1.35.0-4's static build
    assert {"[", "[[", "ash", "awk", "udhcpc", "udhcpd", "wget", "unlzma", "netstat", "zcat"} <= bb.applets
    assert not {"hush", "busybox.c", "BusyBox"} & bb.applets  # Debian builds ash, not hush
    assert bb.links == ("/bin/sh", "/sbin/udhcpc", "/usr/bin/wget")
    assert bb.linked("udhcpc") == ("/sbin/udhcpc",) and bb.linked("telnetd") == ()


def test_router_build_without_dhcp_client(tmp_path: Path) -> None:
    router = compile_program(tmp_path / "router", ROUTER_APPLETS, "BusyBox v1.24.1 (2016-05-12 10:05:12 CST)")
    facts = tree(tmp_path / "root", {"/bin/busybox": router}, {"/bin/sh": "busybox", "/sbin/udhcpc": "/bin/busybox"})
    bb, = facts.binaries
    assert (bb.version, bb.applets) == ("1.24.1", frozenset(ROUTER_APPLETS))
    assert "udhcpc" not in bb.applets and bb.linked("udhcpc") == ("/sbin/udhcpc",)  # a link is not an applet


def test_renamed_multicall_binary_found_through_links(tmp_path: Path) -> None:
    router = compile_program(tmp_path / "router", ROUTER_APPLETS, "BusyBox v1.24.1 (2016-05-12 10:05:12 CST)")
    links = {f"/bin/{a}": "/bin/multi" for a in ("ash", "cat", "ls")}
    facts = tree(tmp_path / "root", {"/bin/multi": router, "/bin/other": router}, links)
    assert [b.path for b in facts.binaries] == ["/bin/multi"]  # /bin/other: no name, no links, not read


def test_lookalikes(tmp_path: Path) -> None:
    # a sorted name table without the BusyBox banner (toybox-like) is not BusyBox
    toy = compile_program(tmp_path / "toy", ROUTER_APPLETS, "toybox 0.8.9")
    # BusyBox before the generated table (1.01 era): banner, names not in one sorted run: table unknown
    old = compile_program(tmp_path / "old", ("ls", "cat"), "BusyBox v1.01 (2015.03.10-07:17+0000) multi-call binary")
    facts = tree(tmp_path / "root", {"/bin/busybox-toy": toy, "/bin/busybox": old}, {})
    bb, = facts.binaries
    assert (bb.path, bb.version, bb.table_found, bb.applets) == ("/bin/busybox", "1.01", False, frozenset())


def test_at_picks_the_components_binary() -> None:
    from iotcop.firmware.busybox import BusyBoxBinary
    a, b = BusyBoxBinary("/bin/busybox", "1.35.0"), BusyBoxBinary("/rescue/busybox", "1.20.0")
    facts = BusyBoxApplets((a, b))
    assert facts.at(["/rescue/busybox", "/var/lib/dpkg/status"]) == (b,)
    assert facts.at(["/var/lib/dpkg/status"]) == (a, b)


def test_parse_applet_table_edges() -> None:
    names = b"\0".join(n.encode() for n in ROUTER_APPLETS) + b"\0"
    assert parse_applet_table(b"junk\0zzz\0" + names + b"\0\x01\x02") == (9, ROUTER_APPLETS)
    assert parse_applet_table(b"a\0b\0c\0d\0e\0") is None  # too short to be a table
    assert parse_applet_table(b"f\0e\0d\0c\0b\0a\0g\0") is None  # not sorted
    cut = binary_of("/bin/busybox", b"BusyBox v1.2.3 " + names, truncated=True)
    assert cut is not None and not cut.table_found  # a table that runs into the read bound is incomplete


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_hostile_bytes_never_raise(data: bytes) -> None:
    parse_applet_table(data)
    binary_of("/bin/busybox", b"BusyBox v" + data, truncated=False)
    binary_of("/bin/busybox", data, truncated=True)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.from_regex(r"[a-z][a-z0-9_.\-]{0,10}", fullmatch=True), min_size=6, max_size=40, unique=True))
def test_any_sorted_table_is_read_back(names: list[str]) -> None:
    table = tuple(sorted(names))
    blob = b"\x7fELF\0\0" + b"\0".join(n.encode() for n in table) + b"\0\0BusyBox v1.36.1"
    assert parse_applet_table(blob) == (6, table)
