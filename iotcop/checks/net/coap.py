"""Live checks on CoAP services (EN 303 645 5.5-4, 5.6-2)."""

from __future__ import annotations

from collections.abc import Iterator

from iotcop.checks.registry import check, spec_of
from iotcop.device.coap import CoapFacts
from iotcop.errors import CannotAssess, NotApplicable
from iotcop.model import Evidence, EvidenceKind, Finding, Location, Severity

TECHNIQUE = "CoAP confirmable GET over plain UDP (no DTLS): /.well-known/core, then each listed resource"


@check(id="net.coap.unauthenticated", title="CoAP resources readable without security", kind=EvidenceKind.NETWORK,
       severity=Severity.HIGH,
       remediation="Serve CoAP over DTLS (coaps, port 5684) or OSCORE with per-device credentials, and answer "
                   "unauthenticated requests with 4.01 Unauthorized.")
def unauthenticated(coap: CoapFacts) -> Iterator[Finding]:
    """CoAP without DTLS or OSCORE has no authentication and no confidentiality: any resource that answers a
    plain GET can be read (and often written) by anyone on the network. Network access to device functions
    must require authentication."""
    spec = spec_of(unauthenticated)
    if not coap.services:
        raise NotApplicable("; ".join(coap.reasons) or "no CoAP service was found")
    for s in coap.services:
        where = Location(kind="network", path=s.where)
        if s.readable:
            shown = ", ".join(f"{r.path} ({r.code}, {r.size} bytes)" for r in s.readable)
            yield spec.finding(message=f"The CoAP service at {s.where}/udp answered plain GETs without any security "
                                       f"layer: {len(s.readable)} of the {len(s.links)} resources listed by "
                                       f"/.well-known/core were readable: {shown}.",
                               location=where, evidence=Evidence.of(f"GET {shown}", TECHNIQUE))
        elif s.core is not None and s.core.code == "2.05":
            yield spec.finding(severity=Severity.INFO, location=where,
                               message=f"The CoAP service at {s.where}/udp lists {len(s.links)} resources at "
                                       "/.well-known/core without security, but none of them answered a plain GET "
                                       "with content.",
                               evidence=Evidence.of(", ".join(f"{r.path} ({r.code or 'no answer'})" for r in s.reads)
                                                    or "no resources listed", TECHNIQUE))
    silent = [s for s in coap.services if s.core is None]
    if silent and len(silent) == len(coap.services):
        raise CannotAssess("; ".join(f"{s.where}: {s.error}" for s in silent))
