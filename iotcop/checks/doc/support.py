"""Document checks on the defined support period (guideline 3; EN 303 645 5.3-13; PSTI Schedule 1 paragraph 3)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from iotcop.checks.registry import check, spec_of
from iotcop.declaration.schema import Declaration
from iotcop.documents.facts import VendorDocuments
from iotcop.documents.support import SupportPeriodFacts, SupportStatement
from iotcop.errors import CannotAssess, NotApplicable
from iotcop.firmware.components import Components
from iotcop.knowledge.eol import EndOfLife
from iotcop.model import AssessmentTime, Evidence, EvidenceKind, Finding, Location, Severity

_TECH = "support documents read sentence by sentence for an end date or a period from a known start"
ROLES = ("support", "statement", "guidance")


def _where(source: str, line: int | None = None) -> Location:
    return Location(kind="url" if source.lower().startswith(("http://", "https://")) else "document", path=source,
                    line=line)


def _quote(s: SupportStatement | SupportPeriodFacts) -> Evidence:
    return Evidence.of(f"line {s.line}: {s.statement}", _TECH)


def _end_words(period: SupportPeriodFacts) -> str:
    assert period.end is not None
    exact = {"month": " (the month given)", "quarter": " (the quarter given)", "year": " (the year given)"}
    precision = next((s.precision for s in period.statements if s.line == period.line and s.source == period.source),
                     "")
    return period.end.isoformat() + exact.get(precision, "")


def _read(docs: VendorDocuments, period: SupportPeriodFacts) -> None:
    """CannotAssess unless some document that could state the period was read with text."""
    if not any(docs.sources.given(role) for role in ROLES):
        raise CannotAssess("no support-period document was given (--document support=URL_OR_FILE: the product "
                           "page or support policy)")
    if not period.read:
        raise CannotAssess("the support-period document(s) could not be read: " + "; ".join(period.unreadable))
    if len(period.blank) == len(period.read) and period.kind == "none":
        raise CannotAssess("the support-period document(s) have no readable text: " + "; ".join(period.blank))


@check(
    id="doc.support-period.missing",
    title="No support period is published",
    kind=EvidenceKind.DOCUMENT,
    severity=Severity.HIGH,
    remediation="Publish the defined support period on the product page: the date until which security updates "
                "will be provided (e.g. 'Security updates until 31 December 2029').",
)
def missing(docs: VendorDocuments, period: SupportPeriodFacts) -> Iterator[Finding]:
    """EN 303 645 5.3-13 and PSTI Schedule 1 paragraph 3 require the manufacturer to publish the defined support
    period, the minimum time security updates will be provided, with an end date. A buyer who cannot find it
    cannot know how long the product stays safe to use. A vague period is reported by doc.support-period.vague."""
    _read(docs, period)
    if period.kind != "none":
        return
    where = period.read[0].split(": ", 1)[1]
    yield spec_of(missing).finding(
        message="No sentence stating how long security updates are provided was found in "
                f"{', '.join(r.split(': ', 1)[1] for r in period.read)}.",
        location=_where(where),
        evidence=Evidence.of("documents read: " + "; ".join(period.read) +
                             (f"; unreadable: {'; '.join(period.unreadable)}" if period.unreadable else ""), _TECH))


@check(
    id="doc.support-period.vague",
    title="The published support period has no end date anyone can know",
    kind=EvidenceKind.DOCUMENT,
    severity=Severity.HIGH,
    remediation="Replace the wording with an end date ('until 31 December 2029') or a period from a start the "
                "buyer knows ('5 years from the date of purchase').",
)
def vague(docs: VendorDocuments, period: SupportPeriodFacts) -> Iterator[Finding]:
    """PSTI defines the support period as a period with an end date; EN 303 645 5.3-13 asks for it to be clear
    and transparent. "For the lifetime of the product", "as long as commercially reasonable", "regularly
    updated", or "5 years" from no stated start promise nothing a buyer can hold the manufacturer to."""
    _read(docs, period)
    if period.kind in ("definite", "relative"):
        return
    if period.kind == "none":
        raise CannotAssess("no support-period statement was found (see doc.support-period.missing)")
    vague_ones = [s for s in period.statements if s.kind == "vague"]
    yield spec_of(vague).finding(
        message=f"The support period is stated only vaguely at {period.source} line {period.line}: "
                f"\u201c{period.statement}\u201d ({period.why})." +
                (f" {len(vague_ones) - 1} more vague statement(s)." if len(vague_ones) > 1 else ""),
        location=_where(period.source, period.line),
        evidence=Evidence.of("\n".join(f"line {s.line}: {s.statement}" for s in vague_ones[:5]), _TECH))


