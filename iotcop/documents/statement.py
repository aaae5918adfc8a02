"""The PSTI statement of compliance, read from a PDF, HTML or text document, or from its YAML form.

What the statement must contain (PSTI Act 2022 s.9 and the regulations' schedule of its minimum content, as
shared/reference/provisions.md §4.5 gives it, partly unverified): the product type and a batch (or model)
identifying it; the name and address of the manufacturer (and of any authorised representative); that it is
prepared by or on behalf of the manufacturer; the declaration that, in the manufacturer's opinion, it has
complied with the applicable security requirements; the defined support period; the signatory's name and
function; the place and date of issue. Each element is found, with its excerpt and line, or is missing.

A document is read line by line for labelled fields ("Product type: Smart camera", or a table row / a label
with its value on the next line) and sentence by sentence for the two declarations (sentences may wrap over
lines in a PDF). The YAML form (``iotcop-statement/1``, ``statement_form.StatementForm``) states the same elements.
Dates and the support period are read by ``statement_dates``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from iotcop.documents.facts import ReadDocument, VendorDocuments
from iotcop.documents.statement_dates import MAX_LINE, SupportPeriod, all_dates, excerpt_of, find_date, read_support

__all__ = ["ELEMENTS", "MAX_LINE", "PSTI_REQUIREMENTS", "Found", "Statement", "StatementFacts", "SupportPeriod",
           "all_dates", "collect_statement", "find_date", "read_statement"]

#: The elements a statement must contain, and how a message names them.
ELEMENTS: dict[str, str] = {
    "product_type": "the product type",
    "product_batch": "the batch or model identifying the product",
    "manufacturer_name": "the manufacturer's name",
    "manufacturer_address": "the manufacturer's address",
    "prepared_by": "that the statement is prepared by or on behalf of the manufacturer",
    "compliance": "the declaration that the manufacturer has complied with the applicable security requirements",
    "support_period": "the defined support period",
    "signatory_name": "the signatory's name",
    "signatory_function": "the signatory's function",
    "place_of_issue": "the place of issue",
    "date_of_issue": "the date of issue",
}
#: PSTI Schedule 1 requirements a statement can declare met, and the words that name each.
PSTI_REQUIREMENTS: dict[str, str] = {"sch1-1": "passwords", "sch1-2": "reporting security issues",
                                     "sch1-3": "the defined support period"}
MAX_LINES = 5000


@dataclass(frozen=True)
class Found:
    """One element as the statement gives it."""

    name: str  # a key of ELEMENTS, or "representative"
    value: str
    excerpt: str
    line: int


@dataclass(frozen=True)
class Statement:
    """One statement of compliance as read."""

    source: str
    form: str  # yaml | pdf | html | text
    problem: str  # why it could not be read or judged ("" when it was)
    elements: tuple[Found, ...] = ()
    support: SupportPeriod | None = None
    complies_with: tuple[str, ...] = ()  # PSTI requirement ids the statement declares met

    def element(self, name: str) -> Found | None:
        return next((e for e in self.elements if e.name == name), None)

    @property
    def missing(self) -> list[str]:
        return [name for name in ELEMENTS if self.element(name) is None]


@dataclass(frozen=True)
class StatementFacts:
    """The statements given with the role "statement" (usually one)."""

    statements: tuple[Statement, ...]


_PLACEHOLDER = re.compile(r"^\W*(?:\[[^\]]*\]|<[^>]*>|\{[^}]*\}|_+|\.+|…|x{2,}|tbd|tbc|n/?a|none|null|"
                          r"to be (?:confirmed|completed|added|defined)|(?:insert|enter)\b.*)\W*$", re.IGNORECASE)


def usable(value: str) -> bool:
    """A value a reader can use: not blank, not a template placeholder."""
    return sum(ch.isalnum() for ch in value) >= 2 and not _PLACEHOLDER.match(value)


_ADDRESS = re.compile(
    r"\b\d+[A-Za-z]?\b[^,]{0,40}\b(?:street|st|road|rd|avenue|ave|lane|ln|way|park|place|square|court|drive|"
    r"close|house|building|floor|suite|unit|estate|boulevard|blvd)\b|\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b|"
    r"\b(?:street|road|avenue|lane|strasse|straße|rue|via|postcode|zip|p\.?\s?o\.? box)\b|\b\d{4,6}\b",
    re.IGNORECASE)

# (label regex, elements it names, whether a value may follow after whitespace only (table rows in PDFs))
_LABELS: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    (r"name and (?:postal |registered )?address of (?:the )?manufacturer|manufacturer(?:'s)? name and address",
     ("manufacturer_name", "manufacturer_address"), True),
    (r"(?:name and address of (?:the |any )?)?(?:uk )?authori[sz]ed representative(?:'s)?(?: name and address)?",
     ("representative",), True),
    (r"(?:the )?(?:defined )?support period(?: end(?: date)?)?|(?:minimum )?security update period|"
     r"end(?: date)? of (?:security )?(?:support|updates)|security updates (?:provided )?until|supported until",
     ("support_period",), True),
    (r"name of (?:the )?manufacturer|manufacturer(?:'s)? name|manufacturer", ("manufacturer_name",), False),
    (r"(?:registered |postal |business )?address of (?:the )?manufacturer|manufacturer(?:'s)? address",
     ("manufacturer_address",), True),
    (r"product type and (?:batch|model)(?: number| identifier)?", ("product_type", "product_batch"), True),
    (r"product type|type of product|product category|product name|product description", ("product_type",), True),
    (r"product", ("product_type",), False),
    (r"(?:product |the )?(?:batch|model|serial number range|product identifier|product code|product reference)"
     r"(?: numbers?| identifiers?| names?| no\.?| references?)?|sku|part number", ("product_batch",), True),
    (r"place and date of issue", ("place_of_issue", "date_of_issue"), True),
    (r"place of issue|issued (?:at|in)|place", ("place_of_issue",), False),
    (r"date of issue|issue date|date issued|issued on|dated|date", ("date_of_issue",), False),
    (r"name and (?:function|position|title) of (?:the )?signatory|signatory(?:'s)? name and (?:function|position)",
     ("signatory_name", "signatory_function"), True),
    (r"(?:function|position|job title|title|role|capacity)(?: of (?:the )?signatory)?", ("signatory_function",),
     False),
    (r"signatory(?:'s)? name|name of (?:the )?signatory|signatory|signed by|signed|signature|name",
     ("signatory_name",), False),
    (r"address", ("manufacturer_address",), False),
)
_PREFIX = r"^(?:[-*•·]\s*|\(?\d{1,2}[.)]\s+|\(?[a-k][.)]\s+)?"
_COMPILED = tuple(
    (re.compile(_PREFIX + rf"(?:{label})(?:\s*[:|\u2013\u2014]\s*(?P<value>.*)|\s+-\s+(?P<dash>.*)|\s*$"
                + (r"|\s+(?P<loose>\S.*)" if loose else "") + ")", re.IGNORECASE), names)
    for label, names, loose in _LABELS)
_SECTION = re.compile(r"^(?:the\s+)?(manufacturer|authori[sz]ed representative|signatory|signed)\b", re.IGNORECASE)


def _label(line: str) -> tuple[tuple[str, ...], str] | None:
    for pattern, names in _COMPILED:
        match = pattern.match(line)
        if match:
            loose = match.groupdict().get("loose") or ""
            if loose and "product_batch" in names and not re.search(r"\d", loose):
                return None  # "Model numbers are listed below" is a sentence; identifiers have digits
            value = match.group("value") or match.group("dash") or loose
            return names, value.strip()
    return None


def _split_party(value: str, rest: list[str]) -> tuple[str, str]:
    """'Acme Ltd, 1 High Street, London' → ('Acme Ltd', '1 High Street, London'); an address on the following
    lines counts when it reads as one."""
    name, _, tail = value.partition(",")
    address = tail.strip() if _ADDRESS.search(tail) or tail.count(",") >= 1 else ""
    if not address and rest and _ADDRESS.search(" ".join(rest)):
        address = ", ".join(rest)
    return name.strip(), address


def _fields(lines: tuple[str, ...]) -> dict[str, Found]:
    found: dict[str, Found] = {}
    labels = [_label(line) for line in lines]
    section = ""
    for index, (line, label) in enumerate(zip(lines, labels, strict=True)):
        heading = _SECTION.match(line)
        if heading and len(line) < 60:
            section = heading.group(1).lower()
        if label is None:
            continue
        names, value = label
        following = []
        for nxt, nxt_label in zip(lines[index + 1:index + 5], labels[index + 1:index + 5], strict=False):
            if nxt_label is not None or (nxt.endswith(".") and len(nxt) > 80):
                break
            following.append(nxt)
        used: list[str] = []
        if not value and following:
            value, following, used = following[0], following[1:], following[:1]
        if names == ("signatory_name",) and section.startswith("manufacturer") and line.lower().startswith("name"):
            names = ("manufacturer_name",)
        if names == ("manufacturer_address",) and section.startswith("authori"):
            names = ("representative",)
        values = dict.fromkeys(names, value)
        if names[0] == "manufacturer_name":
            values["manufacturer_name"], address = _split_party(value, following)
            if address:
                values["manufacturer_address"] = address
                used += following if address == ", ".join(following) else []
        elif names == ("place_of_issue", "date_of_issue"):
            values["place_of_issue"] = value.partition(",")[0]
        excerpt = excerpt_of(" ".join([line, *used]))
        if names == ("signatory_name",) and value.lower().startswith(("for and on behalf", "on behalf")):
            continue
        for name, text in values.items():
            if name not in found and usable(text) and (name != "date_of_issue" or find_date(text)):
                found[name] = Found(name, text, excerpt, index + 1)
    return found


def sentences(lines: tuple[str, ...]) -> list[tuple[int, str]]:
    """(first line, sentence): lines joined until a sentence ends, so a PDF's wrapped sentence reads whole."""
    out: list[tuple[int, str]] = []
    current: list[str] = []
    start = 1
    for number, line in enumerate(lines, start=1):
        is_label = _label(line) is not None
        if current and is_label:
            out.append((start, " ".join(current)))
            current = []
        if not current:
            start = number
        current.append(line)
        if line.endswith((".", ";", "!", "?")) or (line.endswith(":") and not is_label) or \
                sum(map(len, current)) > 1500:
            out.append((start, " ".join(current)))
            current = []
    if current:
        out.append((start, " ".join(current)))
    return out


