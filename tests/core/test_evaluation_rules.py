"""Table-driven tests of the evaluation rules, on a small catalogue written for the test."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from iotcop.catalogue import Catalogue, load_catalogue
from iotcop.declaration import parse_declaration
from iotcop.evaluation import evaluate, summarise
from iotcop.model import (
    Basis,
    CheckRun,
    Evidence,
    Finding,
    Location,
    Outcome,
    RunStatus,
    Severity,
)

A, B = "fw.test.alpha", "net.test.beta"

EN = {
    "framework": {"id": "en303645", "title": "EN (test)", "version": "t", "published": "t", "kind": "standard",
                  "source": "test"},
    "groups": [{"id": "5.1", "title": "g"}],
    "requirements": [
        {"id": "5.1-1", "group": "5.1", "title": "two checks", "status": "mandatory",
         "evidenced_by": [A, B], "evidence_kinds": ["firmware", "network"]},
        {"id": "5.1-2", "group": "5.1", "title": "conditional, one check", "status": "mandatory-conditional",
         "condition": "a thing exists", "evidenced_by": [A]},
        {"id": "5.1-3", "group": "5.1", "title": "no check at all", "status": "mandatory",
         "planned": ["doc.test.gamma"], "evidence_kinds": ["document", "declaration"]},
        {"id": "5.1-4", "group": "5.1", "title": "recommendation", "status": "recommended"},
        {"id": "5.1-5", "group": "5.1", "title": "only A", "status": "mandatory", "evidenced_by": [A]},
        {"id": "5.1-6", "group": "5.1", "title": "A can only refute it", "status": "mandatory", "refuted_by": [A]},
        {"id": "5.1-7", "group": "5.1", "title": "evidenced by B, refuted by A", "status": "mandatory",
         "evidenced_by": [B], "refuted_by": [A]},
    ],
}
ROLLUP = {
    "framework": {"id": "rollup", "title": "roll-up (test)", "version": "t", "published": "t", "kind": "law",
                  "source": "test"},
    "groups": [{"id": "g", "title": "g"}],
    "requirements": [
        {"id": "r-1", "group": "g", "title": "of 5.1-1 and 5.1-2", "status": "mandatory", "declarable": False,
         "derived_from": ["en303645:5.1-1", "en303645:5.1-2"]},
        {"id": "r-2", "group": "g", "title": "of the recommendation only", "status": "recommended",
         "declarable": False, "derived_from": ["en303645:5.1-4"]},
        {"id": "r-3", "group": "g", "title": "of 5.1-2 only", "status": "mandatory", "declarable": False,
         "derived_from": ["en303645:5.1-2"]},
    ],
}


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    d: Path = tmp_path_factory.mktemp("catalogue")
    (d / "en.yaml").write_text(yaml.safe_dump(EN))
    (d / "rollup.yaml").write_text(yaml.safe_dump(ROLLUP))
    return load_catalogue(d, known_checks=[A, B])


def finding(check_id: str, basis: str = "observed", severity: Severity = Severity.HIGH) -> Finding:
    return Finding(check_id=check_id, severity=severity, title="t", message=f"{check_id} found it",
                   location=Location.in_image("/etc/x"), evidence=Evidence.of("x", "test"), remediation="r",
                   basis=basis)  # type: ignore[arg-type]


def run(check_id: str, status: RunStatus, reason: str = "") -> CheckRun:
    return CheckRun(check_id=check_id, status=status, reason=reason)


DONE, NA, INC, NOTRUN, ERR = (RunStatus.COMPLETED, RunStatus.NOT_APPLICABLE, RunStatus.INCONCLUSIVE,
                              RunStatus.NOT_RUN, RunStatus.ERROR)


def decl(**answers: str) -> object:
    ics = "\n".join(f'  "{k.replace("_", "-").replace("-", ".", 1)}": {{support: {v}, detail: because}}'
                    for k, v in answers.items())
    text = f"schema: iotcop-declaration/1\nproduct: {{manufacturer: M, name: N}}\nics:\n{ics or '  {}'}\n"
    return parse_declaration(text, catalogue=_CAT[0])


_CAT: list[Catalogue] = []

# (runs of A and B, findings of, declaration answers, requirement, expected outcome, expected basis, reason part)
CASES = [
    ("all checks clean → PASS", {A: DONE, B: DONE}, [], {}, "5.1-1", Outcome.PASS, Basis.OBSERVED, "checked and clean"),
    ("a finding → FAIL", {A: DONE, B: DONE}, [A], {}, "5.1-1", Outcome.FAIL, Basis.OBSERVED, f"{A} found it"),
    ("an INFO finding is an observation, not a failure", {A: DONE, B: DONE}, [(A, "observed", Severity.INFO)], {},
     "5.1-1", Outcome.PASS, Basis.OBSERVED, f"checked and clean: {A}, {B}; 1 informational observation(s) for review"),
    ("an INFO finding beside a real one: the real one decides", {A: DONE, B: DONE},
     [(A, "observed", Severity.INFO), B], {}, "5.1-1", Outcome.FAIL, Basis.OBSERVED, f"{B} found it"),
    ("a refuting check's finding → FAIL", {A: DONE}, [A], {}, "5.1-6", Outcome.FAIL, Basis.OBSERVED,
     f"{A} found it"),
    ("a refuting check clean never makes a PASS", {A: DONE}, [], {}, "5.1-6", Outcome.INCONCLUSIVE, Basis.NONE,
     f"{A} found nothing against it, which alone cannot establish it"),
    ("a refuting check clean, declared yes → PASS (declared)", {A: DONE}, [], {"5_1_6": "yes"}, "5.1-6",
     Outcome.PASS, Basis.DECLARED, "declared supported"),
    ("the evidencing check decides a PASS beside a clean refuting one", {A: DONE, B: DONE}, [], {}, "5.1-7",
     Outcome.PASS, Basis.OBSERVED, f"checked and clean: {B}"),
    ("a refuting finding fails it although the evidencing check is clean", {A: DONE, B: DONE}, [A], {}, "5.1-7",
     Outcome.FAIL, Basis.OBSERVED, f"{A} found it"),
    ("a finding beats a check that could not run", {A: DONE, B: NOTRUN}, [A], {}, "5.1-1", Outcome.FAIL,
     Basis.OBSERVED, "found it"),
    ("one check not run → INCONCLUSIVE, never PASS", {A: DONE, B: NOTRUN}, [], {}, "5.1-1", Outcome.INCONCLUSIVE,
     Basis.NONE, "needs a live device"),
    ("an ERROR run → INCONCLUSIVE", {A: ERR, B: DONE}, [], {}, "5.1-1", Outcome.INCONCLUSIVE, Basis.NONE, "boom"),
    ("no runnable check, declared yes → PASS (declared)", {A: DONE, B: NOTRUN}, [], {"5_1_1": "yes"}, "5.1-1",
     Outcome.PASS, Basis.DECLARED, "declared supported"),
    ("observation outranks the declaration", {A: DONE, B: DONE}, [A], {"5_1_1": "yes"}, "5.1-1", Outcome.FAIL,
     Basis.OBSERVED, "found it"),
    ("clean observation outranks a declared no", {A: DONE, B: DONE}, [], {"5_1_1": "no"}, "5.1-1", Outcome.PASS,
     Basis.OBSERVED, "checked and clean"),
    ("declared no → FAIL (declared)", {A: NOTRUN, B: NOTRUN}, [], {"5_1_1": "no"}, "5.1-1", Outcome.FAIL,
     Basis.DECLARED, "declared not supported"),
    ("declared N/A on an unconditional mandatory → INCONCLUSIVE", {A: NOTRUN, B: NOTRUN}, [],
     {"5_1_1": "not-applicable"}, "5.1-1", Outcome.INCONCLUSIVE, Basis.DECLARED, "no condition"),
    ("declared N/A on a conditional → NOT_APPLICABLE", {A: NOTRUN}, [], {"5_1_2": "not-applicable"}, "5.1-2",
     Outcome.NOT_APPLICABLE, Basis.DECLARED, "declared not applicable"),
    ("facts show the condition does not hold → NOT_APPLICABLE", {A: NA}, [], {}, "5.1-2", Outcome.NOT_APPLICABLE,
     Basis.OBSERVED, "condition does not hold"),
    ("all checks N/A on an unconditional requirement → INCONCLUSIVE", {A: NA}, [], {}, "5.1-5",
     Outcome.INCONCLUSIVE, Basis.OBSERVED, "unconditional"),
    ("no check exists → INCONCLUSIVE with what is needed", {}, [], {}, "5.1-3", Outcome.INCONCLUSIVE, Basis.NONE,
     "no automated check yet (1 planned)"),
    ("no check exists, declared yes → PASS (declared)", {}, [], {"5_1_3": "yes"}, "5.1-3", Outcome.PASS,
     Basis.DECLARED, "declared supported"),
    ("recommendation declared N/A → NOT_APPLICABLE", {}, [], {"5_1_4": "not-applicable"}, "5.1-4",
     Outcome.NOT_APPLICABLE, Basis.DECLARED, "declared not applicable"),
    ("a declaration-only finding FAILs on a declared basis", {A: DONE}, [(A, "declared")], {}, "5.1-5",
     Outcome.FAIL, Basis.DECLARED, "found it"),
]


@pytest.mark.parametrize(("runs", "found", "answers", "req", "outcome", "basis", "reason"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_direct_rules(catalogue: Catalogue, runs: dict[str, RunStatus], found: list[object],
                      answers: dict[str, str], req: str, outcome: Outcome, basis: Basis, reason: str) -> None:
    _CAT[:] = [catalogue]
    check_runs = [run(c, s, "boom" if s is ERR else ("needs a live device" if s is NOTRUN else "n/a"))
                  for c, s in runs.items()]
    findings = [finding(*f) if isinstance(f, tuple) else finding(f) for f in found]  # type: ignore[arg-type]
    declaration = decl(**answers) if answers else None
    verdict = {v.requirement_id: v for v in evaluate(catalogue, check_runs, findings, declaration)  # type: ignore[arg-type]
               if v.framework == "en303645"}[req]
    assert (verdict.outcome, verdict.basis) == (outcome, basis), verdict.reason
    assert reason in verdict.reason
    if outcome is Outcome.FAIL and basis is Basis.OBSERVED:
        assert verdict.findings == tuple(f.fingerprint for f in findings if f.severity is not Severity.INFO)


def _rolled(catalogue: Catalogue, runs: dict[str, RunStatus], found: list[str]) -> dict[str, object]:
    verdicts = evaluate(catalogue, [run(c, s, "why") for c, s in runs.items()], [finding(f) for f in found], None)
    return {v.requirement_id: v for v in verdicts if v.framework == "rollup"}


def test_rollup_fail_wins(catalogue: Catalogue) -> None:
    v = _rolled(catalogue, {A: DONE, B: DONE}, [A])["r-1"]
    assert v.outcome is Outcome.FAIL and v.basis is Basis.DERIVED  # type: ignore[attr-defined]
    assert "en303645:5.1-1" in v.reason and "en303645:5.1-2" in v.reason  # type: ignore[attr-defined]


def test_rollup_inconclusive_beats_pass(catalogue: Catalogue) -> None:
    v = _rolled(catalogue, {A: DONE, B: NOTRUN}, [])["r-1"]
    assert v.outcome is Outcome.INCONCLUSIVE  # type: ignore[attr-defined]
    assert v.reason == "could not be established for en303645:5.1-1"  # type: ignore[attr-defined]


def test_rollup_pass_and_not_applicable(catalogue: Catalogue) -> None:
    rolled = _rolled(catalogue, {A: NA, B: DONE}, [])
    # 5.1-1: A n/a + B clean → PASS; 5.1-2: n/a → ignored in r-1, and r-3 has nothing left
    assert rolled["r-1"].outcome is Outcome.PASS  # type: ignore[attr-defined]
    assert rolled["r-3"].outcome is Outcome.NOT_APPLICABLE  # type: ignore[attr-defined]


def test_rollup_of_recommendations_without_checks_is_inconclusive(catalogue: Catalogue) -> None:
    assert _rolled(catalogue, {A: DONE, B: DONE}, [])["r-2"].outcome is Outcome.INCONCLUSIVE  # type: ignore[attr-defined]


def test_summary_counts_mandatory_failures(catalogue: Catalogue) -> None:
    verdicts = evaluate(catalogue, [run(A, DONE), run(B, DONE)], [finding(A)], None)
    summary = {s.framework: s for s in summarise(catalogue, verdicts)}
    assert summary["en303645"].mandatory_failed == ("5.1-1", "5.1-2", "5.1-5", "5.1-6", "5.1-7")
    assert summary["rollup"].mandatory_failed == ("r-1", "r-3")
    assert summary["en303645"].counts.FAIL == 5


def test_real_catalogue_never_passes_without_evidence() -> None:
    """With nothing run at all, no requirement of any shipped framework may PASS."""
    catalogue = load_catalogue()
    verdicts = evaluate(catalogue, [], [], None)
    assert {v.outcome for v in verdicts} == {Outcome.INCONCLUSIVE}
    assert all(v.reason for v in verdicts)