@check(
    id="doc.support-period.expired",
    title="The published support period has ended",
    kind=EvidenceKind.DOCUMENT,
    severity=Severity.HIGH,
    remediation="Extend the support period and publish the new end date, or stop selling the product: after its "
                "end it gets no security updates.",
)
def expired(docs: VendorDocuments, period: SupportPeriodFacts, now: AssessmentTime) -> Iterator[Finding]:
    """A support period whose end date has passed means the product no longer gets security updates, whatever
    else is true of it. One that ends within a year is noted (INFO): buyers should know."""
    _read(docs, period)
    if period.kind == "relative" and period.end is None:
        raise NotApplicable(f"the period runs from each unit's start ({period.statement!r}); it has no single end "
                            "date to be past")
    if period.end is None:
        raise CannotAssess("no end date was published (see doc.support-period.missing and .vague)")
    today = now.at.date()
    if period.end < today:
        yield spec_of(expired).finding(
            message=f"The published support period ended on {_end_words(period)}, before this assessment "
                    f"({today.isoformat()}): the product gets no more security updates ({period.source} line "
                    f"{period.line}).",
            location=_where(period.source, period.line), evidence=_quote(period))
    elif period.end < today + dt.timedelta(days=365):
        yield spec_of(expired).finding(
            severity=Severity.INFO, location=_where(period.source, period.line), evidence=_quote(period),
            message=f"The published support period ends on {_end_words(period)}, "
                    f"{(period.end - today).days} days after this assessment.")


def _covers(published: SupportStatement, declared: dt.date) -> bool:
    """The published date names the declared one (to its precision: 'December 2029' covers 2029-12-31)."""
    end = published.end
    if end is None or end.year != declared.year:
        return False
    if published.precision == "year":
        return True
    first_month = {"month": end.month, "quarter": end.month - 2}.get(published.precision)
    return end == declared if first_month is None else first_month <= declared.month <= end.month


@check(
    id="doc.support-period.differs-from-declaration",
    title="The published support period differs from the declared one",
    kind=EvidenceKind.DOCUMENT,
    severity=Severity.MEDIUM,
    remediation="Publish the support period the declaration gives (or correct the declaration): buyers and "
                "market surveillance must read the same end date.",
)
def differs_from_declaration(period: SupportPeriodFacts, declaration: Declaration) -> Iterator[Finding]:
    """The manufacturer's declaration (IXIT 2-UserInfo 'Support Period') and the published documents must give
    the same end date: a published date earlier than the declared one shortens the promise to buyers, a later
    one promises more than the manufacturer declares it will provide."""
    declared = declaration.ixit.support_period.end_date if declaration.ixit.support_period else None
    if declared is None:
        raise NotApplicable("the declaration gives no support period end date")
    dated = [s for s in period.statements if s.end is not None]
    if not dated:
        raise CannotAssess("no published end date to compare with the declared one "
                           f"({declared.isoformat()})")
    if any(_covers(s, declared) for s in dated):
        return
    first = dated[0]
    assert first.end is not None
    shorter = "earlier than" if first.end < declared else "later than"
    line = declaration.line_of("ixit.support_period.end_date")
    yield spec_of(differs_from_declaration).finding(
        message=f"The published support period ends on {first.end.isoformat()} ({first.source} line {first.line}), "
                f"{shorter} the declared end date {declared.isoformat()}"
                + (f" (declaration line {line})" if line else "") + ".",
        location=_where(first.source, first.line), evidence=_quote(first))