_COMPLY = re.compile(r"\b(?:complied|complies|comply|compliant|conforms?|conformity|in compliance|meets?|"
                     r"satisf(?:y|ies|ied))\b", re.IGNORECASE)
_REQS = re.compile(r"security requirements|schedule 1\b|\bPSTI\b|Product Security and Telecommunications "
                   r"Infrastructure|relevant connectable products", re.IGNORECASE)
_NOT = re.compile(r"\b(?:not|never|no longer|non-?compliant|fail(?:s|ed)? to|unable to|cannot|can't|doesn't|"
                  r"hasn't|haven't|isn't|will|intends? to|aims? to|plans? to|expects? to|once)\b", re.IGNORECASE)
_SCOPES = {"sch1-1": re.compile(r"paragraph\s*1\b|para\.?\s*1\b|password", re.IGNORECASE),
           "sch1-2": re.compile(r"paragraph\s*2\b|para\.?\s*2\b|report(?:ing)? (?:of )?security issues|"
                                r"vulnerabilit", re.IGNORECASE),
           "sch1-3": re.compile(r"paragraph\s*3\b|para\.?\s*3\b|support period|security update", re.IGNORECASE)}
_PREPARED = re.compile(r"\b(?:prepared|issued|drawn up|made|produced|signed)\s+(?:for\s+and\s+)?(?:by\s+or\s+)?"
                       r"(?:by|for|on behalf of)\b[^.]{0,80}?\b(?:manufacturer|us|we)\b|on behalf of (?:the )?"
                       r"manufacturer|(?:sole )?responsibility of the manufacturer", re.IGNORECASE)


