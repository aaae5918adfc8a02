"""The ``iotcop`` command line: parses, calls the API, picks a renderer.

Exit codes (DESIGN.md): 0 no mandatory requirement failed, 1 at least one failed, 2 usage error,
3 the input could not be assessed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.markup import escape

from iotcop._version import __version__
from iotcop.cli_common import (  # the exit codes are re-exported: they are part of the CLI's contract
    EXIT_FAILED,
    EXIT_INPUT,
    EXIT_OK,
    EXIT_USAGE,
    FORMAT,
    Format,
    emit_json,
    err,
    handles_errors,
    nullcontext,
    out,
)
from iotcop.cli_device import assess_device_cmd
from iotcop.cli_diff import diff_cmd, triage_app
from iotcop.cli_firmware import MAX_BYTES, MAX_DEPTH, MAX_FILES, TIMEOUT, cache_app, extract_cmd, limits_from
from iotcop.cli_report import FORMATS_HELP, finish, report_cmd, report_formats, triaged
from iotcop.cli_sign import keys_app, sign_cmd, verify_cmd
from iotcop.cli_vulndb import vulndb_app
from iotcop.errors import UsageError

# Commands import what they need when they run: `iotcop --version` or `iotcop extract` should not pay
# for the catalogue, the checks and the declaration schema (measured: 0.3 s → see bench/README.md).

__all__ = ["EXIT_FAILED", "EXIT_INPUT", "EXIT_OK", "EXIT_USAGE", "app", "main"]

app = typer.Typer(help="A repeatable, evidence-based security baseline for consumer IoT products.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
catalogue_app = typer.Typer(help="The requirement catalogue: frameworks, requirements, coverage.", no_args_is_help=True)
assess_app = typer.Typer(help="Assess a product and write its assessment.", no_args_is_help=True)
declaration_app = typer.Typer(help="The manufacturer's declaration (ICS + IXIT).", no_args_is_help=True)
app.add_typer(catalogue_app, name="catalogue")
app.add_typer(assess_app, name="assess")
app.add_typer(declaration_app, name="declaration")
app.add_typer(cache_app, name="cache")
app.add_typer(vulndb_app, name="vulndb")
app.command("extract")(extract_cmd)
app.command("report")(report_cmd)
assess_app.command("device")(assess_device_cmd)
app.add_typer(keys_app, name="keys")
app.command("sign")(sign_cmd)
app.command("verify")(verify_cmd)
app.command("diff")(diff_cmd)
app.add_typer(triage_app, name="triage")

def _version(value: bool) -> None:
    if value:
        out.print(f"iotcop {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """iotcop judges a product against the UK CoP, ETSI EN 303 645 and the UK PSTI law, with evidence."""


@catalogue_app.command("list")
@handles_errors
def catalogue_list(
    framework: str = typer.Option(..., "--framework", help="en303645, cop2018 or psti."),
    fmt: Format = FORMAT,
) -> None:
    """Every requirement of a framework with its status and condition."""
    from iotcop import terminal
    from iotcop.catalogue import load_catalogue

    fw = load_catalogue().framework(framework)
    if fmt is Format.JSON:
        emit_json({"framework": fw.info.model_dump(mode="json"),
                    "requirements": [r.model_dump(mode="json") for r in fw.requirements]})
    else:
        out.print(terminal.framework_table(fw))


@catalogue_app.command("coverage")
@handles_errors
def catalogue_coverage(fmt: Format = FORMAT) -> None:
    """Per framework: requirements with an automated check, a declaration path only, or nothing yet."""
    from iotcop import terminal
    from iotcop.catalogue import load_catalogue

    catalogue = load_catalogue()
    if fmt is Format.JSON:
        emit_json({fw.id: {req.id: req.coverage for req in fw.requirements} for fw in catalogue.frameworks})
    else:
        out.print(terminal.coverage_table(catalogue))


@app.command()
@handles_errors
def explain(identifier: str = typer.Argument(..., help="A requirement (5.1-1, psti:sch1-1) or a check id."),
            fmt: Format = FORMAT) -> None:
    """A requirement (status, guideline and law it belongs to, checks) or a check (and who cites it)."""
    from iotcop import terminal
    from iotcop.catalogue import load_catalogue
    from iotcop.checks.registry import REGISTRY

    catalogue = load_catalogue()
    if identifier in REGISTRY:
        spec = REGISTRY.get(identifier)
        citing = catalogue.citing(identifier)
        if fmt is Format.JSON:
            emit_json({"check": spec.id, "title": spec.title, "kind": spec.kind.value,
                        "severity": spec.severity.value, "rationale": spec.rationale,
                        "remediation": spec.remediation,
                        "cited_by": [{"framework": f.id, "requirement": r.id, "as": how} for f, r, how in citing]})
        else:
            terminal.print_check(out, spec, citing)  # type: ignore[arg-type]
        return
    matches = catalogue.find(identifier) if (":" in identifier or any(
        identifier in fw for fw in catalogue.frameworks)) else []
    if not matches:
        planned = catalogue.citing(identifier)
        if planned:  # a check the catalogue knows about: an answer, not a usage error
            cited = [f"{f.id}:{r.id}" for f, r, _ in planned]
            if fmt is Format.JSON:
                emit_json({"check": identifier, "planned": True, "cited_by": cited})
            else:
                out.print(f"{identifier} is a planned check, not built yet; cited by {', '.join(cited)}",
                          markup=False, highlight=False)
            return
        raise UsageError(f"{identifier!r} is neither a requirement nor a check (try `iotcop catalogue list`)")
    docs = []
    for fw, req in matches:
        belongs = [f"{f.id}:{r.id}" for f, r in catalogue.rolled_up_by(fw.id, req.id)]
        docs.append({"framework": fw.id, **req.model_dump(mode="json"), "belongs_to": belongs})
        if fmt is Format.TABLE:
            out.print(f"[bold]{fw.id}:{req.id}[/] — {req.title}")
            out.print(f"status: {req.status.value}" + (f" (if {req.condition})" if req.condition else ""))
            out.print(f"evidence: {', '.join(req.evidence_kinds) or '-'}   coverage: {req.coverage}")
            for ref in belongs:
                other_fw, other = catalogue.resolve(ref)
                out.print(f"belongs to {other_fw.info.title}: {other.id} {other.title}")
            for ref in req.derived_from:
                out.print(f"rolls up {ref}")
            for check_id in req.evidenced_by:
                out.print(f"evidenced by {check_id}: {REGISTRY.get(check_id).title}")
            for check_id in req.refuted_by:
                out.print(f"can only fail it: {check_id}: {REGISTRY.get(check_id).title}")
            for check_id in req.planned:
                out.print(f"planned: {check_id}")
            if req.notes:
                out.print(f"notes: {req.notes}")
            out.print()
    if fmt is Format.JSON:
        emit_json(docs)


@assess_app.command("firmware")
@handles_errors
def assess_firmware_cmd(
    image: Path = typer.Argument(..., help="A firmware image file, or an unpacked root file system directory."),
    output: Path = typer.Option(Path("out"), "--output", "-o", help="Directory for assessment.json."),
    declaration: Path | None = typer.Option(None, "--declaration", "-d", help="The manufacturer's declaration."),
    fmt: Format = FORMAT,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Unpack again even if this image was unpacked before."),
    reports: str = typer.Option("json,sbom", "--report", "-r", help=FORMATS_HELP + " Written to OUTPUT."),
    triage: Path | None = typer.Option(None, "--triage", help="Reviewers' decisions (iotcop.triage.yaml) to apply."),
    max_bytes: int = MAX_BYTES,
    max_files: int = MAX_FILES,
    max_depth: int = MAX_DEPTH,
    timeout: float = TIMEOUT,
) -> None:
    """Assess a firmware image: writes OUTPUT/assessment.json and prints verdicts per guideline."""
    from iotcop.api import assess_firmware
    from iotcop.catalogue import load_catalogue
    from iotcop.declaration import load_declaration

    chosen = report_formats(reports)
    catalogue = load_catalogue()
    decl = load_declaration(declaration, catalogue) if declaration else None
    with err.status(f"assessing {escape(image.name)} …", spinner="dots") if not quiet and fmt is Format.TABLE \
            else nullcontext():
        assessment = assess_firmware(image, decl, catalogue=catalogue, use_cache=not no_cache,
                                     limits=limits_from(max_bytes, max_files, max_depth, timeout))
    if triage is not None:
        assessment = triaged(assessment, triage, catalogue, decl)
    finish(assessment, catalogue, chosen, output, fmt, quiet, "fw.")


@assess_app.command("product")
@handles_errors
def assess_product_cmd(
    product_file: Path = typer.Argument(..., help="A product file (iotcop-product/1): firmware, device, documents, "
                                        "declaration."),
    output: Path = typer.Option(Path("out"), "--output", "-o", help="Directory for assessment.json."),
    reports: str = typer.Option("json,sbom", "--report", "-r", help=FORMATS_HELP + " Written to OUTPUT."),
    triage: Path | None = typer.Option(None, "--triage", help="Reviewers' decisions (iotcop.triage.yaml) to apply."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Unpack the image again even if cached."),
    fmt: Format = FORMAT,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
) -> None:
    """Assess a whole product (what its product file names) as one assessment and one report."""
    from iotcop.api import assess_product
    from iotcop.catalogue import load_catalogue
    from iotcop.declaration import load_declaration
    from iotcop.product import load_product

    product = load_product(product_file)
    chosen = report_formats(reports)
    catalogue = load_catalogue()
    with err.status(f"assessing {escape(product.name)} …", spinner="dots") if not quiet and fmt is Format.TABLE \
            else nullcontext() as status:
        def phase(name: str) -> None:
            if status is not None:
                status.update(f"assessing {escape(product.name)}: live device, {name} …")

        assessment = assess_product(product, catalogue=catalogue, use_cache=not no_cache, on_phase=phase)
    if triage is not None:
        decl = product.path(product.spec.declaration) if product.spec.declaration else None
        assessment = triaged(assessment, triage, catalogue, load_declaration(decl, catalogue) if decl else None)
    finish(assessment, catalogue, chosen, output, fmt, quiet, "")


@assess_app.command("documents")
@handles_errors
def assess_documents_cmd(
    site: list[str] = typer.Option([], "--site", help="The vendor's site (https://vendor.example): security.txt is "
                                   "looked for there. Repeatable; only these hosts are contacted."),
    policy: list[str] = typer.Option([], "--policy", help="A disclosure policy: URL or file (HTML, PDF, text)."),
    security_txt: Path | None = typer.Option(None, "--security-txt", help="A security.txt file to judge offline."),
    document: list[str] = typer.Option([], "--document", help="ROLE=URL_OR_FILE, ROLE one of support, statement, "
                                       "privacy, guidance (repeatable)."),
    ca_bundle: Path | None = typer.Option(None, "--ca-bundle", help="Trust this CA file instead of the system's."),
    output: Path = typer.Option(Path("out"), "--output", "-o", help="Directory for assessment.json."),
    declaration: Path | None = typer.Option(None, "--declaration", "-d", help="The manufacturer's declaration."),
    fmt: Format = FORMAT,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
    reports: str = typer.Option("json", "--report", "-r", help=FORMATS_HELP + " Written to OUTPUT."),
) -> None:
    """Assess the vendor's documents: security.txt (RFC 9116) and the vulnerability disclosure policy."""
    from iotcop.api import assess_documents
    from iotcop.catalogue import load_catalogue
    from iotcop.declaration import load_declaration
    from iotcop.documents.facts import DocumentSources, parse_documents

    if not (site or policy or security_txt or document):
        raise UsageError("give at least one of --site, --policy, --security-txt or --document")
    if security_txt is not None and not security_txt.is_file():
        raise UsageError(f"no such file: {security_txt}")
    chosen = report_formats(reports)
    catalogue = load_catalogue()
    decl = load_declaration(declaration, catalogue) if declaration else None
    sources = DocumentSources(tuple(site), tuple(policy), security_txt, ca_bundle, parse_documents(document))
    with err.status("reading the vendor's documents …", spinner="dots") if not quiet and fmt is Format.TABLE \
            else nullcontext():
        assessment = assess_documents(sources, decl, catalogue=catalogue)
    finish(assessment, catalogue, chosen, output, fmt, quiet, "doc.")


