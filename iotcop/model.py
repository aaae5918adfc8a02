"""The result types every part of iotcop speaks: findings, check runs, verdicts and the assessment.

Everything here is frozen and free of I/O. The assessment is a public interface (``iotcop schema``):
field names are stable, changes bump ``ASSESSMENT_SCHEMA_VERSION`` and are noted in CHANGELOG.md.

Determinism: lists are sorted by the producer (see ``Assessment.build``), no random ids are used and the
only clock reading lives in ``Assessment.generated_at``; two runs on the same input give the same bytes
apart from that one field.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

ASSESSMENT_SCHEMA_VERSION: Literal["1.2"] = "1.2"

CheckId = Annotated[str, StringConstraints(pattern=r"^(fw|net|doc|decl)\.[a-z0-9-]+\.[a-z0-9-]+$")]


class Frozen(BaseModel):
    """Base of every model: immutable, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


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


class TriageStatus(StrEnum):
    """A reviewer's decision on a finding (``iotcop.triage.yaml``)."""

    FALSE_POSITIVE = "false_positive"  # the finding is wrong: it does not fail a requirement
    NOT_AFFECTED = "not_affected"  # true, but the product is not affected (VEX): it does not fail a requirement
    ACCEPTED_RISK = "accepted_risk"  # true and accepted: the requirement still fails, shown as accepted

    @property
    def clears(self) -> bool:
        """Whether an active decision of this status keeps the finding from failing a requirement."""
        return self is not TriageStatus.ACCEPTED_RISK


class VexJustification(StrEnum):
    """Why a product is not affected: CycloneDX 1.6 ``analysis.justification`` codes."""

    CODE_NOT_PRESENT = "code_not_present"
    CODE_NOT_REACHABLE = "code_not_reachable"
    REQUIRES_CONFIGURATION = "requires_configuration"
    REQUIRES_DEPENDENCY = "requires_dependency"
    REQUIRES_ENVIRONMENT = "requires_environment"
    PROTECTED_BY_COMPILER = "protected_by_compiler"
    PROTECTED_AT_RUNTIME = "protected_at_runtime"
    PROTECTED_AT_PERIMETER = "protected_at_perimeter"
    PROTECTED_BY_MITIGATING_CONTROL = "protected_by_mitigating_control"


class VexResponse(StrEnum):
    """What the manufacturer does about a vulnerability: CycloneDX 1.6 ``analysis.response`` codes."""

    CAN_NOT_FIX = "can_not_fix"
    WILL_NOT_FIX = "will_not_fix"
    UPDATE = "update"
    ROLLBACK = "rollback"
    WORKAROUND_AVAILABLE = "workaround_available"


class Suppression(Frozen):
    """The triage decision attached to a finding. The finding stays in the assessment; an expired decision is
    kept, marked ``expired``, and no longer applies."""

    status: TriageStatus
    justification: str = Field(min_length=1, description="Why the reviewer decided so (required).")
    vex_justification: VexJustification | None = Field(default=None, description="For not_affected.")
    response: tuple[VexResponse, ...] = ()
    reviewer: str | None = None
    date: dt.date | None = Field(default=None, description="When the decision was made.")
    expires: dt.date | None = Field(default=None, description="The first day the decision no longer applies.")
    source: str = Field(description="Where the decision is written: 'iotcop.triage.yaml:12'.")
    expired: bool = Field(default=False, description="Expired when triage was applied: it no longer applies.")

    @property
    def clears(self) -> bool:
        """Whether it keeps the finding from failing a requirement (active, and not an accepted risk)."""
        return not self.expired and self.status.clears


# Version-like tokens (1.0.1f, 2012.55, 4.14.180-r4, libcrypto.so.1.0.0's 1.0.0): they change between product
# versions, so the stable fingerprint masks them. CVE ids, dates and plain numbers (ports, uids) are kept.
_VERSIONISH = re.compile(r"(?<![\d])\d+(?:\.\d+)+[0-9A-Za-z]*(?:[-+~][0-9A-Za-z.+~]*[0-9][0-9A-Za-z.+~]*)?")
# Checks whose message names the stable subject first: the key is read from the message of findings made
# before the check set ``key`` itself (assessments of schema 1.0/1.1), so old and new findings still match.
_MESSAGE_KEYS: dict[str, re.Pattern[str]] = {
    "fw.components.known-vulnerability": re.compile(r"^(?P<component>\S+) \S+ is affected by (?P<id>[^\s(]+)"),
    "fw.components.end-of-life": re.compile(r"^(?P<component>\S+) \S+ (?:is on branch|\(branch)"),
    # one finding per image, listing the binaries: the same problem while the list changes
    **dict.fromkeys(("fw.binaries.no-nx", "fw.binaries.no-pie", "fw.binaries.no-relro", "fw.binaries.no-canary"),
                    re.compile(r"^\d+ of \d+ (?P<kind>programs and libraries|executables) ")),
}


def stable_key(check_id: str, message: str) -> str:
    """The per-check stable key read from a message ('' when the check has none): 'openssl|CVE-2014-0160'."""
    pattern = _MESSAGE_KEYS.get(check_id)
    match = pattern.match(message) if pattern else None
    return "|".join(match.groups()) if match else ""


