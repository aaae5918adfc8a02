"""`iotcop doctor` and the set-up script describe the same machine."""

from __future__ import annotations

import tomllib
from pathlib import Path

from iotcop.doctor import TOOLS, diagnose

REPO = Path(__file__).resolve().parents[2]


def debian_packages() -> set[str]:
    lines = (REPO / "scripts" / "debian-packages.txt").read_text().splitlines()
    return {line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")}


def test_every_debian_tool_is_installed_by_the_setup_script() -> None:
    missing = {t.program: t.package for t in TOOLS if t.source == "debian" and t.package not in debian_packages()}
    assert missing == {}


def test_every_python_tool_comes_with_a_pinned_dependency() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    pinned = " ".join(pyproject["project"]["dependencies"]).lower()
    # ubi-reader and jefferson arrive as unblob's own dependencies, pinned through unblob
    assert "unblob==" in pinned
    assert {t.package for t in TOOLS if t.source == "python"} <= {"jefferson", "ubi-reader"}


def test_required_tools_are_found_on_this_machine() -> None:
    """The set-up command installed them: a required tool missing here is a set-up bug."""
    missing = [s.name for s in diagnose() if s.required and not s.found]
    assert missing == []


def test_every_separate_tool_is_pinned_in_the_tool_requirements() -> None:
    """Programs iotcop must not import (sslyze, AGPL) come from .venv-tools, pinned in scripts/tool-requirements.txt."""
    pinned = (REPO / "scripts" / "tool-requirements.txt").read_text()
    assert all(f"{t.package}==" in pinned for t in TOOLS if t.source == "tools")
    assert any(t.source == "tools" for t in TOOLS)
