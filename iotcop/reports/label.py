"""The consumer label: what was tested, as a small SVG (and PNG) a shop or a box can show.

Three headline requirements of the UK PSTI regime, each judged by its Schedule 1 verdict (which rolls up
EN 303 645 5.1-1/5.1-2, 5.2-1 and 5.3-13): met, not met, not verified or does not apply, with whether it
was tested or only declared by the manufacturer. INCONCLUSIVE is "not verified", never green. The wording
says what was tested, never that the product is "secure".

The SVG is deterministic, self-contained (no external fonts, images or styles) and accessible: a <title>
and a <desc> that reads the whole label, and real text rather than paths. The PNG renders that SVG with
CairoSVG (PyPI ``cairosvg``, which needs Debian's ``libcairo2``).
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from iotcop.catalogue import Catalogue
from iotcop.errors import UsageError
from iotcop.model import NEEDS, Assessment, Basis, EvidenceKind, Outcome, Verdict

WIDTH, ROW, TOP = 480, 58, 178
FONT = "DejaVu Sans, Verdana, Arial, sans-serif"
MONO = "DejaVu Sans Mono, Menlo, Consolas, monospace"
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_ISO_DATE = re.compile(r"(?<![\d-])(\d{4}-\d{2}-\d{2})(?![\d-])")


@dataclass(frozen=True)
class Headline:
    title: str
    psti: str  # the PSTI Schedule 1 requirement that judges it
    en: str  # the EN 303 645 provision behind it (used when the PSTI verdict is missing)


HEADLINES = (
    Headline("No universal default passwords", "sch1-1", "5.1-1"),
    Headline("A way to report security issues", "sch1-2", "5.2-1"),
    Headline("Security updates", "sch1-3", "5.3-13"),
)
#: status → (symbol, circle colour, word). Only "met" is green.
STATUS = {"met": ("\u2713", "#1a7f37", "Met"), "not-met": ("\u2717", "#cf222e", "Not met"),
          "not-verified": ("?", "#9a6700", "Not verified"), "not-applicable": ("\u2013", "#6e7781", "Does not apply")}


@dataclass(frozen=True)
class Row:
    title: str
    status: str  # a key of STATUS
    detail: str
    refs: str


def clean(text: str, limit: int | None = None) -> str:
    """Text from the assessment, safe for XML 1.0 on one line, cut to ``limit`` characters."""
    text = " ".join(_INVALID_XML.sub("", text).split())
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "\u2026"


def _verdict(assessment: Assessment, framework: str, requirement: str) -> Verdict | None:
    try:
        return assessment.verdict(framework, requirement)
    except KeyError:
        return None


def _declared(assessment: Assessment, verdict: Verdict) -> bool:
    """Whether the outcome rests on the manufacturer's declaration (directly or in a rolled-up part)."""
    if verdict.basis is not Basis.DERIVED:
        return verdict.basis is Basis.DECLARED
    parts = [_verdict(assessment, *ref.split(":", 1)) for ref in verdict.derived_from]
    deciding = [p for p in parts if p is not None and p.outcome is verdict.outcome]
    return any(_declared(assessment, p) for p in deciding)


def _needs(assessment: Assessment, verdict: Verdict) -> str:
    reasons = [verdict.reason] + [p.reason for ref in verdict.derived_from
                                  if (p := _verdict(assessment, *ref.split(":", 1))) is not None]
    needs = [text for text in NEEDS.values() if any(text in r for r in reasons)]
    return f" ({needs[0]})" if needs else ""


def support_end(assessment: Assessment) -> dt.date | None:
    """The end of the support period, when the assessment states it: ``target.support_until`` where the model
    has it, else the one ISO date quoted by a passing EN 303 645 5.3-13 verdict (the declared support period)."""
    stated = getattr(assessment.target, "support_until", None)
    if isinstance(stated, dt.date):
        return stated
    verdict = _verdict(assessment, "en303645", "5.3-13")
    if verdict is None or verdict.outcome is not Outcome.PASS:
        return None
    dates = set(_ISO_DATE.findall(verdict.reason))
    if len(dates) != 1:
        return None  # none, or ambiguous: "not stated" rather than a guess
    try:
        return dt.date.fromisoformat(dates.pop())
    except ValueError:
        return None


