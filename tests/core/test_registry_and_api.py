"""The check registry's rules, the runner's outcome mapping and the exact public API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import iotcop
from iotcop.checks.registry import REGISTRY, Registry, check, spec_of
from iotcop.errors import CannotAssess, NotApplicable
from iotcop.model import Evidence, EvidenceKind, Finding, Location, RunStatus, Severity
from iotcop.runner import Unavailable, run_checks


def test_public_api_is_exact() -> None:
    assert sorted(iotcop.__all__) == sorted([
        "Assessment", "CannotAssess", "Catalogue", "CatalogueError", "CheckRun", "Declaration",
        "DeclarationError", "EvidenceKind", "Finding", "ImageError", "InputError", "IotcopError", "NotApplicable",
        "Outcome", "Severity", "UsageError", "Verdict", "__version__", "assess_firmware", "assessment_schema",
        "load_catalogue", "load_declaration", "render_json",
    ])
    for name in iotcop.__all__:
        assert hasattr(iotcop, name)


# families that share one module: the user guidance is read once for deletion, set-up and passwords
GROUPED = {"doc.support-period": "support", "doc.deletion": "guidance", "doc.setup": "guidance",
           "doc.credentials": "guidance", "net.auth": "credentials", "net.resilience": "input"}


def test_registered_checks_follow_the_conventions() -> None:
    assert len(REGISTRY) == len(set(REGISTRY.ids()))
    for spec in REGISTRY:
        assert spec.func.__name__ == spec.id.rsplit(".", 1)[1].replace("-", "_")
        assert spec.rationale and spec.remediation and spec.title
        family = spec.id.split(".")[1]
        module = GROUPED.get(spec.id.rsplit(".", 1)[0], family.replace("-", "_"))
        assert spec.func.__module__ == f"iotcop.checks.{spec.id.split('.')[0]}.{module}", \
            "fw.credentials.* lives in fw/credentials.py"


def test_decorator_refuses_bad_declarations() -> None:
    with pytest.raises(ValueError, match="starts with"):
        @check(id="net.x.y", title="t", kind=EvidenceKind.FIRMWARE, severity=Severity.LOW, remediation="r")
        def y() -> Iterator[Finding]:
            """doc"""
            yield from ()
    with pytest.raises(ValueError, match="named after"):
        @check(id="fw.x.y", title="t", kind=EvidenceKind.FIRMWARE, severity=Severity.LOW, remediation="r")
        def z() -> Iterator[Finding]:
            """doc"""
            yield from ()
    with pytest.raises(ValueError, match="docstring"):
        @check(id="fw.x.w", title="t", kind=EvidenceKind.FIRMWARE, severity=Severity.LOW, remediation="r")
        def w() -> Iterator[Finding]:
            yield from ()


class Facts:
    def __init__(self, mode: str) -> None:
        self.mode = mode


@check(id="fw.test.outcomes", title="t", kind=EvidenceKind.FIRMWARE, severity=Severity.LOW, remediation="r")
def outcomes(facts: Facts) -> Iterator[Finding]:
    """Behaves as its facts tell it to."""
    if facts.mode == "cannot":
        raise CannotAssess("no such file")
    if facts.mode == "na":
        raise NotApplicable("nothing to check")
    if facts.mode == "bug":
        raise KeyError("oops")
    if facts.mode == "find":
        yield spec_of(outcomes).finding(message="m", location=Location.in_image("/x"),
                                        evidence=Evidence.of("e", "t"))


@pytest.mark.parametrize(("mode", "status", "reason", "count"), [
    ("clean", RunStatus.COMPLETED, "", 0),
    ("find", RunStatus.COMPLETED, "", 1),
    ("cannot", RunStatus.INCONCLUSIVE, "no such file", 0),
    ("na", RunStatus.NOT_APPLICABLE, "nothing to check", 0),
    ("bug", RunStatus.ERROR, "KeyError: 'oops'", 0),
])
def test_runner_maps_every_outcome(mode: str, status: RunStatus, reason: str, count: int) -> None:
    result = run_checks(Registry([outcomes]), {Facts: Facts(mode)}, {})
    (run,) = result.runs
    assert (run.status, run.reason, run.finding_count, len(result.findings)) == (status, reason, count, count)


def test_runner_missing_facts_and_unavailable_kinds() -> None:
    (run,) = run_checks(Registry([outcomes]), {}, {}).runs
    assert run.status is RunStatus.INCONCLUSIVE and "Facts facts were not collected" in run.reason
    (run,) = run_checks(Registry([outcomes]), {Facts: Facts("find")},
                        {EvidenceKind.FIRMWARE: Unavailable(RunStatus.NOT_RUN, "needs the firmware image")}).runs
    assert (run.status, run.reason) == (RunStatus.NOT_RUN, "needs the firmware image")
