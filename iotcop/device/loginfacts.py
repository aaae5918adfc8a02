"""The login outcomes of every authenticating service, one fact for the cross-protocol credential checks.

Each protocol module (telnet, ssh, ftp here; http, mqtt, rtsp, snmp elsewhere) judges its own services and
puts one ``ServiceLogin`` per service into its facts (e.g. ``TelnetFacts.logins``). The orchestrator merges
them into one ``LoginFacts`` that ``iotcop/checks/net/credentials.py`` reads:

    logins = LoginFacts.merge(telnet.logins, ssh.logins, ftp.logins, http.logins, ...)

How a protocol module contributes (the usual case: it has an ``Authenticator``)::

    from iotcop.device.loginfacts import judge_logins
    login = await judge_logins(MyAuthenticator(net, svc), svc, "http", options)
    # -> ServiceLogin with the default-credential outcome and the brute-force measurement

A service that grants access without asking for anything (a telnet shell, an RTSP stream, anonymous MQTT)
contributes ``ServiceLogin(service, protocol, unauthenticated="what it sent")``; a service it could not try
contributes ``ServiceLogin(service, protocol, not_tried="why")`` (inconclusive), and one that offers no password
login at all ``ServiceLogin(service, protocol, not_tried="why", password_login=False)`` (nothing to guess).
The checks never see an ``Authenticator``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from iotcop.device.logins import Authenticator, BruteForceMeasurement, DefaultLogin, measure_bruteforce, try_defaults
from iotcop.device.options import DeviceOptions
from iotcop.knowledge.credentials import default_credentials
from iotcop.model import NetworkService


@dataclass(frozen=True)
class ServiceLogin:
    """What trying to log in to one service showed."""

    service: NetworkService
    protocol: str  # what was spoken to log in: 'telnet', 'ssh', 'ftp', 'http-basic', 'mqtt', ...
    defaults: DefaultLogin | None = None  # try_defaults' outcome (None: not tried)
    bruteforce: BruteForceMeasurement | None = None  # measure_bruteforce's outcome (None: not measured)
    unauthenticated: str = ""  # access was granted without any credential: what the service sent (evidence)
    not_tried: str = ""  # why the credentials were not tried (no login prompt recognised, a tool missing, ...)
    password_login: bool = True  # False: the service offers no password login at all (key-only SSH): nothing to
    # guess, so it is judged clean for defaults and brute force (say why in not_tried)
    when: str = ""  # UTC time (ISO 8601, seconds) the credentials were tried: shown with a working default

    @property
    def where(self) -> str:
        return f"{self.service.host}:{self.service.port}"


@dataclass(frozen=True)
class LoginFacts:
    """Every authenticating service's login outcome (an empty tuple: no service was tried)."""

    services: tuple[ServiceLogin, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())

    @classmethod
    def merge(cls, *parts: Iterable[ServiceLogin]) -> LoginFacts:
        """One fact from each protocol's contributions, ordered by host, port and protocol."""
        every = [login for part in parts for login in part]
        every.sort(key=lambda s: (s.service.host, s.service.port, s.protocol))
        return cls(services=tuple(every))


async def judge_logins(auth: Authenticator, service: NetworkService, protocol: str,
                       options: DeviceOptions) -> ServiceLogin:
    """Defaults (after the must-fail probe) then, unless the service takes anything, the brute-force series."""
    when = datetime.now(UTC).isoformat(timespec="seconds")
    creds = options.credentials or default_credentials().entries
    defaults = await try_defaults(auth, creds, limit=options.credential_limit)
    bruteforce = None
    if options.bruteforce_attempts > 0 and not defaults.accepts_anything:
        bruteforce = await measure_bruteforce(auth, options.bruteforce_attempts)
    return ServiceLogin(service, protocol, defaults=defaults, bruteforce=bruteforce, when=when)
