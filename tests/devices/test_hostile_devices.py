"""Devices that misbehave on purpose: raw Python servers on 127.0.0.111-119 send hostile bytes (a telnet
negotiation flood that never reads, FTP replies trickled or without a line break, SSDP LOCATIONs with an
impossible port, a device description that hides its DOCTYPE behind 4 KB, an nmap that never ends, a probe
family that raises). Each must leave us bounded in time and every other result intact."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import NoReturn

import pytest
from svc_login import verdict

from iotcop.checks.net.credentials import default_login
from iotcop.checks.net.ftp import anonymous_login
from iotcop.checks.net.upnp import igd_exposed
from iotcop.checks.registry import CheckFunc, spec_of
from iotcop.device import assess, discovery
from iotcop.device.assess import gather_device
from iotcop.device.ftp import FtpFacts, probe_ftp
from iotcop.device.loginfacts import LoginFacts
from iotcop.device.net import NetLimits, Network
from iotcop.device.options import DeviceOptions, Discovered
from iotcop.device.scope import make_scope
from iotcop.device.telnet import TelnetFacts, greet
from iotcop.device.upnp import UpnpFacts, parse_description, probe_upnp
from iotcop.knowledge.credentials import Credential
from iotcop.model import NetworkService
from iotcop.runner import run_checks

IAC_DO_FLOOD = bytes([255, 253, 24]) * 21846  # IAC DO TERMINAL-TYPE, 64 KB at a time


def _net(host: str, timeout: float = 1.0) -> Network:
    return Network(make_scope([host]), NetLimits(timeout=timeout))


def _outcome(func: CheckFunc, facts: dict[type, object]) -> str:
    return verdict(run_checks([spec_of(func)], facts, {}))


@contextmanager
def tcp_server(host: str, handler: Callable[[socket.socket], None], rcvbuf: int = 0) -> Iterator[int]:
    """A raw TCP server on ``host`` (any free port); ``handler`` gets each connection in its own thread."""
    listener = socket.socket()
    if rcvbuf:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # inherited by accepted sockets
    listener.bind((host, 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn, suppress(OSError):
            handler(conn)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(5.0)
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        listener.close()


@contextmanager
def ssdp_responder(host: str, location: str) -> Iterator[int]:
    """Answers every M-SEARCH with one 200 naming ``location``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            if data.startswith(b"M-SEARCH"):
                sock.sendto(b"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nST: upnp:rootdevice\r\n"
                            b"SERVER: Linux/3.10 UPnP/1.0 Acme/1.0\r\nLOCATION: " + location.encode() + b"\r\n\r\n",
                            peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        sock.close()


def _bounded(coro: object, seconds: float) -> object:
    """Run ``coro`` and fail the test (instead of hanging) when it takes longer than ``seconds``."""
    async def run() -> object:
        return await asyncio.wait_for(coro, seconds)  # type: ignore[arg-type]
    return asyncio.run(run())


# finding 6: telnet negotiation flood from a peer that never reads our answers


def test_telnet_negotiation_flood_is_cut_off() -> None:
    host = "127.0.0.111"

    def flood(conn: socket.socket) -> None:
        conn.settimeout(30.0)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            conn.sendall(IAC_DO_FLOOD)  # and never reads: our WONT answers pile up

    with tcp_server(host, flood, rcvbuf=4096) as port:
        svc = NetworkService(host=host, port=port, transport="tcp", name="telnet")
        started = time.monotonic()
        seen = _bounded(greet(_net(host, timeout=3.0), svc), 20)
    assert time.monotonic() - started < 10
    assert seen.state == "unknown" and seen.reason  # type: ignore[attr-defined]


# finding 9: FTP replies without an overall deadline; a line without a line break


def _ftp(host: str, port: int) -> FtpFacts:
    svc = NetworkService(host=host, port=port, transport="tcp", name="ftp")
    facts = _bounded(probe_ftp(_net(host), Discovered(hosts=(host,), services=(svc,)), DeviceOptions()), 15)
    assert isinstance(facts, FtpFacts)
    return facts


def test_ftp_trickled_multiline_greeting_has_one_deadline() -> None:
    host = "127.0.0.112"

    def trickle(conn: socket.socket) -> None:
        conn.sendall(b"220-Acme NAS FTP\r\n")
        for _ in range(200):  # one line every 0.3 s: each line alone is well within the timeout
            time.sleep(0.3)
            conn.sendall(b"220-x\r\n")

    with tcp_server(host, trickle) as port:
        started = time.monotonic()
        facts = _ftp(host, port)
    assert time.monotonic() - started < 5
    assert "no complete reply within 1 s" in facts.services[0].reason
    assert _outcome(anonymous_login, {FtpFacts: facts}) == "inconclusive"


def test_ftp_line_without_line_break_is_no_reply() -> None:
    host = "127.0.0.113"

    def endless_line(conn: socket.socket) -> None:
        conn.sendall(b"220 " + b"A" * (2 << 20))
        time.sleep(2)

    with tcp_server(host, endless_line) as port:
        facts = _ftp(host, port)
    service = facts.services[0]
    assert service.anonymous is None and "too long" in service.reason
    assert facts.logins[0].not_tried
    assert _outcome(anonymous_login, {FtpFacts: facts}) == "inconclusive"
    assert _outcome(default_login, {LoginFacts: LoginFacts.merge(facts.logins)}) == "inconclusive"


# findings 10 and 16: UPnP LOCATION with an impossible port; DOCTYPE hidden behind 4 KB


def _upnp(host: str, port: int) -> UpnpFacts:
    svc = NetworkService(host=host, port=port, transport="udp", name="ssdp")
    facts = _bounded(probe_upnp(_net(host), Discovered(hosts=(host,), services=(svc,)), DeviceOptions()), 15)
    assert isinstance(facts, UpnpFacts)
    return facts


def test_upnp_location_port_out_of_range_is_the_devices_error() -> None:
    host = "127.0.0.114"
    with ssdp_responder(host, f"http://{host}:99999/rootDesc.xml") as port:
        facts = _upnp(host, port)
    device = facts.devices[0]
    assert device.answered and "99999" in device.error and "out of range" in device.error
    assert _outcome(igd_exposed, {UpnpFacts: facts}) == "inconclusive"


HIDDEN_DOCTYPE = (b'<?xml version="1.0"?>\n<!--' + b" padding" * 700 + b' -->\n'
                  b'<!DOCTYPE root [<!ENTITY igd "urn:schemas-upnp-org:device:InternetGatewayDevice:1">]>\n'
                  b'<root xmlns="urn:schemas-upnp-org:device-1-0"><device><deviceType>&igd;</deviceType>'
                  b"<friendlyName>Acme</friendlyName></device></root>")


def test_upnp_doctype_after_4k_is_refused() -> None:
    host = "127.0.0.115"
    assert HIDDEN_DOCTYPE.index(b"<!DOCTYPE") > 4096

    def http(conn: socket.socket) -> None:
        conn.recv(4096)
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/xml\r\nContent-Length: "
                     + str(len(HIDDEN_DOCTYPE)).encode() + b"\r\n\r\n" + HIDDEN_DOCTYPE)

    with tcp_server(host, http) as web, ssdp_responder(host, f"http://{host}:{web}/rootDesc.xml") as port:
        facts = _upnp(host, port)
    device = facts.devices[0]
    assert device.device_types == () and "DOCTYPE" in device.error and "refused" in device.error
    assert _outcome(igd_exposed, {UpnpFacts: facts}) == "inconclusive"
    with pytest.raises(Exception, match="refused"):
        parse_description(HIDDEN_DOCTYPE, "http://127.0.0.115/")


