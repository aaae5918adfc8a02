"""Hostile firmware: bombs, traversal, links out of the root and in loops, device nodes, truncated and
random data, deep nesting, Ctrl-C, and mutated valid images. Whatever the input, ``extract()`` returns a
logged outcome, writes nowhere but its work directory, creates no special file, and leaves nothing behind
after ``close()``.

Every test runs in a ``Sandbox``: tempfile's directory and $TMPDIR point into the test's own directory,
the working directory is an empty one beside it, and a 'host' directory holds a secret. The whole test
directory is snapshotted before extraction and compared after close.
"""

from __future__ import annotations

import _thread
import gzip
import io
import os
import random
import re
import shutil
import stat
import struct
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from build_formats import FormatImages, MiB, tar
from fwimages import mksquashfs, special_files, write_tree
from hypothesis import example, given, settings
from hypothesis import strategies as st

from iotcop.errors import ImageError
from iotcop.firmware.extract import Extraction, Limits, extract
from iotcop.model import ExtractionStep

SECRET = b"host secret: must never be read through the image\n"
CAP = 50 * MiB
SIZE_WORDS = re.compile(r"bytes?|MiB|GiB|size|ratio|limit", re.IGNORECASE)


def log(ex: Extraction) -> str:
    return "\n".join(f"  depth {s.depth} {s.format} @0x{s.offset:x} +{s.size} {s.tool}: {s.outcome} {s.message[:160]}"
                     for s in ex.steps) + "".join(f"\n  note: {n}" for n in ex.notes)


def limit_steps(ex: Extraction) -> list[ExtractionStep]:
    return [s for s in ex.steps if s.outcome == "limit"]


def usage(root: Path) -> int:
    """Bytes on disk below ``root`` (blocks, like the limit, or the size of a sparse file's data)."""
    total, stack = 0, [str(root)]
    while stack:
        try:
            items = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for item in items:
            try:
                st_ = item.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st_.st_mode):
                stack.append(item.path)
            else:
                total += st_.st_blocks * 512
    return total


class Sandbox:
    """The test's directory as the whole world extraction may see and touch."""

    def __init__(self, base: Path) -> None:
        self.base, self.tmp, self.cwd, self.host = base, base / "tmp", base / "cwd", base / "host"
        for d in (self.tmp, self.cwd, self.host):
            d.mkdir()
        (self.host / "secret").write_bytes(SECRET)
        self.peak = 0

    def snapshot(self) -> dict[str, tuple[int, int, int]]:
        """Every path below the test's directory but the temp dir: type and permission bits, size, mtime."""
        out = {}
        for path in sorted(self.base.rglob("*")):
            if path == self.tmp or self.tmp in path.parents:
                continue
            st_ = path.lstat()
            out[str(path.relative_to(self.base))] = (st_.st_mode, st_.st_size, st_.st_mtime_ns)
        return out

    def image(self, name: str, data: bytes) -> Path:
        (self.base / name).write_bytes(data)
        return self.base / name

    @contextmanager
    def extracting(self, image: Path, limits: Limits | None = None) -> Iterator[Extraction]:
        """``extract()`` watched: peak disk use of the temp dir, no write outside it, all gone on close."""
        before = self.snapshot()
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                self.peak = max(self.peak, usage(self.tmp))
                time.sleep(0.005)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            ex = extract(image, limits)
        finally:
            done.set()
            watcher.join()
        workdir = ex.workdir
        try:
            assert workdir is None or self.tmp in workdir.parents, f"work dir {workdir} is not in the temp dir"
            assert workdir is None or special_files(workdir) == []
            yield ex
        finally:
            ex.close()
        assert workdir is None or not workdir.exists(), "the work dir outlived close()"
        assert list(self.tmp.iterdir()) == [], "left in the temp dir after close()"
        assert self.snapshot() == before, "something outside the work dir changed"


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> FormatImages:
    return FormatImages(tmp_path_factory.getbasetemp() / "fw-formats")


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """Made in the system's temp dir, not in pytest's private (0700) one: run as root, iotcop unpacks as
    'nobody', which must reach its work dir (see test_a_private_temp_dir_is_no_obstacle)."""
    base = Path(tempfile.mkdtemp(prefix="iotcop-sandbox-"))
    base.chmod(0o755)
    box = Sandbox(base)
    box.tmp.chmod(0o755)
    monkeypatch.setattr(tempfile, "tempdir", str(box.tmp))
    monkeypatch.setenv("TMPDIR", str(box.tmp))
    monkeypatch.chdir(box.cwd)
    yield box
    monkeypatch.undo()
    for path in (base, *base.rglob("*")):  # whatever a failed test left, read-only or not
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o700)
    shutil.rmtree(base)


