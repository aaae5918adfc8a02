"""``iotcop vulndb``: import, update and inspect the offline vulnerability database; re-check SBOMs against it."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from iotcop.cli_common import EXIT_INPUT, FORMAT, Format, emit_json, err, handles_errors, out
from iotcop.errors import InputError
from iotcop.model import Component

vulndb_app = typer.Typer(help="The offline vulnerability database (NVD CVE 2.0 and OSV records).",
                         no_args_is_help=True)
DB = typer.Option(None, "--db", help="Database file (default $IOTCOP_VULNDB, else ~/.cache/iotcop/vulndb.sqlite).")


def _db(path: Path | None) -> Any:
    from iotcop.vulndb import VulnDB

    return VulnDB.open(path)


@vulndb_app.command("import")
@handles_errors
def import_cmd(files: list[Path] = typer.Argument(..., help="NVD CVE JSON 2.0 feeds (.json, .json.gz) or OSV "
                                                            "records (.json, a list, or a .zip)."),
               db: Path | None = DB, fmt: Format = FORMAT) -> None:
    """Import feed files in one transaction: all of them land, or none (a file that is not a feed is refused)."""
    _report(_db(db).import_files(files), fmt)


@vulndb_app.command("update")
@handles_errors
def update_cmd(url: list[str] = typer.Option(None, "--url", help="Feed URL (repeatable; default NVD's 2.0 recent "
                                             "and modified feeds or $IOTCOP_VULNDB_FEEDS)."),
               timeout: float = typer.Option(60.0, "--timeout", help="Seconds per download."),
               db: Path | None = DB, fmt: Format = FORMAT) -> None:
    """Download the feeds and import them (needs the network; `import` works offline)."""
    from iotcop.vulndb.update import update

    _report(update(_db(db), url or None, timeout), fmt)


def _report(report: Any, fmt: Format) -> None:
    if fmt is Format.JSON:
        emit_json(asdict(report))
        return
    out.print(f"imported {len(report.files)} file(s): {report.cves} CVE(s) with {report.cpe_rows} CPE criteria, "
              f"{report.osv_records} OSV record(s); {report.skipped} malformed record(s) skipped",
              markup=False, highlight=False)


@vulndb_app.command("status")
@handles_errors
def status_cmd(db: Path | None = DB, fmt: Format = FORMAT) -> None:
    """What the database holds, how new it is, and whether it is missing or stale (exit 3 then)."""
    status = _db(db).status()
    if fmt is Format.JSON:
        emit_json(asdict(status))
    else:
        out.print(f"{status.state}: {status.reason}", markup=False, highlight=False)
        if status.counts:
            out.print(f"path {status.path}, schema {status.schema_version}, last import {status.last_import}, "
                      f"newest record {status.newest_record}", markup=False, highlight=False)
            out.print(", ".join(f"{k} {v}" for k, v in status.counts.items()), markup=False, highlight=False)
            for feed in status.feeds:
                out.print(f"feed {feed['name']} ({feed['kind']}): {feed['records']} record(s), {feed['skipped']} "
                          f"skipped, imported {feed['imported_at']}", markup=False, highlight=False)
    if status.state != "ok":
        raise typer.Exit(EXIT_INPUT)


@vulndb_app.command("recheck")
@handles_errors
def recheck_cmd(document: Path = typer.Argument(..., help="An iotcop assessment.json, a CycloneDX JSON or an "
                                                          "SPDX JSON SBOM."),
                db: Path | None = DB, allow_stale: bool = typer.Option(False, "--allow-stale",
                                                                        help="Match even when the database is stale."),
                fmt: Format = FORMAT) -> None:
    """Match the components of a saved assessment or SBOM against the database, without the image."""
    components = components_of(document)
    matches = _db(db).match(components, allow_stale=allow_stale)
    if fmt is Format.JSON:
        emit_json({"components": len(components), "matches": [asdict(m) for m in matches]})
        return
    table = Table("component", "vulnerability", "CVSS", "KEV", "why")
    for m in matches:
        score = f"{m.cvss_score} {m.severity or ''}".strip() if m.cvss_score is not None else "-"
        table.add_row(escape(m.component), escape(m.vuln_id), score, "yes" if m.kev else "", escape(m.reason))
    out.print(table)
    err.print(f"{len(matches)} known vulnerabilit{'y' if len(matches) == 1 else 'ies'} in {len(components)} "
              "component(s)", highlight=False)


def components_of(path: Path) -> list[Component]:
    """The components of an iotcop assessment, a CycloneDX JSON SBOM or an SPDX 2.x JSON SBOM."""
    try:
        data = path.read_bytes()
        doc = json.loads(data)
    except (OSError, ValueError, RecursionError) as exc:
        raise InputError(f"{path}: cannot read a JSON document ({exc})") from exc
    if isinstance(doc, dict) and "check_runs" in doc and "tool" in doc:
        from pydantic import ValidationError

        from iotcop.reports.json import load_assessment
        try:
            return list(load_assessment(data).components)
        except ValidationError as exc:
            raise InputError(f"{path}: not a valid iotcop assessment ({exc.error_count()} problem(s))") from exc
    if isinstance(doc, dict) and doc.get("bomFormat") == "CycloneDX":
        return [_component(c["name"], c.get("version"), c.get("cpe"), c.get("purl"), "CycloneDX SBOM")
                for c in doc.get("components") or [] if isinstance(c, dict) and isinstance(c.get("name"), str)]
    if isinstance(doc, dict) and str(doc.get("spdxVersion", "")).startswith("SPDX-"):
        return [_spdx(p) for p in doc.get("packages") or [] if isinstance(p, dict) and isinstance(p.get("name"), str)]
    raise InputError(f"{path}: neither an iotcop assessment nor a CycloneDX or SPDX JSON SBOM")


def _spdx(package: dict[str, Any]) -> Component:
    refs = {r.get("referenceType"): r.get("referenceLocator") for r in package.get("externalRefs") or []
            if isinstance(r, dict)}
    return _component(package["name"], package.get("versionInfo"), refs.get("cpe23Type"), refs.get("purl"),
                      "SPDX SBOM")


def _component(name: str, version: object, cpe: object, purl: object, source: str) -> Component:
    return Component(name=name.lower(), version=_text(version), confidence="medium", source=source,
                     cpe=_text(cpe), purl=_text(purl))


def _text(value: object) -> str | None:
    return value[:500] if isinstance(value, str) and value else None