def _compliance(said: list[tuple[int, str]], lines: tuple[str, ...]) -> tuple[Found | None, tuple[str, ...]]:
    for number, sentence in said:
        verb = _COMPLY.search(sentence)
        if not verb or not _REQS.search(sentence) or _NOT.search(sentence[:verb.end()]):
            continue
        scope_text = sentence
        if sentence.endswith(":"):  # "has complied with the following requirements:" and a list below
            scope_text += " " + " ".join(lines[number:number + 6])
        scope = tuple(r for r, pattern in _SCOPES.items() if pattern.search(scope_text)) or tuple(PSTI_REQUIREMENTS)
        return Found("compliance", ", ".join(scope), excerpt_of(sentence), number), scope
    return None, ()


def _prepared(said: list[tuple[int, str]], manufacturer: Found | None) -> Found | None:
    name = manufacturer.value.lower()[:80] if manufacturer else None
    for number, sentence in said:
        lowered = sentence.lower()
        if _PREPARED.search(sentence) or (name and f"on behalf of {name}" in lowered):
            return Found("prepared_by", "by or on behalf of the manufacturer", excerpt_of(sentence), number)
    return None


_ISSUED = re.compile(r"\b(?i:issued|signed|done|dated|made)\s+(?i:at|in)\s+(?P<place>[A-Z][\w'\u2019 -]{1,40}?)"
                     r"(?=,|\s+on\b|\.|$)")


