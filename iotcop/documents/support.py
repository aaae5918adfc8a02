"""The defined support period a vendor publishes (EN 303 645 5.3-13; PSTI Schedule 1 paragraph 3).

A support period is read from a sentence (one block per line, see ``text.py``) that speaks of security or
software updates or of the product's support, and says when they end:

- *definite*: an end date ("until 31 December 2029", "End of support: 2029-12-31", "through December 2029",
  "until the end of 2029"); a date only to the month or year ends on that month's or year's last day;
- *relative*: a period from a start a consumer can know ("5 years from the date of purchase"); with the start's
  date stated too ("from its launch on 1 March 2024") the end is computed;
- *vague*: no date anyone can know ("for the lifetime of the product", "as long as commercially reasonable",
  "regularly updated", "for 5 years" from no stated start, "2 years after the product is discontinued").

Dates that only say when the page was written ("last updated on 1 March 2024") do not count. The support
documents are read; when none was given, the statement of compliance and the user guidance are.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, replace

from iotcop.documents.facts import ReadDocument, VendorDocuments

MAX_STATEMENTS = 20
MAX_LINE = 4000
MAX_CELLS = 12  # blocks after a label searched for its values
_MONTHS = {name: i for i, names in enumerate(
    [(), ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
     ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
     ("december", "dec")]) for name in names}
_MONTH = r"(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20|21)\d{2})"
_DATES = [  # (pattern, precision), most precise first; spans already taken are not matched again
    (re.compile(r"\b(?P<year>(?:19|20|21)\d{2})-(?P<mnum>[01]?\d)-(?P<day>[0-3]?\d)\b"), "day"),
    (re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}\b", re.I), "day"),
    (re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b", re.I), "day"),
    (re.compile(r"\b(?P<day>[0-3]?\d)[./](?P<mnum>[01]?\d)[./](?P<year>(?:19|20|21)\d{2})\b"), "day"),
    (re.compile(rf"\b{_MONTH},?\s+{_YEAR}\b", re.I), "month"),
    (re.compile(r"\bQ(?P<quarter>[1-4])\s+(?P<year>(?:19|20|21)\d{2})\b", re.I), "quarter"),
    (re.compile(r"\b(?P<year>(?:19|20|21)\d{2})\b(?![-./]\d)"), "year"),
]
_TOPIC = re.compile(
    r"\b(?:security|software|firmware|os|system)\s+(?:updates?|patch(?:es)?|fixes|support)\b|\bsupport(?:ed)?\s+period\b"
    r"|\bend[\s-]+of[\s-]+(?:security\s+)?(?:support|life|updates)\b|\bEO[LS]\b|\bsupport(?:ed|s)?\s+(?:until|till|"
    r"through|to)\b|\b(?:receives?|get|gets|provide[sd]?|deliver(?:s|ed)?|issue[sd]?|release[sd]?)\s+(?:security\s+|"
    r"software\s+)?updates\b|\bupdates?\s+(?:will\s+be\s+|are\s+|is\s+)?(?:provided|available|delivered|released)\b"
    r"|\bsupport\s+(?:end|ends|ended|date)\b|\b(?:we|will)\s+support\s+(?:this|the|these|our)\b", re.I)
_END_BEFORE = re.compile(
    r"(?:until|till|til|through|thru|to|ends?|ending|ended|expires?|expiry|end\s+date|no\s+later\s+than|before|"
    r"end\s+of\s+(?:security\s+)?(?:support|life|updates)|EO[LS]|cease[sd]?|stops?|stopped|:|\u2013|\u2014|-)"
    r"[\s:]*(?:(?:on|in|at\s+least|and\s+including|the\s+end\s+of|end\s+of|at\s+least\s+until)\s+)*(?:the\s+)?$", re.I)
_WRITTEN = re.compile(r"(?:updated|published|issued|dated|effective|revised|released|version|copyright|\u00a9|"
                      r"since|from|launched|introduced|as\s+of)\W*(?:on|in)?\W*$", re.I)
_DISCLAIM = re.compile(r"\b(?:(?:do|does|can|will|could)\s*(?:not|n[o'\u2019]t)\s+(?:guarantee|promise|commit)"
                       r"|cannot\s+(?:guarantee|promise|commit)|no\s+(?:guarantee|promise|commitment)|not\s+(?:guaranteed|"
                       r"promised|committed))", re.I)
_NUMBER = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
           "ten": 10, "twelve": 12, "eighteen": 18, "twenty-four": 24, "thirty-six": 36}
_PERIOD = re.compile(r"\b(?P<n>\d{1,3}|" + "|".join(_NUMBER) + r")\s*(?:\(\d{1,3}\)\s*)?[\s-]*(?P<unit>years?|months?)"
                     r"(?P<rest>[^.;]{0,80})", re.I)
_KNOWN_START = re.compile(r"\b(?:from|after|following|since|of)\s+(?:the\s+)?(?:(?:date|day|time)\s+of\s+(?:the\s+)?)?"
                          r"(?:(?:first|initial|original|your|its)\s+)*(?:purchase|manufactur\w*|sale|delivery|supply|"
                          r"release|launch|market\s+(?:introduction|launch|placement|release)|placing\s+on\s+the\s+"
                          r"market|being\s+placed\s+on\s+the\s+market|(?:it|the\s+product)\s+(?:was|is)\s+(?:first\s+)?"
                          r"(?:placed\s+on\s+the\s+market|sold|bought|purchased|released|launched))", re.I)
_UNKNOWN_START = re.compile(r"\b(?:end\s+of\s+(?:sale|production|manufacture)|discontinu\w*|last\s+(?:sale|shipment|"
                            r"production)|no\s+longer\s+(?:sold|manufactured)|withdrawn)", re.I)
_VAGUE = re.compile(
    r"\b(?:(?:expected\s+|entire\s+|whole\s+|useful\s+)?(?:life\s*time|life|service\s+life)\s+of\s+(?:the|this|your|our)"
    r"\s+(?:product|device|model|hardware)|(?:product|device)(?:'s|\u2019s)?\s+(?:expected\s+|useful\s+)?life\s*time"
    r"|as\s+long\s+as\s+(?:is\s+)?(?:commercially\s+|economically\s+)?(?:reasonable|viable|practicable|possible)"
    r"|for\s+as\s+long\s+as|regular(?:ly)?\s+(?:security\s+)?updat\w*|periodic(?:ally)?\s+(?:security\s+)?updat\w*"
    r"|(?:foreseeable|near)\s+future|until\s+further\s+notice|reasonable\s+(?:period|time)|at\s+our\s+(?:sole\s+)?"
    r"discretion|(?:a\s+number|several|many)\s+(?:of\s+)?years|continuous(?:ly)?\s+(?:updat\w*|support\w*)"
    r"|while\s+(?:the\s+product|it)\s+is\s+(?:supported|on\s+sale|sold))", re.I)
_NOT_UPDATABLE = re.compile(
    r"\b(?:cannot|can\s*not|can[\'\u2019]t|is\s+not\s+able\s+to)\s+(?:be\s+)?(?:receive\s+|get\s+)?(?:software\s+|"
    r"firmware\s+|security\s+)?updat\w*|\bnot\s+(?:software[\s-]+|field[\s-]+)?updat(?:e)?able\b|\bno\s+(?:software|"
    r"firmware|security)\s+updates\s+(?:are|will\s+be|can\s+be)\s+(?:provided|possible|delivered)", re.I)
_BECAUSE = re.compile(r"\b(?:because|as|since|due\s+to|owing\s+to|the\s+reason)\b", re.I)
_REPLACEMENT = re.compile(r"\breplac\w*\b[^.]{0,80}\b(?:device|product|unit|hardware|sensor)|\b(?:device|product|unit|"
                          r"hardware|sensor)\b[^.]{0,80}\breplac\w*", re.I)


@dataclass(frozen=True)
class Passage:
    """Where a document says something, with the sentence."""

    source: str
    line: int
    excerpt: str


@dataclass(frozen=True)
class SupportStatement:
    """One sentence that states a support period, and what it says."""

    kind: str  # definite | relative | vague
    statement: str  # the excerpt, as published
    source: str
    line: int  # 1-based line in the document's text
    end: dt.date | None = None
    precision: str = ""  # day | month | quarter | year (definite); "" otherwise
    months: int | None = None  # a relative period's length
    why: str = ""  # what makes it relative or vague


@dataclass(frozen=True)
class SupportPeriodFacts:
    """The support period the documents publish: the best statement found (definite, then relative, then
    vague), every statement found, and what was read."""

    kind: str  # definite | relative | vague | none
    end: dt.date | None
    statement: str
    source: str
    line: int | None
    months: int | None = None
    why: str = ""
    statements: tuple[SupportStatement, ...] = ()
    read: tuple[str, ...] = ()  # the documents read (role: source), blank ones included
    unreadable: tuple[str, ...] = ()  # "source: why" of documents that could not be read
    blank: tuple[str, ...] = ()  # "source: why" of documents read with no text (a scanned PDF)
    not_updatable: Passage | None = None  # a sentence saying why the software cannot be updated (5.3-14)
    replacement: Passage | None = None  # how the hardware is replaced, for a device that cannot be updated

    def end_for_purchase_on(self, day: dt.date) -> dt.date | None:
        """The end date; for a period from purchase, the end for a unit bought on ``day``."""
        if self.end is not None or self.months is None:
            return self.end
        return _add_months(day, self.months)


def _last_day(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _add_months(day: dt.date, months: int) -> dt.date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _date_of(m: re.Match[str], precision: str) -> dt.date | None:
    """The last day a matched date covers, or None for an impossible one (31/02/2029)."""
    parts = m.groupdict()
    try:
        year = int(parts["year"])
        if precision == "year":
            return dt.date(year, 12, 31)
        if precision == "quarter":
            return _last_day(year, 3 * int(parts["quarter"]))
        month = int(parts["mnum"]) if parts.get("mnum") else _MONTHS[parts["mon"].lower().rstrip(".")]
        if precision == "month":
            return _last_day(year, month)
        return dt.date(year, month, int(parts["day"]))
    except (ValueError, KeyError, TypeError):
        return None


def find_dates(line: str) -> list[tuple[int, int, dt.date, str]]:
    """(start, end, date, precision) of each date in the line, in order; a span is matched once."""
    taken: list[tuple[int, int]] = []
    found = []
    for pattern, precision in _DATES:
        for m in pattern.finditer(line):
            if any(m.start() < b and a < m.end() for a, b in taken):
                continue
            taken.append((m.start(), m.end()))
            when = _date_of(m, precision)
            if when is not None:
                found.append((m.start(), m.end(), when, precision))
    return sorted(found)


def _end_date(line: str) -> tuple[dt.date, str] | None:
    """The date the line says support ends on: a date right after 'until', 'ends', 'End of support:'."""
    for start, _end, when, precision in find_dates(line):
        before = line[max(0, start - 60):start]
        if _WRITTEN.search(before) or not _END_BEFORE.search(before):
            continue
        if precision == "year" and not re.search(r"(?:until|till|through|end\s+of|to)\s+(?:the\s+end\s+of\s+)?$",
                                                 before, re.I):
            continue  # a bare year after a colon or a dash is too often a version or a model number
        return when, precision
    return None


def _relative(line: str) -> tuple[int, str, str] | None:
    """(months, kind, why) of a period stated in the line: relative from a known start, else vague."""
    for m in _PERIOD.finditer(line):
        raw = m.group("n").lower()
        n = int(raw) if raw.isdigit() else _NUMBER[raw]
        months = n * 12 if m.group("unit").lower().startswith("year") else n
        rest = m.group("rest")
        if _UNKNOWN_START.search(rest):
            return months, "vague", "the period runs from an event whose date nobody can know in advance"
        if _KNOWN_START.search(rest):
            return months, "relative", "a period from a start the buyer knows"
        if re.search(r"\b(?:updates?|support\w*|patch\w*)\b", line[:m.start()] + rest, re.I):
            return months, "vague", "a period without a stated start is not a date anyone can know"
    return None


def read_statement(line: str, source: str, number: int) -> SupportStatement | None:
    """What one line says of the support period, if it speaks of it at all."""
    text = line[:MAX_LINE]
    if not _TOPIC.search(text):
        return None
    excerpt = text if len(text) <= 300 else text[:297] + "..."
    disclaimed = _DISCLAIM.search(text)
    if disclaimed:
        return SupportStatement("vague", excerpt, source, number, why=f"\u201c{disclaimed.group(0)}\u201d: the "
                                "sentence disclaims the promise it mentions")
    end = _end_date(text)
    if end is not None:
        return SupportStatement("definite", excerpt, source, number, end[0], end[1])
    period = _relative(text)
    if period is not None:
        months, kind, why = period
        if kind == "relative":
            started = [d for _s, _e, d, p in find_dates(text) if p == "day"]
            computed = _add_months(started[0], months) if started else None
            return SupportStatement(kind, excerpt, source, number, computed, "day" if computed else "", months, why)
        return SupportStatement(kind, excerpt, source, number, None, "", months, why)
    vague = _VAGUE.search(text)
    if vague:
        return SupportStatement("vague", excerpt, source, number, why=f"\u201c{vague.group(0)}\u201d is not a date")
    return None


def _cells(lines: tuple[str, ...], number: int) -> list[SupportStatement]:
    """A label ('Security updates until') and its values in the blocks after it: a table's header cell and the
    rows below it, a definition list. Each short block with a date within the next few is one statement."""
    label = lines[number - 1][:MAX_LINE]
    out = []
    for index in range(number, min(number + MAX_CELLS, len(lines))):
        cell = lines[index]
        if len(cell) > 60:
            break
        if not find_dates(cell):
            continue
        row = lines[index - 1] if index - 1 >= number else ""
        found = read_statement(f"{label} {cell}", "", index + 1)
        if found is not None and found.kind == "definite":
            excerpt = f"{label} \u2192 {row}: {cell}" if row else f"{label} {cell}"
            out.append(SupportStatement("definite", excerpt, "", index + 1, found.end, found.precision))
    return out


def _statements(doc: ReadDocument, limit: int) -> list[SupportStatement]:
    out: list[SupportStatement] = []
    seen: set[int] = set()
    lines = doc.text.lines
    for number, line in enumerate(lines, start=1):
        if len(out) >= limit:
            break
        found = read_statement(line, doc.source, number)
        cells = _cells(lines, number) if (found is None or found.kind == "vague") and _TOPIC.search(line[:MAX_LINE]) \
            else []
        for statement in cells or ([found] if found is not None else []):
            if statement.line not in seen:
                seen.add(statement.line)
                out.append(replace(statement, source=doc.source))
    return out[:limit]


def _passage(docs: list[ReadDocument], pattern: re.Pattern[str], also: re.Pattern[str] | None = None) -> Passage | None:
    for doc in docs:
        for number, line in enumerate(doc.text.lines, start=1):
            text = line[:MAX_LINE]
            if pattern.search(text) and (also is None or also.search(text)):
                return Passage(doc.source, number, text if len(text) <= 300 else text[:297] + "...")
    return None


def collect_support_period(docs: VendorDocuments) -> SupportPeriodFacts:
    """Read the support documents (else the statement and the guidance) for the support period; never raises."""
    # a statement in iotcop's YAML form is structured data, read by the statement reader, not prose to read here
    prose = [d for d in docs.of_role("statement")
             if not (d.source.lower().endswith((".yaml", ".yml")) or b"iotcop-statement/" in d.raw[:4096])]
    chosen = docs.of_role("support") or [*prose, *docs.of_role("guidance")]
    statements: list[SupportStatement] = []
    for doc in chosen:
        if not doc.error:
            statements.extend(_statements(doc, MAX_STATEMENTS - len(statements)))
    read = tuple(f"{d.role}: {d.source}" for d in chosen if not d.error)
    unreadable = tuple(f"{d.source}: {d.error}" for d in chosen if d.error)
    blank = tuple(f"{d.source}: {d.text.problem or 'no text'}" for d in chosen if not d.error and not d.text.lines)
    readable = [d for d in (*docs.of_role("support"), *docs.of_role("guidance"), *docs.of_role("statement"))
                if not d.error]
    rationale = _passage(readable, _NOT_UPDATABLE, _BECAUSE)  # a rationale gives a reason
    replacement = _passage(readable, _REPLACEMENT)
    rank = {"definite": 0, "relative": 1, "vague": 2}
    best = min(statements, key=lambda s: rank[s.kind], default=None)
    if best is None:
        return SupportPeriodFacts("none", None, "", "", None, read=read, unreadable=unreadable, blank=blank,
                                  not_updatable=rationale, replacement=replacement)
    return SupportPeriodFacts(best.kind, best.end, best.statement, best.source, best.line, best.months, best.why,
                              tuple(statements), read, unreadable, blank, rationale, replacement)
