"""security.txt and disclosure-policy checks against a real HTTPS site on loopback (5.2-1, PSTI sch1-2)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from vendorsite import Page, VendorSite

from iotcop.api import assess_documents
from iotcop.documents.facts import DocumentSources
from iotcop.model import Assessment, Outcome, Severity

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
POLICY_HTML = (b"<html><head><title>Security</title><style>p{}</style></head><body><h1>Vulnerability disclosure "
               b"policy</h1><p>Please report security vulnerabilities in our products to "
               b"<a href='mailto:psirt@acme.example'>psirt@acme.example</a>.</p>"
               b"<p>We acknowledge receipt of every report within 5 working days.</p>"
               b"<ul><li>We keep you informed of the progress at least every 14 days until the issue is resolved."
               b"</li></ul></body></html>")


def security_txt(site: VendorSite, *, contact: str = "mailto:psirt@acme.example",
                 expires: str = "2027-03-01T00:00:00Z", policy: str | None = None) -> bytes:
    lines = [f"Contact: {contact}" if contact else "", f"Expires: {expires}" if expires else "",
             f"Policy: {policy or site.https_url + '/security/policy.html'}",
             f"Canonical: {site.https_url}/.well-known/security.txt"]
    return ("\n".join(line for line in lines if line) + "\n").encode()


def assess(site: VendorSite, sites: tuple[str, ...] | None = None, policies: tuple[str, ...] = (),
           ca: bool = True) -> Assessment:
    sources = DocumentSources(sites if sites is not None else (site.https_url,), policies, None,
                              site.ca_file if ca else None)
    return assess_documents(sources, clock=lambda: NOW)


def flagged(assessment: Assessment) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in assessment.findings:
        out.setdefault(f.check_id, []).append(f.severity.value)
    return out


def outcome(assessment: Assessment, framework: str, requirement: str) -> Outcome:
    return assessment.verdict(framework, requirement).outcome


def test_a_complete_policy_behind_a_valid_security_txt_passes_5_2_1_and_psti(vendor_site: VendorSite) -> None:
    vendor_site.serve({"/.well-known/security.txt": Page(security_txt(vendor_site)),
                       "/security/policy.html": Page(POLICY_HTML, "text/html; charset=utf-8")})
    a = assess(vendor_site)
    assert flagged(a) == {}
    assert outcome(a, "en303645", "5.2-1") is Outcome.PASS
    assert outcome(a, "psti", "sch1-2") is Outcome.PASS
    assert all(url.startswith(vendor_site.https_url) for url in vendor_site.requests)


def test_an_expired_security_txt_fails_with_its_date(vendor_site: VendorSite) -> None:
    vendor_site.serve({"/.well-known/security.txt": Page(security_txt(vendor_site, expires="2025-01-01T00:00:00Z")),
                       "/security/policy.html": Page(POLICY_HTML, "text/html")})
    a = assess(vendor_site)
    assert flagged(a) == {"doc.securitytxt.expired": ["medium"]}
    (f,) = a.findings
    assert "expired on 2025-01-01" in f.message and f.location.line == 2
    assert outcome(a, "en303645", "5.2-1") is Outcome.FAIL


def test_an_expiry_over_a_year_ahead_is_only_an_observation(vendor_site: VendorSite) -> None:
    vendor_site.serve({"/.well-known/security.txt": Page(security_txt(vendor_site, expires="2029-01-01T00:00:00Z")),
                       "/security/policy.html": Page(POLICY_HTML, "text/html")})
    a = assess(vendor_site)
    assert flagged(a) == {"doc.securitytxt.expired": ["info"]}
    assert outcome(a, "en303645", "5.2-1") is Outcome.PASS


def test_a_security_txt_without_contact_fails(vendor_site: VendorSite) -> None:
    vendor_site.serve({"/.well-known/security.txt": Page(security_txt(vendor_site, contact="")),
                       "/security/policy.html": Page(POLICY_HTML, "text/html")})
    a = assess(vendor_site)
    assert flagged(a) == {"doc.securitytxt.no-contact": ["high"]}
    assert outcome(a, "en303645", "5.2-1") is Outcome.FAIL


def test_a_security_txt_served_only_over_http_fails(vendor_site: VendorSite) -> None:
    vendor_site.serve({"/.well-known/security.txt": Page(security_txt(vendor_site)),
                       "/security/policy.html": Page(POLICY_HTML, "text/html")})
    a = assess(vendor_site, sites=(vendor_site.http_url,))
    assert "doc.securitytxt.not-https" in flagged(a)
    (f,) = a.findings_of("doc.securitytxt.not-https")
    assert f.location.path.startswith("http://") and "plain HTTP" in f.message
    assert outcome(a, "en303645", "5.2-1") is Outcome.FAIL


def test_a_certificate_that_does_not_validate_is_reported_and_the_content_still_read(vendor_site: VendorSite) -> None:
    vendor_site.serve({"/.well-known/security.txt": Page(security_txt(vendor_site)),
                       "/security/policy.html": Page(POLICY_HTML, "text/html")})
    a = assess(vendor_site, ca=False)  # the trustme CA is not trusted: the system's CAs do not know it
    (f,) = a.findings_of("doc.securitytxt.not-https")
    assert "certificate did not validate" in f.message
    assert "doc.disclosure.no-timelines" not in flagged(a)  # the policy was still read


def test_a_policy_that_promises_without_saying_when_fails_psti(vendor_site: VendorSite) -> None:
    vague = (b"<h1>Reporting a vulnerability</h1><p>Report security issues to security@acme.example.</p>"
             b"<p>We will acknowledge your report.</p><p>We take security seriously.</p>")
    vendor_site.serve({"/.well-known/security.txt": Page(security_txt(vendor_site)),
                       "/security/policy.html": Page(vague, "text/html")})
    a = assess(vendor_site)
    assert flagged(a) == {"doc.disclosure.no-timelines": ["medium"]}
    (f,) = a.findings
    assert "promises it without a time" in f.message and "status updates" in f.message
    assert outcome(a, "psti", "sch1-2") is Outcome.FAIL


def test_no_security_txt_and_no_policy_fail(vendor_site: VendorSite) -> None:
    vendor_site.serve({})
    a = assess(vendor_site)
    assert flagged(a) == {"doc.securitytxt.missing": ["medium"], "doc.disclosure.no-policy": ["high"]}
    assert outcome(a, "en303645", "5.2-1") is Outcome.FAIL


def test_a_policy_given_directly_makes_a_missing_security_txt_an_observation(vendor_site: VendorSite,
                                                                              tmp_path: Path) -> None:
    vendor_site.serve({"/security/policy.html": Page(POLICY_HTML, "text/html")})
    a = assess(vendor_site, policies=(f"{vendor_site.https_url}/security/policy.html",))
    assert flagged(a) == {"doc.securitytxt.missing": ["info"]}
    assert a.findings[0].severity is Severity.INFO


def test_a_policy_link_outside_the_scope_is_not_contacted(vendor_site: VendorSite) -> None:
    vendor_site.serve({"/.well-known/security.txt": Page(security_txt(
        vendor_site, policy="https://policy.elsewhere.invalid/vdp"))})
    a = assess(vendor_site)
    assert all("elsewhere" not in url for url in vendor_site.requests)
    assert any("outside the scope" in note for note in a.notes)
    run = next(r for r in a.check_runs if r.check_id == "doc.disclosure.no-policy")
    assert run.status.value == "inconclusive" and "outside the scope" in run.reason


def test_a_redirect_outside_the_scope_is_not_followed(vendor_site: VendorSite) -> None:
    other = vendor_site.https_url.replace("127.0.0.1", "localhost")
    vendor_site.serve({"/.well-known/security.txt": Page(b"", status=302,
                                                         location=f"{other}/.well-known/security.txt")})
    a = assess(vendor_site)
    assert not any("localhost" in url for url in vendor_site.requests)
    assert "doc.securitytxt.missing" in flagged(a)
    (f,) = a.findings_of("doc.securitytxt.missing")
    assert "outside the scope" in f.evidence.excerpt


def test_wrong_media_type_and_legacy_location_are_observations(vendor_site: VendorSite) -> None:
    vendor_site.serve({"/security.txt": Page(security_txt(vendor_site), "text/html"),
                       "/security/policy.html": Page(POLICY_HTML, "text/html")})
    a = assess(vendor_site)
    assert set(flagged(a)) == {"doc.securitytxt.invalid"}
    messages = " ".join(f.message for f in a.findings)
    assert "legacy location" in messages and "text/plain" in messages
    assert outcome(a, "en303645", "5.2-1") is Outcome.PASS


def test_a_pdf_policy_made_by_a_real_pdf_writer_is_read(tmp_path: Path) -> None:
    weasyprint = pytest.importorskip("weasyprint")
    pdf = tmp_path / "vdp.pdf"
    weasyprint.HTML(string=POLICY_HTML.decode()).write_pdf(pdf)
    a = assess_documents(DocumentSources(policies=(str(pdf),)), clock=lambda: NOW)
    assert flagged(a) == {}
    assert outcome(a, "en303645", "5.2-1") is Outcome.PASS  # a policy with its contact, from the document alone


def test_nothing_given_is_inconclusive_not_a_pass(tmp_path: Path) -> None:
    missing = tmp_path / "nope.html"
    a = assess_documents(DocumentSources(policies=(str(missing),)), clock=lambda: NOW)
    assert outcome(a, "en303645", "5.2-1") is Outcome.INCONCLUSIVE
