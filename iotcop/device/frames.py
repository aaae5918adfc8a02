"""Malformed protocol frames (EN 303 645 5.13-1; resilience 5.9-1): a small, bounded set of broken frames per
discovered service of a handled protocol (MQTT, HTTP, RTSP, telnet, FTP over TCP; SNMP, CoAP over UDP), each
followed by a liveness check of that service and of one other service on the same host (a whole-device crash).

Liveness is a valid request answered (MQTT CONNECT → CONNACK, ``GET /``, RTSP ``OPTIONS``, SNMP get / v3
discovery, CoAP ``GET /.well-known/core``) or a greeting read (telnet, FTP); a service that was silent but
connectable before is judged by its connection only. It is checked before probing (a service not alive then is
skipped) and after every frame, three times half a second apart: refused, reset or closed without an answer
afterwards is a crash, a timeout where it answered before is a hang; either is recorded with the frame sent just
before (its name and a bounded hex excerpt) and probing that service stops. Nothing here changes state: no
frame is a valid command. Runs only when ``options.input_probes``; never raises."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass, field

from iotcop.device.mqtt import connect_packet
from iotcop.device.net import Network, outcome_of
from iotcop.device.options import DeviceOptions, Discovered
from iotcop.device.udp import coap_get_core, snmp_v2c_get, snmp_v3_discovery
from iotcop.model import NetworkService

PROBE = "frames"
BIG = 65536
EXCERPT = 32  # bytes of a frame quoted in hex
REPLY_WAIT = 0.5  # seconds to let the service react to a frame
PROTOCOLS = {"mqtt": "mqtt", "mqtts": "mqtt", "secure-mqtt": "mqtt", "http": "http", "https": "http",
             "rtsp": "rtsp", "telnet": "telnet", "ftp": "ftp", "snmp": "snmp", "coap": "coap"}
UDP = ("snmp", "coap")


def _http(method: str, target: str, version: str, *headers: str) -> list[tuple[str, bytes]]:
    def req(line: str, *extra: str) -> bytes:
        return ("\r\n".join((line, *headers, *extra)) + "\r\n\r\n").encode()

    return [("oversized request line (64 KB)", req(f"{method} /{'A' * BIG} {version}")),
            ("oversized header (64 KB)", req(f"{method} {target} {version}", "X-Iotcop: " + "A" * BIG)),
            ("header line without a colon", req(f"{method} {target} {version}", "X-Iotcop-No-Colon")),
            ("invalid Content-Length (-1)", req(f"POST {target} {version}", "Content-Length: -1")),
            ("invalid Content-Length (not a number)", req(f"POST {target} {version}", "Content-Length: 1x9"))]


def frames_for(protocol: str) -> list[tuple[str, bytes]]:
    """The malformed frames sent to a service of ``protocol``: (name, bytes)."""
    good = connect_packet("iotcop-frame")
    if protocol == "mqtt":
        name = b"\xff\xff" + b"M" * 0xFFFF
        body = name + b"\x04\x02\x00\x1e\x00\x01x"
        return [("CONNECT with an invalid remaining-length varint (5 bytes)", b"\x10\xff\xff\xff\xff\x7f" + good[2:]),
                ("CONNECT announcing 256 MB (remaining length 268435455)", b"\x10\xff\xff\xff\x7f" + good[2:]),
                ("truncated CONNECT (half the announced length)", good[:len(good) // 2]),
                ("CONNECT with a 64 KB protocol name", b"\x10" + _varint(len(body)) + body)]
    if protocol == "http":
        return _http("GET", "/", "HTTP/1.1", "Host: iotcop", "Connection: close")
    if protocol == "rtsp":
        return _http("OPTIONS", "*", "RTSP/1.0", "CSeq: 1")
    if protocol == "telnet":
        return [("very long line (64 KB)", b"A" * BIG + b"\r\n"),
                ("IAC subnegotiation cut in the middle (IAC SB NAWS, no IAC SE)", b"\xff\xfa\x1f\x00"),
                ("IAC subnegotiation of 64 KB without IAC SE", b"\xff\xfa\x18\x00" + b"B" * BIG)]
    if protocol == "ftp":
        return [("64 KB command (USER)", b"USER " + b"A" * BIG + b"\r\n"),
                ("64 KB line without a line end", b"A" * BIG)]
    if protocol == "snmp":
        get = snmp_v2c_get("public", 0x1F0F)
        return [("truncated BER (a GetRequest cut in half)", get[:len(get) // 2]),
                ("BER announcing a 4 GB length", b"\x30\x84\xff\xff\xff\xff" + get[2:]),
                ("BER with a negative version and an oversized OID arc", b"\x30\x12\x02\x01\xff\x04\x00\xa0\x0b"
                 b"\x02\x01\x01\x02\x01\x00\x02\x01\x00\x30\x00\x06\x05\x2b\xff\xff\xff\xff")]
    if protocol == "coap":
        return [("CoAP header with token length 15", bytes([0x4F, 0x01, 0x13, 0x37]) + b"\x01" * 15),
                ("CoAP option with a cut extended delta", bytes([0x40, 0x01, 0x13, 0x38, 0xE0])),
                ("CoAP payload marker with no payload", bytes([0x40, 0x01, 0x13, 0x39, 0xFF]))]
    return []


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        digit, n = n % 128, n // 128
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def excerpt(frame: bytes) -> str:
    """A bounded hex excerpt of a frame: its first bytes and its length."""
    more = f" ... ({len(frame)} bytes)" if len(frame) > EXCERPT else f" ({len(frame)} bytes)"
    return frame[:EXCERPT].hex(" ") + more


@dataclass(frozen=True)
class FrameResult:
    where: str  # host:port
    protocol: str  # 'mqtt', 'http', 'rtsp', 'telnet', 'ftp', 'snmp', 'coap'
    frame: str  # what was sent: 'CONNECT with a 64 KB protocol name'
    excerpt: str  # hex of the frame's first bytes, and its length
    outcome: str  # 'handled', 'crash' (refused/reset/closed for good), 'hang' (no answer where it answered)
    evidence: str = ""  # the service's reaction to the frame, and what the liveness checks showed
    other: str = ""  # the other service checked on the same host and its state afterwards ('' when none)
    device_down: bool = False  # that other service stopped answering too: the whole device


@dataclass(frozen=True)
class FrameFacts:
    probed: tuple[FrameResult, ...] = ()  # every frame sent ('handled' included: the evidence of testing)
    services: tuple[str, ...] = ()  # host:port of every service of a handled protocol
    skipped: tuple[str, ...] = ()  # services not alive before probing, and why
    notes: tuple[str, ...] = field(default=())

    def failures(self, *outcomes: str) -> list[FrameResult]:
        return [r for r in self.probed if r.outcome in (outcomes or ("crash", "hang"))]


def _hello(protocol: str, host: str) -> bytes | None:
    return {"mqtt": connect_packet("iotcop-live"), "http": f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode(),
            "rtsp": b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n"}.get(protocol)


def _tls(service: NetworkService) -> ssl.SSLContext | None:
    if not (service.tls or service.name in ("https", "mqtts", "secure-mqtt")):
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # certificate quality is the TLS probe's subject
    return ctx


class _Service:
    def __init__(self, net: Network, service: NetworkService) -> None:
        self.net, self.svc = net, service
        self.protocol = PROTOCOLS.get(service.name, "")
        self.where = f"{service.host}:{service.port}"
        self.before = ""

    async def _level_udp(self) -> str:
        host, port = self.svc.host, self.svc.port
        asks = [snmp_v2c_get("public", 0x2A2A), snmp_v3_discovery(0x2A2B)] if self.protocol == "snmp" else \
            [coap_get_core(0x2A2A, b"\x2a")]
        for ask in asks:
            if await self.net.udp_exchange(host, port, ask, f"{PROBE} (liveness)"):
                return "answer"
        last = next((c for c in reversed(self.net.log) if c.host == host and c.port == port), None)
        return "refused" if last is not None and last.outcome == "refused" else "timeout"

    async def level(self) -> str:
        """'answer', 'silent' (connected, nothing said), 'closed' (closed unanswered), 'refused', 'reset',
        'timeout' (no connection); or for UDP 'answer', 'refused', 'timeout'."""
        if self.protocol in UDP:
            return await self._level_udp()
        timeout = self.net.limits.timeout
        try:
            reader, writer = await self.net.open_tcp(self.svc.host, self.svc.port, f"{PROBE} (liveness)",
                                                     tls=_tls(self.svc), timeout=timeout)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            return outcome_of(exc) if isinstance(exc, ConnectionRefusedError | TimeoutError) else "reset"
        try:
            if not self.protocol:  # another service, judged by its connection only
                return "silent"
            hello = _hello(self.protocol, self.svc.host)
            if hello:
                writer.write(hello)
                await writer.drain()
            data = await asyncio.wait_for(reader.read(256), timeout)
            return "answer" if data else "closed"
        except TimeoutError:
            return "silent"
        except (OSError, ssl.SSLError):
            return "reset"
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 0.5)

    async def alive(self) -> tuple[bool, str]:
        """(alive, the last level seen); up to three tries half a second apart."""
        seen = ""
        for attempt in range(3):
            seen = await self.level()
            if seen == "answer" or (seen == "silent" and self.before == "silent"):
                return True, seen
            if attempt < 2:
                await asyncio.sleep(0.5)
        return False, seen

    async def send(self, frame: bytes) -> str:
        """Send one malformed frame; what the service did right after (bounded)."""
        host, port = self.svc.host, self.svc.port
        if self.protocol in UDP:
            replies = await self.net.udp_exchange(host, port, frame, PROBE, timeout=REPLY_WAIT)
            return f"answered {replies[0][:24].hex(' ')}" if replies else "gave no answer"
        try:
            reader, writer = await self.net.open_tcp(host, port, PROBE, tls=_tls(self.svc))
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            return f"could not connect: {outcome_of(exc)}"
        try:
            if self.protocol in ("telnet", "ftp"):  # let the greeting pass first: the reaction is to the frame
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(reader.read(512), REPLY_WAIT)
            writer.write(frame)
            await asyncio.wait_for(writer.drain(), self.net.limits.timeout)
            data = await asyncio.wait_for(reader.read(64), REPLY_WAIT)
            return f"answered {data[:40]!r}" if data else "closed the connection"
        except TimeoutError:
            return "kept the connection open without answering"
        except (OSError, ssl.SSLError) as exc:
            return f"{outcome_of(exc)} while the frame was sent"
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 0.5)


def _verdict(level: str) -> str:
    return "hang" if level in ("timeout", "silent") else "crash"


async def probe_service(net: Network, service: NetworkService, other: NetworkService | None) -> FrameFacts:
    """Every frame of the service's protocol, each followed by the liveness checks."""
    svc = _Service(net, service)
    sib = _Service(net, other) if other is not None else None
    svc.before = await svc.level()
    if svc.before not in ("answer", "silent") or (svc.protocol in UDP and svc.before != "answer"):
        return FrameFacts(services=(svc.where,),
                          skipped=(f"{svc.where}: not alive before probing ({svc.before}): liveness not established",))
    if sib is not None:
        sib.before = await sib.level()
        if sib.before not in ("answer", "silent") or (sib.protocol in UDP and sib.before != "answer"):
            sib = None
    results: list[FrameResult] = []
    for name, frame in frames_for(svc.protocol):
        reaction = await svc.send(frame)
        ok, seen = await svc.alive()
        other_text, down, sib_seen = "", False, ""
        if sib is not None:
            sib_ok, sib_seen = await sib.alive()
            state = "still answers" if sib_ok else f"stopped answering ({sib_seen})"
            other_text, down = f"{sib.where} ({sib.svc.name}) {state}", not sib_ok
        if ok and not down:
            results.append(FrameResult(svc.where, svc.protocol, name, excerpt(frame), "handled",
                                       f"the service {reaction}; it still answers", other_text))
            continue
        was = "answered" if svc.before == "answer" else "accepted connections"
        state = "it still answers" if ok else f"3 liveness checks 0.5 s apart saw {seen!r}"
        results.append(FrameResult(svc.where, svc.protocol, name, excerpt(frame), _verdict(sib_seen if ok else seen),
                                   f"the service {reaction}; before, it {was}; afterwards {state}", other_text, down))
        break
    return FrameFacts(tuple(results), (svc.where,))


