"""iotcop's own SquashFS reader (iotcop.firmware.squashfs) on real images made by ``mksquashfs`` with every
compressor Debian's build has, checked against the source tree and against ``unsquashfs -lln``; on the
real TP-Link image; on big-endian copies of real images; and on hostile images (mutated by hypothesis and
crafted by patching real ones).

mksquashfs cannot write big-endian v4 images and Debian's unsquashfs cannot read them, so
``to_big_endian`` below byte-swaps a real little-endian image field by field. It needs the metadata stored
uncompressed (``mksquashfs -noI -noF``: -noF also keeps the fragment table uncompressed, at the price of
uncompressed fragment blocks) so that every field keeps its place; data blocks stay compressed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import random
import re
import signal
import stat
import struct
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest
from fwimages import TPLINK_WR841N, require_tool, special_files, write_tree
from hypothesis import given, settings
from hypothesis import strategies as st

from iotcop.firmware.squashfs import Node, SquashFS, SquashfsError, extract

MiB = 1 << 20
PSEUDO_DEVICE = ("/dev/ttyS0", stat.S_IFCHR | 0o600, (4, 64))  # made by a mksquashfs pseudo definition
BIG = random.Random(841).randbytes(300 * 1024)  # more than two 128 KiB blocks, no repeats
SPARSE_SIZE = 2 * MiB + 100
TPLINK_OFFSET = 0x120200


# ---------------------------------------------------------------- building real images


@cache
def compressors() -> frozenset[str]:
    """The compressors this mksquashfs was built with (``mksquashfs -help`` lists them)."""
    require_tool("mksquashfs")
    proc = subprocess.run(["mksquashfs", "-help"], capture_output=True, text=True)
    text = proc.stdout + proc.stderr
    section = text.split("Compressors available", 1)[1].split("\n-", 1)[0] if "Compressors available" in text else ""
    return frozenset(re.findall(r"^\s+(gzip|lzma|lzo|lz4|xz|zstd)\b", section, re.MULTILINE))


def make_image(src: Path, out: Path, compressor: str, *extra: str) -> bytes:
    """mksquashfs with owners as in the tree (no -all-root) and one pseudo-defined character device."""
    if compressor not in compressors():
        pytest.skip(f"this mksquashfs has no {compressor} compressor")
    device = f"{PSEUDO_DEVICE[0]} c 600 0 0 {PSEUDO_DEVICE[2][0]} {PSEUDO_DEVICE[2][1]}"
    subprocess.run(["mksquashfs", str(src), str(out), "-noappend", "-no-progress", "-quiet", "-no-xattrs",
                    "-comp", compressor, "-p", device, *extra], check=True, capture_output=True)
    return out.read_bytes()


def build_source(root: Path) -> Path:
    """A root tree with every kind of entry SquashFS records."""
    write_tree(root, files={
        "/etc/nested/deeper/deepest/file.conf": "option = 1\n",
        "/etc/small.txt": "fits in a fragment\n",
        "/etc/empty.txt": b"",
        "/etc/ünïcødé.txt": "a name that is not ASCII\n",
        "/bin/big": BIG,
        "/bin/suid": b"\x7fELF setuid helper\n",
        "/bin/sgid": b"\x7fELF setgid helper\n",
        **{f"/usr/share/many/entry-with-a-longer-name-{i:04d}": f"{i}\n" for i in range(600)},
    }, links={
        "/lib/relative": "../bin/big",
        "/lib/absolute": "/etc/small.txt",
        "/lib/dangling": "/nonexistent/target",
    })
    (root / "empty").mkdir()
    (root / "etc" / "nested" / "empty").mkdir()
    with open(root / "var.sparse", "wb") as fh:  # data, 2 MiB of hole (whole zero blocks), data
        fh.write(b"head" * 1024)
        fh.seek(SPARSE_SIZE - 100)
        fh.write(b"t" * 100)
    os.link(root / "etc" / "small.txt", root / "etc" / "hardlink.txt")
    os.mkfifo(root / "dev" / "fifo")
    if os.geteuid() == 0:  # owners and a real device node need root; the pseudo device and modes do not
        os.mknod(root / "dev" / "console", stat.S_IFCHR | 0o600, os.makedev(5, 1))
        os.chown(root / "bin" / "suid", 1000, 1001)  # chown first: it clears setuid bits
        os.chown(root / "etc" / "small.txt", 33, 44)
    os.chmod(root / "bin" / "suid", 0o4755)
    os.chmod(root / "bin" / "sgid", 0o2711)
    os.chmod(root / "tmp", 0o1777)
    return root


VARIANTS = {  # id → (compressor, extra mksquashfs options)
    "gzip": ("gzip", ()),
    "gzip-uncompressed": ("gzip", ("-noI", "-noD", "-noF")),
    "gzip-tailends": ("gzip", ("-tailends",)),
    "xz": ("xz", ()),
    "xz-bcj-4k": ("xz", ("-Xbcj", "x86", "-b", "4K")),
    "lzma": ("lzma", ()),
    "lz4": ("lz4", ("-Xhc",)),
    "zstd": ("zstd", ()),
    "zstd-1m": ("zstd", ("-b", "1M", "-tailends")),
}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_source(tmp_path_factory.mktemp("src") / "root")


@pytest.fixture(scope="module")
def images() -> dict[str, Path]:
    """Images built so far, one per variant (see ``image``)."""
    return {}


@pytest.fixture(params=sorted(VARIANTS))
def image(request: pytest.FixtureRequest, source: Path, images: dict[str, Path],
          tmp_path_factory: pytest.TempPathFactory) -> Path:
    name = request.param
    if name not in images:
        compressor, extra = VARIANTS[name]
        out = tmp_path_factory.mktemp("img") / f"{name}.sqfs"
        make_image(source, out, compressor, *extra)
        images[name] = out
    return images[name]


# ---------------------------------------------------------------- what the source says


def source_entries(root: Path) -> dict[str, os.stat_result]:
    out = {"/": os.lstat(root)}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            host = os.path.join(dirpath, name)
            out["/" + os.path.relpath(host, root)] = os.lstat(host)
    return out


def sha256_of(chunks: Iterator[bytes] | list[bytes]) -> str:
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(chunk)
    return h.hexdigest()


def check_against_source(fs: SquashFS, root: Path) -> dict[str, Node]:
    nodes = {n.path: n for n in fs.walk()}
    expected = source_entries(root)
    assert set(nodes) == set(expected) | {PSEUDO_DEVICE[0]}
    for path, st_ in expected.items():
        node = nodes[path]
        assert (node.mode, node.uid, node.gid) == (st_.st_mode, st_.st_uid, st_.st_gid), path
        host = root / path.lstrip("/")
        if stat.S_ISREG(st_.st_mode):
            assert node.size == st_.st_size
            assert sha256_of(fs.read(node)) == sha256_of([host.read_bytes()]), path
        elif stat.S_ISLNK(st_.st_mode):
            assert node.target == os.readlink(host)
        elif stat.S_ISCHR(st_.st_mode):
            assert node.device == (os.major(st_.st_rdev), os.minor(st_.st_rdev))
    device = nodes[PSEUDO_DEVICE[0]]
    assert (device.mode, device.uid, device.gid, device.device) == (PSEUDO_DEVICE[1], 0, 0, PSEUDO_DEVICE[2])
    return nodes


# ---------------------------------------------------------------- real images, every compressor


def test_walk_and_read_match_the_source(image: Path, source: Path) -> None:
    fs = SquashFS(image.read_bytes())
    nodes = check_against_source(fs, source)
    assert stat.S_ISFIFO(nodes["/dev/fifo"].mode)
    assert nodes["/bin/suid"].mode == stat.S_IFREG | stat.S_ISUID | 0o755
    assert nodes["/bin/sgid"].mode == stat.S_IFREG | stat.S_ISGID | 0o711
    assert nodes["/tmp"].mode == stat.S_IFDIR | stat.S_ISVTX | 0o777
    if fs.sb.block_size <= 128 * 1024:
        assert 0 in nodes["/var.sparse"].blocks  # mksquashfs kept sparse blocks: the hole path is exercised
    assert b"".join(fs.read(nodes["/bin/big"], limit=1000)) == BIG[:1000]


def test_extract_writes_the_source_and_nothing_special(image: Path, source: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    meta = extract(image.read_bytes(), dest, max_bytes=64 * MiB, max_files=10_000)
    expected = source_entries(source)
    assert meta == {p: (s.st_mode, s.st_uid, s.st_gid) for p, s in expected.items()} | {
        PSEUDO_DEVICE[0]: (PSEUDO_DEVICE[1], 0, 0)}
    for path, st_ in expected.items():
        host, mine = source / path.lstrip("/"), dest / path.lstrip("/")
        if stat.S_ISREG(st_.st_mode):
            assert sha256_of([mine.read_bytes()]) == sha256_of([host.read_bytes()]), path
        elif stat.S_ISLNK(st_.st_mode):
            assert os.readlink(mine) == os.readlink(host)
        elif stat.S_ISDIR(st_.st_mode):
            assert mine.is_dir() and not mine.is_symlink()
        else:  # fifo, device: recorded in meta, never created
            assert not os.path.lexists(mine), path
    assert not os.path.lexists(dest / PSEUDO_DEVICE[0].lstrip("/"))
    assert special_files(dest) == []
    for dirpath, dirnames, filenames in os.walk(dest):
        for name in (*dirnames, *filenames):
            mode = os.lstat(os.path.join(dirpath, name)).st_mode
            assert not mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX), os.path.join(dirpath, name)
    assert os.lstat(dest / "var.sparse").st_size == SPARSE_SIZE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


LISTING = re.compile(r"^([-dlcbps][-rwxsStT]{9}) (\d+)/(\d+) +(?:\d+|\d+, *\d+) \d{4}-\d\d-\d\d \d\d:\d\d (.*)$")


def parse_mode(text: str) -> int:
    mode = {"d": stat.S_IFDIR, "-": stat.S_IFREG, "l": stat.S_IFLNK, "c": stat.S_IFCHR, "b": stat.S_IFBLK,
            "p": stat.S_IFIFO, "s": stat.S_IFSOCK}[text[0]]
    specials = {3: stat.S_ISUID, 6: stat.S_ISGID, 9: stat.S_ISVTX}
    for i, bit in enumerate((0o400, 0o200, 0o100, 0o40, 0o20, 0o10, 0o4, 0o2, 0o1), start=1):
        ch = text[i]
        if ch in "rwxst":
            mode |= bit
        if ch in "sStT":
            mode |= specials[i]
    return mode


def unsquashfs_listing(image: Path) -> dict[str, tuple[int, int, int, str | None]]:
    """path → (mode, uid, gid, link target) from ``unsquashfs -lln``."""
    require_tool("unsquashfs")
    proc = subprocess.run(["unsquashfs", "-lln", "-d", "", str(image)], capture_output=True, check=True)
    out = {}
    for line in proc.stdout.decode("utf-8", "surrogateescape").splitlines():
        m = LISTING.match(line)
        assert m, line
        mode, rest = parse_mode(m.group(1)), m.group(4)
        target = None
        if stat.S_ISLNK(mode):
            rest, target = rest.split(" -> ", 1)
        out[rest or "/"] = (mode, int(m.group(2)), int(m.group(3)), target)
    return out


def test_unsquashfs_listing_agrees(image: Path) -> None:
    ours = {n.path: (n.mode, n.uid, n.gid, n.target) for n in SquashFS(image.read_bytes()).walk()}
    assert ours == unsquashfs_listing(image)


def test_lzo_is_refused_with_a_message(source: Path, tmp_path: Path) -> None:
    data = make_image(source, tmp_path / "lzo.sqfs", "lzo")
    with pytest.raises(SquashfsError, match="lzo compression is not supported"):
        SquashFS(data)
    with pytest.raises(SquashfsError, match="lzo"):
        extract(data, tmp_path / "out", max_bytes=MiB, max_files=100)
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- the real TP-Link image


@pytest.fixture(scope="module")
def tplink(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not TPLINK_WR841N.exists():
        pytest.skip(f"{TPLINK_WR841N} is missing (see shared/fixtures/real/README.md)")
    data = TPLINK_WR841N.read_bytes()[TPLINK_OFFSET:]
    (used,) = struct.unpack_from("<Q", data, 40)
    carved = tmp_path_factory.mktemp("tplink") / "rootfs.sqfs"
    carved.write_bytes(data[:used])
    return carved


def test_tplink_image_agrees_with_unsquashfs(tplink: Path, tmp_path: Path) -> None:
    fs = SquashFS(tplink.read_bytes())
    assert (fs.sb.endian, fs.sb.compressor) == ("little", "lzma")
    listing = unsquashfs_listing(tplink)
    nodes = {n.path: n for n in fs.walk()}
    assert len(nodes) == 560
    assert {p: (n.mode, n.uid, n.gid, n.target) for p, n in nodes.items()} == listing

    theirs, ours = tmp_path / "theirs", tmp_path / "ours"
    subprocess.run(["unsquashfs", "-no-progress", "-no-xattrs", "-d", str(theirs), str(tplink)], capture_output=True)
    meta = extract(tplink.read_bytes(), ours, max_bytes=64 * MiB, max_files=1000)
    assert meta == {p: v[:3] for p, v in listing.items()}
    shadow = (theirs / "etc" / "shadow").read_bytes()
    assert shadow.startswith(b"root:") and (ours / "etc" / "shadow").read_bytes() == shadow
    regular = [p for p, n in nodes.items() if stat.S_ISREG(n.mode)]
    assert len(regular) > 100
    for path in regular:
        assert (ours / path[1:]).read_bytes() == (theirs / path[1:]).read_bytes(), path


# ---------------------------------------------------------------- big-endian copies of real images


class MetaStream:
    """One metadata table as a byte string (the blocks' payloads joined), written back block by block."""

    def __init__(self, image: bytes, start: int, end: int) -> None:
        self.blocks: list[tuple[int, int]] = []  # (payload position, length)
        pos = start
        while pos < end:
            (header,) = struct.unpack_from("<H", image, pos)
            assert header & 0x8000, "to_big_endian needs uncompressed metadata (mksquashfs -noI -noF)"
            self.blocks.append((pos + 2, header & 0x7FFF))
            pos += 2 + (header & 0x7FFF)
        self.data = bytearray(b"".join(image[p:p + n] for p, n in self.blocks))

    def swap(self, at: int, fmt: str) -> tuple[int, ...]:
        values = struct.unpack_from("<" + fmt, self.data, at)
        struct.pack_into(">" + fmt, self.data, at, *values)
        return values

    def write(self, out: bytearray) -> None:
        at = 0
        for pos, n in self.blocks:
            struct.pack_into(">H", out, pos - 2, 0x8000 | n)
            out[pos:pos + n] = self.data[at:at + n]
            at += n


FIXED = {1: "IIHHI", 4: "II", 5: "II", 6: "I", 7: "I", 11: "III", 12: "III", 13: "II", 14: "II"}  # after the header


def swap_inodes(s: MetaStream, block_size: int) -> None:
    at = 0
    while at < len(s.data):
        kind = s.swap(at, "HHHHII")[0]
        at += 16
        if kind in FIXED:  # directories, devices, fifos, sockets
            s.swap(at, FIXED[kind])
            at += struct.calcsize("<" + FIXED[kind])
        elif kind in (2, 9):  # files: then one size word per block
            if kind == 2:
                _, frag, _, size = s.swap(at, "IIII")
                at += 16
            else:
                _, size, _, _, frag, _, _ = s.swap(at, "QQQIIII")
                at += 40
            count = size // block_size if frag != 0xFFFFFFFF else -(-size // block_size)
            for _ in range(count):
                s.swap(at, "I")
                at += 4
        elif kind in (3, 10):  # symlinks: then the target (and an xattr index)
            target_size = s.swap(at, "II")[1]
            at += 8 + target_size
            if kind == 10:
                s.swap(at, "I")
                at += 4
        else:  # 8, extended directory: then its index entries (index, start, name size, name)
            assert kind == 8, kind
            index_count = s.swap(at, "IIIIHHI")[4]
            at += 24
            for _ in range(index_count):
                name_size = s.swap(at, "III")[2]
                at += 12 + name_size + 1


def swap_directories(s: MetaStream) -> None:
    at = 0
    while at < len(s.data):
        count = s.swap(at, "III")[0]
        at += 12
        for _ in range(count + 1):
            name_size = s.swap(at, "HhHH")[3]
            at += 8 + name_size + 1


def swap_lookup_table(image: bytes, out: bytearray, index: int, count: int, fmt: str) -> int:
    """Swap an id, fragment or export table (index of 8-byte pointers to metadata blocks); returns the
    position of its first metadata block."""
    entry = struct.calcsize("<" + fmt)
    pointers = [struct.unpack_from("<Q", image, index + 8 * i)[0] for i in range(-(-count * entry // 8192))]
    for i, pointer in enumerate(pointers):
        struct.pack_into(">Q", out, index + 8 * i, pointer)
        table = MetaStream(image, pointer, pointer + 1)
        for at in range(0, len(table.data), entry):
            table.swap(at, fmt)
        table.write(out)
    return min(pointers, default=index)


def to_big_endian(le: bytes) -> bytes:
    """A big-endian SquashFS 4.0 copy of a little-endian image made with ``mksquashfs -noI -noF -no-xattrs``."""
    fields = struct.unpack_from("<IIIIIHHHHHHQQQQQQQQ", le, 0)
    (_, inodes, _, block_size, fragments, compressor, _, flags, ids, _, _, _, used,
     id_table, xattr_table, inode_table, dir_table, fragment_table, export_table) = fields
    assert xattr_table == (1 << 64) - 1, "to_big_endian does not swap xattr tables (use -no-xattrs)"
    out = bytearray(le)
    struct.pack_into(">IIIIIHHHHHHQQQQQQQQ", out, 0, *fields)
    if flags & 0x400:  # compressor options: one metadata block after the superblock
        options = MetaStream(le, 96, 97)
        options.swap(0, {1: "IHH", 2: "", 3: "II", 4: "II", 5: "II", 6: "I"}[compressor])
        options.write(out)
    ends = [swap_lookup_table(le, out, id_table, ids, "I")]
    if fragments:
        ends.append(swap_lookup_table(le, out, fragment_table, fragments, "QII"))
    if export_table != (1 << 64) - 1:
        ends.append(swap_lookup_table(le, out, export_table, inodes, "Q"))
    inode_stream = MetaStream(le, inode_table, dir_table)
    swap_inodes(inode_stream, block_size)
    inode_stream.write(out)
    dir_stream = MetaStream(le, dir_table, min(e for e in ends if e > dir_table))
    swap_directories(dir_stream)
    dir_stream.write(out)
    assert len(out) >= used
    return bytes(out)


@pytest.mark.parametrize("compressor", ["gzip", "xz", "lzma", "lz4", "zstd"])
def test_big_endian_copy_reads_the_same(compressor: str, source: Path, tmp_path: Path) -> None:
    le = make_image(source, tmp_path / "le.sqfs", compressor, "-noI", "-noF")
    be = to_big_endian(le)
    assert be[:4] == b"sqsh" and be != le
    fs_le, fs_be = SquashFS(le), SquashFS(be)
    assert fs_be.sb == dataclasses.replace(fs_le.sb, endian="big")
    check_against_source(fs_be, source)
    assert list(fs_be.walk()) == list(fs_le.walk())
    meta_le = extract(le, tmp_path / "le", max_bytes=64 * MiB, max_files=10_000)
    meta_be = extract(be, tmp_path / "be", max_bytes=64 * MiB, max_files=10_000)
    assert meta_be == meta_le
    for path, (mode, _, _) in meta_le.items():
        if stat.S_ISREG(mode):
            assert (tmp_path / "be" / path[1:]).read_bytes() == (tmp_path / "le" / path[1:]).read_bytes()


# ---------------------------------------------------------------- hostile input: crafted


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A small image with uncompressed metadata, so that names and inode fields can be patched in place."""
    base = tmp_path_factory.mktemp("plain")
    root = write_tree(base / "root", skeleton=False, files={
        "/a/b/QQ": "one\n", "/a/b/QR": "two\n", "/a/b/QaQ": "three\n", "/c/d/file": "four\n",
    }, links={"/a/link": "/etc/passwd"})
    return make_image(root, base / "plain.sqfs", "gzip", "-noI")


def patch_name(data: bytes, old: bytes, new: bytes) -> bytes:
    (dir_table,) = struct.unpack_from("<Q", data, 72)
    at = data.index(old, dir_table)
    return data[:at] + new + data[at + len(new):]


def ref_of(fs: SquashFS, path: str) -> int:
    """The inode reference of ``path``, found through the reader's own inode and listing parsers."""
    ref, walked = fs.sb.root_inode, "/"
    for name in filter(None, path.split("/")):
        _, listing = fs._inode(ref, walked)
        assert listing is not None, walked
        ref = dict(fs._listing(*listing, walked))[name]
        walked = f"{walked.rstrip('/')}/{name}"
    return ref


def inode_position(data: bytes, ref: int) -> int:
    """Where an inode lies in an image whose inode table is stored uncompressed (-noI)."""
    (inode_table,) = struct.unpack_from("<Q", data, 64)
    return int(inode_table) + (ref >> 16) + 2 + (ref & 0xFFFF)


def point_directory(data: bytes, path: str, at_listing_of: str, in_image: bytes | None = None) -> bytes:
    """Make directory ``path`` list what ``at_listing_of`` lists (in ``in_image``, by default ``data``): copy
    the start block, file size and offset of the listing from one basic directory inode into the other."""
    source = data if in_image is None else in_image
    src = inode_position(source, ref_of(SquashFS(source), at_listing_of))
    dst = inode_position(data, ref_of(SquashFS(data), path))
    assert struct.unpack_from("<H", source, src) == struct.unpack_from("<H", data, dst) == (1,)
    out = bytearray(data)
    out[dst + 16:dst + 20] = source[src + 16:src + 20]  # start_block (nlink follows, then file_size, offset)
    out[dst + 24:dst + 28] = source[src + 24:src + 28]
    return bytes(out)


def assert_refused(data: bytes, tmp_path: Path, message: str) -> None:
    with pytest.raises(SquashfsError, match=message):
        list(SquashFS(data).walk())
    box = tmp_path / "box"
    box.mkdir()
    with pytest.raises(SquashfsError, match=message):
        extract(data, box / "out", max_bytes=MiB, max_files=1000)
    assert [p.name for p in box.iterdir()] == ["out"]
    assert special_files(box) == []


def test_patching_helpers_are_honest(plain: bytes) -> None:
    assert {n.path for n in SquashFS(plain).walk()} == {
        "/", "/a", "/a/b", "/a/b/QQ", "/a/b/QR", "/a/b/QaQ", "/a/link", "/c", "/c/d", "/c/d/file"}
    swapped = point_directory(point_directory(plain, "/a/b", "/c/d"), "/c/d", "/a/b", in_image=plain)
    assert {n.path for n in SquashFS(swapped).walk()} == {
        "/", "/a", "/a/b", "/a/b/file", "/a/link", "/c", "/c/d", "/c/d/QQ", "/c/d/QR", "/c/d/QaQ"}


def test_entry_named_dot_dot(plain: bytes, tmp_path: Path) -> None:
    assert_refused(patch_name(plain, b"QQ", b".."), tmp_path, r"unsafe name '\.\.'")


def test_entry_name_with_a_slash(plain: bytes, tmp_path: Path) -> None:
    assert_refused(patch_name(plain, b"QaQ", b"Q/Q"), tmp_path, r"unsafe name 'Q/Q'")


def test_entry_named_twice(plain: bytes, tmp_path: Path) -> None:
    assert_refused(patch_name(plain, b"QR", b"QQ"), tmp_path, "appears twice")


def test_symlink_target_with_nul(plain: bytes, tmp_path: Path) -> None:
    (inode_table,) = struct.unpack_from("<Q", plain, 64)
    at = plain.index(b"/etc/passwd", inode_table)
    assert_refused(plain[:at + 4] + b"\0" + plain[at + 5:], tmp_path, "symlink target contains NUL")


def test_directory_pointing_at_its_parents_listing(plain: bytes, tmp_path: Path) -> None:
    assert_refused(point_directory(plain, "/a/b", "/a"), tmp_path, "directory loop")


def test_two_directories_pointing_at_each_others_listings(plain: bytes, tmp_path: Path) -> None:
    # /c/d lists what /a lists (b, link) and /a/b what /c lists (d): /c/d/b/d/b/... in a circle
    looped = point_directory(point_directory(plain, "/c/d", "/a"), "/a/b", "/c")
    assert_refused(looped, tmp_path, "directory loop")


def test_more_entries_than_max_files(source: Path, tmp_path: Path) -> None:
    data = make_image(source, tmp_path / "many.sqfs", "gzip")
    with pytest.raises(SquashfsError, match="more than 100 entries"):
        list(SquashFS(data).walk(max_entries=100))
    with pytest.raises(SquashfsError, match="more than 100 entries"):
        extract(data, tmp_path / "out", max_bytes=64 * MiB, max_files=100)
    assert sum(len(f) + len(d) for _, d, f in os.walk(tmp_path / "out")) < 100


def test_huge_sparse_file_stops_at_max_bytes(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "root", skeleton=False, files={"/small": "x"})
    with open(root / "huge.img", "wb") as fh:
        fh.truncate(1 << 30)  # 1 GiB, all of it one hole: mksquashfs writes 8192 sparse blocks, no data
    data = make_image(root, tmp_path / "sparse.sqfs", "xz")
    assert len(data) < 256 * 1024
    huge = next(n for n in SquashFS(data).walk() if n.path == "/huge.img")
    assert huge.size == 1 << 30 and set(huge.blocks) == {0}
    assert sum(len(c) for c in SquashFS(data).read(huge, limit=3 * MiB)) == 3 * MiB
    with pytest.raises(SquashfsError, match=f"exceed the limit of {16 * MiB}"):
        extract(data, tmp_path / "out", max_bytes=16 * MiB, max_files=100)
    assert sum(os.lstat(p).st_blocks * 512 for p in (tmp_path / "out").rglob("*")) < MiB


def test_root_that_is_not_a_directory(plain: bytes, tmp_path: Path) -> None:
    data = bytearray(plain)
    struct.pack_into("<Q", data, 32, ref_of(SquashFS(plain), "/a/b/QQ"))
    assert_refused(bytes(data), tmp_path, "root inode is not a directory")


# ---------------------------------------------------------------- hostile input: mutated (hypothesis)


@pytest.fixture(scope="module")
def small_images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Two small real images (compressed and uncompressed metadata, 4 KiB blocks) cut at bytes_used."""
    base = tmp_path_factory.mktemp("small")
    root = write_tree(base / "root", skeleton=False, files={
        "/etc/passwd": "root:x:0:0:root:/root:/bin/sh\n", "/etc/shadow": "root:$1$abc$def:0:0:::::\n",
        "/bin/prog": random.Random(7).randbytes(9000), "/bin/empty": b"", "/a/b/c/d": "deep\n",
    }, links={"/lib/up": "../../../../etc/passwd", "/lib/abs": "/etc/shadow"}, modes={"/bin/prog": 0o4755})
    out = {}
    for name, extra in (("gzip", ()), ("uncompressed", ("-noI", "-noD", "-noF"))):
        data = make_image(root, base / f"{name}.sqfs", "gzip", "-b", "4K", *extra)
        out[name] = data[:struct.unpack_from("<Q", data, 40)[0]]
    return out


class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def alarm(signum: int, frame: object) -> None:
        raise Hang(f"no result within {seconds} s")
    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def exercise(data: bytes) -> None:
    """Everything the reader offers, on untrusted bytes: SquashfsError or success, nothing else."""
    with tempfile.TemporaryDirectory() as tmp, time_limit(20):
        box = Path(tmp) / "box"
        box.mkdir()
        try:
            fs = SquashFS(data)
            for node in fs.walk(max_entries=200):
                if stat.S_ISREG(node.mode):
                    for _ in fs.read(node, limit=MiB):
                        pass
        except SquashfsError as exc:
            assert str(exc)
        try:
            extract(data, box / "out", max_bytes=4 * MiB, max_files=200)
        except SquashfsError as exc:
            assert str(exc)
        assert [p.name for p in box.iterdir()] in ([], ["out"])
        assert sorted(os.listdir(tmp)) == ["box"]
        if (box / "out").exists():
            assert special_files(box) == []
            for dirpath, dirnames, filenames in os.walk(box / "out"):
                for name in (*dirnames, *filenames):
                    host = os.path.join(dirpath, name)
                    assert not os.lstat(host).st_mode & (stat.S_ISUID | stat.S_ISGID)
                    assert os.path.realpath(dirpath).startswith(os.path.realpath(box / "out"))


KINDS = ["gzip", "uncompressed"]
REGIONS = st.sampled_from(["anywhere", "superblock", "tables"])


def position(data: bytes | bytearray, region: str, n: int) -> int:
    """A byte position: anywhere, in the superblock, or in the tables mksquashfs writes after the data."""
    if region == "superblock":
        return n % 96
    if region == "tables":
        inode_table = int(struct.unpack_from("<Q", data, 64)[0])
        return inode_table + n % (len(data) - inode_table)
    return n % len(data)


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=200, deadline=None)
@given(flips=st.lists(st.tuples(REGIONS, st.integers(min_value=0)), min_size=1, max_size=8))
def test_bit_flips(small_images: dict[str, bytes], kind: str, flips: list[tuple[str, int]]) -> None:
    original = small_images[kind]
    data = bytearray(original)
    for region, n in flips:
        data[position(original, region, n // 8)] ^= 1 << (n % 8)
    exercise(bytes(data))


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=200, deadline=None)
@given(writes=st.lists(st.tuples(REGIONS, st.integers(min_value=0), st.integers(0, 255)), min_size=1, max_size=16))
def test_byte_overwrites(small_images: dict[str, bytes], kind: str, writes: list[tuple[str, int, int]]) -> None:
    original = small_images[kind]
    data = bytearray(original)
    for region, n, value in writes:
        data[position(original, region, n)] = value
    exercise(bytes(data))


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=200, deadline=None)
@given(cut=st.integers(min_value=0), honest_size=st.booleans())
def test_truncations(small_images: dict[str, bytes], kind: str, cut: int, honest_size: bool) -> None:
    data = bytearray(small_images[kind][:cut % len(small_images[kind])])
    if honest_size and len(data) >= 96:  # a superblock that agrees with the cut gets the reader further
        struct.pack_into("<Q", data, 40, len(data))
    exercise(bytes(data))
