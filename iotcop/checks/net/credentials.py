"""Live checks across every authenticating service: default credentials, no authentication, brute-force
protection (EN 303 645 5.1-1, 5.1-5, 5.5-5). They read ``LoginFacts``, which each protocol contributes to."""

from __future__ import annotations

import statistics
from collections.abc import Iterator

from iotcop.checks.registry import check, spec_of
from iotcop.device.loginfacts import LoginFacts, ServiceLogin
from iotcop.device.logins import Defence, Result
from iotcop.errors import CannotAssess, NotApplicable
from iotcop.model import Evidence, EvidenceKind, Finding, Location, Severity

CONSTANT_DELAY = 1.0  # seconds: a service that answers every failure this late already slows guessing down


def _services(logins: LoginFacts) -> tuple[ServiceLogin, ...]:
    if not logins.services:
        raise NotApplicable("; ".join(logins.notes) or "no service asking for a login was found")
    return logins.services


def _loc(s: ServiceLogin) -> Location:
    return Location(kind="network", path=s.where)


def _why_unjudged(s: ServiceLogin) -> str:
    if s.not_tried:
        return s.not_tried
    if s.defaults is None:
        return "the credentials were not tried"
    return s.defaults.stopped or f"{s.defaults.errors} of {s.defaults.tried} attempts could not be judged"


def _inconclusive(unjudged: list[ServiceLogin]) -> None:
    if unjudged:
        raise CannotAssess("not judged: " + "; ".join(f"{s.protocol} {s.where}: {_why_unjudged(s)}" for s in unjudged))


@check(id="net.credentials.default-login", title="Service accepts a publicly known default credential",
       kind=EvidenceKind.NETWORK, severity=Severity.CRITICAL,
       remediation="Remove default accounts and passwords: give each device a unique password (printed on "
                   "the device or set by the user at first use) and refuse logins until it is set.")
def default_login(logins: LoginFacts) -> Iterator[Finding]:
    """A default password on a network service is the first thing botnets such as Mirai try: anyone who can
    reach the device logs in. Passwords must be unique per device or defined by the user (5.1-1, PSTI)."""
    spec = spec_of(default_login)
    found = False
    unjudged = []
    for s in _services(logins):
        d = s.defaults
        if not s.password_login:
            continue
        if d is not None and d.found is not None:
            found = True
            cred = d.found
            yield spec.finding(
                message=f"The {s.protocol} service at {s.where} accepted the default login {cred.user!r} / "
                        f"{cred.password!r} at {s.when or 'an unrecorded time'} (attempt {d.at_attempt} of the "
                        f"shipped list; listed in: {cred.source}). A random user and password tried first "
                        f"were rejected, so this is this credential working, not a service that takes anything.",
                location=_loc(s),
                evidence=Evidence.of(f"{s.protocol} {s.where} {s.when}: {cred.user}:{cred.password} accepted; "
                                     f"must-fail probe: {d.probe.detail[:200] if d.probe else ''}",
                                     f"logged in to {s.protocol} with the shipped default-credential lists"))
        elif s.unauthenticated or (d is not None and d.accepts_anything):
            continue  # net.credentials.no-authentication reports it
        elif d is None or not d.judged or (d.stopped and "limit" not in d.stopped):
            unjudged.append(s)
    if not found:
        _inconclusive(unjudged)


@check(id="net.credentials.no-authentication", title="Service grants access without a valid credential",
       kind=EvidenceKind.NETWORK, severity=Severity.CRITICAL,
       remediation="Require authentication on every remote access to device functions; never fall back to "
                   "granting access when the credential is wrong or missing.")
def no_authentication(logins: LoginFacts) -> Iterator[Finding]:
    """A service that gives a shell or a session without asking, or accepts a random user name and password,
    has no authentication at all: every device function behind it is open to anyone on the network."""
    spec = spec_of(no_authentication)
    found = False
    for s in _services(logins):
        d = s.defaults
        if s.unauthenticated:
            found = True
            yield spec.finding(message=f"The {s.protocol} service at {s.where} granted access without asking for "
                                       f"any credential: it sent {s.unauthenticated[:120]!r}.",
                               location=_loc(s), evidence=Evidence.of(s.unauthenticated[:500],
                                                                      f"connected to {s.protocol} without credentials"))
        elif d is not None and d.accepts_anything:
            found = True
            detail = d.probe.detail[:200] if d.probe else ""
            yield spec.finding(message=f"The {s.protocol} service at {s.where} accepted a random, never-issued "
                                       f"user name and password: it authenticates nobody ({detail}).",
                               location=_loc(s),
                               evidence=Evidence.of(f"{s.protocol} {s.where} {s.when}: random credential accepted: "
                                                    f"{detail}", "login with a credential that must fail"))
    if not found:
        _inconclusive([s for s in logins.services if (s.password_login and (s.not_tried or s.defaults is None))
                       or (s.defaults is not None and s.defaults.probe is not None
                           and s.defaults.probe.result is not Result.REJECTED)])


@check(id="net.auth.brute-force-unprotected", title="Login service does not resist password guessing",
       kind=EvidenceKind.NETWORK, severity=Severity.HIGH,
       remediation="Limit failed logins: lock out or rate-limit after a few failures, or make each further "
                   "failure slower (exponential back-off), per account and per source.")
def brute_force_unprotected(logins: LoginFacts) -> Iterator[Finding]:
    """Without a limit on failed logins, an attacker on the network can guess passwords as fast as the
    device answers. Authentication mechanisms must resist brute-force attacks (5.1-5)."""
    spec = spec_of(brute_force_unprotected)
    found = False
    unjudged = []
    for s in _services(logins):
        m = s.bruteforce
        if not s.password_login or s.unauthenticated or (s.defaults is not None and s.defaults.accepts_anything):
            continue  # nothing to guess
        if m is None or m.defence is Defence.UNKNOWN:
            unjudged.append(s)
            continue
        judged = [t for t, r in zip(m.timings, m.results, strict=False) if r is Result.REJECTED]
        slow = bool(judged) and statistics.median(judged) >= CONSTANT_DELAY
        if m.defence is Defence.NONE and not slow:
            found = True
            yield spec.finding(message=f"The {s.protocol} service at {s.where} answered {m.attempts} wrong "
                                       f"passwords in a row without lockout, rate limit or slowdown: "
                                       f"{m.summary()}.",
                               location=_loc(s),
                               evidence=Evidence.of(f"{m.service}: {m.summary()}; timings (s): "
                                                    + ", ".join(f"{t:.3f}" for t in m.timings),
                                                    "timed series of failed logins with random passwords"))
    if not found:
        _inconclusive(unjudged)
