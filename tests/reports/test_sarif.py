"""SARIF 2.1.0: valid against the official schema (tests/fixtures/schemas, see its README), in the subset
GitHub code scanning accepts, deterministic (golden file), and faithful to real assessments of the golden
router image and the bundled example. Regenerate the golden files with ``UPDATE_GOLDEN=1 pytest tests/reports``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
if str(FIXTURES) not in sys.path:
    sys.path.insert(0, str(FIXTURES))

from fwimages import require_tool  # noqa: E402
from golden import build  # noqa: E402

from iotcop.api import assess_firmware  # noqa: E402
from iotcop.catalogue import Catalogue, load_catalogue  # noqa: E402
from iotcop.checks.registry import REGISTRY  # noqa: E402
from iotcop.declaration import load_declaration  # noqa: E402
from iotcop.evaluation import summarise  # noqa: E402
from iotcop.model import (  # noqa: E402
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
from iotcop.reports.sarif import FINGERPRINT_KEY, render_sarif  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
AT = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)
HOSTILE = "<script>alert('x')</script> a|b ]]> &amp; \"q\" \x01\x1b[31m *b* [l](http://x.invalid/p) @admin ünï 😀"
SCHEMA = json.loads((FIXTURES / "schemas" / "sarif-schema-2.1.0.json").read_text())
VALIDATOR = jsonschema.validators.validator_for(SCHEMA)(SCHEMA, format_checker=jsonschema.FormatChecker())


# --- hand-made assessments (the same builder is in test_junit.py and test_markdown.py) ----------------------
def _finding(check_id: str, message: str, location: Location, severity: Severity | None = None) -> Finding:
    extra = {"severity": severity} if severity else {}
    return REGISTRY.get(check_id).finding(message=message, location=location,
                                          evidence=Evidence.of(f"excerpt {HOSTILE}", "hand-made"), **extra)


def edge_assessment(catalogue: Catalogue) -> Assessment:
    """Every outcome, every kind of run, hostile text everywhere, a check and a requirement this version
    does not know."""
    shadow = _finding("fw.credentials.default-password", f"root has the default password 'admin' {HOSTILE}",
                      Location.in_image("/etc/shadow", line=3))
    cgi = _finding("fw.input.command-injection", "QUERY_STRING reaches system() in ä#1.cgi",
                   Location.in_image("/www/cgi bin/ä#1.cgi", line=7, offset=0x40))
    ftp = _finding("fw.services.ftp-enabled", "ftpd applet present, not started", Location.in_image("/bin/busybox"),
                   Severity.INFO)
    cve = _finding("fw.components.known-vulnerability", "openssl 1.0.1f is affected by CVE-2014-0160 (CVSS 3.1 "
                   "7.5, known exploited): version in range.", Location.in_image("/usr/lib/libssl.so.1.0.0"),
                   Severity.CRITICAL)
    telnet = Finding(check_id="net.legacy.telnet-answers", severity=Severity.HIGH, title="Telnet answers | <b>",
                     message=f"192.0.2.1:23 answers with a login prompt {HOSTILE}",
                     location=Location(kind="network", path="192.0.2.1:23"),
                     evidence=Evidence.of("login:", "banner"), remediation="Turn telnetd off.")
    decl = _finding("decl.consistency.contradiction", "the declaration says no telnet",
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


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Assessment]:
    return real_assessments(tmp_path_factory.mktemp("sarif-real"))


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def validate(data: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(data.decode("utf-8"))
    errors = sorted(VALIDATOR.iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
    # GitHub code scanning's own rules on top of the schema
    [run] = doc["runs"]
    rules = run["tool"]["driver"]["rules"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        [location] = result["locations"]
        assert location["physicalLocation"]["artifactLocation"]["uri"]  # else GitHub rejects the whole log
        assert result["partialFingerprints"][FINGERPRINT_KEY]
    for rule in rules:
        assert 0.0 <= float(rule["properties"]["security-severity"]) <= 10.0
        assert rule["shortDescription"]["text"] and rule["help"]["text"] and rule["help"]["markdown"]
    return doc


def test_the_edge_cases_give_a_valid_deterministic_log(catalogue: Catalogue) -> None:
    data = render_sarif(edge_assessment(catalogue), catalogue)
    validate(data)
    assert render_sarif(edge_assessment(catalogue), catalogue) == data
    assert_golden("edge.sarif", data)


def test_results_rules_and_locations(catalogue: Catalogue) -> None:
    assessment = edge_assessment(catalogue)
    doc = validate(render_sarif(assessment, catalogue))
    [run] = doc["runs"]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert list(rules) == sorted({r.check_id for r in assessment.check_runs})
    default = rules["fw.credentials.default-password"]
    spec = REGISTRY.get("fw.credentials.default-password")
    assert default["shortDescription"]["text"] == spec.title and default["fullDescription"]["text"] == spec.rationale
    assert default["help"]["text"] == spec.remediation
    assert spec.severity is Severity.CRITICAL and default["properties"]["security-severity"] == "9.5"
    assert default["defaultConfiguration"]["level"] == "error"
    assert "en303645:5.1-1" in default["properties"]["tags"] and "security" in default["properties"]["tags"]
    # a check this version does not know still gets a rule, from its finding
    assert rules["net.legacy.telnet-answers"]["shortDescription"]["text"] == "Telnet answers | <b>"
    by_rule = {r["ruleId"]: r for r in run["results"]}
    shadow = by_rule["fw.credentials.default-password"]
    assert shadow["level"] == "error" and shadow["message"]["text"].endswith(HOSTILE)  # JSON carries it exactly
    assert shadow["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "etc/shadow", "uriBaseId": "IMAGEROOT"}, "region": {"startLine": 3}}
    cgi = by_rule["fw.input.command-injection"]["locations"][0]["physicalLocation"]
    assert cgi["artifactLocation"]["uri"] == "www/cgi%20bin/%C3%A4%231.cgi"
    assert cgi["region"] == {"startLine": 7, "byteOffset": 0x40}
    assert by_rule["fw.services.ftp-enabled"]["level"] == "note"
    assert by_rule["fw.components.known-vulnerability"]["properties"]["security-severity"] == "9.5"
    telnet = by_rule["net.legacy.telnet-answers"]["locations"][0]
    assert telnet["logicalLocations"] == [{"fullyQualifiedName": "192.0.2.1:23", "kind": "network"}]
    assert telnet["physicalLocation"]["artifactLocation"]["uri"] == "router%20%3Cv2%3E%20%7C%20fw.bin"
    decl = by_rule["decl.consistency.contradiction"]["locations"][0]
    assert decl["logicalLocations"][0]["fullyQualifiedName"] == "ics.5.6-1" and "region" not in decl
    fingerprints = {f.check_id: f.stable_fingerprint for f in assessment.findings}
    assert {r["ruleId"]: r["partialFingerprints"][FINGERPRINT_KEY] for r in run["results"]} == fingerprints


def test_checks_that_could_not_assess_are_notifications_and_verdicts_are_properties(catalogue: Catalogue) -> None:
    doc = validate(render_sarif(edge_assessment(catalogue), catalogue))
    [run] = doc["runs"]
    [invocation] = run["invocations"]
    assert invocation["executionSuccessful"] is False  # a check broke: said, not hidden
    notes = {n["associatedRule"]["id"]: n for n in invocation["toolExecutionNotifications"]}
    assert set(notes) == {"fw.keys.private-key", "fw.binaries.no-nx"}  # not the NOT_RUN/NOT_APPLICABLE ones
    assert notes["fw.keys.private-key"]["level"] == "warning" and HOSTILE in notes["fw.keys.private-key"]["message"][
        "text"]
    assert notes["fw.binaries.no-nx"]["level"] == "error"
    props = run["properties"]
    verdicts = {v["requirement"]: v for v in props["verdicts"]}
    assert verdicts["en303645:5.1-1"]["outcome"] == "FAIL" and verdicts["psti:sch1-1"]["mandatory"] is True
    assert {v["outcome"] for v in verdicts.values()} == {o.value for o in Outcome}
    assert props["mandatoryFailed"] is True and props["checkRuns"]["error"] == 1


def test_an_empty_assessment_is_a_valid_empty_log(catalogue: Catalogue) -> None:
    doc = validate(render_sarif(empty_assessment(), catalogue))
    [run] = doc["runs"]
    assert run["results"] == [] and run["tool"]["driver"]["rules"] == []
    assert run["invocations"][0]["executionSuccessful"] is True


def test_a_triaged_finding_is_suppressed_not_dropped(catalogue: Catalogue) -> None:
    import iotcop.model

    suppression = getattr(iotcop.model, "Suppression", None)
    if suppression is None:
        pytest.skip("this model has no triage yet")
    decision = suppression(status="false_positive", justification="a test key, <never> used", expires="2027-01-01",
                           source="iotcop.triage.yaml:3")
    found = _finding("fw.keys.private-key", "a private key", Location.in_image("/etc/test.key"))
    expired = _finding("fw.keys.private-key", "another private key", Location.in_image("/etc/old.key"))
    assessment = empty_assessment().model_copy(update={"findings": (
        found.model_copy(update={"suppression": decision}),
        expired.model_copy(update={"suppression": decision.model_copy(update={"expired": True})}))})
    doc = validate(render_sarif(assessment, catalogue))
    active, old = doc["runs"][0]["results"]
    assert active["suppressions"] == [{"kind": "external", "status": "accepted",
                                       "justification": "false_positive: a test key, <never> used",
                                       "properties": {"triageStatus": "false_positive",
                                                      "source": "iotcop.triage.yaml:3", "expired": False,
                                                      "expires": "2027-01-01"}}]
    assert old["suppressions"][0]["status"] == "rejected"


@settings(max_examples=30, deadline=None)
@given(st.text(min_size=1, max_size=60), st.text(max_size=60), st.one_of(st.none(), st.integers(1, 10**6)))
def test_any_message_and_path_give_a_valid_log(message: str, path: str, line: int | None) -> None:
    catalogue = load_catalogue()
    found = _finding("fw.keys.private-key", message, Location.in_image("/" + path, line=line))
    assessment = empty_assessment().model_copy(update={"findings": (found,)})
    doc = validate(render_sarif(assessment, catalogue))
    assert doc["runs"][0]["results"][0]["message"]["text"] == message


def test_real_assessments(real: dict[str, Assessment], catalogue: Catalogue) -> None:
    for name, assessment in real.items():
        data = render_sarif(assessment, catalogue)
        doc = validate(data)
        assert render_sarif(assessment, catalogue) == data, name
        [run] = doc["runs"]
        assert len(run["results"]) == len(assessment.findings), name
        assert {r["id"] for r in run["tool"]["driver"]["rules"]} >= {r.check_id for r in assessment.check_runs}
        inconclusive = {r.check_id for r in assessment.check_runs
                        if r.status in (RunStatus.INCONCLUSIVE, RunStatus.ERROR)}
        notified = {n["associatedRule"]["id"] for n in run["invocations"][0]["toolExecutionNotifications"]}
        assert notified == inconclusive, name
        assert len(run["properties"]["verdicts"]) == len(assessment.verdicts)
    where = {(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
             for r in json.loads(render_sarif(real["vulnerable"], catalogue))["runs"][0]["results"]}
    assert {("fw.credentials.default-password", "etc/shadow"), ("fw.input.command-injection", "www/cgi-bin/diag.sh"),
            ("fw.keys.shared-host-key", "etc/dropbear/dropbear_rsa_host_key")} <= where
    example = json.loads(render_sarif(real["example"], catalogue))["runs"][0]
    assert example["properties"]["target"]["product"] == "Example Camera"
