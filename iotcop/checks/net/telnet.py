"""Live checks on telnet services (EN 303 645 5.1-3, 5.5-1, 5.5-5, 5.5-7, 5.6-1)."""

from __future__ import annotations

from collections.abc import Iterator

from iotcop.checks.registry import CheckFunc, check, spec_of
from iotcop.device.telnet import TelnetFacts, TelnetService
from iotcop.errors import CannotAssess, NotApplicable
from iotcop.model import Evidence, EvidenceKind, Finding, Location, Severity

TECHNIQUE = "telnet connection with option negotiation refused; greeting read until a prompt"


def _services(telnet: TelnetFacts) -> tuple[TelnetService, ...]:
    if not telnet.services:
        raise NotApplicable("no telnet service was found listening")
    return telnet.services


def _finding(spec_func: CheckFunc, s: TelnetService, message: str) -> Finding:
    where = f"{s.service.host}:{s.service.port}"
    return spec_of(spec_func).finding(
        message=message, location=Location(kind="network", path=where),
        evidence=Evidence.of(f"{where}/tcp: {s.greeting[:400] or '(nothing sent)'}", TECHNIQUE))


@check(id="net.telnet.open", title="Telnet service listening", kind=EvidenceKind.NETWORK, severity=Severity.HIGH,
       remediation="Remove telnetd from the product (or never start it); offer SSH with keys for maintenance.")
def open(telnet: TelnetFacts) -> Iterator[Finding]:
    """Telnet carries user names, passwords and the whole session in clear text and is the first service
    botnets attack with default passwords: an unencrypted remote login is no longer acceptable."""
    services = _services(telnet)
    reachable = [s for s in services if s.state != "unreachable"]
    for s in reachable:
        what = {"login": "asks for a login", "password": "asks for a password", "shell": "gives a shell at once",
                "unknown": "answered (no prompt recognised)"}[s.state]
        yield _finding(open, s, f"A telnet service listens at {s.service.host}:{s.service.port} and {what}: "
                                "logins and sessions on it cross the network unencrypted.")
    if not reachable:
        raise CannotAssess("; ".join(f"{s.service.host}:{s.service.port}: {s.reason}" for s in services))


@check(id="net.telnet.no-authentication", title="Telnet gives a shell without authentication",
       kind=EvidenceKind.NETWORK, severity=Severity.CRITICAL,
       remediation="Remove telnetd, or at least start it with a login program that requires a unique password.")
def no_authentication(telnet: TelnetFacts) -> Iterator[Finding]:
    """A telnet service that opens a shell without asking for a login hands the device to anyone who can
    reach it: remote access to device functions must require authentication."""
    services = _services(telnet)
    shells = [s for s in services if s.state == "shell"]
    for s in shells:
        yield _finding(no_authentication, s, f"The telnet service at {s.service.host}:{s.service.port} sent a "
                                             f"shell prompt without asking for any credential: "
                                             f"{s.greeting[-80:]!r}.")
    if not shells:
        unclear = [s for s in services if s.state in ("unknown", "unreachable")]
        if unclear:
            raise CannotAssess("; ".join(f"{s.service.host}:{s.service.port}: {s.reason}" for s in unclear))
