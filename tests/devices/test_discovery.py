"""Discovery against real services on 127.0.0.21: nmap and the asyncio scanner agree, every service is identified,
closed ports are not reported, and nothing outside the scope is contacted."""

from __future__ import annotations

import asyncio
import shutil
import socket
import time
from collections.abc import Iterator

import pytest
from svc_basic import BED_HOST, ELSEWHERE, QUIET_HOST, Bed, basic_bed, free_port, tcp_responder

from iotcop.device.discovery import discover
from iotcop.device.identify import Identifier, _plan
from iotcop.device.net import NetLimits, Network
from iotcop.device.options import DeviceOptions, Discovered
from iotcop.device.scope import make_scope
from iotcop.device.udp import probe_udp

LIMITS = NetLimits(concurrency=16, rate=500.0, timeout=1.0)
EXPECTED_TCP = {  # service → (name, product, version, tls)
    "ssh": ("ssh", "dropbear", "2022.83", False),
    "telnet": ("telnet", "BusyBox telnetd", None, False),
    "http": ("http", "lighttpd", "1.4.69", False),
    "https": ("https", "SimpleHTTP", "0.6", True),
    "mqtt": ("mqtt", None, None, False),
    "ftp": ("ftp", "vsftpd", "3.0.3", False),
    "smtp": ("smtp", "Postfix", None, False),
    "rtsp": ("rtsp", "GStreamer", None, False),
}
EXPECTED_UDP = {"snmp": ("snmp", "net-snmp", None), "ssdp": ("ssdp", "MiniUPnPd", "2.1"), "mdns": ("mdns", None, None),
                "coap": ("coap", None, None), "tftp": ("tftp", None, None), "ntp": ("ntp", None, None)}


@pytest.fixture(scope="module")
def bed() -> Iterator[Bed]:
    with basic_bed() as started:
        yield started


@pytest.fixture(scope="module")
def closed_port() -> int:
    return free_port(BED_HOST)


def _run(bed: Bed, closed: int, use_nmap: bool, targets: list[str] | None = None) -> tuple[Discovered, Network]:
    scope = make_scope(targets or [BED_HOST])
    net = Network(scope, LIMITS)
    options = DeviceOptions(tcp_ports=(*bed.tcp.values(), closed), udp_ports=(*bed.udp.values(), closed),
                            use_nmap=use_nmap)
    return asyncio.run(discover(net, scope, options)), net


def _table(found: Discovered) -> dict[tuple[str, int], tuple[str, str | None, str | None, bool]]:
    return {(s.transport, s.port): (s.name, s.product, s.version, s.tls) for s in found.services}


def _expected(bed: Bed) -> dict[tuple[str, int], tuple[str, str | None, str | None, bool]]:
    out = {("tcp", bed.tcp[k]): v for k, v in EXPECTED_TCP.items()}
    out.update({("udp", bed.udp[k]): (*v, False) for k, v in EXPECTED_UDP.items()})
    return out


def test_asyncio_scanner_identifies_every_service(bed: Bed, closed_port: int) -> None:
    found, net = _run(bed, closed_port, use_nmap=False)
    assert found.method == "asyncio connect scan"
    assert _table(found) == _expected(bed)  # the closed port (TCP and UDP) is not reported
    assert found.hosts == (BED_HOST,) and found.scanned_tcp == len(bed.tcp) + 1
    assert {c.host for c in net.log} == {BED_HOST}
    assert any(c.port == closed_port and c.outcome == "refused" for c in net.log)
    by_port = {s.port: s for s in found.services}
    assert by_port[bed.tcp["ssh"]].banner == "SSH-2.0-dropbear_2022.83"
    assert by_port[bed.tcp["ssh"]].method == "banner"
    assert by_port[bed.tcp["https"]].method.startswith("TLS handshake (TLSv1.3 ")
    assert by_port[bed.tcp["mqtt"]].banner == "CONNACK 5 (not authorized)"
    assert by_port[bed.udp["snmp"]].method == "snmp-v3 probe"  # a random community gets no answer from snmpd
    assert "enterprise 8072" in by_port[bed.udp["snmp"]].banner


