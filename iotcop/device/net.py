"""Every connection to the device goes through ``Network``: scope checked, concurrency and rate bounded, each
attempt timed out and recorded in the audit log.

Probes open TCP streams with ``open_tcp`` and exchange UDP datagrams with ``udp_exchange``. A probe that must
use a library's own sockets (an SSH or MQTT client) wraps the library call in ``async with net.connection(...)``,
which checks the scope, takes a concurrency slot and a rate token, and records the outcome. External tools
(nmap, sslyze, ssh-audit) are recorded the same way with ``tool_run``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

from iotcop.device.scope import Scope
from iotcop.errors import IotcopError
from iotcop.model import Connection


class OutOfScope(IotcopError):
    """A probe tried to contact an address the user did not name. Never sent."""


@dataclass(frozen=True)
class NetLimits:
    concurrency: int = 16  # connections open at once
    rate: float = 100.0  # new connections per second
    timeout: float = 3.0  # seconds for one connect or exchange

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.rate <= 0 or self.timeout <= 0:
            raise ValueError("concurrency, rate and timeout must be positive")


class _Attempt:
    """What a ``connection`` block sets: its outcome (default 'ok'; an exception sets it too)."""

    def __init__(self) -> None:
        self.outcome = "ok"


class Network:
    def __init__(self, scope: Scope, limits: NetLimits | None = None) -> None:
        self.scope = scope
        self.limits = limits or NetLimits()
        self.log: list[Connection] = []
        self._start = time.monotonic()
        self._slots: asyncio.Semaphore | None = None
        self._next_slot_at = 0.0
        self._rate_lock: asyncio.Lock | None = None

    def check(self, host: str) -> None:
        if not self.scope.allows(host):
            raise OutOfScope(f"{host} is outside the scope of this assessment ({self.scope.describe()}); "
                             "not contacted")

    async def _pace(self) -> None:
        """Token spacing: connections start at most ``rate`` per second."""
        if self._rate_lock is None:
            self._rate_lock = asyncio.Lock()
        async with self._rate_lock:
            now = time.monotonic()
            wait = self._next_slot_at - now
            self._next_slot_at = max(now, self._next_slot_at) + 1.0 / self.limits.rate
        if wait > 0:
            await asyncio.sleep(wait)

    @contextlib.asynccontextmanager
    async def connection(self, host: str, port: int, probe: str,
                         transport: Literal["tcp", "udp"] = "tcp") -> AsyncIterator[_Attempt]:
        """Scope, slot, pace, record: the frame of every contact with the device."""
        self.check(host)
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.limits.concurrency)
        attempt = _Attempt()
        async with self._slots:
            await self._pace()
            started = time.monotonic()
            try:
                yield attempt
            except BaseException as exc:
                attempt.outcome = outcome_of(exc)
                raise
            finally:
                self.log.append(Connection(host=host, port=port, transport=transport, probe=probe,
                                           at=round(started - self._start, 3),
                                           seconds=round(time.monotonic() - started, 3), outcome=attempt.outcome))

    async def open_tcp(self, host: str, port: int, probe: str, *, tls: ssl.SSLContext | None = None,
                       server_hostname: str | None = None,
                       timeout: float | None = None) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A TCP (optionally TLS) stream; raises OSError/TimeoutError (recorded) like asyncio does."""
        async with self.connection(host, port, probe):
            return await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=tls, server_hostname=server_hostname if tls else None,
                                        limit=1 << 20),
                timeout or self.limits.timeout)

    async def udp_exchange(self, host: str, port: int, payload: bytes, probe: str, *, timeout: float | None = None,
                           max_replies: int = 1) -> list[bytes]:
        """Send one datagram and collect up to ``max_replies`` answers until the timeout (no answer: [])."""
        loop = asyncio.get_running_loop()
        replies: list[bytes] = []
        done = loop.create_future()

        class _Proto(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
                replies.append(data[:65536])
                if len(replies) >= max_replies and not done.done():
                    done.set_result(None)

            def error_received(self, exc: Exception) -> None:
                if not done.done():
                    done.set_exception(exc)

        async with self.connection(host, port, probe, "udp") as attempt:
            transport, _ = await loop.create_datagram_endpoint(_Proto, remote_addr=(host, port))
            refused = False
            try:
                transport.sendto(payload)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(done), timeout or self.limits.timeout)
            except ConnectionRefusedError:  # ICMP port unreachable: nothing listens there
                refused = True
            finally:
                transport.close()
            attempt.outcome = "ok" if replies else "refused" if refused else "no answer"
        return replies

    def tool_run(self, host: str, port: int, probe: str, seconds: float, outcome: str) -> None:
        """Record what an external tool (nmap, sslyze, ssh-audit) was run against."""
        self.check(host)
        self.log.append(Connection(host=host, port=port, transport="tcp", probe=probe,
                                   at=round(max(0.0, time.monotonic() - self._start - seconds), 3),
                                   seconds=round(seconds, 3), outcome=outcome))


def outcome_of(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionResetError):
        return "reset"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, OutOfScope):
        return "refused by scope"
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    return f"{type(exc).__name__}: {str(exc)[:200]}"
