"""The vulnerability findings and their triage decisions as CycloneDX 1.6 VEX (JSON).

A pure function of the assessment. The document carries the same components, with the same bom-refs, as the
SBOM (``iotcop.reports.sbom``), so each vulnerability's ``affects`` points at the component it was matched in.
Each known-vulnerability finding is one vulnerability, its ``analysis`` from the triage decision:

=====================  =============================================================================
triage status          analysis
=====================  =============================================================================
(none, or expired)     state ``in_triage``: iotcop matched the version; nobody has decided yet
false_positive         state ``false_positive``
not_affected           state ``not_affected`` with the decision's justification code
accepted_risk          state ``exploitable`` with its responses (``will_not_fix`` unless given)
=====================  =============================================================================

The reviewer's text is the analysis ``detail``; who decided, when, until when and in which file go into
``iotcop:`` properties.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
import warnings
from decimal import Decimal

from cyclonedx.model import HashAlgorithm, HashType, Property, XsUri
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component as CdxComponent
from cyclonedx.model.component import ComponentType
from cyclonedx.model.impact_analysis import ImpactAnalysisJustification, ImpactAnalysisResponse, ImpactAnalysisState
from cyclonedx.model.vulnerability import (
    BomTarget,
    BomTargetVersionRange,
    Vulnerability,
    VulnerabilityAnalysis,
    VulnerabilityRating,
    VulnerabilityScoreSource,
    VulnerabilitySeverity,
    VulnerabilitySource,
)
from cyclonedx.output.json import JsonV1Dot6

from iotcop.model import Assessment, Component, Finding, Suppression, TriageStatus
from iotcop.reports.sbom import _component
from iotcop.triage import vulnerability_of

_STATE = {TriageStatus.FALSE_POSITIVE: ImpactAnalysisState.FALSE_POSITIVE,
          TriageStatus.NOT_AFFECTED: ImpactAnalysisState.NOT_AFFECTED,
          TriageStatus.ACCEPTED_RISK: ImpactAnalysisState.EXPLOITABLE}
_METHOD = {"2.0": VulnerabilityScoreSource.CVSS_V2, "3.0": VulnerabilityScoreSource.CVSS_V3,
           "3.1": VulnerabilityScoreSource.CVSS_V3_1, "4.0": VulnerabilityScoreSource.CVSS_V4}
_CVSS = re.compile(r"\(CVSS (\d\.\d) (\d{1,2}(?:\.\d)?)\b")
_SOURCES = {"NVD": "https://nvd.nist.gov/vuln/detail/", "OSV": "https://osv.dev/vulnerability/"}
SUBJECT_REF = "firmware-image"  # the SBOM's name for the image itself


def render_vex(assessment: Assessment) -> bytes:
    target = assessment.target
    seed = f"iotcop-vex:{target.sha256 or target.name}:{assessment.generated_at}"
    bom = Bom(serial_number=uuid.uuid5(uuid.NAMESPACE_URL, seed))
    bom.metadata.timestamp = dt.datetime.fromisoformat(assessment.generated_at)
    subject = CdxComponent(name=target.product or target.name, version=target.version or None,
                           type=ComponentType.FIRMWARE, bom_ref=SUBJECT_REF,
                           hashes=[HashType(alg=HashAlgorithm.SHA_256, content=target.sha256)] if target.sha256 else [])
    bom.metadata.component = subject
    parts = [_component(c, i) for i, c in enumerate(assessment.components)]  # the SBOM's components and refs
    for part in parts:
        bom.components.add(part)
    bom.register_dependency(subject, parts)
    seen: set[str] = set()
    for finding in assessment.findings:
        pair = vulnerability_of(finding)
        if pair is None:
            continue
        ref = f"vuln-{finding.fingerprint}"
        ref = ref if ref not in seen else f"{ref}-{len(seen)}"
        seen.add(ref)
        bom.vulnerabilities.add(_vulnerability(finding, pair, _affected(finding, pair[0], assessment.components),
                                               ref))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        text = JsonV1Dot6(bom).output_as_string(indent=2)
    return (text + "\n").encode()


def _affected(finding: Finding, name: str, components: tuple[Component, ...]) -> tuple[str, str | None]:
    """The bom-ref (as sbom.py names it) and version of the component the finding was matched in."""
    words = finding.message.split(" ", 2)
    version = words[1] if len(words) > 2 and words[0] == name else None
    candidates = [(i, c) for i, c in enumerate(components) if c.name == name]
    exact = [(i, c) for i, c in candidates if c.version == version]
    for i, c in exact or candidates:
        return f"{c.purl or c.name}#{i}", c.version
    return SUBJECT_REF, version


def _vulnerability(finding: Finding, pair: tuple[str, str], affected: tuple[str, str | None],
                   ref: str) -> Vulnerability:
    vuln_id = pair[1]
    source = next((name for name in _SOURCES if name in finding.evidence.technique.upper()), None)
    cdx_source = VulnerabilitySource(name=source, url=XsUri(_SOURCES[source] + vuln_id)) if source else None
    properties = [Property(name="iotcop:fingerprint", value=finding.fingerprint),
                  Property(name="iotcop:stable-fingerprint", value=finding.stable_fingerprint),
                  Property(name="iotcop:severity", value=finding.severity.value)]
    version = [BomTargetVersionRange(version=affected[1])] if affected[1] else None
    return Vulnerability(
        bom_ref=ref, id=vuln_id, source=cdx_source, ratings=_ratings(finding, cdx_source), detail=finding.message,
        recommendation=finding.remediation, analysis=_analysis(finding.suppression, properties),
        affects=[BomTarget(ref=affected[0], versions=version)], properties=properties)


def _ratings(finding: Finding, source: VulnerabilitySource | None) -> list[VulnerabilityRating]:
    match = _CVSS.search(finding.message)
    if match is None or match.group(1) not in _METHOD:
        return []
    score = Decimal(match.group(2))
    if not Decimal(0) <= score <= Decimal(10):
        return []
    return [VulnerabilityRating(source=source, score=score, method=_METHOD[match.group(1)],
                                severity=_band(float(score)))]


def _band(score: float) -> VulnerabilitySeverity:
    for floor, band in ((9.0, VulnerabilitySeverity.CRITICAL), (7.0, VulnerabilitySeverity.HIGH),
                        (4.0, VulnerabilitySeverity.MEDIUM), (0.1, VulnerabilitySeverity.LOW)):
        if score >= floor:
            return band
    return VulnerabilitySeverity.NONE


def _analysis(s: Suppression | None, properties: list[Property]) -> VulnerabilityAnalysis:
    if s is None:
        return VulnerabilityAnalysis(state=ImpactAnalysisState.IN_TRIAGE,
                                     detail="Matched by version in the vulnerability database; not yet triaged.")
    properties.append(Property(name="iotcop:triage-source", value=s.source))
    properties += [Property(name=f"iotcop:{name}", value=str(value)) for name, value in
                   (("reviewer", s.reviewer), ("decided", s.date), ("expires", s.expires)) if value]
    if s.expired:
        return VulnerabilityAnalysis(state=ImpactAnalysisState.IN_TRIAGE,
                                     detail=f"The decision '{s.status.value}' ({s.source}) expired on {s.expires}: "
                                            f"to be triaged again. It said: {s.justification}")
    issued = dt.datetime.combine(s.date, dt.time(), dt.UTC) if s.date else None
    return VulnerabilityAnalysis(
        state=_STATE[s.status], detail=s.justification, first_issued=issued, last_updated=issued,
        justification=ImpactAnalysisJustification(s.vex_justification.value) if s.vex_justification else None,
        responses=[ImpactAnalysisResponse(r.value) for r in s.response])
