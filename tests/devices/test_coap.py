"""CoAP probe and check against the Python CoAP responder (open; resources behind 4.01)."""

from __future__ import annotations

import asyncio
import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st
from svc_iot import COAP_HOST, ELSEWHERE, Endpoint, coap

from iotcop.checks.net.coap import unauthenticated
from iotcop.checks.registry import spec_of
from iotcop.device.coap import CoapError, CoapFacts, get_request, parse_links, parse_response, probe_coap
from iotcop.device.net import NetLimits, Network
from iotcop.device.options import DeviceOptions, Discovered
from iotcop.device.scope import make_scope
from iotcop.runner import run_checks


def _probe(net: Network, *eps: Endpoint) -> CoapFacts:
    found = Discovered(hosts=(COAP_HOST,), services=tuple(e.service() for e in eps))
    return asyncio.run(probe_coap(net, found, DeviceOptions()))


def _net() -> Network:
    return Network(make_scope([COAP_HOST]), NetLimits(timeout=0.5))


def _flags(facts: CoapFacts) -> list[str]:
    result = run_checks([spec_of(unauthenticated)], {CoapFacts: facts}, {})
    return [result.runs[0].status.value] + [f"{f.location.path if f.location else '?'}:{f.severity.value}"
                                            for f in result.findings]


def test_open_coap_resources_are_readable_and_payloads_are_not_kept() -> None:
    net = _net()
    with coap() as ep:
        facts = _probe(net, ep)
    [svc] = facts.services
    assert svc.links == ("/sensors/temp", "/config/wifi")
    assert [(r.path, r.code, r.size) for r in svc.readable] == [("/sensors/temp", "2.05", 4),
                                                                ("/config/wifi", "2.05", 21)]
    assert _flags(facts) == ["completed", f"{COAP_HOST}:{ep.port}:high"]
    message = run_checks([spec_of(unauthenticated)], {CoapFacts: facts}, {}).findings[0].model_dump_json()
    assert "hunter2" not in message
    assert {c.host for c in net.log} == {COAP_HOST}


def test_secured_resources_leave_only_an_observation_about_the_listing() -> None:
    with coap(secured=True) as ep:
        facts = _probe(_net(), ep)
    assert [r.code for r in facts.services[0].reads] == ["4.01", "4.01"]
    assert _flags(facts) == ["completed", f"{COAP_HOST}:{ep.port}:info"]


def test_silence_absence_and_scope() -> None:
    net = _net()
    facts = _probe(net, Endpoint(COAP_HOST, 9, "coap", "udp"), Endpoint(ELSEWHERE, 5683, "coap", "udp"))
    assert _flags(facts) == ["inconclusive"]
    assert {c.host for c in net.log} == {COAP_HOST} and "scope" in facts.services[1].error
    assert _flags(CoapFacts()) == ["not_applicable"]


def test_request_encoding_uses_option_deltas() -> None:
    assert get_request("/.well-known/core", 0x1234, b"\x01") == (
        b"\x41\x01\x12\x34\x01" + b"\xbb.well-known" + b"\x04core")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_parsers_never_raise_anything_but_their_own_error(data: bytes) -> None:
    parse_links(data)
    with contextlib.suppress(CoapError):
        parse_response(data, int.from_bytes(data[2:4], "big") if len(data) >= 4 else 0, data[4:4 + (data[0] & 15)]
                       if data else b"")
