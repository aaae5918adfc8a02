"""``iotcop diff OLD NEW`` and ``iotcop triage apply|validate`` (wired into the app by cli.py).

``diff`` exits 1 when the new assessment regressed (``iotcop.reports.diff.regressions``), 0 otherwise, so
that it can gate a release; 2 and 3 as everywhere (usage error, input that cannot be read).
"""

from __future__ import annotations

import datetime as dt
import io
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape

from iotcop.cli_common import EXIT_FAILED, EXIT_OK, err, handles_errors, out
from iotcop.errors import InputError, UsageError

if TYPE_CHECKING:
    from iotcop.catalogue import Catalogue
    from iotcop.model import Assessment
    from iotcop.triage import Triage

MAX_ASSESSMENT_BYTES = 256 * 1024 * 1024

triage_app = typer.Typer(help="Reviewer decisions on findings (iotcop.triage.yaml).", no_args_is_help=True)


class DiffFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    HTML = "html"


class FailOn(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _as_of(text: str | None) -> dt.date:
    if text is None:
        return _today()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--as-of {text!r}: not a date (YYYY-MM-DD)") from None


def read_assessment(path: Path) -> Assessment:
    from pydantic import ValidationError

    from iotcop.reports.json import load_assessment

    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_ASSESSMENT_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the assessment: {exc.strerror}") from exc
    if len(data) > MAX_ASSESSMENT_BYTES:
        raise InputError(f"{path}: larger than {MAX_ASSESSMENT_BYTES} bytes")
    try:
        return load_assessment(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the document"
        raise InputError(f"{path}: not an iotcop assessment ({exc.error_count()} problem(s); first: {where}: "
                         f"{first['msg']})") from None


def _is_assessment(path: Path) -> bool:
    """A JSON document (an assessment) rather than a firmware image or an unpacked directory."""
    if not path.is_file():
        return False
    with open(path, "rb") as fh:
        head = fh.read(64).lstrip()
    return path.suffix.lower() == ".json" or head.startswith(b"{")


def _side(path: Path, catalogue: Catalogue, triage: Triage | None, today: dt.date) -> Assessment:
    from iotcop.api import assess_firmware
    from iotcop.triage import apply_triage

    if _is_assessment(path):
        assessment = read_assessment(path)
    else:
        with err.status(f"assessing {escape(path.name)} …", spinner="dots"):
            assessment = assess_firmware(path, catalogue=catalogue)
    return apply_triage(assessment, triage, catalogue, today=today) if triage is not None else assessment


def _write(data: bytes, output: Path | None) -> None:
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        output.write_bytes(data)
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror}") from exc


@handles_errors
def diff_cmd(
    old: Path = typer.Argument(..., help="The old assessment (JSON) or firmware image."),
    new: Path = typer.Argument(..., help="The new assessment (JSON) or firmware image."),
    fmt: DiffFormat = typer.Option(DiffFormat.TABLE, "--format", "-f", help="table, json or html."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here instead of standard output."),
    fail_on: FailOn = typer.Option(FailOn.LOW, "--fail-on", help="Lowest severity of a new finding that regresses."),
    triage: Path | None = typer.Option(None, "--triage", "-t", help="Apply this triage file to both sides first."),
) -> None:
    """What changed between two versions: fixed, new and unchanged findings, verdict changes, components and
    vulnerabilities. Exits 1 on regression (a new finding of --fail-on severity or more, or a verdict that
    becomes FAIL), 0 otherwise."""
    from iotcop.catalogue import load_catalogue
    from iotcop.model import Severity
    from iotcop.reports.diff import diff_assessments, diff_table, regressed, render_diff_html, render_diff_json
    from iotcop.triage import load_triage

    catalogue = load_catalogue()
    decisions = load_triage(triage) if triage is not None else None
    today = _today()
    diff = diff_assessments(_side(old, catalogue, decisions, today), _side(new, catalogue, decisions, today))
    severity = Severity(fail_on.value)
    if fmt is DiffFormat.JSON:
        _write(render_diff_json(diff, severity), output)
    elif fmt is DiffFormat.HTML:
        _write(render_diff_html(diff, catalogue, severity), output)
    elif output is not None:
        buffer = io.StringIO()
        Console(file=buffer, width=120, color_system=None, soft_wrap=False).print(diff_table(diff, catalogue, severity))
        _write(buffer.getvalue().encode(), output)
    else:
        out.print(diff_table(diff, catalogue, severity))
    raise typer.Exit(EXIT_FAILED if regressed(diff, severity) else EXIT_OK)


@triage_app.command("apply")
@handles_errors
def triage_apply(
    assessment: Path = typer.Argument(..., help="The assessment (JSON)."),
    triage: Path = typer.Argument(..., help="The triage file (iotcop.triage.yaml)."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the re-evaluated assessment."),
    declaration: Path | None = typer.Option(None, "--declaration", "-d",
                                            help="The declaration the assessment was made with, if any."),
    as_of: str | None = typer.Option(None, "--as-of", help="Judge expiry on this day (YYYY-MM-DD; default today)."),
) -> None:
    """Attach the triage decisions to the findings and evaluate the verdicts again; findings are never
    removed. Lists decisions that expired or match no finding."""
    from iotcop.catalogue import load_catalogue
    from iotcop.declaration import load_declaration
    from iotcop.reports.json import render_json
    from iotcop.triage import apply_triage, load_triage, summary_lines

    catalogue = load_catalogue()
    decisions = load_triage(triage)
    decl = load_declaration(declaration, catalogue) if declaration else None
    result = apply_triage(read_assessment(assessment), decisions, catalogue, today=_as_of(as_of), declaration=decl)
    _write(render_json(result), output)
    assert result.triage is not None
    for line in summary_lines(result.triage):
        err.print(line, markup=False, highlight=False)
    err.print(f"wrote {output}", markup=False, highlight=False)


@triage_app.command("validate")
@handles_errors
def triage_validate(path: Path = typer.Argument(..., help="The triage file.")) -> None:
    """Check a triage file; every problem is reported with its line and field."""
    from iotcop.triage import load_triage

    decisions = load_triage(path)
    out.print(f"{path}: valid ({len(decisions.decisions)} decision(s))", markup=False, highlight=False)
