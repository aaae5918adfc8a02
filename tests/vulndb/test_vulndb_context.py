"""Context-aware matching: BusyBox applets, kernel configuration, NVD AND configurations and Debian records.
A match the context rules out is kept apart with its reason (never dropped); an unknown context keeps the match."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from iotcop.firmware.busybox import BusyBoxApplets, BusyBoxBinary
from iotcop.firmware.kernel import KernelConfig, KernelFacts
from iotcop.knowledge.vulncontext import vuln_context
from iotcop.model import Component
from iotcop.vulndb import VulnDB
from iotcop.vulndb.context import Context
from iotcop.vulndb.facts import Vulnerabilities, collect_vulnerabilities

FEEDS = Path(__file__).parent.parent / "fixtures" / "feeds"
NOW = datetime(2025, 5, 10, tzinfo=UTC)
FULL = frozenset({"ash", "sh", "awk", "udhcpc", "wget", "unlzma", "netstat", "ls"})
ROUTER = frozenset({"[", "[[", "ash", "cat", "ls", "sh", "telnetd", "udhcpd"})


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("vdb") / "v.sqlite"
    VulnDB.open(path).import_files([FEEDS / "nvd-iot-sample.json", FEEDS / "context-nvd-sample.json",
                                    FEEDS / "context-osv-debian.json"], now=NOW)
    return path


def comp(name: str, version: str, location: str = "/bin/busybox", **kw: str) -> Component:
    return Component(name=name, version=version, confidence="high", source=kw.pop("source", "version string"),
                     locations=(location,), **kw)


def run(db_path: Path, *components: Component, context: Context | None = None) -> Vulnerabilities:
    found = collect_vulnerabilities(components, NOW, db_path, context)
    assert found.unavailable is None
    return found


def split(found: Vulnerabilities) -> tuple[list[str], dict[str, str]]:
    return [m.vuln_id for m in found.matches], {m.vuln_id: m.not_affected or "" for m in found.not_affected}


def test_busybox_applets_decide(db_path: Path) -> None:
    old = comp("busybox", "1.24.1")
    # the table lists neither udhcpc nor wget nor awk nor unlzma: those CVEs do not apply, the ash ones do
    found = run(db_path, old, context=Context(busybox=BusyBoxApplets((BusyBoxBinary(
        "/bin/busybox", "1.24.1", ROUTER, 1000, ("/sbin/udhcpc",)),))))
    kept, ruled_out = split(found)
    assert kept == ["CVE-2022-28391"]  # ash is compiled in
    assert sorted(ruled_out) == ["CVE-2016-2148", "CVE-2018-1000517", "CVE-2021-42374"]
    assert ruled_out["CVE-2016-2148"].startswith(
        "applet udhcpc is not compiled into /bin/busybox (8 applets in its table)")
    assert "none of the applets unlzma, lzcat" in ruled_out["CVE-2021-42374"]
    ash, = found.matches
    assert ash.notes == ("applet ash is compiled into /bin/busybox (a DNS PTR value with terminal escapes reaches "
                         "the terminal through netstat output or the ash prompt)",)


def test_busybox_full_build_and_unknown_context(db_path: Path) -> None:
    full = Context(busybox=BusyBoxApplets((BusyBoxBinary("/bin/busybox", "1.24.1", FULL, 10),)))
    expected = ["CVE-2016-2148", "CVE-2018-1000517", "CVE-2021-42374", "CVE-2022-28391"]
    assert split(run(db_path, comp("busybox", "1.24.1"), context=full)) == (expected, {})
    assert split(run(db_path, comp("busybox", "1.24.1"))) == (expected, {})  # no facts: every match stays
    # a binary whose table could not be read: a link is evidence of an applet, its absence is not
    no_table = Context(busybox=BusyBoxApplets((BusyBoxBinary("/bin/busybox", "1.24.1", links=("/sbin/udhcpc",)),)))
    found = run(db_path, comp("busybox", "1.24.1"), context=no_table)
    assert split(found) == (expected, {})
    notes = {m.vuln_id: m.notes for m in found.matches}
    assert notes["CVE-2016-2148"] == ("/sbin/udhcpc links to /bin/busybox, whose applet table could not be read "
                                      "(heap overflow parsing OPTION_6RD in the DHCP client)",)
    assert notes["CVE-2018-1000517"][0].startswith("no applet table found in /bin/busybox and no link named wget")


def test_kernel_config_decides(db_path: Path) -> None:
    kernel = comp("linux", "4.9.0", "/boot/vmlinuz")
    without = KernelFacts(KernelConfig({"CONFIG_NET": "y", "CONFIG_PACKET_DIAG": "m"}, "/boot/config-4.9.0"))
    kept, ruled_out = split(run(db_path, kernel, context=Context(kernel=without)))
    assert (kept, sorted(ruled_out)) == ([], ["CVE-2017-7308", "CVE-2024-1086"])
    assert ruled_out["CVE-2017-7308"].startswith("CONFIG_PACKET is not set in the kernel configuration "
                                                 "(/boot/config-4.9.0)")
    with_packet = KernelFacts(KernelConfig({"CONFIG_PACKET": "m"}, "IKCFG in kernel@0x40"))
    found = run(db_path, kernel, context=Context(kernel=with_packet))
    assert split(found)[0] == ["CVE-2017-7308"] and list(split(found)[1]) == ["CVE-2024-1086"]
    assert found.matches[0].notes[0].startswith("CONFIG_PACKET=m in the kernel configuration (IKCFG in kernel@0x40)")
    assert split(run(db_path, kernel, context=Context(kernel=KernelFacts(None)))) == (
        ["CVE-2017-7308", "CVE-2024-1086"], {})
    # nf_tables: 6.1.70 is in [5.16, 6.1.76); 6.1.76 is fixed; a kernel without CONFIG_NF_TABLES is not affected
    nft = comp("linux", "6.1.70", "/boot/vmlinuz")
    assert split(run(db_path, nft))[0] == ["CVE-2024-1086"]
    assert list(split(run(db_path, nft, context=Context(kernel=without)))[1]) == ["CVE-2024-1086"]
    assert split(run(db_path, comp("linux", "6.1.76", "/boot/vmlinuz"))) == ([], {})


def test_and_configuration_with_hardware_is_kept_and_said(db_path: Path) -> None:
    fw = comp("gpon_router_firmware", "1.0", "/etc/version",
              cpe="cpe:2.3:o:dasannetworks:gpon_router_firmware:1.0:*:*:*:*:*:*:*")
    found = run(db_path, fw)
    gpon, = found.matches
    assert (gpon.vuln_id, gpon.kev) == ("CVE-2018-10561", True)
    assert gpon.notes == ("NVD lists it together with cpe:2.3:h:dasannetworks:gpon_router:-:*:*:*:*:*:*:*, which "
                          "a firmware image cannot show (hardware): assumed present",)


def test_and_configuration_with_software_platform(tmp_path: Path) -> None:
    # the shape of NVD's "application running on operating system" configurations (synthetic ids)
    agent_node = {"operator": "OR", "cpeMatch": [{"vulnerable": True, "versionEndExcluding": "2.0",
                                                  "criteria": "cpe:2.3:a:example:agent:*:*:*:*:*:*:*:*"}]}
    os_node = {"operator": "OR", "cpeMatch": [{"vulnerable": False, "versionEndExcluding": "5.0",
                                               "criteria": "cpe:2.3:o:linux:linux_kernel:*:*:*:*:*:*:*:*"}]}
    record = {"cve": {"id": "CVE-2099-0001", "published": "2025-04-01T00:00:00", "lastModified": "2025-04-20T00:00:00",
                      "descriptions": [{"lang": "en", "value": "test"}],
                      "configurations": [{"operator": "AND", "nodes": [agent_node, os_node]}]}}
    feed = tmp_path / "feed.json"
    feed.write_text(json.dumps({"format": "NVD_CVE", "vulnerabilities": [record]}))
    path = tmp_path / "v.sqlite"
    VulnDB.open(path).import_files([feed], now=NOW)
    agent = comp("agent", "1.5", "/usr/bin/agent", cpe="cpe:2.3:a:example:agent:1.5:*:*:*:*:*:*:*")
    assert split(run(path, agent)) == ([], {"CVE-2099-0001": "NVD lists it only together with cpe:2.3:o:linux:"
                                                             "linux_kernel:*:*:*:*:*:*:*:*, which is not among the "
                                                             "image's components"})
    assert split(run(path, agent, comp("linux", "6.1.0", "/boot/vmlinuz")))[0] == []  # kernel outside the range
    found = run(path, agent, comp("linux", "4.14.0", "/boot/vmlinuz"))
    assert [(m.vuln_id, m.notes) for m in found.matches] == [("CVE-2099-0001", (
        "NVD lists it together with cpe:2.3:o:linux:linux_kernel:*:*:*:*:*:*:*:*, found in the image "
        "(linux_kernel 4.14.0)",))]


def debian_openssl(version: str, purl_version: str | None = None) -> Component:
    return comp("openssl", version, "/var/lib/dpkg/status", source="dpkg status",
                purl=f"pkg:deb/debian/libssl1.0.0@{purl_version or version}?arch=armhf")


def test_debian_record_wins_over_upstream_range(db_path: Path) -> None:
    vulnerable = run(db_path, debian_openssl("1.0.1e", "1.0.1e-2+deb7u4"))
    heart, = vulnerable.matches
    assert heart.vuln_id == "CVE-2014-0160" and heart.source == "nvd"
    assert heart.notes == ("confirmed by DEBIAN-CVE-2014-0160 (Debian 7, package openssl): 1.0.1e-2+deb7u4 in range "
                           "introduced in 0, fixed 1.0.1e-2+deb7u5",)
    fixed = run(db_path, debian_openssl("1.0.1e", "1.0.1e-2+deb7u5"))
    assert split(fixed) == ([], {"CVE-2014-0160": "DEBIAN-CVE-2014-0160 (Debian 7, package openssl) says "
                                                  "1.0.1e-2+deb7u5 is not affected (fixed in 1.0.1e-2+deb7u5); the "
                                                  "distribution's record wins over the upstream range"})


def test_debian_release_from_os_release_and_unknown_release(db_path: Path) -> None:
    plain = debian_openssl("1.0.1e", "1.0.1e-2")
    note = run(db_path, plain).matches[0].notes
    assert note == ("the installed package is 1.0.1e-2 from Debian: the distribution may have backported the fix "
                    "(the database holds no distribution record for it)",)
    wheezy = comp("debian", "7", "/etc/os-release", source="os-release")
    assert run(db_path, plain, wheezy).matches[0].notes[0].startswith("confirmed by DEBIAN-CVE-2014-0160 (Debian 7")
    jessie = comp("debian", "8", "/etc/os-release", source="os-release")
    assert split(run(db_path, debian_openssl("1.0.1g", "1.0.1g-1"), jessie)) == ([], {})  # upstream-fixed anyway
    later = run(db_path, debian_openssl("1.0.1f", "1.0.1f-1"), jessie)
    assert [m.vuln_id for m in later.matches] == ["CVE-2014-0160"]  # Debian 8: 1.0.1f-1 < 1.0.1g-1


def test_opkg_revision_gets_the_backport_note(db_path: Path) -> None:
    bb = comp("busybox", "1.35.0", "/usr/lib/opkg/status", source="opkg status",
              purl="pkg:generic/openwrt/busybox@1.35.0-3")
    m, = run(db_path, bb).matches
    unread = "the flaw is in ash/sh/bash/netstat; no BusyBox binary was read to tell whether it is compiled in"
    assert m.notes == ("the installed package is 1.35.0-3 from openwrt: the distribution may have backported the "
                       "fix (the database holds no distribution record for it)", unread)
    plain = comp("busybox", "1.35.0")  # a version string in a binary is no distribution package: no such note
    assert run(db_path, plain).matches[0].notes == (unread,)


def test_context_table_is_sourced() -> None:
    table = vuln_context()
    assert all(r.source.startswith("https://nvd.nist.gov/vuln/detail/" + r.cve) for r in (*table.busybox, *table.linux))
    assert table.applets("CVE-2016-2148") is not None and table.kernel("CVE-2017-7308") is not None
    assert table.applets("CVE-2014-0160") is None
