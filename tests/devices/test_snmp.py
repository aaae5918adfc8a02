"""SNMP probe and checks against net-snmp's snmpd (community public; v3 only; v3 disabled)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from svc_iot import ELSEWHERE, SNMP_HOST, Endpoint, snmpd

from iotcop.checks.net.snmp import default_community, no_v3
from iotcop.checks.registry import spec_of
from iotcop.device.net import NetLimits, Network
from iotcop.device.options import DeviceOptions, Discovered
from iotcop.device.scope import make_scope
from iotcop.device.snmp import BerError, SnmpFacts, parse_response, parse_v3_report, probe_snmp
from iotcop.knowledge.credentials import Credential
from iotcop.model import RunStatus
from iotcop.runner import run_checks


def _probe(net: Network, *eps: Endpoint, options: DeviceOptions | None = None) -> SnmpFacts:
    found = Discovered(hosts=(SNMP_HOST,), services=tuple(e.service() for e in eps))
    return asyncio.run(probe_snmp(net, found, options or DeviceOptions()))


def _net() -> Network:
    return Network(make_scope([SNMP_HOST]), NetLimits(timeout=0.5))


def _flags(facts: SnmpFacts) -> dict[str, list[str]]:
    result = run_checks([spec_of(default_community), spec_of(no_v3)], {SnmpFacts: facts}, {})
    out: dict[str, list[str]] = {r.check_id: [r.status.value] for r in result.runs}
    for f in result.findings:
        out[f.check_id].append(f"{f.location.path if f.location else '?'}:{f.severity.value}")
    return out


def test_public_community_with_v3_disabled_fails_both(tmp_path: Path) -> None:
    net = _net()
    with snmpd(tmp_path, communities=("public",), v3=False) as ep:
        facts = _probe(net, ep)
    [svc] = facts.services
    assert {(a.version, a.community) for a in svc.answers} == {("v1", "public"), ("v2c", "public")}
    assert svc.v3 is False and "Linux" in svc.answers[0].sys_descr
    where = f"{SNMP_HOST}:{ep.port}"
    assert _flags(facts) == {"net.snmp.default-community": ["completed", f"{where}:high"],
                             "net.snmp.no-v3": ["completed", f"{where}:medium"]}
    assert net.log and all(c.host == SNMP_HOST and c.port == ep.port and c.transport == "udp" for c in net.log)


def test_a_user_supplied_community_is_tried_and_v3_alongside_is_an_observation(tmp_path: Path) -> None:
    with snmpd(tmp_path, communities=("s3cr3t-c0mm",)) as ep:
        plain = _probe(_net(), ep)
        extra = _probe(_net(), ep, options=DeviceOptions(credentials=(Credential("", "s3cr3t-c0mm", "user"),)))
    assert not plain.services[0].answers and plain.services[0].v3 and plain.services[0].engine_id
    assert _flags(plain) == {"net.snmp.default-community": ["completed"], "net.snmp.no-v3": ["completed"]}
    where = f"{SNMP_HOST}:{ep.port}"
    assert _flags(extra) == {"net.snmp.default-community": ["completed", f"{where}:high"],
                             "net.snmp.no-v3": ["completed", f"{where}:info"]}


def test_v3_only_agent_passes(tmp_path: Path) -> None:
    with snmpd(tmp_path, v3_only=True) as ep:
        facts = _probe(_net(), ep)
    assert facts.services[0].v3 and not facts.services[0].answers
    assert _flags(facts) == {"net.snmp.default-community": ["completed"], "net.snmp.no-v3": ["completed"]}


def test_silence_is_inconclusive_absence_not_applicable_and_scope_kept() -> None:
    net = _net()
    facts = _probe(net, Endpoint(SNMP_HOST, 9, "snmp", "udp"), Endpoint(ELSEWHERE, 161, "snmp", "udp"))
    assert _flags(facts) == {"net.snmp.default-community": ["inconclusive"], "net.snmp.no-v3": ["inconclusive"]}
    assert {c.host for c in net.log} == {SNMP_HOST}
    assert "scope" in facts.services[1].error
    none = run_checks([spec_of(no_v3)], {SnmpFacts: SnmpFacts()}, {})
    assert none.runs[0].status is RunStatus.NOT_APPLICABLE


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_the_ber_parsers_never_raise_anything_but_ber_errors(data: bytes) -> None:
    for parse in (parse_response, parse_v3_report):
        with contextlib.suppress(BerError):
            parse(data)


@pytest.mark.parametrize("n", [0, 1, 127, 128, 255, 256, 65535, 1 << 31, -1])
def test_integer_round_trip(n: int) -> None:
    from iotcop.device.snmp import _int, decode, integer
    assert _int(decode(integer(n))[0]) == n
