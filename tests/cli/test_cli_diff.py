"""``iotcop diff`` and ``iotcop triage apply|validate`` through Typer's CliRunner, on the golden router images
(as images and as saved assessments). The commands are mounted on a test app here until cli.py wires them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from clitools import ANSI
from typer.testing import CliRunner, Result

from iotcop.api import assess_firmware
from iotcop.cli_common import EXIT_FAILED, EXIT_INPUT, EXIT_OK, EXIT_USAGE
from iotcop.cli_diff import diff_cmd, triage_app
from iotcop.reports.json import render_json

app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
app.command("diff")(diff_cmd)
app.add_typer(triage_app, name="triage")


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "250", "NO_COLOR": "1", "FORCE_COLOR": None})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from golden import build

    work = tmp_path_factory.mktemp("cli-diff")
    out: dict[str, Path] = {}
    for kind in ("vulnerable", "hardened"):
        out[kind] = build(kind, work / kind)
        out[f"{kind}.json"] = work / f"{kind}.json"
        out[f"{kind}.json"].write_bytes(render_json(assess_firmware(out[kind])))
    return out


def test_diff_of_two_images_gates_on_regression(images: dict[str, Path]) -> None:
    better = invoke("diff", str(images["vulnerable"]), str(images["hardened"]))
    assert better.exit_code == EXIT_OK, better.output
    text = ANSI.sub("", better.stdout)
    assert "Fixed findings" in text and "fw.credentials.default-password" in text and "no regression" in text
    worse = invoke("diff", str(images["hardened.json"]), str(images["vulnerable.json"]), "--format", "json")
    assert worse.exit_code == EXIT_FAILED
    doc = json.loads(worse.stdout)
    assert any(r.startswith("en303645:5.1-1 went from PASS to FAIL") for r in doc["regressions"])
    assert doc["old"]["target"]["name"] == "hardened.sqfs"


def test_diff_writes_html_and_text_files(images: dict[str, Path], tmp_path: Path) -> None:
    page = tmp_path / "diff.html"
    result = invoke("diff", str(images["hardened.json"]), str(images["vulnerable.json"]), "-f", "html", "-o",
                    str(page), "--fail-on", "critical")
    assert result.exit_code == EXIT_FAILED and result.stdout == ""
    assert page.read_text().startswith("<!DOCTYPE html>")
    table = tmp_path / "diff.txt"
    assert invoke("diff", str(images["vulnerable.json"]), str(images["vulnerable.json"]), "-o",
                  str(table)).exit_code == EXIT_OK
    assert "0 fixed, 0 new" in table.read_text() and "\x1b[" not in table.read_text()


def test_triage_apply_writes_the_reevaluated_assessment(images: dict[str, Path], tmp_path: Path) -> None:
    assessment = json.loads(images["vulnerable.json"].read_bytes())
    [shadow] = [f for f in assessment["findings"] if f["check_id"] == "fw.credentials.default-password"
                and f["location"]["path"] == "/etc/shadow" and "'root'" in f["message"]]
    triage = tmp_path / "iotcop.triage.yaml"
    triage.write_text("schema: iotcop-triage/1\ndecisions:\n"
                      f"  - fingerprint: {shadow['stable_fingerprint']}\n    status: accepted_risk\n"
                      "    justification: lab unit only\n"
                      "  - fingerprint: '0000000000000000'\n    status: false_positive\n    justification: gone\n")
    out = tmp_path / "triaged.json"
    result = invoke("triage", "apply", str(images["vulnerable.json"]), str(triage), "-o", str(out),
                    "--as-of", "2025-07-01")
    assert result.exit_code == EXIT_OK, result.output
    assert "unknown: iotcop.triage.yaml:6: fingerprint 0000000000000000 matches no finding" in result.stderr
    doc = json.loads(out.read_bytes())
    assert doc["schema_version"] == "1.2" and doc["triage"]["applied"] == 1
    [marked] = [f for f in doc["findings"] if f["fingerprint"] == shadow["fingerprint"]]
    assert marked["suppression"]["status"] == "accepted_risk"
    assert invoke("triage", "validate", str(triage)).exit_code == EXIT_OK
    assert invoke("triage", "apply", str(images["vulnerable.json"]), str(triage), "-o", str(out),
                  "--as-of", "July").exit_code == EXIT_USAGE


def test_bad_inputs_are_clear_errors(images: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema: iotcop-triage/1\ndecisions:\n  - check: fw.a.b\n    status: nope\n    justification: x\n")
    result = invoke("triage", "validate", str(bad))
    assert result.exit_code == EXIT_INPUT and "line 4: decisions.0.status" in result.stderr
    notjson = tmp_path / "x.json"
    notjson.write_text('{"not": "an assessment"}')
    result = invoke("diff", str(notjson), str(images["vulnerable.json"]))
    assert result.exit_code == EXIT_INPUT and "not an iotcop assessment" in result.stderr
    result = invoke("diff", str(tmp_path / "missing.bin"), str(images["vulnerable.json"]))
    assert result.exit_code == EXIT_INPUT
