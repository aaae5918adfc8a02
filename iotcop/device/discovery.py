"""Discovery: which ports listen on each host in scope, and what speaks there.

TCP: nmap's connect scan (``-sT -Pn -n``, only the ports asked for, never ``-sV``/``-O``/scripts; its XML read
with the standard parser, which refuses external entities) when it is installed and ``options.use_nmap``; the
asyncio connect scanner otherwise, or when nmap fails. Then each open port is identified (``identify``), and
the UDP ports get their own probes (``udp``). Every contact goes through ``Network``: nmap's runs are
recorded per host with ``tool_run``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import time
import xml.etree.ElementTree as ET

from iotcop.device.identify import Identifier
from iotcop.device.net import Network, outcome_of
from iotcop.device.options import DeviceOptions, Discovered
from iotcop.device.scope import Scope
from iotcop.device.udp import probe_udp
from iotcop.model import NetworkService

NMAP_MAX_OUTPUT = 16 << 20
NMAP_PARALLEL = 4  # nmap processes at once (one per host)
NMAP_GRACE = 30.0  # seconds nmap may run beyond its own --host-timeout before it is killed


def nmap_command(nmap: str, host: str, ports: tuple[int, ...], timeout: float, rate: float) -> list[str]:
    """nmap's connect scan of ``ports`` on one host, XML on stdout; bounded retries, rate and time."""
    host_timeout = nmap_host_timeout(timeout, ports, rate)
    return [nmap, "-sT", "-Pn", "-n", "-oX", "-", "--max-retries", "1", "--host-timeout", f"{host_timeout}s",
            "--max-rtt-timeout", f"{max(100, int(timeout * 1000))}ms", "--max-rate", f"{max(1, int(rate))}",
            *(["-6"] if ":" in host else []), "-p", _port_list(ports), host]


def nmap_host_timeout(timeout: float, ports: tuple[int, ...], rate: float) -> int:
    """nmap's --host-timeout (seconds) for ``ports`` at ``rate``."""
    return max(10, int(timeout * 10 + len(ports) / max(rate, 1.0) * 2))


def nmap_time_limit(timeout: float, ports: tuple[int, ...], rate: float) -> float:
    """How long the nmap process may run at all (its host timeout and a grace): then it is killed."""
    return nmap_host_timeout(timeout, ports, rate) + NMAP_GRACE


async def _kill(proc: asyncio.subprocess.Process) -> None:
    """Kill nmap and everything in its session (it was started in a new one), and reap it."""
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), 5.0)


def _port_list(ports: tuple[int, ...]) -> str:
    """'22,80,8000-8100': runs of ports as ranges (all 65535 ports as one list would exceed the kernel's limit
    on one argument, 128 KiB, and nmap would not start)."""
    runs: list[list[int]] = []
    for port in sorted(set(ports)):
        if runs and port == runs[-1][1] + 1:
            runs[-1][1] = port
        else:
            runs.append([port, port])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def parse_nmap_xml(text: str) -> tuple[str, dict[str, list[int]]]:
    """(nmap's version, open TCP ports per address) from ``-oX`` output; ('', {}) when it is not nmap XML."""
    if "<!ENTITY" in text or "<!DOCTYPE nmaprun [" in text:  # nmap never declares entities: refuse to expand any
        return "", {}
    try:
        root = ET.fromstring(text)
    except (ET.ParseError, ValueError):
        return "", {}
    if root.tag != "nmaprun":
        return "", {}
    found: dict[str, list[int]] = {}
    for host in root.iter("host"):
        address = next((a.get("addr", "") for a in host.iter("address") if a.get("addrtype") in ("ipv4", "ipv6")), "")
        if not address:
            continue
        ports = found.setdefault(address, [])
        for port in host.iter("port"):
            state = port.find("state")
            portid = port.get("portid", "")
            if (port.get("protocol") == "tcp" and state is not None and state.get("state") == "open"
                    and portid.isdigit() and 0 < int(portid) < 65536):
                ports.append(int(portid))
    return str(root.get("version", "")), {a: sorted(set(p)) for a, p in found.items()}


