"""``iotcop assess documents`` end to end against the loopback vendor site."""

from __future__ import annotations

import json
from pathlib import Path

from clitools import invoke
from test_disclosure import POLICY_HTML, security_txt
from vendorsite import Page, VendorSite

from iotcop.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE


def test_a_good_site_passes_and_writes_the_assessment(vendor_site: VendorSite, tmp_path: Path) -> None:
    vendor_site.serve({"/.well-known/security.txt": Page(security_txt(vendor_site, expires="2099-01-01T00:00:00Z")),
                       "/security/policy.html": Page(POLICY_HTML, "text/html")})
    result = invoke("assess", "documents", "--site", vendor_site.https_url, "--ca-bundle",
                    str(vendor_site.ca_file), "-o", str(tmp_path), "-q")
    assert result.exit_code == EXIT_OK, result.output
    data = json.loads((tmp_path / "assessment.json").read_text())
    verdict = next(v for v in data["verdicts"] if v["framework"] == "en303645" and v["requirement_id"] == "5.2-1")
    assert verdict["outcome"] == "PASS"
    assert data["inputs"] == ["document"] and data["target"]["kind"] == "product"


def test_a_site_without_security_txt_fails_with_exit_1(vendor_site: VendorSite, tmp_path: Path) -> None:
    vendor_site.serve({})
    result = invoke("assess", "documents", "--site", vendor_site.https_url, "--ca-bundle",
                    str(vendor_site.ca_file), "-o", str(tmp_path))
    assert result.exit_code == EXIT_FAILED
    assert "5.2-1" in result.output


def test_no_source_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke("assess", "documents", "-o", str(tmp_path))
    assert result.exit_code == EXIT_USAGE
    assert "--site" in result.output
    result = invoke("assess", "documents", "--security-txt", str(tmp_path / "none.txt"), "-o", str(tmp_path))
    assert result.exit_code == EXIT_USAGE and "no such file" in result.output


def test_an_offline_security_txt_file_is_judged_on_content(tmp_path: Path) -> None:
    sec = tmp_path / "security.txt"
    sec.write_text("Contact: mailto:psirt@acme.example\nExpires: 2020-01-01T00:00:00Z\n")
    result = invoke("assess", "documents", "--security-txt", str(sec), "-o", str(tmp_path / "out"), "-f", "json")
    data = json.loads(result.stdout)
    assert {f["check_id"] for f in data["findings"]} >= {"doc.securitytxt.expired", "doc.disclosure.no-policy"}
    run = next(r for r in data["check_runs"] if r["check_id"] == "doc.securitytxt.not-https")
    assert run["status"] == "inconclusive" and "given as a file" in run["reason"]