# ---------------------------------------------------------------- limits


@pytest.mark.parametrize("name", ["bomb.gz", "bomb.xz", "zip-bomb"])
def test_a_bomb_stops_at_the_byte_cap(name: str, images: FormatImages, sandbox: Sandbox) -> None:
    """A few hundred KiB that expand to 0.5-1 GiB: stopped near 50 MiB, with a message naming the limit."""
    started = time.monotonic()
    with sandbox.extracting(images.path(name), Limits(max_total_bytes=CAP)) as ex:
        assert ex.root is None
        [*_, step] = limit_steps(ex) or [None]
        assert step is not None, f"no limit step; log:\n{log(ex)}"
        assert SIZE_WORDS.search(step.message), step.message
    assert sandbox.peak <= 2 * CAP, f"{sandbox.peak / MiB:.0f} MiB on disk for a cap of {CAP / MiB:.0f} MiB"
    assert time.monotonic() - started < 60


def test_the_expansion_ratio_limit(images: FormatImages, sandbox: Sandbox) -> None:
    with sandbox.extracting(images.path("bomb.gz"), Limits(max_ratio=50, max_total_bytes=4 * CAP)) as ex:
        assert any("ratio" in s.message for s in limit_steps(ex)), log(ex)
    assert sandbox.peak <= 4 * CAP


def test_the_time_limit(images: FormatImages, sandbox: Sandbox) -> None:
    with sandbox.extracting(images.path("bomb.xz"), Limits(seconds_per_layer=0.01, max_total_bytes=4 * CAP)) as ex:
        assert any(re.search(r"time|second|\d s\b", s.message) for s in limit_steps(ex)), log(ex)


@pytest.mark.parametrize("kind", ["tar", "cpio"])
def test_the_file_count_limit(kind: str, sandbox: Sandbox) -> None:
    tree = write_tree(sandbox.base / "many", files={f"/etc/f{i:03}": "x\n" for i in range(300)})
    image = sandbox.base / f"many.{kind}"
    if kind == "tar":
        tar(tree, image)
    else:
        image.write_bytes(newc([(p, 0o100644, b"x\n") for p in sorted(f"etc/f{i:03}" for i in range(300))]))
    with sandbox.extracting(image, Limits(max_files=100)) as ex:
        assert any("files" in s.message for s in limit_steps(ex)), log(ex)


def test_max_depth_trips_on_deep_nesting(images: FormatImages, sandbox: Sandbox) -> None:
    """The root fs tar lies 9 layers down (8 gzips): a depth limit of 3 stops short of it and says so."""
    with sandbox.extracting(images.path("deep-gzip"), Limits(max_depth=3)) as ex:
        assert ex.root is None
        assert any("deep" in s.message or "depth" in s.message for s in limit_steps(ex)), log(ex)
        assert max(s.depth for s in ex.steps) <= 4, log(ex)


def test_enough_depth_reaches_the_deep_root(images: FormatImages, sandbox: Sandbox) -> None:
    with sandbox.extracting(images.path("deep-gzip"), Limits(max_depth=12)) as ex:
        assert ex.root is not None and ex.root.read_bytes("/etc/shadow") == images.shadow, log(ex)
        assert limit_steps(ex) == []


def _interrupted_extraction(images: FormatImages, sandbox: Sandbox) -> tuple[bool, bool]:
    """(the interrupt was sent, KeyboardInterrupt reached the caller)."""
    fired, done = threading.Event(), threading.Event()

    def interrupt() -> None:
        deadline = time.monotonic() + 5
        while not done.is_set() and time.monotonic() < deadline:
            if any(sandbox.tmp.iterdir()) and usage(sandbox.tmp) > 64 * 1024:  # unpacking has begun
                fired.set()
                _thread.interrupt_main()
                return
            time.sleep(0.002)

    watcher = threading.Thread(target=interrupt, daemon=True)
    interrupted = False
    try:
        watcher.start()
        ex = extract(images.path("bomb.gz"), Limits(max_total_bytes=CAP))
        done.set()
        ex.close()
        watcher.join()
    except KeyboardInterrupt:
        interrupted = True
    done.set()
    watcher.join()
    return fired.is_set(), interrupted


