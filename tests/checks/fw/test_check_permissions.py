"""fw.permissions.* on a real SquashFS image whose modes and owners come from mksquashfs pseudo definitions
(the way a vendor's build sets them), with Debian's real armhf BusyBox as the setuid multi-call binary."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from fwimages import mksquashfs, write_tree
from golden import unpack_deb

from iotcop.checks.registry import REGISTRY
from iotcop.firmware.elf import ElfFiles
from iotcop.firmware.facts import FirmwareFacts, collect_firmware
from iotcop.firmware.permissions import FileModes
from iotcop.model import Finding, RunStatus, Severity
from iotcop.runner import run_checks

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="pseudo owners need a root-owned source tree")


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> FirmwareFacts:
    tmp = tmp_path_factory.mktemp("perm")
    busybox = (unpack_deb("busybox-static", "armhf", tmp / "deb") / "bin" / "busybox").read_bytes()
    files: dict[str, str | bytes] = {
        "/bin/busybox": busybox, "/usr/bin/passwd": busybox, "/usr/sbin/diagd": busybox,
        "/usr/bin/su-helper.sh": "#!/bin/sh\nexec /bin/sh\n", "/usr/libexec/sandboxed": busybox,
        "/etc/init.d/S50app": "#!/bin/sh\n", "/etc/app.conf": "x=1\n", "/data/shared/readme": "x",
        "/www/upload/a.txt": "a", "/usr/bin/vendor-tool": busybox, "/etc/hosts": "127.0.0.1 localhost\n",
    }
    root = write_tree(tmp / "root", files=files)
    for applet in ("sh", "ls", "cat", "mount", "ps", "grep", "sed", "vi", "ping", "login", "telnetd", "httpd",
                   "ifconfig", "route", "udhcpc", "echo", "kill", "mkdir", "rm", "cp", "mv", "ln"):
        (root / "bin" / applet).symlink_to("busybox")
    pseudo = [
        "/bin/busybox m 4755 0 0",  # setuid multi-call: HIGH
        "/usr/bin/passwd m 4755 0 0",  # expected setuid: LOW
        "/usr/sbin/diagd m 6755 0 0",  # unknown setuid ELF: MEDIUM
        "/usr/bin/su-helper.sh m 4755 0 0",  # setuid script: INFO
        "/usr/libexec/sandboxed m 4755 1000 1000",  # setuid to an unprivileged user: not reported
        "/etc/init.d/S50app m 777 0 0",  # world-writable boot script: HIGH
        "/etc/app.conf m 666 0 0",  # world-writable config: same directory, one finding
        "/data/shared m 1777 0 0",  # sticky: fine
        "/www/upload m 777 0 0",  # world-writable directory: MEDIUM
        "/usr/bin/vendor-tool m 755 1000 1000",  # system file owned by uid 1000
        "/dev/null c 666 0 0 1 3",  # a public device node: fine
        "/dev/mtdblock0 b 666 0 0 31 0",  # flash writable by everyone: reported
    ]
    img = mksquashfs(root, tmp / "perm.sqfs", *[a for p in pseudo for a in ("-p", p)], all_root=os.geteuid() != 0)
    facts = collect_firmware(img, use_cache=False)
    yield facts
    facts.close()


def run(check_id: str, facts: FirmwareFacts) -> tuple[RunStatus, list[Finding]]:
    result = run_checks([REGISTRY.get(check_id)], {FileModes: facts.modes, ElfFiles: facts.elf}, {})
    return result.runs[0].status, list(result.findings)


def test_setuid_programs_with_what_they_are(image: FirmwareFacts) -> None:
    status, findings = run("fw.permissions.setuid-binary", image)
    assert status is RunStatus.COMPLETED
    got = {f.location.path: f.severity for f in findings}
    expected = {"/bin/busybox": Severity.HIGH, "/usr/bin/passwd": Severity.LOW, "/usr/sbin/diagd": Severity.MEDIUM,
                "/usr/bin/su-helper.sh": Severity.INFO}
    if os.geteuid() != 0:  # owners are squashed: the unprivileged setuid owner cannot be told apart
        expected["/usr/libexec/sandboxed"] = Severity.MEDIUM
    assert got == expected
    busybox = next(f for f in findings if f.location.path == "/bin/busybox")
    assert "22 applet links" in busybox.message
    diagd = next(f for f in findings if f.location.path == "/usr/sbin/diagd")
    assert diagd.message.startswith("/usr/sbin/diagd is setuid (root): an ELF program (ARM)")


def test_world_writable(image: FirmwareFacts) -> None:
    status, findings = run("fw.permissions.world-writable", image)
    assert status is RunStatus.COMPLETED
    assert {(f.location.path, f.severity, f.message) for f in findings} == {
        ("/etc/init.d/S50app", Severity.HIGH, "1 world-writable executable or boot file in /etc/init.d: S50app."),
        ("/etc/app.conf", Severity.MEDIUM, "1 world-writable entry in /etc: app.conf."),
        ("/www/upload", Severity.MEDIUM, "1 world-writable entry in /www: upload."),
        ("/dev/mtdblock0", Severity.MEDIUM, "1 world-writable entry in /dev: mtdblock0."),
    }  # not: the sticky /data/shared, /dev/null, /tmp, symlinks


@needs_root
def test_unprivileged_owner(image: FirmwareFacts) -> None:
    status, findings = run("fw.permissions.unprivileged-owner", image)
    assert status is RunStatus.COMPLETED
    assert {(f.location.path, f.message) for f in findings} == {
        ("/usr/bin/vendor-tool", "1 system file(s) in /usr/bin owned by uid 1000: vendor-tool."),
        ("/usr/libexec/sandboxed", "1 system file(s) in /usr/libexec owned by uid 1000: sandboxed.")}


def test_owners_unknown_is_inconclusive(tmp_path: Path) -> None:
    """A cpio archive unpacked by unblob keeps modes but not owners: ownership cannot be judged."""
    if shutil.which("cpio") is None:
        pytest.skip("cpio is not installed")
    root = write_tree(tmp_path / "root", files={"/etc/passwd": "root:x:0:0::/:/bin/sh\n"})
    listing = subprocess.run(["find", ".", "-print0"], cwd=root, capture_output=True, check=True).stdout
    archive = subprocess.run(["cpio", "--null", "-o", "-H", "newc"], cwd=root, input=listing, capture_output=True,
                             check=True).stdout
    (tmp_path / "initramfs.cpio").write_bytes(archive)
    facts = collect_firmware(tmp_path / "initramfs.cpio", use_cache=False)
    try:
        status, findings = run("fw.permissions.unprivileged-owner", facts)
    finally:
        facts.close()
    assert (status, findings) == (RunStatus.INCONCLUSIVE, [])
