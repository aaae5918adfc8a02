"""The defined support period (5.3-13, PSTI sch1-3): real pages on a loopback HTTPS site and real PDFs, read through
``assess_documents``; the comparison with the firmware's components through the runner."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import supportdocs as sd
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from vendorsite import Page, VendorSite

import iotcop.api
from iotcop import runner
from iotcop.api import assess_documents
from iotcop.catalogue import DATA_DIR, Catalogue, load_catalogue
from iotcop.checks.doc import support
from iotcop.checks.registry import REGISTRY, Registry, spec_of
from iotcop.documents.facts import DocumentSources, ReadDocument, VendorDocuments, collect_documents
from iotcop.documents.support import SupportPeriodFacts, collect_support_period, read_statement
from iotcop.documents.text import document_text
from iotcop.firmware.components import Components
from iotcop.knowledge.eol import EndOfLife, end_of_life
from iotcop.model import Assessment, AssessmentTime, CheckRun, Outcome, RunStatus
from iotcop.runner import run_checks

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
CHECKS = (support.missing, support.vague, support.expired, support.differs_from_declaration,
          support.outlives_components, support.no_non_updatable_rationale)
WIRING = {  # what the lead wires into the catalogue (see the report); applied here until it is
    "5.3-13": {"evidenced_by": ["doc.support-period.missing", "doc.support-period.vague",
                                "doc.support-period.expired"],
               "refuted_by": ["doc.support-period.differs-from-declaration"]},
    "5.3-14": {"evidenced_by": ["doc.support-period.no-non-updatable-rationale"]},
    "5.2-3": {"refuted_by": ["doc.support-period.outlives-components"]},
}
UNTIL_2029 = "<p>Security updates for the X100 are provided until 31 December 2029.</p>"


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    if "doc.support-period.missing" in REGISTRY:
        return load_catalogue()
    data = tmp_path_factory.mktemp("catalogue")
    for path in DATA_DIR.glob("*.yaml"):
        shutil.copy(path, data / path.name)
    path = data / "en303645-v2.1.1.yaml"
    raw = yaml.safe_load(path.read_text())
    built = {spec_of(c).id for c in CHECKS}
    for req in raw["requirements"]:
        for key, ids in WIRING.get(req["id"], {}).items():
            req[key] = [*req.get(key, []), *ids]
        if set(req.get("planned", ())) & built:
            req["planned"] = [p for p in req["planned"] if p not in built]
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_catalogue(data, [*REGISTRY.ids(), *built])


@pytest.fixture(autouse=True)
def wired(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Until the lead wires them: the support checks registered, and their fact in the bag."""
    if "doc.support-period.missing" not in REGISTRY:
        monkeypatch.setattr(iotcop.api, "REGISTRY", Registry([*(s.func for s in REGISTRY), *CHECKS]))

        def run(specs: object, facts: dict[type, object], unavailable: object) -> runner.RunResult:
            facts = dict(facts)
            if VendorDocuments in facts and SupportPeriodFacts not in facts:
                facts[SupportPeriodFacts] = collect_support_period(facts[VendorDocuments])  # type: ignore[arg-type]
            return run_checks(specs, facts, unavailable)  # type: ignore[arg-type]

        monkeypatch.setattr(iotcop.api, "run_checks", run)
    yield


def assess(catalogue: Catalogue, *documents: tuple[str, str], site: VendorSite | None = None,
           end: dt.date | None = None, constrained: bool = False) -> Assessment:
    sources = DocumentSources(documents=documents, ca_bundle=site.ca_file if site else None)
    declared = sd.declaration(end, constrained=constrained) if end or constrained else None
    return assess_documents(sources, declared, catalogue=catalogue, clock=lambda: NOW)


def flagged(a: Assessment) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in a.findings:
        if f.check_id.startswith("doc.support-period."):
            out.setdefault(f.check_id, []).append(f"{f.severity.value}@{f.location.line}")
    return out


def outcomes(a: Assessment) -> tuple[Outcome, Outcome]:
    return a.verdict("en303645", "5.3-13").outcome, a.verdict("psti", "sch1-3").outcome


def run_of(a: Assessment, check_id: str) -> CheckRun:
    return next(r for r in a.check_runs if r.check_id == check_id)


def serve(site: VendorSite, body: bytes, path: str = "/products/x100") -> tuple[str, str]:
    site.serve({path: Page(body, "text/html; charset=utf-8")})
    return "support", f"{site.https_url}{path}"


