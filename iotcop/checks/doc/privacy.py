"""Document checks on the privacy information (guideline 8; EN 303 645 6-1, 6-2, 6-3, 6-5).

What a document proves is that information is published: a complete notice can pass 6-1 and 6-5 (they ask
for information); for consent (6-2, 6-3) a notice can only show a flaw ("by using the device you consent").
"""

from __future__ import annotations

from collections.abc import Iterator

from iotcop.checks.registry import check, spec_of
from iotcop.documents.privacy import GuidanceFacts, PrivacyFacts, Statement
from iotcop.errors import CannotAssess, NotApplicable
from iotcop.model import Evidence, EvidenceKind, Finding, Location, Severity

GIVE = "give the privacy notice with --document privacy=URL_OR_FILE"
REQUIRED = {"data": "what personal data is processed", "purposes": "for what purposes",
            "controller": "by whom (the controller's identity: a named company)",
            "third_parties": "whether it is shared with or sold to third parties, and whom"}
TECHNIQUE = "privacy information read sentence by sentence (denials such as 'we do not sell' count as statements)"


def location(source: str, line: int | None = None) -> Location:
    return Location(kind="url" if source.startswith(("http://", "https://")) else "document", path=source, line=line)


def quote(statements: list[Statement]) -> str:
    return "\n".join(f"{s.source} line {s.line} ({s.element}{', denial' if s.negated else ''}): {s.excerpt}"
                     for s in statements)


def partly(facts: PrivacyFacts | GuidanceFacts) -> str:
    """What a 'not found' must admit: documents only partly read."""
    if not facts.partial:
        return ""
    return " (only part was read of " + "; ".join(f"{s}: {why}" for s, why in facts.partial) + ")"


def readable(facts: PrivacyFacts) -> tuple[str, ...]:
    """The privacy documents read; CannotAssess when none was given or none could be read."""
    if not facts.given_role("privacy"):
        raise CannotAssess(f"no privacy information was given ({GIVE})")
    read = facts.read("privacy")
    if not read:
        raise CannotAssess("the privacy document(s) could not be read: " +
                           "; ".join(f"{s}: {why}" for s, why in facts.unreadable))
    return read


def notice(facts: PrivacyFacts) -> tuple[str, ...]:
    """The documents read when they are privacy information at all (see doc.privacy.missing)."""
    read = readable(facts)
    if not any(facts.of(e) for e in REQUIRED):
        raise CannotAssess("the documents given are not privacy information (see doc.privacy.missing)")
    return read


@check(
    id="doc.privacy.missing",
    title="No privacy information is published",
    kind=EvidenceKind.DOCUMENT,
    severity=Severity.HIGH,
    remediation="Publish privacy information for the device and its services: what personal data is processed, "
                "by whom, for what purposes, and with which third parties it is shared.",
)
def missing(facts: PrivacyFacts) -> Iterator[Finding]:
    """EN 303 645 6-1 requires clear and transparent information about the processing of personal data. A
    document given as privacy information that says nothing about what personal data is processed, why, by
    whom or with whom it is shared is not such information (a product page, a page footer)."""
    read = readable(facts)
    if any(facts.of(e) for e in REQUIRED):
        return
    yield spec_of(missing).finding(
        message=f"The document(s) given as privacy information ({', '.join(read)}) say nothing about what personal "
                f"data is processed, why, by whom or with whom it is shared{partly(facts)}.",
        location=location(read[0]),
        evidence=Evidence.of("no sentence states " + "; ".join(REQUIRED.values()), TECHNIQUE))


@check(
    id="doc.privacy.incomplete",
    title="The privacy information leaves out what, why, by whom or with whom",
    kind=EvidenceKind.DOCUMENT,
    severity=Severity.MEDIUM,
    remediation="State in the privacy information what personal data is processed, for what purposes, the "
                "controller's identity, whether data is shared with or sold to third parties (and whom), and how "
                "long it is kept.",
)
def incomplete(facts: PrivacyFacts) -> Iterator[Finding]:
    """EN 303 645 6-1: consumers are told what personal data is processed, how it is used, by whom (third
    parties included) and for what purposes. Each element must be stated somewhere in the privacy documents;
    a denial states it ("we do not share your data with third parties"). Retention is asked for by later
    versions of the standard and by data-protection law: its absence is reported as an observation."""
    read = notice(facts)
    found = [s for e in (*REQUIRED, "retention") if (s := facts.first(e))]
    gaps = [label for e, label in REQUIRED.items() if not facts.of(e)]
    if gaps:
        yield spec_of(incomplete).finding(
            message=f"The privacy information ({', '.join(read)}) does not state " + "; ".join(gaps) + partly(facts)
                    + ".",
            location=location(found[0].source if found else read[0], found[0].line if found else None),
            evidence=Evidence.of("what it does state:\n" + quote(found), TECHNIQUE))
    if not facts.of("retention"):
        yield spec_of(incomplete).finding(
            message=f"The privacy information ({', '.join(read)}) does not say how long personal data is kept.",
            location=location(read[0]), severity=Severity.INFO,
            evidence=Evidence.of("no sentence about retention (keep/retain/delete ... for/after/until)", TECHNIQUE))


