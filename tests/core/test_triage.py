"""Triage: the file format (every problem with its line), which decision applies to which finding, expiry,
decisions that match nothing, stable fingerprints across versions, and the verdicts evaluated again."""

from __future__ import annotations

import contextlib
import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iotcop.catalogue import Catalogue, load_catalogue
from iotcop.errors import UsageError
from iotcop.evaluation import evaluate, summarise
from iotcop.model import (
    Assessment,
    CatalogueRef,
    CheckRun,
    Evidence,
    EvidenceKind,
    Finding,
    Location,
    Outcome,
    RunStatus,
    Severity,
    Target,
    ToolInfo,
    TriageStatus,
)
from iotcop.reports.json import load_assessment, render_json
from iotcop.triage import TriageError, apply_triage, parse_triage, vulnerability_of

TODAY = dt.date(2025, 7, 1)
HEADER = "schema: iotcop-triage/1\ndecisions:\n"
VULN = "fw.components.known-vulnerability"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def finding(check_id: str, path: str, message: str, severity: Severity = Severity.HIGH) -> Finding:
    return Finding(check_id=check_id, severity=severity, title="t", message=message, location=Location.in_image(path),
                   evidence=Evidence.of("x", "test"), remediation="r")


DEFAULT_PW = finding("fw.credentials.default-password", "/etc/shadow", "Account 'root' has the password 'admin'.",
                     Severity.CRITICAL)
HEARTBLEED = finding(VULN, "/usr/lib/libcrypto.so.1.0.0",
                     "openssl 1.0.1f is affected by CVE-2014-0160 (CVSS 3.1 7.5): openssl 1.0.1f in [1.0.1, 1.0.1g).")


def assessment(catalogue: Catalogue, *findings: Finding, declared: bool = False) -> Assessment:
    """Every check the catalogue cites completed, with these findings."""
    cited = sorted({c for _, r in catalogue.all_requirements() for c in (*r.evidenced_by, *r.refuted_by)})
    runs = tuple(CheckRun(check_id=c, status=RunStatus.COMPLETED) for c in cited)
    verdicts = evaluate(catalogue, runs, findings, None)
    inputs = (EvidenceKind.FIRMWARE, EvidenceKind.DECLARATION) if declared else (EvidenceKind.FIRMWARE,)
    return Assessment(tool=ToolInfo(version="0"), target=Target(kind="firmware", name="fw.bin"),
                      generated_at="2025-06-15T00:00:00+00:00", inputs=inputs, catalogues=catalogue.refs(),
                      check_runs=runs, findings=findings, verdicts=verdicts, summary=summarise(catalogue, verdicts))


def triage(body: str, source: str = "iotcop.triage.yaml") -> object:
    return parse_triage((HEADER + body).encode(), source)


def apply(a: Assessment, body: str, catalogue: Catalogue, today: dt.date = TODAY) -> Assessment:
    return apply_triage(a, parse_triage((HEADER + body).encode(), "iotcop.triage.yaml"), catalogue, today=today)


def test_without_triage_evaluation_gives_the_stored_verdicts(catalogue: Catalogue) -> None:
    a = assessment(catalogue, DEFAULT_PW, HEARTBLEED)
    assert a.verdict("en303645", "5.1-1").outcome is Outcome.FAIL
    again = apply(a, "", catalogue)  # a file with no decisions
    assert again.verdicts == a.verdicts and all(f.suppression is None for f in again.findings)


def test_a_false_positive_no_longer_fails_the_requirement_but_stays_visible(catalogue: Catalogue) -> None:
    a = assessment(catalogue, DEFAULT_PW, HEARTBLEED)
    body = (f"  - fingerprint: {DEFAULT_PW.fingerprint}\n    status: false_positive\n"
            "    justification: the hash is of a random per-device password\n    reviewer: Ann\n")
    t = apply(a, body, catalogue)
    assert len(t.findings) == 2  # never deleted
    [pw] = t.findings_of("fw.credentials.default-password")
    assert pw.suppression is not None and pw.suppression.status is TriageStatus.FALSE_POSITIVE
    assert (pw.suppression.source, pw.suppression.reviewer) == ("iotcop.triage.yaml:3", "Ann")
    v = t.verdict("en303645", "5.1-1")
    assert v.outcome is Outcome.PASS and v.suppressed == (DEFAULT_PW.fingerprint,)
    assert "1 finding was set aside in triage" in v.reason
    assert DEFAULT_PW.fingerprint in t.verdict("psti", "sch1-1").suppressed  # rolled up
    assert t.verdict("en303645", "5.3-8").outcome is Outcome.FAIL  # Heartbleed untouched
    assert t.triage is not None and (t.triage.decisions, t.triage.applied, t.triage.unmatched) == (1, 1, ())
    assert t.schema_version == "1.2"