def _row(assessment: Assessment, headline: Headline, assessed: dt.date | None) -> Row:
    verdict = _verdict(assessment, "psti", headline.psti) or _verdict(assessment, "en303645", headline.en)
    refs = f"UK PSTI Sch 1 para {headline.psti.removeprefix('sch1-')} \u00b7 EN 303 645 {headline.en}"
    title = headline.title
    ended = False
    if headline.psti == "sch1-3":
        end = support_end(assessment)
        ended = end is not None and assessed is not None and end < assessed
        title = f"Security updates until {end.isoformat()}" if end else "Security updates until: not stated"
    if verdict is None:
        return Row(title, "not-verified", "Not verified (not part of this assessment)", refs)
    how = "as declared by the manufacturer, not tested" if _declared(assessment, verdict) else "tested"
    if ended:
        return Row(title, "not-met", "Not met: the support period ended before the assessment", refs)
    if verdict.outcome is Outcome.PASS:
        return Row(title, "met", f"Met, {how}", refs)
    if verdict.outcome is Outcome.FAIL:
        found = "found in testing" if how == "tested" else "as declared by the manufacturer"
        return Row(title, "not-met", f"Not met, {found}", refs)
    if verdict.outcome is Outcome.NOT_APPLICABLE:
        declared = ", as declared by the manufacturer" if how != "tested" else ""
        return Row(title, "not-applicable", f"Does not apply to this product{declared}", refs)
    return Row(title, "not-verified", f"Not verified{_needs(assessment, verdict)}", refs)


def label_rows(assessment: Assessment) -> list[Row]:
    """The label's three lines, as shown."""
    return [_row(assessment, h, _assessed_on(assessment)) for h in HEADLINES]


def _assessed_on(assessment: Assessment) -> dt.date | None:
    try:
        return dt.datetime.fromisoformat(assessment.generated_at).date()
    except ValueError:
        return None


def _text(parent: ET.Element, x: int, y: int, text: str, size: int = 12, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, "text", {"x": str(x), "y": str(y), "font-size": str(size), **attrs})
    element.text = text
    return element


def _evidence(assessment: Assessment) -> str:
    names = {EvidenceKind.FIRMWARE: "firmware image", EvidenceKind.NETWORK: "live device",
             EvidenceKind.DOCUMENT: "vendor documents", EvidenceKind.DECLARATION: "manufacturer's declaration"}
    return ", ".join(names[k] for k in assessment.inputs) or "none"


def render_label_svg(assessment: Assessment, catalogue: Catalogue, verification_code: str | None = None) -> bytes:
    """The label as SVG bytes (UTF-8, deterministic)."""
    product = clean(assessment.target.product or assessment.target.name, 36) or "unnamed product"
    version = clean(assessment.target.version or "not stated", 30)
    assessed = _assessed_on(assessment)
    date = assessed.isoformat() if assessed else clean(assessment.generated_at, 30)
    rows = label_rows(assessment)
    law = _law(catalogue)
    code = clean(verification_code, 20) if verification_code else None
    height = TOP + ROW * len(rows) + 92
    svg = ET.Element("svg", {"xmlns": "http://www.w3.org/2000/svg", "version": "1.1", "width": str(WIDTH),
                             "height": str(height), "viewBox": f"0 0 {WIDTH} {height}", "role": "img",
                             "aria-labelledby": "label-title label-desc", "lang": "en", "font-family": FONT})
    ET.SubElement(svg, "title", {"id": "label-title"}).text = f"Security label: {product} {version}: what was tested"
    desc = [f"Product {product}, firmware version {version}, assessed on {date} with iotcop "
            f"{clean(assessment.tool.version, 20)} against {law}."]
    desc += [f"{r.title}: {r.detail} ({r.refs})." for r in rows]
    desc.append(f"Verification code {code}." if code else "Not signed: no verification code.")
    ET.SubElement(svg, "desc", {"id": "label-desc"}).text = " ".join(desc)
    ET.SubElement(svg, "rect", {"x": "1", "y": "1", "width": str(WIDTH - 2), "height": str(height - 2), "rx": "10",
                                "fill": "#ffffff", "stroke": "#1f2328", "stroke-width": "2"})
    ET.SubElement(svg, "path", {"d": f"M1 11a10 10 0 0 1 10-10h{WIDTH - 22}a10 10 0 0 1 10 10v51h-{WIDTH - 2}z",
                                "fill": "#1f2328"})
    _text(svg, 20, 32, "Security baseline: what was tested", 19, fill="#ffffff", **{"font-weight": "bold"})
    _text(svg, 20, 52, f"Headline requirements of {law}", 11, fill="#d0d7de")
    _text(svg, 20, 92, product, 17, fill="#1f2328", **{"font-weight": "bold"})
    _text(svg, 20, 114, f"Firmware version {version}", 13, fill="#1f2328")
    _text(svg, 20, 134, f"Assessed on {date} by iotcop {clean(assessment.tool.version, 20)}", 12, fill="#424a53")
    _text(svg, 20, 152, f"Evidence: {_evidence(assessment)}", 12, fill="#424a53")
    for i, row in enumerate(rows):
        _draw_row(svg, TOP + i * ROW, row)
    _footer(svg, TOP + ROW * len(rows), code)
    ET.indent(svg, space=" ")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(svg, encoding="unicode") + "\n").encode()


