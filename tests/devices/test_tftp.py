"""TFTP probe and check against the Python TFTP responder (answers from a fresh transfer port, like tftpd)."""

from __future__ import annotations

import asyncio
import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st
from svc_iot import ELSEWHERE, TFTP_HOST, Endpoint, tftp

from iotcop.checks.net.tftp import readable
from iotcop.checks.registry import spec_of
from iotcop.device.net import NetLimits, Network
from iotcop.device.options import DeviceOptions, Discovered
from iotcop.device.scope import make_scope
from iotcop.device.tftp import FILES, TftpError, TftpFacts, parse_packet, probe_tftp
from iotcop.runner import run_checks


def _probe(net: Network, *eps: Endpoint) -> TftpFacts:
    found = Discovered(hosts=(TFTP_HOST,), services=tuple(e.service() for e in eps))
    return asyncio.run(probe_tftp(net, found, DeviceOptions()))


def _net() -> Network:
    return Network(make_scope([TFTP_HOST]), NetLimits(timeout=0.5))


def _flags(facts: TftpFacts) -> tuple[list[str], str]:
    result = run_checks([spec_of(readable)], {TftpFacts: facts}, {})
    return ([result.runs[0].status.value] + [f.location.path if f.location else "?" for f in result.findings],
            " ".join(f.message for f in result.findings))


def test_a_served_config_file_is_reported_without_its_content() -> None:
    net = _net()
    with tftp({"startup-config": b"enable secret hunter2\n"}) as ep:
        facts = _probe(net, ep)
    [svc] = facts.services
    assert [(r.name, r.size) for r in svc.reads if r.readable] == [("startup-config", 22)]
    assert not svc.serves_anything and len(ep.extra["requests"]) == len(FILES) + 1
    flags, message = _flags(facts)
    assert flags == ["completed", f"{TFTP_HOST}:{ep.port}"] and "hunter2" not in message
    assert {(c.host, c.port) for c in net.log} == {(TFTP_HOST, ep.port)}


def test_a_server_that_serves_any_name_says_so_and_one_with_nothing_passes() -> None:
    with tftp(any_name=True) as ep:
        flags, message = _flags(_probe(_net(), ep))
    assert len(flags) == 2 and "any name" in message
    with tftp({"firmware.bin": b"x"}) as ep:
        facts = _probe(_net(), ep)
    assert {r.result for r in facts.services[0].reads} == {"error"}
    assert _flags(facts)[0] == ["completed"]


def test_silence_absence_and_scope() -> None:
    net = _net()
    facts = _probe(net, Endpoint(TFTP_HOST, 9, "tftp", "udp"), Endpoint(ELSEWHERE, 69, "tftp", "udp"))
    assert _flags(facts)[0] == ["inconclusive"]
    assert {c.host for c in net.log} == {TFTP_HOST} and "scope" in facts.services[1].error
    assert _flags(TftpFacts())[0] == ["not_applicable"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=100))
def test_the_packet_parser_never_raises_anything_but_its_own_error(data: bytes) -> None:
    with contextlib.suppress(TftpError):
        parse_packet(data)
