"""Check runs + declaration + catalogue → one verdict per requirement (pure, no I/O).

Rules for a requirement judged by checks (``evidenced_by``), in order:

1. A finding of any evidencing or refuting check (``refuted_by``) → FAIL (observed). Observations outrank
   any declaration. Findings of severity INFO are observations for a reviewer (a daemon installed but never
   started): they never fail a requirement, and a PASS names them in its reason.
2. Every evidencing check completed without (failing) findings → PASS (observed). Refuting checks never
   make a PASS: with no evidencing check, their clean runs are named in the INCONCLUSIVE reason (and the
   declaration may settle it, rule 3). Checks that found their subject
   absent (NOT_APPLICABLE) count as clean beside completed ones; if *all* of them did, a conditional
   requirement is NOT_APPLICABLE and an unconditional one INCONCLUSIVE.
3. Otherwise the observation is incomplete, and the declaration may settle it: 'yes' → PASS (declared),
   'no' → FAIL (declared), 'not-applicable' → NOT_APPLICABLE (declared) where the requirement is
   conditional or a recommendation.
4. Otherwise → INCONCLUSIVE, saying what is missing ("needs a live device", ...). Never PASS.

Triage (``iotcop.triage``): a finding with an active decision of false_positive or not_affected does not fail
a requirement (rule 1 ignores it; the verdict lists it in ``suppressed`` and a PASS names how many were set
aside). An accepted_risk still fails it — a risk accepted is still a requirement not met — and the FAIL's
reason says the risk was accepted. An expired decision does not apply.

A requirement that rolls up others (``derived_from``) takes its outcome from them: the mandatory ones
decide where there are any; FAIL beats INCONCLUSIVE beats PASS; all NOT_APPLICABLE → NOT_APPLICABLE.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from iotcop.catalogue import Catalogue, Framework, Requirement
from iotcop.declaration.schema import Declaration, Support
from iotcop.model import (
    NEEDS,
    Basis,
    CheckRun,
    Counts,
    EvidenceKind,
    Finding,
    FrameworkSummary,
    Outcome,
    RunStatus,
    Severity,
    Verdict,
)


def evaluate(
    catalogue: Catalogue,
    runs: Iterable[CheckRun],
    findings: Sequence[Finding],
    declaration: Declaration | None,
) -> tuple[Verdict, ...]:
    by_check = {r.check_id: r for r in runs}
    verdicts: dict[str, Verdict] = {}
    for fw in catalogue.frameworks:  # frameworks come after those they roll up
        for req in fw.requirements:
            if req.derived_from:
                verdict = _rolled_up(fw, req, verdicts)
            else:
                verdict = _direct(fw, req, by_check, findings, declaration)
            verdicts[f"{fw.id}:{req.id}"] = verdict
    return tuple(verdicts.values())


def _verdict(fw: Framework, req: Requirement, outcome: Outcome, basis: Basis, reason: str, **more: object) -> Verdict:
    mandatory = req.mandatory and outcome is not Outcome.NOT_APPLICABLE
    return Verdict(framework=fw.id, requirement_id=req.id, outcome=outcome, basis=basis, reason=reason,
                   mandatory=mandatory, **more)


def _direct(fw: Framework, req: Requirement, by_check: dict[str, CheckRun], findings: Sequence[Finding],
            declaration: Declaration | None) -> Verdict:
    judging = (*req.evidenced_by, *req.refuted_by)
    mine = [f for f in findings if f.check_id in judging]
    cleared = tuple(f.fingerprint for f in mine if f.severity is not Severity.INFO
                    and f.suppression is not None and f.suppression.clears)
    verdict = _judge(fw, req, by_check, [f for f in mine if f.fingerprint not in cleared], declaration)
    if not cleared:
        return verdict
    if verdict.outcome is Outcome.PASS and verdict.basis is Basis.OBSERVED:
        noun = "finding was" if len(cleared) == 1 else "findings were"
        reason = f"{verdict.reason}; {len(cleared)} {noun} set aside in triage (false positive or not affected)"
        return verdict.model_copy(update={"suppressed": cleared, "reason": reason})
    return verdict.model_copy(update={"suppressed": cleared})


def _judge(fw: Framework, req: Requirement, by_check: dict[str, CheckRun], findings: Sequence[Finding],
           declaration: Declaration | None) -> Verdict:
    """The rules 1-4 on the findings that triage did not set aside."""
    checks = tuple(req.evidenced_by)
    runs = [by_check[c] for c in checks if c in by_check]
    judging = (*checks, *req.refuted_by)
    failing = [f for f in findings if f.check_id in judging and f.severity is not Severity.INFO]
    if failing:
        first = failing[0]
        more = f" (and {len(failing) - 1} more)" if len(failing) > 1 else ""
        accepted = sum(1 for f in failing if f.suppression is not None and not f.suppression.expired)
        risk = f"; risk accepted in triage for {accepted} of {len(failing)}" if accepted else ""
        basis = Basis.DECLARED if all(f.basis == "declared" for f in failing) else Basis.OBSERVED
        return _verdict(fw, req, Outcome.FAIL, basis, f"{first.message}{more}{risk}", checks=judging,
                        findings=tuple(f.fingerprint for f in failing))
    statuses = {r.status for r in runs}
    planned = f"; {len(req.planned)} more check(s) planned" if req.planned else ""
    if runs and len(runs) == len(checks) and statuses <= {RunStatus.COMPLETED, RunStatus.NOT_APPLICABLE}:
        if RunStatus.COMPLETED in statuses:
            ran = ", ".join(r.check_id for r in runs if r.status is RunStatus.COMPLETED)
            noted = sum(1 for f in findings if f.check_id in checks)  # only INFO ones remain here
            observed = f"; {noted} informational observation(s) for review" if noted else ""
            return _verdict(fw, req, Outcome.PASS, Basis.OBSERVED, f"checked and clean: {ran}{observed}{planned}",
                            checks=checks)
        reasons = "; ".join(r.reason for r in runs)
        if req.status.conditional:
            return _verdict(fw, req, Outcome.NOT_APPLICABLE, Basis.OBSERVED,
                            f"the condition does not hold ({req.condition}): {reasons}", checks=checks)
        return _verdict(fw, req, Outcome.INCONCLUSIVE, Basis.OBSERVED,
                        f"nothing to check ({reasons}), but the requirement is unconditional", checks=checks)
    declared = _declared(fw, req, declaration)
    if declared is not None:
        return declared
    return _verdict(fw, req, Outcome.INCONCLUSIVE, Basis.NONE, _missing(req, runs, by_check), checks=checks)


def _declared(fw: Framework, req: Requirement, declaration: Declaration | None) -> Verdict | None:
    if declaration is None or not req.declarable:
        return None
    answer = declaration.answer(req.id)
    if answer is None:
        return None
    detail = f": {answer.detail.strip()}" if answer.detail and answer.detail.strip() else ""
    if answer.support is Support.YES:
        return _verdict(fw, req, Outcome.PASS, Basis.DECLARED, f"declared supported{detail}")
    if answer.support is Support.NO:
        return _verdict(fw, req, Outcome.FAIL, Basis.DECLARED, f"declared not supported{detail}")
    if req.status.conditional or not req.mandatory:
        return _verdict(fw, req, Outcome.NOT_APPLICABLE, Basis.DECLARED, f"declared not applicable{detail}")
    return _verdict(fw, req, Outcome.INCONCLUSIVE, Basis.DECLARED,
                    f"declared not applicable, but this mandatory requirement has no condition{detail}")


def _missing(req: Requirement, runs: list[CheckRun], by_check: dict[str, CheckRun]) -> str:
    """Why nothing could establish the requirement: what the user would have to supply."""
    refuting = [by_check[c] for c in req.refuted_by if c in by_check]
    reasons = list(dict.fromkeys(r.reason for r in (*runs, *refuting)
                                 if r.status is not RunStatus.COMPLETED and r.reason))
    clean = [r.check_id for r in refuting if r.status is RunStatus.COMPLETED]
    if clean:
        reasons.append(f"{', '.join(clean)} found nothing against it, which alone cannot establish it")
    if not req.evidenced_by:
        kinds = [k for k in req.evidence_kinds if k is not EvidenceKind.DECLARATION]
        built = "no check that can establish it is built yet" if req.refuted_by else "no automated check yet"
        automated = f"{built} ({len(req.planned)} planned)" if req.planned else "no automated check can establish it"
        reasons.append(automated)
    if req.declarable:
        reasons.append(NEEDS[EvidenceKind.DECLARATION])
    elif not req.evidenced_by:
        reasons.extend(NEEDS[k] for k in kinds)
    if not reasons:  # its checks never ran: their kind of evidence was not supplied
        reasons.extend(NEEDS[k] for k in req.evidence_kinds if k is not EvidenceKind.DECLARATION)
    return "; ".join(dict.fromkeys(reasons)) or "nothing could establish it"


_PRECEDENCE = (Outcome.FAIL, Outcome.INCONCLUSIVE, Outcome.PASS)


def _rolled_up(fw: Framework, req: Requirement, verdicts: dict[str, Verdict]) -> Verdict:
    parts = [verdicts[ref] for ref in req.derived_from]
    deciding = [v for v in parts if v.mandatory] or [v for v in parts if v.outcome is not Outcome.NOT_APPLICABLE]
    refs = tuple(req.derived_from)
    if not deciding:
        return _verdict(fw, req, Outcome.NOT_APPLICABLE, Basis.DERIVED,
                        "every requirement it rolls up is not applicable", derived_from=refs)
    for outcome in _PRECEDENCE:
        hits = [v for v in deciding if v.outcome is outcome]
        if hits:
            break
    names = ", ".join(f"{v.framework}:{v.requirement_id}" for v in hits)
    declared = any(v.basis is Basis.DECLARED for v in deciding)
    suffix = " (partly on the manufacturer's declaration)" if declared and outcome is not Outcome.FAIL else ""
    verb = {Outcome.FAIL: "fails", Outcome.INCONCLUSIVE: "could not be established for",
            Outcome.PASS: "passes on"}[outcome]
    reason = f"{verb} {names}{suffix}"
    suppressed = tuple(dict.fromkeys(f for v in deciding for f in v.suppressed))
    return _verdict(fw, req, outcome, Basis.DERIVED, reason, derived_from=refs,
                    findings=tuple(f for v in hits for f in v.findings), suppressed=suppressed)


def summarise(catalogue: Catalogue, verdicts: Iterable[Verdict]) -> tuple[FrameworkSummary, ...]:
    out = []
    verdicts = list(verdicts)
    for fw in catalogue.frameworks:
        mine = [v for v in verdicts if v.framework == fw.id]
        counts = Counts(**{o.value: sum(1 for v in mine if v.outcome is o) for o in Outcome})
        failed = tuple(v.requirement_id for v in mine if v.outcome is Outcome.FAIL and v.mandatory)
        out.append(FrameworkSummary(framework=fw.id, counts=counts, mandatory_failed=failed))
    return tuple(out)
