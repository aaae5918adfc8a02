"""UPnP/SSDP: does the device announce an Internet Gateway Device, and will its WAN connection service take
port-mapping commands from anyone on the LAN?

Unicast M-SEARCH to the device's SSDP port; its LOCATION is fetched only when it points into the scope (Network
refuses anything else, and the refusal is recorded); the device description is parsed with DOCTYPE/entities
refused and size bounded. Non-destructive by default: a WANIPConnection/WANPPPConnection control URL is asked
GetExternalIPAddress and GetGenericPortMappingEntry (read-only). Only with ``options.destructive`` does the probe
add a port mapping, and then deletes it again.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from urllib.parse import urljoin, urlsplit

from iotcop.device.net import Network, OutOfScope, outcome_of
from iotcop.device.options import DeviceOptions, Discovered

NAMES = ("ssdp", "upnp")
WAN_SERVICES = ("WANIPConnection", "WANPPPConnection")
MAX_BODY = 256 * 1024
MAX_LOCATIONS = 3
DENIED_CODES = ("401", "606")  # UPnP "Action not authorized"


class UpnpError(Exception):
    """A malformed or refused answer."""


@dataclass(frozen=True)
class UpnpControl:
    service_type: str
    url: str
    external_ip_status: int | None = None  # GetExternalIPAddress HTTP status
    external_ip: str = ""
    entry_status: int | None = None  # GetGenericPortMappingEntry(0) HTTP status
    entry_error: str = ""  # UPnP errorCode of a SOAP fault (713: no such entry, i.e. processed)
    mapping: str = ""  # destructive probe outcome: '' (not tried), 'added and deleted', 'refused: ...'
    error: str = ""

    @property
    def unauthenticated(self) -> bool:
        """A read or write action on the port-mapping service was processed without credentials."""
        processed = (self.external_ip_status == 200 or self.entry_status == 200
                     or (self.entry_status == 500 and self.entry_error not in ("", *DENIED_CODES)))
        return processed or self.mapping.startswith("added")


@dataclass(frozen=True)
class UpnpDevice:
    host: str
    port: int
    answered: bool = False  # replied to M-SEARCH
    server: str = ""
    search_targets: tuple[str, ...] = ()  # ST values announced
    location: str = ""
    description_status: int | None = None
    device_types: tuple[str, ...] = ()
    friendly_name: str = ""
    model: str = ""
    controls: tuple[UpnpControl, ...] = ()
    error: str = ""  # what was not done and why (out-of-scope LOCATION, unreachable, malformed)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def igd(self) -> bool:
        return any("InternetGatewayDevice" in t for t in (*self.device_types, *self.search_targets))


@dataclass(frozen=True)
class UpnpFacts:
    devices: tuple[UpnpDevice, ...] = ()
    reasons: tuple[str, ...] = ()


def m_search(host: str, port: int) -> bytes:
    return (f'M-SEARCH * HTTP/1.1\r\nHOST: {host}:{port}\r\nMAN: "ssdp:discover"\r\nMX: 1\r\nST: ssdp:all\r\n'
            "USER-AGENT: iotcop\r\n\r\n").encode()


def parse_headers(data: bytes) -> tuple[str, dict[str, str]]:
    """Status line and lower-cased headers of an HTTP-shaped message (SSDP reply, HTTP head)."""
    lines = data.decode("latin-1").split("\n")
    headers: dict[str, str] = {}
    for line in lines[1:64]:
        name, sep, value = line.partition(":")
        if sep and name.strip():
            headers.setdefault(name.strip().lower(), value.strip())
    return lines[0].strip(), headers


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_description(body: bytes, base: str) -> tuple[list[str], str, str, list[tuple[str, str]]]:
    """(device types, friendly name, model, [(service type, absolute control URL)]) of a device description."""
    if re.search(rb"<!(DOCTYPE|ENTITY)", body[:MAX_BODY], re.IGNORECASE):  # anywhere: comments may come first
        raise UpnpError("description declares a DOCTYPE or entities: refused")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise UpnpError(f"description is not XML: {exc}") from None
    text = {_local(e.tag): (e.text or "").strip() for e in root.iter() if _local(e.tag) in ("URLBase",)}
    base = text.get("URLBase") or base
    types, services = [], []
    for element in root.iter():
        name = _local(element.tag)
        if name == "deviceType" and element.text:
            types.append(element.text.strip())
        elif name == "service":
            fields = {_local(c.tag): (c.text or "").strip() for c in element}
            if fields.get("serviceType") and fields.get("controlURL"):
                services.append((fields["serviceType"], urljoin(base, fields["controlURL"])))
    first = {_local(e.tag): (e.text or "").strip() for e in root.iter() if _local(e.tag) in ("friendlyName",
                                                                                              "modelName")}
    return types, first.get("friendlyName", "")[:100], first.get("modelName", "")[:100], services


async def _read_all(reader: asyncio.StreamReader) -> bytes:
    data = b""
    while len(data) < MAX_BODY and (chunk := await reader.read(MAX_BODY - len(data))):
        data += chunk
    return data


async def http(net: Network, url: str, body: bytes = b"", headers: str = "") -> tuple[int, bytes]:
    """A bounded HTTP/1.0 request to an in-scope http:// URL: (status, body). Raises OutOfScope, OSError..."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or 80  # .port raises ValueError out of 0-65535
    except ValueError as exc:
        raise UpnpError(f"not a usable URL ({exc}): {url[:100]}") from None
    if parts.scheme != "http" or not host:
        raise UpnpError(f"not an http URL: {url[:100]}")
    method = "POST" if body else "GET"
    reader, writer = await net.open_tcp(host, port, "upnp")
    try:
        head = (f"{method} {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.0\r\n"
                f"Host: {parts.netloc}\r\nConnection: close\r\n{headers}Content-Length: {len(body)}\r\n\r\n")
        writer.write(head.encode() + body)
        await asyncio.wait_for(writer.drain(), net.limits.timeout)
        data = await asyncio.wait_for(_read_all(reader), net.limits.timeout)
    finally:
        writer.close()
    head_bytes, _, payload = data.partition(b"\r\n\r\n")
    status_line, _ = parse_headers(head_bytes)
    match = re.match(r"HTTP/1\.\d (\d{3})", status_line)
    if not match:
        raise UpnpError(f"not an HTTP answer: {status_line[:80]!r}")
    return int(match.group(1)), payload


