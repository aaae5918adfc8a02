"""The result types every part of iotcop speaks: findings, check runs, verdicts and the assessment.

Everything here is frozen and free of I/O. The assessment is a public interface (``iotcop schema``): field
names are stable, changes bump ``ASSESSMENT_SCHEMA_VERSION`` and are noted in CHANGELOG.md. The triage types
live in ``model_triage`` and the records of the inputs (extraction, components, services, connections) in
``model_inputs``; both are re-exported here.

Determinism: lists are sorted by the producer (see ``Assessment.build``), no random ids are used and the
only clock reading lives in ``Assessment.generated_at``; two runs on the same input give the same bytes
apart from that one field.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from iotcop.model_base import Frozen as Frozen
from iotcop.model_inputs import Component as Component
from iotcop.model_inputs import Connection as Connection
from iotcop.model_inputs import ExtractionStep as ExtractionStep
from iotcop.model_inputs import FileSystemInfo as FileSystemInfo
from iotcop.model_inputs import HardeningSummary as HardeningSummary
from iotcop.model_inputs import NetworkService as NetworkService
from iotcop.model_triage import Suppression as Suppression
from iotcop.model_triage import TriageRecord as TriageRecord
from iotcop.model_triage import TriageStatus as TriageStatus
from iotcop.model_triage import VexJustification as VexJustification
from iotcop.model_triage import VexResponse as VexResponse
from iotcop.model_triage import mask_versions as mask_versions
from iotcop.model_triage import stable_key as stable_key

ASSESSMENT_SCHEMA_VERSION: Literal["1.2"] = "1.2"

CheckId = Annotated[str, StringConstraints(pattern=r"^(fw|net|doc|decl)\.[a-z0-9-]+\.[a-z0-9-]+$")]


class EvidenceKind(StrEnum):
    """Where a fact comes from; each check needs exactly one kind of input."""

    FIRMWARE = "firmware"
    NETWORK = "network"
    DOCUMENT = "document"
    DECLARATION = "declaration"


#: What a user must supply so that checks of a kind can run (used in INCONCLUSIVE reasons).
NEEDS: dict[EvidenceKind, str] = {
    EvidenceKind.FIRMWARE: "needs the firmware image",
    EvidenceKind.NETWORK: "needs a live device",
    EvidenceKind.DOCUMENT: "needs the vendor's documents",
    EvidenceKind.DECLARATION: "needs the manufacturer's declaration",
}


class AssessmentTime(Frozen):
    """The moment an assessment judges against (certificate expiry, support periods): a fact like any
    other, so that checks stay pure and tests can fix the clock."""

    at: dt.datetime


class Severity(StrEnum):
    """How bad one finding is. Severity ranks findings; verdicts belong to requirements."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


class Location(Frozen):
    """Where a person can go to see the evidence for themselves."""

    kind: Literal["image", "network", "url", "document", "declaration"]
    path: str = Field(description="Path inside the image, host:port, URL, document name or declaration field.")
    line: int | None = Field(default=None, ge=1)
    offset: int | None = Field(default=None, ge=0)

    @classmethod
    def in_image(cls, path: str, line: int | None = None, offset: int | None = None) -> Location:
        return cls(kind="image", path=path, line=line, offset=offset)

    @classmethod
    def in_declaration(cls, field: str, line: int | None = None) -> Location:
        return cls(kind="declaration", path=field, line=line)

    def __str__(self) -> str:
        suffix = f":{self.line}" if self.line is not None else ""
        suffix += f"@0x{self.offset:x}" if self.offset is not None else ""
        return f"{self.path}{suffix}"


class Evidence(Frozen):
    """A short excerpt of what was observed, and how it was established."""

    excerpt: str = Field(max_length=2000, description="What was seen; secrets redacted except a working default.")
    technique: str = Field(description="How the fact was established, e.g. 'parsed /etc/shadow'.")

    @classmethod
    def of(cls, excerpt: str, technique: str) -> Evidence:
        text = excerpt if len(excerpt) <= 2000 else excerpt[:1997] + "..."
        return cls(excerpt=text, technique=technique)


class Finding(Frozen):
    """One thing a check observed that counts against a requirement."""

    check_id: CheckId
    severity: Severity
    title: str
    message: str
    location: Location
    evidence: Evidence
    remediation: str
    basis: Literal["observed", "declared"] = "observed"
    fingerprint: str = Field(
        default="",
        description="Exact id (check id + location + message): the same on every run of the same input.",
    )
    key: str = Field(
        default="",
        description="Per-check stable key: what the finding is about, free of values that change between product "
                    "versions (e.g. 'openssl|CVE-2014-0160'); set by checks that have one.",
    )
    stable_fingerprint: str = Field(
        default="",
        description="Carries over to the next product version: check id + key when there is one, else check id + "
                    "location + message with version-like tokens masked. Diff and triage match by it.",
    )
    suppression: Suppression | None = Field(default=None, description="The triage decision on it, if any.")

    def model_post_init(self, __context: object) -> None:
        if not self.fingerprint:
            key = f"{self.check_id}|{self.location.kind}|{self.location.path}|{self.message}"
            object.__setattr__(self, "fingerprint", hashlib.sha256(key.encode()).hexdigest()[:16])
        if not self.stable_fingerprint:
            subject = self.key or stable_key(self.check_id, self.message)
            text = (f"{self.check_id}|key|{subject}" if subject else
                    f"{self.check_id}|{self.location.kind}|{mask_versions(self.location.path)}|"
                    f"{mask_versions(self.message)}")
            object.__setattr__(self, "stable_fingerprint", hashlib.sha256(text.encode()).hexdigest()[:16])

    def sort_key(self) -> tuple[int, str, str, int, str]:
        return (-self.severity.rank, self.check_id, self.location.path, self.location.line or 0, self.message)


