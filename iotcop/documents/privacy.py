"""What the vendor's privacy information and user guidance say (EN 303 645 6-1..6-5, 5.11, 5.12, 5.1-4).

A pure reader over the documents given by role: each element (what personal data, by whom, for what purposes,
shared with whom, kept how long; consent, withdrawal, telemetry; deletion, factory reset, secure set-up...) is
found in a sentence and kept with its line and excerpt. A denial states an element too ("we do not sell your
data" says what happens to it): such statements are kept with ``negated=True`` for the checks to judge.
Instructions are looked for in the sentence itself or, under a heading ("Factory reset"), in the lines that
follow it. Reading never raises and is bounded (lines, sentence length, statements per element).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from iotcop.documents.facts import ReadDocument, VendorDocuments

MAX_LINES = 20_000
MAX_CHARS = 300_000  # a privacy notice or user guide is far shorter; the rest is not read (noted in the facts)
MAX_SENTENCE = 2_000
MAX_PER_ELEMENT = 5
WINDOW = 6  # lines under a heading that may hold its instructions
_I = re.IGNORECASE


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, _I)


_DATA_WORD = _rx(r"\b(?:personal (?:data|information)|data|information|details|recordings?|location|e-?mail)\b")
_SUBJECT = _rx(r"\b(?:we|us|our)\b|\b(?:is|are|be|been|being) (?:never |not |only )?(?:collected|processed|stored|"
               r"shared|sold|disclosed|transferred|kept|retained|used)\b")
_CATEGORY = (r"\b(?:names?|e-?mail(?: address(?:es)?)?|(?:postal|home) address|phone numbers?|telephone|"
             r"ip address(?:es)?|location|geolocation|gps|video|audio|voice|recordings?|images?|photos?|footage|"
             r"device identifiers?|mac address(?:es)?|serial numbers?|wi-?fi|ssid|usage data|payment|date of birth|"
             r"account details|personal (?:data|information)|any data)\b")
_ORG = _rx(r"\b(?:ltd|limited|gmbh|inc|llc|plc|ag|s\.a\.|b\.v\.|corporation|company (?:number|no)|"
           r"registered (?:office|address|in))\b")
_STEP = _rx(r"^\s*(?:\d+[.)]\s*|step \d+\W*)?(?:open|tap|select|go to|press|hold|choose|click|sign in|log in|"
            r"navigate|enter|contact|e-?mail|write to|use|insert|find|scroll|visit|call|send)\b|"
            r"\bin the (?:\w+ )?app\b|\bsettings\s*(?:>|→)|\b(?:tap|select|press|click|choose|open)\b")
_SECURITY_STEP = _rx(r"password|passphrase|two[- ]factor|2fa|multi[- ]factor|automatic updates?|firmware|wpa[23]|"
                     r"encrypt|\bpin\b|guest network|remote access|upnp")
_PHYSICAL = _rx(r"secure(?:ly)? (?:mounted|fastened|attached|fixed|tightened|in place)|bracket|screws?\b|mount")
_HEADING = _rx(r"^[^.!?]{1,80}[:]?$")
_NEG_BEFORE = _rx(r"\b(?:not|never|no|cannot|can't|don't|doesn't|won't|neither|nor|without)\b(?:\W+[\w'-]+){0,4}\W*$")
_NEG_AFTER = _rx(r"^\W*(?:\w+\s+){0,2}(?:cannot|can ?not|can't|is not|are not|isn't|aren't)\s+(?:be\s+)?(?:possible|"
                 r"supported|available|changed|deleted|erased|reset|removed|modified)\b")
_NEG_IN = _rx(r"\b(?:cannot|can ?not|can't)\b")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“(])")


@dataclass(frozen=True)
class _Element:
    topic: re.Pattern[str]
    also: re.Pattern[str] | None = None  # must also match the same sentence
    near: re.Pattern[str] | None = None  # must match the sentence or (under a heading) one of the next lines
    keep_negated: bool = True  # a denial is kept even without ``near`` ("factory reset is not supported")


PRIVACY: dict[str, _Element] = {
    "data": _Element(_rx(r"\b(?:collect|process|gather|obtain|receive|record|store|capture)(?:s|es|ed|ing)?\b"),
                     _rx(_CATEGORY)),
    "purposes": _Element(_rx(r"\bpurposes?\b|\b(?:use|collect|process)\w* (?:[\w,-]+ ){0,6}(?:to|for)\b|"
                             r"\bin order to\b|\bso that we\b|\blegal basis\b"), _DATA_WORD),
    "controller": _Element(_rx(r"\bdata controller\b|\bcontroller (?:of|for|responsible)\b|\bis the controller\b|"
                               r"\bresponsible for (?:the )?(?:processing|your (?:personal )?(?:data|information))|"
                               r"\bwho we are\b|(?:\(|“|\")(?:we|us)(?:\)|”|\")"), None, _ORG, keep_negated=False),
    "third_parties": _Element(_rx(r"\bthird[- ]part(?:y|ies)\b|\bshar(?:e|es|ed|ing)\b|\bs(?:ell|ells|old|elling)\b|"
                                  r"\bdisclos\w*\b|\bservice providers?\b|\bprocessors?\b|\badvertisers?\b|"
                                  r"\brecipients?\b|\btransfer\w*\b"), _rx(_DATA_WORD.pattern + r"|\b(?:it|them)\b")),
    "retention": _Element(_rx(r"\b(?:retain\w*|retention|keep|keeps|kept|stored?|delete[sd]?|erase[sd]?)\b"
                              r"(?:[\w\s,-]{0,60})\b(?:for|after|until|within|as long as|no longer than)\b|"
                              r"\bretention period\b|\bhow long\b"), _DATA_WORD),
    "consent": _Element(_rx(r"\bconsent\b|\bopt[- ]in\b")),
    "bad_consent": _Element(_rx(r"\bby (?:using|continuing|installing|setting up|purchasing|buying|connecting)\b"
                                r"(?:[\w\s,-]{0,60})\b(?:consent|agree)|\bpre-?(?:ticked|checked|selected)\b|"
                                r"\bconsent\b[\w\s,-]{0,40}\b(?:is )?(?:assumed|implied|deemed)\b"),
                            keep_negated=False),
    "withdrawal": _Element(_rx(r"\bwithdraw\w*\b|\brevok\w*\b|\bopt[- ]out\b|\bchange your mind\b"),
                           _rx(r"consent|at any time|settings|opt"), keep_negated=False),
    "telemetry": _Element(_rx(r"\btelemetry\b|\bdiagnostic(?:s| data| information)\b|\busage (?:data|statistics|"
                              r"information)\b|\banalytics\b|\bcrash (?:reports?|logs?)\b|\bperformance data\b")),
    "telemetry_purpose": _Element(_rx(r"\btelemetry\b|\bdiagnostic(?:s| data| information)\b|\busage (?:data|"
                                      r"statistics|information)\b|\banalytics\b|\bcrash (?:reports?|logs?)\b"),
                                  _rx(r"\b(?:to|for|in order to|so that|purposes?|improve|diagnos\w*|fix)\b"),
                                  keep_negated=False),
}
_DELETE = r"\b(?:delet|eras|remov|wip)\w*\b(?:[\w\s,'-]{0,40})\b"
GUIDANCE: dict[str, _Element] = {
    "deletion": _Element(_rx(_DELETE + r"(?:personal data|your data|user data|data|information|account|"
                             r"recordings?|history|clips?|videos?|profile)\b"), None, _STEP),
    "service_deletion": _Element(_rx(_DELETE + r"(?:account|cloud|servers?|service|online)\b|\bdelete your account\b"),
                                 None, _STEP),
    "reset": _Element(_rx(r"\bfactory(?:[- ]| data )?reset\b|\breset\b[\w\s-]{0,30}\bfactory (?:defaults?|settings|"
                          r"state)\b|\brestor\w* [\w\s-]{0,30}factory (?:defaults?|settings)\b|\berase all\b"),
                      None, _STEP),
    "confirmation": _Element(_rx(r"\b(?:receive|get|see|send|sends|shows?|displays?)\b[\w\s-]{0,30}\bconfirm\w*|"
                                 r"\bconfirm\w* (?:that|when)\b[\w\s,-]{0,40}\b(?:deleted|erased|removed|wiped|"
                                 r"reset)\b|"
                                 r"\bconfirmation (?:e-?mail|message|screen|notice)\b"), keep_negated=False),
    "secure_setup": _Element(_rx(r"\bsecur\w* (?:[\w-]+ ){0,3}(?:set(?:ting)?[- ]?up|install\w*|configur\w*)|"
                                 r"\b(?:set(?:ting)?[- ]?up|install\w*|configur\w*) (?:[\w-]+ ){0,4}secur\w*|"
                                 r"\bsecurity (?:recommendations|best practices?|checklist|tips|guide)\b"),
                             None, _SECURITY_STEP, keep_negated=False),
    "setup_check": _Element(_rx(r"\b(?:check|verify|confirm|review|see|make sure)\w* (?:[\w-]+ ){0,5}(?:secur\w*|"
                                r"up to date|latest firmware|firmware version|two[- ]factor|encrypt\w*)"),
                            keep_negated=False),
    "password_change": _Element(_rx(r"\bchange (?:[\w-]+ ){0,3}password\b|\bset (?:a |your )?(?:new|own) password\b|"
                                    r"\bpassword\b(?:[\w\s-]{0,30})\b(?:can|must|should|cannot|can ?not|can't) be "
                                    r"(?:changed|modified)\b")),
}


@dataclass(frozen=True)
class Statement:
    """One element a document states, where, in its words."""

    element: str
    source: str
    role: str
    line: int  # 1-based line of the document's text
    excerpt: str
    negated: bool = False  # stated as a denial ("we do not share", "cannot be reset")


@dataclass(frozen=True)
class DocumentReading:
    """The documents of some roles as read: which were given, which could not be read, what they state."""

    given: tuple[tuple[str, str], ...] = ()  # (role, source) of each document given for these roles
    unreadable: tuple[tuple[str, str], ...] = ()  # (source, why)
    statements: tuple[Statement, ...] = ()
    partial: tuple[tuple[str, str], ...] = ()  # (source, why only part of it was read)

    def read(self, role: str | None = None) -> tuple[str, ...]:
        """The sources (of a role) whose text was read."""
        bad = {s for s, _ in self.unreadable}
        return tuple(dict.fromkeys(s for r, s in self.given if s not in bad and (role is None or r == role)))

    def given_role(self, role: str) -> bool:
        return any(r == role for r, _ in self.given)

    def of(self, element: str, role: str | None = None) -> list[Statement]:
        return [s for s in self.statements if s.element == element and (role is None or s.role == role)]

    def first(self, element: str, *, negated: bool | None = None, role: str | None = None) -> Statement | None:
        return next((s for s in self.of(element, role) if negated is None or s.negated is negated), None)


@dataclass(frozen=True)
class PrivacyFacts(DocumentReading):
    """The 'privacy' documents as read for 6-1..6-5."""


@dataclass(frozen=True)
class GuidanceFacts(DocumentReading):
    """The 'guidance' documents (and the privacy ones, for deletion) as read for 5.11, 5.12 and 5.1-4."""


def _excerpt(text: str) -> str:
    return text if len(text) <= 300 else text[:297] + "..."


def negated(sentence: str, match: re.Match[str]) -> bool:
    """A denial of what the match states: a negation in the words just before it or right after it."""
    return bool(_NEG_BEFORE.search(sentence[max(0, match.start() - 60):match.start()]) or _NEG_IN.search(match.group(0))
                or _NEG_AFTER.search(sentence[match.end():match.end() + 60]))


def _sentences(line: str) -> list[str]:
    return [s[:MAX_SENTENCE] for s in _SENTENCE_END.split(line[:MAX_SENTENCE * 5]) if s.strip()]


def _find(lines: tuple[str, ...], number: int, element: _Element) -> list[tuple[str, bool]]:
    """(excerpt, negated) for each sentence of line ``number`` (0-based) that states the element."""
    line, hits = lines[number], list[tuple[str, bool]]()
    if not element.topic.search(line):
        return hits
    for sentence in _sentences(line):
        match = element.topic.search(sentence)
        if match is None or (element.also is not None and not element.also.search(sentence)):
            continue
        denial = negated(sentence, match)
        if element.near is None or element.near.search(sentence):
            hits.append((_excerpt(sentence), denial))
        elif denial and element.keep_negated:
            hits.append((_excerpt(sentence), True))
        elif _HEADING.match(line):
            following = next((f for f in lines[number + 1:number + 1 + WINDOW] if element.near.search(f)), None)
            if following is not None:
                hits.append((_excerpt(f"{line} \u2026 {following}"), False))
    return hits


def _accept(name: str, excerpt: str) -> bool:
    if name in ("secure_setup", "setup_check") and _PHYSICAL.search(excerpt.split(" \u2026 ")[0]):
        return False  # "make sure the bracket is securely mounted" is not about security
    # "the camera records video" is not "we collect"; "share on social media" is not "we share your data"
    return name not in ("data", "third_parties") or bool(_SUBJECT.search(excerpt))


def _bounded(lines: tuple[str, ...]) -> tuple[tuple[str, ...], bool]:
    """The lines up to the limits, and whether the document was cut."""
    total = 0
    for number, line in enumerate(lines[:MAX_LINES]):
        total += len(line)
        if total > MAX_CHARS:
            return lines[:number], True
    return lines[:MAX_LINES], len(lines) > MAX_LINES


def read_document(doc: ReadDocument, elements: dict[str, _Element]) -> list[Statement]:
    lines, _ = _bounded(doc.text.lines)
    found: list[Statement] = []
    counts: dict[str, int] = {}
    for number in range(len(lines)):
        for name, element in elements.items():
            if counts.get(name, 0) >= MAX_PER_ELEMENT:
                continue
            for excerpt, denial in _find(lines, number, element):
                if _accept(name, excerpt) and counts.get(name, 0) < MAX_PER_ELEMENT:
                    counts[name] = counts.get(name, 0) + 1
                    found.append(Statement(name, doc.source, doc.role, number + 1, excerpt, denial))
    return found


def _reading(docs: VendorDocuments, roles: dict[str, dict[str, _Element]]) -> DocumentReading:
    given, unreadable, statements, cut = [], [], [], []
    for doc in docs.documents:
        if doc.role not in roles:
            continue
        given.append((doc.role, doc.source))
        if doc.error or not doc.text.lines:
            unreadable.append((doc.source, doc.error or doc.text.problem or "no readable text"))
            continue
        if _bounded(doc.text.lines)[1] or doc.text.problem:
            cut.append((doc.source, doc.text.problem or f"only the first {MAX_CHARS:,} characters were read"))
        try:
            statements.extend(read_document(doc, roles[doc.role]))
        except (RecursionError, ValueError, IndexError) as exc:  # defensive: a reader bug must not crash a run
            unreadable.append((doc.source, f"could not be read ({type(exc).__name__})"))
    return DocumentReading(tuple(given), tuple(unreadable), tuple(statements), tuple(cut))


def collect_privacy(docs: VendorDocuments) -> PrivacyFacts:
    """Read the 'privacy' documents; never raises."""
    r = _reading(docs, {"privacy": PRIVACY})
    return PrivacyFacts(r.given, r.unreadable, r.statements, r.partial)


def collect_guidance(docs: VendorDocuments) -> GuidanceFacts:
    """Read the 'guidance' documents, and the 'privacy' ones for how to delete personal data; never raises."""
    deletion = {k: GUIDANCE[k] for k in ("deletion", "service_deletion", "confirmation")}
    r = _reading(docs, {"guidance": GUIDANCE, "privacy": deletion})
    return GuidanceFacts(r.given, r.unreadable, r.statements, r.partial)