def test_not_affected_clears_and_accepted_risk_still_fails(catalogue: Catalogue) -> None:
    a = assessment(catalogue, DEFAULT_PW, HEARTBLEED)
    t = apply(a, "  - vulnerability: CVE-2014-0160\n    component: OpenSSL\n    status: not_affected\n"
                 "    vex_justification: code_not_reachable\n    justification: built without heartbeats\n", catalogue)
    assert t.verdict("en303645", "5.3-8").outcome is not Outcome.FAIL
    t = apply(a, "  - check: fw.credentials.default-password\n    location: /etc/*\n    status: accepted_risk\n"
                 "    justification: factory test build\n", catalogue)
    v = t.verdict("en303645", "5.1-1")
    assert v.outcome is Outcome.FAIL and v.findings == (DEFAULT_PW.fingerprint,) and v.suppressed == ()
    assert v.reason.endswith("; risk accepted in triage for 1 of 1")
    [pw] = t.findings_of("fw.credentials.default-password")
    assert pw.suppression is not None and pw.suppression.response == ("will_not_fix",)


def test_a_location_glob_that_does_not_match_selects_nothing(catalogue: Catalogue) -> None:
    a = assessment(catalogue, DEFAULT_PW)
    t = apply(a, "  - check: fw.credentials.default-password\n    location: /etc/passwd\n"
                 "    status: false_positive\n    justification: x\n", catalogue)
    assert t.findings[0].suppression is None and t.verdict("en303645", "5.1-1").outcome is Outcome.FAIL
    assert t.triage is not None and t.triage.unmatched == (
        "iotcop.triage.yaml:3: fw.credentials.default-password at /etc/passwd matches no finding",)


def test_expired_decisions_no_longer_apply_and_are_reported(catalogue: Catalogue) -> None:
    a = assessment(catalogue, DEFAULT_PW)
    body = (f"  - fingerprint: {DEFAULT_PW.stable_fingerprint}\n    status: false_positive\n    justification: x\n"
            "    date: 2024-01-01\n    expires: 2025-07-01\n")
    still = apply(a, body, catalogue, today=dt.date(2025, 6, 30))
    assert still.verdict("en303645", "5.1-1").outcome is Outcome.PASS
    gone = apply(a, body, catalogue, today=TODAY)  # the expiry day is the first day it no longer applies
    [pw] = gone.findings
    assert pw.suppression is not None and pw.suppression.expired
    assert gone.verdict("en303645", "5.1-1").outcome is Outcome.FAIL
    assert gone.triage is not None and gone.triage.applied == 0
    assert gone.triage.expired == (f"iotcop.triage.yaml:3: fingerprint {DEFAULT_PW.stable_fingerprint} "
                                   "expired on 2025-07-01",)
    # an active, less specific decision applies in its place
    both = apply(a, body + "  - check: fw.credentials.default-password\n    status: accepted_risk\n"
                           "    justification: y\n", catalogue)
    assert both.findings[0].suppression is not None
    assert both.findings[0].suppression.status is TriageStatus.ACCEPTED_RISK
    assert not both.findings[0].suppression.expired


def test_the_most_specific_decision_wins(catalogue: Catalogue) -> None:
    a = assessment(catalogue, DEFAULT_PW)
    t = apply(a, "  - check: fw.credentials.default-password\n    status: accepted_risk\n    justification: a\n"
                 f"  - fingerprint: {DEFAULT_PW.fingerprint}\n    status: false_positive\n    justification: b\n",
              catalogue)
    assert t.findings[0].suppression is not None and t.findings[0].suppression.justification == "b"


def test_the_stable_fingerprint_carries_a_decision_to_the_next_version(catalogue: Catalogue) -> None:
    newer = finding(VULN, "/usr/lib/libcrypto.so.1.0.2",
                    "openssl 1.0.2k is affected by CVE-2014-0160 (CVSS 3.1 7.5, known exploited (CISA KEV since "
                    "2022-05-04)): openssl 1.0.2k in [1.0.1, 1.0.2l).")
    assert newer.stable_fingerprint == HEARTBLEED.stable_fingerprint
    assert newer.fingerprint != HEARTBLEED.fingerprint
    assert vulnerability_of(newer) == ("openssl", "CVE-2014-0160")
    other = finding(VULN, "/usr/lib/libcrypto.so.1.0.0", "openssl 1.0.1f is affected by CVE-2022-0778 (CVSS 3.1 7.5).")
    assert other.stable_fingerprint != HEARTBLEED.stable_fingerprint
    moved = finding("fw.credentials.default-password", "/etc/shadow", "Account 'admin' has the password 'admin'.")
    assert moved.stable_fingerprint != DEFAULT_PW.stable_fingerprint  # another account is another finding
    body = (f"  - fingerprint: {HEARTBLEED.stable_fingerprint}\n    status: not_affected\n"
            "    vex_justification: code_not_present\n    justification: heartbeat code removed\n")
    t = apply(assessment(catalogue, newer), body, catalogue)
    assert t.findings[0].suppression is not None and t.triage is not None and t.triage.unmatched == ()
    # the exact fingerprint of 1.0/1.1 assessments still selects its finding
    t = apply(assessment(catalogue, HEARTBLEED), body.replace(HEARTBLEED.stable_fingerprint,
                                                              HEARTBLEED.fingerprint), catalogue)
    assert t.findings[0].suppression is not None


