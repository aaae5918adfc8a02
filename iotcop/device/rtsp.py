"""RTSP: does the camera describe its stream (DESCRIBE → 200 with SDP) without credentials?

A bounded RTSP/1.0 client over ``Network.open_tcp``: OPTIONS, then DESCRIBE on a few common stream paths until
one answers 200 or 401. ``RtspAuthenticator`` logs in with Basic or Digest (RFC 2617 MD5, as cameras use it).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import time
from dataclasses import dataclass, field

from iotcop.device.logins import Attempt, Result
from iotcop.device.net import Network, OutOfScope, outcome_of
from iotcop.device.options import DeviceOptions, Discovered

NAMES = ("rtsp",)
PATHS = ("/", "/live", "/stream1", "/h264", "/Streaming/Channels/101", "/cam/realmonitor")
MAX_BODY = 65536
MAX_HEADERS = 64


class RtspError(Exception):
    """Not an RTSP answer."""


@dataclass(frozen=True)
class RtspReply:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes = b""

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


@dataclass(frozen=True)
class RtspService:
    host: str
    port: int
    url: str = ""  # the DESCRIBE URL that decided it
    options_status: int | None = None
    public: str = ""  # methods OPTIONS listed
    describe_status: int | None = None
    sdp: str = ""  # the first lines of the SDP (no secrets in an SDP; cut)
    challenges: tuple[str, ...] = ()  # WWW-Authenticate values of a 401
    server: str = ""
    error: str = ""

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def unauthenticated(self) -> bool:
        return self.describe_status == 200 and bool(self.sdp)

    @property
    def schemes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.split(" ", 1)[0].capitalize() for c in self.challenges if c))


@dataclass(frozen=True)
class RtspFacts:
    services: tuple[RtspService, ...] = ()
    reasons: tuple[str, ...] = ()


def request(method: str, url: str, cseq: int, authorization: str = "") -> bytes:
    lines = [f"{method} {url} RTSP/1.0", f"CSeq: {cseq}", "User-Agent: iotcop"]
    if method == "DESCRIBE":
        lines.append("Accept: application/sdp")
    if authorization:
        lines.append(f"Authorization: {authorization}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def parse_head(head: bytes) -> RtspReply:
    """Status line and headers (repeated WWW-Authenticate values joined by '\\n')."""
    lines = head.decode("latin-1").split("\r\n") if b"\r\n" in head else head.decode("latin-1").split("\n")
    match = re.fullmatch(r"RTSP/1\.\d (\d{3}) ?(.*)", lines[0].strip())
    if not match:
        raise RtspError(f"not an RTSP status line: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:MAX_HEADERS]:
        name, sep, value = line.partition(":")
        if sep:
            key = name.strip().lower()
            headers[key] = f"{headers[key]}\n{value.strip()}" if key in headers else value.strip()
    return RtspReply(int(match.group(1)), match.group(2)[:100], headers)


async def read_reply(reader: asyncio.StreamReader, timeout: float) -> RtspReply:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    reply = parse_head(head[:-4])
    try:
        length = min(max(int(reply.header("content-length") or 0), 0), MAX_BODY)
    except ValueError:
        length = 0
    body = await asyncio.wait_for(reader.readexactly(length), timeout) if length else b""
    return RtspReply(reply.status, reply.reason, reply.headers, body)


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes,
                    timeout: float) -> RtspReply:
    writer.write(data)
    await writer.drain()
    return await read_reply(reader, timeout)


async def probe_service(net: Network, host: str, port: int) -> RtspService:
    timeout = net.limits.timeout
    base = f"rtsp://{host}:{port}"
    try:
        reader, writer = await net.open_tcp(host, port, "rtsp")
    except (OSError, TimeoutError, OutOfScope) as exc:
        return RtspService(host, port, error=f"connection failed: {outcome_of(exc)}")
    try:
        options = await _exchange(reader, writer, request("OPTIONS", base + "/", 1), timeout)
        described: RtspReply | None = None
        url = ""
        for cseq, path in enumerate(PATHS, 2):
            url = base + path
            described = await _exchange(reader, writer, request("DESCRIBE", url, cseq), timeout)
            if described.status in (200, 401, 403):
                break
        assert described is not None
        sdp = described.body.decode("utf-8", "replace") if "sdp" in described.header("content-type") else ""
        return RtspService(host, port, url, options.status, options.header("public")[:200], described.status,
                           "\n".join(sdp.splitlines()[:6])[:400], tuple(described.header("www-authenticate")
                                                                        .split("\n")) if described.status == 401
                           else (), (options.header("server") or described.header("server"))[:100])
    except (OSError, TimeoutError, RtspError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        return RtspService(host, port, error=f"no RTSP answer: {outcome_of(exc)}")
    finally:
        writer.close()


async def probe_rtsp(net: Network, found: Discovered, options: DeviceOptions) -> RtspFacts:
    """OPTIONS and DESCRIBE without credentials on every RTSP service found."""
    targets = [(s.host, s.port) for s in found.of(*NAMES)]
    if not targets:
        return RtspFacts(reasons=("no RTSP service was found",))
    return RtspFacts(tuple(await asyncio.gather(*(probe_service(net, h, p) for h, p in targets))))


def _params(challenge: str) -> dict[str, str]:
    return {k.lower(): v for k, v in re.findall(r'(\w+)="?([^",]*)"?', challenge.split(" ", 1)[-1])}


def authorization(challenge: str, method: str, uri: str, user: str, password: str) -> str:
    """The Authorization header answering one WWW-Authenticate challenge (Basic or Digest MD5)."""
    if challenge.lower().startswith("basic"):
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    p = _params(challenge)
    realm, nonce = p.get("realm", ""), p.get("nonce", "")
    ha1 = hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    if "auth" in p.get("qop", "").split(","):
        cnonce = hashlib.md5(nonce.encode()).hexdigest()[:16]
        response = hashlib.md5(f"{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}".encode()).hexdigest()
        return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", response="{response}", '
                f'qop=auth, nc=00000001, cnonce="{cnonce}"')
    response = hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()
    return f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", response="{response}"'


@dataclass
class RtspAuthenticator:
    """DESCRIBE for the challenge, then DESCRIBE answering it (Digest preferred over Basic)."""

    net: Network
    host: str
    port: int
    url: str = ""  # the stream URL; default rtsp://host:port/

    service: str = field(init=False)

    def __post_init__(self) -> None:
        self.service = f"rtsp {self.host}:{self.port}"

    async def attempt(self, user: str, password: str) -> Attempt:
        start = time.monotonic()
        url = self.url or f"rtsp://{self.host}:{self.port}/"
        timeout = self.net.limits.timeout
        try:
            reader, writer = await self.net.open_tcp(self.host, self.port, "credentials")
        except (OSError, TimeoutError) as exc:
            return Attempt(Result.DISCONNECTED, time.monotonic() - start, outcome_of(exc))
        try:
            first = await _exchange(reader, writer, request("DESCRIBE", url, 1), timeout)
            if first.status != 401:
                return Attempt(Result.ERROR, time.monotonic() - start, f"DESCRIBE without credentials: {first.status}")
            challenges = first.header("www-authenticate").split("\n")
            challenge = next((c for c in challenges if c.lower().startswith("digest")), challenges[0])
            header = authorization(challenge, "DESCRIBE", url, user, password)
            reply = await _exchange(reader, writer, request("DESCRIBE", url, 2, header), timeout)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            return Attempt(Result.DISCONNECTED, time.monotonic() - start, outcome_of(exc))
        except RtspError as exc:
            return Attempt(Result.ERROR, time.monotonic() - start, str(exc))
        finally:
            writer.close()
        seconds, detail = time.monotonic() - start, f"RTSP/1.0 {reply.status} {reply.reason}".strip()
        if reply.status == 200:
            return Attempt(Result.ACCEPTED, seconds, detail)
        if reply.status in (401, 403):
            return Attempt(Result.REJECTED, seconds, detail)
        return Attempt(Result.LOCKED if reply.status in (429, 503) else Result.ERROR, seconds, detail)
