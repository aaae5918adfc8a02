"""SSH probe (ssh-audit, offered methods, OpenSSH-client authenticator) and checks against the real dropbear."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from svc_login import dropbear, verdict

from iotcop.checks.net.credentials import brute_force_unprotected, default_login
from iotcop.checks.net.ssh import password_authentication, weak_algorithm
from iotcop.checks.registry import CheckFunc, spec_of
from iotcop.device.loginfacts import LoginFacts
from iotcop.device.net import NetLimits, Network
from iotcop.device.options import DeviceOptions, Discovered
from iotcop.device.scope import make_scope
from iotcop.device.ssh import SshAlgorithms, SshFacts, parse_audit, probe_ssh
from iotcop.knowledge.credentials import Credential
from iotcop.model import NetworkService
from iotcop.runner import run_checks

HOST = "127.0.0.32"
CREDS = (Credential("root", "xmhdipc", "mirai"), Credential("admin", "admin", "mirai"))
pytestmark = pytest.mark.skipif(shutil.which("ssh-audit") is None or shutil.which("ssh") is None,
                                reason="ssh-audit or the OpenSSH client is not installed")


def _probe(port: int, attempts: int = 3) -> tuple[SshFacts, Network]:
    net = Network(make_scope([HOST]), NetLimits(timeout=3.0))
    svc = NetworkService(host=HOST, port=port, transport="tcp", name="ssh")
    facts = asyncio.run(probe_ssh(net, Discovered(hosts=(HOST,), services=(svc,)),
                                  DeviceOptions(credentials=CREDS, bruteforce_attempts=attempts)))
    return facts, net


def _run(func: CheckFunc, ssh: SshFacts) -> tuple[str, list[str]]:
    result = run_checks([spec_of(func)], {SshFacts: ssh, LoginFacts: LoginFacts.merge(ssh.logins)}, {})
    return verdict(result), [f.message for f in result.findings]


def test_dropbear_with_password_login(tmp_path_factory: pytest.TempPathFactory) -> None:
    with dropbear(HOST, tmp_path_factory.mktemp("dropbear")) as (_, port):
        facts, net = _probe(port)
    s = facts.services[0]
    assert s.algorithms is not None and "dropbear" in s.algorithms.banner
    assert ("host key", "ssh-rsa") in s.algorithms.weak() and ("MAC", "hmac-sha1") in s.algorithms.weak()
    assert s.methods is not None and "password" in s.methods
    login = facts.logins[0]
    assert login.defaults is not None and login.defaults.found == CREDS[1], login
    assert {(c.host, c.port) for c in net.log} == {(HOST, port)}
    status, messages = _run(weak_algorithm, facts)
    assert status == "fail" and "hmac-sha1" in messages[0]
    assert _run(password_authentication, facts)[0] == "fail"
    status, messages = _run(default_login, facts)
    assert status == "fail" and "'admin' / 'admin'" in messages[0]
    # dropbear answers every failure after the same ~0.3 s: no growing delay, no lockout
    assert _run(brute_force_unprotected, facts)[0] == "fail"


def test_dropbear_key_only(tmp_path_factory: pytest.TempPathFactory) -> None:
    with dropbear(HOST, tmp_path_factory.mktemp("dropbear-keys"), password=False) as (_, port):
        facts, _ = _probe(port)
    assert facts.services[0].methods == ("publickey",)
    assert facts.logins[0].password_login is False
    assert _run(password_authentication, facts)[0] == "pass"
    assert _run(default_login, facts)[0] == "pass"
    assert _run(brute_force_unprotected, facts)[0] == "pass"


def test_no_ssh() -> None:
    assert _run(weak_algorithm, SshFacts())[0] == "not_applicable"
    facts, _ = _probe(1)
    assert _run(weak_algorithm, facts)[0] == "inconclusive"
    assert _run(default_login, facts)[0] == "inconclusive"


def test_weak_table() -> None:
    algs = SshAlgorithms(kex=("curve25519-sha256", "diffie-hellman-group1-sha1"), key=("ssh-ed25519", "ssh-dss"),
                         enc=("aes128-ctr", "aes256-cbc", "chacha20-poly1305@openssh.com"),
                         mac=("hmac-sha2-256-etm@openssh.com", "hmac-md5", "umac-128-etm@openssh.com"))
    assert algs.weak() == [("key exchange", "diffie-hellman-group1-sha1"), ("host key", "ssh-dss"),
                           ("cipher", "aes256-cbc"), ("MAC", "hmac-md5")]


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(max_size=200), st.recursive(st.none() | st.text(max_size=10) | st.integers(),
                                                      lambda c: st.lists(c) | st.dictionaries(st.text(), c),
                                                      max_leaves=20).map(json.dumps)))
def test_parse_audit_never_raises(text: str) -> None:
    parse_audit(text)


def test_parse_audit_shapes(tmp_path: Path) -> None:
    assert parse_audit('{"kex": [{"algorithm": "x"}], "enc": ["a"], "banner": {"raw": "SSH-2.0-x"}}') == \
        SshAlgorithms("SSH-2.0-x", ("x",), (), ("a",), ())
    assert parse_audit("[1]") is None
