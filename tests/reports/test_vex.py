"""CycloneDX VEX: valid against CycloneDX 1.6's schema, the triage decision of each vulnerability as its
analysis, and ``affects`` pointing at the SBOM's own component refs."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from iotcop.api import assess_firmware
from iotcop.catalogue import load_catalogue
from iotcop.model import Assessment, CatalogueRef, Component, Evidence, Finding, Location, Severity, Target, ToolInfo
from iotcop.reports.sbom import render_sbom
from iotcop.reports.vex import render_vex
from iotcop.triage import apply_triage, parse_triage

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FRESH = dt.datetime(2025, 6, 15, tzinfo=dt.UTC)
VULN = "fw.components.known-vulnerability"
TRIAGE = b"""schema: iotcop-triage/1
decisions:
  - vulnerability: CVE-2014-0160
    component: openssl
    status: not_affected
    vex_justification: code_not_reachable
    justification: Heartbeats are compiled out (OPENSSL_NO_HEARTBEATS).
    reviewer: A. Reviewer
    date: 2025-06-01
  - vulnerability: CVE-2022-28391
    status: accepted_risk
    response: [update]
    justification: Fixed in the next release; netstat is not reachable remotely.
    expires: 2025-12-01
"""


def validate(data: bytes) -> dict:  # type: ignore[type-arg]
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(data.decode())
    assert error is None, error
    return json.loads(data)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def vulnerable(tmp_path_factory: pytest.TempPathFactory) -> Assessment:
    sys.path.insert(0, str(FIXTURES))
    from golden import build

    from iotcop.vulndb import VulnDB

    work = tmp_path_factory.mktemp("vex-golden")
    db = work / "vulndb.sqlite"
    VulnDB.open(db).import_files(sorted((FIXTURES / "feeds").glob("nvd-*.json")))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IOTCOP_VULNDB", str(db))
        return assess_firmware(build("vulnerable", work / "v"), use_cache=False, clock=lambda: FRESH)


def by_id(doc: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    return {v["id"]: v for v in doc["vulnerabilities"]}


def test_untriaged_vulnerabilities_are_in_triage(vulnerable: Assessment) -> None:
    data = render_vex(vulnerable)
    assert data == render_vex(vulnerable)
    doc = validate(data)
    vulns = by_id(doc)
    assert set(vulns) == {"CVE-2014-0160", "CVE-2022-28391"}
    assert {v["analysis"]["state"] for v in vulns.values()} == {"in_triage"}
    heartbleed = vulns["CVE-2014-0160"]
    assert heartbleed["source"] == {"name": "NVD", "url": "https://nvd.nist.gov/vuln/detail/CVE-2014-0160"}
    assert heartbleed["ratings"] == [{"method": "CVSSv31", "score": 7.5, "severity": "high",
                                      "source": heartbleed["source"]}]
    # affects names the component exactly as the SBOM does
    sbom_refs = {c["name"]: c["bom-ref"] for c in json.loads(render_sbom(vulnerable))["components"]}
    assert heartbleed["affects"] == [{"ref": sbom_refs["openssl"], "versions": [{"version": "1.0.1f"}]}]
    assert vulns["CVE-2022-28391"]["affects"][0]["ref"] == sbom_refs["busybox"]


def test_triage_decisions_become_the_analysis(vulnerable: Assessment) -> None:
    triaged = apply_triage(vulnerable, parse_triage(TRIAGE, "iotcop.triage.yaml"), load_catalogue(),
                           today=dt.date(2025, 7, 1))
    vulns = by_id(validate(render_vex(triaged)))
    heartbleed = vulns["CVE-2014-0160"]
    assert heartbleed["analysis"] == {
        "state": "not_affected", "justification": "code_not_reachable",
        "detail": "Heartbeats are compiled out (OPENSSL_NO_HEARTBEATS).",
        "firstIssued": "2025-06-01T00:00:00+00:00", "lastUpdated": "2025-06-01T00:00:00+00:00"}
    props = {p["name"]: p["value"] for p in heartbleed["properties"]}
    assert props["iotcop:reviewer"] == "A. Reviewer" and props["iotcop:triage-source"] == "iotcop.triage.yaml:3"
    busybox = vulns["CVE-2022-28391"]["analysis"]
    assert (busybox["state"], busybox["response"]) == ("exploitable", ["update"])
    expired = apply_triage(vulnerable, parse_triage(TRIAGE, "iotcop.triage.yaml"), load_catalogue(),
                           today=dt.date(2026, 1, 1))
    busybox = by_id(validate(render_vex(expired)))["CVE-2022-28391"]["analysis"]
    assert busybox["state"] == "in_triage" and "expired on 2025-12-01" in busybox["detail"]


def made(*findings: Finding, components: tuple[Component, ...] = ()) -> Assessment:
    return Assessment(tool=ToolInfo(version="0"), target=Target(kind="firmware", name="fw.bin"),
                      generated_at="2025-06-15T00:00:00+00:00", inputs=(),
                      catalogues=(CatalogueRef(framework="x", title="x", version="1", sha256="0"),),
                      check_runs=(), findings=findings, verdicts=(), summary=(), components=components)


def test_no_vulnerability_and_odd_input_still_make_valid_documents() -> None:
    doc = validate(render_vex(made()))
    assert "vulnerabilities" not in doc or doc["vulnerabilities"] == []
    odd = Finding(check_id=VULN, severity=Severity.HIGH, title="t", remediation="r",
                  message="weird<&> 9.9 is affected by GHSA-xxxx-yyyy-zzzz (CVSS 9.9 99): ]]> \x07 ü",
                  location=Location.in_image("/x"), evidence=Evidence.of("x", "version matched against the OSV "
                                                                             "record in db"))
    other = Finding(check_id="fw.services.telnet-enabled", severity=Severity.HIGH, title="t", remediation="r",
                    message="telnet", location=Location.in_image("/etc/inittab"), evidence=Evidence.of("x", "t"))
    doc = validate(render_vex(made(odd, other)))
    [v] = doc["vulnerabilities"]  # only vulnerability findings
    assert v["id"] == "GHSA-xxxx-yyyy-zzzz" and v["affects"] == [{"ref": "firmware-image",
                                                                  "versions": [{"version": "9.9"}]}]
    assert "ratings" not in v and v["source"]["name"] == "OSV"