class RunStatus(StrEnum):
    """What happened when a check was run: its outcome, not a judgement of the product."""

    COMPLETED = "completed"  # ran to the end; its findings (maybe none) are the answer
    NOT_APPLICABLE = "not_applicable"  # the facts show the thing it checks does not exist
    INCONCLUSIVE = "inconclusive"  # could not assess (missing facts, limits tripped) — reason says why
    NOT_RUN = "not_run"  # its kind of evidence was not supplied
    ERROR = "error"  # a bug or an unexpected input: reported, never hidden


class CheckRun(Frozen):
    """The outcome of one check on one assessment."""

    check_id: CheckId
    status: RunStatus
    reason: str = ""
    finding_count: int = 0


class Outcome(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"
    NOT_APPLICABLE = "NOT_APPLICABLE"


class Basis(StrEnum):
    """Where a verdict's weight comes from. Observed outranks declared."""

    OBSERVED = "observed"  # checks iotcop ran on the product
    DECLARED = "declared"  # only the manufacturer's declaration
    DERIVED = "derived"  # rolled up from other requirements' verdicts
    NONE = "none"  # nothing could establish it


class Verdict(Frozen):
    """The judgement on one requirement of one framework, with the reason and the evidence behind it."""

    framework: str
    requirement_id: str
    outcome: Outcome
    basis: Basis
    reason: str
    mandatory: bool = Field(
        description="Whether the requirement is mandatory (conditional ones whose condition holds)."
    )
    checks: tuple[str, ...] = Field(default=(), description="Check ids whose runs decided the verdict.")
    findings: tuple[str, ...] = Field(default=(), description="Fingerprints of the findings that failed it.")
    derived_from: tuple[str, ...] = Field(default=(), description="'framework:id' of rolled-up requirements.")
    suppressed: tuple[str, ...] = Field(
        default=(), description="Fingerprints of findings triage set aside (false positive, not affected).")


class Target(Frozen):
    """What was assessed."""

    kind: Literal["firmware", "device", "product"]
    name: str
    sha256: str | None = None
    size: int | None = None
    product: str | None = None
    version: str | None = None


class ToolInfo(Frozen):
    name: str = "iotcop"
    version: str


class CatalogueRef(Frozen):
    framework: str
    title: str
    version: str
    sha256: str = Field(description="Digest of the framework data file the verdicts were computed with.")


class Counts(Frozen):
    PASS: int = 0
    FAIL: int = 0
    INCONCLUSIVE: int = 0
    NOT_APPLICABLE: int = 0


class FrameworkSummary(Frozen):
    framework: str
    counts: Counts
    mandatory_failed: tuple[str, ...] = ()


class Assessment(Frozen):
    """The single result object: every reporter is a pure function of it."""

    schema_version: Literal["1.0", "1.1", "1.2"] = Field(
        default=ASSESSMENT_SCHEMA_VERSION,
        description="1.1 added hardening and components, 1.2 triage and the live device's services and "
                    "connections; 1.0 and 1.1 files still load.")
    tool: ToolInfo
    target: Target
    generated_at: str = Field(description="The one time field (UTC, ISO 8601); everything else is deterministic.")
    inputs: tuple[EvidenceKind, ...] = Field(description="Kinds of evidence supplied to this assessment.")
    catalogues: tuple[CatalogueRef, ...]
    extraction: tuple[ExtractionStep, ...] = ()
    filesystems: tuple[FileSystemInfo, ...] = ()
    hardening: HardeningSummary | None = Field(default=None, description="None when no binary was analysed.")
    components: tuple[Component, ...] = Field(default=(), description="Software components identified, sorted.")
    notes: tuple[str, ...] = Field(default=(), description="Problems met while gathering facts.")
    services: tuple[NetworkService, ...] = Field(default=(), description="Services found on the live device.")
    connections: tuple[Connection, ...] = Field(
        default=(), description="Audit log: every connection made to the live device, in order.")
    check_runs: tuple[CheckRun, ...]
    findings: tuple[Finding, ...]
    verdicts: tuple[Verdict, ...]
    summary: tuple[FrameworkSummary, ...]
    triage: TriageRecord | None = Field(default=None, description="The triage file applied, if any.")

    @property
    def mandatory_failed(self) -> bool:
        return any(s.mandatory_failed for s in self.summary)

    def verdict(self, framework: str, requirement_id: str) -> Verdict:
        for v in self.verdicts:
            if v.framework == framework and v.requirement_id == requirement_id:
                return v
        raise KeyError(f"{framework}:{requirement_id}")

    def findings_of(self, check_id: str) -> list[Finding]:
        return [f for f in self.findings if f.check_id == check_id]
