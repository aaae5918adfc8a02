"""Firmware checks on the components the image ships (guideline 3; EN 303 645 5.2-3, 5.3-8)."""

from __future__ import annotations

from collections.abc import Iterator

from iotcop.checks.registry import check, spec_of
from iotcop.errors import CannotAssess, NotApplicable
from iotcop.firmware.components import Components
from iotcop.model import Evidence, EvidenceKind, Finding, Location, Severity
from iotcop.vulndb.facts import Vulnerabilities


def _severity(score: float | None, kev: bool) -> Severity:
    if kev or (score is not None and score >= 9.0):
        return Severity.CRITICAL
    if score is None or score >= 7.0:
        return Severity.HIGH  # no score known: a known vulnerability is not assumed to be minor
    return Severity.MEDIUM if score >= 4.0 else Severity.LOW


@check(
    id="fw.components.known-vulnerability",
    title="A component has a publicly known vulnerability",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.HIGH,
    remediation="Update the component to a release that fixes the vulnerability (or backport the fix and record "
                "it, e.g. as CycloneDX VEX), and ship the update to devices in the field.",
)
def known_vulnerability(components: Components, vulns: Vulnerabilities) -> Iterator[Finding]:
    """A component version with a published vulnerability, matched against the local vulnerability database
    (NVD CPE configurations and OSV ranges, version bounds honoured), is a flaw attackers can look up: the
    product is not kept updated (5.3-8) and its vulnerabilities are not being fixed (5.2-3). Known-exploited
    vulnerabilities (CISA KEV) are critical."""
    if not components.components:
        raise NotApplicable("no software component was identified in the image")
    if vulns.unavailable is not None:
        raise CannotAssess(f"the vulnerability database cannot be used: {vulns.unavailable} "
                           "(`iotcop vulndb update`, or `iotcop vulndb import FILE...` offline)")
    where = {f"{c.name} {c.version}": c for c in components.components if c.version}
    for m in vulns.matches:
        component = where.get(m.component)
        path = component.locations[0] if component and component.locations else "/"
        score = f"CVSS {m.cvss_version} {m.cvss_score}" if m.cvss_score is not None else "no CVSS score"
        exploited = f", known exploited (CISA KEV since {m.kev_added})" if m.kev else ""
        yield spec_of(known_vulnerability).finding(
            severity=_severity(m.cvss_score, m.kev),
            message=f"{m.component} is affected by {m.vuln_id} ({score}{exploited}): {m.reason}.",
            location=Location.in_image(path),
            evidence=Evidence.of(f"{m.criterion}\n{component.evidence if component else ''}".strip(),
                                 f"version matched against the {m.source.upper()} record in {vulns.database}"))
    if vulns.unversioned and not vulns.matches:
        raise CannotAssess(f"no known vulnerability matched, but {len(vulns.unversioned)} component(s) have no "
                           f"version to match: {', '.join(vulns.unversioned[:10])}")