def test_a_product_page_with_an_end_date_passes_5_3_13_and_psti(vendor_site: VendorSite,
                                                                 catalogue: Catalogue) -> None:
    a = assess(catalogue, serve(vendor_site, sd.product_page(UNTIL_2029)), site=vendor_site)
    assert flagged(a) == {}
    assert outcomes(a) == (Outcome.PASS, Outcome.PASS)
    assert all(url.startswith(vendor_site.https_url) for url in vendor_site.requests)
    facts = collect_support_period(collect_documents(DocumentSources(
        documents=(("support", f"{vendor_site.https_url}/products/x100"),), ca_bundle=vendor_site.ca_file)))
    assert (facts.kind, facts.end, facts.line) == ("definite", dt.date(2029, 12, 31), 9)
    assert facts.statement == "Security updates for the X100 are provided until 31 December 2029."


def test_a_support_table_is_read_row_by_row(vendor_site: VendorSite, catalogue: Catalogue) -> None:
    page = sd.support_table([("X100", "31/12/2029"), ("X200", "2030-06-30")])
    a = assess(catalogue, serve(vendor_site, page, "/support"), site=vendor_site, end=dt.date(2030, 6, 30))
    assert flagged(a) == {}
    assert outcomes(a) == (Outcome.PASS, Outcome.PASS)
    facts = _period_of(page)
    assert [(s.line, s.end, s.statement) for s in facts.statements] == [
        (6, dt.date(2029, 12, 31), "Security updates until \u2192 X100: 31/12/2029"),
        (8, dt.date(2030, 6, 30), "Security updates until \u2192 X200: 2030-06-30")]


def test_a_pdf_support_policy_with_a_month_is_read_to_the_months_end(tmp_path: Path, catalogue: Catalogue) -> None:
    pdf = sd.write_pdf(sd.product_page("<p>End of security support: December 2029</p>"), tmp_path / "x100.pdf")
    a = assess(catalogue, ("support", str(pdf)), end=dt.date(2029, 12, 31))
    assert flagged(a) == {}
    assert outcomes(a) == (Outcome.PASS, Outcome.PASS)


def test_a_period_from_purchase_is_defined_and_cannot_be_past(vendor_site: VendorSite, catalogue: Catalogue) -> None:
    page = sd.product_page("<p>We provide security updates for at least 5 years from the date of purchase.</p>")
    a = assess(catalogue, serve(vendor_site, page), site=vendor_site)
    assert flagged(a) == {}
    assert outcomes(a) == (Outcome.PASS, Outcome.PASS)
    assert run_of(a, "doc.support-period.expired").status is RunStatus.NOT_APPLICABLE


@pytest.mark.parametrize("sentence", [
    "We provide software updates for the lifetime of the product.",
    "Security updates will be provided for as long as is commercially reasonable.",
    "Your camera is regularly updated with the latest security patches.",
    "Security updates are provided for 5 years.",
    "Security updates are provided until 2 years after the product is discontinued.",
    "We cannot guarantee security updates until 2030.",
])
def test_vague_wording_fails_with_the_sentence(vendor_site: VendorSite, catalogue: Catalogue, sentence: str) -> None:
    a = assess(catalogue, serve(vendor_site, sd.product_page(f"<p>{sentence}</p>")), site=vendor_site)
    assert flagged(a) == {"doc.support-period.vague": ["high@9"]}
    (f,) = a.findings_of("doc.support-period.vague")
    assert sentence in f.message and "line 9" in f.message
    assert outcomes(a) == (Outcome.FAIL, Outcome.FAIL)


def test_look_alikes_are_not_a_support_period(vendor_site: VendorSite, catalogue: Catalogue) -> None:
    page = sd.product_page("<p>Contact our friendly team for help with set-up.</p>")  # warranty, hours, dates
    a = assess(catalogue, serve(vendor_site, page), site=vendor_site)
    assert flagged(a) == {"doc.support-period.missing": ["high@None"]}
    assert "/products/x100" in a.findings_of("doc.support-period.missing")[0].message
    assert outcomes(a) == (Outcome.FAIL, Outcome.FAIL)


def test_an_ended_support_period_fails_and_one_ending_soon_is_noted(vendor_site: VendorSite,
                                                                    catalogue: Catalogue) -> None:
    a = assess(catalogue, serve(vendor_site, sd.product_page("<p>Security updates until 31 March 2025.</p>")),
               site=vendor_site)
    assert flagged(a) == {"doc.support-period.expired": ["high@9"]}
    assert "ended on 2025-03-31, before this assessment (2026-11-25)" in a.findings[0].message
    assert outcomes(a) == (Outcome.FAIL, Outcome.FAIL)
    soon = assess(catalogue, serve(vendor_site, sd.product_page("<p>Security updates until 30 June 2027.</p>")),
                  site=vendor_site)
    assert flagged(soon) == {"doc.support-period.expired": ["info@9"]}
    assert outcomes(soon) == (Outcome.PASS, Outcome.PASS)


