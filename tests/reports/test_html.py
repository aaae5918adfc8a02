"""The HTML report: every verdict shown, hostile text escaped, nothing external, and a page headless Chromium
draws on a desktop and a phone. Real assessments come from the golden router images (with a real NVD
feed for CVEs) and the bundled smart-camera example with its declaration; edge cases are made by hand."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
if str(FIXTURES) not in sys.path:
    sys.path.insert(0, str(FIXTURES))

from fwimages import require_tool  # noqa: E402

from iotcop.catalogue import Catalogue, load_catalogue  # noqa: E402
from iotcop.model import (  # noqa: E402
    Assessment,
    Basis,
    CatalogueRef,
    CheckRun,
    Component,
    Counts,
    Evidence,
    ExtractionStep,
    Finding,
    FrameworkSummary,
    Location,
    Outcome,
    RunStatus,
    Severity,
    Target,
    ToolInfo,
    Verdict,
)
from iotcop.reports import charts  # noqa: E402
from iotcop.reports.html import render_html, render_printable_html  # noqa: E402
from iotcop.reports.json import load_assessment, render_json  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FIXED = dt.datetime(2025, 5, 1, 12, tzinfo=dt.UTC)  # within 30 days of the fixture feed's newest record
FEED = FIXTURES / "feeds" / "nvd-iot-sample.json"
NASTY = "<script>alert('x')</script> | ]]> \x00\x07\x1b & \"q\" 'q' ünïcødé ☃ 😀 [/] `code` *md*"


# --- real assessments, built once per session and shared with test_pdf.py through a JSON cache ---------------

def golden_assessments(factory: pytest.TempPathFactory) -> dict[str, Assessment]:
    cache = factory.getbasetemp() / "reports-assessments"
    if not (cache / "done").exists():
        _build_assessments(cache)
    return {p.stem: load_assessment(p.read_bytes()) for p in sorted(cache.glob("*.json"))}


def _build_assessments(cache: Path) -> None:
    from golden import build

    from iotcop.api import assess_firmware
    from iotcop.declaration import load_declaration
    from iotcop.vulndb import VulnDB

    cache.mkdir(parents=True, exist_ok=True)
    old = os.environ.get("IOTCOP_VULNDB")
    os.environ["IOTCOP_VULNDB"] = str(cache / "vulndb.sqlite")  # a private database, only for these images
    try:
        VulnDB.open().import_files([FEED], now=FIXED)
        for kind in ("vulnerable", "hardened"):
            image = build(kind, cache / "work" / kind)
            done = assess_firmware(image, use_cache=False, clock=lambda: FIXED)
            (cache / f"{kind}.json").write_bytes(render_json(done))
        example = ROOT / "examples" / "smart-camera"
        camera = assess_firmware(example / "rootfs", load_declaration(example / "declaration.yaml"),
                                 use_cache=False, clock=lambda: FIXED)
        (cache / "camera.json").write_bytes(render_json(camera))
    finally:
        if old is None:
            os.environ.pop("IOTCOP_VULNDB", None)
        else:
            os.environ["IOTCOP_VULNDB"] = old
    (cache / "done").touch()


@pytest.fixture(scope="session")
def real(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Assessment]:
    return golden_assessments(tmp_path_factory)


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


# --- hand-made edge cases ----------------------------------------------------------------------------------

def finding(severity: Severity, message: str = "m", path: str = "/etc/x", check: str = "fw.test.thing") -> Finding:
    return Finding(check_id=check, severity=severity, title=f"{severity.value} title", message=message,
                   location=Location.in_image(path, line=3), evidence=Evidence.of(message, "read it"),
                   remediation="fix it")


def handmade(findings: tuple[Finding, ...] = (), verdicts: tuple[Verdict, ...] = (), text: str = "x",
             components: tuple[Component, ...] = ()) -> Assessment:
    counts = Counts(**{o.value: sum(v.outcome is o for v in verdicts) for o in Outcome})
    return Assessment(
        tool=ToolInfo(version="0.0"), target=Target(kind="firmware", name=f"fw{text}.bin", sha256="ab" * 32, size=9),
        generated_at="2025-05-01T12:00:00+00:00", inputs=(), findings=findings, verdicts=verdicts,
        catalogues=(CatalogueRef(framework="x", title="x", version="1", sha256="0"),), components=components,
        check_runs=(CheckRun(check_id="fw.test.thing", status=RunStatus.ERROR, reason=f"crashed {text}"),),
        extraction=(ExtractionStep(format=f"fmt{text}", tool="t", outcome="failed", message=text),),
        notes=(f"note {text}",), summary=(FrameworkSummary(framework="x", counts=counts),))


def verdict(framework: str, rid: str, outcome: Outcome, reason: str = "because", mandatory: bool = True,
            basis: Basis = Basis.OBSERVED, findings: tuple[str, ...] = ()) -> Verdict:
    return Verdict(framework=framework, requirement_id=rid, outcome=outcome, basis=basis, reason=reason,
                   mandatory=mandatory, findings=findings)


# --- a small DOM from html.parser ------------------------------------------------------------------------------

VOID = {"meta", "br", "link", "img", "input", "hr", "source", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None]) -> None:
        self.tag, self.attrs, self.children, self.parts = tag, attrs, [], []  # type: ignore[var-annotated]

    def text(self) -> str:
        return "".join(p if isinstance(p, str) else p.text() for p in self.parts)

    def iter(self) -> list[Node]:
        return [self, *(d for c in self.children for d in c.iter())]


class Tree(HTMLParser):
    def __init__(self, page: bytes) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]
        self.feed(page.decode("utf-8"))
        self.close()
        self.nodes = self.root.iter()
        self.ids = {n.attrs["id"]: n for n in self.nodes if n.attrs.get("id")}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        self.stack[-1].parts.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].parts.append(data)


# --- content -------------------------------------------------------------------------------------------------

def test_every_verdict_has_its_row_with_its_word(real: dict[str, Assessment], catalogue: Catalogue) -> None:
    for name, assessment in real.items():
        tree = Tree(render_html(assessment, catalogue))
        assert len(tree.stack) == 1, f"{name}: unclosed elements"
        for v in assessment.verdicts:
            row = tree.ids[f"r-{v.framework}-{v.requirement_id}"]
            words = {n.text() for n in row.iter() if "verdict" in (n.attrs.get("class") or "").split()}
            assert v.outcome.value.replace("_", " ") in words, (name, v.requirement_id)
            assert v.basis.value in row.text()
        for f in assessment.findings:  # each finding has its drill-down with location and evidence
            box = tree.ids[f"f-{f.fingerprint}"]
            assert box.tag == "details" and str(f.location) in box.text() and f.evidence.excerpt in box.text()
        headings = [n.text() for n in tree.nodes if n.tag == "h2"]
        assert headings[0] == "Executive summary" and "Findings" in headings and "Hardening" in headings


def test_the_vulnerable_router_summary_components_and_hardening(real: dict[str, Assessment],
                                                                  catalogue: Catalogue) -> None:
    tree = Tree(render_html(real["vulnerable"], catalogue))
    overall = next(n for n in tree.nodes if "overall" in (n.attrs.get("class") or ""))
    assert overall.text().startswith("Overall: FAIL")
    summary = tree.ids["summary"].text()
    assert "UK Code of Practice for Consumer IoT Security" in summary and "No default passwords" in summary
    assert "Every password is unique per product" in summary  # PSTI sch1-1's title, from the catalogue
    rows = {r.children[0].text(): r for r in tree.ids["components"].iter() if r.tag == "tr"}
    assert "CVE-2014-0160" in rows["openssl"].text() and "CVE-2022-28391" in rows["busybox"].text()
    assert "none matched" in rows["dropbear"].text()
    heartbleed = next(f for f in real["vulnerable"].findings if "CVE-2014-0160" in f.message)
    links = {a.attrs["href"] for a in rows["openssl"].iter() if a.tag == "a"}
    assert f"#f-{heartbleed.fingerprint}" in links
    svgs = [n for n in tree.nodes if n.tag == "svg"]
    assert {s.attrs["aria-label"] for s in svgs} >= {"Findings by severity", "Verdicts per framework"}
    assert "1 of 7 (14%)" in tree.ids["hardening"].text()  # NX over the 7 binaries
    assert "squashfs-v4 (xz)" in tree.ids["extraction"].text()


def test_a_declared_basis_shows(real: dict[str, Assessment], catalogue: Catalogue) -> None:
    camera = real["camera"]
    declared = [v for v in camera.verdicts if v.basis is Basis.DECLARED]
    assert declared
    tree = Tree(render_html(camera, catalogue))
    for v in declared:
        assert "declared" in tree.ids[f"r-{v.framework}-{v.requirement_id}"].text()


def test_no_external_reference_and_no_script(real: dict[str, Assessment], catalogue: Catalogue) -> None:
    for assessment in real.values():
        page = render_html(assessment, catalogue)
        tree = Tree(page)
        assert not [n for n in tree.nodes if n.tag in ("script", "link", "img", "iframe", "object", "embed")]
        for node in tree.nodes:
            for attr in ("src", "href", "action", "xlink:href", "srcset", "poster"):
                value = node.attrs.get(attr)
                assert value is None or value.startswith("#"), (node.tag, attr, value)
        style = "".join(n.text() for n in tree.nodes if n.tag == "style")
        assert "url(" not in style and "@import" not in style and "@font-face" not in style


def test_hostile_text_is_escaped_and_control_characters_shown(catalogue: Catalogue) -> None:
    evil = finding(Severity.HIGH, message=NASTY, path=f"/www/{NASTY}")
    assessment = handmade(findings=(evil,), text=NASTY, components=(
        Component(name=f"lib{NASTY}", version="1", confidence="low", source=NASTY, evidence=NASTY),),
        verdicts=(verdict("en303645", "5.1-1", Outcome.FAIL, reason=NASTY, findings=(evil.fingerprint,)),))
    page = render_html(assessment, catalogue)
    assert b"<script" not in page and b"\x00" not in page and b"\x07" not in page and b"\x1b" not in page
    tree = Tree(page)
    assert not [n for n in tree.nodes if n.tag == "script"]
    shown = NASTY.replace("\x00", "\\x00").replace("\x07", "\\x07").replace("\x1b", "\\x1b")
    text = tree.root.text()
    assert text.count(shown) >= 6  # message, evidence, reason, note, extraction message, component source, ...
    assert tree.ids[f"f-{evil.fingerprint}"].text().count(shown) >= 2
    assert "fw" + shown + ".bin" in tree.ids["summary"].text() or "fw" + shown + ".bin" in text


def test_every_outcome_and_severity_and_the_overall_answer(catalogue: Catalogue) -> None:
    found = tuple(finding(s, message=f"{s.value} thing", path=f"/{s.value}") for s in Severity)
    verdicts = tuple(verdict("en303645", rid, o, mandatory=o is not Outcome.NOT_APPLICABLE, basis=b)
                     for rid, o, b in (("5.1-1", Outcome.PASS, Basis.OBSERVED), ("5.1-2", Outcome.FAIL, Basis.DECLARED),
                                       ("5.1-3", Outcome.INCONCLUSIVE, Basis.NONE),
                                       ("5.1-4", Outcome.NOT_APPLICABLE, Basis.DECLARED)))
    tree = Tree(render_html(handmade(findings=found, verdicts=verdicts), catalogue))
    badges = {n.text() for n in tree.nodes if "verdict" in (n.attrs.get("class") or "").split()}
    assert badges >= {"PASS", "FAIL", "INCONCLUSIVE", "NOT APPLICABLE"}
    sev = {n.text() for n in tree.nodes if "sev" in (n.attrs.get("class") or "").split()}
    assert sev == {"CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO"}
    assert "Overall: FAIL" in tree.ids["summary"].text()
    unsure = (verdict("en303645", "5.1-1", Outcome.PASS), verdict("en303645", "5.1-3", Outcome.INCONCLUSIVE))
    assert "Overall: INCONCLUSIVE" in Tree(render_html(handmade(verdicts=unsure), catalogue)).ids["summary"].text()
    clean = Tree(render_html(handmade(verdicts=unsure[:1]), catalogue))
    assert "Overall: PASS" in clean.ids["summary"].text()
    assert "No finding" in clean.ids["findings"].text()
    assert "No binary was analysed" in clean.ids["hardening"].text()


def test_unknown_frameworks_and_requirements_are_still_shown(catalogue: Catalogue) -> None:
    odd = (verdict("cra", "I-1", Outcome.FAIL), verdict("en303645", "99-9", Outcome.PASS))
    tree = Tree(render_html(handmade(verdicts=odd), catalogue))
    assert "r-cra-I-1" in tree.ids and "r-en303645-99-9" in tree.ids


def test_deterministic_and_printable_opens_drill_downs(real: dict[str, Assessment], catalogue: Catalogue) -> None:
    vulnerable = real["vulnerable"]
    page = render_html(vulnerable, catalogue)
    assert page == render_html(load_assessment(render_json(vulnerable)), load_catalogue())
    printable = Tree(render_printable_html(vulnerable, catalogue))
    details = [n for n in printable.nodes if n.tag == "details"]
    assert details and all("open" in n.attrs for n in details)
    assert not [n for n in Tree(page).nodes if n.tag == "details" and "open" in n.attrs]


@settings(max_examples=25, deadline=None)
@given(st.text(max_size=60), st.sampled_from(list(Severity)))
def test_any_text_renders_to_a_well_formed_page(text: str, severity: Severity) -> None:
    f = finding(severity, message=text, path="/" + text)
    page = render_html(handmade(findings=(f,), text=text,
                                verdicts=(verdict("en303645", "5.1-1", Outcome.FAIL, reason=text),)),
                       load_catalogue())
    tree = Tree(page)
    assert len(tree.stack) == 1 and not [n for n in tree.nodes if n.tag == "script"]
    assert not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", page)


# --- charts ----------------------------------------------------------------------------------------------------

@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=50), st.integers(0, 1000), st.integers(0, 1000)), max_size=8))
def test_charts_are_valid_svg_with_their_numbers(items: list[tuple[str, int, int]]) -> None:
    svg = charts.coverage_bars("t <&>", [(label, min(n, of), of) for label, n, of in items])
    root = ET.fromstring(str(svg))
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.attrib["role"] == "img"
    tails = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    for _, n, of in items:
        assert f"{min(n, of)} of {of} ({100 * min(n, of) // of if of else 0}%)" in tails


def test_a_stacked_bar_says_its_counts_in_words() -> None:
    svg = charts.stacked_bars("v", [charts.BarRow("1. <b>", (charts.Segment("FAIL", 2), charts.Segment("PASS", 3)),
                                                  "FAIL")], legend=["PASS", "FAIL"])
    root = ET.fromstring(str(svg))
    titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert "1. <b>: FAIL 2, PASS 3 FAIL" in titles
    assert {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")} >= {"1. <b>", "2", "3", "PASS", "FAIL"}


# --- in a real browser -----------------------------------------------------------------------------------------

PROBE = """<script>
addEventListener('load', () => {
  const seen = s => { const e = document.querySelector(s); if (!e) return 0; const r = e.getBoundingClientRect();
    const st = getComputedStyle(e); return r.width > 0 && r.height > 0 && st.visibility !== 'hidden' ? 1 : 0; };
  const out = {scroll: document.documentElement.scrollWidth, inner: innerWidth,
    overall: seen('.overall'), badge: seen('.overall .verdict'), h1: seen('h1'), chart: seen('svg.chart'),
    table: seen('#summary table'), row: seen('tr[id^="r-en303645-"]'), finding: seen('details.finding > summary')};
  document.body.setAttribute('data-probe', JSON.stringify(out));
});
</script>"""


def chromium(page: Path, work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = require_tool("chromium")
    return subprocess.run([binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={work / 'profile'}", *args, page.as_uri()],
                          capture_output=True, text=True, timeout=180, check=True)


@pytest.mark.parametrize(("width", "height"), [(1280, 1600), (390, 1600)], ids=["desktop", "phone"])
def test_chromium_draws_the_report(real: dict[str, Assessment], catalogue: Catalogue, tmp_path: Path,
                                   width: int, height: int) -> None:
    page = render_html(real["vulnerable"], catalogue)
    report = tmp_path / "report.html"
    report.write_bytes(page)
    shot = tmp_path / "shot.png"
    chromium(report, tmp_path, f"--screenshot={shot}", f"--window-size={width},{height}")
    probed = tmp_path / "probed.html"  # a copy with a measuring script: the report itself has none
    probed.write_bytes(page.replace(b"</body>", PROBE.encode() + b"</body>"))
    dom = chromium(probed, tmp_path, "--dump-dom", f"--window-size={width},{height}").stdout
    found = re.search(r"data-probe=\"([^\"]*)\"", dom)
    assert found, "the rendered DOM has no probe result"
    probe = json.loads(found.group(1).replace("&quot;", '"'))
    assert {k: v for k, v in probe.items() if k not in ("scroll", "inner") and v != 1} == {}
    assert probe["scroll"] <= probe["inner"], "the page scrolls sideways"
    try:
        from PIL import Image, ImageStat
    except ImportError:
        assert shot.stat().st_size > 20_000
        return
    image = Image.open(shot).convert("RGB")
    assert image.size == (width, height)
    assert ImageStat.Stat(image.convert("L")).stddev[0] > 20, "the screenshot is (nearly) blank"
    reds = sum(1 for r, g, b in image.get_flattened_data() if r > 170 and g < 80 and b < 80)
    assert reds > 200, "no FAIL badge (red) visible on the first screen"
