"""The extraction cache (iotcop.firmware.cache): a second look at the same image reuses its entry, anything
that makes an entry untrustworthy (other limits, another iotcop version, a damaged manifest) means a new
extraction, a run whose limit tripped is never stored, and the cache is best effort and optional.

Images are real SquashFS file systems made by ``mksquashfs``. Each test points IOTCOP_CACHE_DIR at a
directory of its own; reuse is proven without timing, by making extraction fail on the second call and by
the entry's inode and mtime.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fwimages import TPLINK_WR841N, md5crypt, mksquashfs, write_tree
from typer.testing import CliRunner

from iotcop._version import __version__
from iotcop.api import assess_firmware
from iotcop.cli import app
from iotcop.firmware import cache
from iotcop.firmware.extract import Extraction, Limits
from iotcop.firmware.facts import collect_firmware, identify
from iotcop.reports.json import render_json

GENERATED_AT = re.compile(rb'^  "generated_at": "[^"]*",\n', re.MULTILINE)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("cache-img")
    root = write_tree(
        base / "rootfs",
        files={"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
               "/etc/shadow": f"root:{md5crypt('Tr0ub4dor-x9-unlisted', 'k3Yt7b2Q')}:19000:0:99999:7:::\n",
               "/bin/busybox": Path("/bin/true").read_bytes(), "/usr/bin/passwd": Path("/bin/true").read_bytes()},
        links={"/bin/sh": "busybox"},
        modes={"/usr/bin/passwd": 0o4755},
    )
    return mksquashfs(root, base / "rootfs.sqfs", "-p", "/dev/console c 600 0 0 5 1")


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("IOTCOP_CACHE_DIR", str(path))
    return path


@pytest.fixture
def extract_calls(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Images that the cache had to extract (the real extraction still runs)."""
    calls: list[Path] = []
    real = cache.extract

    def counting(image: Path, *args: Any, **kwargs: Any) -> Extraction:
        calls.append(image)
        return real(image, *args, **kwargs)

    monkeypatch.setattr(cache, "extract", counting)
    return calls


def entry_of(cache_dir: Path, image: Path) -> Path:
    sha256 = identify(image).sha256
    assert sha256 is not None
    return cache_dir / "extract" / sha256


def stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns


def forbid_extraction(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_: object, **__: object) -> Extraction:
        raise AssertionError("the image was extracted again instead of read from the cache")

    monkeypatch.setattr(cache, "extract", fail)


def collect_and_close(image: Path, **kwargs: Any) -> Extraction:
    facts = collect_firmware(image, **kwargs)
    facts.close()
    return facts.extraction


# ---------------------------------------------------------------- reuse


