"""Live checks on FTP services (EN 303 645 5.5-1, 5.5-5, 5.5-7)."""

from __future__ import annotations

from collections.abc import Iterator

from iotcop.checks.registry import check, spec_of
from iotcop.device.ftp import ANONYMOUS_PASSWORD, FtpFacts, FtpService
from iotcop.errors import CannotAssess, NotApplicable
from iotcop.model import Evidence, EvidenceKind, Finding, Location, Severity


def _services(ftp: FtpFacts) -> tuple[FtpService, ...]:
    if not ftp.services:
        raise NotApplicable("no FTP service was found listening")
    return ftp.services


def _where(s: FtpService) -> str:
    return f"{s.service.host}:{s.service.port}"


@check(id="net.ftp.anonymous-login", title="FTP server accepts anonymous logins", kind=EvidenceKind.NETWORK,
       severity=Severity.HIGH,
       remediation="Disable anonymous FTP (or remove the FTP server); require a unique per-device credential.")
def anonymous_login(ftp: FtpFacts) -> Iterator[Finding]:
    """Anonymous FTP lets anyone on the network read (and often write) the device's files without a credential:
    remote access to device functions and data must require authentication."""
    spec = spec_of(anonymous_login)
    services = _services(ftp)
    for s in services:
        if s.anonymous:
            yield spec.finding(message=f"The FTP server at {_where(s)} logged in user 'anonymous' with password "
                                       f"{ANONYMOUS_PASSWORD!r}: {s.anonymous_reply}.",
                               location=Location(kind="network", path=_where(s)),
                               evidence=Evidence.of(f"{_where(s)}: {s.greeting} / USER anonymous, PASS "
                                                    f"{ANONYMOUS_PASSWORD} -> {s.anonymous_reply}",
                                                    "FTP USER anonymous / PASS"))
    if not any(s.anonymous for s in services):
        unclear = [s for s in services if s.anonymous is None]
        if unclear:
            raise CannotAssess("; ".join(f"{_where(s)}: {s.reason}" for s in unclear))


@check(id="net.ftp.plaintext-login", title="FTP server takes passwords over an unencrypted connection",
       kind=EvidenceKind.NETWORK, severity=Severity.MEDIUM,
       remediation="Replace FTP with SFTP, or require FTPS (AUTH TLS) before USER/PASS.")
def plaintext_login(ftp: FtpFacts) -> Iterator[Finding]:
    """An FTP login over plain TCP sends the user name and password in clear: anyone on the network path
    reads them. Credentials carried over remotely accessible interfaces must be kept confidential."""
    spec = spec_of(plaintext_login)
    services = _services(ftp)
    for s in services:
        if s.plaintext_login:
            tls = "it offers AUTH TLS but does not require it" if s.auth_tls else "it offers no AUTH TLS"
            yield spec.finding(message=f"The FTP server at {_where(s)} asked for a password after a USER sent "
                                       f"without TLS ({tls}).",
                               location=Location(kind="network", path=_where(s)),
                               evidence=Evidence.of(f"{_where(s)}: {s.greeting}; USER over plain TCP answered "
                                                    "331/230", "FTP FEAT and USER on a plain connection"))
    if not any(s.plaintext_login for s in services):
        unclear = [s for s in services if s.plaintext_login is None]
        if unclear:
            raise CannotAssess("; ".join(f"{_where(s)}: {s.reason}" for s in unclear))
