"""The assessment as SARIF 2.1.0, in the subset GitHub code scanning accepts.

One run: the driver lists a rule per check that ran or found something (metadata from the check registry:
title, rationale, remediation; ``security-severity`` as the numeric string GitHub reads), each finding is a
result with a ``partialFingerprints`` entry (the finding's stable fingerprint, so an alert survives
re-runs and new product versions). Paths inside the image become relative URIs under the ``IMAGEROOT``
base; network, URL, document and declaration locations have no file, so they are logical locations on a
result anchored to the assessed target (GitHub rejects a log with a result that has no artifact URI).
Checks that could not assess (INCONCLUSIVE) or broke (ERROR) are tool execution notifications: a clean
SARIF file must not be mistaken for a clean product. The verdicts per requirement go in ``run.properties``.

A finding a reviewer triaged (``Finding.suppression``, from ``iotcop.triage.yaml``) keeps its result and
carries an ``external`` SARIF suppression with the justification: accepted while the decision is active,
rejected once it has expired (it no longer applies), so code scanning shows it as dismissed, not gone.

Deterministic: the same assessment gives the same bytes (no clock, no random ids; the one time is the
assessment's own ``generated_at``).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from iotcop.catalogue import Catalogue
from iotcop.checks.registry import CheckSpec
from iotcop.errors import UsageError
from iotcop.model import Assessment, CheckRun, Finding, Location, RunStatus, Severity

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
#: Placeholder until the project has a public home page (SARIF wants an absolute URI here).
INFORMATION_URI = "https://iotcop.invalid/"
IMAGE_BASE = "IMAGEROOT"
FINGERPRINT_KEY = "iotcopFindingFingerprint/v1"

#: Severity → SARIF level. INFO findings are observations that fail nothing: a note.
LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning", Severity.LOW: "warning",
         Severity.INFO: "note"}
#: Severity → GitHub's security-severity score (critical > 9.0, high 7.0-8.9, medium 4.0-6.9, low 0.1-3.9).
SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5", Severity.LOW: "3.0",
                     Severity.INFO: "0.0"}
#: Run status → notification level, for the runs that did not give an answer.
KINDS = {"fw": "firmware", "net": "network", "doc": "document", "decl": "declaration"}
NOTIFY = {RunStatus.INCONCLUSIVE: "warning", RunStatus.ERROR: "error"}


def render_sarif(assessment: Assessment, catalogue: Catalogue) -> bytes:
    rule_ids = sorted({r.check_id for r in assessment.check_runs} | {f.check_id for f in assessment.findings})
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    findings = {f.check_id: f for f in reversed(assessment.findings)}  # a fallback source of rule metadata
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": assessment.tool.name,
            "version": assessment.tool.version,
            "informationUri": INFORMATION_URI,
            "rules": [_rule(rule_id, catalogue, findings.get(rule_id)) for rule_id in rule_ids],
        }},
        "automationDetails": {"id": f"{assessment.tool.name}/{assessment.target.kind}/"},
        "originalUriBaseIds": {IMAGE_BASE: {"description": {"text": "The root of the extracted file system."}}},
        "invocations": [_invocation(assessment, index)],
        "results": [_result(f, index, assessment.target.name) for f in assessment.findings],
        "columnKind": "unicodeCodePoints",
        "properties": _run_properties(assessment),
    }
    log = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    # a file name in a hostile image may not be valid UTF-8 (a lone surrogate): never crash on it
    return (json.dumps(log, indent=2, ensure_ascii=False) + "\n").encode("utf-8", errors="replace")


def _spec(rule_id: str) -> CheckSpec | None:
    from iotcop.checks.registry import REGISTRY

    try:
        return REGISTRY.get(rule_id)
    except UsageError:  # an assessment saved by another version may name a check this one lacks
        return None


def _rule(rule_id: str, catalogue: Catalogue, finding: Finding | None) -> dict[str, Any]:
    spec = _spec(rule_id)
    if spec is not None:
        title, rationale, remedy, severity = spec.title, spec.rationale, spec.remediation, spec.severity
        kind = spec.kind.value
    else:
        title = finding.title if finding else rule_id
        remedy = finding.remediation if finding else ""
        rationale, severity = title, finding.severity if finding else Severity.INFO
        kind = KINDS.get(rule_id.split(".")[0], "unknown")
    requirements = [f"{fw.id}:{req.id}" for fw, req, how in catalogue.citing(rule_id) if how != "planned"]
    help_text = remedy or "See the rationale."
    markdown = f"**Remediation.** {_md(help_text)}\n\n**Why it matters.** {_md(rationale)}"
    if requirements:
        markdown += "\n\n**Evidences.** " + ", ".join(f"`{r}`" for r in requirements)
    return {
        "id": rule_id,
        "name": _pascal(rule_id),
        "shortDescription": {"text": title},
        "fullDescription": {"text": rationale},
        "help": {"text": help_text, "markdown": markdown},
        "defaultConfiguration": {"level": LEVEL[severity]},
        "properties": {
            "tags": ["security", "iot", f"evidence:{kind}", *requirements],
            "security-severity": SECURITY_SEVERITY[severity],
            "precision": "high",
        },
    }


def _pascal(rule_id: str) -> str:
    """SARIF's optional ``name``: an identifier-like form of the id (``FwCredentialsDefaultPassword``)."""
    return "".join(part.capitalize() for part in rule_id.replace(".", "-").split("-") if part)


