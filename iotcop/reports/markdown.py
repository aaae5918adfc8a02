"""A Markdown summary of the assessment, sized for a pull-request comment.

Overall result, verdict counts per framework, the mandatory requirements that failed, the top findings with
their location, and the components with known vulnerabilities. Every section is bounded (rows and cell
length), so a hostile image with ten thousand findings still gives a comment a forge accepts.

Everything that comes from the input is escaped: Markdown and HTML metacharacters are backslash-escaped,
table pipes and newlines cannot break a row, identifiers and paths go in code spans, URLs are code spans
(never links: the summary is link-free), ``@`` cannot mention a user, control characters are shown as
``\\xNN``. Deterministic: the same assessment gives the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from iotcop.catalogue import Catalogue
from iotcop.errors import UsageError
from iotcop.model import Assessment, Finding, Outcome, Severity

MAX_FAILED = 15
MAX_FINDINGS = 10
MAX_COMPONENTS = 10
MAX_CELL = 240
VULN_CHECK = "fw.components.known-vulnerability"
ICON = {Outcome.PASS: "✅", Outcome.FAIL: "❌", Outcome.INCONCLUSIVE: "❔", Outcome.NOT_APPLICABLE: "\u2796"}

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")
_URL = re.compile(r"(?i)\b(?:[a-z][a-z0-9+.-]*://|www\.)\S+")
_PUNCT = frozenset("\\`*_[]<>#|~&$")  # with [ ] escaped, ( ) cannot make a link
_VULN_ID = re.compile(r"\b(?:CVE-\d{4}-\d{4,}|GHSA(?:-[0-9a-z]{4}){3}|[A-Z]+-\d{4}-[0-9A-Za-z-]+)\b")


def _visible(text: str, limit: int = MAX_CELL) -> str:
    """One line of at most ``limit`` characters, control characters shown as escapes."""
    text = " ".join(text.split())  # newlines (and any run of white space) would end a table row
    text = _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def text(value: str, limit: int = MAX_CELL) -> str:
    """Untrusted text as inert Markdown: escaped punctuation, URLs as code spans, no mentions."""
    value = _visible(value, limit)
    out: list[str] = []
    last = 0
    for m in _URL.finditer(value):
        out.append(_escape(value[last:m.start()]))
        out.append(code(m.group()))
        last = m.end()
    out.append(_escape(value[last:]))
    return "".join(out)


def _escape(value: str) -> str:
    escaped = "".join("\\" + ch if ch in _PUNCT else ch for ch in value)
    # a zero-width space after '@' and before an issue number: no @mention, no #123 cross-reference
    return re.sub(r"(?<=\\#)(?=\d)", "\u200b", escaped.replace("@", "@\u200b"))


def code(value: str, limit: int = MAX_CELL) -> str:
    """A code span that survives any content: a fence longer than any backtick run, pipes escaped for tables."""
    value = _visible(value, limit).replace("|", "\\|")
    runs = [len(r) for r in re.findall("`+", value)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if value.startswith(("`", " ")) or value.endswith(("`", " ")) else ""
    return f"{fence}{pad}{value}{pad}{fence}" if value else "` `"


def _table(header: Iterable[str], rows: Iterable[Iterable[str]], align: str = "") -> list[str]:
    header = list(header)
    marks = [":---" if i == 0 or not align else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(marks) + " |"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


def render_markdown(assessment: Assessment, catalogue: Catalogue) -> bytes:
    lines = _head(assessment)
    lines += ["", *_counts(assessment, catalogue)]
    lines += _failed(assessment, catalogue)
    lines += _findings(assessment.findings)
    lines += _vulnerable_components(assessment)
    lines += ["", f"_iotcop {text(assessment.tool.version, 40)}, assessed {text(assessment.generated_at, 40)}; "
                  "the verdicts say what was tested, not that the product is secure._"]
    return ("\n".join(lines) + "\n").encode("utf-8", errors="replace")


def _head(assessment: Assessment) -> list[str]:
    t = assessment.target
    failed = sum(len(s.mandatory_failed) for s in assessment.summary)
    inconclusive = sum(s.counts.INCONCLUSIVE for s in assessment.summary)
    if failed:
        overall = f"❌ **FAIL**: {failed} mandatory requirement(s) failed"
    else:
        overall = "✅ **No mandatory requirement failed**"
    if inconclusive:
        overall += f" ({inconclusive} could not be established)"
    product = " ".join(p for p in (t.product, t.version) if p)
    ident = [f"**Target** {code(t.name, 120)}"]
    if product:
        ident.append(f"product {text(product, 120)}")
    if t.sha256:
        ident.append(f"sha256 {code(t.sha256[:16])}…")
    return [f"## iotcop assessment: {text(t.product or t.name, 120)}", "", overall, "", " · ".join(ident)]


def _title(catalogue: Catalogue, framework_id: str, requirement_id: str | None = None) -> str:
    try:
        fw = catalogue.framework(framework_id)
        if requirement_id is None:
            return fw.info.title
        return fw.requirement(requirement_id).title
    except UsageError:  # verdicts from a catalogue this version no longer ships
        return ""


def _counts(assessment: Assessment, catalogue: Catalogue) -> list[str]:
    rows = []
    for s in assessment.summary:
        name = _title(catalogue, s.framework) or s.framework
        c = s.counts
        rows.append([text(name, 100), str(c.PASS), str(c.FAIL), str(c.INCONCLUSIVE), str(c.NOT_APPLICABLE),
                     str(len(s.mandatory_failed))])
    header = ["Framework", f"{ICON[Outcome.PASS]} pass", f"{ICON[Outcome.FAIL]} fail",
              f"{ICON[Outcome.INCONCLUSIVE]} inconclusive", f"{ICON[Outcome.NOT_APPLICABLE]} n/a", "mandatory failed"]
    return _table(header, rows, align="right")


def _failed(assessment: Assessment, catalogue: Catalogue) -> list[str]:
    failed = [v for v in assessment.verdicts if v.outcome is Outcome.FAIL and v.mandatory]
    if not failed:
        return []
    rows = [[code(f"{v.framework}:{v.requirement_id}", 60), text(_title(catalogue, v.framework, v.requirement_id)),
             text(v.reason)] for v in failed[:MAX_FAILED]]
    lines = ["", f"### Mandatory requirements failed ({len(failed)})", "",
             *_table(["Requirement", "Title", "Why"], rows)]
    return lines + _more(len(failed) - MAX_FAILED, "requirement")


def _findings(findings: Iterable[Finding]) -> list[str]:
    failing = [f for f in findings if f.severity is not Severity.INFO]  # INFO observations fail nothing
    if not failing:
        return []
    top = sorted(failing, key=Finding.sort_key)[:MAX_FINDINGS]
    rows = [[f.severity.value.upper(), code(f.check_id, 80), code(str(f.location), 120), text(f.message)]
            for f in top]
    lines = ["", f"### Top findings ({len(top)} of {len(failing)})", "",
             *_table(["Severity", "Check", "Location", "Finding"], rows)]
    return lines + _more(len(failing) - MAX_FINDINGS, "finding")


def _vulnerable_components(assessment: Assessment) -> list[str]:
    by_component: dict[str, list[Finding]] = {}
    for f in assessment.findings_of(VULN_CHECK):
        by_component.setdefault(_component_of(assessment, f), []).append(f)
    if not by_component:
        return []
    ordered = sorted(by_component.items(), key=lambda kv: (-max(f.severity.rank for f in kv[1]), kv[0]))
    rows = []
    for name, found in ordered[:MAX_COMPONENTS]:
        ids = sorted({m for f in found for m in _VULN_ID.findall(f.message)})
        worst = max((f.severity for f in found), key=lambda s: s.rank)
        listed = ", ".join(ids[:8]) + (f" and {len(ids) - 8} more" if len(ids) > 8 else "")
        rows.append([code(name, 80), str(len(found)), worst.value.upper(), text(listed or "see findings")])
    lines = ["", f"### Components with known vulnerabilities ({len(by_component)})", "",
             *_table(["Component", "Vulnerabilities", "Worst", "Identifiers"], rows)]
    return lines + _more(len(by_component) - MAX_COMPONENTS, "component")


def _component_of(assessment: Assessment, finding: Finding) -> str:
    """The component a vulnerability finding is about: the one found where the finding points, else the
    name the message starts with."""
    for c in assessment.components:
        if finding.location.path in c.locations:
            return f"{c.name} {c.version or ''}".strip()
    return finding.message.split(" is affected by ", 1)[0][:80]


def _more(count: int, what: str) -> list[str]:
    return ["", f"…and {count} more {what}(s): see the full report."] if count > 0 else []