@check(
    id="doc.support-period.outlives-components",
    title="The support period outlives the upstream support of a core component",
    kind=EvidenceKind.DOCUMENT,
    severity=Severity.MEDIUM,
    remediation="Move the firmware to release branches supported until the end of the support period, or state "
                "how security fixes will be backported after upstream support ends.",
)
def outlives_components(period: SupportPeriodFacts, components: Components, eol: EndOfLife,
                        now: AssessmentTime) -> Iterator[Finding]:
    """A support period promises security updates until its end; a core component (kernel, TLS library) whose
    release branch loses upstream support before then gets no fixes from its project, so the promise rests on
    the manufacturer backporting them. A warning for review: the firmware is not the published promise."""
    end = period.end_for_purchase_on(now.at.date())
    if end is None:
        raise CannotAssess("no published end date to compare with the components' end of life")
    versioned = [c for c in components.components if c.version]
    looked = [(c, eol.lookup(c.name, c.version)) for c in versioned if c.version]
    known = [(c, v) for c, v in looked if v is not None]
    if not known:
        raise NotApplicable("no component of the firmware has a known upstream end of life")
    for c, verdict in known:
        if verdict.ended is not None and verdict.ended >= end:
            continue
        ended = f"on {verdict.ended.isoformat()}" if verdict.ended else "already (an older or superseded branch)"
        yield spec_of(outlives_components).finding(
            message=f"The support period runs until {end.isoformat()} ({period.source} line {period.line}), but "
                    f"{c.name} {c.version} (branch {verdict.branch}, at {c.locations[0] if c.locations else '/'}) "
                    f"loses upstream support {ended}.",
            location=_where(period.source, period.line),
            evidence=Evidence.of(f"line {period.line}: {period.statement}\n{c.name} {c.version}: {c.evidence or ''}",
                                 f"{_TECH}; release branch looked up in: {verdict.why}"))


@check(
    id="doc.support-period.no-non-updatable-rationale",
    title="A device that cannot be updated does not publish why, its replacement and its support period",
    kind=EvidenceKind.DOCUMENT,
    severity=Severity.MEDIUM,
    remediation="Publish, for a constrained device whose software cannot be updated, why it cannot be, how and "
                "for how long the hardware is replaced when a vulnerability needs it, and the support period.",
)
def no_non_updatable_rationale(docs: VendorDocuments, period: SupportPeriodFacts,
                               declaration: Declaration) -> Iterator[Finding]:
    """EN 303 645 5.3-14: a constrained device that cannot have its software updated should come with a published
    rationale for the absence of updates, the period and method of hardware replacement support, and a defined
    support period, so buyers know what happens when a vulnerability is found."""
    if not declaration.product.constrained_device:
        raise NotApplicable("the declaration does not describe a constrained device")
    if declaration.ixit.update_mechanisms:
        names = ", ".join(m.name for m in declaration.ixit.update_mechanisms)
        raise NotApplicable(f"the declaration names an update mechanism ({names})")
    _read(docs, period)
    gaps = []
    if period.not_updatable is None:
        gaps.append("why its software cannot be updated")
    if period.replacement is None:
        gaps.append("how the hardware is replaced")
    if period.kind not in ("definite", "relative"):
        gaps.append("a defined support period")
    if not gaps:
        return
    found = [p for p in (period.not_updatable, period.replacement) if p is not None]
    where = found[0] if found else None
    yield spec_of(no_non_updatable_rationale).finding(
        message="The declaration describes a constrained device without an update mechanism, but the documents "
                f"read ({', '.join(r.split(': ', 1)[1] for r in period.read)}) do not say " + "; ".join(gaps) + ".",
        location=_where(where.source, where.line) if where else _where(period.read[0].split(": ", 1)[1]),
        evidence=Evidence.of("\n".join(f"line {p.line}: {p.excerpt}" for p in found) or
                             "documents read: " + "; ".join(period.read), _TECH))