def test_ctrl_c_during_extraction_leaves_nothing(images: FormatImages, sandbox: Sandbox) -> None:
    """KeyboardInterrupt as soon as the work dir exists: it propagates, and the work dir and every child
    process writing into it are gone. Python drops an interrupt that lands in a finaliser or a logging
    lock's release ("Exception ignored in ..."), which a busy machine makes likelier: up to three tries."""
    for _ in range(3):
        fired, interrupted = _interrupted_extraction(images, sandbox)
        if not fired:
            pytest.skip("extraction ended before it could be interrupted")
        if interrupted:
            break
    assert interrupted
    deadline = time.monotonic() + 5  # a killed extractor may take a moment to go
    while any(sandbox.tmp.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(sandbox.tmp.iterdir()) == []


# ---------------------------------------------------------------- traversal, links, special files


def tar_bytes(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if data else None)
    return buf.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"",
           **attrs: object) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.mode = kind, 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, data


def rootfs_members(shadow: bytes) -> list[tuple[tarfile.TarInfo, bytes]]:
    return [member(d, tarfile.DIRTYPE) for d in ("etc", "bin", "lib", "dev")] + [
        member("etc/passwd", data=b"root:x:0:0::/root:/bin/sh\n"), member("etc/shadow", data=shadow),
        member("bin/busybox", data=b"\x7fELF" + bytes(60), mode=0o755)]


@pytest.mark.parametrize("wrap", ["tar", "tar.gz"])
def test_tar_with_traversal_and_absolute_entries(wrap: str, sandbox: Sandbox) -> None:
    host = sandbox.host
    up = "../" * 40
    hostile = [
        member("../escaped", data=b"climbed out"),
        member(up + str(host / "overwritten").lstrip("/"), data=b"far up"),
        member(str(host / "absolute"), data=b"absolute name"),
        member("etc/up", tarfile.SYMTYPE, linkname=up + str(host).lstrip("/")),
        member("etc/up/pwned", data=b"through a link"),
        member("etc/abs", tarfile.SYMTYPE, linkname=str(host)),
        member("etc/abs/pwned2", data=b"through an absolute link"),
        member("etc/hard", tarfile.LNKTYPE, linkname=str(host / "secret")),
        member("etc/secret-link", tarfile.SYMTYPE, linkname=str(host / "secret")),
    ]
    data = tar_bytes(rootfs_members(b"root:IMAGE:1::::::\n") + hostile)
    if wrap == "tar.gz":
        data = gzip.compress(data, mtime=0)
    with sandbox.extracting(sandbox.image(f"hostile.{wrap}", data)) as ex:
        root = ex.root
        assert root is not None, log(ex)
        assert root.read_bytes("/etc/shadow") == b"root:IMAGE:1::::::\n"
        for link in ("/etc/secret-link", "/etc/hard", "/etc/up", "/etc/abs"):
            assert root.read_bytes(link) != SECRET, link
        text = log(ex)
        assert "../escaped" in text, f"the refused member is not named; log:\n{text}"
    assert sorted(p.name for p in sandbox.host.iterdir()) == ["secret"]


