"""``iotcop assess product``: the example camera's firmware, documents and declaration as one assessment."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from clitools import invoke

from iotcop.cli import EXIT_FAILED, EXIT_INPUT
from iotcop.product import ProductError, load_product

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ROOT / "examples" / "smart-camera" / "product.yaml"


@pytest.fixture(scope="module")
def example_image() -> Path:
    for tool in ("mksquashfs", "unsquashfs"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (the set-up command installs squashfs-tools)")
    out = subprocess.run([str(ROOT / "scripts" / "build-example.sh")], capture_output=True, text=True, check=True,
                         timeout=120).stdout.strip().splitlines()[-1]
    return Path(out)


def test_the_example_product_is_one_assessment_of_everything(example_image: Path, tmp_path: Path) -> None:
    result = invoke("assess", "product", str(PRODUCT), "-o", str(tmp_path), "-q", "--report", "json,html")
    assert result.exit_code == EXIT_FAILED, result.output
    data = json.loads((tmp_path / "assessment.json").read_text())
    assert data["inputs"] == ["firmware", "document", "declaration"]
    assert data["target"]["kind"] == "product" and data["target"]["version"] == "1.0.3"
    found = {(f["check_id"], Path(f["location"]["path"]).name) for f in data["findings"]}
    assert ("fw.credentials.default-password", "shadow") in found  # the image
    assert ("doc.disclosure.no-timelines", "disclosure.html") in found  # the vendor's policy says no 'when'
    assert ("doc.statement.contradiction", "statement.yaml") in found  # the statement claims sch1-1 is met
    assert ("decl.consistency.contradiction", "ics.5.2-1") in found  # so does the declaration, for 5.2-1
    verdicts = {(v["framework"], v["requirement_id"]): v["outcome"] for v in data["verdicts"]}
    assert verdicts[("psti", "sch1-1")] == "FAIL" and verdicts[("psti", "sch1-2")] == "FAIL"
    assert verdicts[("psti", "sch1-3")] == "PASS"  # 'until 31 December 2030', as declared
    assert verdicts[("psti", "soc-1")] == "FAIL"
    assert (tmp_path / "report.html").stat().st_size > 10_000


@pytest.mark.parametrize(("text", "message"), [
    ("schema: iotcop-product/1\nfirmware: nowhere.bin\n", "line 2: firmware: no such file"),
    ("schema: iotcop-product/1\nproduct: {name: X}\n", "names nothing to assess"),
    ("schema: iotcop-product/2\nfirmware: x\n", "schema"),
    ("schema: iotcop-product/1\ndevice: {ports: '22'}\n", "name the device's targets or a scope"),
    ("schema: iotcop-product/1\ndocuments: {policy: [a.html], color: red}\n", "line 2: documents.color"),
    ("- just\n- a list\n", "must be a mapping"),
    ("schema: [unclosed\n", "not valid YAML"),
])
def test_a_bad_product_file_is_every_problem_with_its_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "product.yaml"
    path.write_text(text)
    with pytest.raises(ProductError) as caught:
        load_product(path)
    assert message in str(caught.value)
    result = invoke("assess", "product", str(path), "-o", str(tmp_path / "out"))
    assert result.exit_code == EXIT_INPUT and message in result.output
    assert not (tmp_path / "out" / "assessment.json").exists()
