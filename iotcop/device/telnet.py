"""Telnet: what a telnet service greets with (a login prompt, or a shell without authentication), and an
``Authenticator`` for its logins.

Option negotiation is handled by hand and bounded: every DO is answered WONT and every WILL DONT (a
client that offers nothing gets the plain line mode every telnet server falls back to); subnegotiations are
skipped. Text is read until a prompt is recognised, the peer closes, or the timeout ends.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field

from iotcop.device.loginfacts import ServiceLogin, judge_logins
from iotcop.device.logins import Attempt, Result
from iotcop.device.net import Network
from iotcop.device.options import DeviceOptions, Discovered
from iotcop.model import NetworkService

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
MAX_READ = 16384  # text kept per step at most: a device that floods us is cut off
MAX_RAW = 65536  # raw bytes read per step at most (negotiation included: a flood of IAC DO yields no text)
LOGIN = re.compile(r"(login|user ?name|user)\s*:\s*$", re.I)
PASSWORD = re.compile(r"pass(word|code)?\s*:\s*$", re.I)
SHELL = re.compile(r"(^|[\s\w@:~/\])-])[#$%>]\s?$")
INCORRECT = re.compile(r"incorrect|invalid|fail|denied|wrong|bad (password|login)", re.I)
LOCKED = re.compile(r"locked|too many|try again later|blocked|temporarily", re.I)


class Telnet:
    """One telnet conversation: negotiation stripped, text accumulated."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float = 5.0) -> None:
        self.reader, self.writer, self.timeout = reader, writer, timeout  # timeout: for a write to drain
        self.closed = False
        self._pending = b""  # an IAC sequence cut by a read boundary

    def _strip(self, data: bytes) -> str:
        data, self._pending = self._pending + data, b""
        out = bytearray()
        i = 0
        while i < len(data):
            b = data[i]
            if b != IAC:
                out.append(b)
                i += 1
                continue
            if i + 1 >= len(data):
                self._pending = data[i:]
                break
            cmd = data[i + 1]
            if cmd in (DO, DONT, WILL, WONT):
                if i + 2 >= len(data):
                    self._pending = data[i:]
                    break
                if cmd in (DO, WILL):
                    self.writer.write(bytes([IAC, WONT if cmd == DO else DONT, data[i + 2]]))
                i += 3
            elif cmd == SB:
                end = data.find(bytes([IAC, SE]), i + 2)
                if end < 0:
                    self._pending = data[i:] if len(data) - i < 512 else b""
                    break
                i = end + 2
            elif cmd == IAC:
                out.append(IAC)
                i += 2
            else:
                i += 2
        return out.replace(b"\x00", b"").decode("latin-1")

    async def read_until(self, *patterns: re.Pattern[str], timeout: float) -> str:
        """Text until one of ``patterns`` matches its end, the peer closes, ``timeout`` passes, or MAX_READ
        characters / MAX_RAW bytes came (a peer that floods negotiation and never reads our answers is cut off)."""
        text = ""
        raw = 0
        deadline = time.monotonic() + timeout
        while len(text) < MAX_READ and raw < MAX_RAW:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                data = await asyncio.wait_for(self.reader.read(min(4096, MAX_RAW - raw)), left)
            except TimeoutError:
                break
            except OSError:
                data = b""
            if not data:
                self.closed = True
                break
            raw += len(data)
            text += self._strip(data)
            try:
                await asyncio.wait_for(self.writer.drain(), max(0.01, min(left, self.timeout)))
            except TimeoutError:
                break  # our negotiation answers are not read: stop talking to it
            except OSError:
                pass
            if any(p.search(text[-200:]) or p.search(text.rstrip("\r\n")[-200:]) for p in patterns):
                break
        return text

    async def send_line(self, line: str) -> None:
        """Send one line; ConnectionError when the peer does not read it within the timeout."""
        self.writer.write(line.encode("latin-1", "replace").replace(bytes([IAC]), bytes([IAC, IAC])) + b"\r\n")
        try:
            await asyncio.wait_for(self.writer.drain(), self.timeout)
        except TimeoutError:
            raise ConnectionError("the peer does not read what is sent") from None

    def close(self) -> None:
        if self.writer.transport.get_write_buffer_size():
            self.writer.transport.abort()  # what it never read would keep the socket open
        else:
            self.writer.close()


def printable(text: str, limit: int = 300) -> str:
    clean = "".join(c if c.isprintable() or c == "\n" else " " for c in text.replace("\r", ""))
    return clean.strip()[:limit]


def classify(text: str) -> str:
    """'login', 'password' (a password-only prompt), 'shell' (no authentication) or 'unknown'."""
    tail = text.rstrip("\r\n")[-200:]
    if LOGIN.search(tail):
        return "login"
    if PASSWORD.search(tail):
        return "password"
    if SHELL.search(text[-200:]) or SHELL.search(tail):
        return "shell"
    return "unknown"


