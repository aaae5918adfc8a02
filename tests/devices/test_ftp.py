"""FTP probe, authenticator and checks against pyftpdlib servers (anonymous + admin:admin; hardened)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from svc_login import pyftpd, verdict

from iotcop.checks.net.credentials import brute_force_unprotected, default_login, no_authentication
from iotcop.checks.net.ftp import anonymous_login, plaintext_login
from iotcop.checks.registry import CheckFunc, spec_of
from iotcop.device.ftp import FtpFacts, probe_ftp, read_reply
from iotcop.device.loginfacts import LoginFacts
from iotcop.device.logins import Defence
from iotcop.device.net import NetLimits, Network
from iotcop.device.options import DeviceOptions, Discovered
from iotcop.device.scope import make_scope
from iotcop.knowledge.credentials import Credential
from iotcop.model import NetworkService
from iotcop.runner import run_checks

HOST = "127.0.0.33"
CREDS = (Credential("root", "vizxv", "mirai"), Credential("admin", "admin", "mirai"))


def _probe(port: int, attempts: int = 10) -> tuple[FtpFacts, Network]:
    net = Network(make_scope([HOST]), NetLimits(timeout=2.0))
    svc = NetworkService(host=HOST, port=port, transport="tcp", name="ftp")
    facts = asyncio.run(probe_ftp(net, Discovered(hosts=(HOST,), services=(svc,)),
                                  DeviceOptions(credentials=CREDS, bruteforce_attempts=attempts)))
    return facts, net


def _run(func: CheckFunc, ftp: FtpFacts) -> tuple[str, list[str]]:
    result = run_checks([spec_of(func)], {FtpFacts: ftp, LoginFacts: LoginFacts.merge(ftp.logins)}, {})
    return verdict(result), [f.message for f in result.findings]


def test_vulnerable_ftp(tmp_path: Path) -> None:
    with pyftpd(HOST, tmp_path / "root", {"admin": "admin"}, anonymous=True) as (_, port):
        facts, net = _probe(port)
    s = facts.services[0]
    assert s.anonymous is True and s.plaintext_login is True and "Acme NAS" in s.greeting
    login = facts.logins[0]
    assert login.defaults is not None and login.defaults.found == CREDS[1]
    assert login.bruteforce is not None and login.bruteforce.defence is Defence.NONE
    assert {(c.host, c.port) for c in net.log} == {(HOST, port)}
    status, messages = _run(anonymous_login, facts)
    assert status == "fail" and f"{HOST}:{port}" in messages[0]
    assert _run(plaintext_login, facts)[0] == "fail"
    status, messages = _run(default_login, facts)
    assert status == "fail" and "'admin' / 'admin'" in messages[0] and "ftp" in messages[0]
    assert _run(brute_force_unprotected, facts)[0] == "fail"
    assert _run(no_authentication, facts)[0] == "pass"


def test_hardened_ftp_constant_delay(tmp_path: Path) -> None:
    with pyftpd(HOST, tmp_path / "root", {"admin": "Un1que-Device-Pass"}, failure_delay=1.0) as (_, port):
        facts, _ = _probe(port, attempts=2)
    assert facts.services[0].anonymous is False
    assert _run(anonymous_login, facts)[0] == "pass"
    assert _run(default_login, facts)[0] == "pass"
    assert _run(brute_force_unprotected, facts)[0] == "pass"  # every failure answered after >= 1 s


def test_no_ftp() -> None:
    assert _run(anonymous_login, FtpFacts())[0] == "not_applicable"
    facts, _ = _probe(1)
    assert _run(anonymous_login, facts)[0] == "inconclusive"
    assert _run(default_login, facts)[0] == "inconclusive"


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_reply_parser_never_raises(data: bytes) -> None:
    async def parse() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        reply = await read_reply(reader, 1.0)
        assert 0 <= reply.code <= 999

    asyncio.run(parse())


@pytest.mark.parametrize(("raw", "code"), [(b"220-Hello\r\n220 ready\r\n", 220), (b"530 no\r\n", 530),
                                           (b"garbage\r\n", 0)])
def test_reply_parser(raw: bytes, code: int) -> None:
    async def parse() -> int:
        reader = asyncio.StreamReader()
        reader.feed_data(raw)
        reader.feed_eof()
        return (await read_reply(reader, 1.0)).code

    assert asyncio.run(parse()) == code
