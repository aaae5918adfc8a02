"""``iotcop report``: render a saved assessment again, in any of the report formats."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from iotcop.cli_common import EXIT_FAILED, EXIT_INPUT, EXIT_OK, Format, err, handles_errors, out
from iotcop.errors import InputError, UsageError
from iotcop.model import Assessment
from iotcop.reports.formats import FORMATS, ReportFormat, parse_formats

if TYPE_CHECKING:
    from iotcop.catalogue import Catalogue

FORMATS_HELP = "Comma-separated: " + ", ".join(FORMATS) + ", or all."


def load_assessment_file(path: Path) -> Assessment:
    """A saved assessment, or a clear error naming the file and what is wrong with it."""
    from pydantic import ValidationError

    from iotcop.reports.json import load_assessment

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        return load_assessment(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the document"
        raise InputError(f"{path} is not an iotcop assessment ({exc.error_count()} problem(s); first at {where}: "
                         f"{first['msg']})") from None


def write_atomic(path: Path, data: bytes) -> None:
    """Write next to the target and rename: a failed render never leaves a half-written report behind."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # a report, not a secret: the mode a plain write would give it
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_reports(assessment: Assessment, formats: list[ReportFormat], output: Path,
                  verification_code: str | None = None, catalogue: Catalogue | None = None) -> list[Path]:
    """Render each format into OUTPUT; every format is attempted, failures are collected and raised together."""
    from iotcop.catalogue import load_catalogue

    catalogue = catalogue or load_catalogue()
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot write to {output}: {exc.strerror}") from exc
    written: list[Path] = []
    failed: list[str] = []
    for fmt in formats:
        try:
            if fmt.name in ("label", "label-png") and verification_code:
                from iotcop.reports import label

                render = label.render_label_svg if fmt.name == "label" else label.render_label_png
                data = render(assessment, catalogue, verification_code)
            else:
                data = fmt.renderer()(assessment, catalogue)
            write_atomic(output / fmt.filename, data)
            written.append(output / fmt.filename)
        except OSError as exc:
            failed.append(f"{fmt.name}: cannot write {output / fmt.filename}: {exc.strerror or exc}")
        except ImportError as exc:
            failed.append(f"{fmt.name}: a library it needs is missing ({exc}); run `iotcop doctor`")
        except Exception as exc:  # a renderer's bug must not cost the other formats (or a traceback)
            failed.append(f"{fmt.name}: the renderer failed ({type(exc).__name__}: {exc}); this is a bug in "
                          "iotcop, please report it with the assessment")
    if failed:
        raise InputError("; ".join(failed) + (f" (written: {', '.join(p.name for p in written)})" if written else ""))
    return written


def report_cmd(
    assessment_file: Path = typer.Argument(..., help="A saved assessment.json."),
    formats: str = typer.Option("html", "--format", "-f", help=FORMATS_HELP),
    output: Path = typer.Option(Path("."), "--output", "-o", help="Directory for the reports."),
    signature: Path | None = typer.Option(None, "--signature", help="The assessment's signature file (`iotcop "
                                          "sign`): once verified, its code goes on the label."),
    public_key: Path | None = typer.Option(None, "--public-key", help="The public key that verifies --signature."),
) -> None:
    """Render a saved assessment as HTML, PDF, SARIF, JUnit, Markdown, SBOM, VEX or a consumer label."""
    chosen = parse_formats(formats)
    assessment = load_assessment_file(assessment_file)
    code = _verification_code(assessment_file, signature, public_key) if signature else None
    for path in write_reports(assessment, chosen, output, code):
        out.print(f"wrote {escape(str(path))}", highlight=False)


report_cmd = handles_errors(report_cmd)


def _verification_code(report: Path, signature: Path, public_key: Path | None) -> str:
    """The label's code, only from a signature that verifies against the report with the given key."""
    from iotcop.reports import signing

    if public_key is None:
        raise UsageError("--signature needs --public-key: the label's code is shown only for a signature that "
                         "verifies")
    try:
        report_bytes, sig_bytes, key_bytes = report.read_bytes(), signature.read_bytes(), public_key.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {exc.filename}: {exc.strerror}") from exc
    try:
        key = signing.load_public_key(key_bytes)
    except ValueError as exc:
        raise UsageError(f"{public_key}: {exc}") from exc
    result = signing.verify(report_bytes, sig_bytes, key)
    if not result.valid or not result.verification_code:
        raise InputError(f"{signature} does not verify {report}: {result.message}")
    return result.verification_code


def triaged(assessment: Any, triage: Path, catalogue: Any, decl: Any) -> Any:
    """Apply a triage file as of the assessment's own date; what it did goes to stderr."""
    import datetime as dt

    from iotcop.triage import apply_triage, load_triage, summary_lines

    result = apply_triage(assessment, load_triage(triage), catalogue,
                          today=dt.datetime.fromisoformat(assessment.generated_at).date(), declaration=decl)
    for line in summary_lines(result.triage) if result.triage else []:
        err.print(line, markup=False, highlight=False)
    return result


def report_formats(text: str) -> list[Any]:
    from iotcop.reports.formats import FORMATS, parse_formats

    chosen = parse_formats(text)
    if FORMATS["json"] not in chosen:  # the assessment itself is always kept: every other report derives from it
        chosen.insert(0, FORMATS["json"])
    return chosen


def finish(assessment: Any, catalogue: Any, chosen: list[Any], output: Path, fmt: Format, quiet: bool,
            prefix: str) -> None:
    """Write the reports, print, and exit with the documented code (3 when no check of the input could run)."""
    from iotcop import terminal
    from iotcop.cli_report import write_reports
    from iotcop.model import RunStatus
    from iotcop.reports.json import render_json

    written = write_reports(assessment, chosen, output, catalogue=catalogue)
    if fmt is Format.JSON:
        sys.stdout.buffer.write(render_json(assessment))
    elif not quiet:
        terminal.print_assessment(out, assessment, catalogue)
        out.print(f"\nwrote {escape(', '.join(str(p) for p in written))}")
    runs = [r for r in assessment.check_runs if r.check_id.startswith(prefix)]
    if runs and all(r.status is not RunStatus.COMPLETED for r in runs):
        raise typer.Exit(EXIT_INPUT)
    raise typer.Exit(EXIT_FAILED if assessment.mandatory_failed else EXIT_OK)
