"""Privacy-information checks (EN 303 645 6-1, 6-2, 6-3, 6-5) on real HTML pages from the loopback HTTPS site
and real PDFs, through ``assess_documents``."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from privacydocs import (
    LOOKALIKE,
    PRIVACY_CHECKS,
    PRIVACY_COMPLETE,
    PRIVACY_INCOMPLETE,
    assess,
    flagged,
    html,
    outcome,
    pdf,
    status,
)
from vendorsite import Page, VendorSite

from iotcop.checks.registry import spec_of
from iotcop.documents.facts import DocumentSources, ReadDocument, VendorDocuments
from iotcop.documents.privacy import PrivacyFacts, collect_privacy
from iotcop.documents.text import document_text
from iotcop.model import Outcome, RunStatus
from iotcop.runner import run_checks


def serve(site: VendorSite, body: bytes, path: str = "/privacy") -> str:
    site.serve({path: Page(body, "text/html; charset=utf-8")})
    return site.https_url + path


def test_a_complete_privacy_notice_passes_6_1_and_6_5(vendor_site: VendorSite, monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    url = serve(vendor_site, PRIVACY_COMPLETE)
    a = assess(monkeypatch, tmp_path, (("privacy", url),), vendor_site.ca_file)
    assert flagged(a, "doc.privacy") == {}
    assert outcome(a, "6-1") is Outcome.PASS and outcome(a, "6-5") is Outcome.PASS
    # consent is taken by an opt-in and can be withdrawn, but a notice cannot show it is valid: never a PASS
    assert status(a, "doc.privacy.consent-undocumented") == "completed"
    assert outcome(a, "6-2") is Outcome.INCONCLUSIVE and outcome(a, "6-3") is Outcome.INCONCLUSIVE
    assert all(u.startswith(vendor_site.https_url) for u in vendor_site.requests)


def test_an_incomplete_notice_fails_with_what_is_missing(vendor_site: VendorSite, monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    url = serve(vendor_site, PRIVACY_INCOMPLETE)
    a = assess(monkeypatch, tmp_path, (("privacy", url),), vendor_site.ca_file)
    assert flagged(a, "doc.privacy") == {
        "doc.privacy.incomplete": [("medium", 3), ("info", None)],
        "doc.privacy.consent-undocumented": [("medium", 4)],
        "doc.privacy.no-consent-withdrawal": [("medium", 4)],
        "doc.privacy.no-telemetry-information": [("medium", 5)],
    }
    (gap,) = [f for f in a.findings_of("doc.privacy.incomplete") if f.severity.value == "medium"]
    assert "for what purposes" in gap.message and "controller" in gap.message and "third parties" in gap.message
    assert "what personal data" not in gap.message  # "We collect your e-mail address" states it
    assert gap.location.kind == "url" and gap.location.path == url
    assert "We collect your e-mail address" in gap.evidence.excerpt
    (bad,) = a.findings_of("doc.privacy.consent-undocumented")
    assert "By using the camera you consent" in bad.message
    for requirement in ("6-1", "6-2", "6-3", "6-5"):
        assert outcome(a, requirement) is Outcome.FAIL, requirement


def test_a_product_page_given_as_privacy_information_is_not_one(vendor_site: VendorSite,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    url = serve(vendor_site, LOOKALIKE)  # "records video", "Share on social media", "third-party trademarks"
    a = assess(monkeypatch, tmp_path, (("privacy", url),), vendor_site.ca_file)
    assert flagged(a, "doc.privacy") == {"doc.privacy.missing": [("high", None)]}
    assert outcome(a, "6-1") is Outcome.FAIL
    assert status(a, "doc.privacy.incomplete") == "inconclusive"


def test_denials_state_the_elements_and_no_telemetry_makes_6_5_not_applicable(
        vendor_site: VendorSite, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    body = html("Privacy", "<p>Acme Devices GmbH is the data controller.</p>",
                "<p>We collect your e-mail address to send you security notices.</p>",
                "<p>Your personal data is never sold or shared with third parties.</p>",
                "<p>We do not collect telemetry or usage data from the camera.</p>",
                "<p>We delete your e-mail address within 30 days after you close your account.</p>")
    a = assess(monkeypatch, tmp_path, (("privacy", serve(vendor_site, body)),), vendor_site.ca_file)
    assert flagged(a, "doc.privacy") == {}
    assert outcome(a, "6-1") is Outcome.PASS
    assert outcome(a, "6-5") is Outcome.NOT_APPLICABLE
    assert "line 5" in next(r.reason for r in a.check_runs if r.check_id == "doc.privacy.no-telemetry-information")
    assert status(a, "doc.privacy.no-consent-withdrawal") == "inconclusive"  # consent is not mentioned


def test_a_pdf_notice_made_by_a_real_pdf_writer_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    a = assess(monkeypatch, tmp_path, (("privacy", str(pdf(tmp_path, "privacy.pdf", PRIVACY_COMPLETE))),))
    assert flagged(a, "doc.privacy") == {}
    assert outcome(a, "6-1") is Outcome.PASS and outcome(a, "6-5") is Outcome.PASS


def test_no_privacy_document_or_an_unreadable_one_is_inconclusive(vendor_site: VendorSite,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    vendor_site.serve({})
    a = assess(monkeypatch, tmp_path, (("guidance", vendor_site.https_url + "/guide"),), vendor_site.ca_file)
    assert outcome(a, "6-1") is Outcome.INCONCLUSIVE
    assert "--document privacy=" in next(r.reason for r in a.check_runs if r.check_id == "doc.privacy.missing")
    a = assess(monkeypatch, tmp_path, (("privacy", vendor_site.https_url + "/privacy"),), vendor_site.ca_file)
    assert outcome(a, "6-1") is Outcome.INCONCLUSIVE
    assert "could not be read" in next(r.reason for r in a.check_runs if r.check_id == "doc.privacy.missing")
    assert flagged(a) == {}


def _run(content: bytes) -> list[str]:
    doc = ReadDocument("privacy", "fuzz.html", "", document_text(content, "", "fuzz.html"), content)
    docs = VendorDocuments(DocumentSources(documents=(("privacy", "fuzz.html"),)), None, documents=(doc,))
    result = run_checks([spec_of(f) for f in PRIVACY_CHECKS], {PrivacyFacts: collect_privacy(docs)}, {})
    return [r.status.value for r in result.runs if r.status is RunStatus.ERROR]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=3000), st.text(max_size=3000).map(str.encode),
                 st.lists(st.sampled_from(["<p>", "we do not", "share", "sell", "consent", "telemetry", "data ",
                                           "Ltd", "withdraw", "by using", "\n", ".", " for ", "personal data"]),
                          max_size=200).map(lambda parts: "".join(parts).encode())))
def test_malformed_documents_never_crash_a_check(content: bytes) -> None:
    assert _run(content) == []
