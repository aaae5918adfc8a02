"""Every report format iotcop writes from a saved assessment: name, file name and renderer.

Renderers are pure functions ``render(assessment, catalogue) -> bytes`` imported only when used, so that
asking for SARIF does not pay for WeasyPrint. ``iotcop report`` and ``iotcop assess ... --report`` both
go through ``render_formats``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from iotcop.catalogue import Catalogue
from iotcop.errors import UsageError
from iotcop.model import Assessment

Renderer = Callable[[Assessment, Catalogue], bytes]


@dataclass(frozen=True)
class ReportFormat:
    name: str
    filename: str
    target: str  # "module:function"
    description: str

    def renderer(self) -> Renderer:
        module, _, function = self.target.partition(":")
        render: Renderer = getattr(importlib.import_module(module), function)
        return render


FORMATS: dict[str, ReportFormat] = {f.name: f for f in (
    ReportFormat("json", "assessment.json", "iotcop.reports.formats:render_json_report",
                 "the assessment itself (the public, versioned interface)"),
    ReportFormat("sbom", "sbom.cdx.json", "iotcop.reports.formats:render_sbom_report", "CycloneDX 1.6 SBOM"),
    ReportFormat("html", "report.html", "iotcop.reports.html:render_html", "self-contained HTML report"),
    ReportFormat("pdf", "report.pdf", "iotcop.reports.pdf:render_pdf", "PDF of the HTML report"),
    ReportFormat("sarif", "iotcop.sarif", "iotcop.reports.sarif:render_sarif", "SARIF 2.1.0 for code scanning"),
    ReportFormat("junit", "junit.xml", "iotcop.reports.junit:render_junit",
                 "JUnit XML: each requirement a test case"),
    ReportFormat("md", "summary.md", "iotcop.reports.markdown:render_markdown", "Markdown summary for pull requests"),
    ReportFormat("vex", "vex.cdx.json", "iotcop.reports.formats:render_vex_report",
                 "CycloneDX VEX of the vulnerability findings"),
    ReportFormat("label", "label.svg", "iotcop.reports.label:render_label_svg", "consumer label (SVG)"),
    ReportFormat("label-png", "label.png", "iotcop.reports.label:render_label_png", "consumer label (PNG)"),
)}


def render_json_report(assessment: Assessment, catalogue: Catalogue) -> bytes:
    from iotcop.reports.json import render_json

    return render_json(assessment)


def render_sbom_report(assessment: Assessment, catalogue: Catalogue) -> bytes:
    from iotcop.reports.sbom import render_sbom

    return render_sbom(assessment)


def render_vex_report(assessment: Assessment, catalogue: Catalogue) -> bytes:
    from iotcop.reports.vex import render_vex

    return render_vex(assessment)


def parse_formats(text: str | Iterable[str]) -> list[ReportFormat]:
    """'html,sarif' (or a list of such) → formats in the order given, each once; unknown names are a usage error."""
    names = [n.strip().lower() for part in ([text] if isinstance(text, str) else text) for n in part.split(",")]
    chosen: list[ReportFormat] = []
    for name in filter(None, names):
        if name == "all":
            chosen.extend(f for f in FORMATS.values() if f not in chosen)
            continue
        if name not in FORMATS:
            raise UsageError(f"unknown report format {name!r}; choose from {', '.join(FORMATS)} or all")
        if FORMATS[name] not in chosen:
            chosen.append(FORMATS[name])
    if not chosen:
        raise UsageError("no report format given")
    return chosen
