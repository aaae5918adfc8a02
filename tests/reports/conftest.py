"""The report tests share their assessments (cases.py): the real ones are built once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

for _path in (Path(__file__).resolve().parent, Path(__file__).resolve().parents[1] / "fixtures"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from cases import real_assessments  # noqa: E402

from iotcop.model import Assessment  # noqa: E402


@pytest.fixture(scope="session")
def report_cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Assessment]:
    """The bundled example (with its declaration) and the vulnerable golden router, assessed for real."""
    return real_assessments(tmp_path_factory.mktemp("report-cases"))
