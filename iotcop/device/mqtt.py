"""MQTT: does the broker take an anonymous CONNECT, what does ``#`` show in a short window, is it plain or TLS.

A minimal, bounded MQTT 3.1.1 client (CONNECT, SUBSCRIBE, PUBLISH parsing) over ``Network.open_tcp``: no
library keeps sockets of its own, every frame read is length-checked, and message payloads are never kept (only
their topic and size: what a broker discloses, not what it carries). ``MqttAuthenticator`` tries one
username/password for the credential engine.
"""

from __future__ import annotations

import asyncio
import secrets
import ssl
import time
from dataclasses import dataclass, field

from iotcop.device.logins import Attempt, Result
from iotcop.device.net import Network, OutOfScope, outcome_of
from iotcop.device.options import DeviceOptions, Discovered

NAMES = ("mqtt", "mqtts", "secure-mqtt")
PLAIN_PORT, TLS_PORT = 1883, 8883
MAX_TOPICS = 50
LISTEN_SECONDS = 1.0
MAX_PACKET = 1 << 20
RETURN_CODES = {0: "accepted", 1: "unacceptable protocol version", 2: "identifier rejected",
                3: "server unavailable", 4: "bad user name or password", 5: "not authorised"}


class MqttError(Exception):
    """A malformed or unexpected MQTT frame."""


@dataclass(frozen=True)
class MqttService:
    host: str
    port: int
    tls: bool
    return_code: int | None = None  # CONNACK to an anonymous CONNECT; None: no CONNACK
    topics: tuple[str, ...] = ()  # seen on '#' in the window (payloads never kept)
    messages: int = 0
    subscribed: bool = False  # SUBACK granted '#'
    error: str = ""  # why it could not be judged

    @property
    def anonymous(self) -> bool:
        return self.return_code == 0

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def answer(self) -> str:
        if self.return_code is None:
            return self.error or "no CONNACK"
        return f"CONNACK return code {self.return_code} ({RETURN_CODES.get(self.return_code, 'unknown')})"


@dataclass(frozen=True)
class MqttFacts:
    services: tuple[MqttService, ...] = ()
    reasons: tuple[str, ...] = ()  # what could not be done, and why


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        digit, n = n % 128, n // 128
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(s: str | bytes) -> bytes:
    raw = s.encode() if isinstance(s, str) else s
    return len(raw).to_bytes(2, "big") + raw


def connect_packet(client_id: str, user: str | None = None, password: str | None = None) -> bytes:
    flags = 0x02 | (0x80 if user is not None else 0) | (0x40 if password is not None else 0)
    body = _str("MQTT") + bytes([4, flags]) + (30).to_bytes(2, "big") + _str(client_id)
    body += (_str(user) if user is not None else b"") + (_str(password) if password is not None else b"")
    return b"\x10" + _varint(len(body)) + body


def subscribe_packet(packet_id: int, *filters: str) -> bytes:
    body = packet_id.to_bytes(2, "big") + b"".join(_str(f) + b"\x00" for f in filters)
    return b"\x82" + _varint(len(body)) + body


