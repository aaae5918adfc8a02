"""Rich renderings for the terminal (the CLI's human output; ``--format json`` bypasses them)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from iotcop.catalogue import Catalogue, Framework
from iotcop.checks.registry import CheckSpec
from iotcop.doctor import Status
from iotcop.model import Assessment, Outcome, RunStatus

STYLE = {Outcome.PASS: "green", Outcome.FAIL: "bold red", Outcome.INCONCLUSIVE: "yellow",
         Outcome.NOT_APPLICABLE: "dim"}


def outcome_text(outcome: Outcome, basis: str = "") -> str:
    label = f"{outcome.value} ({basis})" if basis in ("declared",) else outcome.value
    return f"[{STYLE[outcome]}]{label}[/]"


def framework_table(fw: Framework) -> Table:
    table = Table(title=f"{fw.info.title} {fw.info.version} — {len(fw.requirements)} requirements",
                  title_justify="left", show_lines=False)
    for col in ("id", "status", "requirement", "condition", "checks"):
        table.add_column(col, overflow="fold")
    for req in fw.requirements:
        checks = f"{len(req.evidenced_by)} built, {len(req.planned)} planned" if not req.derived_from \
            else f"rolls up {len(req.derived_from)}"
        table.add_row(req.id, req.status.short, req.title, req.condition or "", checks)
    return table


def coverage_table(catalogue: Catalogue) -> Table:
    table = Table(title="Automation coverage per framework", title_justify="left")
    for col in ("framework", "requirements", "automated check", "declaration only", "nothing yet"):
        table.add_column(col, justify="right" if col != "framework" else "left")
    for fw in catalogue.frameworks:
        counts = {"automated": 0, "declaration": 0, "none": 0}
        for req in fw.requirements:
            counts[req.coverage] += 1
        table.add_row(fw.id, str(len(fw.requirements)), str(counts["automated"]), str(counts["declaration"]),
                      str(counts["none"]))
    return table


def print_check(console: Console, spec: CheckSpec, citing: list[tuple[Framework, object, str]]) -> None:
    console.print(f"[bold]{spec.id}[/] — {spec.title}")
    console.print(f"evidence: {spec.kind.value}   severity: {spec.severity.value}")
    console.print(f"reads: {', '.join(t.__name__ for t in spec.reads.values())}")
    console.print(f"\n{spec.rationale}\n\nremediation: {spec.remediation}\n")
    console.print("cited by:" if citing else "cited by no requirement")
    for fw, req, how in citing:
        console.print(f"  {fw.id}:{req.id} ({how}) — {req.title}")  # type: ignore[attr-defined]


def print_assessment(console: Console, assessment: Assessment, catalogue: Catalogue) -> None:
    """Every string that comes from the input (file names, account names, messages) is escaped: an
    account named '[/]' in a hostile image must print as itself, not break Rich's markup."""
    t = assessment.target
    console.print(f"[bold]{escape(t.name)}[/]  sha256 {t.sha256 or '-'}  ({', '.join(assessment.inputs)})")
    for step in assessment.extraction:
        console.print(escape(f"  layer {step.format} at 0x{step.offset:x} ({step.size} bytes) via {step.tool}: "
                             f"{step.outcome} {step.message}"))
    for note in assessment.notes:
        console.print(f"  [yellow]note:[/] {escape(note)}")
    if (h := assessment.hardening) is not None:
        console.print(f"  binaries: {h.binaries} ({h.executables} executables, {h.unparsed} unparsed): NX {h.nx}, "
                      f"PIE {h.pie}/{h.executables}, RELRO full {h.relro_full} partial {h.relro_partial}, canary "
                      f"{h.canary}, FORTIFY {h.fortify}, RPATH {h.rpath}, stripped {h.stripped}")
    cop = catalogue.framework("cop2018")
    table = Table(title="Verdicts per guideline (UK CoP 2018, rolled up from EN 303 645)", title_justify="left")
    for col in ("guideline", "verdict", "EN 303 645 provisions", "reason"):
        table.add_column(col, overflow="fold")
    for req in cop.requirements:
        v = assessment.verdict("cop2018", req.id)
        parts = [assessment.verdict(*ref.split(":", 1)) for ref in req.derived_from]
        tally = " ".join(f"{o.value[:4]}:{n}" for o in Outcome if (n := sum(p.outcome is o for p in parts)))
        table.add_row(f"{req.id}. {req.title}", outcome_text(v.outcome), tally, escape(v.reason))
    console.print(table)
    psti = Table(title="UK PSTI security requirements", title_justify="left")
    for col in ("requirement", "verdict", "reason"):
        psti.add_column(col, overflow="fold")
    for req in catalogue.framework("psti").requirements:
        v = assessment.verdict("psti", req.id)
        psti.add_row(f"{req.id} {req.title}", outcome_text(v.outcome), escape(v.reason))
    console.print(psti)
    if assessment.findings:
        findings = Table(title=f"Findings ({len(assessment.findings)})", title_justify="left")
        for col in ("severity", "check", "where", "what"):
            findings.add_column(col, overflow="fold")
        for f in assessment.findings:
            findings.add_row(f.severity.value, f.check_id, escape(str(f.location)), escape(f.message))
        console.print(findings)
    broken = [r for r in assessment.check_runs if r.status is RunStatus.ERROR]
    for run in broken:
        console.print(f"[red]check {run.check_id} failed to run:[/] {escape(run.reason)}")
    for s in assessment.summary:
        c = s.counts
        failed = f"  mandatory failed: {', '.join(s.mandatory_failed)}" if s.mandatory_failed else ""
        console.print(f"{s.framework}: PASS {c.PASS}  FAIL {c.FAIL}  INCONCLUSIVE {c.INCONCLUSIVE}  "
                      f"N/A {c.NOT_APPLICABLE}{failed}")


def doctor_table(statuses: list[Status]) -> Table:
    table = Table(title="iotcop doctor", title_justify="left")
    for col in ("", "name", "kind", "version", "where", "used to"):
        table.add_column(col, overflow="fold")
    for s in statuses:
        mark = "[green]ok[/]" if s.found else ("[red]MISSING[/]" if s.required else "[yellow]missing[/]")
        table.add_row(mark, s.name, s.kind, s.version, s.detail, s.purpose)
    return table
