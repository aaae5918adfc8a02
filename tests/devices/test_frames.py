"""Malformed protocol frames against real daemons that must survive (mosquitto, lighttpd, snmpd: no finding) and
small Python devices that die on an oversized line (the whole device: its other service goes too), hang on a bad
MQTT remaining-length varint, or die on a CoAP token length of 15 (found, with the frame that preceded it)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
import svc_web
from svc_basic import free_port
from svc_iot import _daemon, wait_tcp

from iotcop.checks.net import input as checks
from iotcop.checks.registry import spec_of
from iotcop.device.frames import FrameFacts, excerpt, frames_for, probe_frames
from iotcop.device.net import NetLimits, Network
from iotcop.device.options import DeviceOptions, Discovered
from iotcop.device.scope import make_scope
from iotcop.model import NetworkService, RunStatus
from iotcop.runner import run_checks

REAL, LINE, VARINT, UDP = "127.0.0.121", "127.0.0.122", "127.0.0.123", "127.0.0.124"

LINE_DEVICE = r"""
import os, socketserver, sys, threading
class Ftp(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(b"220 plug FTP ready\r\n")
        while True:
            line = self.rfile.readline(65536 + 16)
            if not line: return
            if len(line) > 4096: os._exit(3)  # the firmware's fixed-size command buffer
            self.wfile.write(b"530 Please login\r\n")
class Telnet(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(b"\xff\xfb\x01plug login: ")
        while self.rfile.read(4096): pass
class S(socketserver.ThreadingTCPServer):
    daemon_threads = allow_reuse_address = True
host, ftp, telnet = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
threading.Thread(target=S((host, telnet), Telnet).serve_forever, daemon=True).start()
S((host, ftp), Ftp).serve_forever()
"""

VARINT_DEVICE = r"""
import socket, sys, time
srv = socket.create_server((sys.argv[1], int(sys.argv[2])))
while True:
    conn, _ = srv.accept()
    conn.settimeout(2)
    try:
        first = conn.recv(1)
        length = shift = 0
        for i in range(8):
            b = conn.recv(1)[0]
            if i == 4:
                time.sleep(3600)  # the parser loops forever on a fifth length byte
            length |= (b & 0x7F) << shift; shift += 7
            if not b & 0x80: break
        got = b""
        while len(got) < length:
            chunk = conn.recv(length - len(got))
            if not chunk: break
            got += chunk
        if first == b"\x10" and len(got) == length:
            conn.sendall(b"\x20\x02\x00\x00")
    except (OSError, IndexError):
        pass
    conn.close()
"""

COAP_DEVICE = r"""
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], int(sys.argv[2])))
while True:
    data, peer = s.recvfrom(2048)
    if len(data) < 4: continue
    if data[0] & 0x0F > 8: os._exit(4)  # token length 9-15 is reserved: this parser overflows its token buffer
    s.sendto(bytes([0x60, 0x45]) + data[2:4] + data[4:4 + (data[0] & 0x0F)] + b"\xff</sensors>", peer)
