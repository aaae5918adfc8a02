"""fw.components.known-vulnerability with context: matches the image's evidence rules out are INFO findings that
say why; the others keep their severity and carry their notes (applet compiled in, distribution backports)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from iotcop.checks.fw.components import known_vulnerability
from iotcop.checks.registry import spec_of
from iotcop.firmware.busybox import BusyBoxApplets, BusyBoxBinary
from iotcop.firmware.components import Components
from iotcop.model import Component, RunStatus, Severity
from iotcop.runner import run_checks
from iotcop.vulndb import VulnDB
from iotcop.vulndb.context import Context
from iotcop.vulndb.facts import collect_vulnerabilities

FEEDS = Path(__file__).resolve().parents[2] / "fixtures" / "feeds"
NOW = datetime(2025, 5, 10, tzinfo=UTC)
BUSYBOX = Component(name="busybox", version="1.24.1", confidence="high", source="version string",
                    locations=("/bin/busybox",), evidence="BusyBox v1.24.1 (2016-05-12 10:05:12 CST)")
OPENSSL = Component(name="openssl", version="1.0.1e", confidence="high", source="dpkg status",
                    locations=("/var/lib/dpkg/status",), evidence="Package: libssl1.0.0, Version: 1.0.1e-2+deb7u5",
                    purl="pkg:deb/debian/libssl1.0.0@1.0.1e-2%2Bdeb7u5?arch=armhf")


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("vdb") / "v.sqlite"
    VulnDB.open(path).import_files([FEEDS / "nvd-iot-sample.json", FEEDS / "context-nvd-sample.json",
                                    FEEDS / "context-osv-debian.json"], now=NOW)
    return path


def cve(message: str) -> str:
    found = re.search(r"CVE-\d{4}-\d+", message)
    assert found is not None, message
    return found.group()


def run(db_path: Path, applets: frozenset[str]) -> tuple[RunStatus, list[tuple[str, Severity, str]]]:
    context = Context(busybox=BusyBoxApplets((BusyBoxBinary("/bin/busybox", "1.24.1", applets, 4096),)))
    vulns = collect_vulnerabilities((BUSYBOX, OPENSSL), NOW, db_path, context)
    result = run_checks([spec_of(known_vulnerability)], {Components: Components((BUSYBOX, OPENSSL)),
                                                         type(vulns): vulns}, {})
    found = [(cve(f.message), f.severity,
              f.location.path if f.location else "") for f in result.findings]
    return result.runs[0].status, sorted(found)


def test_router_busybox_and_patched_debian_openssl(db_path: Path) -> None:
    status, found = run(db_path, frozenset({"ash", "sh", "ls", "cat", "telnetd", "udhcpd"}))
    assert status is RunStatus.COMPLETED
    assert found == [
        ("CVE-2014-0160", Severity.INFO, "/var/lib/dpkg/status"),  # DEBIAN-CVE-2014-0160: fixed in deb7u5
        ("CVE-2016-2148", Severity.INFO, "/bin/busybox"),  # udhcpc not compiled in
        ("CVE-2018-1000517", Severity.INFO, "/bin/busybox"),  # wget not compiled in
        ("CVE-2021-42374", Severity.INFO, "/bin/busybox"),  # no LZMA applet
        ("CVE-2022-28391", Severity.HIGH, "/bin/busybox"),  # ash is there
    ]


def test_full_busybox_keeps_every_match(db_path: Path) -> None:
    _, found = run(db_path, frozenset({"ash", "sh", "udhcpc", "wget", "unlzma"}))
    assert [(cve, sev) for cve, sev, _ in found] == [
        ("CVE-2014-0160", Severity.INFO), ("CVE-2016-2148", Severity.CRITICAL),
        ("CVE-2018-1000517", Severity.CRITICAL), ("CVE-2021-42374", Severity.MEDIUM),
        ("CVE-2022-28391", Severity.HIGH)]


def test_messages_say_why(db_path: Path) -> None:
    context = Context(busybox=BusyBoxApplets((BusyBoxBinary("/bin/busybox", "1.24.1", frozenset({"ash", "ls"}),
                                                            4096),)))
    vulns = collect_vulnerabilities((BUSYBOX,), NOW, db_path, context)
    result = run_checks([spec_of(known_vulnerability)], {Components: Components((BUSYBOX,)), type(vulns): vulns}, {})
    messages = {cve(f.message): f.message for f in result.findings}
    assert messages["CVE-2016-2148"] == (
        "busybox 1.24.1 matches CVE-2016-2148 by version (busybox 1.24.1 in (-inf, 1.25.0)) but is not affected: "
        "applet udhcpc is not compiled into /bin/busybox (2 applets in its table); the flaw is in udhcpc: heap "
        "overflow parsing OPTION_6RD in the DHCP client.")
    assert messages["CVE-2022-28391"].endswith(
        "Note: applet ash is compiled into /bin/busybox (a DNS PTR value with terminal escapes reaches the terminal "
        "through netstat output or the ash prompt).")
