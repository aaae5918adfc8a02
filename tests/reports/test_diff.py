"""The version diff: the vulnerable and the hardened golden router images assessed for real (both ways round),
and hand-made assessments for matching across versions, triage and escaping in every format."""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from iotcop.api import assess_firmware
from iotcop.catalogue import Catalogue, load_catalogue
from iotcop.evaluation import evaluate, summarise
from iotcop.model import (
    Assessment,
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
)
from iotcop.reports.diff import (
    AssessmentDiff,
    diff_assessments,
    diff_table,
    regressed,
    regressions,
    render_diff_html,
    render_diff_json,
)
from iotcop.triage import apply_triage, parse_triage

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FRESH = dt.datetime(2025, 6, 15, tzinfo=dt.UTC)  # two weeks after the fixture feeds' newest record
VULN = "fw.components.known-vulnerability"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Assessment]]:
    sys.path.insert(0, str(FIXTURES))
    from golden import build

    from iotcop.vulndb import VulnDB

    work = tmp_path_factory.mktemp("diff-golden")
    db = work / "vulndb.sqlite"
    VulnDB.open(db).import_files(sorted((FIXTURES / "feeds").glob("nvd-*.json")))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IOTCOP_VULNDB", str(db))
        yield {kind: assess_firmware(build(kind, work / kind), use_cache=False, clock=lambda: FRESH)
               for kind in ("vulnerable", "hardened")}


def test_vulnerable_to_hardened_fixes_much_and_regresses_nothing(golden: dict[str, Assessment]) -> None:
    d = diff_assessments(golden["vulnerable"], golden["hardened"])
    fixed = {(f.check_id, f.location.path) for f in d.findings_fixed}
    assert {("fw.credentials.default-password", "/etc/shadow"), (VULN, "/usr/lib/libcrypto.so.1.0.0"),
            ("fw.input.command-injection", "/www/cgi-bin/diag.sh"), ("fw.components.end-of-life",
            "/usr/lib/libcrypto.so.1.0.0")} <= fixed
    unchanged = {f.check_id for f in d.findings_unchanged}
    # the same BusyBox CVE, and the no-NX / no-PIE findings whose lists of binaries changed
    assert {VULN, "fw.binaries.no-nx", "fw.binaries.no-pie"} <= unchanged
    assert [(v.component, v.id, v.severity) for v in d.vulnerabilities_fixed] == [
        ("openssl", "CVE-2014-0160", Severity.CRITICAL)]
    assert d.vulnerabilities_new == ()
    assert [(c.name, c.old, c.new) for c in d.component_changes] == [("openssl", ("1.0.1f",), ())]
    changes = {(c.framework, c.requirement_id): (c.old, c.new) for c in d.verdict_changes}
    assert changes[("en303645", "5.1-1")] == (Outcome.FAIL, Outcome.PASS)
    assert changes[("cop2018", "1")] == (Outcome.FAIL, Outcome.INCONCLUSIVE)
    assert not any(new is Outcome.FAIL for _, new in changes.values())
    assert {f.severity for f in d.findings_new} == {Severity.INFO}  # applets present, new listeners: observations
    assert regressions(d) == [] and not regressed(d)


def test_hardened_to_vulnerable_regresses(golden: dict[str, Assessment]) -> None:
    d = diff_assessments(golden["hardened"], golden["vulnerable"])
    found = regressions(d)
    assert "en303645:5.1-1 went from PASS to FAIL: " + golden["vulnerable"].verdict("en303645", "5.1-1").reason \
        in found
    assert any(r.startswith("new critical finding fw.credentials.default-password at /etc/shadow:1") for r in found)
    assert any(r.startswith("new low finding fw.binaries.no-relro") for r in found)
    critical = regressions(d, Severity.CRITICAL)
    assert not any(r.startswith("new low") or r.startswith("new high") for r in critical)
    assert any(r.startswith("new critical") for r in critical) and regressed(d, Severity.CRITICAL)
    assert [v.id for v in d.vulnerabilities_new] == ["CVE-2014-0160"]


def test_an_assessment_against_itself_changes_nothing(golden: dict[str, Assessment]) -> None:
    a = golden["vulnerable"]
    d = diff_assessments(a, a)
    assert (d.findings_fixed, d.findings_new, d.verdict_changes, d.component_changes) == ((), (), (), ())
    assert len(d.findings_unchanged) == len(a.findings) and not regressed(d)


# --- hand-made ------------------------------------------------------------------------------------------


def finding(check_id: str, path: str, message: str, severity: Severity = Severity.HIGH) -> Finding:
    return Finding(check_id=check_id, severity=severity, title="t", message=message, location=Location.in_image(path),
                   evidence=Evidence.of("x", "test"), remediation="r")


