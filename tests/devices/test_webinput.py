"""Input-handling probes against a real command-injection bug (lighttpd + shell CGI) and a fragile server that
dies on an oversized parameter; look-alikes (the login form, the hardened device) must not be reported."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import svc_web

from iotcop.checks.net import input as checks
from iotcop.checks.registry import CheckFunc, spec_of
from iotcop.device.http import WebService
from iotcop.device.net import NetLimits, Network
from iotcop.device.options import DeviceOptions, Discovered
from iotcop.device.scope import make_scope
from iotcop.device.webclient import Form, Page
from iotcop.device.webinput import InputFacts, parameters, probe_input
from iotcop.model import NetworkService, RunStatus
from iotcop.runner import run_checks

ALL: list[CheckFunc] = [checks.command_injection, checks.crash, checks.device_hang]


def _run(facts: InputFacts) -> dict[str, list[str]]:
    result = run_checks([spec_of(f) for f in ALL], {InputFacts: facts}, {})
    out: dict[str, list[str]] = {spec_of(f).id: [] for f in ALL}
    for finding in result.findings:
        out[finding.check_id].append(finding.location.path)
    return out


@pytest.fixture(scope="module")
def probed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[InputFacts, Network, str, str]]:
    with svc_web.vulnerable_lighttpd(tmp_path_factory.mktemp("input-web")) as port, svc_web.fragile_http() as fragile:
        services = (NetworkService(host=svc_web.VULNERABLE_HOST, port=port, transport="tcp", name="http"),
                    NetworkService(host=svc_web.FRAGILE_HOST, port=fragile, transport="tcp", name="http"))
        net = Network(make_scope([svc_web.VULNERABLE_HOST, svc_web.FRAGILE_HOST]), NetLimits(timeout=2.0))
        options = DeviceOptions(credential_limit=0, bruteforce_attempts=0)
        facts = asyncio.run(probe_input(net, Discovered(hosts=(), services=services), options))
        yield facts, net, f"{svc_web.VULNERABLE_HOST}:{port}", f"{svc_web.FRAGILE_HOST}:{fragile}"


def test_injection_crash_and_hang_are_found_exactly(probed: tuple[InputFacts, Network, str, str]) -> None:
    facts, net, vulnerable, fragile = probed
    assert _run(facts) == {
        "net.input.command-injection": [f"{vulnerable}/cgi-bin/ping.cgi"],
        "net.input.crash": [f"{fragile}/set"],
        "net.resilience.device-hang": [fragile],
    }
    (hit,) = facts.failures("injection")
    assert hit.parameter.name == "ip" and "iotcop42" in hit.evidence and hit.group == "command injection (echo)"
    (crash,) = facts.failures("crash")
    assert crash.group == "oversized value" and "refused" in crash.evidence
    # the login form's three fields and the diagnostics field were probed; the crashed plug's one
    assert facts.parameters == 5
    assert {c.host for c in net.log} == {svc_web.VULNERABLE_HOST, svc_web.FRAGILE_HOST}


def test_destructive_forms_are_left_alone_unless_asked() -> None:
    page = Page("/", 200, forms=(Form("/reboot.cgi", "POST", (("delay", "text", "0"),)),
                                 Form("/set", "GET", (("name", "text", "plug"),))),
                links=("/status?page=1",))
    svc = WebService(NetworkService(host="127.0.0.46", port=80, transport="tcp", name="http"), False, pages=(page,))
    params, skipped = parameters(svc)
    assert [(p.path, p.name) for p in params] == [("/set", "name"), ("/status", "page")]
    assert skipped == ["127.0.0.46:80/reboot.cgi: looks destructive (reboot/reset/upgrade/delete)"]
    params, skipped = parameters(svc, destructive=True)
    assert next((p.path, p.name) for p in params) == ("/reboot.cgi", "delay") and not skipped


def test_nothing_to_probe() -> None:
    off = asyncio.run(probe_input(Network(make_scope(["127.0.0.46"])), Discovered(hosts=()),
                                  DeviceOptions(input_probes=False)))
    assert {r.status for r in run_checks([spec_of(f) for f in ALL], {InputFacts: off}, {}).runs} == \
        {RunStatus.NOT_APPLICABLE}
    none = InputFacts(services=("127.0.0.46:80",), skipped=("127.0.0.46:80: GET / failed",))
    assert {r.status for r in run_checks([spec_of(f) for f in ALL], {InputFacts: none}, {}).runs} == \
        {RunStatus.INCONCLUSIVE}