def test_a_second_collection_reuses_the_entry(image: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = collect_firmware(image)
    entry = entry_of(cache_dir, image)
    try:
        assert first.extraction.workdir == entry
        assert first.root is not None and first.root.host_root.is_relative_to(entry)
    finally:
        first.close()
    assert entry.is_dir()  # closing a cached extraction keeps it
    before = stamp(entry), stamp(entry / cache.MANIFEST)

    forbid_extraction(monkeypatch)
    second = collect_firmware(image)
    try:
        assert second.extraction.workdir == entry
        assert second.extraction.steps == first.extraction.steps
        root = second.root
        assert root is not None
        assert root.read_bytes("/bin/busybox") == Path("/bin/true").read_bytes()
        passwd = root.lstat("/usr/bin/passwd")
        assert passwd is not None and passwd.setuid  # recorded modes survive the manifest
        console = root.lstat("/dev/console")
        assert console is not None and not console.is_file and root.read_bytes("/dev/console") is None
        assert [a.name for a in second.accounts.with_password_hash()] == ["root"]
    finally:
        second.close()
    assert (stamp(entry), stamp(entry / cache.MANIFEST)) == before
    assert sorted(p.name for p in (cache_dir / "extract").iterdir()) == [entry.name]


def assessment_bytes(image: Path) -> bytes:
    return GENERATED_AT.sub(b"", render_json(assess_firmware(image)))


def test_the_assessment_is_identical_fresh_and_cached(image: Path, cache_dir: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = assessment_bytes(image)
    assert entry_of(cache_dir, image).is_dir()
    forbid_extraction(monkeypatch)
    cached = assessment_bytes(image)
    assert cached == fresh
    data = json.loads(fresh)
    assert [f["check_id"] for f in data["findings"]] == [  # a real assessment, sorted by severity
        "fw.credentials.static-password-hash", "fw.credentials.weak-hash", "fw.permissions.setuid-binary"]


def test_the_assessment_is_the_same_with_and_without_the_cache(image: Path, cache_dir: Path) -> None:
    uncached = GENERATED_AT.sub(b"", render_json(assess_firmware(image, use_cache=False)))
    assert assessment_bytes(image) == uncached


def test_the_real_tplink_assessment_is_identical_fresh_and_cached(cache_dir: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Carved by unblob, with modes recorded by the worker: everything must survive the manifest."""
    if not TPLINK_WR841N.is_file():
        message = f"the real vendor image is not there: {TPLINK_WR841N} (shared/ beside the checkout)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    fresh = assessment_bytes(TPLINK_WR841N)
    forbid_extraction(monkeypatch)
    assert assessment_bytes(TPLINK_WR841N) == fresh


# ---------------------------------------------------------------- entries that are not trusted


def test_other_limits_replace_the_entry(image: Path, cache_dir: Path, extract_calls: list[Path]) -> None:
    collect_and_close(image)
    entry = entry_of(cache_dir, image)
    before = stamp(entry)
    other = Limits(max_files=5000)
    assert collect_and_close(image, limits=other).steps[0].outcome == "extracted"
    assert extract_calls == [image, image]
    assert stamp(entry) != before
    assert json.loads((entry / cache.MANIFEST).read_text())["limits"]["max_files"] == 5000
    assert sorted(p.name for p in (cache_dir / "extract").iterdir()) == [entry.name]  # replaced, no staging left
    collect_and_close(image, limits=other)  # now those limits are the entry's
    assert extract_calls == [image, image]


def _other_version(manifest: Path) -> None:
    data = json.loads(manifest.read_text())
    data["iotcop"] = "0.0.0-another-version"
    manifest.write_text(json.dumps(data))


def _other_format(manifest: Path) -> None:
    data = json.loads(manifest.read_text())
    data["format"] = cache.FORMAT + 1
    manifest.write_text(json.dumps(data))


def _bad_meta(manifest: Path) -> None:
    data = json.loads(manifest.read_text())
    data["filesystems"][0]["meta"] = {"/": [16877]}  # a mode without owner and group
    manifest.write_text(json.dumps(data))


def _tree_gone(manifest: Path) -> None:
    shutil.rmtree(manifest.parent / "tree")


DAMAGE: dict[str, Callable[[Path], None]] = {
    "another-iotcop-version": _other_version,
    "another-cache-format": _other_format,
    "not-json": lambda m: m.write_bytes(b"\x00\x9f garbage"),
    "truncated-json": lambda m: m.write_text(m.read_text()[:40]),
    "json-list": lambda m: m.write_text("[]"),
    "json-null": lambda m: m.write_text("null"),
    "bad-meta": _bad_meta,
    "no-manifest": lambda m: m.unlink(),
    "tree-removed": _tree_gone,
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_an_untrusted_entry_is_extracted_again(damage: str, image: Path, cache_dir: Path,
                                               extract_calls: list[Path]) -> None:
    collect_and_close(image)
    entry = entry_of(cache_dir, image)
    DAMAGE[damage](entry / cache.MANIFEST)
    facts = collect_firmware(image)
    try:
        assert extract_calls == [image, image]
        assert facts.root is not None and facts.root.resolve("/bin/sh") is not None
        assert facts.extraction.workdir == entry
    finally:
        facts.close()
    manifest = json.loads((entry / cache.MANIFEST).read_text())
    assert (manifest["iotcop"], manifest["format"]) == (__version__, cache.FORMAT)
    assert sorted(p.name for p in (cache_dir / "extract").iterdir()) == [entry.name]


# ---------------------------------------------------------------- runs that are not stored


def test_a_run_whose_limit_tripped_is_not_cached(image: Path, cache_dir: Path, extract_calls: list[Path]) -> None:
    limits = Limits(max_files=3)
    facts = collect_firmware(image, limits=limits)
    try:
        assert [s.outcome for s in facts.extraction.steps] == ["limit"]
        assert facts.root is None
    finally:
        facts.close()
    assert list((cache_dir / "extract").iterdir()) == []  # no entry, no staging directory
    collect_and_close(image, limits=limits)  # tried again, not served from a cached failure
    assert extract_calls == [image, image]
    assert list((cache_dir / "extract").iterdir()) == []


def test_an_interrupted_extraction_leaves_no_staging_directory(image: Path, cache_dir: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    real = cache.extract

    def interrupted(image: Path, *args: Any, **kwargs: Any) -> Extraction:
        result = real(image, *args, **kwargs)
        assert result.workdir is not None and any(result.workdir.iterdir())  # work had been done
        raise KeyboardInterrupt

    monkeypatch.setattr(cache, "extract", interrupted)
    with pytest.raises(KeyboardInterrupt):
        collect_firmware(image)
    assert list((cache_dir / "extract").iterdir()) == []


def test_an_unwritable_cache_directory_means_an_uncached_extraction(image: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    monkeypatch.setenv("IOTCOP_CACHE_DIR", str(blocker / "cache"))
    facts = collect_firmware(image)
    workdir = facts.extraction.workdir
    try:
        assert facts.root is not None and facts.root.resolve("/bin/busybox") is not None
        assert workdir is not None and workdir.is_dir() and not workdir.is_relative_to(blocker)
    finally:
        facts.close()
    assert not workdir.exists()  # an uncached extraction is removed
    assert blocker.read_text() == "not a directory\n"
    assessment = assess_firmware(image)
    assert [f.check_id for f in assessment.findings] == [
        "fw.credentials.static-password-hash", "fw.credentials.weak-hash", "fw.permissions.setuid-binary"]


def test_an_entry_path_taken_by_a_file_means_an_uncached_extraction(image: Path, cache_dir: Path) -> None:
    """Storing is best effort: when the entry cannot be put in place (here a file holds its name; equally a
    full disk, or another run storing the same image at the same moment), the run goes on uncached."""
    entry = entry_of(cache_dir, image)
    entry.parent.mkdir(parents=True)
    entry.write_text("in the way\n")
    facts = collect_firmware(image)
    workdir = facts.extraction.workdir
    try:
        assert facts.root is not None and facts.root.resolve("/bin/sh") is not None
        assert workdir is not None and workdir != entry
    finally:
        facts.close()
    assert entry.read_text() == "in the way\n"
    assert sorted(p.name for p in entry.parent.iterdir()) == [entry.name]  # the staging directory is gone


def test_use_cache_false_never_touches_the_cache(image: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                 extract_calls: list[Path]) -> None:
    extraction = collect_and_close(image, use_cache=False)
    assert [s.outcome for s in extraction.steps] == ["extracted"]
    assert not cache_dir.exists()
    collect_and_close(image)  # now an entry exists ...
    entry = entry_of(cache_dir, image)
    before = stamp(entry), stamp(entry / cache.MANIFEST), sorted(os.listdir(cache_dir / "extract"))
    monkeypatch.setattr(cache, "cached_extract", lambda *_: pytest.fail("the cache was consulted"))
    collect_and_close(image, use_cache=False)  # ... and is neither read nor replaced
    assert (stamp(entry), stamp(entry / cache.MANIFEST), sorted(os.listdir(cache_dir / "extract"))) == before
    assert extract_calls == [image]


def test_directories_are_never_cached(image: Path, cache_dir: Path, tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "rootfs", files={"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\n"})
    facts = collect_firmware(tree)
    try:
        assert facts.root is not None and facts.root.host_root == tree
        assert facts.extraction.workdir is None  # read in place
    finally:
        facts.close()
    assess_firmware(tree)
    assert not cache_dir.exists()
    assert (tree / "etc" / "passwd").is_file()  # and never removed


# ---------------------------------------------------------------- iotcop cache where / clear

ENV = {"COLUMNS": "250", "NO_COLOR": "1"}


def test_cache_where(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["cache", "where"], env={**ENV, "IOTCOP_CACHE_DIR": str(tmp_path / "c")})
    assert (result.exit_code, result.output) == (0, f"{tmp_path / 'c'}\n")
    xdg = {**ENV, "IOTCOP_CACHE_DIR": None, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    result = CliRunner().invoke(app, ["cache", "where"], env=xdg)
    assert (result.exit_code, result.output) == (0, f"{tmp_path / 'xdg' / 'iotcop'}\n")
    home = {**ENV, "IOTCOP_CACHE_DIR": None, "XDG_CACHE_HOME": None, "HOME": str(tmp_path / "home")}
    result = CliRunner().invoke(app, ["cache", "where"], env=home)
    assert (result.exit_code, result.output) == (0, f"{tmp_path / 'home' / '.cache' / 'iotcop'}\n")


def test_cache_clear(image: Path, cache_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.sqfs"
    other.write_bytes(image.read_bytes() + bytes(4096))  # another sha256, the same file system
    collect_and_close(image)
    collect_and_close(other)
    assert len(list((cache_dir / "extract").iterdir())) == 2
    unrelated = cache_dir / "keep.txt"
    unrelated.write_text("not an extraction\n")

    result = CliRunner().invoke(app, ["cache", "clear"], env=ENV)
    assert result.exit_code == 0, result.output
    assert " ".join(result.output.split()) == f"removed 2 cached extraction(s) from {cache_dir}"
    assert list((cache_dir / "extract").iterdir()) == []
    assert unrelated.read_text() == "not an extraction\n"  # only extractions are removed
    assert image.is_file() and other.is_file()

    again = CliRunner().invoke(app, ["cache", "clear"], env=ENV)
    assert again.exit_code == 0 and "removed 0 cached extraction(s)" in again.output


def test_cache_clear_without_a_cache(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["cache", "clear"], env={**ENV, "IOTCOP_CACHE_DIR": str(tmp_path / "none")})
    assert result.exit_code == 0 and "removed 0 cached extraction(s)" in result.output
    assert not (tmp_path / "none").exists()
