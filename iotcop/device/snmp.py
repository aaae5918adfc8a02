"""SNMP: which community strings does the agent answer (v1, v2c), and does it speak SNMPv3 at all?

Hand-encoded BER, bounded: a GetRequest for sysDescr.0 per community (an agent drops wrong communities
silently, so the attempts run concurrently under ``Network``'s limits with a short timeout), and one SNMPv3
engine-discovery request (no credentials: an agent with USM answers with a Report). Nothing is ever SET.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

from iotcop.device.net import Network, OutOfScope, outcome_of
from iotcop.device.options import DeviceOptions, Discovered

NAMES = ("snmp",)
COMMUNITIES = ("public", "private", "community", "snmp", "admin", "manager", "default", "monitor", "secret",
               "write", "read", "cisco")
MAX_COMMUNITIES = 24
SYS_DESCR = (1, 3, 6, 1, 2, 1, 1, 1, 0)
VERSIONS = {0: "v1", 1: "v2c", 3: "v3"}


class BerError(Exception):
    """Malformed BER."""


@dataclass(frozen=True)
class SnmpAnswer:
    version: str  # 'v1' or 'v2c'
    community: str
    sys_descr: str  # the value of sysDescr.0 (cut)


@dataclass(frozen=True)
class SnmpService:
    host: str
    port: int
    answers: tuple[SnmpAnswer, ...] = ()
    v3: bool | None = None  # answered SNMPv3 discovery (None: the request could not be sent)
    engine_id: str = ""  # hex, from the v3 Report
    tried: int = 0  # communities x versions tried
    error: str = ""

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def answered(self) -> bool:
        return bool(self.answers) or bool(self.v3)


@dataclass(frozen=True)
class SnmpFacts:
    services: tuple[SnmpService, ...] = ()
    reasons: tuple[str, ...] = ()


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _len(len(value)) + value


def integer(n: int) -> bytes:
    return tlv(0x02, n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big", signed=True))


def octets(s: bytes | str) -> bytes:
    return tlv(0x04, s.encode() if isinstance(s, str) else s)


def oid(parts: tuple[int, ...]) -> bytes:
    out = bytearray([parts[0] * 40 + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        while p > 0x7F:
            p >>= 7
            chunk.insert(0, 0x80 | (p & 0x7F))
        out += bytes(chunk)
    return tlv(0x06, bytes(out))


def seq(*items: bytes, tag: int = 0x30) -> bytes:
    return tlv(tag, b"".join(items))


def get_request(version: int, community: str, request_id: int) -> bytes:
    varbinds = seq(seq(oid(SYS_DESCR), b"\x05\x00"))
    return seq(integer(version), octets(community), seq(integer(request_id), integer(0), integer(0), varbinds,
                                                        tag=0xA0))


def v3_discovery(msg_id: int) -> bytes:
    usm = seq(octets(b""), integer(0), integer(0), octets(b""), octets(b""), octets(b""))
    header = seq(integer(msg_id), integer(65507), octets(b"\x04"), integer(3))
    pdu = seq(integer(msg_id), integer(0), integer(0), seq(), tag=0xA0)
    return seq(integer(3), header, octets(usm), seq(octets(b""), octets(b""), pdu))


def decode(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[int, bytes]]:
    """The TLVs between ``start`` and ``end`` (not recursive). Raises BerError on anything malformed."""
    end = len(data) if end is None else end
    items: list[tuple[int, bytes]] = []
    i = start
    while i < end:
        if i + 2 > end:
            raise BerError("truncated TLV")
        tag, first = data[i], data[i + 1]
        i += 2
        if first & 0x80:
            count = first & 0x7F
            if not 1 <= count <= 4 or i + count > end:
                raise BerError("bad length")
            length = int.from_bytes(data[i:i + count], "big")
            i += count
        else:
            length = first
        if i + length > end:
            raise BerError("value past the end")
        items.append((tag, data[i:i + length]))
        i += length
        if len(items) > 64:
            raise BerError("too many items")
    return items


def _int(tlv_: tuple[int, bytes]) -> int:
    if tlv_[0] != 0x02 or not 1 <= len(tlv_[1]) <= 8:
        raise BerError("expected an INTEGER")
    return int.from_bytes(tlv_[1], "big", signed=True)


def _one(data: bytes, tag: int) -> list[tuple[int, bytes]]:
    outer = decode(data)
    if len(outer) != 1 or outer[0][0] != tag:
        raise BerError(f"expected one item of tag 0x{tag:02x}")
    return decode(outer[0][1])


def parse_response(data: bytes) -> tuple[int, str, int, str]:
    """(version, community, request id, sysDescr text) of a v1/v2c GetResponse."""
    message = _one(data, 0x30)
    if len(message) != 3 or message[1][0] != 0x04 or message[2][0] != 0xA2:
        raise BerError("not a v1/v2c GetResponse")
    pdu = decode(message[2][1])
    if len(pdu) != 4 or pdu[3][0] != 0x30:
        raise BerError("bad PDU")
    value = ""
    for tag, bind in decode(pdu[3][1]):
        parts = decode(bind) if tag == 0x30 else []
        if len(parts) == 2 and parts[1][0] == 0x04:
            value = parts[1][1].decode("utf-8", "replace")[:200]
    return _int(message[0]), message[1][1].decode("latin-1"), _int(pdu[0]), value


def parse_v3_report(data: bytes) -> str:
    """The authoritative engine id (hex) of an SNMPv3 answer to discovery."""
    message = _one(data, 0x30)
    if len(message) != 4 or _int(message[0]) != 3 or message[2][0] != 0x04:
        raise BerError("not an SNMPv3 message")
    usm = _one(message[2][1], 0x30)
    if not usm or usm[0][0] != 0x04:
        raise BerError("bad USM parameters")
    return usm[0][1].hex()


async def _community(net: Network, host: str, port: int, version: int, community: str) -> SnmpAnswer | None:
    request_id = secrets.randbelow(1 << 30)
    timeout = min(1.0, net.limits.timeout)
    for reply in await net.udp_exchange(host, port, get_request(version, community, request_id), "snmp",
                                        timeout=timeout):
        try:
            got_version, got_community, got_id, descr = parse_response(reply)
        except BerError:
            continue
        if got_id == request_id and got_community == community and got_version == version:
            return SnmpAnswer(VERSIONS[version], community, descr)
    return None


async def _v3(net: Network, host: str, port: int) -> tuple[bool, str]:
    for reply in await net.udp_exchange(host, port, v3_discovery(secrets.randbelow(1 << 30)), "snmp",
                                        timeout=min(1.0, net.limits.timeout)):
        try:
            return True, parse_v3_report(reply)
        except BerError:
            continue
    return False, ""


async def probe_service(net: Network, host: str, port: int, communities: tuple[str, ...]) -> SnmpService:
    try:
        net.check(host)
        attempts = [(v, c) for c in communities for v in (1, 0)]
        answers = await asyncio.gather(*(_community(net, host, port, v, c) for v, c in attempts))
        v3, engine = await _v3(net, host, port)
    except (OSError, OutOfScope) as exc:
        return SnmpService(host, port, error=outcome_of(exc))
    return SnmpService(host, port, tuple(a for a in answers if a), v3, engine, len(attempts))


def communities_of(options: DeviceOptions) -> tuple[str, ...]:
    """The default communities, then the passwords of the user's credential list (bounded)."""
    extra = [c.password for c in options.credentials if c.password and len(c.password) <= 32]
    return tuple(dict.fromkeys([*COMMUNITIES, *extra]))[:MAX_COMMUNITIES]


async def probe_snmp(net: Network, found: Discovered, options: DeviceOptions) -> SnmpFacts:
    """Default communities (v2c and v1) and SNMPv3 discovery on every SNMP service found."""
    targets = [(s.host, s.port) for s in found.of(*NAMES)]
    if not targets:
        return SnmpFacts(reasons=("no SNMP service was found",))
    communities = communities_of(options)
    return SnmpFacts(tuple(await asyncio.gather(*(probe_service(net, h, p, communities) for h, p in targets))))