def newc(entries: list[tuple[str, int, bytes]], rdev: dict[str, tuple[int, int]] | None = None) -> bytes:
    """A cpio 'newc' archive, crafted (GNU cpio reads members from disk and refuses to write '../'
    names): (name, mode with type bits, data or link target) per entry, following the format of
    cpio(5): '070701', 13 fields of 8 hex digits, the name, padding to 4 bytes, the data, padding."""
    out = bytearray()
    for ino, (name, mode, data) in enumerate([*entries, ("TRAILER!!!", 0, b"")], start=1):
        major, minor = (rdev or {}).get(name, (0, 0))
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, major, minor, len(name) + 1, 0)
        out += b"070701" + b"".join(b"%08X" % f for f in fields) + name.encode() + b"\0"
        out += bytes(-len(out) % 4)  # entries start 4-aligned, so the offset is the header's alignment
        out += data + bytes(-len(data) % 4)
    return bytes(out.ljust(-(-len(out) // 512) * 512, b"\0"))


def test_cpio_with_device_nodes_a_fifo_and_traversal(sandbox: Sandbox) -> None:
    d, f, link = stat.S_IFDIR | 0o755, stat.S_IFREG | 0o644, stat.S_IFLNK | 0o777
    entries = [
        (".", d, b""), ("etc", d, b""), ("bin", d, b""), ("lib", d, b""), ("dev", d, b""),
        ("etc/passwd", f, b"root:x:0:0::/root:/bin/sh\n"), ("etc/shadow", f, b"root:CPIO:1::::::\n"),
        ("bin/busybox", stat.S_IFREG | 0o755, b"\x7fELF" + bytes(60)),
        ("bin/su", stat.S_IFREG | 0o4755, b"\x7fELF su"),
        ("dev/console", stat.S_IFCHR | 0o600, b""), ("dev/mtdblock0", stat.S_IFBLK | 0o640, b""),
        ("dev/initctl", stat.S_IFIFO | 0o600, b""), ("dev/log", stat.S_IFSOCK | 0o666, b""),
        ("../escaped", f, b"climbed out"), (str(sandbox.host / "absolute"), f, b"absolute name"),
        ("etc/secret-link", link, str(sandbox.host / "secret").encode()),
        ("etc/up", link, ("../" * 40 + str(sandbox.host).lstrip("/")).encode()),
        ("etc/up/pwned", f, b"through a link"),
    ]
    image = sandbox.image("initramfs.cpio", newc(entries, rdev={"dev/console": (5, 1), "dev/mtdblock0": (31, 0)}))
    with sandbox.extracting(image) as ex:
        root = ex.root
        assert root is not None, log(ex)
        assert root.read_bytes("/etc/shadow") == b"root:CPIO:1::::::\n"
        assert root.read_bytes("/dev/console") is None and root.read_bytes("/dev/initctl") is None
        assert root.read_bytes("/etc/secret-link") != SECRET
        su = root.lstat("/bin/su")
        assert su is not None and su.setuid, "the setuid bit is recorded"
        assert not os.lstat(root.host_root / "bin" / "su").st_mode & stat.S_ISUID, "... and not applied"
    assert sorted(p.name for p in sandbox.host.iterdir()) == ["secret"]


def test_squashfs_links_out_of_the_root_and_in_loops(sandbox: Sandbox) -> None:
    secret = str(sandbox.host / "secret")
    tree = write_tree(sandbox.base / "tree", files={"/etc/shadow": "root:SQUASH:1::::::\n"}, links={
        "/etc/abs-out": secret, "/etc/rel-out": "../" * 40 + secret.lstrip("/"), "/etc/dir-out": str(sandbox.host),
        "/etc/root": "/", "/etc/dotdot": "../..", "/loop/a": "b", "/loop/b": "a", "/loop/self": "self",
        "/loop/dir": ".", "/loop/chain": "../loop/a"})
    image = mksquashfs(tree, sandbox.base / "links.sqfs")
    with sandbox.extracting(image) as ex:
        root = ex.root
        assert root is not None, log(ex)
        for link in ("/etc/abs-out", "/etc/rel-out", "/etc/dir-out/secret", "/etc/root/" + secret.lstrip("/")):
            assert root.read_bytes(link) != SECRET, link
            target = root.resolve(link)
            assert target is None or not target.path.startswith(str(sandbox.host)), link
        assert root.read_bytes("/etc/dotdot/etc/shadow") == b"root:SQUASH:1::::::\n"  # '..' stops at the root
        for link in ("/loop/a", "/loop/b", "/loop/self", "/loop/chain"):
            assert root.resolve(link) is None, link
            assert root.read_bytes(link) is None, link
        assert root.resolve("/loop/dir/dir/dir/a") is None


# ---------------------------------------------------------------- broken and meaningless data


def test_truncated_squashfs_is_a_failed_step(images: FormatImages, sandbox: Sandbox) -> None:
    data = images.path("squashfs-xz").read_bytes()
    (bytes_used,) = struct.unpack_from("<Q", data, 40)
    with sandbox.extracting(sandbox.image("cut.sqfs", data[: bytes_used // 2])) as ex:
        assert ex.root is None
        failed = [s for s in ex.steps if s.outcome == "failed" and "squashfs" in s.format.lower()]
        assert failed and "truncat" in failed[0].message, log(ex)


@pytest.mark.parametrize("name", ["tar.gzip", "tar.xz", "tar.bzip2", "tar.lzma"])
def test_a_truncated_compressed_tar_is_a_failed_step(name: str, images: FormatImages, sandbox: Sandbox) -> None:
    data = images.path(name).read_bytes()
    with sandbox.extracting(sandbox.image("cut.bin", data[: len(data) // 2])) as ex:
        assert [s for s in ex.steps if s.outcome == "failed"], log(ex)


def test_random_bytes_are_logged_with_their_entropy(sandbox: Sandbox) -> None:
    with sandbox.extracting(sandbox.image("noise.bin", random.Random(3).randbytes(1 << 17))) as ex:
        assert ex.filesystems == [] and ex.root is None
        entropies = [s.entropy for s in ex.steps if s.entropy is not None]
        entropies += [float(m[1]) for n in ex.notes if (m := re.search(r"entropy (\d+(?:\.\d+)?)", n))]
        assert any(e > 7.9 for e in entropies), log(ex)


def test_an_empty_file_is_a_clear_outcome(sandbox: Sandbox) -> None:
    image = sandbox.image("empty.bin", b"")
    try:
        with sandbox.extracting(image) as ex:
            assert ex.filesystems == []
            assert ex.steps or ex.notes, "nothing says why nothing was found"
    except ImageError as exc:  # the documented error for an image that cannot be read at all
        assert "empty" in str(exc)


def test_a_private_temp_dir_is_no_obstacle(images: FormatImages, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Run as root, iotcop unpacks as 'nobody'; a 0700 $TMPDIR (pytest's, a CI runner's, a user's
    runtime dir) must not make every carved layer fail."""
    if os.geteuid() != 0:
        pytest.skip("privileges are dropped only when running as root")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    monkeypatch.setenv("TMPDIR", str(private))
    with extract(images.path("cpio.gz")) as ex:
        assert ex.root is not None and ex.root.read_bytes("/etc/shadow") == images.shadow, log(ex)


# ---------------------------------------------------------------- mutated valid images (hypothesis)

# iotcop's own parsers (SquashFS reader, tar over gzip/xz/bzip2) and two unblob-carved containers
MUTATED = ["squashfs-gzip", "squashfs-xz", "squashfs-lzma", "tar", "tar.gzip", "tar.xz", "tar.bzip2", "cpio.gz", "trx"]


def extract_cleanly(data: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="iotcop-mutant-") as tmp:
        image = Path(tmp) / "mutant.bin"
        image.write_bytes(data)
        ex = extract(image, Limits(max_total_bytes=64 * MiB, seconds_per_layer=30))
        workdir = ex.workdir
        try:
            assert ex.steps or ex.notes, "nothing logged"
            assert all(s.outcome in ("extracted", "failed", "skipped", "limit") for s in ex.steps)
            assert workdir is None or special_files(workdir) == []
            if ex.root is not None:
                ex.root.read_bytes("/etc/shadow")
        finally:
            ex.close()
        assert workdir is None or not workdir.exists()


@settings(max_examples=50, deadline=None)
@example(name="tar.xz", flips=[(1220, 0)], head=False)  # found by hypothesis: LZMAError out of tarfile
@given(name=st.sampled_from(MUTATED), flips=st.lists(st.tuples(st.integers(0, 1 << 30), st.integers(0, 7)),
                                                     min_size=1, max_size=8), head=st.booleans())
def test_bit_flips_never_raise(images: FormatImages, name: str, flips: list[tuple[int, int]], head: bool) -> None:
    data = bytearray(images.path(name).read_bytes())
    span = min(len(data), 512) if head else len(data)  # headers and superblocks are where parsers trust most
    for position, bit in flips:
        data[position % span] ^= 1 << bit
    extract_cleanly(bytes(data))


@settings(max_examples=30, deadline=None)
@given(name=st.sampled_from(MUTATED), cut=st.floats(0.0, 1.0, exclude_max=True))
def test_truncation_never_raises(images: FormatImages, name: str, cut: float) -> None:
    data = images.path(name).read_bytes()
    extract_cleanly(data[: max(1, int(len(data) * cut))])
