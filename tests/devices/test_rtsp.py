"""RTSP probe and checks against the Python camera responder: open, Basic, Digest."""

from __future__ import annotations

import asyncio
import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st
from svc_iot import ELSEWHERE, RTSP_HOST, Endpoint, rtsp

from iotcop.checks.net.rtsp import basic_auth, unauthenticated
from iotcop.checks.registry import spec_of
from iotcop.device.logins import Result, try_defaults
from iotcop.device.net import NetLimits, Network
from iotcop.device.options import DeviceOptions, Discovered
from iotcop.device.rtsp import RtspAuthenticator, RtspError, RtspFacts, parse_head, probe_rtsp
from iotcop.device.scope import make_scope
from iotcop.knowledge.credentials import Credential
from iotcop.model import RunStatus
from iotcop.runner import run_checks


def _net() -> Network:
    return Network(make_scope([RTSP_HOST]), NetLimits(timeout=2.0))


def _probe(net: Network, *eps: Endpoint) -> RtspFacts:
    found = Discovered(hosts=(RTSP_HOST,), services=tuple(e.service() for e in eps))
    return asyncio.run(probe_rtsp(net, found, DeviceOptions()))


def _flags(facts: RtspFacts) -> dict[str, list[str]]:
    result = run_checks([spec_of(unauthenticated), spec_of(basic_auth)], {RtspFacts: facts}, {})
    out: dict[str, list[str]] = {r.check_id: [r.status.value] for r in result.runs}
    for f in result.findings:
        out[f.check_id].append(f.location.path if f.location else "?")
    return out


def test_open_camera_describes_its_stream_without_credentials() -> None:
    net = _net()
    with rtsp() as ep:
        facts = _probe(net, ep)
    [svc] = facts.services
    assert svc.options_status == 200 and "DESCRIBE" in svc.public and svc.unauthenticated
    assert svc.url == f"rtsp://{RTSP_HOST}:{ep.port}/" and svc.sdp.startswith("v=0")
    assert _flags(facts) == {"net.rtsp.unauthenticated": ["completed", f"{RTSP_HOST}:{ep.port}"],
                             "net.rtsp.basic-auth": ["not_applicable"]}
    assert all(c.host == RTSP_HOST and c.port == ep.port for c in net.log)


def test_digest_camera_passes_and_its_default_password_is_found_by_the_authenticator() -> None:
    net = _net()
    with rtsp(auth="digest", user="admin", password="12345") as ep:
        facts = _probe(net, ep)
        auth = RtspAuthenticator(net, RTSP_HOST, ep.port)
        creds = [Credential("admin", "admin", "t"), Credential("root", "root", "t"), Credential("admin", "12345", "t")]
        login = asyncio.run(try_defaults(auth, creds))
    assert facts.services[0].describe_status == 401 and facts.services[0].schemes == ("Digest",)
    assert _flags(facts) == {"net.rtsp.unauthenticated": ["completed"], "net.rtsp.basic-auth": ["completed"]}
    assert login.judged and login.found == creds[2] and login.tried == 3
    assert all(c.host == RTSP_HOST for c in net.log)


def test_basic_camera_is_flagged_for_basic_and_the_authenticator_speaks_basic() -> None:
    net = _net()
    with rtsp(auth="basic", user="admin", password="admin") as ep:
        facts = _probe(net, ep)
        auth = RtspAuthenticator(net, RTSP_HOST, ep.port)
        ok = asyncio.run(auth.attempt("admin", "admin"))
        bad = asyncio.run(auth.attempt("admin", "nope"))
    assert _flags(facts) == {"net.rtsp.unauthenticated": ["completed"],
                             "net.rtsp.basic-auth": ["completed", f"{RTSP_HOST}:{ep.port}"]}
    assert ok.result is Result.ACCEPTED and bad.result is Result.REJECTED


def test_nothing_listening_is_inconclusive_and_out_of_scope_is_not_contacted() -> None:
    with rtsp() as ep:
        port = ep.port
    net = _net()
    facts = _probe(net, Endpoint(RTSP_HOST, port, "rtsp"), Endpoint(ELSEWHERE, 554, "rtsp"))
    assert _flags(facts) == {"net.rtsp.unauthenticated": ["inconclusive"], "net.rtsp.basic-auth": ["inconclusive"]}
    assert [c.host for c in net.log] == [RTSP_HOST] and net.log[0].outcome == "refused"
    none = run_checks([spec_of(unauthenticated)], {RtspFacts: RtspFacts()}, {})
    assert none.runs[0].status is RunStatus.NOT_APPLICABLE


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_the_reply_parser_never_raises_anything_but_its_own_error(data: bytes) -> None:
    with contextlib.suppress(RtspError):
        parse_head(data)
