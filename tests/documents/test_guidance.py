"""Guidance checks (EN 303 645 5.11-1..5.11-4, 5.12-2, 5.12-3, 5.1-4) on real HTML pages from the loopback HTTPS
site and real PDFs, through ``assess_documents``."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from privacydocs import (
    GUIDANCE_CHECKS,
    GUIDE_COMPLETE,
    GUIDE_INCOMPLETE,
    LOOKALIKE,
    PRIVACY_COMPLETE,
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
from iotcop.documents.privacy import GuidanceFacts, collect_guidance
from iotcop.documents.text import document_text
from iotcop.model import Outcome, RunStatus
from iotcop.runner import run_checks

GUIDANCE_IDS = ("doc.deletion", "doc.setup", "doc.credentials")


def guidance_flagged(a: object) -> dict[str, list[tuple[str, int | None]]]:
    return {k: v for k, v in flagged(a).items() if k.startswith(GUIDANCE_IDS)}  # type: ignore[arg-type]


def test_a_complete_user_guide_passes_the_publication_provisions(vendor_site: VendorSite,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    vendor_site.serve({"/guide": Page(GUIDE_COMPLETE, "text/html")})
    a = assess(monkeypatch, tmp_path, (("guidance", vendor_site.https_url + "/guide"),), vendor_site.ca_file)
    assert guidance_flagged(a) == {}
    for requirement in ("5.11-3", "5.12-2", "5.12-3"):
        assert outcome(a, requirement) is Outcome.PASS, requirement
    # documented functions are not working functions: the device-function provisions stay open
    for requirement in ("5.11-1", "5.11-2", "5.11-4", "5.1-4"):
        assert outcome(a, requirement) is Outcome.INCONCLUSIVE, requirement
    assert status(a, "doc.deletion.no-factory-reset") == "completed"


def test_an_incomplete_quick_start_fails_with_the_guides_own_words(vendor_site: VendorSite,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    vendor_site.serve({"/quick": Page(GUIDE_INCOMPLETE, "text/html")})
    a = assess(monkeypatch, tmp_path, (("guidance", vendor_site.https_url + "/quick"),), vendor_site.ca_file)
    assert guidance_flagged(a) == {
        "doc.credentials.no-change-instructions": [("medium", 5)],
        "doc.deletion.no-factory-reset": [("medium", 6)],
        "doc.deletion.no-instructions": [("low", None)],
        "doc.deletion.no-service-data-deletion": [("low", None)],
        "doc.setup.no-secure-setup-guide": [("low", None)],  # "the bracket is securely mounted" is not guidance
        "doc.setup.no-setup-check-guide": [("low", None)],
    }
    (reset,) = a.findings_of("doc.deletion.no-factory-reset")
    assert "Factory reset is not supported on this model." in reset.message
    (password,) = a.findings_of("doc.credentials.no-change-instructions")
    assert "cannot be changed" in password.message
    assert status(a, "doc.deletion.no-confirmation") == "inconclusive"
    for requirement in ("5.11-1", "5.11-2", "5.11-3", "5.12-2", "5.12-3", "5.1-4"):
        assert outcome(a, requirement) is Outcome.FAIL, requirement
    assert outcome(a, "5.11-4") is Outcome.INCONCLUSIVE
    assert outcome(a, "11", "cop2018") is Outcome.FAIL


def test_deletion_steps_in_the_privacy_notice_count_and_setup_needs_a_guide(
        vendor_site: VendorSite, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    vendor_site.serve({"/privacy": Page(PRIVACY_COMPLETE, "text/html")})
    a = assess(monkeypatch, tmp_path, (("privacy", vendor_site.https_url + "/privacy"),), vendor_site.ca_file)
    assert guidance_flagged(a) == {}
    assert outcome(a, "5.11-3") is Outcome.PASS
    for check_id in ("doc.deletion.no-factory-reset", "doc.setup.no-secure-setup-guide",
                     "doc.credentials.no-change-instructions"):
        assert status(a, check_id) == "inconclusive", check_id
    reason = next(r.reason for r in a.check_runs if r.check_id == "doc.setup.no-secure-setup-guide")
    assert "--document guidance=" in reason
    assert outcome(a, "5.12-2") is Outcome.INCONCLUSIVE


def test_a_silent_guide_about_passwords_is_only_an_observation(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    body = html("Guide", "<h2>Factory reset</h2><p>Insert a paperclip into the RESET hole and hold it for 5 seconds."
                "</p><p>Make sure the bracket is securely mounted.</p>")
    path = tmp_path / "guide.html"
    path.write_bytes(body)
    a = assess(monkeypatch, tmp_path, (("guidance", str(path)),))
    found = guidance_flagged(a)
    assert found["doc.credentials.no-change-instructions"] == [("info", None)]
    assert "doc.deletion.no-factory-reset" not in found
    assert outcome(a, "5.1-4") is Outcome.INCONCLUSIVE  # an observation never fails a requirement
    (f,) = a.findings_of("doc.setup.no-secure-setup-guide")
    assert f.location.kind == "document" and f.location.path == str(path)


def test_a_pdf_user_guide_made_by_a_real_pdf_writer_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    guide = pdf(tmp_path, "guide.pdf", GUIDE_COMPLETE)
    a = assess(monkeypatch, tmp_path, (("guidance", str(guide)),))
    assert guidance_flagged(a) == {}
    assert outcome(a, "5.12-2") is Outcome.PASS and outcome(a, "5.11-3") is Outcome.PASS


def test_a_product_page_given_as_guidance_is_no_guidance(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "product.html"
    path.write_bytes(LOOKALIKE)
    a = assess(monkeypatch, tmp_path, (("guidance", str(path)),))
    assert set(guidance_flagged(a)) == {"doc.deletion.no-factory-reset", "doc.deletion.no-instructions",
                                        "doc.deletion.no-service-data-deletion", "doc.setup.no-secure-setup-guide",
                                        "doc.setup.no-setup-check-guide", "doc.credentials.no-change-instructions"}


def _errors(content: bytes) -> list[str]:
    docs = VendorDocuments(DocumentSources(documents=(("guidance", "g.pdf"),)), None, documents=(
        ReadDocument("guidance", "g.pdf", "", document_text(content, "", "g.pdf"), content),
        ReadDocument("privacy", "p.txt", "", document_text(content), content)))
    result = run_checks([spec_of(f) for f in GUIDANCE_CHECKS], {GuidanceFacts: collect_guidance(docs)}, {})
    return [r.check_id for r in result.runs if r.status is RunStatus.ERROR]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=3000), st.just(b"%PDF-1.7\n") .map(lambda head: head + b"\x00" * 50),
                 st.lists(st.sampled_from(["<h2>", "Factory reset", "\n", "Press", " cannot ", "delete your data",
                                           "secure set-up", "password", "check", ". ", "Tap ", "confirm"]),
                          max_size=200).map(lambda parts: "".join(parts).encode())))
def test_malformed_documents_never_crash_a_check(content: bytes) -> None:
    assert _errors(content) == []


def test_a_guide_read_only_in_part_says_so_when_it_finds_nothing(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    path.write_text("Specifications and legal notices follow.\n" * 9000 + "Factory reset: press and hold RESET.\n")
    a = assess(monkeypatch, tmp_path, (("guidance", str(path)),))
    (f,) = a.findings_of("doc.deletion.no-factory-reset")
    assert "only part was read" in f.message and "300,000 characters" in f.message