def test_a_schema_1_1_assessment_loads_and_gets_stable_fingerprints(catalogue: Catalogue) -> None:
    data = json.loads(render_json(assessment(catalogue, HEARTBLEED)))
    data["schema_version"] = "1.1"
    for f in data["findings"]:
        for field in ("key", "stable_fingerprint", "suppression"):
            del f[field]
    for v in data["verdicts"]:
        del v["suppressed"]
    del data["triage"]
    old = load_assessment(json.dumps(data).encode())
    assert old.schema_version == "1.1" and old.findings[0].stable_fingerprint == HEARTBLEED.stable_fingerprint
    assert apply(old, "", catalogue).schema_version == "1.2"


def test_an_assessment_with_a_declaration_needs_it_again(catalogue: Catalogue) -> None:
    with pytest.raises(UsageError, match="--declaration"):
        apply(assessment(catalogue, DEFAULT_PW, declared=True), "", catalogue)


@pytest.mark.parametrize(("body", "line", "expected"), [
    ("  - check: fw.a.b\n    status: maybe\n    justification: x\n", 4, "decisions.0.status: Input should be"),
    ("  - check: fw.a.b\n    status: false_positive\n", 3, "decisions.0.justification: Field required"),
    ("  - check: fw.a.b\n    status: false_positive\n    justification: '  '\n", 5, "a justification is required"),
    ("  - check: fw.a.b\n    status: not_affected\n    justification: x\n", 3, "'vex_justification' is required"),
    ("  - check: fw.a.b\n    vulnerability: CVE-2014-0160\n    status: false_positive\n    justification: x\n",
     3, "exactly one of"),
    ("  - component: openssl\n    status: false_positive\n    justification: x\n", 3, "exactly one of"),
    ("  - check: fw.a.b\n    status: false_positive\n    justification: x\n    expires: 2030-02-30\n", 6,
     "decisions.0.expires"),
    ("  - check: fw.a.b\n    status: false_positive\n    justification: x\n    colour: red\n", 6, "unknown field"),
    ("  - fingerprint: xyz\n    status: false_positive\n    justification: x\n", 3, "decisions.0.fingerprint"),
    ("  - fingerprint: 1234567890123456\n    status: false_positive\n    justification: x\n", 3,
     "write the fingerprint in quotes"),
    ("  - check: fw.a.b\n    status: false_positive\n   justification: x\n", 5, "not valid YAML"),
    ("  - &a {check: fw.a.b, status: false_positive, justification: x}\n  - *a\n", 3, "anchors and aliases"),
])
def test_malformed_files_are_reported_with_their_line(body: str, line: int, expected: str) -> None:
    with pytest.raises(TriageError) as info:
        triage(body, "t.yaml")
    assert any(p.line == line and expected in str(p) for p in info.value.problems), str(info.value)
    assert str(info.value).startswith("t.yaml: invalid triage file")


def test_a_wrong_schema_and_an_empty_file_are_refused() -> None:
    with pytest.raises(TriageError, match="line 1: schema"):
        parse_triage(b"schema: iotcop-triage/9\n", "t.yaml")
    with pytest.raises(TriageError, match="empty"):
        parse_triage(b"", "t.yaml")


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.binary(max_size=300),
                 st.text(alphabet=" -:\n\tabcdefgsu{}[]'\"&*!#0123456789_.", max_size=200).map(
                     lambda t: (HEADER + t).encode())))
def test_any_bytes_give_a_triage_or_a_triage_error(raw: bytes) -> None:
    with contextlib.suppress(TriageError):
        parse_triage(raw, "fuzz.yaml")


def test_catalogue_refs_are_kept_in_step(catalogue: Catalogue) -> None:
    a = assessment(catalogue, DEFAULT_PW).model_copy(update={
        "catalogues": (CatalogueRef(framework="x", title="x", version="0", sha256="0"),)})
    t = apply(a, "", catalogue)
    assert t.catalogues == catalogue.refs() and any("catalogue that differs" in n for n in t.notes)
