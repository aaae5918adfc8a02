"""``iotcop extract IMAGE -o DIR``: the tree of layers and root file systems, the JSON mode, the errors around
it, the limits, and Ctrl-C (a real SIGINT to a real process: nothing of it may be left behind).

Images are made by real tools: ``mksquashfs``, ``zip``, ``tar`` and ``xz``; the real TP-Link image is used
where it is (shared/ beside the checkout) and its tests skip without it, except on CI.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clitools import ANSI, invoke
from fwimages import TPLINK_WR841N, mksquashfs, require_tool, write_tree
from typer.testing import Result

from iotcop.cli import EXIT_INPUT, EXIT_OK, EXIT_USAGE

CONSOLE_SCRIPT = Path(sys.executable).parent / "iotcop"
OPENWRT_RELEASE = "DISTRIB_ID='OpenWrt'\nDISTRIB_RELEASE='23.05.2'\nDISTRIB_TARGET='x86/64'\n"
HOST_CPU = {"x86_64": "x86_64 64-bit little-endian", "aarch64": "aarch64 64-bit little-endian"}


def run(*args: str) -> Result:
    return invoke(*args, columns=400)


def text(stream: str) -> str:
    return " ".join(ANSI.sub("", stream).split())


def host_cpu() -> str:
    import platform

    if platform.machine() not in HOST_CPU:
        pytest.skip(f"no expectation written for a {platform.machine()} host")
    return HOST_CPU[platform.machine()]


@pytest.fixture(scope="module")
def update_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An update package as vendors ship them: a zip (by zip(1)) of a manifest and a SquashFS root file
    system with real (host) ELF binaries and an OpenWrt release file."""
    require_tool("zip")
    base = tmp_path_factory.mktemp("cli-extract")
    true = Path("/bin/true").read_bytes()
    root = write_tree(base / "rootfs", files={"/etc/openwrt_release": OPENWRT_RELEASE, "/bin/busybox": true,
                                             "/usr/sbin/dropbear": true}, links={"/bin/sh": "busybox"})
    mksquashfs(root, base / "root.sqfs")
    (base / "manifest.json").write_text('{"model": "CAM-1", "version": "1.2.3"}\n')
    subprocess.run(["zip", "-q", "fw.zip", "manifest.json", "root.sqfs"], cwd=base, check=True)
    return base / "fw.zip"


@pytest.fixture(scope="module")
def squashfs(update_zip: Path) -> Path:
    return update_zip.parent / "root.sqfs"


def tplink() -> Path:
    if not TPLINK_WR841N.is_file():
        message = f"the real vendor image is not there: {TPLINK_WR841N} (shared/ beside the checkout)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return TPLINK_WR841N


# ---------------------------------------------------------------- what it prints


