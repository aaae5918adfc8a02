"""Declaration checks on the ICS itself (EN 303 645 4-1)."""

from __future__ import annotations

from collections.abc import Iterator

from iotcop.catalogue import Catalogue
from iotcop.checks.registry import check, spec_of
from iotcop.declaration.schema import Declaration, Support
from iotcop.model import Evidence, EvidenceKind, Finding, Location, Severity


@check(
    id="decl.ics.missing-justification",
    title="A recommendation marked not met or not applicable has no justification",
    kind=EvidenceKind.DECLARATION,
    severity=Severity.LOW,
    remediation="Give the reason in the provision's 'detail': why the recommendation is not applicable, or why "
                "it is not implemented.",
)
def missing_justification(declaration: Declaration, catalogue: Catalogue) -> Iterator[Finding]:
    """EN 303 645 lets a manufacturer leave a recommendation unmet only with a written justification;
    an unexplained 'no' or 'not applicable' cannot be assessed by anyone."""
    en = catalogue.framework("en303645")
    for requirement in en.requirements:
        answer = declaration.answer(requirement.id)
        if answer is None or answer.support is None or answer.support is Support.YES or (answer.detail or "").strip():
            continue
        support = answer.support
        if requirement.mandatory and support is Support.NO:
            continue  # a mandatory 'no' is a declared failure, judged by evaluation, not a missing text
        field = f"ics.{requirement.id}"
        yield spec_of(missing_justification).finding(
            message=f"{requirement.id} is declared '{support.value}' without a justification.",
            location=Location.in_declaration(field, declaration.line_of(field)),
            evidence=Evidence.of(f"{requirement.id}: support={support.value}, detail empty",
                                 "read the declaration's ICS"),
            basis="declared",
        )