def _consent(facts: PrivacyFacts) -> Statement:
    notice(facts)
    stated = facts.first("consent")
    if stated is None:
        raise CannotAssess("the privacy information does not say that any processing relies on consent; whether "
                           "it does needs the declaration")
    return stated


@check(
    id="doc.privacy.consent-undocumented",
    title="The privacy information takes consent in a way that is not valid",
    kind=EvidenceKind.DOCUMENT,
    severity=Severity.MEDIUM,
    remediation="Ask for consent with a specific, informed opt-in (an unticked switch or box) that the user "
                "actively gives; do not infer it from using or buying the device.",
)
def consent_undocumented(facts: PrivacyFacts) -> Iterator[Finding]:
    """EN 303 645 6-2: where processing relies on consent, consent is obtained in a valid way (freely given,
    specific, informed, an unambiguous act). Consent inferred from using the device or from a pre-ticked box is
    not. A notice can show such a flaw; it cannot show that the app really asks properly, so this check
    never passes 6-2 on its own."""
    _consent(facts)
    for bad in facts.of("bad_consent"):
        yield spec_of(consent_undocumented).finding(
            message=f"The privacy information takes consent without an explicit opt-in (line {bad.line}: "
                    f"\u201c{bad.excerpt}\u201d): consent inferred from use or pre-ticked is not valid consent.",
            location=location(bad.source, bad.line), evidence=Evidence.of(quote([bad]), TECHNIQUE))


@check(
    id="doc.privacy.no-consent-withdrawal",
    title="The privacy information relies on consent but does not say how to withdraw it",
    kind=EvidenceKind.DOCUMENT,
    severity=Severity.MEDIUM,
    remediation="Tell consumers that they can withdraw consent at any time, and how (a setting in the app, an "
                "address).",
)
def no_consent_withdrawal(facts: PrivacyFacts) -> Iterator[Finding]:
    """EN 303 645 6-3: consumers who consented can withdraw consent at any time. A notice that relies on
    consent and never says it can be withdrawn leaves consumers without that opportunity in practice; one
    that says how does not prove the withdrawal works, so this check can only fail 6-3."""
    stated = _consent(facts)
    if facts.of("withdrawal"):
        return
    yield spec_of(no_consent_withdrawal).finding(
        message=f"The privacy information relies on consent (line {stated.line}: \u201c{stated.excerpt}\u201d) "
                "but does not say that or how consent can be withdrawn.",
        location=location(stated.source, stated.line), evidence=Evidence.of(quote(facts.of("consent")), TECHNIQUE))


@check(
    id="doc.privacy.no-telemetry-information",
    title="The privacy information mentions telemetry without saying what it is for",
    kind=EvidenceKind.DOCUMENT,
    severity=Severity.MEDIUM,
    remediation="Describe the telemetry the device and its services collect: what data, how it is used, by "
                "whom and for what purposes.",
)
def no_telemetry_information(facts: PrivacyFacts) -> Iterator[Finding]:
    """EN 303 645 6-5: where telemetry is collected, consumers are told what, how it is used, by whom and
    why. A notice that describes telemetry with its purpose meets the publication duty; one that names it
    without a purpose does not; one that says no telemetry is collected makes the provision not applicable
    (on the vendor's word); one that is silent cannot tell whether telemetry is collected."""
    notice(facts)
    described = facts.first("telemetry_purpose", negated=False)
    mentioned = facts.first("telemetry", negated=False)
    denial = facts.first("telemetry", negated=True)
    if described is not None:
        return
    if mentioned is None:
        if denial is not None:
            raise NotApplicable(f"the privacy information states no telemetry is collected ({denial.source} "
                                f"line {denial.line}: \u201c{denial.excerpt}\u201d)")
        raise CannotAssess("the privacy information does not mention telemetry; whether the device sends any "
                           "needs a network capture or the declaration")
    yield spec_of(no_telemetry_information).finding(
        message=f"The privacy information mentions telemetry (line {mentioned.line}: \u201c{mentioned.excerpt}\u201d) "
                "but does not say what it is used for.",
        location=location(mentioned.source, mentioned.line), evidence=Evidence.of(quote(facts.of("telemetry")),
                                                                                  TECHNIQUE))