async def read_packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One MQTT control packet: (first byte, body). Raises MqttError / IncompleteReadError."""
    first = (await reader.readexactly(1))[0]
    length = shift = 0
    for _ in range(4):
        byte = (await reader.readexactly(1))[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    else:
        raise MqttError("malformed remaining length")
    if length > MAX_PACKET:
        raise MqttError(f"packet of {length} bytes refused")
    return first, await reader.readexactly(length)


def publish_topic(first: int, body: bytes) -> str:
    """The topic of a PUBLISH packet (the payload is not looked at)."""
    if len(body) < 2:
        raise MqttError("short PUBLISH")
    n = int.from_bytes(body[:2], "big")
    if len(body) < 2 + n:
        raise MqttError("PUBLISH topic past the end")
    return body[2:2 + n].decode("utf-8", "replace")


def _tls_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # certificate quality is the TLS probe's subject, not this one's
    return ctx


async def _session(net: Network, host: str, port: int, tls: bool, probe: str,
                   timeout: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await net.open_tcp(host, port, probe, tls=_tls_context() if tls else None, timeout=timeout)


async def _connack(reader: asyncio.StreamReader, timeout: float) -> int:
    first, body = await asyncio.wait_for(read_packet(reader), timeout)
    if first != 0x20 or len(body) < 2:
        raise MqttError(f"expected CONNACK, got packet type {first >> 4}")
    return body[1]


async def _listen(reader: asyncio.StreamReader, window: float) -> tuple[bool, list[str], int]:
    subscribed, topics, messages = False, list[str](), 0
    deadline = time.monotonic() + window
    while (left := deadline - time.monotonic()) > 0:
        try:
            first, body = await asyncio.wait_for(read_packet(reader), left)
        except (TimeoutError, asyncio.IncompleteReadError, MqttError, OSError):
            break  # the CONNACK already answered the question; a bad frame only ends the listening
        if first == 0x90:
            subscribed = subscribed or any(b < 0x80 for b in body[2:])
        elif first >> 4 == 3:
            messages += 1
            try:
                topic = publish_topic(first, body)
            except MqttError:
                break
            if topic not in topics and len(topics) < MAX_TOPICS:
                topics.append(topic)
    return subscribed, topics, messages


async def probe_service(net: Network, host: str, port: int, tls: bool, window: float = LISTEN_SECONDS) -> MqttService:
    timeout = net.limits.timeout
    try:
        reader, writer = await _session(net, host, port, tls, "mqtt", timeout)
    except (OSError, TimeoutError, ssl.SSLError, OutOfScope) as exc:
        return MqttService(host, port, tls, error=f"connection failed: {outcome_of(exc)}")
    try:
        writer.write(connect_packet(f"iotcop-{secrets.token_hex(4)}"))
        await writer.drain()
        code = await _connack(reader, timeout)
        if code != 0:
            return MqttService(host, port, tls, return_code=code)
        writer.write(subscribe_packet(1, "#"))
        await writer.drain()
        subscribed, topics, messages = await _listen(reader, window)
        return MqttService(host, port, tls, 0, tuple(topics), messages, subscribed)
    except (OSError, TimeoutError, ssl.SSLError, MqttError, asyncio.IncompleteReadError) as exc:
        return MqttService(host, port, tls, error=f"no MQTT answer: {outcome_of(exc)}")
    finally:
        writer.close()


async def probe_mqtt(net: Network, found: Discovered, options: DeviceOptions) -> MqttFacts:
    """Anonymous CONNECT and a short '#' subscription on every MQTT service found."""
    targets = [(s.host, s.port, s.tls or s.port == TLS_PORT or s.name == "mqtts") for s in found.of(*NAMES)]
    if not targets:
        return MqttFacts(reasons=("no MQTT service was found",))
    results = await asyncio.gather(*(probe_service(net, h, p, t) for h, p, t in targets))
    return MqttFacts(tuple(results))


@dataclass
class MqttAuthenticator:
    """One CONNECT with a user name and password (the credential engine's ``Authenticator``)."""

    net: Network
    host: str
    port: int
    tls: bool = False

    service: str = field(init=False)

    def __post_init__(self) -> None:
        self.service = f"mqtt{'s' if self.tls else ''} {self.host}:{self.port}"

    async def attempt(self, user: str, password: str) -> Attempt:
        start = time.monotonic()
        timeout = self.net.limits.timeout
        try:
            reader, writer = await _session(self.net, self.host, self.port, self.tls, "credentials", timeout)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            return Attempt(Result.DISCONNECTED, time.monotonic() - start, outcome_of(exc))
        try:
            writer.write(connect_packet(f"iotcop-{secrets.token_hex(4)}", user, password))
            await writer.drain()
            code = await _connack(reader, timeout)
        except (OSError, TimeoutError, ssl.SSLError, asyncio.IncompleteReadError) as exc:
            return Attempt(Result.DISCONNECTED, time.monotonic() - start, outcome_of(exc))
        except MqttError as exc:
            return Attempt(Result.ERROR, time.monotonic() - start, str(exc))
        finally:
            writer.close()
        seconds = time.monotonic() - start
        detail = f"CONNACK {code} ({RETURN_CODES.get(code, 'unknown')})"
        if code == 0:
            return Attempt(Result.ACCEPTED, seconds, detail)
        if code in (4, 5):
            return Attempt(Result.REJECTED, seconds, detail)
        return Attempt(Result.ERROR, seconds, detail)
