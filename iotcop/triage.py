"""Triage: a reviewer's decisions on findings (``iotcop.triage.yaml``), applied to an assessment.

A decision selects findings in one of three ways (the most specific that matches wins; ties go to the one
written first, and an active decision beats an expired one)::

    schema: iotcop-triage/1
    decisions:
      - fingerprint: 3f1c0a9e2b7d4c55      # a finding's stable_fingerprint (or its exact fingerprint)
        status: false_positive
        justification: The 'password' is a placeholder in a comment of the sample configuration.
      - vulnerability: CVE-2014-0160        # a vulnerability, in one component or (no component) in any
        component: openssl
        status: not_affected
        vex_justification: code_not_reachable
        justification: Built with OPENSSL_NO_HEARTBEATS.
        reviewer: A. Reviewer
        date: 2025-06-01
        expires: 2026-06-01              # the first day the decision no longer applies
      - check: fw.services.telnet-enabled  # every finding of a check, optionally where its path matches a glob
        location: /etc/init.d/*
        status: accepted_risk
        justification: Factory test image only.

Decisions carry over to the next product version: the stable fingerprint leaves version numbers out
(``Finding.stable_fingerprint``), and vulnerability decisions name the component and the CVE, not a version.
Applying triage never deletes a finding: each matched finding gets a ``suppression``; verdicts are evaluated
again (``iotcop.evaluation`` says how each status counts). Decisions that match nothing, and expired ones,
are listed in ``Assessment.triage``.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from iotcop.catalogue import Catalogue
from iotcop.declaration import Declaration, _compose, _problem
from iotcop.errors import DeclarationError, InputError, Problem, UsageError
from iotcop.model import (
    ASSESSMENT_SCHEMA_VERSION,
    Assessment,
    EvidenceKind,
    Finding,
    Suppression,
    TriageRecord,
    TriageStatus,
    VexJustification,
    VexResponse,
    stable_key,
)

__all__ = ["Decision", "Triage", "TriageError", "apply_triage", "load_triage", "parse_triage", "vulnerability_of"]

TRIAGE_SCHEMA = "iotcop-triage/1"
MAX_BYTES = 1024 * 1024
VULNERABILITY_CHECK = "fw.components.known-vulnerability"
_UNKNOWN_FIELD = "unknown field (one of: fingerprint, check, location, vulnerability, component, status, " \
                 "vex_justification, response, justification, reviewer, date, expires)"


class TriageError(InputError):
    """A triage file is not valid; ``problems`` says where and why (lines as in the file)."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source}: invalid triage file ({len(problems)} problem(s)):\n{lines}")


