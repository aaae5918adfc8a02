"""Firmware checks on the components the image ships (guideline 3; EN 303 645 5.2-3, 5.3-8)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from iotcop.checks.registry import check, spec_of
from iotcop.errors import CannotAssess, NotApplicable
from iotcop.firmware.components import Components
from iotcop.knowledge.eol import EndOfLife
from iotcop.model import AssessmentTime, Evidence, EvidenceKind, Finding, Location, Severity
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
    vulnerabilities (CISA KEV) are critical. A match the image's own evidence rules out (a BusyBox applet not
    compiled in, a kernel option not set, a distribution record saying the package is fixed, a platform the
    image is not) is reported as INFO with that evidence, so a reader sees why it does not count."""
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
        notes = "".join(f" Note: {n}." for n in m.notes)
        yield spec_of(known_vulnerability).finding(
            key=f"{m.component.split()[0]}|{m.vuln_id}",  # the same CVE in the next version's component
            severity=_severity(m.cvss_score, m.kev),
            message=f"{m.component} is affected by {m.vuln_id} ({score}{exploited}): {m.reason}.{notes}",
            location=Location.in_image(path),
            evidence=Evidence.of(f"{m.criterion}\n{component.evidence if component else ''}".strip(),
                                 f"version matched against the {m.source.upper()} record in {vulns.database}"))
    for m in vulns.not_affected:
        component = where.get(m.component)
        path = component.locations[0] if component and component.locations else "/"
        yield spec_of(known_vulnerability).finding(
            key=f"{m.component.split()[0]}|{m.vuln_id}|not-affected",
            severity=Severity.INFO,
            message=f"{m.component} matches {m.vuln_id} by version ({m.reason}) but is not affected: "
                    f"{m.not_affected}.",
            location=Location.in_image(path),
            evidence=Evidence.of(f"{m.criterion}\n{component.evidence if component else ''}".strip(),
                                 "version match ruled out by the image's context (applets, kernel configuration, "
                                 "distribution record or platform)"))
    if vulns.unversioned and not vulns.matches:
        raise CannotAssess(f"no known vulnerability matched, but {len(vulns.unversioned)} component(s) have no "
                           f"version to match: {', '.join(vulns.unversioned[:10])}")


@check(
    id="fw.components.end-of-life",
    title="A component is past the end of its upstream support",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.MEDIUM,
    remediation="Move to a supported release branch (or a vendor that backports security fixes for it, "
                "stated in the product's support period), and ship it to devices in the field.",
)
def end_of_life(components: Components, eol: EndOfLife, now: AssessmentTime) -> Iterator[Finding]:
    """A release branch its project no longer supports gets no security fixes: vulnerabilities found from
    then on stay open unless the manufacturer backports them, so the product cannot be kept updated (5.3-8)
    and its vulnerabilities cannot be fixed (5.2-3). A branch that ends within a year is noted (INFO)."""
    versioned = [c for c in components.components if c.version]
    if not versioned:
        raise NotApplicable("no component with a version was identified in the image")
    today = now.at.date()
    for c in versioned:
        assert c.version is not None
        verdict = eol.lookup(c.name, c.version)
        if verdict is None or (verdict.ended is not None and verdict.ended > today + dt.timedelta(days=365)):
            continue
        where = Location.in_image(c.locations[0] if c.locations else "/")
        evidence = Evidence.of(c.evidence or f"{c.name} {c.version}", f"release branch looked up in: {verdict.why}")
        if verdict.ended is not None and verdict.ended > today:
            yield spec_of(end_of_life).finding(
                key=f"{c.name}|ending", severity=Severity.INFO, location=where, evidence=evidence,
                message=f"{c.name} {c.version} (branch {verdict.branch}) reaches the end of upstream support on "
                        f"{verdict.ended.isoformat()}.")
            continue
        since = f"since {verdict.ended.isoformat()}" if verdict.ended else "(an older or superseded branch)"
        yield spec_of(end_of_life).finding(
            key=c.name, location=where, evidence=evidence,
            message=f"{c.name} {c.version} is on branch {verdict.branch}, out of upstream support {since}: it gets "
                    "no security fixes.")
