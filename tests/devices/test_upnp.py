"""UPnP/SSDP probe and checks against the Python SSDP + IGD responder."""

from __future__ import annotations

import asyncio
import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st
from svc_iot import ELSEWHERE, UPNP_HOST, Endpoint, ssdp_igd

from iotcop.checks.net.upnp import igd_exposed, port_mapping_allowed
from iotcop.checks.registry import spec_of
from iotcop.device.net import NetLimits, Network
from iotcop.device.options import DeviceOptions, Discovered
from iotcop.device.scope import make_scope
from iotcop.device.upnp import UpnpError, UpnpFacts, parse_description, parse_headers, probe_upnp
from iotcop.model import RunStatus
from iotcop.runner import run_checks


def _probe(net: Network, ep: Endpoint, destructive: bool = False) -> UpnpFacts:
    found = Discovered(hosts=(UPNP_HOST,), services=(ep.service(),))
    return asyncio.run(probe_upnp(net, found, DeviceOptions(destructive=destructive)))


def _net() -> Network:
    return Network(make_scope([UPNP_HOST]), NetLimits(timeout=1.0))


def _flags(facts: UpnpFacts) -> dict[str, list[str]]:
    result = run_checks([spec_of(igd_exposed), spec_of(port_mapping_allowed)], {UpnpFacts: facts}, {})
    out: dict[str, list[str]] = {r.check_id: [r.status.value] for r in result.runs}
    for f in result.findings:
        out[f.check_id].append(f.location.path if f.location else "?")
    return out


def test_open_igd_is_exposed_and_its_port_mapping_answers_without_changing_anything() -> None:
    net = _net()
    with ssdp_igd() as ep:
        facts = _probe(net, ep)
    [dev] = facts.devices
    assert dev.igd and dev.friendly_name == "Home Router" and "MiniUPnPd" in dev.server
    [control] = dev.controls
    assert control.external_ip == "203.0.113.7" and control.entry_error == "713" and control.mapping == ""
    assert ep.extra["actions"] == ["GetExternalIPAddress", "GetGenericPortMappingEntry"]  # nothing destructive
    assert _flags(facts) == {"net.upnp.igd-exposed": ["completed", f"{UPNP_HOST}:{ep.port}"],
                             "net.upnp.port-mapping-allowed": ["completed", control.url]}
    assert control.url.startswith(f"http://{UPNP_HOST}:") and control.url.endswith("/ctl/IPConn")
    assert {c.host for c in net.log} == {UPNP_HOST}


def test_destructive_probe_adds_and_deletes_a_mapping() -> None:
    with ssdp_igd() as ep:
        facts = _probe(_net(), ep, destructive=True)
    assert facts.devices[0].controls[0].mapping.startswith("added and deleted")
    assert ep.extra["actions"][2:] == ["AddPortMapping", "DeletePortMapping"]


def test_locked_igd_is_exposed_but_mapping_refused() -> None:
    with ssdp_igd(kind="locked") as ep:
        facts = _probe(_net(), ep, destructive=True)
    assert facts.devices[0].controls[0].entry_error == "606"
    assert _flags(facts) == {"net.upnp.igd-exposed": ["completed", f"{UPNP_HOST}:{ep.port}"],
                             "net.upnp.port-mapping-allowed": ["completed"]}


def test_media_renderer_is_neither() -> None:
    with ssdp_igd(kind="media") as ep:
        facts = _probe(_net(), ep)
    assert _flags(facts) == {"net.upnp.igd-exposed": ["completed"],
                             "net.upnp.port-mapping-allowed": ["not_applicable"]}


def test_a_location_outside_the_scope_is_never_fetched() -> None:
    net = _net()
    with ssdp_igd(location_host=ELSEWHERE) as ep:
        facts = _probe(net, ep)
    [dev] = facts.devices
    assert dev.igd and "outside the scope" in dev.error  # the ST announced it; the description was not fetched
    assert [(c.host, c.transport) for c in net.log] == [(UPNP_HOST, "udp")]
    assert _flags(facts) == {"net.upnp.igd-exposed": ["completed", f"{UPNP_HOST}:{ep.port}"],
                             "net.upnp.port-mapping-allowed": ["inconclusive"]}


def test_silence_and_absence() -> None:
    facts = _probe(_net(), Endpoint(UPNP_HOST, 9, "ssdp", "udp"))
    assert _flags(facts) == {"net.upnp.igd-exposed": ["inconclusive"],
                             "net.upnp.port-mapping-allowed": ["inconclusive"]}
    none = run_checks([spec_of(igd_exposed)], {UpnpFacts: UpnpFacts()}, {})
    assert none.runs[0].status is RunStatus.NOT_APPLICABLE


def test_entities_are_refused() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><root>&a;</root>'
    try:
        parse_description(bomb, "http://x/")
    except UpnpError as exc:
        assert "DOCTYPE" in str(exc)
    else:
        raise AssertionError("a DOCTYPE was accepted")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_parsers_never_raise_anything_but_their_own_error(data: bytes) -> None:
    parse_headers(data)
    with contextlib.suppress(UpnpError):
        parse_description(data, "http://127.0.0.54/")