async def soap(net: Network, url: str, service: str, action: str, args: str = "") -> tuple[int, bytes]:
    envelope = ('<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
                's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>'
                f'<u:{action} xmlns:u="{service}">{args}</u:{action}></s:Body></s:Envelope>').encode()
    return await http(net, url, envelope, f'Content-Type: text/xml; charset="utf-8"\r\n'
                                          f'SOAPAction: "{service}#{action}"\r\n')


def _field(body: bytes, name: str) -> str:
    match = re.search(rb"<(?:\w+:)?" + name.encode() + rb">([^<]{0,200})<", body)
    return match.group(1).decode("utf-8", "replace").strip() if match else ""


async def _mapping(net: Network, control: UpnpControl, device_host: str) -> str:
    port = 40000 + secrets.randbelow(20000)
    common = f"<NewRemoteHost></NewRemoteHost><NewExternalPort>{port}</NewExternalPort><NewProtocol>TCP</NewProtocol>"
    status, body = await soap(net, control.url, control.service_type, "AddPortMapping",
                              common + f"<NewInternalPort>{port}</NewInternalPort><NewInternalClient>{device_host}"
                              "</NewInternalClient><NewEnabled>1</NewEnabled><NewPortMappingDescription>iotcop "
                              "test</NewPortMappingDescription><NewLeaseDuration>60</NewLeaseDuration>")
    if status != 200:
        return f"refused: HTTP {status} {_field(body, 'errorCode')}".strip()
    status, _ = await soap(net, control.url, control.service_type, "DeletePortMapping", common)
    return f"added and deleted (external port {port})" if status == 200 else \
        f"added (external port {port}) but DeletePortMapping answered {status}"


async def probe_control(net: Network, service_type: str, url: str, destructive: bool, host: str) -> UpnpControl:
    control = UpnpControl(service_type, url)
    try:
        status, body = await soap(net, url, service_type, "GetExternalIPAddress")
        control = replace(control, external_ip_status=status, external_ip=_field(body, "NewExternalIPAddress"))
        status, body = await soap(net, url, service_type, "GetGenericPortMappingEntry",
                                  "<NewPortMappingIndex>0</NewPortMappingIndex>")
        control = replace(control, entry_status=status, entry_error=_field(body, "errorCode"))
        if destructive:
            control = replace(control, mapping=await _mapping(net, control, host))
    except (OSError, TimeoutError, OutOfScope, UpnpError, ValueError) as exc:
        control = replace(control, error=str(exc) if isinstance(exc, UpnpError | OutOfScope | ValueError)
                          else outcome_of(exc))
    return control


async def describe(net: Network, device: UpnpDevice, destructive: bool) -> UpnpDevice:
    try:
        status, body = await http(net, device.location)
        if status != 200:
            return replace(device, description_status=status)
        types, name, model, services = parse_description(body, device.location)
    except (OSError, TimeoutError, OutOfScope, UpnpError, ValueError) as exc:
        why = exc if isinstance(exc, UpnpError | OutOfScope | ValueError) else outcome_of(exc)
        return replace(device, error=f"description at {device.location[:200]} not fetched: {why}")
    wan = [(t, u) for t, u in services if any(w in t for w in WAN_SERVICES)]
    controls = [await probe_control(net, t, u, destructive, device.host) for t, u in wan]
    return replace(device, description_status=status, device_types=tuple(types), friendly_name=name, model=model,
                   controls=tuple(controls))


async def probe_device(net: Network, host: str, port: int, destructive: bool) -> UpnpDevice:
    try:
        replies = await net.udp_exchange(host, port, m_search(host, port), "upnp",
                                         timeout=min(1.5, net.limits.timeout), max_replies=16)
    except (OSError, OutOfScope) as exc:
        return UpnpDevice(host, port, error=f"M-SEARCH not sent: {outcome_of(exc)}")
    heads = [h for s, h in map(parse_headers, replies) if s.startswith("HTTP/1.") and " 200" in s]
    if not heads:
        return UpnpDevice(host, port, error="no answer to M-SEARCH")
    locations = list(dict.fromkeys(h["location"] for h in heads if h.get("location")))[:MAX_LOCATIONS]
    device = UpnpDevice(host, port, True, heads[0].get("server", "")[:100],
                        tuple(dict.fromkeys(h.get("st", "") for h in heads if h.get("st"))),
                        locations[0] if locations else "")
    if not device.location:
        return replace(device, error="the SSDP answer names no LOCATION")
    return await describe(net, device, destructive)


async def probe_upnp(net: Network, found: Discovered, options: DeviceOptions) -> UpnpFacts:
    """M-SEARCH, device description and (read-only unless destructive) port-mapping control on each SSDP port."""
    targets = list(dict.fromkeys((s.host, s.port) for s in found.of(*NAMES)))
    if not targets:
        return UpnpFacts(reasons=("no SSDP/UPnP service was found",))
    devices = await asyncio.gather(*(probe_device(net, h, p, options.destructive) for h, p in targets))
    return UpnpFacts(tuple(devices))
