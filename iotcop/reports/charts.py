"""Small inline SVG charts for the HTML report: no JavaScript, no external assets, readable without colour.

Each chart is a pure function of plain numbers returning ``Markup`` (safe to put in a Jinja2 template): every
label is escaped here, every bar carries its number as text and a ``<title>``, and the words of the legend
(PASS, FAIL, ...) say what a colour means. The SVGs scale with the page (``viewBox``, ``width: 100%``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

#: Colours of outcomes and severities (WCAG AA against white text where a number is drawn on them).
COLOURS: dict[str, str] = {
    "PASS": "#1a7f37", "FAIL": "#c62828", "INCONCLUSIVE": "#9a6700", "NOT_APPLICABLE": "#6e7781",
    "critical": "#7f1d1d", "high": "#c62828", "medium": "#b35900", "low": "#7d6608", "info": "#57606a",
    "covered": "#1a7f37", "missing": "#d0d7de",
}
WIDTH = 640
LABEL_WIDTH = 230
TAIL_WIDTH = 110
ROW = 26
BAR = 18
CHARS = 34  # labels longer than this are cut (the full label stays in the row's <title>)
# presentation attributes, not classes: WeasyPrint's SVG renderer does not see the page's stylesheet
TEXT = 'font-family="DejaVu Sans, Arial, sans-serif" font-size="12"'
INK = "#1f2328"
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def _text(value: str) -> Markup:
    """Escaped, and without the characters XML (SVG) cannot carry."""
    return escape(_NOT_XML.sub("?", value))


@dataclass(frozen=True)
class Segment:
    key: str  # colour key and legend word: 'PASS', 'high', ...
    count: int


@dataclass(frozen=True)
class BarRow:
    label: str
    segments: tuple[Segment, ...]
    tail: str = ""  # text right of the bar: the verdict, 'n of m', ...


def _cut(label: str) -> str:
    return label if len(label) <= CHARS else label[: CHARS - 1] + "…"


def _legend(keys: Sequence[str], y: int) -> str:
    parts, x = [], 0
    for key in keys:
        word = key.replace("_", " ")
        parts.append(f'<rect x="{x}" y="{y}" width="12" height="12" fill="{COLOURS.get(key, "#888")}"/>'
                     f'<text x="{x + 16}" y="{y + 10}" {TEXT} fill="{INK}">{_text(word)}</text>')
        x += 26 + 8 * len(word)
    return "".join(parts)


def stacked_bars(title: str, rows: Sequence[BarRow], legend: Sequence[str], whole_rows: bool = False) -> Markup:
    """One horizontal bar per row, split into coloured segments with their counts written on them.

    A full-width bar stands for the largest row total, or with ``whole_rows`` for each row's own total."""
    largest = max((sum(s.count for s in r.segments) for r in rows), default=0) or 1
    span = WIDTH - LABEL_WIDTH - TAIL_WIDTH
    height = ROW * len(rows) + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" class="chart" '
           f'aria-label="{_text(title)}"><title>{_text(title)}</title>']
    for i, row in enumerate(rows):
        y = i * ROW
        described = ", ".join(f"{s.key.replace('_', ' ')} {s.count}" for s in row.segments if s.count)
        out.append(f'<g><title>{_text(row.label)}: {_text(described or "none")} {_text(row.tail)}</title>'
                   f'<text x="{LABEL_WIDTH - 8}" y="{y + 14}" {TEXT} fill="{INK}" text-anchor="end">'
                   f'{_text(_cut(row.label))}</text>')
        x = float(LABEL_WIDTH)
        total = (sum(s.count for s in row.segments) or 1) if whole_rows else largest
        for seg in row.segments:
            if seg.count <= 0:
                continue
            w = span * seg.count / total
            out.append(f'<rect x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{BAR}" '
                       f'fill="{COLOURS.get(seg.key, "#888")}"/>')
            if w >= 9 * len(str(seg.count)) + 4:  # the number fits on the bar
                ink = INK if seg.key == "missing" else "#ffffff"
                out.append(f'<text x="{x + w / 2:.1f}" y="{y + 15}" {TEXT} fill="{ink}" text-anchor="middle">'
                           f'{seg.count}</text>')
            x += w
        out.append(f'<text x="{WIDTH - TAIL_WIDTH + 6}" y="{y + 15}" {TEXT} fill="{INK}">{_text(row.tail)}</text></g>')
    out.append(_legend(legend, ROW * len(rows) + 12))
    out.append("</svg>")
    return Markup("".join(out))


def counted_bars(title: str, counts: Sequence[tuple[str, int]]) -> Markup:
    """One bar per key (a severity), its length the count, the word and the number beside it."""
    rows = [BarRow(label=key.upper(), segments=(Segment(key, n),), tail=str(n)) for key, n in counts]
    return stacked_bars(title, rows, legend=())


def coverage_bars(title: str, items: Sequence[tuple[str, int, int]]) -> Markup:
    """How many of a whole have each property: ``(label, covered, of)`` drawn as filled/unfilled, 'n of m'."""
    rows = [BarRow(label=label, segments=(Segment("covered", n), Segment("missing", max(of - n, 0))),
                   tail=f"{n} of {of} ({100 * n // of if of else 0}%)")
            for label, n, of in items]
    return stacked_bars(title, rows, legend=("covered", "missing"), whole_rows=True)