def mask_versions(text: str) -> str:
    return _VERSIONISH.sub("#", text)


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


class ExtractionStep(Frozen):
    """One layer of the firmware as found and unpacked (the extraction log)."""

    format: str
    offset: int = Field(default=0, description="Offset in the file of the layer above (0 for the image).")
    size: int = 0
    depth: int = Field(default=0, description="0 for the image itself, 1 for what it contains, ...")
    container: str = Field(default="", description="The unpacked file this layer was found in ('' for the image).")
    tool: str
    outcome: Literal["extracted", "failed", "skipped", "limit"]
    entropy: float | None = Field(default=None, description="Bits per byte, for unidentified regions.")
    message: str = ""


class FileSystemInfo(Frozen):
    """One file system found in the image, and what it is."""

    label: str = Field(description="Where it came from: format and offset, e.g. 'squashfs_v4_le@0x120200'.")
    root: bool = Field(description="Whether this is the Linux root file system the firmware checks read.")
    entries: int
    os: str | None = Field(default=None, description="OpenWrt, Buildroot, Yocto/Poky, Debian-based, Android, ...")
    os_version: str | None = None
    arch: str | None = Field(default=None, description="CPU architecture from the ELF headers (mips, arm, ...).")
    bits: int | None = None
    endianness: Literal["little", "big"] | None = None


class HardeningSummary(Frozen):
    """Exploit mitigations over the image's ELF programs and shared libraries (kernel modules and other
    relocatable objects left out), each counted as checksec decides it."""

    binaries: int = Field(description="ELF programs and shared libraries analysed.")
    executables: int = Field(description="Of them, executables (the rest are shared libraries).")
    unparsed: int = Field(description="ELF files that did not parse (not counted above).")
    nx: int = Field(description="With a non-executable stack.")
    pie: int = Field(description="Executables that are position-independent.")
    relro_full: int
    relro_partial: int
    canary: int = Field(description="Referencing the stack protector (__stack_chk_fail and friends).")
    fortify: int = Field(description="Calling FORTIFY_SOURCE's checked functions (__*_chk).")
    rpath: int = Field(description="With an RPATH or RUNPATH.")
    stripped: int = Field(description="Without a .symtab section.")


class Component(Frozen):
    """A software component the product ships, identified from the image, with how sure iotcop is."""

    name: str = Field(description="Canonical lower-case name: 'openssl', 'busybox', 'linux', ...")
    version: str | None = None
    confidence: Literal["high", "medium", "low"] = Field(
        description="high: a package database or an exact version banner; medium: a version string matched "
                    "by a signature; low: a name without a version (a file name).")
    source: str = Field(description="How it was identified: 'opkg status', 'dpkg status', 'version string', ...")
    locations: tuple[str, ...] = Field(default=(), description="Paths inside the image where the evidence is.")
    evidence: str = Field(default="", max_length=500, description="The string or line that identified it.")
    purl: str | None = Field(default=None, description="Package URL (pkg:generic/openssl@1.0.1f, ...).")
    cpe: str | None = Field(default=None, description="CPE 2.3 name for vulnerability matching.")


class NetworkService(Frozen):
    """A service found listening on the live device, and what it is."""

    host: str
    port: int = Field(ge=0, le=65535)
    transport: Literal["tcp", "udp"]
    name: str = Field(description="What speaks there: 'ssh', 'telnet', 'http', 'https', 'mqtt', 'snmp', ... or "
                                  "'unknown'.")
    product: str | None = Field(default=None, description="Software named by its banner: 'dropbear', 'lighttpd'.")
    version: str | None = None
    tls: bool = False
    banner: str = Field(default="", max_length=500, description="The first bytes it sent (printable, cut).")
    method: str = Field(default="", description="How it was identified: 'banner', 'TLS handshake', 'nmap -sV'.")


class Connection(Frozen):
    """One connection (or UDP exchange) iotcop made to the device: the audit log of a live assessment.
    Times make a device assessment non-deterministic by nature; they are relative to its start."""

    host: str
    port: int = Field(ge=0, le=65535)
    transport: Literal["tcp", "udp"]
    probe: str = Field(description="Which part of iotcop made it: 'discovery', 'telnet', 'credentials', ...")
    at: float = Field(ge=0, description="Seconds after the assessment started.")
    seconds: float = Field(ge=0)
    outcome: str = Field(description="'ok', 'refused', 'timeout', 'reset', or the error.")


class Counts(Frozen):
    PASS: int = 0
    FAIL: int = 0
    INCONCLUSIVE: int = 0
    NOT_APPLICABLE: int = 0


class FrameworkSummary(Frozen):
    framework: str
    counts: Counts
    mandatory_failed: tuple[str, ...] = ()


class TriageRecord(Frozen):
    """That a triage file was applied, and what of it did not apply."""

    source: str = Field(description="The triage file's name.")
    sha256: str
    as_of: dt.date = Field(description="The day expiry was judged against.")
    decisions: int = Field(description="Decisions in the file.")
    applied: int = Field(description="Findings an active decision applies to.")
    expired: tuple[str, ...] = Field(default=(), description="Decisions past their expiry ('file:line: ...').")
    unmatched: tuple[str, ...] = Field(default=(), description="Decisions that match no finding ('file:line: ...').")


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