"""


def _svc(host: str, port: int, name: str, transport: Literal["tcp", "udp"] = "tcp") -> NetworkService:
    return NetworkService(host=host, port=port, transport=transport, name=name)


@contextlib.contextmanager
def _python(source: str, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-c", source, *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def _mosquitto(tmp: Path) -> Iterator[int]:
    port = free_port(REAL)
    (tmp / "mosquitto.conf").write_text(f"listener {port} {REAL}\npersistence false\nlog_dest none\n"
                                        "allow_anonymous true\n")
    with _daemon(["mosquitto", "-c", str(tmp / "mosquitto.conf")]) as proc:
        wait_tcp(REAL, port, proc)
        yield port


@contextlib.contextmanager
def _snmpd(tmp: Path) -> Iterator[int]:
    port = free_port(UDP, socket.SOCK_DGRAM)
    (tmp / "snmpd.conf").write_text("rocommunity public 127.0.0.0/8\n")
    log = tmp / "snmpd.log"
    argv = ["snmpd", "-f", "-Lf", str(log), "-C", "-c", str(tmp / "snmpd.conf"), "-p", str(tmp / "snmpd.pid"),
            f"udp:{UDP}:{port}"]
    with _daemon(argv, {"SNMP_PERSISTENT_DIR": str(tmp), "MIBS": ""}) as proc:
        deadline = time.monotonic() + 5
        while "NET-SNMP version" not in (log.read_text() if log.exists() else ""):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("snmpd did not start")
            time.sleep(0.05)
        yield port


Probed = tuple[FrameFacts, Network, dict[str, str]]


@pytest.fixture(scope="module")
def probed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Probed]:
    tmp = tmp_path_factory.mktemp("frames")
    (tmp / "mq").mkdir()
    (tmp / "snmp").mkdir()
    ftp, telnet, mqtt, coap = free_port(LINE), free_port(LINE), free_port(VARINT), free_port(UDP, socket.SOCK_DGRAM)
    with contextlib.ExitStack() as stack:
        mosq = stack.enter_context(_mosquitto(tmp / "mq"))
        web = stack.enter_context(svc_web.vulnerable_lighttpd(tmp / "www", host=REAL))
        snmp = stack.enter_context(_snmpd(tmp / "snmp"))
        stack.enter_context(_python(LINE_DEVICE, LINE, str(ftp), str(telnet)))
        stack.enter_context(_python(VARINT_DEVICE, VARINT, str(mqtt)))
        stack.enter_context(_python(COAP_DEVICE, UDP, str(coap)))
        wait_tcp(LINE, ftp)
        wait_tcp(LINE, telnet)
        wait_tcp(VARINT, mqtt)
        devices = {
            REAL: (_svc(REAL, mosq, "mqtt"), _svc(REAL, web, "http")),
            LINE: (_svc(LINE, ftp, "ftp"), _svc(LINE, telnet, "telnet")),
            VARINT: (_svc(VARINT, mqtt, "mqtt"),),
            UDP: (_svc(UDP, snmp, "snmp", "udp"), _svc(UDP, coap, "coap", "udp")),
        }
        net = Network(make_scope(list(devices)), NetLimits(timeout=1.0))

        async def run() -> list[FrameFacts]:
            return list(await asyncio.gather(*(probe_frames(net, Discovered(hosts=(h,), services=s), DeviceOptions())
                                               for h, s in devices.items())))

        parts = asyncio.run(run())
        facts = FrameFacts(tuple(r for p in parts for r in p.probed), tuple(s for p in parts for s in p.services),
                           tuple(s for p in parts for s in p.skipped))
        names = {"mosquitto": f"{REAL}:{mosq}", "lighttpd": f"{REAL}:{web}", "snmpd": f"{UDP}:{snmp}",
                 "ftp": f"{LINE}:{ftp}", "telnet": f"{LINE}:{telnet}", "mqtt": f"{VARINT}:{mqtt}",
                 "coap": f"{UDP}:{coap}"}
        yield facts, net, names


def _findings(facts: FrameFacts) -> list[str]:
    result = run_checks([spec_of(checks.malformed_frame)], {FrameFacts: facts}, {})
    return sorted(f.location.path for f in result.findings)


def test_crashes_and_hangs_are_found_exactly(probed: Probed) -> None:
    facts, net, names = probed
    assert _findings(facts) == sorted([names["ftp"], names["mqtt"], names["coap"]])
    by_where = {r.where: r for r in facts.failures()}
    ftp = by_where[names["ftp"]]
    assert ftp.outcome == "crash" and ftp.frame == "64 KB command (USER)" and ftp.device_down
    assert ftp.excerpt.startswith("55 53 45 52 20 41") and ftp.excerpt.endswith(f"({5 + 65536 + 2} bytes)")
    assert names["telnet"] in ftp.other
    mqtt = by_where[names["mqtt"]]
    assert mqtt.outcome == "hang" and mqtt.frame.startswith("CONNECT with an invalid remaining-length varint")
    assert mqtt.excerpt.startswith("10 ff ff ff ff 7f") and not mqtt.device_down and mqtt.other == ""
    coap = by_where[names["coap"]]
    assert coap.outcome == "crash" and coap.frame == "CoAP header with token length 15" and not coap.device_down
    assert names["snmpd"] in coap.other and coap.excerpt.startswith("4f 01 13 37")
    assert {c.host for c in net.log} == {REAL, LINE, VARINT, UDP}


def test_real_daemons_survive_every_frame(probed: Probed) -> None:
    facts, _, names = probed
    for daemon, count in (("mosquitto", 4), ("lighttpd", 5), ("snmpd", 3)):
        results = [r for r in facts.probed if r.where == names[daemon]]
        assert [r.outcome for r in results] == ["handled"] * count, daemon
        if daemon != "snmpd":  # (snmpd's neighbour, the CoAP device, may have died before snmpd's turn)
            assert all(r.other.endswith("still answers") for r in results)  # the other service was checked too
    assert not facts.skipped or all(names["telnet"] in s for s in facts.skipped)


def test_finding_message_quotes_the_frame(probed: Probed) -> None:
    facts, _, names = probed
    result = run_checks([spec_of(checks.malformed_frame)], {FrameFacts: facts}, {})
    ftp = next(f for f in result.findings if f.location.path == names["ftp"])
    assert "64 KB command (USER)" in ftp.message and "whole device went down" in ftp.message
    assert "55 53 45 52" in ftp.evidence.excerpt and "(65543 bytes)" in ftp.evidence.excerpt


def test_not_applicable_and_cannot_assess() -> None:
    net = Network(make_scope(["127.0.0.125"]), NetLimits(timeout=0.5))
    off = asyncio.run(probe_frames(net, Discovered(hosts=()), DeviceOptions(input_probes=False)))
    none = asyncio.run(probe_frames(net, Discovered(hosts=(), services=(_svc("127.0.0.125", 22, "ssh"),)),
                                    DeviceOptions()))
    port = free_port("127.0.0.125")  # nothing listens: liveness cannot be established
    dead = asyncio.run(probe_frames(net, Discovered(hosts=(), services=(_svc("127.0.0.125", port, "mqtt"),)),
                                    DeviceOptions()))
    assert dead.services == (f"127.0.0.125:{port}",) and not dead.probed and "not alive" in dead.skipped[0]
    status = {name: run_checks([spec_of(checks.malformed_frame)], {FrameFacts: f}, {}).runs[0].status
              for name, f in (("off", off), ("none", none), ("dead", dead))}
    assert status == {"off": RunStatus.NOT_APPLICABLE, "none": RunStatus.NOT_APPLICABLE,
                      "dead": RunStatus.INCONCLUSIVE}
    assert {c.host for c in net.log} == {"127.0.0.125"}


def test_frames_are_bounded() -> None:
    for protocol in ("mqtt", "http", "rtsp", "telnet", "ftp", "snmp", "coap"):
        frames = frames_for(protocol)
        assert 2 <= len(frames) <= 5 and all(len(f) <= 70_000 for _, f in frames), protocol
    assert frames_for("ssh") == []
    assert excerpt(b"\x10\x02") == "10 02 (2 bytes)" and excerpt(b"A" * 40).endswith("... (40 bytes)")