def _issue(said: list[tuple[int, str]], found: dict[str, Found]) -> None:
    for number, sentence in said:
        match = _ISSUED.search(sentence)
        if match and "place_of_issue" not in found:
            found["place_of_issue"] = Found("place_of_issue", match.group("place").strip(), excerpt_of(sentence),
                                            number)
        if match and "date_of_issue" not in found and find_date(sentence[match.end():]):
            found["date_of_issue"] = Found("date_of_issue", sentence[match.end():].strip(" ,."), excerpt_of(sentence),
                                           number)


def read_statement(document: ReadDocument) -> Statement:
    """Read one document given as the statement; never raises."""
    if document.error:
        return Statement(document.source, document.text.kind, f"it could not be read: {document.error}")
    if document.source.lower().endswith((".yaml", ".yml")) or b"iotcop-statement/" in document.raw[:4096]:
        from iotcop.documents.statement_form import read_form  # it builds this module's Statement: imported late

        return read_form(document.raw, document.source)
    text = document.text
    lines = tuple(line[:MAX_LINE] for line in text.lines[:MAX_LINES])
    if not lines:
        return Statement(document.source, text.kind, text.problem or "the document has no text")
    found = _fields(lines)
    said = sentences(lines)
    compliance, scope = _compliance(said, lines)
    prepared = _prepared(said, found.get("manufacturer_name"))
    _issue(said, found)
    support = read_support(found.get("support_period"), said)
    elements = [*found.values(), *(e for e in (compliance, prepared) if e)]
    if support is not None and "support_period" not in found:
        elements.append(Found("support_period", support.excerpt, support.excerpt, support.line))
    return Statement(document.source, text.kind, "", tuple(sorted(elements, key=lambda e: e.line)), support, scope)


def collect_statement(docs: VendorDocuments) -> StatementFacts:
    """Every document given with the role "statement", read."""
    return StatementFacts(tuple(read_statement(d) for d in docs.of_role("statement")))
