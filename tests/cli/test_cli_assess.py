"""``iotcop assess firmware`` end to end on the bundled example image, plus the errors around it.

The example image is built by ``scripts/build-example.sh`` (mksquashfs, cached under build/); assessing it
needs unsquashfs. Both come with the set-up command; without them these tests are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from clitools import ANSI, invoke
from typer.testing import Result

from iotcop._version import __version__
from iotcop.cli import EXIT_FAILED, EXIT_INPUT, EXIT_USAGE

ROOT = Path(__file__).resolve().parents[2]
DECLARATION = ROOT / "examples" / "smart-camera" / "declaration.yaml"
CONSOLE_SCRIPT = Path(sys.executable).parent / "iotcop"
GENERATED_AT = re.compile(rb'^  "generated_at": "[^"]*",\n', re.MULTILINE)


@pytest.fixture(scope="module")
def image() -> Path:
    for tool in ("mksquashfs", "unsquashfs"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (the set-up command installs squashfs-tools)")
    proc = subprocess.run([str(ROOT / "scripts" / "build-example.sh")], capture_output=True, text=True,
                          check=True, timeout=120)
    path = Path(proc.stdout.strip().splitlines()[-1])
    assert path.is_file() and path.stat().st_size > 0
    return path


def run(*args: str) -> Result:
    return invoke(*args, columns=250)


def text_of(stream: str) -> str:
    return ANSI.sub("", stream)


def load(path: Path) -> Any:
    return json.loads(path.read_bytes())


def outcomes(assessment: Any, framework: str) -> dict[str, str]:
    return {v["requirement_id"]: v["outcome"] for v in assessment["verdicts"] if v["framework"] == framework}


# --- the bundled example ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example_run(image: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path]:
    out = tmp_path_factory.mktemp("example") / "out"
    return run("assess", "firmware", str(image), "-d", str(DECLARATION), "-o", str(out)), out


def test_example_fails_and_writes_the_assessment(example_run: tuple[Result, Path]) -> None:
    result, out = example_run
    assert result.exit_code == EXIT_FAILED, result.output
    assert (out / "assessment.json").is_file()
    text = text_of(result.stdout)
    assert "'xc3511'" in text  # the default password that works is shown
    assert "Verdicts per guideline" in text
    assert "UK PSTI security requirements" in text
    assert f"wrote {out / 'assessment.json'}" in text
    assert "mandatory failed: " in text


def test_example_assessment_content(example_run: tuple[Result, Path]) -> None:
    _, out = example_run
    data = load(out / "assessment.json")
    assert data["tool"] == {"name": "iotcop", "version": __version__}
    assert data["target"]["name"] == "smart-camera.sqfs"
    assert data["target"]["product"] == "Example Camera"
    assert re.fullmatch(r"[0-9a-f]{64}", data["target"]["sha256"])
    assert data["inputs"] == ["firmware", "declaration"]
    assert outcomes(data, "en303645")["5.1-1"] == "FAIL"
    assert outcomes(data, "cop2018")["1"] == "FAIL"
    assert outcomes(data, "psti")["sch1-1"] == "FAIL"
    flagged = {(f["check_id"], f["location"]["path"]) for f in data["findings"] if f["location"].get("path")}
    assert ("fw.credentials.default-password", "/etc/shadow") in flagged
    assert any(f["check_id"] == "decl.consistency.contradiction" for f in data["findings"])


def test_assessment_validates_against_the_published_schema(example_run: tuple[Result, Path]) -> None:
    from jsonschema import Draft202012Validator

    _, out = example_run
    schema = json.loads(run("schema").stdout)
    Draft202012Validator.check_schema(schema)
    Draft202012Validator(schema).validate(load(out / "assessment.json"))


def test_assessment_is_byte_identical_apart_from_generated_at(image: Path, tmp_path: Path,
                                                              example_run: tuple[Result, Path]) -> None:
    _, first_out = example_run
    second = run("assess", "firmware", str(image), "-d", str(DECLARATION), "-o", str(tmp_path / "again"), "-q")
    assert second.exit_code == EXIT_FAILED
    assert second.stdout == ""  # --quiet
    first_bytes = (first_out / "assessment.json").read_bytes()
    second_bytes = (tmp_path / "again" / "assessment.json").read_bytes()
    assert len(GENERATED_AT.findall(first_bytes)) == 1
    assert GENERATED_AT.sub(b"", first_bytes) == GENERATED_AT.sub(b"", second_bytes)


def test_json_format_prints_the_assessment(image: Path, tmp_path: Path) -> None:
    result = run("assess", "firmware", str(image), "-d", str(DECLARATION), "-o", str(tmp_path), "-f", "json")
    assert result.exit_code == EXIT_FAILED
    data = json.loads(result.stdout)  # stdout is the assessment, nothing else
    assert data == load(tmp_path / "assessment.json")
    assert outcomes(data, "en303645")["5.1-1"] == "FAIL"


def test_without_a_declaration(image: Path, tmp_path: Path) -> None:
    result = run("assess", "firmware", str(image), "-o", str(tmp_path), "-q")
    assert result.exit_code == EXIT_FAILED  # the default password fails 5.1-1 on observation alone
    data = load(tmp_path / "assessment.json")
    assert data["inputs"] == ["firmware"]
    assert outcomes(data, "en303645")["5.1-1"] == "FAIL"


# --- inputs that cannot be assessed ----------------------------------------------------------------


def test_missing_image(tmp_path: Path) -> None:
    missing = tmp_path / "missing.bin"
    result = run("assess", "firmware", str(missing), "-o", str(tmp_path / "out"))
    assert result.exit_code == EXIT_INPUT
    err = text_of(result.stderr).strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("cannot assess: ") and str(missing) in err
    assert not (tmp_path / "out").exists()


def test_random_bytes_image_is_inconclusive(tmp_path: Path) -> None:
    image = tmp_path / "random.bin"
    image.write_bytes(os.urandom(64 * 1024))
    result = run("assess", "firmware", str(image), "-o", str(tmp_path / "out"))
    assert result.exit_code == EXIT_INPUT, result.output
    data = load(tmp_path / "out" / "assessment.json")
    assert data["verdicts"]
    assert {v["outcome"] for v in data["verdicts"]} == {"INCONCLUSIVE"}
    assert data["findings"] == []
    assert "no Linux root file system" in text_of(result.stdout)


def test_empty_image(tmp_path: Path) -> None:
    image = tmp_path / "empty.bin"
    image.write_bytes(b"")
    result = run("assess", "firmware", str(image), "-o", str(tmp_path / "out"))
    assert result.exit_code == EXIT_INPUT
    assert "empty" in text_of(result.stderr)


def test_invalid_declaration_names_the_line(image: Path, tmp_path: Path) -> None:
    decl = tmp_path / "decl.yaml"
    decl.write_text(DECLARATION.read_text().replace('"5.7-1": {support: no}', '"5.7-1": {support: nah}'))
    result = run("assess", "firmware", str(image), "-d", str(decl), "-o", str(tmp_path / "out"))
    assert result.exit_code == EXIT_INPUT
    err = text_of(result.stderr)
    assert f"{decl}: invalid declaration (1 problem(s)):" in err
    assert "line 15: ics.5.7-1.support: " in err
    assert not (tmp_path / "out").exists()  # refused before any work


def test_missing_declaration(image: Path, tmp_path: Path) -> None:
    result = run("assess", "firmware", str(image), "-d", str(tmp_path / "nope.yaml"), "-o", str(tmp_path))
    assert result.exit_code == EXIT_INPUT
    assert "cannot read the declaration" in text_of(result.stderr)


def test_unwritable_output_directory(image: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = run("assess", "firmware", str(image), "-o", str(blocker / "out"), "-q")
    assert result.exit_code == EXIT_USAGE
    err = text_of(result.stderr).strip()
    assert err == f"error: cannot write to {blocker / 'out'}: Not a directory"


def test_input_text_is_not_taken_as_markup(tmp_path: Path) -> None:
    """An account named '[/]' in a hostile image (Rich's closing tag) prints as itself."""
    root = tmp_path / "[rootfs]"
    for d in ("etc", "bin", "lib"):
        (root / d).mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n[/]::1000:1000::/:/bin/sh\n")
    (root / "etc" / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    result = run("assess", "firmware", str(root), "-o", str(tmp_path / "[out]"))
    assert result.exit_code == EXIT_FAILED, result.output
    text = text_of(result.stdout)
    assert "Account '[/]'" in text
    assert text.startswith("[rootfs]")
    assert f"wrote {tmp_path / '[out]' / 'assessment.json'}" in text


# --- the installed console script ------------------------------------------------------------------


def script(*args: str, cwd: Path | None = None, columns: int = 250) -> subprocess.CompletedProcess[str]:
    if not CONSOLE_SCRIPT.exists():
        pytest.skip(f"no console script at {CONSOLE_SCRIPT} (run the tests from the project's venv)")
    env = {**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1"}
    env.pop("FORCE_COLOR", None)
    return subprocess.run([str(CONSOLE_SCRIPT), *args], capture_output=True, text=True, timeout=300, env=env,
                          cwd=cwd, check=False)


def test_console_script_version() -> None:
    proc = script("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"iotcop {__version__}"


def test_console_script_assesses_the_example(image: Path, tmp_path: Path) -> None:
    proc = script("assess", "firmware", str(image), "-d", str(DECLARATION), "-o", "out", cwd=tmp_path)
    assert proc.returncode == EXIT_FAILED, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "'xc3511'" in proc.stdout
    assert (tmp_path / "out" / "assessment.json").is_file()


def test_console_script_error_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / ("a-long-directory-name" * 4) / "missing.img"
    proc = script("assess", "firmware", str(missing), columns=80)
    assert proc.returncode == EXIT_INPUT
    assert proc.stderr.strip().splitlines() == [f"cannot assess: {missing}: no such file or directory"]
    assert "Traceback" not in proc.stderr
