"""End to end: ``assess_device`` on the two simulated devices; exact findings, verdicts, and a scope kept.

Every service is real (dropbear, lighttpd, mosquitto, snmpd) or a Python server where no small daemon fits;
all listen on one loopback address per persona. Nothing else is contacted: the audit log is checked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from personas import HARDENED, VULNERABLE, Persona, hardened, vulnerable

from iotcop.api import assess_device
from iotcop.device.net import NetLimits
from iotcop.device.options import DeviceOptions
from iotcop.model import Assessment, Outcome, Severity

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def options(persona: Persona) -> DeviceOptions:
    return DeviceOptions(tcp_ports=tuple(sorted(persona.tcp.values())), udp_ports=tuple(sorted(persona.udp.values())),
                         limits=NetLimits(concurrency=16, rate=200.0, timeout=2.0), bruteforce_attempts=12,
                         credential_limit=12, use_nmap=True)


@pytest.fixture(scope="module")
def vulnerable_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Assessment, Persona]]:
    with vulnerable(tmp_path_factory.mktemp("vulnerable")) as persona:
        yield assess_device([VULNERABLE], options=options(persona), clock=lambda: NOW), persona


@pytest.fixture(scope="module")
def hardened_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Assessment, Persona]]:
    with hardened(tmp_path_factory.mktemp("hardened")) as persona:
        yield assess_device([HARDENED], options=options(persona), clock=lambda: NOW), persona


def failing(a: Assessment) -> set[tuple[str, str]]:
    """(check, host:port) of every finding that fails something; URLs and paths cut to their host:port."""
    return {(f.check_id, urlsplit(f.location.path).netloc if "://" in f.location.path
             else f.location.path.split("/")[0]) for f in a.findings if f.severity is not Severity.INFO}


def test_the_vulnerable_device(vulnerable_run: tuple[Assessment, Persona]) -> None:
    a, p = vulnerable_run
    at = {name: f"{p.host}:{port}" for name, port in {**p.tcp, **p.udp}.items()}
    found = failing(a)
    expected = {
        ("net.telnet.open", at["telnet"]),
        ("net.credentials.default-login", at["telnet"]), ("net.credentials.default-login", at["ssh"]),
        ("net.credentials.default-login", at["http"]),
        ("net.http.admin-plaintext", at["http"]), ("net.http.basic-auth-plaintext", at["http"]),
        ("net.http.directory-listing", at["http"]), ("net.input.command-injection", at["http"]),
        ("net.mqtt.anonymous", at["mqtt"]), ("net.mqtt.plaintext", at["mqtt"]),
        ("net.rtsp.unauthenticated", at["rtsp"]),
        ("net.snmp.default-community", at["snmp"]),
        ("net.upnp.igd-exposed", at["ssdp"]), ("net.upnp.port-mapping-allowed", at["igd"]),
        ("net.http.no-https-redirect", at["igd"]),  # the IGD's own web server: plain HTTP, as miniupnpd's is
        ("net.credentials.no-authentication", at["mqtt"]), ("net.credentials.no-authentication", at["rtsp"]),
        ("net.auth.brute-force-unprotected", at["telnet"]), ("net.auth.brute-force-unprotected", at["ssh"]),
        ("net.auth.brute-force-unprotected", at["http"]),
        ("net.http.unauthenticated-admin", at["http"]), ("net.http.no-https-redirect", at["http"]),
        ("net.ssh.weak-algorithm", at["ssh"]),
    }
    assert found == expected, (sorted(expected - found), sorted(found - expected))
    login = next(f for f in a.findings if f.check_id == "net.credentials.default-login"
                 and f.location.path == at["telnet"])
    assert "admin" in login.message  # the working credential is shown: it is the proof
    for requirement in ("5.1-1", "5.5-1", "5.5-4", "5.13-1"):
        assert a.verdict("en303645", requirement).outcome is Outcome.FAIL, requirement
    assert a.verdict("psti", "sch1-1").outcome is Outcome.FAIL
    names = {(s.port, s.name) for s in a.services}
    assert {(p.tcp["ssh"], "ssh"), (p.tcp["telnet"], "telnet"), (p.tcp["http"], "http")} <= names


def test_the_hardened_device(hardened_run: tuple[Assessment, Persona]) -> None:
    a, p = hardened_run
    at = {name: f"{p.host}:{port}" for name, port in p.tcp.items()}
    # what remains is true of these real servers: mosquitto and the HTTPS login answer every wrong password at
    # once (no rate limiting), and mosquitto's default TLS settings fall outside Mozilla's intermediate profile
    assert failing(a) == {("net.auth.brute-force-unprotected", at["mqtts"]),
                          ("net.auth.brute-force-unprotected", at["https"]),
                          ("net.tls.mozilla-intermediate", at["mqtts"])}, sorted(failing(a))
    assert a.verdict("en303645", "5.1-1").outcome is not Outcome.FAIL
    assert {s.name for s in a.services} >= {"ssh", "https"}


@pytest.mark.parametrize("run", ["vulnerable_run", "hardened_run"])
def test_nothing_outside_the_target_was_contacted(run: str, request: pytest.FixtureRequest) -> None:
    a, p = request.getfixturevalue(run)
    assert a.connections, "the audit log is empty"
    assert {c.host for c in a.connections} == {p.host}


def test_a_device_assessment_renders_in_every_report(vulnerable_run: tuple[Assessment, Persona],
                                                      tmp_path: Path) -> None:
    from iotcop.catalogue import load_catalogue
    from iotcop.reports.formats import FORMATS

    a, p = vulnerable_run
    catalogue = load_catalogue()
    for name in ("json", "html", "sarif", "junit", "md", "label"):
        assert FORMATS[name].renderer()(a, catalogue)
    page = FORMATS["html"].renderer()(a, catalogue).decode()
    device = page[page.index('<section id="device"'):page.index("</section>", page.index('<section id="device"'))]
    for name, port in p.tcp.items():
        if name != "igd":
            assert f"<code>{p.host}:{port}/tcp</code>" in device, name
    assert f"{len(a.connections)} connection(s) made, all to the targets named ({p.host})" in device