@dataclass(frozen=True)
class TelnetService:
    service: NetworkService
    state: str  # 'login', 'password', 'shell', 'unknown' or 'unreachable'
    greeting: str = ""  # what it sent (printable, cut): the evidence
    reason: str = ""  # why it could not be judged


@dataclass(frozen=True)
class TelnetFacts:
    services: tuple[TelnetService, ...] = field(default=())
    logins: tuple[ServiceLogin, ...] = field(default=())  # contributed to LoginFacts


class TelnetAuthenticator:
    """One telnet login per attempt: login prompt → user, password prompt → password, then the answer."""

    def __init__(self, net: Network, service: NetworkService) -> None:
        self.net, self.svc = net, service
        self.service = f"telnet {service.host}:{service.port}"

    async def attempt(self, user: str, password: str) -> Attempt:
        start = time.monotonic()
        timeout = self.net.limits.timeout
        try:
            reader, writer = await self.net.open_tcp(self.svc.host, self.svc.port, "credentials")
        except OSError as exc:
            return Attempt(Result.DISCONNECTED, time.monotonic() - start, f"connection failed: {exc}")
        except TimeoutError:
            return Attempt(Result.ERROR, time.monotonic() - start, "connection timed out")
        tn = Telnet(reader, writer, timeout)
        try:
            return await self._converse(tn, user, password, timeout, start)
        except (OSError, UnicodeError) as exc:
            return Attempt(Result.DISCONNECTED, time.monotonic() - start, f"connection lost: {exc}")
        finally:
            tn.close()

    async def _converse(self, tn: Telnet, user: str, password: str, timeout: float, start: float) -> Attempt:
        text = await tn.read_until(LOGIN, PASSWORD, SHELL, LOCKED, timeout=timeout)
        if LOCKED.search(text):
            return Attempt(Result.LOCKED, time.monotonic() - start, printable(text, 200))
        state = classify(text)
        if state == "login":
            await tn.send_line(user)
            text = await tn.read_until(PASSWORD, SHELL, LOGIN, timeout=timeout)
            state = "password" if PASSWORD.search(text.rstrip("\r\n")[-200:]) else classify(text)
        if state != "password":
            detail = printable(text, 200) or ("closed" if tn.closed else "no prompt")
            result = Result.DISCONNECTED if tn.closed else Result.ERROR
            return Attempt(result, time.monotonic() - start, f"no password prompt: {detail}")
        await tn.send_line(password)
        text = await tn.read_until(SHELL, LOGIN, PASSWORD, INCORRECT, LOCKED, timeout=timeout)
        seconds = time.monotonic() - start
        detail = printable(text, 200)
        if LOCKED.search(text):
            return Attempt(Result.LOCKED, seconds, detail)
        if INCORRECT.search(text) or LOGIN.search(text.rstrip("\r\n")[-200:]) \
                or PASSWORD.search(text.rstrip("\r\n")[-200:]):
            return Attempt(Result.REJECTED, seconds, detail)
        if SHELL.search(text[-200:]):
            return Attempt(Result.ACCEPTED, seconds, detail)
        if tn.closed:
            return Attempt(Result.DISCONNECTED, seconds, detail or "closed after the password")
        return Attempt(Result.ERROR, seconds, detail or "no answer to the password")


async def greet(net: Network, service: NetworkService) -> TelnetService:
    try:
        reader, writer = await net.open_tcp(service.host, service.port, "telnet")
    except (OSError, TimeoutError) as exc:
        return TelnetService(service, "unreachable", reason=f"could not connect: {exc or type(exc).__name__}")
    tn = Telnet(reader, writer, net.limits.timeout)
    try:
        text = await tn.read_until(LOGIN, PASSWORD, SHELL, timeout=net.limits.timeout)
        if not text.strip() and not tn.closed:  # some servers wait for a line first
            await tn.send_line("")
            text = await tn.read_until(LOGIN, PASSWORD, SHELL, timeout=net.limits.timeout)
    except OSError as exc:
        return TelnetService(service, "unreachable", reason=f"connection lost: {exc}")
    finally:
        tn.close()
    state = classify(text)
    reason = "" if state != "unknown" else "neither a login prompt nor a shell prompt was recognised"
    return TelnetService(service, state, printable(text), reason)


async def probe_telnet(net: Network, found: Discovered, options: DeviceOptions) -> TelnetFacts:
    """Each telnet service's greeting; the credentials and brute-force measurement where it asks for a login."""
    services: list[TelnetService] = []
    logins: list[ServiceLogin] = []
    for svc in found.of("telnet"):
        seen = await greet(net, svc)
        services.append(seen)
        if seen.state == "shell":
            logins.append(ServiceLogin(svc, "telnet", unauthenticated=seen.greeting))
        elif seen.state in ("login", "password"):
            logins.append(await judge_logins(TelnetAuthenticator(net, svc), svc, "telnet", options))
        else:
            logins.append(ServiceLogin(svc, "telnet", not_tried=seen.reason))
    return TelnetFacts(tuple(services), tuple(logins))
