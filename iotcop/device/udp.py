"""The UDP services IoT products expose, each found with one harmless datagram and its answer parsed.

- SNMP (161): an SNMPv3 engine discovery request (no user, no credentials: RFC 3414 makes an agent answer it
  with a Report) and a v2c get of sysDescr with a RANDOM community. Guessing 'public' is a credential test,
  left to the SNMP probe family; an agent that answers a random community accepts any community.
- SSDP (1900): M-SEARCH ``ssdp:all`` sent unicast to the device; mDNS (5353): a unicast DNS-SD services query;
  CoAP (5683): a confirmable GET of ``/.well-known/core``; TFTP (69): a read request for a random file name
  (an ERROR packet proves a server); NTP (123): a mode 3 client request.

Builders make the datagrams; parsers take untrusted bytes and never raise.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import struct
from collections.abc import Callable

from iotcop.device.identify import Ident, parse_headers, parse_server_header, printable
from iotcop.device.net import Network

SYS_DESCR = bytes.fromhex("2b06010201010100")  # 1.3.6.1.2.1.1.1.0


# ---------------------------------------------------------------- SNMP (BER)

def _tlv(tag: int, value: bytes) -> bytes:
    n = len(value)
    length = bytes([n]) if n < 128 else bytes([0x81, n]) if n < 256 else bytes([0x82]) + n.to_bytes(2, "big")
    return bytes([tag]) + length + value


def _int(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True))


def snmp_v2c_get(community: str, request_id: int) -> bytes:
    varbind = _tlv(0x30, _tlv(0x30, _tlv(0x06, SYS_DESCR) + b"\x05\x00"))
    pdu = _tlv(0xA0, _int(request_id) + _int(0) + _int(0) + varbind)
    return _tlv(0x30, _int(1) + _tlv(0x04, community.encode()) + pdu)


def snmp_v3_discovery(msg_id: int) -> bytes:
    """An unauthenticated SNMPv3 GET with empty engine ID and user: the agent answers with a Report."""
    header = _tlv(0x30, _int(msg_id) + _int(65507) + _tlv(0x04, b"\x04") + _int(3))
    usm = _tlv(0x04, _tlv(0x30, _tlv(0x04, b"") + _int(0) + _int(0) + _tlv(0x04, b"") * 3))
    scoped = _tlv(0x30, _tlv(0x04, b"") + _tlv(0x04, b"") + _tlv(0xA0, _int(msg_id) + _int(0) + _int(0)
                                                                + _tlv(0x30, b"")))
    return _tlv(0x30, _int(3) + header + usm + scoped)


def ber_items(data: bytes, limit: int = 64) -> list[tuple[int, bytes]]:
    """The top-level (tag, value) items of BER bytes; stops at the first malformed one."""
    items: list[tuple[int, bytes]] = []
    i = 0
    while i + 2 <= len(data) and len(items) < limit:
        tag, first = data[i], data[i + 1]
        i += 2
        if first & 0x80:
            count = first & 0x7F
            if count == 0 or count > 3 or i + count > len(data):
                break
            length = int.from_bytes(data[i:i + count], "big")
            i += count
        else:
            length = first
        if i + length > len(data):
            break
        items.append((tag, data[i:i + length]))
        i += length
    return items


def parse_snmp(data: bytes) -> Ident | None:
    """An SNMP message: its version; a v3 Report's engine ID (net-snmp's names its enterprise, 8072)."""
    outer = ber_items(data, 1)
    if not outer or outer[0][0] != 0x30:
        return None
    parts = ber_items(outer[0][1])
    if len(parts) < 3 or parts[0][0] != 0x02 or len(parts[0][1]) != 1 or parts[0][1][0] not in (0, 1, 3):
        return None
    version = {0: "v1", 1: "v2c", 3: "v3"}[parts[0][1][0]]
    if version != "v3":
        descr = re.findall(rb"[\x20-\x7e]{6,}", parts[2][1])
        return Ident("snmp", None, None, f"SNMP {version} response" + (f": {printable(descr[-1], 200)}"
                                                                       if descr else ""))
    engine = b""
    if len(parts) >= 3 and parts[2][0] == 0x04:
        usm = ber_items(parts[2][1], 1)
        fields = ber_items(usm[0][1]) if usm and usm[0][0] == 0x30 else []
        engine = fields[0][1] if fields and fields[0][0] == 0x04 else b""
    enterprise = int.from_bytes(engine[:4], "big") & 0x7FFFFFFF if len(engine) >= 4 else None
    product = "net-snmp" if enterprise == 8072 else None
    banner = f"SNMP v3 report, engine ID {engine.hex() or 'empty'}" + (f" (enterprise {enterprise})"
                                                                       if enterprise else "")
    return Ident("snmp", product, None, banner)


# ---------------------------------------------------------------- SSDP, mDNS, CoAP, TFTP, NTP

def ssdp_msearch(host: str, port: int) -> bytes:
    return (f"M-SEARCH * HTTP/1.1\r\nHOST: {host}:{port}\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n"
            "USER-AGENT: iotcop\r\n\r\n").encode()


def parse_ssdp(data: bytes) -> Ident | None:
    parsed = parse_headers(data)
    if parsed is None or not parsed[0].startswith("HTTP/") or not ({"st", "usn", "location"} & set(parsed[1])):
        return None
    headers = parsed[1]
    product, version = None, None
    for token in headers.get("server", "").split():  # 'Linux/3.14 UPnP/1.0 MiniUPnPd/2.0': the UPnP stack
        if not token.lower().startswith(("linux", "upnp/")):
            product, version = parse_server_header(token)
            break
    shown = "; ".join(f"{k.upper()}: {headers[k]}" for k in ("server", "st", "location") if k in headers)
    return Ident("ssdp", product, version, printable(shown.encode("latin-1")))


def _dns_name(data: bytes, offset: int, depth: int = 0) -> tuple[str, int]:
    """A (possibly compressed) DNS name at ``offset``: (name, offset after it). Raises IndexError/ValueError."""
    labels: list[str] = []
    while True:
        length = data[offset]
        if length >= 0xC0:
            if depth > 8:
                raise ValueError("compression loop")
            pointer = ((length & 0x3F) << 8) | data[offset + 1]
            labels.append(_dns_name(data, pointer, depth + 1)[0])
            return ".".join(x for x in labels if x), offset + 2
        if length == 0:
            return ".".join(labels), offset + 1
        if offset + 1 + length > len(data):
            raise IndexError("label past the end")
        labels.append(data[offset + 1:offset + 1 + length].decode("utf-8", "replace"))
        offset += 1 + length


def mdns_query(query_id: int) -> bytes:
    """A unicast DNS-SD query (PTR _services._dns-sd._udp.local, QU bit): which services the device announces."""
    name = b"".join(bytes([len(p)]) + p for p in (b"_services", b"_dns-sd", b"_udp", b"local")) + b"\x00"
    return struct.pack(">HHHHHH", query_id, 0, 1, 0, 0, 0) + name + struct.pack(">HH", 12, 0x8001)


def parse_mdns(data: bytes) -> Ident | None:
    """A DNS response with answers: the names they point to (service types, instances)."""
    if len(data) < 12 or not data[2] & 0x80:
        return None
    questions, answers = struct.unpack(">HH", data[4:8])
    names: list[str] = []
    try:
        offset = 12
        for _ in range(min(questions, 16)):
            offset = _dns_name(data, offset)[1] + 4
        for _ in range(min(answers, 32)):
            owner, offset = _dns_name(data, offset)
            rtype, _cls, _ttl, rdlength = struct.unpack(">HHIH", data[offset:offset + 10])
            offset += 10
            names.append(_dns_name(data, offset)[0] if rtype == 12 else owner)
            offset += rdlength
    except (IndexError, ValueError, struct.error):
        pass
    if not names:
        return None
    return Ident("mdns", None, None, printable(("answers: " + ", ".join(dict.fromkeys(names))).encode(), 300))


def coap_get_core(message_id: int, token: bytes) -> bytes:
    """CoAP CON GET /.well-known/core (RFC 7252, RFC 6690)."""
    options = bytes([0xBB]) + b".well-known" + bytes([0x04]) + b"core"  # Uri-Path (11), then delta 0
    return bytes([0x40 | len(token), 0x01]) + message_id.to_bytes(2, "big") + token + options


def parse_coap(data: bytes) -> Ident | None:
    """A CoAP message of version 1 with a response code (2.xx-5.xx): its code and link-format payload."""
    if len(data) < 4 or data[0] >> 6 != 1 or (data[0] & 0x0F) > 8:
        return None
    code = data[1]
    if code >> 5 not in (2, 4, 5) and not (data[0] >> 4 & 3 in (2, 3) and code == 0):
        return None
    payload = data.split(b"\xff", 1)[1] if b"\xff" in data[4:] else b""
    shown = f"CoAP {code >> 5}.{code & 0x1F:02d}" + (f": {printable(payload, 300)}" if payload else "")
    return Ident("coap", None, None, shown)


def tftp_rrq(name: str) -> bytes:
    return b"\x00\x01" + name.encode() + b"\x00octet\x00"


def parse_tftp(data: bytes) -> Ident | None:
    """ERROR (5) with a code and message, or DATA (3) block 1: a TFTP server answered."""
    if len(data) >= 4 and data[:2] == b"\x00\x05" and int.from_bytes(data[2:4], "big") <= 8:
        message = data[4:].split(b"\x00", 1)[0]
        return Ident("tftp", None, None, f"TFTP ERROR {int.from_bytes(data[2:4], 'big')}: {printable(message, 200)}")
    if len(data) >= 4 and data[:4] == b"\x00\x03\x00\x01":
        return Ident("tftp", None, None, "TFTP DATA (the random file name was served)")
    return None


def ntp_request() -> bytes:
    return bytes([0x23]) + b"\x00" * 39 + secrets.token_bytes(8)  # LI 0, version 4, mode 3; transmit timestamp


def parse_ntp(data: bytes) -> Ident | None:
    """An NTP server reply (mode 4) of 48+ bytes: version, stratum and reference ID."""
    if len(data) < 48 or data[0] & 0x07 != 4 or not 1 <= (data[0] >> 3) & 0x07 <= 4:
        return None
    stratum = data[1]
    ref = data[12:16]
    refid = ref.decode("ascii", "replace").strip("\x00") if stratum <= 1 else ".".join(str(b) for b in ref)
    shown = f"NTP v{(data[0] >> 3) & 7} server, stratum {stratum}, refid {printable(refid.encode())}"
    return Ident("ntp", None, None, shown)


# ---------------------------------------------------------------- probing

Probe = tuple[str, Callable[[str, int], bytes], Callable[[bytes], Ident | None]]

PROBES: dict[str, Probe] = {
    "snmp-v3": ("snmp", lambda h, p: snmp_v3_discovery(secrets.randbelow(1 << 30)), parse_snmp),
    "snmp-v2c": ("snmp", lambda h, p: snmp_v2c_get(f"iotcop-{secrets.token_hex(6)}", secrets.randbelow(1 << 30)),
                 parse_snmp),
    "ssdp": ("ssdp", ssdp_msearch, parse_ssdp),
    "mdns": ("mdns", lambda h, p: mdns_query(secrets.randbelow(1 << 16)), parse_mdns),
    "coap": ("coap", lambda h, p: coap_get_core(secrets.randbelow(1 << 16), secrets.token_bytes(4)), parse_coap),
    "tftp": ("tftp", lambda h, p: tftp_rrq(f"iotcop-{secrets.token_hex(6)}.bin"), parse_tftp),
    "ntp": ("ntp", lambda h, p: ntp_request(), parse_ntp),
}
#: The probes sent to each well-known port; any other port listed gets every probe.
PORT_PROBES: dict[int, tuple[str, ...]] = {161: ("snmp-v3", "snmp-v2c"), 1900: ("ssdp",), 5353: ("mdns",),
                                          5683: ("coap",), 69: ("tftp",), 123: ("ntp",)}


async def probe_udp(net: Network, host: str, port: int, timeout: float | None = None) -> list[tuple[str, Ident]]:
    """(probe, what answered) for each probe of ``port`` that got an answer it recognises."""
    names = PORT_PROBES.get(port, tuple(PROBES))

    async def one(name: str) -> tuple[str, Ident] | None:
        _, build, parse = PROBES[name]
        try:
            replies = await net.udp_exchange(host, port, build(host, port), "discovery", timeout=timeout)
        except OSError:
            return None
        for reply in replies:
            found = parse(reply)
            if found is not None:
                return name, found
        return None

    results = await asyncio.gather(*(one(n) for n in names))
    return [r for r in results if r is not None]
