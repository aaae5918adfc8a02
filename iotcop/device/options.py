"""What a live assessment is asked to do, and the facts every probe family shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from iotcop.device.net import NetLimits
from iotcop.errors import UsageError
from iotcop.knowledge.credentials import Credential, parse_pairs
from iotcop.model import NetworkService

#: The TCP ports consumer IoT products expose (scanned by default; ``--all-ports`` scans 1-65535).
IOT_TCP_PORTS: tuple[int, ...] = (
    21, 22, 23, 25, 53, 80, 81, 82, 88, 110, 111, 139, 143, 443, 445, 502, 554, 631, 1080, 1883, 1900, 1935, 2000,
    2323, 3000, 3306, 3389, 4433, 4443, 4567, 5000, 5001, 5353, 5431, 5555, 5683, 6000, 6379, 6668, 7000, 7547,
    8000, 8001, 8008, 8080, 8081, 8088, 8089, 8181, 8443, 8554, 8800, 8883, 8888, 9000, 9090, 9100, 9443, 9999,
    10000, 10554, 12345, 20000, 37777, 49152, 49153, 50000, 55443, 60001)
#: UDP services IoT products expose: SNMP, SSDP, mDNS, CoAP, TFTP, NTP (each probed with its own payload).
IOT_UDP_PORTS: tuple[int, ...] = (69, 123, 161, 1900, 5353, 5683)


@dataclass(frozen=True)
class DeviceOptions:
    tcp_ports: tuple[int, ...] = IOT_TCP_PORTS
    udp_ports: tuple[int, ...] = IOT_UDP_PORTS
    limits: NetLimits = field(default_factory=NetLimits)
    credentials: tuple[Credential, ...] = ()  # tried in order; empty: the shipped lists (Mirai + vendor defaults)
    credential_limit: int = 60  # per service
    bruteforce_attempts: int = 20  # per authenticating service; 0 skips the measurement
    destructive: bool = False  # probes that change the device's state (UPnP AddPortMapping, ...): off by default
    input_probes: bool = True  # oversized values, format strings, injection canaries (non-destructive, bounded)
    use_nmap: bool = True  # nmap when installed; the asyncio scanner otherwise


@dataclass(frozen=True)
class Discovered:
    """What listens on the device (the fact every probe family starts from)."""

    hosts: tuple[str, ...]
    services: tuple[NetworkService, ...] = ()
    scanned_tcp: int = 0  # ports scanned per host
    scanned_udp: int = 0
    method: str = ""  # 'nmap 7.93 (connect scan)' or 'asyncio connect scan'
    notes: tuple[str, ...] = ()
    names: tuple[tuple[str, str], ...] = ()  # (address, the host name the user gave for it)

    def names_of(self, address: str) -> list[str]:
        """The names the user reached ``address`` by (a certificate may rightly name those instead)."""
        return [name for ip, name in self.names if ip == address]

    def of(self, *names: str) -> list[NetworkService]:
        return [s for s in self.services if s.name in names]


def named(services: Sequence[NetworkService], *names: str) -> list[NetworkService]:
    return [s for s in services if s.name in names]


MAX_PORT = 65535


def parse_ports(text: str) -> tuple[int, ...]:
    """'22,80,8000-8100' → the ports, in order, each once; anything else is a usage error."""
    ports: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        low, sep, high = part.partition("-")
        try:
            first, last = int(low), int(high) if sep else int(low)
        except ValueError:
            raise UsageError(f"--ports {text!r}: {part!r} is not a port or a range like 8000-8100") from None
        if not 1 <= first <= last <= MAX_PORT:
            raise UsageError(f"--ports {text!r}: {part!r} is outside 1-{MAX_PORT}")
        ports.extend(p for p in range(first, last + 1) if p not in ports)
    if not ports:
        raise UsageError("--ports: no port given")
    return tuple(ports)


def load_credentials(path: Path) -> tuple[Credential, ...]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the credentials file {path}: {exc}") from None
    pairs = parse_pairs(lines, f"credentials file {path.name}")
    if not pairs:
        raise UsageError(f"{path} has no 'user:password' line")
    return pairs


def with_ports(options: DeviceOptions, ports: str | None, all_ports: bool = False) -> DeviceOptions:
    """The port choice of a command line or a product file: every TCP port, a list ('22,80,8000-8100'), or the
    default list of the ports IoT products expose."""
    if all_ports:
        return replace(options, tcp_ports=tuple(range(1, MAX_PORT + 1)))
    return replace(options, tcp_ports=parse_ports(ports)) if ports else options
