"""TFTP: which well-known configuration files does the device hand out to anyone (RRQ without authentication)?

A TFTP server answers from a new port (its transfer id), so each read request uses its own unconnected UDP
socket inside ``Network.connection`` (scope checked, paced, logged) and accepts answers only from the target
address. Only the first block is read, then the transfer is aborted with an ERROR packet; contents are not kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import secrets
import socket
from dataclasses import dataclass

from iotcop.device.net import Network, OutOfScope, outcome_of
from iotcop.device.options import DeviceOptions, Discovered

NAMES = ("tftp",)
FILES = ("startup-config", "running-config", "config", "config.cfg", "config.bin", "router.cfg", "backup.cfg",
         "nvram.cfg", "pxelinux.cfg/default", "etc/passwd")
ABORT = b"\x00\x05\x00\x00iotcop: transfer not wanted\x00"


class TftpError(Exception):
    """Not a TFTP packet."""


@dataclass(frozen=True)
class TftpRead:
    name: str
    result: str  # 'data', 'error' or 'no answer'
    size: int = 0  # bytes in the first DATA block (up to 512; the content is not kept)
    message: str = ""  # the server's ERROR code and text

    @property
    def readable(self) -> bool:
        return self.result == "data"


@dataclass(frozen=True)
class TftpService:
    host: str
    port: int
    reads: tuple[TftpRead, ...] = ()
    serves_anything: bool = False  # a random, non-existent name was served too
    error: str = ""

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def answered(self) -> bool:
        return any(r.result != "no answer" for r in self.reads)


@dataclass(frozen=True)
class TftpFacts:
    services: tuple[TftpService, ...] = ()
    reasons: tuple[str, ...] = ()


def rrq(name: str) -> bytes:
    return b"\x00\x01" + name.encode()[:200] + b"\x00octet\x00"


def parse_packet(data: bytes) -> tuple[str, int, bytes]:
    """('data', block, payload) or ('error', code, message bytes)."""
    if len(data) < 4:
        raise TftpError("short packet")
    opcode, number = int.from_bytes(data[:2], "big"), int.from_bytes(data[2:4], "big")
    if opcode == 3:
        return "data", number, data[4:516]
    if opcode == 5:
        return "error", number, data[4:].split(b"\x00", 1)[0][:200]
    raise TftpError(f"unexpected opcode {opcode}")


class _Reader(asyncio.DatagramProtocol):
    def __init__(self, host: str, done: asyncio.Future[tuple[bytes, tuple[str, int]]]) -> None:
        self.host, self.done = host, done

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        if str(addr[0]) == self.host and not self.done.done():
            self.done.set_result((data[:1024], (str(addr[0]), int(str(addr[1])))))


async def read_first_block(net: Network, host: str, port: int, name: str) -> TftpRead:
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    done: asyncio.Future[tuple[bytes, tuple[str, int]]] = loop.create_future()
    async with net.connection(host, port, "tftp", "udp") as attempt:
        transport, _ = await loop.create_datagram_endpoint(lambda: _Reader(host, done), family=family,
                                                           local_addr=("::" if family == socket.AF_INET6
                                                                       else "0.0.0.0", 0))
        try:
            transport.sendto(rrq(name), (host, port))
            try:
                data, addr = await asyncio.wait_for(done, min(1.0, net.limits.timeout))
            except TimeoutError:
                attempt.outcome = "no answer"
                return TftpRead(name, "no answer")
            with contextlib.suppress(TftpError):
                kind, number, payload = parse_packet(data)
                if kind == "data":
                    transport.sendto(ABORT, addr)
                    return TftpRead(name, "data", len(payload))
                return TftpRead(name, "error", message=f"{number}: {payload.decode('latin-1')}")
            return TftpRead(name, "error", message="malformed answer")
        finally:
            transport.close()


async def probe_service(net: Network, host: str, port: int) -> TftpService:
    decoy = f"iotcop-{secrets.token_hex(6)}.cfg"
    try:
        net.check(host)
        reads = await asyncio.gather(*(read_first_block(net, host, port, n) for n in (*FILES, decoy)))
    except (OSError, OutOfScope, ValueError) as exc:
        return TftpService(host, port, error=str(exc) if isinstance(exc, OutOfScope) else outcome_of(exc))
    return TftpService(host, port, tuple(reads[:-1]), reads[-1].readable)


async def probe_tftp(net: Network, found: Discovered, options: DeviceOptions) -> TftpFacts:
    """A read request for each well-known configuration file name (first block only) on each TFTP service."""
    targets = list(dict.fromkeys((s.host, s.port) for s in found.of(*NAMES)))
    if not targets:
        return TftpFacts(reasons=("no TFTP service was found",))
    return TftpFacts(tuple(await asyncio.gather(*(probe_service(net, h, p) for h, p in targets))))
