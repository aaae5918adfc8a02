"""The read-only view of an extracted tree (iotcop.firmware.filesystem): links resolve inside the image
only, loops end, nothing on the host is ever read through a link."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from fwimages import write_tree
from hypothesis import given, settings
from hypothesis import strategies as st

from iotcop.firmware.filesystem import FileSystem

IMAGE_PASSWD = "root:IMAGE:0:0::/root:/bin/sh\n"


@pytest.fixture(scope="module")
def fs(tmp_path_factory: pytest.TempPathFactory) -> FileSystem:
    base = tmp_path_factory.mktemp("fs")
    (base / "host-secret").write_text("host secret")
    root = write_tree(
        base / "rootfs",
        files={"/etc/passwd": IMAGE_PASSWD, "/usr/lib/libc.so": b"\x7fELF libc", "/etc/config/system": "cfg\n"},
        links={
            "/bin/sh": "busybox",  # relative
            "/sbin/init": "/bin/busybox",  # absolute: relative to the image root
            "/lib": "usr/lib",  # a directory link
            "/etc/chain1": "chain2", "/etc/chain2": "../bin/sh",  # a chain
            "/etc/loop-a": "loop-b", "/etc/loop-b": "/etc/loop-a",  # a loop
            "/etc/self": "self",
            "/nest": "/nest/deeper",  # a directory link through itself (endless in a naive resolver)
            "/etc/escape": "../../../../etc/passwd",  # climbs above the root
            "/etc/hostfile": str(base / "host-secret"),  # absolute host path: not in the image
            "/etc/up": "../../../../" + str(base / "host-secret").lstrip("/"),
            "/etc/dangling": "/tmp/passwd",  # made at run time on the device
            "/etc/through-file": "/etc/passwd/x",
            "/var": "/tmp",
        },
    )
    return FileSystem.scan(root)


@pytest.mark.parametrize(("path", "resolved"), [
    ("/bin/sh", "/bin/busybox"),
    ("/sbin/init", "/bin/busybox"),
    ("/lib/libc.so", "/usr/lib/libc.so"),
    ("/lib", "/usr/lib"),
    ("/etc/chain1", "/bin/busybox"),
    ("/etc/../etc/./passwd", "/etc/passwd"),
    ("etc/passwd", "/etc/passwd"),
    ("/var", "/tmp"),
    ("/", "/"),
])
def test_links_resolve_inside_the_image(fs: FileSystem, path: str, resolved: str) -> None:
    entry = fs.resolve(path)
    assert entry is not None and entry.path == resolved


@pytest.mark.parametrize("path", [
    "/etc/loop-a", "/etc/self", "/nest", "/nest/deeper/x", "/etc/dangling", "/etc/through-file",
    "/etc/passwd/x", "/missing", "/etc/hostfile",
])
def test_unresolvable_paths_are_none(fs: FileSystem, path: str) -> None:
    assert fs.resolve(path) is None
    assert fs.read_bytes(path) is None
    assert path not in fs


def test_a_link_above_the_root_stays_in_the_image(fs: FileSystem) -> None:
    """As on the device, '..' of '/' is '/': the image's /etc/passwd, never the host's."""
    assert fs.read_text("/etc/escape") == IMAGE_PASSWD
    assert fs.read_text("/etc/hostfile") is None
    assert fs.read_text("/etc/up") is None  # climbs to the image root, then finds no such path inside
    assert fs.read_text("/../../../etc/passwd") == IMAGE_PASSWD


def test_lstat_and_metadata(fs: FileSystem) -> None:
    link = fs.lstat("/sbin/init")
    assert link is not None and link.is_symlink and link.link_target == "/bin/busybox"
    assert fs.lstat("/etc/passwd") is not None and fs.lstat("/etc/passwd").is_file  # type: ignore[union-attr]
    assert fs.looks_like_root()
    assert [e.path for e in fs.glob("/etc/loop-*")] == ["/etc/loop-a", "/etc/loop-b"]
    assert fs.read_bytes("/usr/lib/libc.so", limit=4) == b"\x7fELF"
    assert fs.read_bytes("/etc") is None  # a directory has no bytes


def test_not_a_root(tmp_path: Path) -> None:
    fs = FileSystem.scan(write_tree(tmp_path / "data", files={"/www/index.html": "x"}, skeleton=False))
    assert not fs.looks_like_root()


def test_scan_survives_a_deep_tree(tmp_path: Path) -> None:
    """Deeper than Python's recursion limit: os.walk (3.11) would raise RecursionError."""
    root = write_tree(tmp_path / "rootfs")
    fd = os.open(root, os.O_DIRECTORY)
    try:
        for _ in range(1200):
            os.mkdir("d", dir_fd=fd)
            new = os.open("d", os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = new
        with os.fdopen(os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as fh:
            fh.write("leaf\n")
    finally:
        os.close(fd)
    try:
        fs = FileSystem.scan(root)
        assert fs.read_text("/d" * 1200 + "/leaf") == "leaf\n"
    finally:  # pytest removes old temporary directories with shutil.rmtree, which this tree would defeat
        subprocess.run(["rm", "-rf", str(root / "d")], check=True)


NAMES = st.sampled_from(["etc", "bin", "a", "b", "passwd", "busybox", "..", ".", "", "x"])


@settings(max_examples=300, deadline=None)
@given(path=st.lists(NAMES, max_size=12).map("/".join))
def test_resolve_never_raises_and_stays_in_the_view(fs: FileSystem, path: str) -> None:
    entry = fs.resolve(path)
    if entry is not None:
        assert entry.path in {e.path for e in fs.entries()}
        assert not entry.is_symlink


@settings(max_examples=100, deadline=None)
@given(links=st.dictionaries(st.sampled_from(["/a", "/b", "/c", "/etc/x"]),
                             st.lists(NAMES, max_size=6).map("/".join), max_size=4),
       path=st.lists(NAMES, max_size=6).map("/".join))
def test_resolve_terminates_on_arbitrary_links(tmp_path_factory: pytest.TempPathFactory,
                                               links: dict[str, str], path: str) -> None:
    root = write_tree(tmp_path_factory.mktemp("links"), links={k: v or "." for k, v in links.items()})
    fs = FileSystem.scan(root)
    for p in (path, *links):
        entry = fs.resolve(p)
        assert entry is None or not entry.is_symlink
