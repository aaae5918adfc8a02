"""What a vulnerability disclosure policy tells a reporter: how to report, and when to expect an acknowledgement
and status updates (EN 303 645 5.2-1; PSTI Schedule 1 paragraph 2).

Each element is found in a sentence of the document (one block per line, see ``text.py``) and kept with its
line as the excerpt a reviewer can check. "When" means a stated time: "we will acknowledge your report" says
that, not when; "within 5 working days" says when.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from iotcop.documents.text import DocumentText

_NUMBER = (r"(?:\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fourteen|fifteen|twenty|"
           r"thirty|forty-five|sixty|ninety)")
TIMELINE = re.compile(
    rf"\b(?:within|in|after|no later than|no more than|at least every|every|up to|at most)\s+(?:a\s+|the\s+next\s+)?"
    rf"(?:{_NUMBER}\s*(?:\(\d+\)\s*)?)?(?:business\s+|working\s+|calendar\s+)?"
    rf"(?:hours?|days?|weeks?|months?|fortnight)\b"
    rf"|\b{_NUMBER}\s*(?:\(\d+\)\s*)?(?:business\s+|working\s+|calendar\s+)?(?:hours?|days?|weeks?)\b"
    rf"|\b(?:weekly|fortnightly|monthly|daily)\b",
    re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_ROUTE_WORDS = re.compile(r"\b(?:report|submit|send|contact|disclose|notify|email|e-mail|form|portal|bug bounty)",
                          re.IGNORECASE)
_ABOUT = re.compile(r"vulnerabilit|security (?:issue|problem|flaw|bug|concern)|weakness", re.IGNORECASE)
_ACK = re.compile(r"acknowledg|confirm(?:ing|ation of)? (?:the )?receipt|(?:initial|first) (?:response|reply)|"
                  r"respond to (?:you|your report|all reports)|(?:reply|respond) within", re.IGNORECASE)
_STATUS = re.compile(r"status updates?|(?:keep|kept) (?:you|the reporter|reporters) (?:informed|updated|up to date|"
                     r"posted)|updates? (?:you|reporters) (?:on|about|regularly)|progress (?:updates?|reports?)|"
                     r"regular updates|inform (?:you|reporters) (?:of|about|on) (?:the )?(?:progress|status)|"
                     r"(?:updates?|informed) (?:on|about) (?:the )?(?:progress|status)", re.IGNORECASE)


MAX_LINE = 2000  # regexes see at most this much of a line: a long line must not make them backtrack for seconds


@dataclass(frozen=True)
class Element:
    """One thing the policy says, where, and whether it says when."""

    name: str  # route | acknowledgement | status_updates
    excerpt: str
    line: int  # 1-based line in the document's text
    timeline: str = ""  # the stated time ("within 5 working days"), "" when none

    @property
    def has_timeline(self) -> bool:
        return bool(self.timeline)


@dataclass(frozen=True)
class PolicyReading:
    route: Element | None
    acknowledgement: Element | None
    status_updates: Element | None
    is_policy: bool  # the document is about reporting vulnerabilities at all


def _excerpt(line: str) -> str:
    return line if len(line) <= 300 else line[:297] + "..."


def _best(lines: tuple[str, ...], pattern: re.Pattern[str], name: str) -> Element | None:
    """The first line that states the element with a time, else the first that states it at all."""
    first: Element | None = None
    for number, line in enumerate(lines, start=1):
        if not pattern.search(line):
            continue
        when = TIMELINE.search(line)  # the same sentence: a time in the next one may belong to another promise
        element = Element(name, _excerpt(line), number, when.group(0) if when else "")
        if when:
            return element
        first = first or element
    return first


def _email(line: str) -> bool:
    return "@" in line and _EMAIL.search(line) is not None


def _route(text: DocumentText) -> Element | None:
    for number, line in enumerate(text.lines, start=1):
        has_address = _email(line) or "mailto:" in line.lower() or re.search(r"https?://", line)
        if has_address and (_ROUTE_WORDS.search(line) or _ABOUT.search(line)):
            return Element("route", _excerpt(line), number)
    for number, line in enumerate(text.lines, start=1):  # the address may sit in the line after "report to:"
        if _ROUTE_WORDS.search(line) and _ABOUT.search(line) and number < len(text.lines):
            following = text.lines[number]
            if _email(following) or re.search(r"https?://", following):
                return Element("route", _excerpt(f"{line} {following}"), number)
    mailtos = [link for link in text.links if link.lower().startswith("mailto:") or "report" in link.lower()]
    if mailtos and any(_ABOUT.search(line) for line in text.lines):  # text.lines: already cut by read_policy
        return Element("route", _excerpt(f"link: {mailtos[0]}"), 1)
    return None


def read_policy(text: DocumentText) -> PolicyReading:
    text = DocumentText(tuple(line[:MAX_LINE] for line in text.lines), text.links, text.kind, text.problem)
    return PolicyReading(route=_route(text), acknowledgement=_best(text.lines, _ACK, "acknowledgement"),
                         status_updates=_best(text.lines, _STATUS, "status_updates"),
                         is_policy=any(_ABOUT.search(line) for line in text.lines))
