"""Statements of compliance as vendors publish them: HTML pages, PDFs written by WeasyPrint, text and the
iotcop-statement/1 YAML form; complete, and with elements left out or left as template placeholders.

``run_statement`` runs the doc.* checks as ``assess_documents`` does once the lead has wired the statement
facts and checks; until then it does the same wiring itself (the catalogue gets the proposed PSTI requirement
``soc-1``, ``PROPOSED_SOC``), so the tests assert verdicts either way.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

from iotcop.api import assess_documents
from iotcop.catalogue import DATA_DIR, Catalogue, load_catalogue
from iotcop.checks.doc import statement as checks
from iotcop.checks.registry import REGISTRY, spec_of
from iotcop.documents.facts import DocumentSources, VendorDocuments, collect_documents
from iotcop.documents.statement import StatementFacts, collect_statement
from iotcop.evaluation import evaluate
from iotcop.model import NEEDS, AssessmentTime, CheckRun, EvidenceKind, Finding, RunStatus, Verdict
from iotcop.runner import Unavailable, run_checks

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
CHECKS = (checks.missing_element, checks.no_support_period, checks.contradiction)

# The catalogue wiring proposed to the lead (appended to psti-2023.yaml's groups and requirements).
PROPOSED_SOC_GROUP = "  - {id: soc, title: Statement of compliance}\n"
PROPOSED_SOC = """
  - id: soc-1
    group: soc
    title: The product is accompanied by a statement of compliance with the content the regulations require
    status: mandatory
    evidence_kinds: [document]
    evidenced_by: [doc.statement.missing-element, doc.statement.no-support-period]
    refuted_by: [doc.statement.contradiction]
    related: ["psti:sch1-3"]
    declarable: false
    notes: >-
      PSTI Act 2022 s.9 (checked via the Explanatory Notes) and the regulations' schedule of minimum content
      (product type and batch, manufacturer's name and address, declaration of compliance, defined support
      period, signatory's name and function, place and date of issue) [unverified: schedule text not read;
      shared/reference/provisions.md 4.5]. Whether the statement accompanies the product cannot be observed.
      SI 2025/1267 reg 4A and Sch 2A accept a current JC-STAR STAR-1 or CLS(IoT) label instead [unverified].
"""

ELEMENT_LINES = {
    "title": "<h1>Statement of Compliance</h1>",
    "product_type": "<p>Product type: Smart camera</p>",
    "product_batch": "<p>Batch: EC-100, batches 2025-01 onwards</p>",
    "manufacturer": "<p>Name and address of the manufacturer: Acme Devices Ltd, 1 High Street, London SW1A 1AA</p>",
    "prepared_by": "<p>This statement of compliance is prepared by or on behalf of the manufacturer.</p>",
    "compliance": "<p>In the opinion of the manufacturer, Acme Devices Ltd has complied with the applicable "
                  "security requirements in Schedule 1 to the Product Security and Telecommunications "
                  "Infrastructure (Security Requirements for Relevant Connectable Products) Regulations 2023.</p>",
    "support_period": "<p>Defined support period: security updates will be provided until 31 December 2029.</p>",
    "signatory_name": "<p>Signed for and on behalf of Acme Devices Ltd</p><p>Name: Jane Smith</p>",
    "signatory_function": "<p>Function: Head of Product Security</p>",
    "place_of_issue": "<p>Place of issue: London</p>",
    "date_of_issue": "<p>Date of issue: 1 March 2025</p>",
}


def statement_html(*, without: tuple[str, ...] = (), replace: dict[str, str] | None = None) -> bytes:
    parts = {**ELEMENT_LINES, **(replace or {})}
    body = "".join(v for k, v in parts.items() if k not in without)
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>SoC</title></head><body>{body}</body></html>" \
        .encode()


def statement_pdf(path: Path, html: bytes) -> Path:
    import weasyprint  # type: ignore[import-untyped]

    weasyprint.HTML(string=html.decode()).write_pdf(str(path))
    return path


TABLE_HTML = (b"<html><body><h1>Statement of compliance</h1><table>"
              b"<tr><th>Product type</th><td>Smart camera</td></tr><tr><th>Model</th><td>EC-100</td></tr>"
              b"<tr><th>Manufacturer</th><td>Acme Devices Ltd<br>1 High Street<br>London SW1A 1AA</td></tr>"
              b"<tr><th>Defined support period</th><td>Security updates for at least five years</td></tr></table>"
              b"<p>We will comply with the security requirements of the PSTI regulations.</p>"
              b"<p>Issued in London on 1 March 2025.</p></body></html>")

STATEMENT_YAML = """\
schema: iotcop-statement/1
product_type: Smart camera
product_batch: EC-100 (batches from 2025-01)
manufacturer:
  name: Acme Devices Ltd
  address: 1 High Street, London SW1A 1AA
prepared_by_or_on_behalf_of_manufacturer: true
compliance:
  declared: true
  requirements: [sch1-1, sch1-2, sch1-3]
support_period:
  end_date: 2029-12-31
signatory:
  name: Jane Smith
  function: Head of Product Security
place_of_issue: London
date_of_issue: 2025-03-01
"""


def catalogue_with_soc(workdir: Path) -> Catalogue:
    """The shipped catalogue plus the proposed soc-1 requirement (unless the lead has added it already)."""
    shipped = load_catalogue()
    if "soc-1" in shipped.framework("psti"):
        return shipped
    data = workdir / "catalogue"
    if not data.exists():
        shutil.copytree(DATA_DIR, data)
        psti = data / "psti-2023.yaml"
        text = psti.read_text()
        text = text.replace("groups:\n", "groups:\n" + PROPOSED_SOC_GROUP, 1)
        psti.write_text(text.rstrip("\n") + "\n" + PROPOSED_SOC)
    return load_catalogue(data, [*REGISTRY.ids(), *(spec_of(c).id for c in CHECKS)])


def run_statement(sources: DocumentSources, workdir: Path,
                  extra: Callable[[VendorDocuments], dict[type, object]] | None = None
                  ) -> tuple[list[Finding], dict[str, CheckRun], dict[str, Verdict]]:
    """The document assessment with the statement wired in: findings, runs by check id, verdicts by ref."""
    if spec_of(checks.missing_element).id in REGISTRY and extra is None:  # wired: the real thing
        a = assess_documents(sources, clock=lambda: NOW)
        return (list(a.findings), {r.check_id: r for r in a.check_runs},
                {f"{v.framework}:{v.requirement_id}": v for v in a.verdicts})
    catalogue = catalogue_with_soc(workdir)
    docs = collect_documents(sources)
    bag: dict[type, object] = {Catalogue: catalogue, AssessmentTime: AssessmentTime(at=NOW), VendorDocuments: docs,
                               StatementFacts: collect_statement(docs), **(extra(docs) if extra else {})}
    specs = [*REGISTRY, *(spec_of(c) for c in CHECKS if spec_of(c).id not in REGISTRY)]
    unavailable = {kind: Unavailable(RunStatus.NOT_RUN, NEEDS[kind])
                   for kind in (EvidenceKind.FIRMWARE, EvidenceKind.NETWORK, EvidenceKind.DECLARATION)}
    result = run_checks(specs, bag, unavailable)
    verdicts = evaluate(catalogue, result.runs, result.findings, None)
    return (list(result.findings), {r.check_id: r for r in result.runs},
            {f"{v.framework}:{v.requirement_id}": v for v in verdicts})
