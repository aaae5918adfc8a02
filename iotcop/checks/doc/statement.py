"""Document checks on the PSTI statement of compliance (PSTI Act 2022 s.9 and the regulations' schedule of its
minimum content): every element present, a defined support period with an end date, and no declaration of
compliance that the observations contradict."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from iotcop.catalogue import Catalogue
from iotcop.checks.registry import check, spec_of
from iotcop.declaration.facts import Observations
from iotcop.documents.statement import ELEMENTS, PSTI_REQUIREMENTS, Statement, StatementFacts, find_date
from iotcop.errors import CannotAssess
from iotcop.model import AssessmentTime, Evidence, EvidenceKind, Finding, Location, Severity

_TECH = "statement of compliance read element by element (labelled fields and sentences)"
_GRAVE = {"compliance", "product_type", "manufacturer_name"}  # without these it is no statement at all


def _read(facts: StatementFacts) -> list[Statement]:
    if not facts.statements:
        raise CannotAssess("no statement of compliance was given (--document statement=FILE_OR_URL: a PDF, HTML, "
                           "text or iotcop-statement/1 YAML)")
    read = [s for s in facts.statements if not s.problem]
    if not read:
        raise CannotAssess("the statement of compliance could not be judged: " +
                           "; ".join(f"{s.source}: {s.problem}" for s in facts.statements))
    return read


def _where(statement: Statement, line: int | None = None) -> Location:
    kind = "url" if statement.source.lower().startswith(("http://", "https://")) else "document"
    return Location(kind=kind, path=statement.source, line=line)


def _seen(statement: Statement) -> str:
    return "\n".join(f"line {e.line} ({e.name}): {e.excerpt}" for e in statement.elements) or "no element found"


@check(
    id="doc.statement.missing-element",
    title="The statement of compliance lacks an element the PSTI regulations require",
    kind=EvidenceKind.DOCUMENT,
    severity=Severity.MEDIUM,
    remediation="Complete the statement: product type and batch or model, the manufacturer's name and address, "
                "that it is prepared by or on behalf of the manufacturer, the declaration of compliance with the "
                "applicable security requirements, the defined support period, the signatory's name and function, "
                "and the place and date of issue.",
)
def missing_element(facts: StatementFacts) -> Iterator[Finding]:
    """A product made available in the UK must be accompanied by a statement of compliance with the content the
    PSTI regulations set. Each element missing (or left as a template placeholder) is a finding; a missing
    declaration of compliance, product type or manufacturer name is grave, since without them the document does
    not say what it certifies or who stands behind it. The support period is judged by
    doc.statement.no-support-period."""
    for statement in _read(facts):
        missing = [name for name in statement.missing if name != "support_period"]
        if len(missing) == len(ELEMENTS) - 1:
            yield spec_of(missing_element).finding(
                severity=Severity.HIGH, location=_where(statement),
                message=f"The document given as the statement of compliance ({statement.source}) states none of "
                        "the elements a statement must contain: it reads as no statement of compliance.",
                evidence=Evidence.of(_seen(statement), _TECH))
            continue
        for name in missing:
            yield spec_of(missing_element).finding(
                severity=Severity.HIGH if name in _GRAVE else Severity.MEDIUM, location=_where(statement),
                message=f"The statement of compliance ({statement.source}) does not state {ELEMENTS[name]}.",
                evidence=Evidence.of(_seen(statement), _TECH))


@check(
    id="doc.statement.no-support-period",
    title="The statement of compliance gives no defined support period with an end date",
    kind=EvidenceKind.DOCUMENT,
    severity=Severity.MEDIUM,
    remediation="State the defined support period as an end date (e.g. 'security updates until 31 December "
                "2029'), not only a length or 'for the lifetime of the product'.",
)
def no_support_period(facts: StatementFacts, now: AssessmentTime) -> Iterator[Finding]:
    """The statement must give the defined support period at its date of issue, and the regulations define it
    as a minimum period with an end date: a length alone ("five years") leaves the buyer to guess from when,
    and "for the lifetime of the product" is no period at all. A period that ended before the date of issue
    contradicts itself; one that ended before this assessment is reported for review."""
    for statement in _read(facts):
        support = statement.support
        if support is None:
            yield spec_of(no_support_period).finding(
                severity=Severity.HIGH, location=_where(statement), evidence=Evidence.of(_seen(statement), _TECH),
                message=f"The statement of compliance ({statement.source}) states no defined support period.")
            continue
        where = _where(statement, support.line)
        evidence = Evidence.of(support.excerpt, _TECH)
        issued = statement.element("date_of_issue")
        if support.kind == "vague":
            yield spec_of(no_support_period).finding(
                location=where, evidence=evidence,
                message=f"The support period on line {support.line} has no end date or length: "
                        f"\u201c{support.excerpt}\u201d.")
        elif support.kind == "period":
            yield spec_of(no_support_period).finding(
                location=where, evidence=evidence,
                message=f"The support period on line {support.line} gives a length ({support.period}) but no end "
                        f"date" + (f" (the statement was issued {issued.value})" if issued else "") + ".")
        elif support.end is not None and issued is not None and _before_issue(support.end, issued.value):
            yield spec_of(no_support_period).finding(
                severity=Severity.HIGH, location=where, evidence=evidence,
                message=f"The support period ends on {support.end.isoformat()}, before the statement's date of "
                        f"issue ({issued.value}, line {issued.line}).")
        elif support.end is not None and support.end < now.at.date():
            yield spec_of(no_support_period).finding(
                severity=Severity.INFO, location=where, evidence=evidence,
                message=f"The defined support period ended on {support.end.isoformat()}, before this assessment "
                        f"({now.at.date().isoformat()}): the product no longer gets security updates.")


def _before_issue(end: dt.date, issued: str) -> bool:
    when = find_date(issued)
    return when is not None and end < when


def observing_checks(catalogue: Catalogue, requirement_id: str) -> tuple[str, ...]:
    """The check ids whose findings fail a PSTI requirement: its own and those of the provisions it rolls up."""
    out: list[str] = []
    pending = [f"psti:{requirement_id}"]
    for _ in range(20):  # roll-ups are shallow; bounded all the same
        if not pending:
            break
        _, requirement = catalogue.resolve(pending.pop())
        out += [*requirement.evidenced_by, *requirement.refuted_by]
        pending += list(requirement.derived_from)
    # a support period that has ended since the statement was issued does not make the statement false
    return tuple(dict.fromkeys(c for c in out if not c.startswith("doc.statement.")
                               and c != "doc.support-period.expired"))


@check(
    id="doc.statement.contradiction",
    title="The statement of compliance declares compliance that the observations contradict",
    kind=EvidenceKind.DOCUMENT,
    severity=Severity.HIGH,
    remediation="Fix the product (e.g. remove the default password) or withdraw the statement: a statement of "
                "compliance must be true of the product it accompanies.",
)
def contradiction(facts: StatementFacts, observations: Observations, catalogue: Catalogue) -> Iterator[Finding]:
    """The statement declares that, in the manufacturer's opinion, the product meets the PSTI security
    requirements. When iotcop observed a failure of a requirement the statement declares met (a working default
    password against the password requirement), the statement is false for this product. The observing checks
    of each requirement come from the catalogue (PSTI Schedule 1 paragraph 1 rolls up EN 303 645 5.1-1 and
    5.1-2, so their checks)."""
    psti = catalogue.framework("psti")
    for statement in _read(facts):
        claim = statement.element("compliance")
        if claim is None:
            continue  # nothing declared, nothing contradicted (doc.statement.missing-element reports it)
        for requirement in statement.complies_with:
            if requirement not in psti:
                continue
            observed = [f for f in observations.of_checks(observing_checks(catalogue, requirement))
                        if f.severity is not Severity.INFO]
            if not observed:
                continue
            shown = "; ".join(f"{f.check_id} at {f.location}" for f in observed[:3])
            more = f" and {len(observed) - 3} more" if len(observed) > 3 else ""
            yield spec_of(contradiction).finding(
                location=_where(statement, claim.line),
                message=f"The statement of compliance (line {claim.line}) declares PSTI {requirement} "
                        f"({PSTI_REQUIREMENTS.get(requirement, requirement)}) met, but {len(observed)} observed "
                        f"finding(s) fail it: {shown}{more}. {observed[0].message}",
                evidence=Evidence.of(f"declared (line {claim.line}): {claim.excerpt}\nobserved: "
                                     f"{observed[0].message}", "statement compared with observations"))