def made(catalogue: Catalogue, *findings: Finding, components: tuple[Component, ...] = (),
         version: str = "1") -> Assessment:
    cited = sorted({c for _, r in catalogue.all_requirements() for c in (*r.evidenced_by, *r.refuted_by)})
    runs = tuple(CheckRun(check_id=c, status=RunStatus.COMPLETED) for c in cited)
    verdicts = evaluate(catalogue, runs, findings, None)
    return Assessment(tool=ToolInfo(version="0"), target=Target(kind="firmware", name=f"fw-{version}.bin",
                                                                version=version),
                      generated_at="2025-06-15T00:00:00+00:00", inputs=(), catalogues=catalogue.refs(),
                      check_runs=runs, findings=findings, verdicts=verdicts, summary=summarise(catalogue, verdicts),
                      components=components)


def openssl(version: str) -> Component:
    return Component(name="openssl", version=version, confidence="high", source="opkg status")


def cve(version: str, vuln: str, path: str = "/usr/lib/libcrypto.so.1.0.0") -> Finding:
    return finding(VULN, path, f"openssl {version} is affected by {vuln} (CVSS 3.1 7.5): openssl {version} in "
                               f"[1.0.1, 1.0.2).")


def test_a_version_bump_keeps_a_vulnerability_unchanged_and_fixes_another(catalogue: Catalogue) -> None:
    old = made(catalogue, cve("1.0.1f", "CVE-2014-0160"), cve("1.0.1f", "CVE-2022-0778"),
               components=(openssl("1.0.1f"),))
    new = made(catalogue, cve("1.0.1g", "CVE-2022-0778", "/usr/lib/libcrypto.so.1.0.1"),
               components=(openssl("1.0.1g"),), version="2")
    d = diff_assessments(old, new)
    assert [vulnerability_pair(f) for f in d.findings_unchanged] == [("openssl", "CVE-2022-0778")]
    assert [vulnerability_pair(f) for f in d.findings_fixed] == [("openssl", "CVE-2014-0160")]
    assert [v.id for v in d.vulnerabilities_fixed] == ["CVE-2014-0160"] and d.vulnerabilities_new == ()
    assert [(c.name, c.old, c.new) for c in d.component_changes] == [("openssl", ("1.0.1f",), ("1.0.1g",))]
    assert not regressed(d)


def vulnerability_pair(f: Finding) -> tuple[str, str]:
    from iotcop.triage import vulnerability_of

    pair = vulnerability_of(f)
    assert pair is not None
    return pair


def test_findings_match_as_a_multiset(catalogue: Catalogue) -> None:
    twice = finding("fw.services.telnet-enabled", "/etc/inittab", "telnetd is started at boot.")
    d = diff_assessments(made(catalogue, twice, twice), made(catalogue, twice))
    assert (len(d.findings_unchanged), len(d.findings_fixed), len(d.findings_new)) == (1, 1, 0)


def test_triage_decides_what_gates(catalogue: Catalogue) -> None:
    """A new finding accepted as a risk or set aside does not regress; an expired decision does; a FAIL
    whose every finding is an accepted risk does not gate either."""
    new_pw = finding("fw.credentials.default-password", "/etc/shadow", "Account 'root' has the password 'admin'.",
                     Severity.CRITICAL)
    old, new = made(catalogue), made(catalogue, new_pw, version="2")
    assert len(regressions(diff_assessments(old, new))) > 1

    def triaged(status: str, expires: str = "2030-01-01") -> AssessmentDiff:
        text = (f"schema: iotcop-triage/1\ndecisions:\n  - check: fw.credentials.default-password\n"
                f"    status: {status}\n    justification: reviewed\n    expires: {expires}\n")
        if status == "not_affected":
            text += "    vex_justification: requires_configuration\n"
        t = parse_triage(text.encode(), "t.yaml")
        return diff_assessments(old, apply_triage(new, t, catalogue, today=dt.date(2025, 7, 1)))

    assert regressions(triaged("accepted_risk")) == []
    assert regressions(triaged("false_positive")) == []
    assert regressions(triaged("not_affected")) == []
    assert len(regressions(triaged("accepted_risk", expires="2025-01-01"))) > 1


MEAN = "<script>alert(1)</script> | ]]> [/] [bold]x\x07 ünïcode"


def test_every_format_escapes_and_the_json_is_deterministic(catalogue: Catalogue) -> None:
    d = diff_assessments(made(catalogue), made(catalogue, finding("fw.credentials.default-password", MEAN, MEAN),
                                                version=MEAN))
    data = render_diff_json(d)
    assert data == render_diff_json(d)
    doc = json.loads(data)
    assert doc["findings_new"][0]["message"] == MEAN and doc["fail_on"] == "low" and doc["regressions"]
    html = render_diff_html(d, catalogue).decode()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("<table>") >= 2 and "Regressed" in html
    console = Console(width=400, record=True, file=io.StringIO())
    console.print(diff_table(d, catalogue))
    text = console.export_text()
    assert "[/] [bold]x" in text and "<script>alert(1)</script>" in text and "REGRESSED" in text


def test_an_empty_diff_renders(catalogue: Catalogue) -> None:
    d = diff_assessments(made(catalogue), made(catalogue))
    assert json.loads(render_diff_json(d))["regressions"] == []
    assert "No regression" in render_diff_html(d, catalogue).decode()
