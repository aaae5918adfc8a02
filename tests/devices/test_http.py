"""The HTTP probe and checks against real web servers: lighttpd with shell CGIs (vulnerable) and a redirecting
lighttpd in front of an HTTPS server with a trustme certificate (hardened)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import svc_web
import trustme
from hypothesis import given
from hypothesis import strategies as st

from iotcop.checks.net import http as checks
from iotcop.checks.registry import CheckFunc, spec_of
from iotcop.device.http import HttpFacts, probe_http
from iotcop.device.logins import Result
from iotcop.device.net import NetLimits, Network
from iotcop.device.options import DeviceOptions, Discovered
from iotcop.device.scope import make_scope
from iotcop.device.webclient import HttpError, Target, parse_page, parse_response
from iotcop.knowledge.credentials import Credential
from iotcop.model import NetworkService, RunStatus
from iotcop.runner import run_checks

ALL: list[CheckFunc] = [
    checks.admin_plaintext, checks.no_https_redirect, checks.basic_auth_plaintext, checks.unauthenticated_admin,
    checks.directory_listing, checks.default_page, checks.missing_security_headers]
CREDS = tuple(Credential(u, p, "test") for u, p in (("root", "12345"), ("admin", "password"), ("admin", "admin")))


def _run(facts: HttpFacts) -> dict[str, list[str]]:
    result = run_checks([spec_of(f) for f in ALL], {HttpFacts: facts}, {})
    out: dict[str, list[str]] = {spec_of(f).id: [] for f in ALL}
    for finding in result.findings:
        out[finding.check_id].append(finding.location.path)
    return out


def _probe(host: str, *services: NetworkService) -> tuple[HttpFacts, Network]:
    net = Network(make_scope([host]), NetLimits(timeout=2.0))
    options = DeviceOptions(credentials=CREDS, bruteforce_attempts=4)
    return asyncio.run(probe_http(net, Discovered(hosts=(host,), services=services), options)), net


@pytest.fixture(scope="module")
def vulnerable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HttpFacts, Network, int]]:
    with svc_web.vulnerable_lighttpd(tmp_path_factory.mktemp("vuln-web")) as port:
        facts, net = _probe(svc_web.VULNERABLE_HOST, NetworkService(host=svc_web.VULNERABLE_HOST, port=port,
                                                                    transport="tcp", name="http"))
        yield facts, net, port


@pytest.fixture(scope="module")
def hardened(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HttpFacts, Network, int, int]]:
    host = svc_web.HARDENED_HOST
    with svc_web.hardened_https(trustme.CA()) as https, \
            svc_web.redirecting_lighttpd(tmp_path_factory.mktemp("redirect"), https) as plain:
        facts, net = _probe(host, NetworkService(host=host, port=plain, transport="tcp", name="http"),
                            NetworkService(host=host, port=https, transport="tcp", name="https", tls=True))
        yield facts, net, plain, https


def test_vulnerable_web_admin_findings(vulnerable: tuple[HttpFacts, Network, int]) -> None:
    facts, net, port = vulnerable
    where = f"{svc_web.VULNERABLE_HOST}:{port}"
    assert _run(facts) == {
        "net.http.admin-plaintext": [where],
        "net.http.no-https-redirect": [f"{where}/"],
        "net.http.basic-auth-plaintext": [f"{where}/admin/"],
        "net.http.unauthenticated-admin": [f"{where}/cgi-bin/ping.cgi"],
        "net.http.directory-listing": [f"{where}/files/"],
        "net.http.default-page": [],
        "net.http.missing-security-headers": [f"{where}/"],
    }
    # nothing outside the target, and the off-device link (192.0.2.1) was never followed
    assert net.log and {c.host for c in net.log} == {svc_web.VULNERABLE_HOST}


def test_vulnerable_default_logins_basic_and_form(vulnerable: tuple[HttpFacts, Network, int]) -> None:
    facts, _, _ = vulnerable
    logins = {login.protocol: login for login in facts.logins}
    assert set(logins) == {"http-basic", "http-form"}
    for login in logins.values():
        assert login.defaults is not None and login.defaults.probe is not None
        assert login.defaults.probe.result is Result.REJECTED  # the must-fail attempt
        assert login.defaults.found is not None and (login.defaults.found.user, login.defaults.found.password) == \
            ("admin", "admin")
        assert login.defaults.at_attempt == 3
        assert login.bruteforce is not None and login.bruteforce.attempts == 4
        assert set(login.bruteforce.results) == {Result.REJECTED}


def test_hardened_web_passes(hardened: tuple[HttpFacts, Network, int, int]) -> None:
    facts, net, _plain, _https = hardened
    assert all(not s.reason for s in facts.services)
    assert _run(facts) == {spec_of(f).id: [] for f in ALL}
    # the login form answers 200 with the form again for a wrong password: that is a rejection, not a login
    (login,) = facts.logins
    assert login.protocol == "http-form" and login.defaults is not None
    assert login.defaults.probe is not None and login.defaults.probe.result is Result.REJECTED
    assert login.defaults.found is None and login.defaults.tried == len(CREDS)
    assert {c.host for c in net.log} == {svc_web.HARDENED_HOST}


def test_no_web_service_is_not_applicable_and_a_dead_one_cannot_be_assessed() -> None:
    runs = run_checks([spec_of(checks.admin_plaintext)], {HttpFacts: HttpFacts()}, {}).runs
    assert runs[0].status is RunStatus.NOT_APPLICABLE
    port = svc_web.free_port(svc_web.VULNERABLE_HOST)
    facts, _ = _probe(svc_web.VULNERABLE_HOST, NetworkService(host=svc_web.VULNERABLE_HOST, port=port,
                                                              transport="tcp", name="http"))
    assert facts.services[0].reason.startswith("GET / failed")
    runs = run_checks([spec_of(checks.admin_plaintext)], {HttpFacts: facts}, {}).runs
    assert runs[0].status is RunStatus.INCONCLUSIVE


def test_default_page_is_reported(tmp_path: Path) -> None:
    target = Target("127.0.0.41", 80, False)
    response = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 60\r\n\r\n"
                              b"<html><head><title>It works!</title></head></html>")
    page = parse_page("/", response, target)
    from iotcop.device.http import WebService

    svc = WebService(NetworkService(host="127.0.0.41", port=80, transport="tcp", name="http"), False,
                     pages=(page,))
    assert _run(HttpFacts((svc,)))["net.http.default-page"] == ["127.0.0.41:80/"]


@given(st.binary(max_size=2000))
def test_parsers_never_raise_on_garbage(raw: bytes) -> None:
    target = Target("127.0.0.41", 80, False)
    try:
        response = parse_response(raw)
    except HttpError:
        response = parse_response(b"HTTP/1.1 200 OK\r\n\r\n" + raw)
    parse_page("/", response, target)