@pytest.mark.skipif(shutil.which("nmap") is None, reason="nmap is not installed")
def test_nmap_and_the_fallback_agree(bed: Bed, closed_port: int) -> None:
    with_nmap, net = _run(bed, closed_port, use_nmap=True)
    assert with_nmap.method.startswith("nmap 7") and with_nmap.method.endswith("(connect scan)")
    assert _table(with_nmap) == _expected(bed)
    runs = [c for c in net.log if c.probe.startswith("discovery: nmap")]
    assert len(runs) == 1 and runs[0].host == BED_HOST and runs[0].outcome == "ok"
    assert {c.host for c in net.log} == {BED_HOST}
    assert not any(c.port == closed_port and c.transport == "tcp" for c in net.log)  # nmap scanned it, not us


def test_nothing_outside_the_scope_is_contacted(bed: Bed, closed_port: int) -> None:
    """A /30 around the bed: QUIET_HOST (nothing listens) is scanned; ELSEWHERE, excluded, is never contacted."""
    contacted: list[str] = []
    with tcp_responder(ELSEWHERE, b"SSH-2.0-elsewhere\r\n", peers=contacted) as other:
        scope = make_scope(["127.0.0.20/30", ELSEWHERE, f"!{ELSEWHERE}"])  # named, then excluded
        net = Network(scope, LIMITS)
        options = DeviceOptions(tcp_ports=(bed.tcp["ssh"], other), udp_ports=(), use_nmap=False)
        found = asyncio.run(discover(net, scope, options))
        assert not contacted
        socket.create_connection((ELSEWHERE, other), timeout=1).close()  # the control: a contact is seen
        deadline = time.monotonic() + 2
        while not contacted and time.monotonic() < deadline:
            time.sleep(0.01)
    assert len(contacted) == 1
    assert found.hosts == (BED_HOST, QUIET_HOST)
    assert [(s.host, s.port, s.name) for s in found.services] == [(BED_HOST, bed.tcp["ssh"], "ssh")]
    assert {c.host for c in net.log} == {BED_HOST, QUIET_HOST}


def test_well_known_udp_ports_get_their_own_probe_only(bed: Bed) -> None:
    """On 1900 only M-SEARCH is sent; an unknown port gets every probe (here: SNMP answers two of them)."""
    net = Network(make_scope([BED_HOST]), LIMITS)
    answered = asyncio.run(probe_udp(net, BED_HOST, bed.udp["snmp"], timeout=0.5))
    assert [name for name, _ in answered] == ["snmp-v3"]
    assert len([c for c in net.log if c.transport == "udp"]) == 7
    quiet = Network(make_scope([QUIET_HOST]), LIMITS)
    assert asyncio.run(probe_udp(quiet, QUIET_HOST, 1900, timeout=0.3)) == []
    assert [c.probe for c in quiet.log] == ["discovery"]


def test_silent_and_unknown_services(bed: Bed) -> None:
    """A port that accepts and says nothing is 'unknown'; an answer we cannot read is too (never a guess)."""
    net = Network(make_scope([BED_HOST]), NetLimits(timeout=0.3))
    with tcp_responder(BED_HOST, answer=lambda req: b"\x00\x01garbage") as port:
        service = asyncio.run(Identifier(net, greet=0.1).identify(BED_HOST, port))
    assert (service.name, service.product, service.tls) == ("unknown", None, False)
    assert {c.host for c in net.log} == {BED_HOST}


def test_port_hints_order_the_guesses_only() -> None:
    """The port number orders the exchanges; every port still gets every kind of exchange."""
    assert _plan(443)[0] == "tls" and _plan(1883)[0] == "mqtt" and _plan(554)[0] == "rtsp"
    assert _plan(8080)[0] == "http" and _plan(22)[0] == "banner" and _plan(40000)[0] == "banner"
    for port in (443, 1883, 554, 8080, 22):
        assert {"tls", "mqtt", "rtsp"} <= set(_plan(port)) and {"banner", "http"} & set(_plan(port))
