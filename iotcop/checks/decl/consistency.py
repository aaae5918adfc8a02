"""Declaration checks against what was observed: a declaration contradicted by evidence is a finding."""

from __future__ import annotations

from collections.abc import Iterator

from iotcop.catalogue import Catalogue
from iotcop.checks.registry import check, spec_of
from iotcop.declaration.facts import Observations
from iotcop.declaration.schema import Declaration, Support
from iotcop.errors import NotApplicable
from iotcop.model import Evidence, EvidenceKind, Finding, Location, Severity


@check(
    id="decl.consistency.contradiction",
    title="The declaration claims what the observations contradict",
    kind=EvidenceKind.DECLARATION,
    severity=Severity.HIGH,
    remediation="Correct the product or the declaration: a statement of compliance must match the product.",
)
def contradiction(declaration: Declaration, observations: Observations, catalogue: Catalogue) -> Iterator[Finding]:
    """A provision declared supported (or not applicable) while iotcop observed a failure of it is a false
    statement about the product; under PSTI a statement of compliance built on it is itself a problem."""
    en = catalogue.framework("en303645")
    if not declaration.ics:
        raise NotApplicable("the declaration answers no provision")
    for requirement in en.requirements:
        answer = declaration.answer(requirement.id)
        if answer is None or answer.support is None or answer.support is Support.NO:
            continue
        support = answer.support
        observed = observations.of_checks(requirement.evidenced_by)
        if not observed:
            continue
        field = f"ics.{requirement.id}"
        shown = "; ".join(f"{f.check_id} at {f.location}" for f in observed[:3])
        more = f" and {len(observed) - 3} more" if len(observed) > 3 else ""
        yield spec_of(contradiction).finding(
            message=f"{requirement.id} is declared '{support.value}', but {len(observed)} observed "
                    f"finding(s) fail it: {shown}{more}.",
            location=Location.in_declaration(field, declaration.line_of(field)),
            evidence=Evidence.of(f"declared: {support.value} ({answer.detail or 'no detail'}); "
                                 f"observed: {observed[0].message}", "declaration compared with observations"),
        )