@app.command()
@handles_errors
def doctor(fmt: Format = FORMAT) -> None:
    """Every external program and library iotcop uses: found or missing, with version."""
    from iotcop import terminal
    from iotcop.doctor import diagnose

    statuses = diagnose()
    if fmt is Format.JSON:
        emit_json([s.__dict__ for s in statuses])
    else:
        out.print(terminal.doctor_table(statuses))
    if any(s.required and not s.found for s in statuses):
        raise typer.Exit(EXIT_INPUT)


@declaration_app.command("template")
@handles_errors
def declaration_template() -> None:
    """Print a declaration to fill in (every EN 303 645 provision, unanswered, plus IXIT fields)."""
    from iotcop.catalogue import load_catalogue
    from iotcop.declaration import template

    sys.stdout.write(template(load_catalogue()))


@declaration_app.command("validate")
@handles_errors
def declaration_validate(path: Path = typer.Argument(..., help="The declaration YAML file.")) -> None:
    """Check a declaration; every problem is reported with its line and field."""
    from iotcop.declaration import load_declaration

    decl = load_declaration(path)
    answered = sum(1 for a in decl.ics.values() if a.support is not None)
    out.print(f"{path}: valid ({answered} provision(s) answered)")


@app.command()
def schema() -> None:
    """Print the JSON Schema of the assessment (the public, versioned interface)."""
    from iotcop.reports.json import assessment_schema

    emit_json(assessment_schema())


def main() -> None:
    app()