class Decision(BaseModel):
    """One reviewer decision and what it selects."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fingerprint: str | None = Field(default=None, pattern=r"^[0-9a-f]{16}$")
    check: str | None = Field(default=None, pattern=r"^(fw|net|doc|decl)\.[a-z0-9-]+\.[a-z0-9-]+$")
    location: str | None = Field(default=None, min_length=1, description="A glob on the finding's location path.")
    vulnerability: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9]*-[A-Za-z0-9._:-]+$")
    component: str | None = Field(default=None, min_length=1)
    status: TriageStatus
    vex_justification: VexJustification | None = None
    response: tuple[VexResponse, ...] = ()
    justification: str
    reviewer: str | None = None
    date: dt.date | None = None
    expires: dt.date | None = None
    line: int | None = Field(default=None, exclude=True)

    @field_validator("fingerprint", mode="before")
    @classmethod
    def _quoted(cls, value: object) -> object:
        if value is not None and not isinstance(value, str):  # 16 hex digits may read as a number in YAML
            raise ValueError("write the fingerprint in quotes: YAML read it as a number")
        return value

    @field_validator("justification")
    @classmethod
    def _justified(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("a justification is required: say why")
        return text.strip()

    @model_validator(mode="after")
    def _coherent(self) -> Decision:
        selectors = [name for name in ("fingerprint", "check", "vulnerability") if getattr(self, name)]
        if len(selectors) != 1:
            raise ValueError("a decision selects by exactly one of: fingerprint, check, vulnerability")
        if self.location is not None and not self.check:
            raise ValueError("'location' narrows a 'check' decision only")
        if self.component is not None and not self.vulnerability:
            raise ValueError("'component' narrows a 'vulnerability' decision only")
        if (self.status is TriageStatus.NOT_AFFECTED) != (self.vex_justification is not None):
            raise ValueError("'vex_justification' is required for status not_affected, and only for it")
        if self.date and self.expires and self.expires <= self.date:
            raise ValueError("'expires' must come after 'date'")
        return self

    def rank(self) -> int:
        """Specificity: lower wins."""
        if self.fingerprint:
            return 0
        if self.vulnerability:
            return 1 if self.component else 2
        return 3 if self.location else 4

    def describe(self) -> str:
        if self.fingerprint:
            return f"fingerprint {self.fingerprint}"
        if self.vulnerability:
            return f"{self.vulnerability}" + (f" in {self.component}" if self.component else "")
        return f"{self.check}" + (f" at {self.location}" if self.location else "")

    def matches(self, finding: Finding) -> bool:
        if self.fingerprint:
            return self.fingerprint in (finding.stable_fingerprint, finding.fingerprint)
        if self.vulnerability:
            found = vulnerability_of(finding)
            return found is not None and found[1].upper() == self.vulnerability.upper() and (
                self.component is None or found[0].lower() == self.component.lower())
        return finding.check_id == self.check and (
            self.location is None or fnmatch.fnmatchcase(finding.location.path, self.location))


class Triage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_: Literal["iotcop-triage/1"] = Field(alias="schema")
    decisions: tuple[Decision, ...] = ()
    source: str = Field(default="<triage>", exclude=True)
    sha256: str = Field(default="", exclude=True)


def vulnerability_of(finding: Finding) -> tuple[str, str] | None:
    """(component name, vulnerability id) of a known-vulnerability finding, else None."""
    if finding.check_id != VULNERABILITY_CHECK:
        return None
    key = finding.key or stable_key(finding.check_id, finding.message)
    name, _, vuln = key.partition("|")
    return (name, vuln) if name and vuln else None


def load_triage(path: Path) -> Triage:
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the triage file: {exc.strerror}") from exc
    return parse_triage(raw, str(path))


def parse_triage(raw: bytes, source: str = "<triage>") -> Triage:
    """Parse and validate; raises ``TriageError`` listing every problem with its line."""
    if len(raw) > MAX_BYTES:
        raise TriageError(source, [Problem(None, "", f"larger than {MAX_BYTES} bytes")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise TriageError(source, [Problem(line, "", f"not UTF-8 text (byte {exc.start})")]) from None
    try:
        data, lines = _compose(text, source)  # the declaration loader's bounded, line-recording YAML reader
    except DeclarationError as exc:
        raise TriageError(source, exc.problems) from None
    if not isinstance(data, dict):
        raise TriageError(source, [Problem(1, "", f"the triage file must be a mapping with 'schema: "
                                                  f"{TRIAGE_SCHEMA}' and 'decisions'")])
    if "decisions" in data and data["decisions"] is None:  # 'decisions:' with nothing under it
        del data["decisions"]
    decisions = data.get("decisions")
    if isinstance(decisions, list):  # each decision learns its line ('line' in the file is an unknown field)
        written = [Problem(lines.get(f"decisions.{i}.line"), f"decisions.{i}.line", _UNKNOWN_FIELD)
                   for i, d in enumerate(decisions) if isinstance(d, dict) and "line" in d]
        if written:
            raise TriageError(source, written)
        data["decisions"] = [{**d, "line": lines.get(f"decisions.{i}")} if isinstance(d, dict) else d
                             for i, d in enumerate(decisions)]
    try:
        triage = Triage.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(e, lines) for e in exc.errors()]
        raise TriageError(source, [Problem(p.line, p.field, _UNKNOWN_FIELD if "unknown field" in p.message
                                           else p.message) for p in problems]) from None
    return triage.model_copy(update={"source": source, "sha256": hashlib.sha256(raw).hexdigest()})


@dataclass(frozen=True)
class _Pick:
    decision: Decision
    expired: bool


def _choose(finding: Finding, triage: Triage, today: dt.date) -> _Pick | None:
    candidates = [(d.expires is not None and d.expires <= today, d.rank(), i, d)
                  for i, d in enumerate(triage.decisions) if d.matches(finding)]
    if not candidates:
        return None
    expired, _, _, decision = min(candidates, key=lambda c: c[:3])
    return _Pick(decision, expired)


def _where(triage: Triage, decision: Decision) -> str:
    name = Path(triage.source).name
    return f"{name}:{decision.line}" if decision.line else name


def _suppression(triage: Triage, pick: _Pick) -> Suppression:
    d = pick.decision
    response = d.response or ((VexResponse.WILL_NOT_FIX,) if d.status is TriageStatus.ACCEPTED_RISK else ())
    return Suppression(status=d.status, justification=d.justification.strip(), vex_justification=d.vex_justification,
                       response=response, reviewer=d.reviewer, date=d.date, expires=d.expires,
                       source=_where(triage, d), expired=pick.expired)


def apply_triage(assessment: Assessment, triage: Triage, catalogue: Catalogue, *, today: dt.date,
                 declaration: Declaration | None = None) -> Assessment:
    """The assessment with every finding's triage decision attached (replacing earlier ones) and its verdicts
    evaluated again. An assessment made with a declaration needs it again: verdicts it settled depend on it."""
    from iotcop.evaluation import evaluate, summarise

    if declaration is None and EvidenceKind.DECLARATION in assessment.inputs:
        raise UsageError("this assessment was made with a manufacturer's declaration: give it again "
                         "(--declaration) so that the verdicts it settles are evaluated again")
    findings = []
    for finding in assessment.findings:
        pick = _choose(finding, triage, today)
        findings.append(finding.model_copy(update={"suppression": _suppression(triage, pick) if pick else None}))
    matched = {id(d) for d in triage.decisions if any(d.matches(f) for f in assessment.findings)}
    verdicts = evaluate(catalogue, assessment.check_runs, findings, declaration)
    record = TriageRecord(
        source=Path(triage.source).name, sha256=triage.sha256, as_of=today, decisions=len(triage.decisions),
        applied=sum(1 for f in findings if f.suppression is not None and not f.suppression.expired),
        expired=tuple(f"{_where(triage, d)}: {d.describe()} expired on {d.expires}" for d in triage.decisions
                      if d.expires is not None and d.expires <= today and id(d) in matched),
        unmatched=tuple(f"{_where(triage, d)}: {d.describe()} matches no finding" for d in triage.decisions
                        if id(d) not in matched))
    notes = assessment.notes
    if assessment.catalogues != catalogue.refs():
        notes = (*notes, "verdicts were evaluated again with a catalogue that differs from the one of the assessment")
    return assessment.model_copy(update={
        "schema_version": ASSESSMENT_SCHEMA_VERSION, "findings": tuple(findings), "verdicts": verdicts,
        "summary": summarise(catalogue, verdicts), "catalogues": catalogue.refs(), "notes": notes, "triage": record})


def summary_lines(record: TriageRecord) -> list[str]:
    """What a person should know after applying triage (for the CLI)."""
    lines = [f"{record.source}: {record.decisions} decision(s), applied to {record.applied} finding(s) "
             f"as of {record.as_of.isoformat()}"]
    lines += [f"expired: {e}" for e in record.expired]
    lines += [f"unknown: {u}" for u in record.unmatched]
    return lines

