"""End to end: a deliberately vulnerable router image and a hardened one, made of the same real parts
(tests/fixtures/golden.py), assessed as a user would. The exact kinds of failing findings, the kinds of
observations, and the verdicts of CoP guidelines 1, 4, 5, 6 and 13 are asserted."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from golden import build

from iotcop.api import assess_firmware
from iotcop.model import Assessment, Outcome, Severity

# the self-signed certificate of the vulnerable image is valid for one day from its build: a month later
# it has expired
LATER = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)

VULNERABLE_FAILING = {
    "fw.credentials.default-password", "fw.credentials.empty-password", "fw.credentials.extra-root-account",
    "fw.credentials.plaintext-password", "fw.credentials.static-password-hash", "fw.credentials.shared-hash",
    "fw.credentials.weak-hash",
    "fw.secrets.cloud-token", "fw.secrets.hardcoded-credential", "fw.secrets.binary-credential",
    "fw.keys.private-key", "fw.keys.shared-host-key", "fw.keys.weak-key", "fw.keys.self-signed-certificate",
    "fw.keys.expired-certificate",
    "fw.services.telnet-enabled", "fw.services.serial-console", "fw.services.ssh-password-login",
    "fw.services.http-admin-plaintext", "fw.services.mqtt-anonymous", "fw.services.mqtt-plaintext",
    "fw.permissions.setuid-binary", "fw.permissions.world-writable",
    "fw.input.command-injection",
    "fw.binaries.no-nx", "fw.binaries.no-pie", "fw.binaries.no-relro",
    "fw.components.end-of-life",  # OpenSSL 1.0.1, out of upstream support since 2016
} | ({"fw.permissions.unprivileged-owner"} if os.geteuid() == 0 else set())
# What the hardened image still shows, truthfully: Debian's own mipsel builds of dropbear, lighttpd and
# mosquitto mark their stacks executable (the MIPS toolchain default), and busybox-static is not PIE.
HARDENED_FAILING = {"fw.binaries.no-nx", "fw.binaries.no-pie"}
OBSERVATIONS = {"fw.services.ftp-enabled", "fw.services.tftp-enabled", "fw.services.listens-all-interfaces"}


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Assessment]:
    work = tmp_path_factory.mktemp("golden")
    return {kind: assess_firmware(build(kind, work / kind), use_cache=False, clock=lambda: LATER)
            for kind in ("vulnerable", "hardened")}


def kinds(assessment: Assessment, info: bool) -> set[str]:
    return {f.check_id for f in assessment.findings if (f.severity is Severity.INFO) is info}


def cop(assessment: Assessment) -> dict[str, Outcome]:
    return {g: assessment.verdict("cop2018", g).outcome for g in ("1", "4", "5", "6", "13")}


def test_the_vulnerable_image(images: dict[str, Assessment]) -> None:
    vulnerable = images["vulnerable"]
    assert kinds(vulnerable, info=False) == VULNERABLE_FAILING
    assert kinds(vulnerable, info=True) == OBSERVATIONS  # ftpd/tftpd applets present, not started
    assert cop(vulnerable) == dict.fromkeys(("1", "4", "5", "6", "13"), Outcome.FAIL)
    assert vulnerable.verdict("psti", "sch1-1").outcome is Outcome.FAIL
    where = {(f.check_id, f.location.path) for f in vulnerable.findings}
    assert {("fw.credentials.default-password", "/etc/shadow"), ("fw.credentials.default-password", "/etc/httpd.conf"),
            ("fw.input.command-injection", "/www/cgi-bin/diag.sh"), ("fw.input.command-injection",
            "/www/cgi-bin/ping.cgi"), ("fw.secrets.binary-credential", "/usr/sbin/diagd"),
            ("fw.keys.shared-host-key", "/etc/dropbear/dropbear_rsa_host_key")} <= where


def test_the_hardened_image(images: dict[str, Assessment]) -> None:
    """Nothing fails but the upstream binaries' mitigations; what a firmware image cannot establish stays
    INCONCLUSIVE, never PASS."""
    hardened = images["hardened"]
    assert kinds(hardened, info=False) == HARDENED_FAILING
    h = hardened.hardening
    # NX: the CGI and busybox-static; not PIE: busybox-static
    assert h is not None and (h.binaries, h.executables, h.unparsed, h.nx, h.pie) == (5, 5, 0, 2, 4)
    no_nx = next(f for f in hardened.findings if f.check_id == "fw.binaries.no-nx")
    assert "/www/cgi-bin/ping.cgi" not in no_nx.message and "/usr/sbin/dropbear" in no_nx.message
    assert kinds(hardened, info=True) == OBSERVATIONS | {"fw.services.telnet-enabled",
                                                          "fw.services.http-admin-plaintext"}  # applets only
    assert cop(hardened) == dict.fromkeys(("1", "4", "5", "6", "13"), Outcome.INCONCLUSIVE)
    passes = {v.requirement_id for v in hardened.verdicts if v.framework == "en303645" and v.outcome is Outcome.PASS}
    assert passes == {"5.1-1", "5.4-3", "5.4-4"}  # the provisions an image can establish on its own
    assert "found nothing against it" in hardened.verdict("en303645", "5.13-1").reason


def test_known_vulnerabilities_with_a_database(tmp_path_factory: pytest.TempPathFactory,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """With a database built from the fixture feeds (dated two weeks after their newest record), the
    vulnerable image's OpenSSL 1.0.1f is Heartbleed, critical because it is known exploited."""
    from iotcop.vulndb import VulnDB

    work = tmp_path_factory.mktemp("golden-vulndb")
    db = work / "vulndb.sqlite"
    VulnDB.open(db).import_files(sorted((Path(__file__).parents[1] / "fixtures" / "feeds").glob("nvd-*.json")))
    monkeypatch.setenv("IOTCOP_VULNDB", str(db))
    fresh = dt.datetime(2025, 6, 15, tzinfo=dt.UTC)
    vulnerable = assess_firmware(build("vulnerable", work / "v"), use_cache=False, clock=lambda: fresh)
    assert ("openssl", "1.0.1f") in {(c.name, c.version) for c in vulnerable.components}
    found = {f.message.split(" (")[0]: f for f in vulnerable.findings_of("fw.components.known-vulnerability")}
    heartbleed = found["openssl 1.0.1f is affected by CVE-2014-0160"]
    assert heartbleed.severity is Severity.CRITICAL and "known exploited" in heartbleed.message
    assert heartbleed.location.path == "/usr/lib/libcrypto.so.1.0.0"
    assert "OpenSSL 1.0.1f 6 Jan 2014" in heartbleed.evidence.excerpt
    assert vulnerable.verdict("en303645", "5.3-8").outcome is Outcome.FAIL
