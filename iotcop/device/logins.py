"""Trying credentials against a live service, without the classic false positives of default-login tools.

A protocol module supplies an ``Authenticator`` (one login attempt → ``Attempt``). This module decides:

- ``try_defaults``: first a credential that must fail (random user and password). A service that accepts it
  accepts anything: that is "no authentication", its own finding, never a default password. Then the
  shipped list, in order, stopping at the first credential that works; backing off (and stopping) when the
  service signals lockout or rate limiting.
- ``measure_bruteforce``: a bounded series of failed logins (EN 303 645 5.1-5), timing each, to report
  whether the service slows down, locks out or rate-limits, with the observed timings as evidence.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from iotcop.knowledge.credentials import Credential


class Result(StrEnum):
    ACCEPTED = "accepted"  # logged in
    REJECTED = "rejected"  # a clear "wrong credentials"
    LOCKED = "locked"  # the service said it is locked out / rate-limited (e.g. HTTP 429, "too many attempts")
    DISCONNECTED = "disconnected"  # dropped or refused the connection (may be a defence, may be a crash)
    ERROR = "error"  # the attempt could not be judged


@dataclass(frozen=True)
class Attempt:
    result: Result
    seconds: float = 0.0
    detail: str = ""  # what the service said (a prompt, a status line): the evidence


class Authenticator(Protocol):
    """One login attempt on one service. Implementations open their connections through ``Network``."""

    service: str  # e.g. "ssh 127.0.0.1:22"

    async def attempt(self, user: str, password: str) -> Attempt: ...


@dataclass(frozen=True)
class DefaultLogin:
    """The outcome of trying the defaults on one service."""

    service: str
    accepts_anything: bool = False  # the must-fail credential worked: no authentication at all
    probe: Attempt | None = None  # the must-fail attempt
    found: Credential | None = None  # the first default that worked
    at_attempt: int = 0  # how many credentials were tried before it (for the evidence)
    tried: int = 0
    stopped: str = ""  # why trying stopped early ('locked out after 3 attempts', ...)
    errors: int = 0

    @property
    def judged(self) -> bool:
        """Whether the answer means something: the must-fail probe was rejected and attempts were judged."""
        return self.probe is not None and self.probe.result is Result.REJECTED and self.tried > self.errors


def must_fail_credential() -> tuple[str, str]:
    return f"iotcop-{secrets.token_hex(4)}", secrets.token_urlsafe(12)


async def try_defaults(auth: Authenticator, credentials: Sequence[Credential], *, limit: int = 60,
                       pause: float = 0.0, lockout_backoff: float = 5.0) -> DefaultLogin:
    """Try ``credentials`` (at most ``limit``) after the must-fail probe; stop at the first that works."""
    user, password = must_fail_credential()
    probe = await auth.attempt(user, password)
    if probe.result is Result.ACCEPTED:
        return DefaultLogin(auth.service, accepts_anything=True, probe=probe)
    if probe.result is not Result.REJECTED:
        return DefaultLogin(auth.service, probe=probe, stopped=f"the must-fail login was not rejected cleanly "
                                                              f"({probe.result.value}: {probe.detail})")
    tried = errors = locked = 0
    seen: set[tuple[str, str]] = set()
    for cred in credentials:
        if tried >= limit:
            return DefaultLogin(auth.service, probe=probe, tried=tried, errors=errors,
                                stopped=f"stopped at the limit of {limit} credentials")
        if (cred.user, cred.password) in seen:
            continue
        seen.add((cred.user, cred.password))
        result = await auth.attempt(cred.user, cred.password)
        tried += 1
        if result.result is Result.ACCEPTED:
            return DefaultLogin(auth.service, probe=probe, found=cred, at_attempt=tried, tried=tried, errors=errors)
        if result.result is Result.LOCKED:
            locked += 1
            if locked >= 2:
                return DefaultLogin(auth.service, probe=probe, tried=tried, errors=errors,
                                    stopped=f"the service locked out or rate-limited after {tried} attempts "
                                            f"({result.detail})")
            await asyncio.sleep(lockout_backoff)
        elif result.result in (Result.ERROR, Result.DISCONNECTED):
            errors += 1
            if errors >= 5 and errors * 2 > tried:
                return DefaultLogin(auth.service, probe=probe, tried=tried, errors=errors,
                                    stopped=f"{errors} of {tried} attempts could not be judged ({result.detail})")
        if pause:
            await asyncio.sleep(pause)
    return DefaultLogin(auth.service, probe=probe, tried=tried, errors=errors)


class Defence(StrEnum):
    LOCKOUT = "lockout"  # refused even the right shape of attempt, said so, or stopped answering
    RATE_LIMIT = "rate_limit"  # said so (429, 'too many attempts')
    SLOWDOWN = "slowdown"  # answers got markedly slower as failures accumulated
    NONE = "none"  # answered every failure at the same speed
    UNKNOWN = "unknown"  # too many attempts could not be judged


@dataclass(frozen=True)
class BruteForceMeasurement:
    service: str
    attempts: int
    defence: Defence
    timings: tuple[float, ...] = field(default=())  # seconds per attempt, in order
    results: tuple[Result, ...] = field(default=())
    detail: str = ""  # what decided it, for the evidence

    def summary(self) -> str:
        if not self.timings:
            return f"{self.attempts} attempts: {self.detail}"
        first, last = self.timings[: max(1, len(self.timings) // 4)], self.timings[-max(1, len(self.timings) // 4):]
        return (f"{self.attempts} failed logins; median {statistics.median(first):.3f} s for the first, "
                f"{statistics.median(last):.3f} s for the last quarter; results: "
                + ", ".join(f"{r.value}: {self.results.count(r)}" for r in dict.fromkeys(self.results)))


async def measure_bruteforce(auth: Authenticator, attempts: int = 20, *, slowdown_factor: float = 3.0,
                             min_slowdown: float = 0.5) -> BruteForceMeasurement:
    """``attempts`` wrong logins in a row (bounded); what the service did about them."""
    timings: list[float] = []
    results: list[Result] = []
    user, _ = must_fail_credential()
    for _ in range(attempts):
        start = time.monotonic()
        outcome = await auth.attempt(user, secrets.token_urlsafe(10))
        timings.append(outcome.seconds or (time.monotonic() - start))
        results.append(outcome.result)
        if outcome.result is Result.ACCEPTED:
            return BruteForceMeasurement(auth.service, len(results), Defence.UNKNOWN, tuple(timings), tuple(results),
                                         "a random password was accepted: the service does not authenticate")
        if outcome.result is Result.LOCKED:
            return BruteForceMeasurement(auth.service, len(results), Defence.RATE_LIMIT, tuple(timings),
                                         tuple(results), f"after {len(results) - 1} failures: {outcome.detail}")
    judged = [t for t, r in zip(timings, results, strict=True) if r is Result.REJECTED]
    dropped = results.count(Result.DISCONNECTED)
    if results.count(Result.ERROR) * 2 > len(results):
        return BruteForceMeasurement(auth.service, len(results), Defence.UNKNOWN, tuple(timings), tuple(results),
                                     "most attempts could not be judged")
    if dropped and results[-1] is Result.DISCONNECTED and results[0] is Result.REJECTED:
        first_drop = results.index(Result.DISCONNECTED) + 1
        return BruteForceMeasurement(auth.service, len(results), Defence.LOCKOUT, tuple(timings), tuple(results),
                                     f"the service stopped accepting connections after {first_drop} failures")
    quarter = max(1, len(judged) // 4)
    detail = "every failure was answered without delay, lockout or limit"
    if len(judged) >= 8:
        early, late = statistics.median(judged[:quarter]), statistics.median(judged[-quarter:])
        threshold = max(early * slowdown_factor, early + min_slowdown)
        if late >= threshold:
            # a defence keeps answering slowly; a busy host or network (another probe, another tenant) does not:
            # three more failures must be as slow before the slowdown counts
            confirm = await _timed_failures(auth, user, CONFIRMATIONS)
            timings += [t for t, _ in confirm]
            results += [r for _, r in confirm]
            again = statistics.median(t for t, _ in confirm)
            if again >= threshold:
                return BruteForceMeasurement(auth.service, len(results), Defence.SLOWDOWN, tuple(timings),
                                             tuple(results), f"answers slowed from {early:.3f} s to {late:.3f} s "
                                                             f"and stayed slow ({again:.3f} s)")
            detail = (f"answers slowed from {early:.3f} s to {late:.3f} s but were fast again ({again:.3f} s): a "
                      "transient delay, not a defence")
    return BruteForceMeasurement(auth.service, len(results), Defence.NONE, tuple(timings), tuple(results), detail)


CONFIRMATIONS = 3


async def _timed_failures(auth: Authenticator, user: str, count: int) -> list[tuple[float, Result]]:
    out = []
    for _ in range(count):
        start = time.monotonic()
        outcome = await auth.attempt(user, secrets.token_urlsafe(10))
        out.append((outcome.seconds or (time.monotonic() - start), outcome.result))
    return out
