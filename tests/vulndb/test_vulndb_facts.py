"""The lookup an assessment makes: whatever goes wrong becomes the reason of an INCONCLUSIVE, never a crash."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import iotcop.vulndb.facts as facts
from iotcop.model import Component

NOW = dt.datetime(2025, 6, 15, tzinfo=dt.UTC)
BUSYBOX = Component(name="busybox", version="1.01", confidence="medium", source="version string",
                    cpe="cpe:2.3:a:busybox:busybox:1.01:*:*:*:*:*:*:*")


def test_a_missing_database_is_a_reason(tmp_path: Path) -> None:
    found = facts.collect_vulnerabilities((BUSYBOX,), NOW, tmp_path / "none.sqlite")
    assert found.matches == () and found.unavailable is not None and "no vulnerability database" in found.unavailable


def test_a_failing_lookup_is_a_reason(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    class Broken:
        @staticmethod
        def open(path: Path | None = None) -> None:
            raise RuntimeError("a parser bug")

    monkeypatch.setattr(facts, "VulnDB", Broken)
    found = facts.collect_vulnerabilities((BUSYBOX, Component(name="zlib", confidence="low", source="file name")),
                                          NOW, tmp_path / "x.sqlite")
    assert found.unavailable == "matching failed (RuntimeError: a parser bug)"
    assert found.unversioned == ("zlib",)
