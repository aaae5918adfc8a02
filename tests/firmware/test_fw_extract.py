"""Extraction (iotcop.firmware.extract) on real artefacts: images made by mksquashfs and GNU tar, hostile
tars crafted with tarfile (as an attacker would), truncated and corrupt images, random bytes."""

from __future__ import annotations

import io
import os
import random
import re
import stat
import struct
import tarfile
import tempfile
from pathlib import Path

import pytest
from fwimages import mksquashfs, special_files, tar_of, write_tree

from iotcop.errors import ImageError
from iotcop.firmware.extract import Limits, extract, find_squashfs
from iotcop.firmware.facts import collect_firmware

PASSWD = "root:x:0:0:root:/root:/bin/sh\nadmin::1000:1000::/home/admin:/bin/sh\n"
SHADOW = "root:$1$abcdefgh$0123456789abcdefghijkl:19000:0:99999:7:::\n"


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small root file system with an absolute and a relative link, setuid and setgid programs."""
    root = tmp_path_factory.mktemp("tree") / "rootfs"
    return write_tree(
        root,
        files={"/etc/passwd": PASSWD, "/etc/shadow": SHADOW, "/usr/bin/passwd": b"\x7fELF passwd stub",
               "/usr/bin/wall": b"\x7fELF wall stub", "/etc/init.d/rcS": "#!/bin/sh\nmount -a\n"},
        links={"/bin/sh": "busybox", "/sbin/init": "/bin/busybox", "/etc/mtab": "/proc/mounts"},
        modes={"/usr/bin/passwd": 0o4755, "/usr/bin/wall": 0o2755, "/etc/shadow": 0o600},
    )


@pytest.fixture(scope="module")
def squashfs(rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    # a device node only the image knows of: mksquashfs pseudo-definitions need no mknod on the host
    return mksquashfs(rootfs, tmp_path_factory.mktemp("img") / "rootfs.sqfs",
                      "-p", "/dev/console c 600 0 0 5 1", "-p", "/dev/mtdblock0 b 640 0 0 31 0")


def _check_rootfs_view(fs_root: object) -> None:
    from iotcop.firmware.filesystem import FileSystem

    assert isinstance(fs_root, FileSystem)
    assert fs_root.read_text("/etc/passwd") == PASSWD
    assert fs_root.resolve("/bin/sh").path == "/bin/busybox"  # relative link
    assert fs_root.resolve("/sbin/init").path == "/bin/busybox"  # absolute link, inside the image
    assert fs_root.resolve("/etc/mtab") is None  # /proc is not in the image: never the host's /proc/mounts


# ---------------------------------------------------------------- squashfs


def test_squashfs_image_is_extracted(squashfs: Path) -> None:
    with extract(squashfs) as result:
        assert [(s.format, s.offset, s.tool, s.outcome) for s in result.steps] == [
            ("squashfs-v4 (gzip)", 0, "unsquashfs", "extracted")]
        assert result.root is not None and result.root.label == "squashfs@0x0"
        _check_rootfs_view(result.root)
        assert result.notes == []


def test_squashfs_after_a_kernel_blob_is_found_at_its_offset(squashfs: Path, tmp_path: Path) -> None:
    kernel = b"\x27\x05\x19\x56" + random.Random(7).randbytes(300_001)  # a uImage-like junk 'kernel'
    image = tmp_path / "firmware.bin"
    image.write_bytes(kernel + squashfs.read_bytes() + b"\xff" * 4096)
    with extract(image) as result:
        # unblob carves the concatenation: the junk 'kernel' is an unidentified region with its entropy
        assert [(s.format, s.offset, s.outcome) for s in result.steps] == [
            ("unknown", 0, "skipped"),
            ("squashfs_v4_le", len(kernel), "extracted"),
            ("padding", len(image.read_bytes()) - 4096, "extracted"),
        ]
        assert result.steps[0].entropy is not None and result.steps[0].entropy > 7.9
        assert result.root is not None and result.root.label == f"squashfs_v4_le@0x{len(kernel):x}"
        _check_rootfs_view(result.root)


def test_setuid_bits_and_owners_are_recorded_but_not_applied(squashfs: Path) -> None:
    with extract(squashfs) as result:
        root = result.root
        assert root is not None
        passwd, wall = root.lstat("/usr/bin/passwd"), root.lstat("/usr/bin/wall")
        assert passwd is not None and passwd.setuid and not passwd.setgid and passwd.uid == 0
        assert wall is not None and wall.setgid and not wall.setuid
        assert sorted(e.path for e in root.entries() if e.setuid or e.setgid) == ["/usr/bin/passwd", "/usr/bin/wall"]
        for path in ("usr/bin/passwd", "usr/bin/wall"):
            on_disk = os.lstat(root.host_root / path)
            assert not on_disk.st_mode & (stat.S_ISUID | stat.S_ISGID), path
            if os.geteuid() == 0:  # unsquashfs ran as nobody: the image's root owner was not applied
                assert on_disk.st_uid == 65534


def test_squashfs_device_nodes_are_recorded_never_created(squashfs: Path) -> None:
    with extract(squashfs) as result:
        root = result.root
        assert root is not None and result.workdir is not None
        console, mtd = root.lstat("/dev/console"), root.lstat("/dev/mtdblock0")
        assert console is not None and stat.S_ISCHR(console.mode) and not console.is_file
        assert mtd is not None and stat.S_ISBLK(mtd.mode)
        assert root.read_bytes("/dev/console") is None
        assert special_files(result.workdir) == []


def test_truncated_squashfs_is_a_failed_step_not_an_exception(squashfs: Path, tmp_path: Path) -> None:
    data = squashfs.read_bytes()
    (bytes_used,) = struct.unpack_from("<Q", data, 40)  # mksquashfs pads to 4 KiB: cut the file system itself
    image = tmp_path / "truncated.bin"
    image.write_bytes(b"\0" * 512 + data[: bytes_used // 2])
    with extract(image) as result:
        assert result.root is None and result.filesystems == []
        [step] = result.steps
        assert (step.format, step.offset, step.outcome) == ("squashfs-v4 (gzip)", 512, "failed")
        assert step.message.startswith("truncated: the superblock says")


def test_corrupt_squashfs_is_a_failed_step(squashfs: Path, tmp_path: Path) -> None:
    data = bytearray(squashfs.read_bytes())
    data[96:] = bytes(len(data) - 96)  # a valid superblock in front of zeroed tables
    image = tmp_path / "corrupt.bin"
    image.write_bytes(data)
    facts = collect_firmware(image)
    try:
        assert facts.root is None
        assert [(s.offset, s.outcome) for s in facts.extraction.steps] == [(0, "failed")]
        assert "corruption" in facts.extraction.steps[0].message
        assert "squashfs-v4 (gzip) at 0x0" in facts.no_root_reason
    finally:
        facts.close()


def test_unknown_compressor_names_the_reason(squashfs: Path, tmp_path: Path) -> None:
    data = bytearray(squashfs.read_bytes())
    struct.pack_into("<H", data, 20, 7)  # compressor id 7 does not exist
    image = tmp_path / "odd.bin"
    image.write_bytes(data)
    with extract(image) as result:
        [step] = result.steps
        assert (step.format, step.outcome) == ("squashfs-v4 (unknown(7))", "failed")
        assert "unknown compression" in step.message


def test_find_squashfs_ignores_a_bare_magic() -> None:
    assert find_squashfs(b"junk hsqs junk" + b"\0" * 200) == []


# ---------------------------------------------------------------- tar


@pytest.mark.parametrize("compress", [False, True], ids=["tar", "tar.gz"])
@pytest.mark.parametrize("top", [True, False], ids=["top-dir", "flat"])
def test_tar_of_a_rootfs(rootfs: Path, tmp_path: Path, compress: bool, top: bool) -> None:
    image = tar_of(rootfs, tmp_path / ("fw.tar.gz" if compress else "fw.tar"), top=top, compress=compress)
    with extract(image) as result:
        expected = [("gzip", 0, "extracted"), ("tar", 1, "extracted")] if compress else [("tar", 0, "extracted")]
        assert [(s.format, s.depth, s.outcome) for s in result.steps] == expected
        assert result.root is not None
        _check_rootfs_view(result.root)
        passwd = result.root.lstat("/usr/bin/passwd")
        assert passwd is not None and passwd.setuid  # recorded from the archive ...
        assert not os.lstat(result.root.host_root / "usr/bin/passwd").st_mode & stat.S_ISUID  # ... not applied


def _tar_bytes(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data else None)
    return buf.getvalue()


def _member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"",
            **attrs: object) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.mode = 0o644
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, data


def test_hostile_tar_lands_nothing_outside_and_creates_no_device(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "tmp"
    work.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(work))  # the extraction's work dir goes under tmp_path
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host secret")
    up = "../" * (len(work.parts) + 4)  # far enough to leave any destination below work/
    members = [
        _member("../evil", data=b"climbed out"),
        _member(str(tmp_path / "abs-target"), data=b"absolute name"),
        _member("etc/escape", tarfile.SYMTYPE, linkname=up + str(outside).lstrip("/")),
        _member("etc/escape/pwned", data=b"through a link"),
        _member("etc/hard", tarfile.LNKTYPE, linkname=str(outside / "secret")),
        _member("dev/", tarfile.DIRTYPE, mode=0o755),
        _member("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666),
        _member("dev/sda", tarfile.BLKTYPE, devmajor=8, devminor=0),
        _member("bin/", tarfile.DIRTYPE, mode=0o755),
        _member("bin/busybox", data=b"\x7fELF", mode=0o755),
        _member("bin/su", data=b"\x7fELF su", mode=0o4755),
        _member("lib/libc.so", data=b"\x7fELF"),
        _member("etc/passwd", data=PASSWD.encode()),
        _member("etc/shadow", data=b"root:IMAGE-SHADOW:1::::::\n"),
        _member("etc/hostshadow", tarfile.SYMTYPE, linkname="/etc/shadow"),
        _member("etc/ext", tarfile.SYMTYPE, linkname=str(outside / "secret")),
    ]
    image = tmp_path / "hostile.tar"
    image.write_bytes(_tar_bytes(members))

    result = extract(image)  # never raises for bad content
    try:
        assert result.workdir is not None
        [step] = result.steps
        assert (step.format, step.outcome) == ("tar", "extracted")
        refused = step.message
        for name in ("../evil", "etc/escape", "etc/hard", "dev/null", "dev/sda"):
            assert repr(name) in refused, name
        assert "etc/passwd" not in refused and "hostshadow" not in refused

        # nothing outside the work dir, nothing through the refused link, no device node anywhere
        assert sorted(p.name for p in tmp_path.iterdir()) == ["hostile.tar", "outside", "tmp"]
        assert sorted(p.name for p in outside.iterdir()) == ["secret"]
        assert [p.name for p in work.iterdir()] == [result.workdir.name]
        assert special_files(result.workdir) == []

        root = result.root
        assert root is not None
        assert root.read_text("/etc/passwd") == PASSWD
        assert root.lstat(str(tmp_path / "abs-target")) is not None  # '/abs/path' is re-rooted inside
        assert root.read_text("/etc/hostshadow") == "root:IMAGE-SHADOW:1::::::\n"  # the image's, not the host's
        assert root.resolve("/etc/ext") is None and root.read_text("/etc/ext") is None
        assert root.read_text("/etc/escape/pwned") == "through a link"  # a plain directory inside the image
        null = root.lstat("/dev/null")
        assert null is not None and stat.S_ISCHR(null.mode)  # recorded, not created
        su = root.lstat("/bin/su")
        assert su is not None and su.setuid
        assert not os.lstat(root.host_root / "bin/su").st_mode & stat.S_ISUID
    finally:
        result.close()
    assert list(work.iterdir()) == []


def test_a_refused_member_does_not_hide_the_top_directory(tmp_path: Path) -> None:
    image = tmp_path / "fw.tar"
    image.write_bytes(_tar_bytes([
        _member("../evil", data=b"x"), _member("rootfs/etc/passwd", data=PASSWD.encode()),
        _member("rootfs/bin/busybox", data=b"\x7fELF"),
        _member("rootfs/bin/sh", tarfile.SYMTYPE, linkname="/bin/busybox"),
    ]))
    with extract(image) as result:
        assert result.root is not None and result.root.read_text("/etc/passwd") == PASSWD
        assert result.root.resolve("/bin/sh").path == "/bin/busybox"
        assert "'../evil'" in result.steps[0].message
        assert not (tmp_path / "evil").exists()


def test_zero_padding_is_not_taken_for_an_empty_tar(squashfs: Path, tmp_path: Path) -> None:
    """tarfile.is_tarfile accepts a zero block; firmware often starts with zero padding."""
    image = tmp_path / "padded.bin"
    image.write_bytes(b"\0" * 4096 + squashfs.read_bytes())
    with extract(image) as result:
        assert [(s.format, s.offset, s.outcome) for s in result.steps] == [
            ("padding", 0, "extracted"), ("squashfs_v4_le", 4096, "extracted")]
        assert result.root is not None


# ---------------------------------------------------------------- other inputs


def test_directory_input_is_read_in_place(rootfs: Path) -> None:
    with extract(rootfs) as result:
        assert [(s.format, s.outcome) for s in result.steps] == [("directory", "extracted")]
        assert result.workdir is None
        assert result.root is not None and result.root.host_root == rootfs
        _check_rootfs_view(result.root)


def test_random_bytes_give_a_note_with_the_entropy(tmp_path: Path) -> None:
    image = tmp_path / "encrypted.bin"
    image.write_bytes(random.Random(1).randbytes(1 << 18))
    with extract(image) as result:
        assert result.root is None and result.steps == []  # unblob identified nothing at all
        [note] = result.notes  # the entropy is the evidence left
        match = re.search(r"no file system or known format was found in the image; "
                          r"entropy (\d\.\d\d) bits/byte: compressed or encrypted", note)
        assert match and float(match[1]) > 7.9


@pytest.mark.parametrize("kind", ["missing", "empty", "fifo"])
def test_unopenable_images_raise_image_error(tmp_path: Path, kind: str) -> None:
    image = tmp_path / "fw.bin"
    if kind == "empty":
        image.write_bytes(b"")
    elif kind == "fifo":  # like /dev/zero or a pipe: it would be read for ever
        os.mkfifo(image)
    with pytest.raises(ImageError, match=re.escape(str(image))):
        collect_firmware(image)


# ---------------------------------------------------------------- limits and clean-up


def test_squashfs_file_limit(squashfs: Path) -> None:
    with extract(squashfs, Limits(max_files=3)) as result:
        [step] = result.steps
        assert step.outcome == "limit" and "limit of 3 files" in step.message
        assert result.root is None


def test_squashfs_expansion_ratio_limit(squashfs: Path) -> None:
    with extract(squashfs, Limits(max_ratio=0.001)) as result:
        assert [s.outcome for s in result.steps] == ["limit"]
        assert "expansion-ratio" in result.steps[0].message


def test_tar_file_limit(rootfs: Path, tmp_path: Path) -> None:
    image = tar_of(rootfs, tmp_path / "fw.tar", top=True, compress=False)
    with extract(image, Limits(max_files=3)) as result:
        assert [(s.format, s.outcome) for s in result.steps] == [("tar", "limit")]
        assert result.root is None


def test_workdir_is_removed_on_close(squashfs: Path) -> None:
    result = extract(squashfs)
    workdir = result.workdir
    assert workdir is not None and workdir.is_dir()
    result.close()
    assert result.workdir is None and not workdir.exists()
    result.close()  # idempotent


def test_a_very_deep_tree_neither_crashes_nor_leaks(tmp_path: Path) -> None:
    """1200 nested directories: deeper than Python's recursion limit (os.walk and shutil.rmtree recurse)."""
    depth = 1200
    pseudo = tmp_path / "pseudo"
    pseudo.write_text("".join(f"{'/d' * i} d 755 0 0\n" for i in range(1, depth + 1))
                      + f"{'/d' * depth}/passwd f 644 0 0 echo deep\n")
    image = mksquashfs(write_tree(tmp_path / "tree", files={"/etc/passwd": PASSWD}), tmp_path / "deep.sqfs",
                       "-pf", str(pseudo))
    result = extract(image)
    workdir = result.workdir
    assert result.root is not None
    assert result.root.read_text("/d" * depth + "/passwd") == "deep\n"
    result.close()
    assert workdir is not None and not workdir.exists()
