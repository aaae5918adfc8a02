"""Benchmark: iotcop's service identification against ``nmap -sV`` on the same live services, in one run.

Usage: ``.venv/bin/python bench/device.py [--repeat 1] [--services ssh,telnet,http,https,mqtt,ftp,smtp,rtsp]``

The services: the device test bed's basic services (tests/devices/svc_basic.py) on 127.0.0.21 — dropbear,
lighttpd, mosquitto (real daemons, run as nobody), Python's http.server over TLS (a trustme certificate), and
small Python telnet/FTP/SMTP/RTSP responders — each on a free port. Loopback only.

- iotcop: ``discover`` over exactly those TCP ports (no UDP), in this process: the asyncio connect scan and
  identification (``iotcop.device.identify``), and the same with nmap's connect scan (``-sT``, no ``-sV``).
- nmap: ``nmap -sV -sT -Pn -n -oX - -p PORTS 127.0.0.21`` (its default version intensity).

An untimed iotcop run first, then ``--repeat`` timed rounds, the tools taking turns; medians count. It prints
both times, the ratio (issue 7's target: identification at least 3x faster than ``nmap -sV``), and what each
named every port. Exit code 0 whatever the figures; 1 when nmap fails; 2 when it is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "devices"))
import svc_basic  # type: ignore[import-not-found, unused-ignore]  # the test bed's service starters

from iotcop.device.discovery import discover
from iotcop.device.net import NetLimits, Network
from iotcop.device.options import DeviceOptions, Discovered
from iotcop.device.scope import make_scope

MIN_SPEEDUP = 3.0
ALL = ("ssh", "telnet", "http", "https", "mqtt", "ftp", "smtp", "rtsp")


def iotcop_run(host: str, ports: tuple[int, ...], use_nmap: bool) -> tuple[Discovered, float]:
    scope = make_scope([host])
    net = Network(scope, NetLimits())
    started = time.perf_counter()
    found = asyncio.run(discover(net, scope, DeviceOptions(tcp_ports=ports, udp_ports=(), use_nmap=use_nmap)))
    return found, time.perf_counter() - started


def nmap_run(nmap: str, host: str, ports: tuple[int, ...]) -> tuple[dict[int, str], float]:
    """nmap -sV: (port → 'service product version', seconds)."""
    command = [nmap, "-sV", "-sT", "-Pn", "-n", "-oX", "-", "-p", ",".join(map(str, ports)), host]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: exit {done.returncode}: {done.stderr[-400:]}")
    named: dict[int, str] = {}
    for port in ET.fromstring(done.stdout).iter("port"):
        service = port.find("service")
        if service is not None:
            parts = [service.get("name", ""), service.get("tunnel", ""), service.get("product", ""),
                     service.get("version", "")]
            named[int(port.get("portid", "0"))] = " ".join(p for p in parts if p)
    return named, seconds


def _describe(found: Discovered) -> dict[int, str]:
    return {s.port: " ".join(p for p in (s.name, "tls" if s.tls else "", s.product or "", s.version or "") if p)
            for s in found.services}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--services", default=",".join(ALL))
    args = parser.parse_args()
    nmap = shutil.which("nmap")
    if nmap is None:
        print("nmap is not installed")
        return 2
    wanted = [s for s in args.services.split(",") if s]
    with svc_basic.basic_bed() as bed:
        host = bed.host
        ports = tuple(bed.tcp[s] for s in wanted)
        iotcop_run(host, ports, use_nmap=False)  # untimed: imports, page cache
        ours: list[float] = []
        ours_nmap: list[float] = []
        theirs: list[float] = []
        found = Discovered(hosts=())
        named: dict[int, str] = {}
        for _ in range(max(1, args.repeat)):
            found, seconds = iotcop_run(host, ports, use_nmap=False)
            ours.append(seconds)
            ours_nmap.append(iotcop_run(host, ports, use_nmap=True)[1])
            try:
                named, seconds = nmap_run(nmap, host, ports)
            except RuntimeError as exc:
                print(f"nmap failed: {exc}")
                return 1
            theirs.append(seconds)
    version = subprocess.run([nmap, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    print(f"{len(ports)} TCP services on {host} ({', '.join(wanted)}); {version}\n")
    mine = _describe(found)
    print(f"{'service':<8}{'port':>7}  {'iotcop':<40}{'nmap -sV'}")
    for service, port in zip(wanted, ports, strict=True):
        print(f"{service:<8}{port:>7}  {mine.get(port, '-'):<40}{named.get(port, '-')}")
    rows = (("iotcop (asyncio scan + identification)", ours), ("iotcop (nmap -sT + identification)", ours_nmap),
            ("nmap -sV -sT", theirs))
    print(f"\n{'run':<42}{'median s':>9}  runs s")
    for label, times in rows:
        print(f"{label:<42}{statistics.median(times):>9.3f}  {' '.join(f'{t:.3f}' for t in times)}")
    ratio = statistics.median(theirs) / statistics.median(ours)
    ratio_nmap = statistics.median(theirs) / statistics.median(ours_nmap)
    verdict = "target met" if ratio >= MIN_SPEEDUP else "target MISSED"
    print(f"\niotcop's identification is {ratio:.1f}x faster than nmap -sV ({ratio_nmap:.1f}x with nmap's connect "
          f"scan first; target >= {MIN_SPEEDUP:g}x: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
