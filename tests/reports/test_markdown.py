"""The Markdown pull-request summary: the right sections, bounded in size, link-free and inert whatever the
image contains, deterministic (golden file). The hand-made and real assessments are those of cases.py.
Regenerate the golden file with ``UPDATE_GOLDEN=1 pytest tests/reports``.
"""

from __future__ import annotations

import re

import cases as CASES  # tests/reports/cases.py, on the path through conftest.py
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iotcop.catalogue import Catalogue, load_catalogue
from iotcop.model import Assessment, Location, Severity
from iotcop.reports.markdown import MAX_FINDINGS, code, render_markdown, text

# what would make Markdown active: a link or image, raw HTML, an autolink, a mention
ACTIVE = re.compile(r"(?<!\\)\[[^\]]*(?<!\\)\]\(|(?<!\\)<[a-zA-Z/!]|(?<![\\`])https?://|@[a-zA-Z]")


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def rows(markdown: str, heading: str) -> list[str]:
    """The table rows under a heading (header and rule excluded)."""
    section = markdown.split(heading, 1)[1].split("\n### ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ")][2:]


def cells(row: str) -> list[str]:
    """Split a table row on unescaped pipes, as GitHub does."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]


def test_the_summary_of_every_outcome(catalogue: Catalogue) -> None:
    data = render_markdown(CASES.edge_assessment(catalogue), catalogue)
    assert render_markdown(CASES.edge_assessment(catalogue), catalogue) == data
    CASES.assert_golden("edge.md", data)
    md = data.decode()
    assert "❌ **FAIL**: 2 mandatory requirement(s) failed" in md  # en303645:5.1-1 and psti:sch1-1
    counts = {cells(r)[0]: cells(r)[1:] for r in rows(md, "| Framework")}
    assert counts["UK PSTI (Security Requirements for Relevant Connectable Products) Regulations 2023"] == [
        "0", "1", "0", "0", "1"]
    failed = [cells(r)[0] for r in rows(md, "### Mandatory requirements failed (2)")]
    assert failed == ["`en303645:5.1-1`", "`psti:sch1-1`"]
    findings = [cells(r) for r in rows(md, "### Top findings")]
    assert [f[1] for f in findings] == ["`fw.components.known-vulnerability`", "`fw.credentials.default-password`",
                                        "`fw.input.command-injection`", "`net.legacy.telnet-answers`",
                                        "`decl.consistency.contradiction`"]  # by severity; the INFO one left out
    assert findings[1][2] == "`/etc/shadow:3`" and findings[2][2] == "`/www/cgi bin/ä#1.cgi:7@0x40`"
    [vulnerable] = [cells(r) for r in rows(md, "### Components with known vulnerabilities (1)")]
    assert vulnerable == ["`openssl 1.0.1f`", "1", "CRITICAL", "CVE-2014-0160"]
    assert all(len(cells(r)) == 4 for r in rows(md, "### Top findings"))  # hostile pipes did not split a row


def test_hostile_text_is_inert() -> None:
    hostile = CASES.HOSTILE
    out = text(hostile)
    assert not ACTIVE.search(out), out
    assert "\\<script\\>" in out and "a\\|b" in out and "\\\\x01\\\\x1b" in out and "`http://x.invalid/p)`" in out
    assert "@\u200badmin" in out and "ünï 😀" in out and "\\&amp;" in out
    assert text("see #12 and \\#3") == "see \\#\u200b12 and \\\\\\#\u200b3"
    assert text("line one\nline two |") == "line one line two \\|"
    assert code("a `tick` | b") == "``a `tick` \\| b``"
    assert code("`x`") == "`` `x` ``"
    assert len(text("x" * 10_000)) <= 240


def test_the_whole_summary_is_inert_and_link_free(catalogue: Catalogue) -> None:
    md = render_markdown(CASES.edge_assessment(catalogue), catalogue).decode()
    prose = re.sub(r"(`+).*?\1", "", md)  # code spans are inert by definition
    assert not ACTIVE.search(prose), ACTIVE.search(prose)
    assert "](" not in prose.replace("\\]", "")


def test_an_empty_assessment(catalogue: Catalogue) -> None:
    md = render_markdown(CASES.empty_assessment(), catalogue).decode()
    assert "✅ **No mandatory requirement failed**" in md
    assert "### " not in md  # no empty sections


def test_many_findings_stay_comment_sized(catalogue: Catalogue) -> None:
    many = tuple(CASES.hand_finding("fw.permissions.world-writable", f"{i} " + "y" * 500,
                                Location.in_image(f"/tmp/{i}" * 40), Severity.LOW) for i in range(3000))
    assessment = CASES.edge_assessment(catalogue).model_copy(update={"findings": many})
    md = render_markdown(assessment, catalogue).decode()
    assert len(rows(md, "### Top findings")) == MAX_FINDINGS
    assert f"…and {3000 - MAX_FINDINGS} more finding(s)" in md
    assert len(md.encode()) < 20_000  # a forge's comment limit is 65,536 characters


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=120))
def test_any_text_stays_in_its_cell(value: str) -> None:
    assert "\n" not in text(value) and not re.search(r"(?<!\\)\|", text(value))
    assert not ACTIVE.search(re.sub(r"(`+).*?\1", "", text(value)))


def test_real_assessments(report_cases: dict[str, Assessment], catalogue: Catalogue) -> None:
    vulnerable = render_markdown(report_cases["vulnerable"], catalogue).decode()
    assert vulnerable.startswith("## iotcop assessment: vulnerable.sqfs")
    assert "❌ **FAIL**" in vulnerable and "`psti:sch1-1`" in vulnerable
    assert "`/etc/shadow" in vulnerable
    example = render_markdown(report_cases["example"], catalogue).decode()
    assert example.startswith("## iotcop assessment: Example Camera")
    for md in (vulnerable, example):
        assert len(md) < 20_000
        assert {cells(r)[0] for r in rows(md, "| Framework")} >= {"UK Code of Practice for Consumer IoT Security"}