def _law(catalogue: Catalogue) -> str:
    try:
        return f"UK PSTI ({clean(catalogue.framework('psti').info.version, 30)})"
    except UsageError:
        return "UK PSTI"


def _draw_row(svg: ET.Element, y: int, row: Row) -> None:
    symbol, colour, _ = STATUS[row.status]
    group = ET.SubElement(svg, "g", {"class": f"row {row.status}"})
    ET.SubElement(group, "line", {"x1": "16", "y1": str(y - 6), "x2": str(WIDTH - 16), "y2": str(y - 6),
                                  "stroke": "#d0d7de", "stroke-width": "1"})
    ET.SubElement(group, "circle", {"cx": "36", "cy": str(y + 18), "r": "15", "fill": colour})
    _text(group, 36, y + 24, symbol, 18, fill="#ffffff", **{"text-anchor": "middle", "font-weight": "bold",
                                                             "aria-hidden": "true"})
    _text(group, 62, y + 12, row.title, 15, fill="#1f2328", **{"font-weight": "bold"})
    _text(group, 62, y + 30, row.detail, 12, fill=colour if row.status != "not-applicable" else "#424a53")
    _text(group, 62, y + 45, row.refs, 10, fill="#6e7781")


def _footer(svg: ET.Element, y: int, code: str | None) -> None:
    ET.SubElement(svg, "line", {"x1": "16", "y1": str(y - 6), "x2": str(WIDTH - 16), "y2": str(y - 6),
                                "stroke": "#d0d7de", "stroke-width": "1"})
    if code:
        _text(svg, 20, y + 18, "Verification code", 12, fill="#424a53")
        _text(svg, 150, y + 19, code, 17, fill="#1f2328", **{"font-family": MONO, "font-weight": "bold"})
        _text(svg, 20, y + 38, "Check it against the signed report: iotcop verify", 11, fill="#424a53")
    else:
        _text(svg, 20, y + 18, "Not signed: no verification code", 12, fill="#424a53")
    _text(svg, 20, y + 58, "Shows only what was tested or declared for this firmware version;", 11, fill="#424a53")
    _text(svg, 20, y + 73, "it is not a guarantee that the product is free of security flaws.", 11, fill="#424a53")


def render_label_png(assessment: Assessment, catalogue: Catalogue, verification_code: str | None = None) -> bytes:
    """The label as PNG (the SVG rendered at twice its size by CairoSVG)."""
    svg = render_label_svg(assessment, catalogue, verification_code)
    try:
        import cairosvg  # type: ignore[import-untyped]
    except (ImportError, OSError) as exc:  # cairocffi raises OSError when libcairo2 is missing
        raise UsageError(f"the PNG label needs CairoSVG and the cairo library (pip cairosvg, Debian libcairo2): "
                         f"{exc}") from exc
    return bytes(cairosvg.svg2png(bytestring=svg, scale=2, unsafe=False))
