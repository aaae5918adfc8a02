"""fw.components.end-of-life: release branches looked up in the sourced end-of-life table, judged at the
assessment's time (an injected clock, so the test does not age)."""

from __future__ import annotations

import datetime as dt

import pytest

from iotcop.checks.fw.components import end_of_life as check_eol
from iotcop.checks.registry import spec_of
from iotcop.firmware.components import Components
from iotcop.knowledge.eol import EndOfLife, end_of_life
from iotcop.model import AssessmentTime, Component, RunStatus, Severity
from iotcop.runner import run_checks


def component(name: str, version: str | None, path: str = "/usr/lib/x.so") -> Component:
    return Component(name=name, version=version, confidence="medium", source="version string",
                     locations=(path,), evidence=f"{name} {version}")


def run(at: dt.date, *items: Component) -> tuple[RunStatus, list[tuple[str, Severity]]]:
    bag = {Components: Components(tuple(items)), EndOfLife: end_of_life(),
           AssessmentTime: AssessmentTime(at=dt.datetime.combine(at, dt.time(), dt.UTC))}
    result = run_checks([spec_of(check_eol)], bag, {})
    return result.runs[0].status, [(f.message.split(" ")[0] + " " + f.message.split(" ")[1], f.severity)
                                   for f in result.findings]


@pytest.mark.parametrize(("name", "version", "branch", "ended"), [
    ("openssl", "1.0.1f", "1.0.1", dt.date(2016, 12, 31)),
    ("openssl", "1.0.2u", "1.0.2", dt.date(2019, 12, 31)),
    ("openssl", "3.0.11", "3.0", dt.date(2026, 9, 7)),
    ("openssl", "0.9.7m", "0.9", None),  # older than every listed branch
    ("linux", "4.14.180", "4.14", dt.date(2024, 1, 1)),
    ("linux", "2.6.31", "2.6", None),
    ("linux", "5.3.7", "5.3", None),  # not longterm, superseded
])
def test_branches(name: str, version: str, branch: str, ended: dt.date | None) -> None:
    verdict = end_of_life().lookup(name, version)
    assert verdict is not None and (verdict.branch, verdict.ended) == (branch, ended)


@pytest.mark.parametrize(("name", "version"), [("linux", "6.9.1"), ("openssl", "3.5.0"), ("busybox", "1.36.1"),
                                                ("openssl", "unknown")])
def test_unknown_is_not_guessed(name: str, version: str) -> None:
    assert end_of_life().lookup(name, version) is None


def test_the_check() -> None:
    day = dt.date(2026, 1, 15)
    status, found = run(day, component("openssl", "1.0.1f"), component("linux", "2.6.31", "/lib/modules/x.ko"),
                        component("openssl", "3.0.11"), component("linux", "6.1.50"), component("busybox", "1.01"),
                        component("zlib", None))
    assert status is RunStatus.COMPLETED
    assert sorted(found) == [("linux 2.6.31", Severity.MEDIUM), ("openssl 1.0.1f", Severity.MEDIUM),
                             ("openssl 3.0.11", Severity.INFO)]  # 3.0 ends within a year: noted
    assert run(dt.date(2025, 1, 1), component("openssl", "3.0.11"))[1] == []  # more than a year left
    assert run(dt.date(2026, 10, 1), component("openssl", "3.0.11"))[1] == [("openssl 3.0.11", Severity.MEDIUM)]


def test_no_versioned_component_is_not_applicable() -> None:
    assert run(dt.date(2026, 1, 1), component("busybox", None))[0] is RunStatus.NOT_APPLICABLE
