"""A device at a "LAN" address (10.231.7.2, in a network namespace behind a veth pair): found, judged, scoped.

Real services inside the namespace (svc_login's telnet with admin:admin, mosquitto with anonymous access),
``assess_device`` run from the host side. Every run's audit log is checked: the single address reaches only
it, the /30 only addresses in it, and a scope file that excludes the device contacts nothing.
"""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from netns import DEVICE, HOST_SIDE, LAN, LanDevice, lan_device, lan_namespace, link_exists, namespaces

from iotcop.api import assess_device
from iotcop.device.net import NetLimits
from iotcop.device.options import DeviceOptions
from iotcop.model import Assessment


def options(device: LanDevice, *, use_nmap: bool = True) -> DeviceOptions:
    return DeviceOptions(tcp_ports=(device.telnet, device.mqtt), udp_ports=(), bruteforce_attempts=3,
                         input_probes=False, limits=NetLimits(concurrency=8, rate=100.0, timeout=2.0),
                         use_nmap=use_nmap)


def findings(a: Assessment) -> set[tuple[str, str]]:
    return {(f.check_id, f.location.path) for f in a.findings}


def expected(device: LanDevice) -> set[tuple[str, str]]:
    telnet, mqtt = f"{DEVICE}:{device.telnet}", f"{DEVICE}:{device.mqtt}"
    return {("net.credentials.default-login", telnet), ("net.telnet.open", telnet),
            ("net.auth.brute-force-unprotected", telnet),  # 3 failures, no slow-down: this server has none
            ("net.mqtt.anonymous", mqtt), ("net.credentials.no-authentication", mqtt), ("net.mqtt.plaintext", mqtt)}


# first: the module's device (below) holds the LAN addresses until the module ends
def test_the_namespace_goes_even_when_the_test_fails() -> None:
    with pytest.raises(RuntimeError, match="a failing test"), lan_namespace() as ns:
        sleeper = ns.start([sys.executable, "-c", "import sys; sys.stdin.read()"])
        assert ns.name in namespaces()
        assert link_exists(ns.veth)
        raise RuntimeError("a failing test")
    assert ns.name not in namespaces()
    assert not link_exists(ns.veth)
    assert sleeper.poll() is not None
    addresses = subprocess.run(["ip", "-o", "addr", "show", "to", LAN], capture_output=True, text=True).stdout
    assert addresses.strip() == ""


@pytest.fixture(scope="module")
def lan(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LanDevice]:
    with lan_device(tmp_path_factory.mktemp("lan")) as device:
        yield device


@pytest.fixture(scope="module")
def single(lan: LanDevice) -> Assessment:
    return assess_device([DEVICE], options=options(lan))


def services(a: Assessment) -> set[tuple[str, int, str]]:
    return {(s.host, s.port, s.name) for s in a.services}


def test_the_lan_device_is_found_and_judged(lan: LanDevice, single: Assessment) -> None:
    found = findings(single)
    assert found == expected(lan), (sorted(expected(lan) - found), sorted(found - expected(lan)))
    login = next(f for f in single.findings if f.check_id == "net.credentials.default-login")
    assert "admin" in login.message
    assert services(single) == {(DEVICE, lan.telnet, "telnet"), (DEVICE, lan.mqtt, "mqtt")}
    assert single.connections
    assert {c.host for c in single.connections} == {DEVICE}


@pytest.mark.parametrize("use_nmap", [True, False], ids=["nmap", "asyncio-scan"])
def test_the_lan_range_reaches_only_addresses_in_it(lan: LanDevice, single: Assessment, use_nmap: bool) -> None:
    ranged = assess_device([LAN], options=options(lan, use_nmap=use_nmap))
    inside = ipaddress.ip_network(LAN)
    assert ranged.connections
    assert all(ipaddress.ip_address(c.host) in inside for c in ranged.connections), \
        sorted({c.host for c in ranged.connections})
    assert {c.host for c in ranged.connections} <= {HOST_SIDE, DEVICE}  # a /30's two hosts, nothing else
    assert services(ranged) == services(single)  # the host side (this machine) listens on neither port
    assert findings(ranged) == expected(lan)


def test_a_scope_that_excludes_the_device_contacts_nothing(lan: LanDevice, tmp_path: Path) -> None:
    scope = tmp_path / "scope.txt"
    scope.write_text(f"# the device itself is off limits\n!{DEVICE}\n")
    a = assess_device([DEVICE], scope_file=scope, options=options(lan))
    assert a.services == ()
    assert a.connections == ()
    assert not any(f.location.path.startswith(DEVICE) for f in a.findings)
