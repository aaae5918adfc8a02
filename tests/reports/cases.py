"""The assessments the report tests share: a hand-made one with every outcome and hostile text everywhere,
an empty one, and real assessments of the bundled example and the vulnerable golden router (built once per
session by ``conftest.report_cases``). Golden files live in tests/reports/golden (``UPDATE_GOLDEN=1``)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

from fwimages import require_tool
from golden import build

from iotcop.api import assess_firmware
from iotcop.catalogue import Catalogue
from iotcop.checks.registry import REGISTRY
from iotcop.declaration import load_declaration
from iotcop.evaluation import summarise
from iotcop.model import (
    Assessment,
    Basis,
    CatalogueRef,
    CheckRun,
    Component,
    Evidence,
    Finding,
    Location,
    Outcome,
    RunStatus,
    Severity,
    Target,
    ToolInfo,
    Verdict,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
AT = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)
HOSTILE = "<script>alert('x')</script> a|b ]]> &amp; \"q\" \x01\x1b[31m *b* [l](http://x.invalid/p) @admin ünï 😀"


# --- hand-made assessments ---------------------------------------------------------------------------------
def hand_finding(check_id: str, message: str, location: Location, severity: Severity | None = None) -> Finding:
    extra = {"severity": severity} if severity else {}
    return REGISTRY.get(check_id).finding(message=message, location=location,
                                          evidence=Evidence.of(f"excerpt {HOSTILE}", "hand-made"), **extra)


def edge_assessment(catalogue: Catalogue) -> Assessment:
    """Every outcome, every kind of run, hostile text everywhere, a check and a requirement this version
    does not know."""
    shadow = hand_finding("fw.credentials.default-password", f"root has the default password 'admin' {HOSTILE}",
                      Location.in_image("/etc/shadow", line=3))
    cgi = hand_finding("fw.input.command-injection", "QUERY_STRING reaches system() in ä#1.cgi",
                   Location.in_image("/www/cgi bin/ä#1.cgi", line=7, offset=0x40))
    ftp = hand_finding("fw.services.ftp-enabled", "ftpd applet present, not started", Location.in_image("/bin/busybox"),
                   Severity.INFO)
    cve = hand_finding("fw.components.known-vulnerability", "openssl 1.0.1f is affected by CVE-2014-0160 (CVSS 3.1 "
                   "7.5, known exploited): version in range.", Location.in_image("/usr/lib/libssl.so.1.0.0"),
                   Severity.CRITICAL)
    telnet = Finding(check_id="net.legacy.telnet-answers", severity=Severity.HIGH, title="Telnet answers | <b>",
                     message=f"192.0.2.1:23 answers with a login prompt {HOSTILE}",
                     location=Location(kind="network", path="192.0.2.1:23"),
                     evidence=Evidence.of("login:", "banner"), remediation="Turn telnetd off.")
    decl = hand_finding("decl.consistency.contradiction", "the declaration says no telnet",
                    Location.in_declaration("ics.5.6-1", line=12), Severity.MEDIUM)
    findings = tuple(sorted((shadow, cgi, ftp, cve, telnet, decl), key=Finding.sort_key))
    runs = (CheckRun(check_id="decl.consistency.contradiction", status=RunStatus.COMPLETED, finding_count=1),
            CheckRun(check_id="fw.binaries.no-nx", status=RunStatus.ERROR, reason="ValueError: <boom> & ]]>"),
            CheckRun(check_id="fw.components.known-vulnerability", status=RunStatus.COMPLETED, finding_count=1),
            CheckRun(check_id="fw.credentials.default-password", status=RunStatus.COMPLETED, finding_count=1),
            CheckRun(check_id="fw.credentials.empty-password", status=RunStatus.NOT_APPLICABLE, reason="no shadow"),
            CheckRun(check_id="fw.input.command-injection", status=RunStatus.COMPLETED, finding_count=1),
            CheckRun(check_id="fw.keys.private-key", status=RunStatus.INCONCLUSIVE, reason=HOSTILE),
            CheckRun(check_id="fw.services.ftp-enabled", status=RunStatus.COMPLETED, finding_count=1),
            CheckRun(check_id="net.legacy.telnet-answers", status=RunStatus.COMPLETED, finding_count=1),
            CheckRun(check_id="net.tls.weak-cipher", status=RunStatus.NOT_RUN, reason="needs a live device"))
    failing = (shadow.fingerprint, telnet.fingerprint)
    verdicts = (
        Verdict(framework="en303645", requirement_id="4-1", outcome=Outcome.INCONCLUSIVE, basis=Basis.NONE,
                reason="needs the manufacturer's declaration", mandatory=True),
        Verdict(framework="en303645", requirement_id="5.1-1", outcome=Outcome.FAIL, basis=Basis.OBSERVED,
                reason=f"root has the default password | {HOSTILE}", mandatory=True, findings=failing),
        Verdict(framework="en303645", requirement_id="5.1-2", outcome=Outcome.NOT_APPLICABLE, basis=Basis.DECLARED,
                reason="declared not applicable: <no passwords>", mandatory=False),
        Verdict(framework="en303645", requirement_id="5.1-3", outcome=Outcome.PASS, basis=Basis.OBSERVED,
                reason="checked and clean: fw.credentials.weak-hash", mandatory=True),
        Verdict(framework="en303645", requirement_id="5.2-2", outcome=Outcome.FAIL, basis=Basis.DECLARED,
                reason="declared not supported", mandatory=False),
        Verdict(framework="en303645", requirement_id="9.9-9", outcome=Outcome.INCONCLUSIVE, basis=Basis.NONE,
                reason="a requirement this catalogue does not have", mandatory=True),
        Verdict(framework="cop2018", requirement_id="1", outcome=Outcome.FAIL, basis=Basis.DERIVED,
                reason="fails en303645:5.1-1", mandatory=False, findings=failing, derived_from=("en303645:5.1-1",)),
        Verdict(framework="psti", requirement_id="sch1-1", outcome=Outcome.FAIL, basis=Basis.DERIVED,
                reason="fails en303645:5.1-1", mandatory=True, findings=failing, derived_from=("en303645:5.1-1",)),
    )
    openssl = Component(name="openssl", version="1.0.1f", confidence="high", source="opkg status",
                        locations=("/usr/lib/libssl.so.1.0.0",))
    return Assessment(tool=ToolInfo(version="0.1.0"),
                      target=Target(kind="firmware", name="router <v2> | fw.bin", sha256="ab" * 32, size=4096,
                                    product="Router *X*", version="2.0"),
                      generated_at="2026-01-15T12:00:00+00:00", inputs=("firmware", "network", "declaration"),
                      catalogues=REFS, components=(openssl,), check_runs=runs, findings=findings,
                      verdicts=verdicts, summary=summarise(catalogue, verdicts))


# fixed, so that the golden files do not change with every edit of the catalogue data
REFS = tuple(CatalogueRef(framework=f, title=f, version="1", sha256="0" * 64) for f in ("en303645", "cop2018", "psti"))


def empty_assessment() -> Assessment:
    return Assessment(tool=ToolInfo(version="0.1.0"), target=Target(kind="firmware", name="empty.bin"),
                      generated_at="2026-01-15T12:00:00+00:00", inputs=(),
                      catalogues=(CatalogueRef(framework="x", title="x", version="1", sha256="0"),),
                      check_runs=(), findings=(), verdicts=(), summary=())


def assert_golden(name: str, data: bytes) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_bytes(data)
    assert path.exists(), f"no golden file {path}: run with UPDATE_GOLDEN=1 once"
    assert data == path.read_bytes(), f"{name} changed: review the diff, then UPDATE_GOLDEN=1"


# --- real assessments ---------------------------------------------------------------------------------------
def example_image(work: Path) -> Path:
    """The bundled example, made as scripts/build-example.sh makes it (reproducible mksquashfs)."""
    require_tool("mksquashfs")
    image = work / "smart-camera.sqfs"
    subprocess.run(["mksquashfs", str(ROOT / "examples/smart-camera/rootfs"), str(image), "-comp", "gzip",
                    "-all-root", "-noappend", "-mkfs-time", "0", "-all-time", "0", "-no-progress", "-quiet"],
                   check=True, capture_output=True)
    return image


def real_assessments(work: Path) -> dict[str, Assessment]:
    """The bundled example (with its declaration) and the vulnerable golden router, assessed for real."""
    declaration = load_declaration(ROOT / "examples/smart-camera/declaration.yaml")
    return {"example": assess_firmware(example_image(work), declaration, use_cache=False, clock=lambda: AT),
            "vulnerable": assess_firmware(build("vulnerable", work / "vulnerable"), use_cache=False,
                                          clock=lambda: AT)}
