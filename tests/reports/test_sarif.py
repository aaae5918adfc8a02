"""SARIF 2.1.0: valid against the official schema (tests/fixtures/schemas, see its README), in the subset
GitHub code scanning accepts, deterministic (golden file), and faithful to real assessments of the golden
router image and the bundled example. Regenerate the golden files with ``UPDATE_GOLDEN=1 pytest tests/reports``.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from cases import FIXTURES, HOSTILE, assert_golden, edge_assessment, empty_assessment, hand_finding
from hypothesis import given, settings
from hypothesis import strategies as st

from iotcop.catalogue import Catalogue, load_catalogue
from iotcop.checks.registry import REGISTRY
from iotcop.model import (
    Assessment,
    Location,
    Outcome,
    RunStatus,
    Severity,
)
from iotcop.reports.sarif import FINGERPRINT_KEY, render_sarif

SCHEMA = json.loads((FIXTURES / "schemas" / "sarif-schema-2.1.0.json").read_text())
VALIDATOR = jsonschema.validators.validator_for(SCHEMA)(SCHEMA, format_checker=jsonschema.FormatChecker())


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
    found = hand_finding("fw.keys.private-key", "a private key", Location.in_image("/etc/test.key"))
    expired = hand_finding("fw.keys.private-key", "another private key", Location.in_image("/etc/old.key"))
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
    found = hand_finding("fw.keys.private-key", message, Location.in_image("/" + path, line=line))
    assessment = empty_assessment().model_copy(update={"findings": (found,)})
    doc = validate(render_sarif(assessment, catalogue))
    assert doc["runs"][0]["results"][0]["message"]["text"] == message


def test_real_assessments(report_cases: dict[str, Assessment], catalogue: Catalogue) -> None:
    for name, assessment in report_cases.items():
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
             for r in json.loads(render_sarif(report_cases["vulnerable"], catalogue))["runs"][0]["results"]}
    assert {("fw.credentials.default-password", "etc/shadow"), ("fw.input.command-injection", "www/cgi-bin/diag.sh"),
            ("fw.keys.shared-host-key", "etc/dropbear/dropbear_rsa_host_key")} <= where
    example = json.loads(render_sarif(report_cases["example"], catalogue))["runs"][0]
    assert example["properties"]["target"]["product"] == "Example Camera"
