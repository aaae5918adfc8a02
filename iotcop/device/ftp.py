"""FTP: the greeting, anonymous login, whether it takes passwords in plain text, and an ``Authenticator``.

A few RFC 959 commands over an asyncio stream opened by ``Network`` (USER, PASS, FEAT, QUIT): reading
replies (multi-line ones included) is bounded in size and time; nothing is ever uploaded or listed.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from iotcop.device.loginfacts import ServiceLogin, judge_logins
from iotcop.device.logins import Attempt, Result
from iotcop.device.net import Network
from iotcop.device.options import DeviceOptions, Discovered
from iotcop.model import NetworkService

MAX_REPLY = 8192
ANONYMOUS_PASSWORD = "iotcop@example.invalid"


@dataclass(frozen=True)
class Reply:
    code: int  # 0: no parsable reply (closed or garbage)
    text: str


async def read_reply(reader: asyncio.StreamReader, timeout: float) -> Reply:
    """One reply: 'ddd text' or a 'ddd-' block up to its 'ddd ' line, bounded in size and, as a whole, in time
    (TimeoutError when it is not complete within ``timeout``); a line too long to read is no parsable reply."""
    lines: list[str] = []
    size = 0
    first = ""
    deadline = time.monotonic() + timeout
    while size < MAX_REPLY:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no complete reply within {timeout:g} s")
        try:
            raw = await asyncio.wait_for(reader.readline(), left)
        except TimeoutError:
            raise TimeoutError(f"no complete reply within {timeout:g} s") from None
        except (ValueError, asyncio.LimitOverrunError):  # a line longer than the stream's limit
            return Reply(0, "a reply line too long to read (no line break)")
        if not raw:
            break
        size += len(raw)
        line = raw.decode("latin-1").rstrip("\r\n")
        lines.append(line)
        if not first:
            if len(line) < 3 or not line[:3].isdigit():
                return Reply(0, line[:200])
            first = line[:3]
            if line[3:4] != "-":
                break
        elif line.startswith(first + " ") or line == first:
            break
    text = " ".join(lines)[:300]
    return Reply(int(first) if first else 0, text)


class FtpSession:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float) -> None:
        self.reader, self.writer, self.timeout = reader, writer, timeout

    async def command(self, line: str) -> Reply:
        if any(c in line for c in "\r\n"):
            return Reply(0, "refused to send a line break in a command")
        self.writer.write(line.encode("latin-1", "replace") + b"\r\n")
        await asyncio.wait_for(self.writer.drain(), self.timeout)
        return await read_reply(self.reader, self.timeout)

    async def login(self, user: str, password: str) -> tuple[Reply, Reply | None]:
        """USER then (when asked) PASS: the replies."""
        first = await self.command(f"USER {user}")
        if first.code != 331:
            return first, None
        return first, await self.command(f"PASS {password}")

    async def close(self) -> None:
        try:
            self.writer.write(b"QUIT\r\n")
            await asyncio.wait_for(self.writer.drain(), 1.0)
        except (OSError, TimeoutError):
            pass
        self.writer.close()


async def open_session(net: Network, service: NetworkService, probe: str) -> tuple[FtpSession, Reply]:
    reader, writer = await net.open_tcp(service.host, service.port, probe)
    session = FtpSession(reader, writer, net.limits.timeout)
    try:
        return session, await read_reply(reader, net.limits.timeout)
    except BaseException:
        writer.close()
        raise


def judge(user_reply: Reply, pass_reply: Reply | None) -> Result:
    final = pass_reply or user_reply
    if final.code == 230:
        return Result.ACCEPTED
    if final.code == 421 or "too many" in final.text.lower() or "locked" in final.text.lower():
        return Result.LOCKED
    if final.code in (530, 331, 332) or final.code // 100 == 5:
        return Result.REJECTED
    return Result.DISCONNECTED if final.code == 0 else Result.ERROR


class FtpAuthenticator:
    def __init__(self, net: Network, service: NetworkService) -> None:
        self.net, self.svc = net, service
        self.service = f"ftp {service.host}:{service.port}"

    async def attempt(self, user: str, password: str) -> Attempt:
        start = time.monotonic()
        try:
            session, greeting = await open_session(self.net, self.svc, "credentials")
        except (OSError, TimeoutError) as exc:
            return Attempt(Result.DISCONNECTED, time.monotonic() - start, f"connection failed: {exc}")
        try:
            if greeting.code != 220:
                return Attempt(judge(greeting, None), time.monotonic() - start, f"greeting: {greeting.text}")
            user_reply, pass_reply = await session.login(user, password)
            final = pass_reply or user_reply
            return Attempt(judge(user_reply, pass_reply), time.monotonic() - start, f"{final.code} {final.text}"[:200])
        except (OSError, TimeoutError) as exc:
            return Attempt(Result.DISCONNECTED, time.monotonic() - start, f"connection lost: {exc!r}")
        finally:
            await session.close()


@dataclass(frozen=True)
class FtpService:
    service: NetworkService
    greeting: str = ""
    anonymous: bool | None = None  # None: could not be judged
    anonymous_reply: str = ""  # the server's answer to the anonymous login (evidence)
    plaintext_login: bool | None = None  # asks for a password without TLS (AUTH TLS not required)
    auth_tls: bool = False  # FEAT lists AUTH TLS
    reason: str = ""


@dataclass(frozen=True)
class FtpFacts:
    services: tuple[FtpService, ...] = field(default=())
    logins: tuple[ServiceLogin, ...] = field(default=())


async def inspect(net: Network, service: NetworkService) -> FtpService:
    try:
        session, greeting = await open_session(net, service, "ftp")
    except (OSError, TimeoutError) as exc:
        return FtpService(service, reason=f"could not connect: {exc or type(exc).__name__}")
    try:
        if greeting.code != 220:
            return FtpService(service, greeting.text, reason=f"no FTP greeting ({greeting.text or 'nothing'})")
        feat = await session.command("FEAT")
        auth_tls = feat.code == 211 and "AUTH TLS" in feat.text.upper()
        user_reply, pass_reply = await session.login("anonymous", ANONYMOUS_PASSWORD)
    except (OSError, TimeoutError) as exc:
        return FtpService(service, reason=f"connection lost: {exc!r}")
    finally:
        await session.close()
    result = judge(user_reply, pass_reply)
    final = pass_reply or user_reply
    anonymous = True if result is Result.ACCEPTED else False if result is Result.REJECTED else None
    plaintext = True if user_reply.code in (331, 230) else False if user_reply.code // 100 == 5 else None
    return FtpService(service, greeting.text, anonymous, f"{final.code} {final.text}"[:200], plaintext, auth_tls,
                      "" if anonymous is not None else f"the anonymous login was not answered clearly ({final.text})")


async def probe_ftp(net: Network, found: Discovered, options: DeviceOptions) -> FtpFacts:
    """Each FTP service: anonymous login, plain-text login; the default credentials and brute-force series."""
    services: list[FtpService] = []
    logins: list[ServiceLogin] = []
    for svc in found.of("ftp"):
        seen = await inspect(net, svc)
        services.append(seen)
        if seen.plaintext_login is None:
            logins.append(ServiceLogin(svc, "ftp", not_tried=seen.reason or "no login was offered"))
        else:
            logins.append(await judge_logins(FtpAuthenticator(net, svc), svc, "ftp", options))
    return FtpFacts(tuple(services), tuple(logins))
