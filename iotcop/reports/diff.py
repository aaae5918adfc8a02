"""What changed between two assessments of a product (two versions, or the same one re-assessed).

Findings are matched by ``Finding.stable_fingerprint`` (check id + a per-check key, or location and message
with version numbers masked), as multisets: two equal findings in the old assessment and one in the new make
one unchanged and one fixed. Vulnerabilities are compared as (component name, vulnerability id) pairs, so an
update from openssl 1.0.1f to 1.0.1g shows CVE-2014-0160 as fixed; components by name, with their versions.

A release *regresses* (``regressions``) when the new assessment has a finding the old one had not, of at
least the chosen severity and not set aside or accepted in triage; or when a requirement's verdict becomes
FAIL (from PASS, INCONCLUSIVE, NOT_APPLICABLE or absent), unless every finding behind that FAIL is an accepted
risk. Renderers: ``render_diff_json``, ``render_diff_html`` (self-contained, autoescaped) and ``diff_table``
(Rich, for the terminal).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable

import jinja2
from pydantic import BaseModel, ConfigDict
from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from iotcop.catalogue import Catalogue
from iotcop.model import Assessment, Finding, Outcome, Severity, Target, Verdict
from iotcop.triage import vulnerability_of


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DiffSide(_Frozen):
    target: Target
    generated_at: str
    tool_version: str


class VerdictChange(_Frozen):
    framework: str
    requirement_id: str
    old: Outcome | None  # None: the requirement was not in that assessment
    new: Outcome | None
    mandatory: bool
    reason: str  # the new verdict's reason ('' when it is gone)
    findings: tuple[str, ...] = ()  # fingerprints of the findings behind the new verdict


class ComponentChange(_Frozen):
    name: str
    old: tuple[str, ...]  # versions ('?' for unknown); empty: added
    new: tuple[str, ...]  # empty: removed


class VulnerabilityRef(_Frozen):
    component: str
    id: str
    severity: Severity


class AssessmentDiff(_Frozen):
    old: DiffSide
    new: DiffSide
    findings_fixed: tuple[Finding, ...]
    findings_new: tuple[Finding, ...]
    findings_unchanged: tuple[Finding, ...]  # as in the new assessment
    verdict_changes: tuple[VerdictChange, ...]
    component_changes: tuple[ComponentChange, ...]
    vulnerabilities_fixed: tuple[VulnerabilityRef, ...]
    vulnerabilities_new: tuple[VulnerabilityRef, ...]


def _side(a: Assessment) -> DiffSide:
    return DiffSide(target=a.target, generated_at=a.generated_at, tool_version=a.tool.version)


def diff_assessments(old: Assessment, new: Assessment) -> AssessmentDiff:
    waiting: dict[str, list[Finding]] = defaultdict(list)
    for f in sorted(old.findings, key=Finding.sort_key):
        waiting[f.stable_fingerprint].append(f)
    unchanged: list[Finding] = []
    added: list[Finding] = []
    for f in sorted(new.findings, key=Finding.sort_key):
        same = waiting.get(f.stable_fingerprint)
        (unchanged if same else added).append(f)
        if same:
            same.pop(0)
    fixed = sorted((f for fs in waiting.values() for f in fs), key=Finding.sort_key)
    old_vulns, new_vulns = _vulnerabilities(old.findings), _vulnerabilities(new.findings)
    return AssessmentDiff(
        old=_side(old), new=_side(new), findings_fixed=tuple(fixed), findings_new=tuple(added),
        findings_unchanged=tuple(unchanged), verdict_changes=_verdict_changes(old.verdicts, new.verdicts),
        component_changes=_component_changes(old, new),
        vulnerabilities_fixed=tuple(v for k, v in sorted(old_vulns.items()) if k not in new_vulns),
        vulnerabilities_new=tuple(v for k, v in sorted(new_vulns.items()) if k not in old_vulns))


def _vulnerabilities(findings: Iterable[Finding]) -> dict[tuple[str, str], VulnerabilityRef]:
    out: dict[tuple[str, str], VulnerabilityRef] = {}
    for f in findings:
        if (pair := vulnerability_of(f)) is not None:
            key = (pair[0].lower(), pair[1].upper())
            if key not in out or f.severity.rank > out[key].severity.rank:
                out[key] = VulnerabilityRef(component=pair[0], id=pair[1], severity=f.severity)
    return out


def _verdict_changes(old: Iterable[Verdict], new: Iterable[Verdict]) -> tuple[VerdictChange, ...]:
    before = {(v.framework, v.requirement_id): v for v in old}
    after = {(v.framework, v.requirement_id): v for v in new}
    changes = []
    for key in [*after, *(k for k in before if k not in after)]:
        was, now = before.get(key), after.get(key)
        either = now or was
        if either is not None and (was is None or now is None or was.outcome is not now.outcome):
            changes.append(VerdictChange(framework=key[0], requirement_id=key[1],
                                         old=was.outcome if was else None, new=now.outcome if now else None,
                                         mandatory=either.mandatory,
                                         reason=now.reason if now else "", findings=now.findings if now else ()))
    return tuple(changes)


def _versions(a: Assessment) -> dict[str, tuple[str, ...]]:
    found: dict[str, set[str]] = defaultdict(set)
    for c in a.components:
        found[c.name].add(c.version or "?")
    return {name: tuple(sorted(v)) for name, v in found.items()}


def _component_changes(old: Assessment, new: Assessment) -> tuple[ComponentChange, ...]:
    before, after = _versions(old), _versions(new)
    return tuple(ComponentChange(name=n, old=before.get(n, ()), new=after.get(n, ()))
                 for n in sorted(before.keys() | after.keys()) if before.get(n) != after.get(n))


def regressions(diff: AssessmentDiff, fail_on: Severity = Severity.LOW) -> list[str]:
    """Why the new assessment is worse (empty: it is not). INFO findings never count."""
    threshold = max(fail_on.rank, Severity.LOW.rank)
    out = [f"new {f.severity.value} finding {f.check_id} at {f.location}: {f.message}" for f in diff.findings_new
           if f.severity.rank >= threshold and (f.suppression is None or f.suppression.expired)]
    accepted = {f.fingerprint for f in (*diff.findings_new, *diff.findings_unchanged)
                if f.suppression is not None and not f.suppression.expired}
    for change in diff.verdict_changes:
        if change.new is Outcome.FAIL and change.old is not Outcome.FAIL:
            if change.findings and set(change.findings) <= accepted:
                continue
            was = change.old.value if change.old else "absent"
            out.append(f"{change.framework}:{change.requirement_id} went from {was} to FAIL: {change.reason}")
    return out


def regressed(diff: AssessmentDiff, fail_on: Severity = Severity.LOW) -> bool:
    return bool(regressions(diff, fail_on))


def render_diff_json(diff: AssessmentDiff, fail_on: Severity = Severity.LOW) -> bytes:
    data = {**diff.model_dump(mode="json"), "fail_on": fail_on.value, "regressions": regressions(diff, fail_on)}
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()


def _title(catalogue: Catalogue, change: VerdictChange) -> str:
    try:
        return catalogue.framework(change.framework).requirement(change.requirement_id).title
    except Exception:  # a requirement of another catalogue version: the id alone
        return ""


def _label(side: DiffSide) -> str:
    t = side.target
    version = f" {t.version}" if t.version else ""
    return f"{t.product or t.name}{version} ({t.sha256[:12] if t.sha256 else 'no digest'}, {side.generated_at})"


def diff_table(diff: AssessmentDiff, catalogue: Catalogue, fail_on: Severity = Severity.LOW) -> Group:
    """The diff for the terminal; every text from the input is escaped."""
    head = Text(f"old: {_label(diff.old)}\nnew: {_label(diff.new)}\n"
                f"findings: {len(diff.findings_fixed)} fixed, {len(diff.findings_new)} new, "
                f"{len(diff.findings_unchanged)} unchanged")
    parts: list[object] = [head]
    for title, items in (("Fixed findings", diff.findings_fixed), ("New findings", diff.findings_new)):
        if items:
            table = Table(title=title, title_justify="left")
            for col in ("severity", "check", "location", "message"):
                table.add_column(col, overflow="fold")
            for f in items:
                table.add_row(f.severity.value, f.check_id, escape(str(f.location)), escape(_with_triage(f)))
            parts.append(table)
    if diff.verdict_changes:
        table = Table(title="Verdict changes", title_justify="left")
        for col in ("requirement", "old", "new", "title"):
            table.add_column(col, overflow="fold")
        for c in diff.verdict_changes:
            table.add_row(f"{c.framework}:{c.requirement_id}", c.old.value if c.old else "-",
                          c.new.value if c.new else "-", escape(_title(catalogue, c)))
        parts.append(table)
    if diff.component_changes or diff.vulnerabilities_fixed or diff.vulnerabilities_new:
        table = Table(title="Components and vulnerabilities", title_justify="left")
        for col in ("what", "old", "new"):
            table.add_column(col, overflow="fold")
        for cc in diff.component_changes:
            table.add_row(escape(cc.name), escape(", ".join(cc.old) or "-"), escape(", ".join(cc.new) or "-"))
        for v in diff.vulnerabilities_fixed:
            table.add_row(escape(f"{v.id} in {v.component}"), v.severity.value, "fixed")
        for v in diff.vulnerabilities_new:
            table.add_row(escape(f"{v.id} in {v.component}"), "-", f"new ({v.severity.value})")
        parts.append(table)
    found = regressions(diff, fail_on)
    parts.append(Text("\n".join([f"REGRESSED ({len(found)}):", *found]) if found else "no regression",
                      style="bold red" if found else "green"))
    return Group(*parts)  # type: ignore[arg-type]


def _with_triage(f: Finding) -> str:
    s = f.suppression
    if s is None:
        return f.message
    state = "expired " if s.expired else ""
    return f"{f.message} [{state}{s.status.value}: {s.justification}]"


_HTML = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>iotcop diff</title><style>
body{font-family:system-ui,sans-serif;margin:1rem;max-width:70rem}table{border-collapse:collapse;width:100%;
margin-bottom:1rem}th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top;
overflow-wrap:anywhere}.FAIL,.regressed{color:#b00020;font-weight:bold}.PASS,.ok{color:#1b5e20}
.INCONCLUSIVE{color:#8a6d00}.triage{color:#555;font-style:italic}
</style></head><body>
<h1>What changed</h1>
<p>old: {{ old }}<br>new: {{ new }}</p>
<p>{{ d.findings_fixed|length }} fixed, {{ d.findings_new|length }} new, {{ d.findings_unchanged|length }} unchanged
findings.</p>
{% if regressions %}<h2 class="regressed" id="regressed">Regressed ({{ regressions|length }})</h2>
<ul>{% for r in regressions %}<li>{{ r }}</li>{% endfor %}</ul>
{% else %}<h2 class="ok" id="regressed">No regression (new findings of {{ fail_on }} or more)</h2>{% endif %}
{% for title, items in [("New findings", d.findings_new), ("Fixed findings", d.findings_fixed)] %}{% if items %}
<h2>{{ title }}</h2><table><tr><th>severity</th><th>check</th><th>location</th><th>message</th></tr>
{% for f in items %}<tr><td>{{ f.severity.value }}</td><td>{{ f.check_id }}</td><td>{{ f.location }}</td>
<td>{{ f.message }}{% if f.suppression %}<div class="triage">{% if f.suppression.expired %}expired {% endif %}
{{ f.suppression.status.value }}: {{ f.suppression.justification }}</div>{% endif %}</td></tr>{% endfor %}
</table>{% endif %}{% endfor %}
{% if d.verdict_changes %}<h2>Verdict changes</h2><table><tr><th>requirement</th><th>old</th><th>new</th>
<th>title</th><th>reason</th></tr>{% for c, title in changes %}<tr><td>{{ c.framework }}:{{ c.requirement_id }}</td>
<td class="{{ c.old.value if c.old else '' }}">{{ c.old.value if c.old else "-" }}</td>
<td class="{{ c.new.value if c.new else '' }}">{{ c.new.value if c.new else "-" }}</td><td>{{ title }}</td>
<td>{{ c.reason }}</td></tr>{% endfor %}</table>{% endif %}
{% if d.component_changes %}<h2>Components</h2><table><tr><th>component</th><th>old</th><th>new</th></tr>
{% for c in d.component_changes %}<tr><td>{{ c.name }}</td><td>{{ c.old|join(", ") or "-" }}</td>
<td>{{ c.new|join(", ") or "-" }}</td></tr>{% endfor %}</table>{% endif %}
{% for title, items in [("Vulnerabilities fixed", d.vulnerabilities_fixed), ("New vulnerabilities",
   d.vulnerabilities_new)] %}{% if items %}<h2>{{ title }}</h2><ul>{% for v in items %}
<li>{{ v.id }} in {{ v.component }} ({{ v.severity.value }})</li>{% endfor %}</ul>{% endif %}{% endfor %}
</body></html>
""")


def render_diff_html(diff: AssessmentDiff, catalogue: Catalogue, fail_on: Severity = Severity.LOW) -> bytes:
    changes = [(c, _title(catalogue, c)) for c in diff.verdict_changes]
    html = _HTML.render(d=diff, old=_label(diff.old), new=_label(diff.new), changes=changes, fail_on=fail_on.value,
                        regressions=regressions(diff, fail_on))
    return html.encode()
