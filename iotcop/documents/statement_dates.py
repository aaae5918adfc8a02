"""Dates and the defined support period as a statement of compliance words them.

Dates are read in UK day/month order first (``31 December 2029``, ``31/12/2029``; ``12/31/2029`` is read the US
way since no month 31 exists); a month or a year without a day means its last day. The support period is an end
date, only a length ("five years") or a vague promise ("the lifetime of the product"), the clearest one given.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from iotcop.documents.statement import Found

MAX_LINE = 2000


def excerpt_of(text: str) -> str:
    """A line or sentence as quoted in evidence: at most 300 characters."""
    return text if len(text) <= 300 else text[:297] + "..."


_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                       "dec"), start=1)}
_MON = r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|" \
       r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
_DATES = tuple(re.compile(p, re.IGNORECASE) for p in (
    r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b",
    rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MON}\s*,?\s+(?P<y>\d{{4}})\b",
    rf"\b{_MON}\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s*,?\s+(?P<y>\d{{4}})\b",
    r"\b(?P<d>\d{1,2})[/.](?P<m>\d{1,2})[/.](?P<y>\d{4})\b",
    rf"\b(?:end of\s+)?{_MON}\s+(?P<y>\d{{4}})\b",  # a month: its last day
    r"\bend of (?P<y>\d{4})\b",  # a year: its last day
))


def _date(match: re.Match[str]) -> dt.date | None:
    parts = match.groupdict()
    year = int(parts["y"])
    month = _MONTHS[parts["mon"][:3].lower()] if parts.get("mon") else int(parts.get("m") or 12)
    day = int(parts["d"]) if parts.get("d") else 0
    if parts.get("m") and month > 12 >= day > 0 and "/" in match.group(0):  # 12/31/2029: a US order
        month, day = day, month
    if not 1990 <= year <= 2200 or not 1 <= month <= 12:
        return None
    if day == 0:  # a month or a year without a day means its end
        following = dt.date(year + (month == 12), month % 12 + 1, 1)
        return following - dt.timedelta(days=1)
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def all_dates(text: str) -> list[dt.date]:
    """The calendar dates written in the text (UK day/month order first), each span read once."""
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, dt.date]] = []
    for pattern in _DATES:
        for match in pattern.finditer(text[:MAX_LINE]):
            if any(match.start() < end and start < match.end() for start, end in taken):
                continue
            taken.append(match.span())
            when = _date(match)
            if when is not None:
                found.append((match.start(), when))
    return [when for _, when in sorted(found)]


def find_date(text: str) -> dt.date | None:
    dates = all_dates(text)
    return dates[0] if dates else None


@dataclass(frozen=True)
class SupportPeriod:
    """The defined support period as stated: an end date, only a length, or something vague."""

    kind: Literal["end-date", "period", "vague"]
    end: dt.date | None
    excerpt: str
    line: int
    period: str = ""  # "five years", when only a length is stated


_SUPPORT = re.compile(r"support period|security updates?|supported|end of (?:security )?support|end-of-support",
                      re.IGNORECASE)
LENGTH = re.compile(r"\b(?:\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten)\s*(?:\(\d+\)\s*)?"
                     r"(?:years?|months?)\b", re.IGNORECASE)
_VAGUE = re.compile(r"lifetime|life of the (?:product|device)|product'?s life|as long as|while\b|until further "
                    r"notice|foreseeable|indefinite|reasonable period|end of life", re.IGNORECASE)


def read_support(label: Found | None, said: list[tuple[int, str]]) -> SupportPeriod | None:
    """The clearest support period the statement gives: an end date beats a length beats a vague promise."""
    candidates = [(label.line, label.excerpt)] if label else []
    candidates += [(n, s) for n, s in said if _SUPPORT.search(s) and (n, s) not in candidates]
    best: SupportPeriod | None = None
    for number, text in candidates:
        dates = all_dates(text)
        if dates:
            return SupportPeriod("end-date", max(dates), excerpt_of(text), number)
        length = LENGTH.search(text)
        if length and (best is None or best.kind == "vague"):
            best = SupportPeriod("period", None, excerpt_of(text), number, length.group(0))
        elif best is None and (_VAGUE.search(text) or (label and number == label.line)):
            best = SupportPeriod("vague", None, excerpt_of(text), number)
    return best
