"""``iotcop report``: a saved assessment rendered again in every format; signed, then labelled with its code."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from clitools import invoke

from iotcop.cli import EXIT_INPUT, EXIT_OK, EXIT_USAGE
from iotcop.reports.formats import FORMATS

ROOT = Path(__file__).resolve().parents[2]
DECLARATION = ROOT / "examples" / "smart-camera" / "declaration.yaml"


@pytest.fixture(scope="module")
def assessment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for tool in ("mksquashfs", "unsquashfs"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (the set-up command installs squashfs-tools)")
    proc = subprocess.run([str(ROOT / "scripts" / "build-example.sh")], capture_output=True, text=True, check=True,
                          timeout=120)
    image = Path(proc.stdout.strip().splitlines()[-1])
    out = tmp_path_factory.mktemp("assessed")
    result = invoke("assess", "firmware", str(image), "-d", str(DECLARATION), "-o", str(out), "-q",
                    "--report", "json,sarif,md")
    assert result.exit_code == 1, result.output
    assert {p.name for p in out.iterdir()} == {"assessment.json", "iotcop.sarif", "summary.md"}
    return out / "assessment.json"


def test_every_format_is_rendered_from_the_saved_assessment(assessment: Path, tmp_path: Path) -> None:
    result = invoke("report", str(assessment), "--format", "all", "-o", str(tmp_path))
    assert result.exit_code == EXIT_OK, result.output
    assert {p.name for p in tmp_path.iterdir()} == {f.filename for f in FORMATS.values()}
    assert (tmp_path / "assessment.json").read_bytes() == assessment.read_bytes()  # the same bytes again
    mask = os.umask(0o022)
    os.umask(mask)
    assert {p.stat().st_mode & 0o777 for p in tmp_path.iterdir()} == {0o666 & ~mask}  # readable like any file
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "label.png").read_bytes().startswith(b"\x89PNG")
    assert json.loads((tmp_path / "iotcop.sarif").read_text())["version"] == "2.1.0"
    assert "<testsuites" in (tmp_path / "junit.xml").read_text()


def test_the_label_carries_the_code_of_a_verified_signature_only(assessment: Path, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    private, public = keys / "iotcop.key", keys / "iotcop.pub"
    assert invoke("keys", "generate", "--private", str(private), "--public", str(public)).exit_code == 0
    signature = tmp_path / "assessment.json.sig"
    assert invoke("sign", str(assessment), "--key", str(private), "-o", str(signature)).exit_code == 0
    verified = invoke("verify", str(assessment), "--signature", str(signature), "--public-key", str(public))
    assert verified.exit_code == 0, verified.output
    code = json.loads(signature.read_text())
    out = tmp_path / "out"
    result = invoke("report", str(assessment), "-f", "label", "-o", str(out), "--signature", str(signature),
                    "--public-key", str(public))
    assert result.exit_code == EXIT_OK, result.output
    svg = (out / "label.svg").read_text()
    from iotcop.reports.signing import verification_code_of

    assert verification_code_of(signature.read_bytes()) in svg and code
    # the same signature over a changed report: refused, and no label is written
    changed = tmp_path / "changed.json"
    changed.write_text(assessment.read_text().replace('"outcome": "FAIL"', '"outcome": "PASS"', 1))
    refused = invoke("report", str(changed), "-f", "label", "-o", str(tmp_path / "refused"), "--signature",
                     str(signature), "--public-key", str(public))
    assert refused.exit_code == EXIT_INPUT and "changed after signing" in refused.output
    assert not (tmp_path / "refused" / "label.svg").exists()
    assert invoke("report", str(assessment), "-f", "label", "--signature", str(signature)).exit_code == EXIT_USAGE


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    assert invoke("report", str(tmp_path / "missing.json")).exit_code == EXIT_USAGE
    not_ours = tmp_path / "other.json"
    not_ours.write_text('{"hello": "world"}')
    result = invoke("report", str(not_ours))
    assert result.exit_code == EXIT_INPUT and "is not an iotcop assessment" in result.output
    assert invoke("report", str(not_ours), "-f", "docx").exit_code == EXIT_USAGE
