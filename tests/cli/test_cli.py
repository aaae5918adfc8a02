"""The command line (catalogue, explain, doctor, declaration, schema, version) through Typer's CliRunner.

Human output is read with a wide terminal (no wrapping) and without colour; machine output (``--format
json``) must parse. Errors go to stderr as one clear line and a documented exit code, never a traceback.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from clitools import ANSI, invoke
from typer.testing import Result

from iotcop._version import __version__
from iotcop.catalogue import load_catalogue
from iotcop.cli import EXIT_INPUT, EXIT_OK, EXIT_USAGE

EXAMPLE_DECLARATION = Path(__file__).resolve().parents[2] / "examples" / "smart-camera" / "declaration.yaml"

EN_IDS = [r.id for r in load_catalogue().framework("en303645").requirements]


def run(*args: str) -> Result:
    return invoke(*args, columns=250)


def stdout(result: Result) -> str:
    return ANSI.sub("", result.stdout)


def stderr(result: Result) -> str:
    return ANSI.sub("", result.stderr)


def table_first_column(text: str) -> list[str]:
    """The first cell of every body row of a Rich table (a wrapped row continues with an empty first cell)."""
    return [cell for line in text.splitlines() if line.startswith("│") and (cell := line.split("│")[1].strip())]


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


# --- version ---------------------------------------------------------------------------------------


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == EXIT_OK
    assert stdout(result).strip() == f"iotcop {__version__}"


def test_unknown_command_is_a_usage_error() -> None:
    result = run("frobnicate")
    assert result.exit_code == EXIT_USAGE


# --- catalogue list --------------------------------------------------------------------------------


@pytest.mark.parametrize(("framework", "ids"), [
    ("en303645", EN_IDS),
    ("cop2018", [str(n) for n in range(1, 14)]),
    ("psti", ["sch1-1", "sch1-2", "sch1-3", "soc-1"]),
])  # fmt: skip
def test_catalogue_list_table(framework: str, ids: list[str]) -> None:
    result = run("catalogue", "list", "--framework", framework)
    assert result.exit_code == EXIT_OK, result.output
    text = stdout(result)
    assert f"— {len(ids)} requirements" in text
    assert table_first_column(text) == ids


def test_en303645_list_has_every_provision_with_status() -> None:
    result = run("catalogue", "list", "--framework", "en303645")
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip()
            for line in stdout(result).splitlines() if line.startswith("│") and line.split("│")[1].strip()}
    assert len(rows) == 68
    assert rows["5.1-1"] == "M C"
    assert rows["5.1-3"] == "M"
    assert rows["5.3-1"] == "R"
    assert rows["4-1"] == "M"


@pytest.mark.parametrize(("framework", "count"), [("en303645", 68), ("cop2018", 13), ("psti", 4)])
def test_catalogue_list_json(framework: str, count: int) -> None:
    result = run("catalogue", "list", "--framework", framework, "--format", "json")
    assert result.exit_code == EXIT_OK
    data = as_json(result)
    assert data["framework"]["id"] == framework
    assert len(data["requirements"]) == count
    assert len({r["id"] for r in data["requirements"]}) == count
    assert all(r["status"] for r in data["requirements"])
    assert result.stderr == ""


def test_catalogue_list_json_statuses_of_en303645() -> None:
    data = as_json(run("catalogue", "list", "--framework", "en303645", "-f", "json"))
    status = {r["id"]: r["status"] for r in data["requirements"]}
    assert [r["id"] for r in data["requirements"]] == EN_IDS
    assert status["5.1-1"] == "mandatory-conditional"
    assert status["5.2-1"] == "mandatory"
    assert status["5.1-1"] != status["5.3-1"]


def test_catalogue_list_unknown_framework() -> None:
    result = run("catalogue", "list", "--framework", "nope")
    assert result.exit_code == EXIT_USAGE
    assert result.stdout == ""
    assert stderr(result).strip() == "error: unknown framework 'nope' (known: en303645, cop2018, psti)"


def test_catalogue_list_needs_a_framework() -> None:
    result = run("catalogue", "list")
    assert result.exit_code == EXIT_USAGE
    assert "--framework" in stderr(result)


def test_catalogue_list_rejects_an_unknown_format() -> None:
    result = run("catalogue", "list", "--framework", "psti", "--format", "xml")
    assert result.exit_code == EXIT_USAGE


# --- catalogue coverage ----------------------------------------------------------------------------


def test_catalogue_coverage_json_and_table_agree() -> None:
    data = as_json(run("catalogue", "coverage", "--format", "json"))
    assert list(data) == ["en303645", "cop2018", "psti"]
    assert {fw: len(reqs) for fw, reqs in data.items()} == {"en303645": 68, "cop2018": 13, "psti": 4}
    assert list(data["en303645"]) == EN_IDS
    assert {c for reqs in data.values() for c in reqs.values()} <= {"automated", "declaration", "none"}
    assert data["en303645"]["5.1-1"] == "automated"

    result = run("catalogue", "coverage")
    assert result.exit_code == EXIT_OK
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:6]]
            for line in stdout(result).splitlines() if line.startswith("│")}
    assert set(rows) == set(data)
    for fw, reqs in data.items():
        values = list(reqs.values())
        assert rows[fw] == [str(len(values)), str(values.count("automated")), str(values.count("declaration")),
                            str(values.count("none"))]


# --- explain ---------------------------------------------------------------------------------------


def test_explain_a_provision() -> None:
    result = run("explain", "5.1-1")
    assert result.exit_code == EXIT_OK, result.output
    text = stdout(result)
    assert text.startswith("en303645:5.1-1 — ")
    assert "status: mandatory-conditional (if " in text
    assert "belongs to UK Code of Practice for Consumer IoT Security: 1 No default passwords" in text
    assert re.search(r"^belongs to UK PSTI .*: sch1-1 ", text, re.MULTILINE)
    assert "evidenced by fw.credentials.default-password: " in text
    assert "evidenced by fw.credentials.empty-password: " in text
    assert "can only fail it: net.credentials.default-login: " in text


def test_explain_a_provision_as_json() -> None:
    [doc] = as_json(run("explain", "5.1-1", "--format", "json"))
    assert doc["framework"] == "en303645"
    assert doc["id"] == "5.1-1"
    assert doc["status"] == "mandatory-conditional"
    assert {"cop2018:1", "psti:sch1-1"} <= set(doc["belongs_to"])
    assert "fw.credentials.default-password" in doc["evidenced_by"]


@pytest.mark.parametrize("ref", ["en303645:5.1-1", "psti:sch1-1", "cop2018:1"])
def test_explain_a_qualified_reference(ref: str) -> None:
    result = run("explain", ref)
    assert result.exit_code == EXIT_OK
    assert stdout(result).startswith(f"{ref} — ")


def test_explain_a_guideline_shows_what_it_rolls_up() -> None:
    text = stdout(run("explain", "cop2018:1"))
    assert "rolls up en303645:5.1-1" in text
    assert "belongs to UK PSTI" in text


def test_explain_a_check_shows_who_cites_it() -> None:
    result = run("explain", "fw.credentials.default-password")
    assert result.exit_code == EXIT_OK
    text = stdout(result)
    assert text.startswith("fw.credentials.default-password — ")
    assert "evidence: firmware" in text
    assert re.search(r"^  en303645:5\.1-1 \(built\) — ", text, re.MULTILINE)
    assert "remediation: " in text


def test_explain_a_check_as_json() -> None:
    doc = as_json(run("explain", "fw.credentials.default-password", "-f", "json"))
    assert doc["check"] == "fw.credentials.default-password"
    assert doc["kind"] == "firmware"
    assert {"framework": "en303645", "requirement": "5.1-1", "as": "built"} in doc["cited_by"]
    assert doc["rationale"] and doc["remediation"]


def test_explain_a_planned_check_says_it_is_planned() -> None:
    result = run("explain", "net.services.undeclared")
    assert result.exit_code == 0
    message = result.stdout.strip()
    assert "net.services.undeclared is a planned check, not built yet" in message
    assert "en303645:5.6-1" in message
    assert "\n" not in message


@pytest.mark.parametrize(("identifier", "message"), [
    ("nonsense", "'nonsense' is neither a requirement nor a check"),
    ("5.1-99", "'5.1-99' is neither a requirement nor a check"),
    ("en303645:5.1-99", "en303645 has no requirement '5.1-99'"),
    ("nope:1", "unknown framework 'nope'"),
    ("[/]", "'[/]' is neither a requirement nor a check"),  # Rich markup in the input is printed, not parsed
    ("[bold]x", "'[bold]x' is neither a requirement nor a check"),
])  # fmt: skip
def test_explain_unknown(identifier: str, message: str) -> None:
    result = run("explain", identifier)
    assert result.exit_code == EXIT_USAGE
    assert result.stdout == ""
    assert message in stderr(result)
    assert len(stderr(result).strip().splitlines()) == 1


# --- doctor ----------------------------------------------------------------------------------------


def test_doctor_table_and_json() -> None:
    data = as_json(run("doctor", "--format", "json"))
    names = {s["name"]: s for s in data}
    assert {"unsquashfs", "pydantic", "PyYAML", "typer", "rich"} <= set(names)
    assert names["unsquashfs"]["kind"] == "program"
    assert names["pydantic"]["kind"] == "library"
    assert names["pydantic"]["found"] is True and names["pydantic"]["version"]
    assert all(set(s) >= {"name", "kind", "found", "version", "detail", "purpose", "required"} for s in data)

    result = run("doctor")
    missing_required = any(s["required"] and not s["found"] for s in data)
    assert result.exit_code == (EXIT_INPUT if missing_required else EXIT_OK)
    listed = [name for line in stdout(result).splitlines() if line.startswith("│")
              and (name := line.split("│")[2].strip())]
    assert listed == [s["name"] for s in data]


# --- declaration -----------------------------------------------------------------------------------


def test_template_validates(tmp_path: Path) -> None:
    result = run("declaration", "template")
    assert result.exit_code == EXIT_OK
    path = tmp_path / "decl.yaml"
    path.write_text(result.stdout)
    assert result.stdout.count("{support: null, detail: null}") == 68
    checked = run("declaration", "validate", str(path))
    assert checked.exit_code == EXIT_OK, checked.output
    assert stdout(checked).strip() == f"{path}: valid (0 provision(s) answered)"


def test_example_declaration_validates() -> None:
    result = run("declaration", "validate", str(EXAMPLE_DECLARATION))
    assert result.exit_code == EXIT_OK
    assert "valid (7 provision(s) answered)" in stdout(result)


def test_broken_declaration_names_every_line(tmp_path: Path) -> None:
    path = tmp_path / "decl.yaml"
    text = EXAMPLE_DECLARATION.read_text()
    text = text.replace('"5.6-3": {support: no,', '"5.6-3": {support: maybe,')  # line 14
    text = text.replace("acknowledgement_days: 5", "acknowledgement_days: soon")  # line 21
    path.write_text(text)
    result = run("declaration", "validate", str(path))
    assert result.exit_code == EXIT_INPUT
    assert result.stdout == ""
    err = stderr(result)
    assert err.startswith(f"cannot assess: {path}: invalid declaration (2 problem(s)):")
    assert "line 14: ics.5.6-3.support: " in err
    assert "line 21: ixit.vulnerability_reporting.acknowledgement_days: " in err


def test_declaration_problem_text_keeps_its_brackets(tmp_path: Path) -> None:
    path = tmp_path / "decl.yaml"
    path.write_text("schema: iotcop-declaration/1\nproduct: {manufacturer: a, name: b}\nics:\n  5.1: {}\n")
    err = stderr(run("declaration", "validate", str(path)))
    assert "line 4: ics.5.1.[key]: " in err


@pytest.mark.parametrize(("content", "message"), [
    (b"", "line"),  # replaced below: the empty file has no line
    (b"\xff\xfe\x00", "not UTF-8"),
    (b"- a\n- b\n", "must be a mapping"),
    (b"a: &x 1\nb: *x\n", "anchors and aliases"),
])  # fmt: skip
def test_validate_refuses_bad_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "decl.yaml"
    path.write_bytes(content)
    result = run("declaration", "validate", str(path))
    assert result.exit_code == EXIT_INPUT
    assert ("the file is empty" if not content else message) in stderr(result)


def test_validate_a_missing_file(tmp_path: Path) -> None:
    result = run("declaration", "validate", str(tmp_path / "missing.yaml"))
    assert result.exit_code == EXIT_INPUT
    err = stderr(result).strip()
    assert err == f"cannot assess: {tmp_path / 'missing.yaml'}: cannot read the declaration: No such file or directory"


def test_validate_a_file_over_one_mebibyte(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * (1024 * 1024 + 1))
    result = run("declaration", "validate", str(path))
    assert result.exit_code == EXIT_INPUT
    assert "larger than 1048576 bytes" in stderr(result)


# --- schema ----------------------------------------------------------------------------------------


def test_schema_is_a_draft_2020_12_json_schema() -> None:
    from jsonschema import Draft202012Validator

    result = run("schema")
    assert result.exit_code == EXIT_OK
    schema = as_json(result)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    assert {"target", "generated_at", "verdicts", "findings"} <= set(schema["properties"])
