"""Triage in the assessment: reviewers' decisions on findings, and the stable fingerprints that carry them from one
product version to the next (part of the public interface; re-exported by ``iotcop.model``)."""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum

from pydantic import Field

from iotcop.model_base import Frozen


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


class TriageRecord(Frozen):
    """That a triage file was applied, and what of it did not apply."""

    source: str = Field(description="The triage file's name.")
    sha256: str
    as_of: dt.date = Field(description="The day expiry was judged against.")
    decisions: int = Field(description="Decisions in the file.")
    applied: int = Field(description="Findings an active decision applies to.")
    expired: tuple[str, ...] = Field(default=(), description="Decisions past their expiry ('file:line: ...').")
    unmatched: tuple[str, ...] = Field(default=(), description="Decisions that match no finding ('file:line: ...').")
