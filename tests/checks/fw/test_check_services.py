"""fw.services.telnet-enabled, run through the runner on boot facts collected from real trees."""

from __future__ import annotations

from pathlib import Path

from fwimages import write_tree

from iotcop.checks.registry import REGISTRY
from iotcop.firmware.filesystem import FileSystem
from iotcop.firmware.services import BootServices, collect_boot_services
from iotcop.model import CheckRun, Finding, RunStatus
from iotcop.runner import run_checks

TELNET = "fw.services.telnet-enabled"


def run(root: Path, files: dict[str, str], links: dict[str, str] | None = None) -> tuple[CheckRun, list[Finding]]:
    boot = collect_boot_services(FileSystem.scan(write_tree(root, files=files, links=links)))
    result = run_checks([REGISTRY.get(TELNET)], {BootServices: boot}, {})
    [check_run] = result.runs
    return check_run, list(result.findings)


def where(findings: list[Finding]) -> set[tuple[str, int | None]]:
    return {(f.location.path, f.location.line) for f in findings}


def test_telnet_started_in_several_ways(tmp_path: Path) -> None:
    run_, findings = run(tmp_path, {
        "/etc/inittab": "::sysinit:/etc/init.d/rcS\n::respawn:/usr/sbin/utelnetd -l /bin/sh\n",
        "/etc/init.d/rcS": "#!/bin/sh\n# telnetd is started below\n/usr/sbin/telnetd -l /bin/login &\n",
        "/etc/inetd.conf": "telnet stream tcp nowait root /usr/sbin/telnetd telnetd\n",
        "/lib/systemd/system/telnet.service": "[Service]\nExecStart=/usr/sbin/in.telnetd -debug\n",
    }, links={"/etc/systemd/system/multi-user.target.wants/telnet.service":
              "../../../../lib/systemd/system/telnet.service"})
    assert run_.status is RunStatus.COMPLETED and run_.finding_count == 4
    assert where(findings) == {("/etc/inittab", 2), ("/etc/init.d/rcS", 3), ("/etc/inetd.conf", 1),
                               ("/lib/systemd/system/telnet.service", 2)}
    rcs = next(f for f in findings if f.location.path == "/etc/init.d/rcS")
    assert rcs.message == "telnetd is started at boot by /etc/init.d/rcS (init script)."
    assert rcs.evidence.excerpt == "/usr/sbin/telnetd -l /bin/login &"


def test_look_alikes_are_clean(tmp_path: Path) -> None:
    run_, findings = run(tmp_path, {
        "/etc/inittab": "::sysinit:/etc/init.d/rcS\n#::respawn:/usr/sbin/telnetd\n::shutdown:/usr/sbin/telnetd\n",
        "/etc/init.d/rcS": ("#!/bin/sh\n# telnetd was removed\necho \"no telnetd\"\nkillall telnetd\n"
                            "TELNETD=/usr/sbin/telnetd\nstart-stop-daemon -K -x /usr/sbin/telnetd\n"),
        "/etc/inetd.conf": "#telnet stream tcp nowait root /usr/sbin/telnetd telnetd\n",
    })
    assert (run_.status, findings) == (RunStatus.COMPLETED, [])


def test_no_boot_configuration_is_inconclusive(tmp_path: Path) -> None:
    run_, findings = run(tmp_path, {"/usr/sbin/telnetd": "\x7fELF"})  # the binary alone starts nothing
    assert (run_.status, findings) == (RunStatus.INCONCLUSIVE, [])
    assert run_.reason == "no inittab, init script, inetd or systemd configuration found in the image"


def test_the_example_camera() -> None:
    from fwimages import EXAMPLE_CAMERA

    boot = collect_boot_services(FileSystem.scan(EXAMPLE_CAMERA))
    result = run_checks([REGISTRY.get(TELNET)], {BootServices: boot}, {})
    assert where(list(result.findings)) == {("/etc/init.d/rcS", 8)}  # the comment, echo and killall are not