def test_tree_names_the_layers_and_the_root_file_system(update_zip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run("extract", str(update_zip), "-o", str(out))
    assert result.exit_code == EXIT_OK, result.output
    lines = [text(line) for line in result.stdout.splitlines()]
    assert lines[0].startswith("fw.zip sha256 ")
    assert any(re.search(r"zip at 0x0, [\d,]+ bytes \(unblob, extracted\)$", line) for line in lines), lines
    assert any(line.endswith("inside fw.zip_extract/root.sqfs") for line in lines), lines
    assert any(re.search(r"squashfs_v4_le at 0x0, [\d,]+ bytes \(unblob, extracted\)$", line) for line in lines)
    [root] = [line for line in lines if "root file system" in line]
    assert f"root file system root.sqfs: 14 entries, OpenWrt 23.05.2, {host_cpu()} → {out}/" in root
    host_root = Path(root.split(" → ")[1])
    assert (host_root / "etc" / "openwrt_release").read_text() == OPENWRT_RELEASE  # kept in OUTPUT


def test_json_lists_steps_and_file_systems(update_zip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run("extract", str(update_zip), "-o", str(out), "--format", "json")
    assert result.exit_code == EXIT_OK, result.output
    data = json.loads(result.stdout)
    assert len(data["sha256"]) == 64
    assert [(s["format"], s["offset"], s["depth"], s["container"], s["outcome"]) for s in data["steps"]] == [
        ("zip", 0, 0, "", "extracted"),
        ("squashfs_v4_le", 0, 1, "fw.zip_extract/root.sqfs", "extracted"),
    ]
    [fs] = data["filesystems"]
    cpu = host_cpu().split()
    assert {k: fs[k] for k in ("label", "root", "os_flavour", "os_version", "arch", "bits", "endianness",
                               "elf_count")} == {
        "label": "root.sqfs", "root": True, "os_flavour": "OpenWrt", "os_version": "23.05.2", "arch": cpu[0],
        "bits": int(cpu[1].split("-")[0]), "endianness": cpu[2].split("-")[0], "elf_count": 2}
    assert Path(fs["path"]).is_relative_to(out) and (Path(fs["path"]) / "bin" / "busybox").is_file()
    assert data["notes"] == []


def test_quiet_prints_nothing(squashfs: Path, tmp_path: Path) -> None:
    result = run("extract", str(squashfs), "-o", str(tmp_path / "out"), "--quiet")
    assert (result.exit_code, result.output) == (EXIT_OK, "")
    assert (tmp_path / "out").is_dir() and any((tmp_path / "out").iterdir())


# ---------------------------------------------------------------- errors


def test_a_non_empty_output_directory_is_refused_and_left_alone(squashfs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "earlier").mkdir(parents=True)
    (out / "earlier" / "notes.txt").write_text("my notes\n")
    (out / "report.pdf").write_bytes(b"%PDF-1.7\n")
    result = run("extract", str(squashfs), "-o", str(out))
    assert result.exit_code == EXIT_USAGE
    assert text(result.stderr) == f"error: {out} is not empty: extract into a new or empty directory"
    assert result.stdout == ""
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == ["earlier", "earlier/notes.txt", "report.pdf"]
    assert (out / "earlier" / "notes.txt").read_text() == "my notes\n"


@pytest.mark.parametrize("where", ["a-file", "a-file/below"])
def test_an_output_that_cannot_be_a_directory_is_a_usage_error(where: str, squashfs: Path, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("keep me\n")
    result = run("extract", str(squashfs), "-o", str(tmp_path / where))
    assert result.exit_code == EXIT_USAGE, result.output
    assert text(result.stderr).startswith("error: ") and str(tmp_path / where) in result.stderr
    assert (tmp_path / "a-file").read_text() == "keep me\n"


def test_a_directory_image_is_a_usage_error(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "rootfs")
    result = run("extract", str(tree), "-o", str(tmp_path / "out"))
    assert result.exit_code == EXIT_USAGE
    assert "is a directory, already unpacked" in text(result.stderr)
    assert not (tmp_path / "out").exists()


def test_a_missing_image(tmp_path: Path) -> None:
    missing = tmp_path / "missing.bin"
    result = run("extract", str(missing), "-o", str(tmp_path / "out"))
    assert result.exit_code == EXIT_INPUT
    assert text(result.stderr) == f"cannot assess: {missing}: no such file or directory"
    assert not (tmp_path / "out").exists()


def test_random_bytes_exit_3_with_the_entropy_note(tmp_path: Path) -> None:
    image = tmp_path / "random.bin"
    image.write_bytes(random.Random(5).randbytes(256 * 1024))
    result = run("extract", str(image), "-o", str(tmp_path / "out"))
    assert result.exit_code == EXIT_INPUT
    assert ("note: no file system or known format was found in the image; entropy 8.00 bits/byte: compressed or "
            "encrypted") in text(result.stdout)
    assert "root file system" not in result.stdout


# ---------------------------------------------------------------- limits


def limit_steps(result: Result) -> list[tuple[str, str]]:
    return [(s["format"], s["message"]) for s in json.loads(result.stdout)["steps"] if s["outcome"] == "limit"]


def test_max_files_on_the_real_image(tmp_path: Path) -> None:
    result = run("extract", str(tplink()), "-o", str(tmp_path / "out"), "--max-files", "3", "-f", "json")
    [(fmt, message)] = limit_steps(result)
    assert fmt == "nested layers" and message.startswith("extracted files passed the limit of 3; unpacking stopped")


def test_max_files_on_a_squashfs(squashfs: Path, tmp_path: Path) -> None:
    result = run("extract", str(squashfs), "-o", str(tmp_path / "out"), "--max-files", "3", "-f", "json")
    assert result.exit_code == EXIT_INPUT
    assert limit_steps(result) == [("squashfs-v4 (gzip)", "14 entries exceed the limit of 3 files")]
    tree = run("extract", str(squashfs), "-o", str(tmp_path / "out-tree"), "--max-files", "3")
    assert "squashfs-v4 (gzip) at 0x0" in text(tree.stdout) and "limit): 14 entries exceed" in text(tree.stdout)


# ---------------------------------------------------------------- Ctrl-C


@pytest.fixture(scope="module")
def slow_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few MB of xz-compressed data inside a tar.gz inside a zip: unblob takes seconds over it."""
    for tool in ("xz", "tar", "zip"):
        require_tool(tool)
    base = tmp_path_factory.mktemp("slow")
    (base / "payload.bin").write_bytes(random.Random(11).randbytes(4 * 1024 * 1024))
    subprocess.run(["xz", "-0", "-T1", "payload.bin"], cwd=base, check=True)
    subprocess.run(["tar", "czf", "update.tar.gz", "payload.bin.xz"], cwd=base, check=True)
    subprocess.run(["zip", "-q", "-0", "fw.zip", "update.tar.gz"], cwd=base, check=True)
    return base / "fw.zip"


@pytest.fixture
def private_tmp() -> Iterator[Path]:
    """A TMPDIR of the run's own, in the system's temporary area (the unprivileged worker must reach it)."""
    path = Path(tempfile.mkdtemp(prefix="ctrl-c-test-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def workers_in(tmp: Path) -> list[str]:
    """Command lines of unblob workers working below ``tmp`` (their input lies there)."""
    proc = subprocess.run(["pgrep", "-af", "_unblob_worker"], capture_output=True, text=True, check=False)
    return [line for line in proc.stdout.splitlines() if str(tmp) in line]


def wait_for(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


@pytest.mark.parametrize(("command", "source"), [("extract", "built"), ("extract", "tplink"), ("assess", "built")])
def test_ctrl_c_leaves_nothing_behind(command: str, source: str, slow_image: Path, private_tmp: Path,
                                      tmp_path: Path) -> None:
    """``assess firmware`` extracts into a staging directory of the cache: that must go too."""
    require_tool("pgrep")
    image = slow_image if source == "built" else tplink()
    out, cache = tmp_path / "out", tmp_path / "cache"
    env = {**os.environ, "TMPDIR": str(private_tmp), "IOTCOP_CACHE_DIR": str(cache), "NO_COLOR": "1"}
    args = ["extract", str(image), "-o", str(out)] if command == "extract" else \
        ["assess", "firmware", str(image), "-o", str(out)]
    # SIGINT as a terminal sends it: reset to the default in case this test runs with SIGINT ignored
    proc = subprocess.Popen([str(CONSOLE_SCRIPT), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        started = wait_for(lambda: workers_in(private_tmp) or proc.poll() is not None, 20)
        assert started and proc.poll() is None, "the extraction ended before it could be interrupted"
        time.sleep(0.5)
        assert proc.poll() is None, "the extraction ended before it could be interrupted"
        assert workers_in(private_tmp)
        if command == "assess":  # the cache's staging directory exists now
            assert [p.name[0] for p in (cache / "extract").iterdir()] == ["."]
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode not in (0, -signal.SIGINT), (proc.returncode, stderr)
    assert b"Traceback" not in stderr and b"KeyboardInterrupt" not in stderr, stderr.decode(errors="replace")
    assert wait_for(lambda: not workers_in(private_tmp), 5), workers_in(private_tmp)
    assert os.listdir(private_tmp) == []  # no iotcop-*, no iotcop-unblob-*, nothing
    assert not out.exists() or list(out.iterdir()) == []  # no half-extracted tree, no assessment
    assert not (cache / "extract").exists() or list((cache / "extract").iterdir()) == []  # no staging directory
    assert image.is_file()
