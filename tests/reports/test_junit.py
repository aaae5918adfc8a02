"""JUnit XML: valid against the Jenkins/Surefire JUnit schema (tests/fixtures/schemas/junit-10.xsd, see its
README), read back by junitparser as a CI consumer would, escaped, deterministic (golden file). The
hand-made and real assessments are those of cases.py. Regenerate the golden file with
``UPDATE_GOLDEN=1 pytest tests/reports``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import cases as CASES  # tests/reports/cases.py, on the path through conftest.py
import pytest
import xmlschema
from hypothesis import given, settings
from hypothesis import strategies as st
from junitparser import Failure, JUnitXml, Skipped

from iotcop.catalogue import Catalogue, load_catalogue
from iotcop.model import Assessment, Basis, Outcome, Verdict
from iotcop.reports.junit import clean, render_junit

HOSTILE: str = CASES.HOSTILE
XSD = xmlschema.XMLSchema10(CASES.FIXTURES / "schemas" / "junit-10.xsd")


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def parse(data: bytes, tmp_path: Path) -> JUnitXml:
    XSD.validate(data.decode("utf-8"))
    path = tmp_path / "junit.xml"
    path.write_bytes(data)
    return JUnitXml.fromfile(str(path))


def named(catalogue: Catalogue, framework: str, requirement: str) -> tuple[str, str]:
    return framework, f"{requirement} {catalogue.framework(framework).requirement(requirement).title}"


def cases_of(xml: JUnitXml) -> dict[tuple[str, str], object]:
    return {(suite.name, case.name): case for suite in xml for case in suite}


def test_every_outcome_as_a_ci_system_reads_it(catalogue: Catalogue, tmp_path: Path) -> None:
    data = render_junit(CASES.edge_assessment(catalogue), catalogue)
    assert render_junit(CASES.edge_assessment(catalogue), catalogue) == data
    CASES.assert_golden("edge.junit.xml", data)
    xml = parse(data, tmp_path)
    assert [s.name for s in xml] == ["en303645", "cop2018", "psti"]
    cases = cases_of(xml)
    fail = cases[named(catalogue, "en303645", "5.1-1")]
    assert fail.classname == "en303645/5.1"  # type: ignore[attr-defined]
    [failure] = fail.result  # type: ignore[attr-defined]
    assert isinstance(failure, Failure)
    assert failure.message == clean(f"root has the default password | {HOSTILE}")  # markup survives as text
    assert "fw.credentials.default-password at /etc/shadow:3" in failure.text
    assert "net.legacy.telnet-answers at 192.0.2.1:23" in failure.text
    [skipped] = cases[named(catalogue, "en303645", "4-1")].result  # type: ignore[attr-defined]
    assert isinstance(skipped, Skipped) and skipped.message.startswith("INCONCLUSIVE:")
    [na] = cases[named(catalogue, "en303645", "5.1-2")].result  # type: ignore[attr-defined]
    assert isinstance(na, Skipped) and na.message.startswith("NOT_APPLICABLE:") and "<no passwords>" in na.message
    passed = cases[named(catalogue, "en303645", "5.1-3")]
    assert passed.is_passed  # type: ignore[attr-defined]
    unknown = cases[("en303645", "9.9-9")]  # a requirement this catalogue lacks is still reported
    assert unknown.classname == "en303645/9.9-9"  # type: ignore[attr-defined]
    en = next(s for s in xml if s.name == "en303645")
    assert (en.tests, en.failures, en.errors, en.skipped) == (6, 2, 0, 3)
    root = ET.fromstring(data)
    assert (root.get("tests"), root.get("failures")) == ("8", "4")


def test_characters_xml_cannot_carry_are_shown_not_dropped() -> None:
    assert clean("a\x01b\x1b[31m\ufffe") == "a\\x01b\\x1b[31m\\ufffe"
    assert clean("<tag> & ]]> ünï 😀\t\n") == "<tag> & ]]> ünï 😀\t\n"  # escaping markup is ElementTree's job


def test_an_empty_assessment(catalogue: Catalogue, tmp_path: Path) -> None:
    xml = parse(render_junit(CASES.empty_assessment(), catalogue), tmp_path)
    assert list(xml) == []


@settings(max_examples=30, deadline=None)
@given(st.text(max_size=80), st.sampled_from(list(Outcome)))
def test_any_reason_gives_valid_xml(reason: str, outcome: Outcome) -> None:
    catalogue = load_catalogue()
    verdict = Verdict(framework="en303645", requirement_id="5.1-1", outcome=outcome, basis=Basis.OBSERVED,
                      reason=reason, mandatory=True)
    assessment = CASES.empty_assessment().model_copy(update={"verdicts": (verdict,)})
    data = render_junit(assessment, catalogue)
    XSD.validate(data.decode("utf-8"))
    case = ET.fromstring(data).find("testsuite/testcase")
    assert case is not None
    if outcome is Outcome.FAIL:
        assert case.find("failure").get("message") == clean(reason)  # type: ignore[union-attr]


def test_real_assessments(report_cases: dict[str, Assessment], catalogue: Catalogue, tmp_path: Path) -> None:
    for name, assessment in report_cases.items():
        data = render_junit(assessment, catalogue)
        xml = parse(data, tmp_path)
        cases = cases_of(xml)
        assert len(cases) == len(assessment.verdicts), name
        for v in assessment.verdicts:
            case = cases[named(catalogue, v.framework, v.requirement_id)]
            kinds = {type(r).__name__ for r in case.result}  # type: ignore[attr-defined]
            expected = {Outcome.PASS: set(), Outcome.FAIL: {"Failure"}, Outcome.INCONCLUSIVE: {"Skipped"},
                        Outcome.NOT_APPLICABLE: {"Skipped"}}[v.outcome]
            assert kinds == expected, (name, v.requirement_id)
    vulnerable = cases_of(parse(render_junit(report_cases["vulnerable"], catalogue), tmp_path))
    [failure] = vulnerable[named(catalogue, "psti", "sch1-1")].result  # type: ignore[attr-defined]
    assert "fw.credentials.default-password at /etc/shadow" in failure.text
