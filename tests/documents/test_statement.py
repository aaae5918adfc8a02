"""The PSTI statement of compliance: real HTML pages on the loopback HTTPS site, real PDFs written by WeasyPrint
and the YAML form, complete and incomplete, run as the document assessment runs them; and the contradiction
with an observed default password (a real md5crypt hash in a real /etc/shadow)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fwimages import md5crypt, write_tree
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from statementdocs import (
    CHECKS,
    NOW,
    STATEMENT_YAML,
    TABLE_HTML,
    catalogue_with_soc,
    run_statement,
    statement_html,
    statement_pdf,
)
from vendorsite import Page, VendorSite

from iotcop.catalogue import Catalogue
from iotcop.checks.doc.statement import observing_checks
from iotcop.checks.registry import REGISTRY, spec_of
from iotcop.documents.facts import DocumentSources, ReadDocument
from iotcop.documents.statement import StatementFacts, all_dates, read_statement
from iotcop.documents.text import DocumentText, document_text
from iotcop.firmware.accounts import Accounts, collect_accounts
from iotcop.firmware.credstores import CredentialStores
from iotcop.firmware.filesystem import FileSystem
from iotcop.firmware.services import BootServices
from iotcop.knowledge.credentials import DefaultCredentials, default_credentials
from iotcop.model import AssessmentTime, Finding, Outcome, RunStatus, Severity
from iotcop.runner import run_checks

MISSING, SUPPORT, CONTRA = (spec_of(c).id for c in CHECKS)


def mine(findings: list[Finding]) -> list[tuple[str, str, str]]:
    """(check, severity, what) of the statement findings, in order."""
    return [(f.check_id, f.severity.value, f.message) for f in findings if f.check_id.startswith("doc.statement.")]


def missing(findings: list[Finding]) -> dict[str, str]:
    """The element each missing-element finding names → its severity."""
    return {f.message.split(" does not state ")[1].rstrip("."): f.severity.value
            for f in findings if f.check_id == MISSING and " does not state " in f.message}


def served(site: VendorSite, body: bytes, path: str = "/psti/statement.html", kind: str = "text/html") -> str:
    site.serve({path: Page(body, kind)})
    return site.https_url + path


def sources(site: VendorSite, *given: str) -> DocumentSources:
    return DocumentSources(documents=tuple(("statement", g) for g in given), ca_bundle=site.ca_file)


def test_a_complete_html_statement_passes(vendor_site: VendorSite, tmp_path: Path) -> None:
    url = served(vendor_site, statement_html())
    findings, runs, verdicts = run_statement(sources(vendor_site, url), tmp_path)
    assert mine(findings) == []
    assert runs[MISSING].status is RunStatus.COMPLETED and runs[SUPPORT].status is RunStatus.COMPLETED
    assert verdicts["psti:soc-1"].outcome is Outcome.PASS
    assert vendor_site.requests == [url]


def test_a_complete_pdf_with_wrapped_sentences_passes(vendor_site: VendorSite, tmp_path: Path) -> None:
    pdf = statement_pdf(tmp_path / "soc.pdf", statement_html())
    text = document_text(pdf.read_bytes(), "", str(pdf))
    assert not any(line.endswith("Regulations 2023.") and line.startswith("In the opinion") for line in text.lines)
    statement = read_statement(ReadDocument("statement", str(pdf), "", text, pdf.read_bytes()))
    assert statement.missing == [] and statement.complies_with == ("sch1-1", "sch1-2", "sch1-3")
    assert statement.support is not None and statement.support.end == dt.date(2029, 12, 31)
    findings, _, verdicts = run_statement(sources(vendor_site, str(pdf)), tmp_path)
    assert mine(findings) == [] and verdicts["psti:soc-1"].outcome is Outcome.PASS


def test_each_missing_element_is_one_finding_with_its_severity(vendor_site: VendorSite, tmp_path: Path) -> None:
    url = served(vendor_site, statement_html(without=("signatory_function", "place_of_issue", "compliance"),
                                             replace={"product_type": "<p>Product type: [insert product type]</p>"}))
    findings, _, verdicts = run_statement(sources(vendor_site, url), tmp_path)
    assert missing(findings) == {
        "the product type": "high",  # a template placeholder is not a value
        "the declaration that the manufacturer has complied with the applicable security requirements": "high",
        "the signatory's function": "medium", "the place of issue": "medium"}
    assert {f.location.path for f in findings if f.check_id == MISSING} == {url}
    assert verdicts["psti:soc-1"].outcome is Outcome.FAIL


def test_a_pdf_table_with_a_promise_to_comply_and_a_length_only(vendor_site: VendorSite, tmp_path: Path) -> None:
    pdf = statement_pdf(tmp_path / "table.pdf", TABLE_HTML)
    findings, _, verdicts = run_statement(sources(vendor_site, str(pdf)), tmp_path)
    assert set(missing(findings)) == {  # "we will comply" is no declaration that it has complied
        "that the statement is prepared by or on behalf of the manufacturer",
        "the declaration that the manufacturer has complied with the applicable security requirements",
        "the signatory's name", "the signatory's function"}
    (support,) = [f for f in findings if f.check_id == SUPPORT]
    assert "gives a length (five years) but no end date (the statement was issued on 1 March 2025)" in support.message
    assert support.severity is Severity.MEDIUM and support.location.line is not None
    assert verdicts["psti:soc-1"].outcome is Outcome.FAIL


def test_support_periods_vague_absent_expired_and_self_contradicting(vendor_site: VendorSite,
                                                                    tmp_path: Path) -> None:
    cases = {
        "<p>Security updates are provided for the lifetime of the product.</p>": [("medium", "no end date")],
        "": [("high", "states no defined support period")],
        "<p>Defined support period: until 31/12/2025</p>": [("info", "ended on 2025-12-31, before this assessment")],
        "<p>Defined support period: until December 2024</p>": [("high", "ends on 2024-12-31, before the statement")],
        "<p>Support period: 2025-03-01 to 2030-06-30.</p>": [],
    }
    for text, expected in cases.items():
        url = served(vendor_site, statement_html(replace={"support_period": text}))
        findings, _, verdicts = run_statement(sources(vendor_site, url), tmp_path)
        got = [(sev, msg) for check_id, sev, msg in mine(findings) if check_id == SUPPORT]
        assert [sev for sev, _ in got] == [sev for sev, _ in expected], text
        assert all(part in msg for (_, msg), (_, part) in zip(got, expected, strict=True)), got
        # a statement claiming sch1-3 while its own period is vague is also contradicted by doc.support-period.*
        assert [c for c, _, _ in mine(findings) if c != "doc.statement.contradiction"] == [SUPPORT] * len(expected)
        passes = all(sev == "info" for sev, _ in expected)
        assert (verdicts["psti:soc-1"].outcome is Outcome.PASS) is passes, text


def test_a_page_that_is_no_statement_is_one_grave_finding(vendor_site: VendorSite, tmp_path: Path) -> None:
    url = served(vendor_site, b"<html><body><h1>Privacy</h1><p>We do not sell your data.</p></body></html>")
    findings, _, _ = run_statement(sources(vendor_site, url), tmp_path)
    got = {c: (s, m) for c, s, m in mine(findings)}
    assert len(mine(findings)) == 2 and {c: s for c, (s, _) in got.items()} == {MISSING: "high", SUPPORT: "high"}
    assert "reads as no statement of compliance" in got[MISSING][1]


def test_nothing_given_or_unreadable_is_inconclusive(vendor_site: VendorSite, tmp_path: Path) -> None:
    vendor_site.serve({})
    _, runs, verdicts = run_statement(sources(vendor_site, vendor_site.https_url + "/gone.pdf"), tmp_path)
    assert runs[MISSING].status is RunStatus.INCONCLUSIVE and "could not be read" in (runs[MISSING].reason or "")
    assert verdicts["psti:soc-1"].outcome is Outcome.INCONCLUSIVE
    site = DocumentSources(sites=(vendor_site.https_url,), ca_bundle=vendor_site.ca_file)
    _, runs, verdicts = run_statement(site, tmp_path)
    assert "no statement of compliance was given" in (runs[SUPPORT].reason or "")
    assert verdicts["psti:soc-1"].outcome is Outcome.INCONCLUSIVE


def test_the_yaml_form_complete_incomplete_and_invalid(vendor_site: VendorSite, tmp_path: Path) -> None:
    good = tmp_path / "soc.yaml"
    good.write_text(STATEMENT_YAML)
    findings, _, verdicts = run_statement(sources(vendor_site, str(good)), tmp_path)
    assert mine(findings) == [] and verdicts["psti:soc-1"].outcome is Outcome.PASS
    partial = tmp_path / "partial.yaml"
    partial.write_text(STATEMENT_YAML.replace("  function: Head of Product Security\n", "")
                       .replace("support_period:\n  end_date: 2029-12-31\n", "support_period:\n  text: lifetime\n"))
    findings, _, _ = run_statement(sources(vendor_site, str(partial)), tmp_path)
    assert missing(findings) == {"the signatory's function": "medium"}
    (support,) = [f for f in findings if f.check_id == SUPPORT]
    assert support.location.line == 12 and "support_period.text: lifetime" in support.message
    bad = tmp_path / "bad.yaml"
    bad.write_text(STATEMENT_YAML.replace("place_of_issue", "place_of_isue").replace("2025-03-01", "2025-02-30"))
    _, runs, verdicts = run_statement(sources(vendor_site, str(bad)), tmp_path)
    reason = runs[MISSING].reason or ""
    assert runs[MISSING].status is RunStatus.INCONCLUSIVE
    assert "line 16: place_of_isue: unknown field (the fields of iotcop-statement/1: schema, product_type" in reason
    assert "line 17: date_of_issue" in reason
    assert verdicts["psti:soc-1"].outcome is Outcome.INCONCLUSIVE


def _accounts(root: Path, password: str) -> Accounts:
    tree = write_tree(root, files={"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
                                   "/etc/shadow": f"root:{md5crypt(password, 'k3Yb1x')}:19000:0:99999:7:::\n"})
    return collect_accounts(FileSystem.scan(tree))


def _contradictions(tmp_path: Path, html: bytes, password: str) -> list[Finding]:
    text = document_text(html, "text/html")
    facts = StatementFacts((read_statement(ReadDocument("statement", "https://acme.example/soc", "", text, html)),))
    bag = {Accounts: _accounts(tmp_path / password, password), DefaultCredentials: default_credentials(),
           CredentialStores: CredentialStores(), BootServices: BootServices(), StatementFacts: facts,
           Catalogue: catalogue_with_soc(tmp_path), AssessmentTime: AssessmentTime(at=NOW)}
    result = run_checks([REGISTRY.get("fw.credentials.default-password"), spec_of(CHECKS[2])], bag, {})
    assert {r.check_id: r.status for r in result.runs}[CONTRA] is RunStatus.COMPLETED
    return [f for f in result.findings if f.check_id == CONTRA]


def test_declared_compliance_contradicted_by_a_working_default_password(tmp_path: Path) -> None:
    (finding,) = _contradictions(tmp_path, statement_html(), "admin")
    assert finding.location.path == "https://acme.example/soc" and finding.location.line == 7  # <title>, <h1>
    assert "declares PSTI sch1-1 (passwords) met" in finding.message and "fw.credentials.default-password" \
        in finding.message and "'admin'" in finding.message
    assert finding.severity is Severity.HIGH


def test_no_contradiction_without_a_claim_on_passwords_or_without_a_default(tmp_path: Path) -> None:
    assert _contradictions(tmp_path, statement_html(), "Zq8#vN2!pLr5") == []  # a unique password: no default
    only_reporting = "<p>Acme Devices Ltd has complied with the security requirements on reporting security " \
                     "issues (Schedule 1 paragraph 2).</p>"
    assert _contradictions(tmp_path, statement_html(replace={"compliance": only_reporting}), "admin") == []
    promise = "<p>Acme will comply with the PSTI security requirements.</p>"
    assert _contradictions(tmp_path, statement_html(replace={"compliance": promise}), "admin") == []


def test_the_observing_checks_come_from_the_catalogue(tmp_path: Path) -> None:
    ids = observing_checks(catalogue_with_soc(tmp_path), "sch1-1")
    assert "fw.credentials.default-password" in ids and not any(i.startswith("doc.statement.") for i in ids)


def test_dates_in_the_formats_statements_use() -> None:
    text = ("1 March 2025; March 2, 2025; 2025-03-03; 04/03/2025; 12/31/2029; 5.3.2025; 6th of March, 2025; "
            "Sept 2025; end of 2030; 31/02/2025; 99/99/2025")
    assert all_dates(text) == [dt.date(2025, 3, 1), dt.date(2025, 3, 2), dt.date(2025, 3, 3), dt.date(2025, 3, 4),
                               dt.date(2029, 12, 31), dt.date(2025, 3, 5), dt.date(2025, 3, 6),
                               dt.date(2025, 9, 30), dt.date(2030, 12, 31)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=120), max_size=30), st.binary(max_size=600))
def test_malformed_statements_never_raise(lines: list[str], raw: bytes) -> None:
    for source, text in (("soc.txt", DocumentText(tuple(lines))), ("soc.yaml", DocumentText(()))):
        statement = read_statement(ReadDocument("statement", source, "", text, raw))
        result = run_checks([spec_of(c) for c in CHECKS[:2]], {StatementFacts: StatementFacts((statement,)),
                                                              AssessmentTime: AssessmentTime(at=NOW)}, {})
        assert all(r.status is not RunStatus.ERROR for r in result.runs), result.runs


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=400))
def test_yaml_like_text_is_a_statement_or_a_located_problem(body: str) -> None:
    raw = ("schema: iotcop-statement/1\n" + body).encode()
    statement = read_statement(ReadDocument("statement", "soc.yaml", "", DocumentText(()), raw))
    assert statement.form == "yaml" and (statement.problem == "" or "line" in statement.problem or
                                         "bytes" in statement.problem or "empty" in statement.problem)
