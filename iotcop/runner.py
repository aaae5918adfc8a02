"""Run checks over collected facts. Never raises: every outcome becomes a ``CheckRun``.

A check's parameters are filled from their annotated types out of the fact bag. Checks that read
``Observations`` (the findings of the other checks) run last, in a second pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from iotcop.checks.registry import CheckSpec
from iotcop.declaration.facts import Observations
from iotcop.errors import CannotAssess, NotApplicable
from iotcop.model import CheckRun, EvidenceKind, Finding, RunStatus


@dataclass(frozen=True)
class Unavailable:
    """Why a whole kind of evidence cannot be used in this assessment."""

    status: RunStatus
    reason: str


@dataclass(frozen=True)
class RunResult:
    runs: tuple[CheckRun, ...]
    findings: tuple[Finding, ...]


def run_checks(
    specs: Iterable[CheckSpec],
    facts: Mapping[type, object],
    unavailable: Mapping[EvidenceKind, Unavailable],
) -> RunResult:
    ordered = sorted(specs, key=lambda s: Observations in s.reads.values())
    runs: list[CheckRun] = []
    findings: list[Finding] = []
    bag = dict(facts)
    for spec in ordered:
        if Observations in spec.reads.values():
            bag[Observations] = Observations(tuple(findings))
        run, found = _run_one(spec, bag, unavailable.get(spec.kind))
        runs.append(run)
        findings.extend(found)
    runs.sort(key=lambda r: r.check_id)
    findings.sort(key=Finding.sort_key)
    return RunResult(tuple(runs), tuple(findings))


def _run_one(
    spec: CheckSpec, bag: Mapping[type, object], missing: Unavailable | None
) -> tuple[CheckRun, list[Finding]]:
    if missing is not None:
        return CheckRun(check_id=spec.id, status=missing.status, reason=missing.reason), []
    try:
        kwargs = {}
        for name, wanted in spec.reads.items():
            if wanted not in bag:
                raise CannotAssess(f"the {wanted.__name__} facts were not collected")
            kwargs[name] = bag[wanted]
        found = list(spec.func(**kwargs))
    except NotApplicable as exc:
        return CheckRun(check_id=spec.id, status=RunStatus.NOT_APPLICABLE, reason=exc.reason), []
    except CannotAssess as exc:
        return CheckRun(check_id=spec.id, status=RunStatus.INCONCLUSIVE, reason=exc.reason), []
    except Exception as exc:  # a bug or unforeseen input must not stop the assessment
        return CheckRun(check_id=spec.id, status=RunStatus.ERROR, reason=f"{type(exc).__name__}: {exc}"), []
    for finding in found:
        if finding.check_id != spec.id:
            return CheckRun(check_id=spec.id, status=RunStatus.ERROR,
                            reason=f"produced a finding of {finding.check_id}"), []
    return CheckRun(check_id=spec.id, status=RunStatus.COMPLETED, finding_count=len(found)), found
