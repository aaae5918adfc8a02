"""A "LAN" device for the test bed: a network namespace behind a veth pair, with real services inside.

The host side is 10.231.7.1/30 and the device (the namespace side) 10.231.7.2/30: addresses that exist only in
this machine's namespaces, so a test reaches a non-loopback address without any packet leaving the machine.
Needs root, iproute2 and a kernel that lets ``ip netns add`` work; ``require_netns`` skips with the reason
otherwise. ``lan_namespace`` makes the pair (uniquely named) and always removes it, and kills what it started
in it, on exit, even when the test fails; ``lan_device`` starts a Python telnet service with ``admin:admin``
(tests/devices/svc_login.py's server, run by the venv's Python inside the namespace) and mosquitto with
anonymous access in it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HOST_SIDE = "10.231.7.1"
DEVICE = "10.231.7.2"
LAN = "10.231.7.0/30"
PREFIX = "iotcop-lan-"  # every namespace this module makes starts so (``ip netns list`` shows leftovers)
HERE = Path(__file__).resolve().parent

TELNET_SCRIPT = """\
import sys
sys.path.insert(0, {here!r})
from svc_login import python_telnet
with python_telnet(sys.argv[1], {{"admin": "admin"}}) as (host, port):
    print(port, flush=True)
    sys.stdin.read()  # serve until the test closes our stdin (or kills us)
"""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=check)


def require_netns() -> None:
    """Skip (with the reason) unless a namespace pair can be made here and the LAN addresses are unused."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    if shutil.which("ip") is None:
        pytest.skip("iproute2's ip is not installed")
    probe = f"{PREFIX}probe-{secrets.token_hex(3)}"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        pytest.skip(f"'ip netns add' does not work here: {made.stderr.strip()[:200]}")
    _ip("netns", "del", probe, check=False)
    taken = _ip("-o", "addr", "show", "to", LAN, check=False).stdout.strip()
    if taken:
        pytest.skip(f"{LAN} is already assigned on this host: {taken[:200]}")


@dataclass
class Namespace:
    name: str
    veth: str  # the host side's interface
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def start(self, argv: list[str], *, stdout: int = subprocess.DEVNULL) -> subprocess.Popen[str]:
        """``argv`` run inside the namespace (killed by its pid when the namespace goes)."""
        proc = subprocess.Popen(["ip", "netns", "exec", self.name, *argv], stdin=subprocess.PIPE, stdout=stdout,
                                stderr=subprocess.DEVNULL, text=True)
        self.processes.append(proc)
        return proc

    def listening(self, port: int) -> bool:
        """Whether a TCP listener on DEVICE:port exists inside the namespace (asked of the kernel, no traffic)."""
        out = _ip("netns", "exec", self.name, "ss", "-ltnH", f"sport = :{port}", check=False).stdout
        return f"{DEVICE}:{port}" in out


def _stop(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(OSError, ValueError):
        if proc.stdin:
            proc.stdin.close()
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def namespaces() -> list[str]:
    """The names of the namespaces this module made that still exist."""
    return [line.split()[0] for line in _ip("netns", "list", check=False).stdout.splitlines()
            if line.startswith(PREFIX)]


def link_exists(name: str) -> bool:
    return _ip("link", "show", name, check=False).returncode == 0


@contextlib.contextmanager
def lan_namespace() -> Iterator[Namespace]:
    """A fresh namespace holding DEVICE/30, linked by a veth pair to HOST_SIDE/30 here; removed on exit."""
    require_netns()
    token = secrets.token_hex(3)
    ns = Namespace(f"{PREFIX}{os.getpid()}-{token}", f"ic7h{token}")
    inner = f"ic7d{token}"
    try:
        _ip("netns", "add", ns.name)
        _ip("link", "add", ns.veth, "type", "veth", "peer", "name", inner)
        _ip("link", "set", inner, "netns", ns.name)
        _ip("addr", "add", f"{HOST_SIDE}/30", "dev", ns.veth)
        _ip("link", "set", ns.veth, "up")
        _ip("-n", ns.name, "addr", "add", f"{DEVICE}/30", "dev", inner)
        _ip("-n", ns.name, "link", "set", inner, "up")
        _ip("-n", ns.name, "link", "set", "lo", "up")
        yield ns
    finally:
        for proc in ns.processes:
            _stop(proc)
        _ip("netns", "del", ns.name, check=False)  # takes the inner veth, and with it its peer, along
        if link_exists(ns.veth):
            _ip("link", "del", ns.veth, check=False)


@dataclass(frozen=True)
class LanDevice:
    ns: Namespace
    telnet: int  # port of the telnet service (admin:admin)
    mqtt: int  # port of mosquitto (anonymous)


def _port(preferred: int) -> int:
    """``preferred`` unless this host listens on it (a /30 scan also reaches HOST_SIDE), else a free one."""
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", preferred))
            return preferred
        except OSError:
            s.bind(("0.0.0.0", 0))
            return int(s.getsockname()[1])


def _wait(ns: Namespace, proc: subprocess.Popen[str], port: int, what: str) -> None:
    deadline = time.monotonic() + 10
    while not ns.listening(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start in {ns.name} (exit {proc.poll()})")
        time.sleep(0.05)


@contextlib.contextmanager
def lan_device(tmp: Path) -> Iterator[LanDevice]:
    """The namespace with a telnet service (``admin:admin``) and an anonymous mosquitto at DEVICE."""
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed")
    with lan_namespace() as ns:
        script = tmp / "lan_telnet.py"
        script.write_text(TELNET_SCRIPT.format(here=str(HERE)))
        telnet = ns.start([sys.executable, str(script), DEVICE], stdout=subprocess.PIPE)
        assert telnet.stdout is not None
        line = telnet.stdout.readline().strip()
        if not line.isdigit():
            raise RuntimeError(f"the telnet service did not start in {ns.name} (exit {telnet.poll()})")
        telnet_port = int(line)
        _wait(ns, telnet, telnet_port, "the telnet service")
        mqtt_port = _port(1883)
        conf = tmp / "lan_mosquitto.conf"
        conf.write_text(f"listener {mqtt_port} {DEVICE}\npersistence false\nuser root\nlog_dest none\n"
                        "allow_anonymous true\n")
        broker = ns.start(["mosquitto", "-c", str(conf)])
        _wait(ns, broker, mqtt_port, "mosquitto")
        yield LanDevice(ns, telnet_port, mqtt_port)
