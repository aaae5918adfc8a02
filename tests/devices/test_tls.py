"""TLS quality via sslyze (run as a program) against openssl s_server with a weak, self-signed 1024-bit
certificate and TLS 1.0/1.1, and a Python HTTPS server with a trustme certificate and Mozilla's suites."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator

import pytest
import svc_web
import trustme
from hypothesis import given
from hypothesis import strategies as st

from iotcop.checks.net import tls as checks
from iotcop.checks.registry import CheckFunc, spec_of
from iotcop.device.net import NetLimits, Network
from iotcop.device.options import DeviceOptions, Discovered
from iotcop.device.scope import make_scope
from iotcop.device.tls import TlsFacts, _find_sslyze, parse_compliance, parse_sslyze, probe_tls
from iotcop.model import AssessmentTime, NetworkService, RunStatus
from iotcop.runner import run_checks

ALL: list[CheckFunc] = [
    checks.weak_protocol, checks.weak_cipher, checks.self_signed, checks.expired_certificate, checks.weak_key,
    checks.hostname_mismatch, checks.mozilla_intermediate]


def _run(facts: TlsFacts, now: AssessmentTime | None = None, found: Discovered | None = None) -> dict[str, list[str]]:
    now = now or AssessmentTime(at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))
    bag = {TlsFacts: facts, AssessmentTime: now, Discovered: found or Discovered(hosts=())}
    result = run_checks([spec_of(f) for f in ALL], bag, {})
    out: dict[str, list[str]] = {spec_of(f).id: [] for f in ALL}
    for finding in result.findings:
        out[finding.check_id].append(finding.location.path)
    return {k: sorted(v) for k, v in out.items()}


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TlsFacts, Network, str, str]]:
    if _find_sslyze() is None:
        pytest.skip("sslyze is not installed in .venv-tools")
    with svc_web.weak_tls(tmp_path_factory.mktemp("weak-tls")) as weak, svc_web.hardened_https(trustme.CA()) as good:
        services = (NetworkService(host=svc_web.WEAK_TLS_HOST, port=weak, transport="tcp", name="https", tls=True),
                    NetworkService(host=svc_web.HARDENED_HOST, port=good, transport="tcp", name="https", tls=True))
        net = Network(make_scope([svc_web.WEAK_TLS_HOST, svc_web.HARDENED_HOST]), NetLimits(timeout=2.0))
        facts = asyncio.run(probe_tls(net, Discovered(hosts=(), services=services), DeviceOptions()))
        yield facts, net, f"{svc_web.WEAK_TLS_HOST}:{weak}", f"{svc_web.HARDENED_HOST}:{good}"


def test_weak_server_fails_and_hardened_passes(scanned: tuple[TlsFacts, Network, str, str]) -> None:
    facts, net, weak, _good = scanned
    assert [s.reason for s in facts.services] == ["", ""]
    assert facts.tool.startswith("sslyze ")
    assert _run(facts) == {
        "net.tls.weak-protocol": [weak],
        "net.tls.weak-cipher": [weak],
        "net.tls.self-signed": [weak],
        "net.tls.expired-certificate": [],
        "net.tls.weak-key": [weak],
        "net.tls.hostname-mismatch": [weak],
        "net.tls.mozilla-intermediate": [weak],
    }
    bad = facts.services[0]
    assert {"TLS 1.0", "TLS 1.1"} <= set(bad.protocols)
    assert bad.certificate is not None and bad.certificate.key_size == 1024 and bad.certificate.self_signed
    assert {k for k, _ in bad.compliance} >= {"tls_versions", "rsa_key_size"}
    assert set(facts.services[1].protocols) <= {"TLS 1.2", "TLS 1.3"}
    # reached by a name its certificate carries (the user gave the name, it resolved to this address): no mismatch
    names = bad.certificate.names()
    assert names, "the weak server's certificate names something"
    by_name = Discovered(hosts=(), names=((svc_web.WEAK_TLS_HOST, names[0]),))
    assert _run(facts, found=by_name)["net.tls.hostname-mismatch"] == []
    assert [(c.host, c.probe) for c in net.log] == [(svc_web.WEAK_TLS_HOST, "tls (sslyze)"),
                                                    (svc_web.HARDENED_HOST, "tls (sslyze)")]


def test_expiry_is_judged_at_the_assessment_time(scanned: tuple[TlsFacts, Network, str, str]) -> None:
    facts, _, weak, good = scanned
    later = AssessmentTime(at=dt.datetime.now(dt.UTC) + dt.timedelta(days=3650))
    assert _run(facts, later)["net.tls.expired-certificate"] == sorted([weak, good])
    earlier = AssessmentTime(at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    assert _run(facts, earlier)["net.tls.expired-certificate"] == sorted([weak, good])


def test_no_tls_service_and_no_sslyze() -> None:
    assert run_checks([spec_of(checks.weak_protocol)], {TlsFacts: TlsFacts()}, {}).runs[0].status \
        is RunStatus.NOT_APPLICABLE
    svc = NetworkService(host="127.0.0.45", port=1, transport="tcp", name="https", tls=True)
    net = Network(make_scope(["127.0.0.45"]))
    facts = asyncio.run(probe_tls(net, Discovered(hosts=(), services=(svc,)), DeviceOptions(),
                                  sslyze="/nonexistent/sslyze"))
    assert facts.services[0].reason.startswith("sslyze failed")
    assert run_checks([spec_of(checks.weak_protocol)], {TlsFacts: facts}, {}).runs[0].status \
        is RunStatus.INCONCLUSIVE


@given(st.text(max_size=3000), st.text(max_size=1000))
def test_sslyze_parsers_never_raise(document: str, console: str) -> None:
    svc = NetworkService(host="127.0.0.45", port=443, transport="tcp", name="https", tls=True)
    parse_sslyze([svc], document, console)
    parse_sslyze([svc], '{"server_scan_results": [{"server_location": {"ip_address": "127.0.0.45", "port": 443},'
                 ' "connectivity_status": "COMPLETED", "scan_result": ' + (document or "{}") + "}]}", console)
    parse_compliance("COMPLIANCE AGAINST TLS CONFIGURATION\n" + console)