# finding 17: an nmap that never finishes is killed


def test_hung_nmap_is_killed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = "127.0.0.116"
    fake = tmp_path / "nmap"
    fake.write_text("#!/bin/sh\nsleep 60\necho never\n")  # a child holds the pipes too
    fake.chmod(0o755)
    monkeypatch.setattr(discovery, "nmap_time_limit", lambda *_args: 1.0)
    net = _net(host)
    started = time.monotonic()
    result = _bounded(discovery.nmap_scan(net, str(fake), host, (21, 23)), 20)
    assert result is None and time.monotonic() - started < 8
    assert any("killed after 1 s" in c.outcome for c in net.log)


# finding 10: a probe family that raises leaves its checks INCONCLUSIVE, the others' results intact


def _ftp_server(conn: socket.socket) -> None:
    conn.sendall(b"220 Acme NAS FTP server ready\r\n")
    while data := conn.recv(1024):
        conn.sendall(b"221 bye\r\n" if data.startswith(b"QUIT") else b"530 Login incorrect.\r\n")


def _telnet_server(conn: socket.socket) -> None:
    conn.sendall(bytes([255, 251, 1]) + b"\r\nAcme login: ")
    stage = "login"
    while data := conn.recv(1024):
        if b"\n" not in data and b"\r" not in data:
            continue
        if stage == "login":
            conn.sendall(b"Password: ")
            stage = "password"
        else:
            conn.sendall(b"\r\nLogin incorrect\r\nAcme login: ")
            stage = "login"


def test_failing_family_is_inconclusive_and_others_survive(monkeypatch: pytest.MonkeyPatch) -> None:
    host = "127.0.0.117"

    async def broken(*_args: object) -> NoReturn:
        raise ValueError("Port out of range 0-65535")

    monkeypatch.setattr(assess, "probe_ftp", broken)
    with tcp_server(host, _ftp_server) as ftp_port, tcp_server(host, _telnet_server) as telnet_port:
        options = DeviceOptions(tcp_ports=(ftp_port, telnet_port), udp_ports=(), limits=NetLimits(timeout=1.0),
                                credentials=(Credential("admin", "admin", "test"),), credential_limit=1,
                                bruteforce_attempts=0, input_probes=False, use_nmap=False)
        device = _bounded(gather_device(make_scope([host]), options), 30)
    assert isinstance(device, assess.DeviceFacts)
    assert {s.name for s in device.found.services} == {"ftp", "telnet"}
    ftp = device.facts[FtpFacts]
    assert isinstance(ftp, FtpFacts) and len(ftp.services) == 1
    assert "the ftp probe failed: ValueError: Port out of range" in ftp.services[0].reason
    assert any("the ftp probe failed" in n for n in device.notes)
    assert _outcome(anonymous_login, device.facts) == "inconclusive"
    telnet = device.facts[TelnetFacts]
    assert isinstance(telnet, TelnetFacts) and telnet.services[0].state == "login"  # untouched by ftp's failure
    logins = device.facts[LoginFacts]
    assert isinstance(logins, LoginFacts)
    assert {(s.protocol, bool(s.not_tried)) for s in logins.services} == {("ftp", True), ("telnet", False)}
    assert _outcome(default_login, device.facts) == "inconclusive"  # the ftp service could not be tried
