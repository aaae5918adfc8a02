"""End of upstream support per release branch (``data/end-of-life.yaml``), as a typed table with sources."""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

DATA = Path(__file__).parent / "data" / "end-of-life.yaml"


class Branches(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    component: str
    source: str
    branches: dict[str, dt.date]
    older_is_eol: bool = False
    between_is_eol: bool = False


class Verdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    branch: str
    ended: dt.date | None  # None: past its end, date unknown (an older or superseded branch)
    why: str


class EndOfLife(BaseModel):
    """Facts-like knowledge: which component versions are past upstream support, and since when."""

    model_config = ConfigDict(frozen=True)

    entries: tuple[Branches, ...]

    def lookup(self, name: str, version: str) -> Verdict | None:
        """The branch of ``version`` and its end, when the table knows the component and the branch."""
        entry = next((e for e in self.entries if e.component == name), None)
        key = _branch_key(version)
        if entry is None or key is None:
            return None
        listed = sorted(entry.branches, key=lambda b: _branch_key(b) or ())
        for branch in listed:
            if key[: len(_branch_key(branch) or ())] == _branch_key(branch):
                return Verdict(branch=branch, ended=entry.branches[branch], why=entry.source)
        oldest, newest = _branch_key(listed[0]), _branch_key(listed[-1])
        branch = ".".join(map(str, key[:2]))
        if entry.older_is_eol and oldest is not None and key < oldest:
            return Verdict(branch=branch, ended=None, why=f"older than every branch of {entry.source}")
        if entry.between_is_eol and newest is not None and key < newest:
            return Verdict(branch=branch, ended=None, why=f"not a longterm branch, superseded ({entry.source})")
        return None


def _branch_key(version: str) -> tuple[int, ...] | None:
    """(1, 0, 1) for '1.0.1f', (4, 14, 180) for '4.14.180-rt'; None without leading numbers."""
    m = re.match(r"^(\d+(?:\.\d+)*)", version)
    return tuple(int(p) for p in m.group(1).split(".")) if m else None


@cache
def end_of_life() -> EndOfLife:
    raw = yaml.safe_load(DATA.read_text())
    return EndOfLife(entries=tuple(Branches.model_validate(e) for e in raw))