async def nmap_scan(net: Network, nmap: str, host: str, ports: tuple[int, ...]) -> tuple[str, list[int]] | None:
    """Open ports by nmap (None: nmap failed, use the fallback)."""
    net.check(host)
    command = nmap_command(nmap, host, ports, net.limits.timeout, net.limits.rate)
    started = time.monotonic()
    limit = nmap_time_limit(net.limits.timeout, ports, net.limits.rate)
    try:
        proc = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
                                                    start_new_session=True)
    except OSError as exc:
        net.tool_run(host, 0, "discovery: nmap", time.monotonic() - started, outcome_of(exc))
        return None
    try:
        out, err = await asyncio.wait_for(proc.communicate(), limit)
    except (OSError, TimeoutError) as exc:
        await _kill(proc)
        why = f"nmap killed after {limit:g} s" if isinstance(exc, TimeoutError) else outcome_of(exc)
        net.tool_run(host, 0, "discovery: nmap", time.monotonic() - started, why)
        return None
    except BaseException:  # cancelled: do not leave nmap running
        await _kill(proc)
        raise
    version, found = parse_nmap_xml(out[:NMAP_MAX_OUTPUT].decode("utf-8", "replace"))
    ok = proc.returncode == 0 and bool(version)
    outcome = "ok" if ok else f"nmap failed (exit {proc.returncode}): {err.decode('utf-8', 'replace')[-200:]}"
    net.tool_run(host, 0, f"discovery: nmap -sT {len(ports)} ports", time.monotonic() - started, outcome)
    if not ok:
        return None
    return version, [p for p in found.get(host, []) if p in ports]


async def connect_scan(net: Network, host: str, ports: tuple[int, ...]) -> list[int]:
    """Open ports by asyncio connects (a refused or timed-out connect: closed or filtered)."""

    async def one(port: int) -> int | None:
        try:
            _, writer = await net.open_tcp(host, port, "discovery")
        except (OSError, TimeoutError):
            return None
        writer.close()
        return port

    return sorted(p for p in await asyncio.gather(*(one(p) for p in sorted(set(ports)))) if p is not None)


async def _udp_services(net: Network, host: str, ports: tuple[int, ...], timeout: float) -> list[NetworkService]:
    out: list[NetworkService] = []
    for port, found in zip(ports, await asyncio.gather(*(probe_udp(net, host, p, timeout) for p in ports)),
                           strict=True):
        if found:
            ident = found[0][1]
            banner = " | ".join(i.banner for _, i in found)[:500]
            out.append(NetworkService(host=host, port=port, transport="udp", name=ident.name, product=ident.product,
                                      version=ident.version, banner=banner,
                                      method=f"{', '.join(p for p, _ in found)} probe"))
    return out


async def discover(net: Network, scope: Scope, options: DeviceOptions) -> Discovered:
    """Every host in scope: its open TCP ports identified, and the UDP services that answered."""
    hosts = [str(h) for h in scope.hosts()]
    nmap = shutil.which("nmap") if options.use_nmap else None
    ports = tuple(sorted(set(options.tcp_ports)))
    notes: list[str] = []
    methods: set[str] = set()
    identifier = Identifier(net)
    udp_timeout = min(1.0, net.limits.timeout)

    tools = asyncio.Semaphore(NMAP_PARALLEL)

    async def host_services(host: str) -> list[NetworkService]:
        udp = asyncio.ensure_future(_udp_services(net, host, tuple(sorted(set(options.udp_ports))), udp_timeout))
        open_ports: list[int] | None = None
        if nmap and ports:
            async with tools:
                result = await nmap_scan(net, nmap, host, ports)
            if result is not None:
                open_ports = result[1]
                methods.add(f"nmap {result[0]} (connect scan)")
            else:
                notes.append(f"{host}: nmap failed; the asyncio connect scan was used")
        if open_ports is None:
            open_ports = await connect_scan(net, host, ports)
            methods.add("asyncio connect scan")
        tcp = await asyncio.gather(*(identifier.identify(host, p) for p in open_ports))
        return [*tcp, *await udp]

    if options.use_nmap and not nmap:
        notes.append("nmap is not installed; the asyncio connect scan was used")
    per_host = await asyncio.gather(*(host_services(h) for h in hosts))
    services = tuple(s for found in per_host for s in found)
    method = " and ".join(sorted(methods)) or ("nothing scanned" if not ports else "")
    return Discovered(hosts=tuple(hosts), services=services, scanned_tcp=len(ports),
                      scanned_udp=len(set(options.udp_ports)), method=method,
                      notes=tuple(dict.fromkeys(notes)))

