"""The assessment as one self-contained HTML page: CSS inline, charts as inline SVG, no script, no external asset.

A pure function of the assessment and the catalogue (titles of frameworks, requirements and groups come
from the catalogue; a verdict of a framework the catalogue does not know is still shown, by its id).
Jinja2 autoescapes every value; control characters of hostile input (file names, banners) are shown as
``\\xNN`` text, since HTML cannot carry most of them. The same page, with every drill-down opened, is
the PDF (``iotcop.reports.pdf``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from iotcop.catalogue import Catalogue, Framework
from iotcop.errors import UsageError
from iotcop.model import Assessment, Component, Finding, Outcome, RunStatus, Severity, Verdict
from iotcop.reports import charts

OUTCOMES = tuple(Outcome)
SHOWN_FIRST = ("cop2018", "psti")  # the executive summary's frameworks, when the assessment has them
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_VULN_ID = re.compile(r" is affected by (\S+)")


@dataclass(frozen=True)
class Part:
    """A requirement a rolled-up verdict derives from."""

    ref: str
    title: str
    outcome: Outcome | None  # None when the assessment has no verdict for it


@dataclass(frozen=True)
class Row:
    """One requirement of one framework with its verdict and what decided it."""

    verdict: Verdict
    title: str
    group: str
    status: str
    findings: tuple[Finding, ...]
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class FrameworkView:
    id: str
    title: str
    version: str
    rows: tuple[Row, ...]
    counts: dict[str, int]
    mandatory_failed: tuple[str, ...]


@dataclass(frozen=True)
class ComponentView:
    component: Component
    vulnerabilities: tuple[tuple[str, Finding], ...]  # (CVE id, its finding)
    other: tuple[Finding, ...]  # end of life and other findings about the component


def render_html(assessment: Assessment, catalogue: Catalogue) -> bytes:
    """Deterministic UTF-8 bytes of the report page."""
    return _render(assessment, catalogue, printable=False)


def render_printable_html(assessment: Assessment, catalogue: Catalogue) -> bytes:
    """The same page with every drill-down open (what the PDF is made from)."""
    return _render(assessment, catalogue, printable=True)


def _render(assessment: Assessment, catalogue: Catalogue, printable: bool) -> bytes:
    frameworks = _frameworks(assessment, catalogue)
    by_id = {fw.id: fw for fw in frameworks}
    page = _environment().get_template("report.html.j2").render(
        a=assessment, frameworks=frameworks, first=[by_id[f] for f in SHOWN_FIRST if f in by_id],
        overall=_overall(assessment), charts=_charts(assessment, frameworks), components=_components(assessment),
        severities=_by_severity(assessment.findings), runs=_runs(assessment), printable=printable,
        outcomes=OUTCOMES, word=_word, device=_device(assessment),
    )
    return page.encode("utf-8")


@dataclass(frozen=True)
class DeviceView:
    hosts: tuple[str, ...]
    by_probe: tuple[tuple[str, int], ...]  # most connections first
    by_outcome: tuple[tuple[str, int], ...]
    shown: int = 500  # connections listed one by one (a full port scan without nmap makes 65,535)


def _device(assessment: Assessment) -> DeviceView:
    probes = Counter(c.probe.split(" (")[0].split(":")[0] for c in assessment.connections)
    outcomes = Counter(c.outcome.split(":")[0] for c in assessment.connections)
    hosts = tuple(sorted({c.host for c in assessment.connections}))
    return DeviceView(hosts, tuple(probes.most_common()), tuple(outcomes.most_common()))


def visible(value: object) -> object:
    """Show control characters as text (``\\x07``); everything else unchanged (Jinja2 escapes it after)."""
    if isinstance(value, Markup | int | float) or value is None:
        return value
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", str(value))


@cache
def _environment() -> Environment:
    return Environment(loader=PackageLoader("iotcop.reports", "templates"), finalize=visible,
                       autoescape=select_autoescape(default=True, default_for_string=True),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def _word(outcome: Outcome | None) -> str:
    return "NOT RUN" if outcome is None else outcome.value.replace("_", " ")


def _framework_order(assessment: Assessment, catalogue: Catalogue) -> list[str]:
    seen = [fw.id for fw in catalogue.frameworks]
    return [*(f for f in seen if any(v.framework == f for v in assessment.verdicts)),
            *dict.fromkeys(v.framework for v in assessment.verdicts if v.framework not in seen)]


def _frameworks(assessment: Assessment, catalogue: Catalogue) -> list[FrameworkView]:
    known = {fw.id: fw for fw in catalogue.frameworks}
    refs = {c.framework: c for c in assessment.catalogues}
    summaries = {s.framework: s for s in assessment.summary}
    findings = {f.fingerprint: f for f in assessment.findings}
    verdicts = {f"{v.framework}:{v.requirement_id}": v for v in assessment.verdicts}
    views = []
    for fid in _framework_order(assessment, catalogue):
        fw = known.get(fid)
        rows = tuple(_row(v, fw, catalogue, findings, verdicts) for v in assessment.verdicts if v.framework == fid)
        ref = refs.get(fid)
        title = fw.info.title if fw else (ref.title if ref else fid)
        version = fw.info.version if fw else (ref.version if ref else "")
        summary = summaries.get(fid)
        counts = Counter(r.verdict.outcome.value for r in rows)
        views.append(FrameworkView(id=fid, title=title, version=version, rows=rows,
                                   counts={o.value: counts.get(o.value, 0) for o in OUTCOMES},
                                   mandatory_failed=summary.mandatory_failed if summary else ()))
    return views


def _row(v: Verdict, fw: Framework | None, catalogue: Catalogue, findings: dict[str, Finding],
         verdicts: dict[str, Verdict]) -> Row:
    req = fw.requirement(v.requirement_id) if fw is not None and v.requirement_id in fw else None
    groups = {g.id: g.title for g in fw.groups} if fw else {}
    parts = []
    for ref in v.derived_from:
        try:
            title = catalogue.resolve(ref)[1].title
        except UsageError:  # a reference the catalogue does not know: still listed, by its id
            title = ""
        part = verdicts.get(ref)
        parts.append(Part(ref=ref, title=title, outcome=part.outcome if part else None))
    status = (req.status.value if req else ("mandatory" if v.mandatory else "")).replace("-", ", ")
    return Row(verdict=v, title=req.title if req else "", group=groups.get(req.group, "") if req else "",
               status=status, findings=tuple(findings[fp] for fp in v.findings if fp in findings), parts=tuple(parts))


def _overall(assessment: Assessment) -> dict[str, object]:
    """The one-line answer: FAIL if a mandatory requirement failed; INCONCLUSIVE if one could not be
    established; PASS only when every mandatory requirement passed or does not apply."""
    mandatory = [v for v in assessment.verdicts if v.mandatory]
    failed = [v for v in mandatory if v.outcome is Outcome.FAIL]
    open_ = [v for v in mandatory if v.outcome is Outcome.INCONCLUSIVE]
    if failed:
        outcome, text = Outcome.FAIL, f"{len(failed)} mandatory requirement(s) failed."
    elif open_:
        outcome, text = Outcome.INCONCLUSIVE, (f"No mandatory requirement failed, but {len(open_)} could not be "
                                               "established from the evidence supplied: this is not a pass.")
    elif assessment.verdicts:
        outcome, text = Outcome.PASS, "Every mandatory requirement passed or does not apply."
    else:
        outcome, text = Outcome.INCONCLUSIVE, "The assessment holds no verdict."
    return {"outcome": outcome, "text": text, "failed": failed}


def _charts(assessment: Assessment, frameworks: list[FrameworkView]) -> dict[str, Markup]:
    out: dict[str, Markup] = {}
    by_id = {fw.id: fw for fw in frameworks}
    if "cop2018" in by_id:
        rows = []
        for row in by_id["cop2018"].rows:
            tally = Counter(p.outcome for p in row.parts if p.outcome is not None)
            segments = tuple(charts.Segment(o.value, tally[o]) for o in OUTCOMES)
            if not row.parts:  # not rolled up: one segment, its own verdict
                segments = (charts.Segment(row.verdict.outcome.value, 1),)
            rows.append(charts.BarRow(f"{row.verdict.requirement_id}. {row.title}", segments,
                                      _word(row.verdict.outcome)))
        out["guidelines"] = charts.stacked_bars(
            "Verdict per UK CoP guideline, bars counting the EN 303 645 provisions it rolls up", rows,
            [o.value for o in OUTCOMES])
    if frameworks:
        rows = [charts.BarRow(fw.id, tuple(charts.Segment(o.value, fw.counts[o.value]) for o in OUTCOMES),
                              f"{len(fw.rows)} verdicts") for fw in frameworks]
        out["frameworks"] = charts.stacked_bars("Verdicts per framework", rows, [o.value for o in OUTCOMES])
    if assessment.findings:
        counts = Counter(f.severity for f in assessment.findings)
        out["severity"] = charts.counted_bars("Findings by severity",
                                              [(s.value, counts.get(s, 0)) for s in reversed(Severity)])
    if (h := assessment.hardening) is not None and h.binaries:
        out["hardening"] = charts.coverage_bars("Exploit mitigations over the image's binaries", [
            ("Non-executable stack (NX)", h.nx, h.binaries), ("PIE (executables)", h.pie, h.executables),
            ("Full RELRO", h.relro_full, h.binaries), ("Full or partial RELRO", h.relro_full + h.relro_partial,
                                                       h.binaries),
            ("Stack canary", h.canary, h.binaries), ("FORTIFY_SOURCE", h.fortify, h.binaries)])
    return out


def _components(assessment: Assessment) -> list[ComponentView]:
    about = [f for f in assessment.findings if f.check_id.startswith("fw.components.")]
    views = []
    for c in assessment.components:
        prefix = f"{c.name} {c.version} " if c.version else f"{c.name} "
        mine = [f for f in about if f.message.startswith(prefix)]
        vulns = tuple((m.group(1).rstrip(":,"), f) for f in mine if (m := _VULN_ID.search(f.message)))
        views.append(ComponentView(c, vulns, tuple(f for f in mine if not _VULN_ID.search(f.message))))
    return views


def _by_severity(findings: Iterable[Finding]) -> list[tuple[Severity, list[Finding]]]:
    groups: dict[Severity, list[Finding]] = {}
    for f in findings:
        groups.setdefault(f.severity, []).append(f)
    return [(s, groups[s]) for s in reversed(Severity) if s in groups]


def _runs(assessment: Assessment) -> dict[str, object]:
    counts = Counter(r.status for r in assessment.check_runs)
    return {"counts": [(s.value.replace("_", " "), counts.get(s, 0)) for s in RunStatus],
            "unfinished": [r for r in assessment.check_runs if r.status is not RunStatus.COMPLETED]}
