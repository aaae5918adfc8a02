"""Telnet probe, authenticator and checks against a Python telnet server (login, lockout, slowdown, open shell)."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st
from svc_login import python_telnet, verdict

from iotcop.checks.net.credentials import brute_force_unprotected, default_login, no_authentication
from iotcop.checks.net.telnet import no_authentication as telnet_no_auth
from iotcop.checks.net.telnet import open as telnet_open
from iotcop.checks.registry import CheckFunc, spec_of
from iotcop.device.loginfacts import LoginFacts
from iotcop.device.logins import Defence, Result
from iotcop.device.net import NetLimits, Network
from iotcop.device.options import DeviceOptions, Discovered
from iotcop.device.scope import make_scope
from iotcop.device.telnet import Telnet, TelnetAuthenticator, TelnetFacts, classify, probe_telnet
from iotcop.knowledge.credentials import Credential
from iotcop.model import NetworkService
from iotcop.runner import run_checks

HOST = "127.0.0.31"
CREDS = (Credential("root", "xc3511", "mirai"), Credential("admin", "admin", "mirai"), Credential("root", "root", "x"))


def _probe(port: int, attempts: int = 12) -> tuple[TelnetFacts, Network]:
    net = Network(make_scope([HOST]), NetLimits(timeout=1.5))
    svc = NetworkService(host=HOST, port=port, transport="tcp", name="telnet")
    options = DeviceOptions(credentials=CREDS, bruteforce_attempts=attempts)
    facts = asyncio.run(probe_telnet(net, Discovered(hosts=(HOST,), services=(svc,)), options))
    return facts, net


def _run(func: CheckFunc, telnet: TelnetFacts) -> tuple[str, list[str]]:
    result = run_checks([spec_of(func)], {TelnetFacts: telnet, LoginFacts: LoginFacts.merge(telnet.logins)}, {})
    return verdict(result), [f.message for f in result.findings]


def test_vulnerable_telnet_default_login_and_no_brute_force_protection() -> None:
    with python_telnet(HOST, {"admin": "admin"}) as (_, port):
        facts, net = _probe(port)
    assert [s.state for s in facts.services] == ["login"]
    login = facts.logins[0]
    assert login.defaults is not None and login.defaults.found == CREDS[1] and login.defaults.at_attempt == 2
    assert login.bruteforce is not None and login.bruteforce.defence is Defence.NONE
    assert {(c.host, c.port) for c in net.log} == {(HOST, port)}
    status, messages = _run(default_login, facts)
    assert status == "fail" and len(messages) == 1 and "'admin' / 'admin'" in messages[0]
    status, messages = _run(brute_force_unprotected, facts)
    assert status == "fail" and "12 wrong passwords" in messages[0]
    assert _run(telnet_open, facts)[0] == "fail"
    assert _run(telnet_no_auth, facts)[0] == "pass"
    assert _run(no_authentication, facts)[0] == "pass"


def test_lockout_telnet_is_protected_and_has_no_default() -> None:
    with python_telnet(HOST, {"admin": "S3cret-unique-9"}, lockout_after=6) as (_, port):
        facts, _ = _probe(port)
    login = facts.logins[0]
    assert login.defaults is not None and login.defaults.found is None and login.defaults.judged
    assert login.bruteforce is not None and login.bruteforce.defence is Defence.RATE_LIMIT
    assert _run(default_login, facts)[0] == "pass"
    assert _run(brute_force_unprotected, facts)[0] == "pass"


def test_slowdown_telnet_is_protected() -> None:
    with python_telnet(HOST, {"admin": "S3cret-unique-9"}, delay_step=0.12, delay_free=6) as (_, port):
        facts, _ = _probe(port, attempts=10)
    login = facts.logins[0]
    assert login.bruteforce is not None and login.bruteforce.defence is Defence.SLOWDOWN, login.bruteforce
    assert _run(brute_force_unprotected, facts)[0] == "pass"


def test_python_shell_without_login() -> None:
    with python_telnet(HOST, None) as (_, port):
        facts, _ = _probe(port)
    assert [s.state for s in facts.services] == ["shell"]
    status, messages = _run(telnet_no_auth, facts)
    assert status == "fail" and f"{HOST}:{port}" in messages[0]
    assert _run(no_authentication, facts)[0] == "fail"
    assert _run(default_login, facts)[0] == "pass"


def test_no_telnet_is_not_applicable_and_closed_port_inconclusive() -> None:
    assert _run(telnet_open, TelnetFacts())[0] == "not_applicable"
    facts, _ = _probe(1)  # nothing listens on port 1 of this address
    assert [s.state for s in facts.services] == ["unreachable"]
    assert _run(telnet_open, facts)[0] == "inconclusive"
    assert _run(default_login, facts)[0] == "inconclusive"


def test_authenticator_rejects_and_accepts() -> None:
    with python_telnet(HOST, {"admin": "admin"}) as (_, port):
        net = Network(make_scope([HOST]), NetLimits(timeout=1.5))
        auth = TelnetAuthenticator(net, NetworkService(host=HOST, port=port, transport="tcp", name="telnet"))
        assert asyncio.run(auth.attempt("admin", "nope")).result is Result.REJECTED
        assert asyncio.run(auth.attempt("admin", "admin")).result is Result.ACCEPTED


def test_classify() -> None:
    assert classify("Welcome\r\nipcam login: ") == "login"
    assert classify("Password: ") == "password"
    assert classify("BusyBox v1.30\r\n~ # ") == "shell"
    assert classify("user@cam:~$ ") == "shell"
    assert classify("HTTP/1.1 400 Bad Request\r\n") == "unknown"


class _Writer:
    def __init__(self) -> None:
        self.sent = b""

    def write(self, data: bytes) -> None:
        self.sent += data


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=8))
def test_iac_stripping_never_raises(chunks: list[bytes]) -> None:
    tn = Telnet(None, _Writer())  # type: ignore[arg-type]
    text = "".join(tn._strip(c) for c in chunks)
    assert "\xff" not in text or b"\xff\xff" in b"".join(chunks)
    classify(text)