def _other(found: Discovered, service: NetworkService) -> NetworkService | None:
    """One other service on the same host: a handled protocol first, else any TCP service."""
    peers = [s for s in found.services if s.host == service.host and (s.port, s.transport) !=
             (service.port, service.transport)]
    peers.sort(key=lambda s: (s.name not in PROTOCOLS, s.transport != "tcp", s.port))
    return next((s for s in peers if s.name in PROTOCOLS or s.transport == "tcp"), None)


async def probe_frames(net: Network, found: Discovered, options: DeviceOptions) -> FrameFacts:
    """Malformed frames to every service of a handled protocol, one at a time; never raises."""
    if not options.input_probes:
        return FrameFacts(notes=("input probes were turned off",))
    parts: list[FrameFacts] = []
    down: set[str] = set()
    for service in sorted(found.services, key=lambda s: (s.host, s.transport, s.port)):
        if PROTOCOLS.get(service.name, "") not in (*UDP, "mqtt", "http", "rtsp", "telnet", "ftp") or \
                (service.transport == "udp") != (PROTOCOLS[service.name] in UDP):
            continue
        where = f"{service.host}:{service.port}"
        if service.host in down:
            parts.append(FrameFacts(services=(where,), skipped=(f"{where}: the device stopped answering earlier",)))
            continue
        try:
            part = await probe_service(net, service, _other(found, service))
        except Exception as exc:  # a bug or a device that broke something: this service's reason
            part = FrameFacts(services=(where,), skipped=(f"{where}: probe failed: {type(exc).__name__}: {exc}"[:300],))
        if any(r.device_down for r in part.probed):
            down.add(service.host)
        parts.append(part)
    return FrameFacts(tuple(r for p in parts for r in p.probed), tuple(s for p in parts for s in p.services),
                      tuple(s for p in parts for s in p.skipped))
