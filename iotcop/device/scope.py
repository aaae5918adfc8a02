"""What an assessment may contact: the hosts, addresses and CIDR ranges the user named, and nothing else.

Names are resolved once, when the scope is made; every connection is checked against the resolved addresses
(``Scope.allows``), so a probe that follows a redirect, an SSDP LOCATION or a DNS answer elsewhere is refused
before a packet leaves. A scope file (``--scope FILE``) lists one target per line, ``#`` comments allowed, and
may exclude addresses with a leading ``!``.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from pathlib import Path

from iotcop.errors import UsageError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_HOSTS = 4096  # a /20: more than any home or lab network a product sits in; larger ranges are refused


@dataclass(frozen=True)
class Scope:
    networks: tuple[Network, ...]
    excluded: tuple[Network, ...] = ()
    names: dict[str, tuple[Address, ...]] = field(default_factory=dict)  # host name → its addresses

    def allows(self, address: str | Address) -> bool:
        try:
            ip = ipaddress.ip_address(address) if isinstance(address, str) else address
        except ValueError:
            return False
        return any(_within(ip, n) for n in self.networks) and not any(_within(ip, n) for n in self.excluded)

    def hosts(self) -> list[Address]:
        """Every address in scope, in order (networks expanded; a single address is itself)."""
        out: list[Address] = []
        for net in self.networks:
            candidates: list[Address] = [net.network_address] if net.num_addresses == 1 else list(net.hosts())
            out.extend(ip for ip in candidates if self.allows(ip) and ip not in out)
        return out

    def describe(self) -> str:
        parts = [str(n) for n in self.networks] + [f"!{n}" for n in self.excluded]
        return ", ".join(parts) or "nothing"


def _within(ip: Address, net: Network) -> bool:
    """Membership that honours IPv6 zones: fe80::1%eth1 is not the fe80::1%eth0 the user named."""
    zone = getattr(net.network_address, "scope_id", None)
    return ip in net and (zone is None or getattr(ip, "scope_id", None) == zone)


def _resolve(name: str) -> tuple[Address, ...]:
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UsageError(f"target {name!r} does not resolve ({exc})") from None
    seen: list[Address] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if ip not in seen:
            seen.append(ip)
    return tuple(seen)


def _network(text: str) -> tuple[list[Network], dict[str, tuple[Address, ...]]]:
    text = text.strip()
    try:
        return [ipaddress.ip_network(text, strict=False)], {}
    except ValueError:
        pass
    if "/" in text or not text or any(c.isspace() for c in text):
        raise UsageError(f"target {text!r} is not a host name, an address or a CIDR range")
    addresses = _resolve(text)
    return [ipaddress.ip_network(ip) for ip in addresses], {text: addresses}


def make_scope(targets: list[str], scope_file: Path | None = None) -> Scope:
    """The scope of an assessment: the targets, plus (or, without targets, only) the scope file's lines."""
    lines = list(targets)
    if scope_file is not None:
        try:
            content = scope_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read the scope file {scope_file}: {exc}") from None
        lines += [ln.split("#", 1)[0].strip() for ln in content.splitlines()]
    networks: list[Network] = []
    excluded: list[Network] = []
    names: dict[str, tuple[Address, ...]] = {}
    for line in filter(None, (ln.strip() for ln in lines)):
        into = excluded if line.startswith("!") else networks
        found, resolved = _network(line.lstrip("!"))
        into.extend(n for n in found if n not in into)
        names.update(resolved)
    if not networks:
        raise UsageError("no target: name a host, an address or a CIDR range")
    size = sum(n.num_addresses for n in networks)
    if size > MAX_HOSTS:
        raise UsageError(f"the targets cover {size} addresses; iotcop assesses at most {MAX_HOSTS} at once "
                         "(name the product's address, or a smaller range)")
    return Scope(tuple(networks), tuple(excluded), names)