def test_a_published_date_other_than_the_declared_one_fails(vendor_site: VendorSite, catalogue: Catalogue) -> None:
    doc = serve(vendor_site, sd.product_page("<p>Security updates until 31 December 2028.</p>"))
    a = assess(catalogue, doc, site=vendor_site, end=dt.date(2030, 12, 31))
    assert flagged(a) == {"doc.support-period.differs-from-declaration": ["medium@9"]}
    message = a.findings[0].message
    assert "2028-12-31" in message and "earlier than the declared end date 2030-12-31 (declaration line 7)" in message
    assert outcomes(a) == (Outcome.FAIL, Outcome.FAIL)
    same = assess(catalogue, doc, site=vendor_site, end=dt.date(2028, 12, 31))
    assert flagged(same) == {}


def test_without_a_support_document_the_statement_of_compliance_is_read(tmp_path: Path, catalogue: Catalogue) -> None:
    soc = sd.write_pdf(sd.statement_of_compliance("Defined support period: security updates will be provided "
                                                  "until 31 December 2029."), tmp_path / "soc.pdf")
    a = assess(catalogue, ("statement", str(soc)))
    assert flagged(a) == {}
    assert outcomes(a) == (Outcome.PASS, Outcome.PASS)
    page = tmp_path / "x100.html"
    page.write_bytes(sd.product_page("<p>Contact us.</p>"))
    both = assess(catalogue, ("support", str(page)), ("statement", str(soc)))
    assert flagged(both) == {"doc.support-period.missing": ["high@None"]}  # the product page must say it


def test_nothing_given_or_nothing_readable_is_inconclusive(vendor_site: VendorSite, tmp_path: Path,
                                                           catalogue: Catalogue) -> None:
    privacy = tmp_path / "privacy.html"
    privacy.write_bytes(b"<p>We do not sell your data.</p>")
    a = assess(catalogue, ("privacy", str(privacy)))
    assert outcomes(a) == (Outcome.INCONCLUSIVE, Outcome.INCONCLUSIVE)
    assert "no support-period document was given" in run_of(a, "doc.support-period.missing").reason
    assert "no support-period document was given" in a.verdict("en303645", "5.3-13").reason
    vendor_site.serve({})
    gone = assess(catalogue, ("support", f"{vendor_site.https_url}/products/x100"), site=vendor_site)
    assert outcomes(gone) == (Outcome.INCONCLUSIVE, Outcome.INCONCLUSIVE)
    assert "could not be read" in run_of(gone, "doc.support-period.missing").reason
    blank = sd.write_pdf(b"<html><body><svg width='10' height='10'><rect width='10' height='10'/></svg></body></html>",
                         tmp_path / "scan.pdf")
    scanned = assess(catalogue, ("support", str(blank)))
    assert outcomes(scanned) == (Outcome.INCONCLUSIVE, Outcome.INCONCLUSIVE)
    assert "no readable text" in run_of(scanned, "doc.support-period.missing").reason


def test_documents_alone_cannot_compare_with_the_components(vendor_site: VendorSite, catalogue: Catalogue) -> None:
    a = assess(catalogue, serve(vendor_site, sd.product_page(UNTIL_2029)), site=vendor_site)
    run = run_of(a, "doc.support-period.outlives-components")
    assert run.status is RunStatus.INCONCLUSIVE and "Components" in run.reason


SENSOR = ("<p>The sensor is supported until 31 December 2029.</p><p>Its software cannot be updated because it runs "
          "from read-only memory, which lets the battery last ten years.</p><p>If a vulnerability is found, we will "
          "replace the device free of charge until the end of its support period.</p>")


def test_a_constrained_device_that_cannot_be_updated_publishes_why_and_its_replacement(
        vendor_site: VendorSite, catalogue: Catalogue) -> None:
    a = assess(catalogue, serve(vendor_site, sd.product_page(SENSOR)), site=vendor_site, constrained=True)
    assert flagged(a) == {}
    assert a.verdict("en303645", "5.3-14").outcome is Outcome.PASS
    bare = assess(catalogue, serve(vendor_site, sd.product_page("<p>This sensor cannot be updated.</p>")),
                  site=vendor_site, constrained=True)
    assert flagged(bare) == {"doc.support-period.missing": ["high@None"],
                             "doc.support-period.no-non-updatable-rationale": ["medium@None"]}
    (f,) = bare.findings_of("doc.support-period.no-non-updatable-rationale")
    assert f.message.endswith("do not say why its software cannot be updated; how the hardware is replaced; a "
                              "defined support period.")
    assert bare.verdict("en303645", "5.3-14").outcome is Outcome.FAIL
    updatable = assess(catalogue, serve(vendor_site, sd.product_page(SENSOR)), site=vendor_site,
                       end=dt.date(2029, 12, 31))
    assert updatable.verdict("en303645", "5.3-14").outcome is Outcome.NOT_APPLICABLE


