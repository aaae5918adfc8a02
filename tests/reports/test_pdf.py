"""The PDF report: WeasyPrint lays out the same page; poppler turns it back into pictures and text to check
that the pages are not blank and say the verdicts. WeasyPrint is loaded only when a PDF is made."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_html import NASTY, finding, golden_assessments, handmade, verdict

from iotcop.catalogue import Catalogue, load_catalogue
from iotcop.model import Assessment, Outcome, Severity
from iotcop.reports.pdf import _refusing_fetcher, render_pdf

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
if str(FIXTURES) not in sys.path:
    sys.path.insert(0, str(FIXTURES))

from fwimages import require_tool  # noqa: E402


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def vulnerable_pdf(tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue) -> tuple[Assessment, Path]:
    assessment = golden_assessments(tmp_path_factory)["vulnerable"]
    path = tmp_path_factory.mktemp("pdf") / "vulnerable.pdf"
    path.write_bytes(render_pdf(assessment, catalogue))
    return assessment, path


def pages(pdf: Path) -> list[Path]:
    require_tool("pdftoppm")
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(pdf.with_suffix(""))], check=True, timeout=300)
    return sorted(pdf.parent.glob(f"{pdf.stem}-*.png"))


def text_of(pdf: Path) -> str:
    require_tool("pdftotext")
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True,
                          timeout=120).stdout


def test_the_vulnerable_router_as_pdf(vulnerable_pdf: tuple[Assessment, Path]) -> None:
    assessment, pdf = vulnerable_pdf
    assert pdf.read_bytes().startswith(b"%PDF-")
    text = text_of(pdf)
    assert "Executive summary" in text and "Overall: FAIL" in text
    assert "CVE-2014-0160" in text and "No default passwords" in text
    for v in assessment.verdicts:  # every verdict word is there, drill-downs open
        assert v.outcome.value.replace("_", " ") in text
    for f in assessment.findings[:5]:
        assert f.location.path in text
    pngs = pages(pdf)
    assert 5 <= len(pngs) <= 120, f"{len(pngs)} pages"
    from PIL import Image, ImageStat

    for png in pngs:
        assert ImageStat.Stat(Image.open(png).convert("L")).stddev[0] > 5, f"{png.name} is blank"


def test_a_small_hostile_assessment_is_deterministic_and_escaped(tmp_path: Path, catalogue: Catalogue) -> None:
    evil = finding(Severity.CRITICAL, message=NASTY + ' <img src="file:///etc/passwd">')
    assessment = handmade(findings=(evil,), verdicts=(verdict("en303645", "5.1-1", Outcome.FAIL, reason=NASTY,
                                                              findings=(evil.fingerprint,)),))
    data = render_pdf(assessment, catalogue)
    assert data == render_pdf(assessment, catalogue)
    pdf = tmp_path / "small.pdf"
    pdf.write_bytes(data)
    text = text_of(pdf)
    assert "<script>alert('x')</script>" in text and '<img src="file:///etc/passwd">' in text
    assert "Overall: FAIL" in text and "CRITICAL" in text
    assert 1 <= len(pages(pdf)) <= 10
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=False).stdout
    if info:
        assert "2025" in info  # the creation date is the assessment's, not the clock's


def test_the_fetcher_refuses_every_url() -> None:
    from weasyprint.urls import URLFetchingError

    with pytest.raises(URLFetchingError):
        _refusing_fetcher().fetch("file:///etc/passwd")


def test_weasyprint_is_not_imported_with_iotcop() -> None:
    code = "import sys, iotcop, iotcop.reports.pdf, iotcop.reports.html; print('weasyprint' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "False"
