"""One generic schema for every framework's data file (``catalogue/data/*.yaml``).

A framework file holds the framework's identity, its groups (clauses or guidelines) and its requirements.
A requirement is judged either directly, by the checks that evidence it (``evidenced_by``), or by rolling
up requirements of another framework (``derived_from``, e.g. a CoP guideline from EN 303 645 provisions,
a PSTI requirement from its deemed-compliance provisions). Checks that are wanted but not built yet are
listed under ``planned`` so that coverage stays honest. A check whose finding shows the requirement is not
met, but whose clean result cannot show that it is (no exposed UPnP in the image says little about every
unused interface), is listed under ``refuted_by``: it can FAIL the requirement, never PASS it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from iotcop.model import EvidenceKind, Frozen

Ref = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+:[A-Za-z0-9.\-]+$")]


class Status(StrEnum):
    MANDATORY = "mandatory"
    RECOMMENDED = "recommended"
    MANDATORY_CONDITIONAL = "mandatory-conditional"
    RECOMMENDED_CONDITIONAL = "recommended-conditional"

    @property
    def mandatory(self) -> bool:
        return self in (Status.MANDATORY, Status.MANDATORY_CONDITIONAL)

    @property
    def conditional(self) -> bool:
        return self in (Status.MANDATORY_CONDITIONAL, Status.RECOMMENDED_CONDITIONAL)

    @property
    def short(self) -> str:
        return {"mandatory": "M", "recommended": "R", "mandatory-conditional": "M C",
                "recommended-conditional": "R C"}[self.value]


class Group(Frozen):
    id: str
    title: str


class Requirement(Frozen):
    id: str
    group: str
    title: str = Field(description="In our own words, not the standard's text.")
    status: Status
    condition: str | None = Field(default=None, description="When a conditional requirement applies.")
    evidence_kinds: tuple[EvidenceKind, ...] = Field(
        default=(), description="Kinds of evidence that can establish it, strongest first."
    )
    evidenced_by: tuple[str, ...] = Field(default=(), description="Built check ids that evidence it.")
    refuted_by: tuple[str, ...] = Field(
        default=(), description="Built check ids whose findings fail it but whose clean result cannot establish it."
    )
    planned: tuple[str, ...] = Field(default=(), description="Check ids wanted but not built yet.")
    derived_from: tuple[Ref, ...] = Field(default=(), description="'framework:requirement' rolled up here.")
    related: tuple[Ref, ...] = Field(
        default=(), description="Informational cross-references ('framework:id'), not used to compute verdicts."
    )
    declarable: bool = Field(default=True, description="A manufacturer's declaration may settle it.")
    notes: str | None = None

    @model_validator(mode="after")
    def _condition_matches_status(self) -> Requirement:
        if self.status.conditional and not self.condition:
            raise ValueError(f"{self.id}: a conditional requirement needs its condition")
        if not self.status.conditional and self.condition:
            raise ValueError(f"{self.id}: only conditional requirements have a condition")
        for a, b in (("evidenced_by", "planned"), ("refuted_by", "planned"), ("evidenced_by", "refuted_by")):
            overlap = set(getattr(self, a)) & set(getattr(self, b))
            if overlap:
                raise ValueError(f"{self.id}: {sorted(overlap)} both in {a} and {b}")
        return self

    @property
    def mandatory(self) -> bool:
        return self.status.mandatory

    @property
    def coverage(self) -> str:
        """'automated', 'declaration' (only a declaration can settle it now) or 'none'."""
        if self.evidenced_by or self.refuted_by or self.derived_from:
            return "automated"
        return "declaration" if self.declarable else "none"


class FrameworkInfo(Frozen):
    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+$")]
    title: str
    version: str
    published: str
    kind: str = Field(description="'guidance', 'standard' or 'law'.")
    source: str = Field(description="Where the wording was checked; our wording is a paraphrase.")


class FrameworkData(Frozen):
    """The contents of one data file."""

    framework: FrameworkInfo
    groups: tuple[Group, ...]
    requirements: tuple[Requirement, ...]
