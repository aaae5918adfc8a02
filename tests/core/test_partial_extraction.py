"""A clean firmware check on a file system cut short by a limit is not evidence of absence."""

from __future__ import annotations

from pathlib import Path

from iotcop.api import _partial_extraction
from iotcop.firmware.facts import FirmwareFacts, ImageIdentity
from iotcop.firmware.filesystem import FileSystem
from iotcop.firmware.tree import Extraction
from iotcop.model import CheckRun, Evidence, ExtractionStep, Finding, Location, RunStatus, Severity
from iotcop.runner import RunResult


def facts(tmp_path: Path, outcome: str) -> FirmwareFacts:
    for d in ("etc", "bin"):
        (tmp_path / d).mkdir()
    fs = FileSystem.scan(tmp_path)
    step = ExtractionStep(format="nested layers", tool="unblob", outcome=outcome,  # type: ignore[arg-type]
                          message="extracted bytes passed the limit of 100")
    return FirmwareFacts(ImageIdentity("fw.bin", "0" * 64, 1), Extraction([fs], [step]), fs)


RUNS = (
    CheckRun(check_id="fw.credentials.empty-password", status=RunStatus.COMPLETED),
    CheckRun(check_id="fw.credentials.weak-hash", status=RunStatus.COMPLETED, finding_count=1),
    CheckRun(check_id="decl.ics.missing-justification", status=RunStatus.COMPLETED),
)
FINDING = Finding(check_id="fw.credentials.weak-hash", severity=Severity.MEDIUM, title="t", message="m",
                  location=Location.in_image("/etc/shadow"), evidence=Evidence.of("x", "t"), remediation="r")


def test_clean_firmware_runs_become_inconclusive_after_a_limit(tmp_path: Path) -> None:
    out = _partial_extraction(RunResult(RUNS, (FINDING,)), facts(tmp_path, "limit"))
    by_id = {r.check_id: r for r in out.runs}
    empty = by_id["fw.credentials.empty-password"]
    assert empty.status is RunStatus.INCONCLUSIVE
    assert "extraction stopped at a limit" in empty.reason and "passed the limit of 100" in empty.reason
    assert by_id["fw.credentials.weak-hash"] == RUNS[1]  # what was found stays found
    assert by_id["decl.ics.missing-justification"] == RUNS[2]  # not about the file system
    assert out.findings == (FINDING,)


def test_without_a_limit_nothing_changes(tmp_path: Path) -> None:
    result = RunResult(RUNS, (FINDING,))
    assert _partial_extraction(result, facts(tmp_path, "extracted")) is result
