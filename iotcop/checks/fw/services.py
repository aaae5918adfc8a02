"""Firmware checks on the services started at boot (guideline 6; EN 303 645 5.6-5, 5.1-3)."""

from __future__ import annotations

from collections.abc import Iterator

from iotcop.checks.registry import check, spec_of
from iotcop.errors import CannotAssess
from iotcop.firmware.services import BootServices
from iotcop.model import Evidence, EvidenceKind, Finding, Location, Severity

TELNET_DAEMONS = ("telnetd", "utelnetd", "in.telnetd")


@check(
    id="fw.services.telnet-enabled",
    title="A telnet server is started at boot",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.HIGH,
    remediation="Remove telnetd from the boot path; offer SSH with key or per-device credentials if remote "
                "maintenance is needed.",
)
def telnet_enabled(boot: BootServices) -> Iterator[Finding]:
    """Telnet sends the login password in clear text and is the first door the Mirai family tries;
    a consumer device has no use for it in normal operation."""
    if not boot.sources:
        raise CannotAssess("no inittab, init script, inetd or systemd configuration found in the image")
    for command in boot.started(*TELNET_DAEMONS):
        yield spec_of(telnet_enabled).finding(
            message=f"{command.program} is started at boot by {command.path} ({command.via}).",
            location=Location.in_image(command.path, line=command.line),
            evidence=Evidence.of(command.raw_line, f"parsed {command.via} commands"),
        )