def _period(sentence: str) -> SupportPeriodFacts:
    return _period_of(sd.product_page(f"<p>{sentence}</p>"))


def _period_of(html: bytes) -> SupportPeriodFacts:
    text = document_text(html, "text/html")
    return collect_support_period(VendorDocuments(DocumentSources(documents=(("support", "x100.html"),)), None,
                                                  documents=(ReadDocument("support", "x100.html", "", text),)))


def _outlives(period: SupportPeriodFacts, components: Components) -> runner.RunResult:
    facts = {SupportPeriodFacts: period, Components: components, EndOfLife: end_of_life(),
             AssessmentTime: AssessmentTime(at=NOW)}
    return run_checks([spec_of(support.outlives_components)], facts, {})


def test_a_support_period_outliving_the_kernel_and_tls_branches_is_a_warning() -> None:
    result = _outlives(_period("Security updates until 31 December 2029."),
                       sd.components(("linux", "5.10.176"), ("openssl", "3.0.13"), ("busybox", "1.36.1")))
    messages = [f.message for f in result.findings]
    assert [f.severity.value for f in result.findings] == ["medium", "medium"]
    assert any("linux 5.10.176 (branch 5.10" in m and "on 2026-12-01" in m and "until 2029-12-31" in m
               for m in messages)
    assert any("openssl 3.0.13" in m and "on 2026-09-07" in m for m in messages)
    assert all(f.location.path == "x100.html" and f.location.line == 9 for f in result.findings)


def test_components_supported_beyond_the_period_or_unknown_to_the_table_are_clean() -> None:
    clean = _outlives(_period("Security updates until 30 June 2027."), sd.components(("linux", "6.1.80")))
    assert clean.findings == () and clean.runs[0].status is RunStatus.COMPLETED
    unknown = _outlives(_period("Security updates until 30 June 2027."), sd.components(("busybox", "1.36.1")))
    assert unknown.runs[0].status is RunStatus.NOT_APPLICABLE
    relative = _outlives(_period("Security updates for 2 years from the date of purchase."),
                         sd.components(("linux", "6.1.80"), ("openssl", "3.0.13")))
    assert [f.message.split(" (")[0] for f in relative.findings] == ["The support period runs until 2028-11-25"] * 2


DATES = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31))


@settings(max_examples=150, deadline=None)
@given(DATES, st.sampled_from(["{d.day} {m} {d.year}", "{d:%Y-%m-%d}", "{m} {d.day}, {d.year}", "{d:%d/%m/%Y}",
                               "{d.day}th of {m} {d.year}"]),
       st.sampled_from(["Security updates are provided until {x}.", "End of support: {x}",
                        "This model receives security updates through {x}."]))
def test_an_end_date_in_any_common_format_is_read_exactly(day: dt.date, form: str, sentence: str) -> None:
    stated = form.format(d=day, m=day.strftime("%B"))
    found = read_statement(sentence.format(x=stated), "x", 1)
    assert found is not None and (found.kind, found.end) == ("definite", day), stated


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(max_size=200), max_size=30), st.binary(max_size=3000))
def test_malformed_documents_never_raise(lines: list[str], data: bytes) -> None:
    for text in (document_text("\n".join(lines).encode("utf-8", "replace")), document_text(data, "text/html"),
                 document_text(data, "application/pdf")):
        docs = VendorDocuments(DocumentSources(documents=(("support", "f"),)), None,
                               documents=(ReadDocument("support", "f", "", text),))
        facts = collect_support_period(docs)
        assert facts.kind in ("definite", "relative", "vague", "none")
        result = run_checks([spec_of(c) for c in CHECKS[:3]],
                            {VendorDocuments: docs, SupportPeriodFacts: facts, AssessmentTime: AssessmentTime(at=NOW)},
                            {})
        assert all(r.status is not RunStatus.ERROR for r in result.runs)
        if facts.kind == "none" and facts.read:
            assert all(r.status is not RunStatus.COMPLETED or r.check_id != "doc.support-period.vague"
                       for r in result.runs)
