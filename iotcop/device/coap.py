"""CoAP (plain UDP, no DTLS): is /.well-known/core readable, and which listed resources answer a GET?

Hand-encoded RFC 7252 confirmable GETs over ``Network.udp_exchange``, bounded to a few resources; only response
codes and payload sizes are kept, never the payloads.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass

from iotcop.device.net import Network, OutOfScope, outcome_of
from iotcop.device.options import DeviceOptions, Discovered

NAMES = ("coap",)
URI_PATH = 11
MAX_RESOURCES = 8


class CoapError(Exception):
    """Not a CoAP answer to our request."""


@dataclass(frozen=True)
class CoapRead:
    path: str
    code: str  # '2.05', '4.01', ... ('' no answer)
    size: int = 0  # payload bytes (the payload itself is not kept)


@dataclass(frozen=True)
class CoapService:
    host: str
    port: int
    core: CoapRead | None = None  # GET /.well-known/core
    links: tuple[str, ...] = ()  # resource paths it listed
    reads: tuple[CoapRead, ...] = ()
    error: str = ""

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def readable(self) -> tuple[CoapRead, ...]:
        return tuple(r for r in self.reads if r.code.startswith("2."))


@dataclass(frozen=True)
class CoapFacts:
    services: tuple[CoapService, ...] = ()
    reasons: tuple[str, ...] = ()


def _option(delta: int, value: bytes) -> bytes:
    def nibble(n: int) -> tuple[int, bytes]:
        if n < 13:
            return n, b""
        if n < 269:
            return 13, bytes([n - 13])
        return 14, (n - 269).to_bytes(2, "big")

    d, dx = nibble(delta)
    length, lx = nibble(len(value))
    return bytes([(d << 4) | length]) + dx + lx + value


def get_request(path: str, message_id: int, token: bytes) -> bytes:
    head = bytes([0x40 | len(token), 0x01]) + message_id.to_bytes(2, "big") + token
    options, last = b"", 0
    for segment in filter(None, path.split("/")):
        options += _option(URI_PATH - last, segment.encode()[:255])
        last = URI_PATH
    return head + options


def parse_response(data: bytes, message_id: int, token: bytes) -> tuple[str, bytes]:
    """(code 'c.dd', payload) of the piggybacked ACK answering our request."""
    if len(data) < 4 or data[0] >> 6 != 1:
        raise CoapError("not a CoAP v1 message")
    tkl = data[0] & 0x0F
    if tkl > 8 or len(data) < 4 + tkl:
        raise CoapError("bad token length")
    if int.from_bytes(data[2:4], "big") != message_id or data[4:4 + tkl] != token:
        raise CoapError("not an answer to this request")
    i = 4 + tkl
    while i < len(data) and data[i] != 0xFF:
        delta, length = data[i] >> 4, data[i] & 0x0F
        i += 1
        for nib in (delta, length):
            if nib == 15:
                raise CoapError("reserved option nibble")
            i += {13: 1, 14: 2}.get(nib, 0)
        if i > len(data):
            raise CoapError("option past the end")
        length = length if length < 13 else (data[i - 1] + 13 if length == 13 else
                                             int.from_bytes(data[i - 2:i], "big") + 269)
        i += length
    if i > len(data):
        raise CoapError("option past the end")
    code = data[1]
    return f"{code >> 5}.{code & 0x1F:02d}", data[i + 1:] if i < len(data) else b""


def parse_links(payload: bytes) -> list[str]:
    """Resource paths of a CoRE link-format document (RFC 6690)."""
    text = payload.decode("utf-8", "replace")
    paths = [p for p in re.findall(r"<([^<>]{1,200})>", text) if p.startswith("/")]
    return list(dict.fromkeys(p for p in paths if p != "/.well-known/core"))


async def get(net: Network, host: str, port: int, path: str) -> tuple[CoapRead, bytes]:
    message_id, token = secrets.randbelow(1 << 16), secrets.token_bytes(4)
    for reply in await net.udp_exchange(host, port, get_request(path, message_id, token), "coap",
                                        timeout=min(1.0, net.limits.timeout), max_replies=1):
        try:
            code, payload = parse_response(reply, message_id, token)
        except CoapError:
            continue
        return CoapRead(path, code, len(payload)), payload
    return CoapRead(path, ""), b""


async def probe_service(net: Network, host: str, port: int) -> CoapService:
    try:
        core, payload = await get(net, host, port, "/.well-known/core")
        if not core.code:
            return CoapService(host, port, error="no CoAP answer to GET /.well-known/core")
        links = parse_links(payload) if core.code == "2.05" else []
        reads = await asyncio.gather(*(get(net, host, port, p) for p in links[:MAX_RESOURCES]))
    except (OSError, OutOfScope) as exc:
        return CoapService(host, port, error=str(exc) if isinstance(exc, OutOfScope) else outcome_of(exc))
    return CoapService(host, port, core, tuple(links), tuple(r for r, _ in reads))


async def probe_coap(net: Network, found: Discovered, options: DeviceOptions) -> CoapFacts:
    """GET /.well-known/core, then GET each listed resource (bounded), without DTLS."""
    targets = list(dict.fromkeys((s.host, s.port) for s in found.of(*NAMES)))
    if not targets:
        return CoapFacts(reasons=("no CoAP service was found",))
    return CoapFacts(tuple(await asyncio.gather(*(probe_service(net, h, p) for h, p in targets))))
