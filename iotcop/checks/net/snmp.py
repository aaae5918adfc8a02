"""Live checks on SNMP agents (EN 303 645 5.5-5, 5.6-2, 5.5-1, 5.1-1)."""

from __future__ import annotations

from collections.abc import Iterator

from iotcop.checks.registry import check, spec_of
from iotcop.device.snmp import SnmpFacts, SnmpService
from iotcop.errors import CannotAssess, NotApplicable
from iotcop.model import Evidence, EvidenceKind, Finding, Location, Severity

TECHNIQUE = "SNMP GetRequest sysDescr.0 per community (v1, v2c) and SNMPv3 engine discovery"


def _services(facts: SnmpFacts) -> list[SnmpService]:
    if not facts.services:
        raise NotApplicable("; ".join(facts.reasons) or "no SNMP service was found")
    return list(facts.services)


def _silent(services: list[SnmpService]) -> str:
    return "; ".join(f"{s.where}: " + (s.error or f"no answer to {s.tried} community requests nor to SNMPv3 "
                                                  "discovery (no agent, or one that filters this source)")
                     for s in services)


def _communities(s: SnmpService) -> str:
    by_community: dict[str, list[str]] = {}
    for a in s.answers:
        by_community.setdefault(a.community, []).append(a.version)
    return ", ".join(f"'{c}' ({'/'.join(sorted(v))})" for c, v in by_community.items())


@check(id="net.snmp.default-community", title="SNMP agent answers a default community string",
       kind=EvidenceKind.NETWORK, severity=Severity.HIGH,
       remediation="Remove the public/private (and other well-known) communities; use SNMPv3 with authPriv and a "
                   "per-device or user-set secret, or disable SNMP.")
def default_community(snmp: SnmpFacts) -> Iterator[Finding]:
    """A community string is a password sent in clear; 'public' and 'private' are the defaults every scanner
    tries. An agent that answers one discloses the device's configuration (and, if writable, lets anyone change
    it) without real authentication."""
    spec = spec_of(default_community)
    services = _services(snmp)
    for s in services:
        if s.answers:
            descr = s.answers[0].sys_descr
            yield spec.finding(message=f"The SNMP agent at {s.where}/udp answered GetRequest sysDescr.0 with the "
                                       f"well-known community {_communities(s)}: anyone on the network can read "
                                       f"its management information (sysDescr: {descr[:120]!r}).",
                               location=Location(kind="network", path=s.where),
                               evidence=Evidence.of(f"{s.where}/udp {_communities(s)} -> sysDescr.0 = {descr!r}",
                                                    TECHNIQUE))
    silent = [s for s in services if not s.answered]
    if silent and not any(s.answers for s in services):
        raise CannotAssess(_silent(silent))


@check(id="net.snmp.no-v3", title="SNMP agent speaks only community-based v1/v2c", kind=EvidenceKind.NETWORK,
       severity=Severity.MEDIUM,
       remediation="Disable SNMPv1 and v2c and use SNMPv3 with the User-based Security Model (authPriv).")
def no_v3(snmp: SnmpFacts) -> Iterator[Finding]:
    """SNMPv1 and v2c authenticate with a community string sent in clear and encrypt nothing; only SNMPv3 (USM)
    offers authentication and privacy. An agent answering v1/v2c without v3 cannot be managed securely; one
    that answers both still accepts the clear-text versions (an observation)."""
    spec = spec_of(no_v3)
    services = _services(snmp)
    for s in services:
        if not s.answers:
            continue
        versions = "/".join(sorted({a.version for a in s.answers}))
        if s.v3:
            yield spec.finding(severity=Severity.INFO, location=Location(kind="network", path=s.where),
                               message=f"The SNMP agent at {s.where}/udp answers SNMPv3 (engine {s.engine_id}) but "
                                       f"also the clear-text community versions {versions}.",
                               evidence=Evidence.of(f"{versions}: {_communities(s)}; v3 Report from engine "
                                                    f"{s.engine_id}", TECHNIQUE))
        else:
            yield spec.finding(location=Location(kind="network", path=s.where),
                               message=f"The SNMP agent at {s.where}/udp answers {versions} with community strings "
                                       "but not SNMPv3 engine discovery: management traffic is authenticated only "
                                       "by a clear-text community and never encrypted.",
                               evidence=Evidence.of(f"{versions}: {_communities(s)}; no answer to SNMPv3 discovery",
                                                    TECHNIQUE))
    if not any(s.answers for s in services):
        silent = [s for s in services if not s.answered]
        if silent:
            raise CannotAssess(_silent(silent))