def _md(text: str) -> str:
    """Text placed in Markdown: backslash-escape what would turn it into markup, links or HTML."""
    out = []
    for ch in text:
        out.append("\\" + ch if ch in "\\`*_[]<>|~" else ch)
    return "".join(out)


def _result(finding: Finding, index: dict[str, int], target: str) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.check_id,
        "ruleIndex": index[finding.check_id],
        "level": LEVEL[finding.severity],
        "message": {"text": finding.message},
        "locations": [_location(finding.location, target)],
        "partialFingerprints": {FINGERPRINT_KEY: finding.stable_fingerprint or finding.fingerprint},
        "properties": {
            "severity": finding.severity.value,
            "basis": finding.basis,
            "evidence": finding.evidence.excerpt,
            "technique": finding.evidence.technique,
            "security-severity": SECURITY_SEVERITY[finding.severity],
        },
    }
    if suppressions := _suppressions(finding):
        result["suppressions"] = suppressions
    return result


def _suppressions(finding: Finding) -> list[dict[str, Any]]:
    decision = getattr(finding, "suppression", None)  # triage (assessment schema 1.2); absent before
    if decision is None:
        return []
    status = decision.status.value
    props = {"triageStatus": status, "source": decision.source, "expired": decision.expired}
    if decision.expires is not None:
        props["expires"] = decision.expires.isoformat()
    return [{"kind": "external", "status": "rejected" if decision.expired else "accepted",
             "justification": f"{status}: {decision.justification}", "properties": props}]


def _location(location: Location, target: str) -> dict[str, Any]:
    if location.kind == "image":
        region: dict[str, int] = {}
        if location.line is not None:
            region["startLine"] = location.line
        if location.offset is not None:
            region["byteOffset"] = location.offset
        physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(location.path), "uriBaseId": IMAGE_BASE}}
        if region:
            physical["region"] = region
        return {"physicalLocation": physical}
    # No file to point at (a host:port, a URL, a document, a declaration field): GitHub rejects a whole log
    # if one result lacks an artifact URI, so the result is anchored on the assessed target and the real
    # place is a logical location.
    return {
        "physicalLocation": {"artifactLocation": {"uri": _uri(target)}},
        "logicalLocations": [{"fullyQualifiedName": location.path, "kind": location.kind}],
        "message": {"text": f"{location.kind}: {location}"},
    }


def _uri(path: str) -> str:
    """A relative URI reference for a path (percent-encoded, no leading slash, never empty)."""
    return quote(path.lstrip("/"), safe="/") or "."


def _invocation(assessment: Assessment, index: dict[str, int]) -> dict[str, Any]:
    notes = [_notification(run, index) for run in assessment.check_runs if run.status in NOTIFY]
    return {
        "executionSuccessful": not any(r.status is RunStatus.ERROR for r in assessment.check_runs),
        "endTimeUtc": assessment.generated_at,
        "toolExecutionNotifications": notes,
    }


def _notification(run: CheckRun, index: dict[str, int]) -> dict[str, Any]:
    what = "could not assess" if run.status is RunStatus.INCONCLUSIVE else "failed to run"
    return {
        "level": NOTIFY[run.status],
        "message": {"text": f"{run.check_id} {what}: {run.reason or 'no reason given'}"},
        "associatedRule": {"id": run.check_id, "index": index[run.check_id]},
        "properties": {"status": run.status.value},
    }


def _run_properties(assessment: Assessment) -> dict[str, Any]:
    target = assessment.target.model_dump(mode="json", exclude_none=True)
    return {
        "assessmentSchemaVersion": assessment.schema_version,
        "target": target,
        "inputs": [k.value for k in assessment.inputs],
        "catalogues": [c.model_dump(mode="json") for c in assessment.catalogues],
        "mandatoryFailed": assessment.mandatory_failed,
        "summary": [s.model_dump(mode="json") for s in assessment.summary],
        "checkRuns": {status.value: sum(r.status is status for r in assessment.check_runs) for status in RunStatus},
        "verdicts": [
            {"requirement": f"{v.framework}:{v.requirement_id}", "outcome": v.outcome.value, "basis": v.basis.value,
             "mandatory": v.mandatory, "reason": v.reason, "findings": list(v.findings)}
            for v in assessment.verdicts
        ],
    }
