"""Benchmark: a full live assessment of the vulnerable simulated device against ``nmap -sV`` on the same target.

Usage: ``.venv/bin/python bench/device_full.py [--ports all|bed] [--rate 5000]``

The target: the test bed's vulnerable persona (tests/devices/personas.py: telnet, dropbear, lighttpd with CGIs,
mosquitto, RTSP, snmpd, SSDP/UPnP IGD) plus a weak TLS server (``openssl s_server``), all on 127.0.0.71.
Loopback only.

- iotcop: ``assess_device`` (discovery over every TCP port with nmap's connect scan, identification, every
  protocol probe, default credentials with the must-fail probe, a 20-attempt brute-force series per login
  service, TLS through sslyze, the web input probes and malformed protocol frames) — the whole assessment, in
  this process.
- nmap: ``nmap -sV -sT -Pn -n -p PORTS 127.0.0.71`` on just the open TCP ports (service detection only: it
  does none of the rest).

Prints both times and the ratio. Issue 7's targets: the full assessment under 30 s; identification alone at
least 3x faster than ``nmap -sV`` (bench/device.py measures that one). Exit code 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "tests" / d) for d in ("devices", "fixtures")]
import personas  # type: ignore[import-not-found, unused-ignore]  # noqa: E402  (the test bed)
import svc_web  # type: ignore[import-not-found, unused-ignore]  # noqa: E402

from iotcop.api import assess_device  # noqa: E402
from iotcop.device.net import NetLimits  # noqa: E402
from iotcop.device.options import DeviceOptions  # noqa: E402

TARGET_SECONDS = 30.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ports", choices=("all", "bed"), default="all")
    parser.add_argument("--rate", type=float, default=5000.0, help="connections per second (iotcop and nmap)")
    args = parser.parse_args()
    nmap = shutil.which("nmap")
    if nmap is None:
        print("nmap is not installed (the set-up command installs it)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp, personas.vulnerable(Path(tmp)) as persona:
        persona.tcp["tls"] = weak = svc_web.weak_tls(Path(tmp) / "tls", personas.VULNERABLE).__enter__()
        try:
            bed = tuple(sorted(persona.tcp.values()))
            ports = tuple(range(1, 65536)) if args.ports == "all" else bed
            options = DeviceOptions(tcp_ports=ports, udp_ports=tuple(sorted(persona.udp.values())),
                                    limits=NetLimits(concurrency=64, rate=args.rate, timeout=2.0))
            started = time.perf_counter()
            a = assess_device([personas.VULNERABLE], options=options, clock=lambda: dt.datetime.now(dt.UTC))
            ours = time.perf_counter() - started
            command = [nmap, "-sV", "-sT", "-Pn", "-n", "-p", ",".join(map(str, bed)), personas.VULNERABLE]
            started = time.perf_counter()
            subprocess.run(command, capture_output=True, check=True, stdin=subprocess.DEVNULL)
            theirs = time.perf_counter() - started
        finally:
            del weak
    failing = sorted({f.check_id for f in a.findings if f.severity.value != "info"})
    print(f"target: {personas.VULNERABLE}, {len(ports)} TCP ports scanned, {len(a.services)} services, "
          f"{len(a.connections)} connections in the audit log, {len(failing)} failing checks")
    print(f"iotcop full assessment: {ours:7.2f} s   (target: under {TARGET_SECONDS:.0f} s: "
          f"{'met' if ours < TARGET_SECONDS else 'MISSED'})")
    print(f"nmap -sV on the {len(bed)} open ports: {theirs:7.2f} s   (service detection only)")
    print(f"ratio nmap -sV / iotcop full assessment: {theirs / ours:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
