"""The cross-protocol credential checks on LoginFacts as protocols contribute them (no network)."""

from __future__ import annotations

from svc_login import verdict

from iotcop.checks.net.credentials import brute_force_unprotected, default_login, no_authentication
from iotcop.checks.registry import CheckFunc, spec_of
from iotcop.device.loginfacts import LoginFacts, ServiceLogin
from iotcop.device.logins import Attempt, BruteForceMeasurement, DefaultLogin, Defence, Result
from iotcop.knowledge.credentials import Credential
from iotcop.model import NetworkService
from iotcop.runner import run_checks

REJECT = Attempt(Result.REJECTED, 0.01, "Login incorrect")


def svc(port: int, name: str = "http") -> NetworkService:
    return NetworkService(host="127.0.0.39", port=port, transport="tcp", name=name)


def measured(defence: Defence, seconds: float = 0.01) -> BruteForceMeasurement:
    return BruteForceMeasurement("x", 10, defence, (seconds,) * 10, (Result.REJECTED,) * 10, "d")


def _run(func: CheckFunc, *logins: ServiceLogin) -> tuple[str, list[str]]:
    result = run_checks([spec_of(func)], {LoginFacts: LoginFacts.merge(logins)}, {})
    return verdict(result), [f"{f.location.path if f.location else '?'}" for f in result.findings]


CLEAN = ServiceLogin(svc(80), "http-basic", DefaultLogin("http", probe=REJECT, tried=5), measured(Defence.NONE))
FOUND = ServiceLogin(svc(8080), "http-basic", DefaultLogin("http", probe=REJECT, tried=2, at_attempt=2,
                                                           found=Credential("admin", "1234", "vendor")),
                     measured(Defence.SLOWDOWN), when="2026-01-01T00:00:00+00:00")
ANY = ServiceLogin(svc(554, "rtsp"), "rtsp", DefaultLogin("rtsp", accepts_anything=True,
                                                          probe=Attempt(Result.ACCEPTED, 0.0, "200 OK")))
OPEN = ServiceLogin(svc(23, "telnet"), "telnet", unauthenticated="# ")
KEYS = ServiceLogin(svc(22, "ssh"), "ssh", not_tried="publickey only", password_login=False)
BROKEN = ServiceLogin(svc(21, "ftp"), "ftp", not_tried="could not connect")


def test_default_login() -> None:
    assert _run(default_login, CLEAN, FOUND, ANY, OPEN, KEYS) == ("fail", ["127.0.0.39:8080"])
    assert _run(default_login, CLEAN, ANY, OPEN, KEYS) == ("pass", [])
    assert _run(default_login, CLEAN, BROKEN)[0] == "inconclusive"
    assert _run(default_login, FOUND, BROKEN) == ("fail", ["127.0.0.39:8080"])
    assert _run(default_login)[0] == "not_applicable"


def test_default_login_message_names_service_and_time() -> None:
    result = run_checks([spec_of(default_login)], {LoginFacts: LoginFacts.merge([FOUND])}, {})
    assert "'admin' / '1234'" in result.findings[0].message and "2026-01-01T00:00:00" in result.findings[0].message


def test_no_authentication() -> None:
    assert _run(no_authentication, CLEAN, FOUND, ANY, OPEN, KEYS) == ("fail", ["127.0.0.39:23", "127.0.0.39:554"])
    assert _run(no_authentication, CLEAN, FOUND, KEYS) == ("pass", [])
    assert _run(no_authentication, CLEAN, BROKEN)[0] == "inconclusive"


def test_brute_force() -> None:
    assert _run(brute_force_unprotected, CLEAN, FOUND, ANY, OPEN, KEYS) == ("fail", ["127.0.0.39:80"])
    slow = ServiceLogin(svc(81), "http-basic", CLEAN.defaults, measured(Defence.NONE, seconds=2.0))
    locked = ServiceLogin(svc(82), "http-basic", CLEAN.defaults, measured(Defence.LOCKOUT))
    assert _run(brute_force_unprotected, slow, locked, FOUND, KEYS) == ("pass", [])
    unknown = ServiceLogin(svc(83), "http-basic", CLEAN.defaults, measured(Defence.UNKNOWN))
    assert _run(brute_force_unprotected, slow, unknown)[0] == "inconclusive"
