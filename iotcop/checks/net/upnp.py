"""Live checks on UPnP/SSDP (EN 303 645 5.5-5, 5.6-1, 5.6-2)."""

from __future__ import annotations

from collections.abc import Iterator

from iotcop.checks.registry import check, spec_of
from iotcop.device.upnp import UpnpDevice, UpnpFacts
from iotcop.errors import CannotAssess, NotApplicable
from iotcop.model import Evidence, EvidenceKind, Finding, Location, Severity

TECHNIQUE = "unicast SSDP M-SEARCH, device description fetched from its in-scope LOCATION"


def _devices(facts: UpnpFacts) -> list[UpnpDevice]:
    if not facts.devices:
        raise NotApplicable("; ".join(facts.reasons) or "no SSDP/UPnP service was found")
    return list(facts.devices)


def _errors(devices: list[UpnpDevice]) -> str:
    return "; ".join(f"{d.where}: {d.error or 'no description'}" for d in devices)


@check(id="net.upnp.igd-exposed", title="UPnP Internet Gateway Device announced", kind=EvidenceKind.NETWORK,
       severity=Severity.MEDIUM,
       remediation="Disable UPnP IGD by default (let the user enable it), or at least restrict it to the LAN "
                   "interface and to mappings for the requesting host.")
def igd_exposed(upnp: UpnpFacts) -> Iterator[Finding]:
    """An Internet Gateway Device lets programs on the LAN open ports in the device's firewall without the user
    knowing; malware uses it to expose cameras and routers to the Internet. A service that is not needed for
    the intended use should not be enabled, and one that reconfigures the firewall should not be reachable
    without authentication."""
    spec = spec_of(igd_exposed)
    devices = _devices(upnp)
    for d in devices:
        if d.igd:
            types = ", ".join(t for t in (*d.device_types, *d.search_targets) if "InternetGatewayDevice" in t)
            yield spec.finding(message=f"The SSDP service at {d.where}/udp announces an Internet Gateway Device "
                                       f"({types.split(', ')[0]}); description at {d.location or 'unknown'}"
                                       + (f", '{d.friendly_name}'" if d.friendly_name else "") + ".",
                               location=Location(kind="network", path=d.where),
                               evidence=Evidence.of(f"SERVER: {d.server}\nLOCATION: {d.location}\ntypes: {types}",
                                                    TECHNIQUE))
    unjudged = [d for d in devices if not d.igd and d.description_status != 200]
    if unjudged and not any(d.igd for d in devices):
        raise CannotAssess("the device description could not be read: " + _errors(unjudged))


@check(id="net.upnp.port-mapping-allowed", title="UPnP port mapping controllable without authentication",
       kind=EvidenceKind.NETWORK, severity=Severity.HIGH,
       remediation="Disable UPnP IGD, or require authentication for the WANIPConnection/WANPPPConnection actions "
                   "and only allow mappings to the requesting host.")
def port_mapping_allowed(upnp: UpnpFacts) -> Iterator[Finding]:
    """A WAN connection service that processes SOAP actions from anyone on the LAN lets any program (or a web
    page through the browser) open inbound ports to the network: security-relevant configuration changed
    without authentication. Non-destructive by default: the read-only actions are asked; AddPortMapping is
    tried (and undone) only in a destructive assessment."""
    spec = spec_of(port_mapping_allowed)
    devices = _devices(upnp)
    with_controls = [d for d in devices if d.controls]
    if not with_controls:
        if all(d.description_status == 200 for d in devices):
            raise NotApplicable("no WANIPConnection or WANPPPConnection service is described")
        raise CannotAssess("the device description could not be read: " + _errors(devices))
    for d in with_controls:
        for c in d.controls:
            if not c.unauthenticated:
                continue
            if c.mapping.startswith("added"):
                how = f"AddPortMapping was accepted without credentials ({c.mapping})"
            else:
                how = (f"GetExternalIPAddress answered {c.external_ip_status}"
                       + (f" ({c.external_ip})" if c.external_ip else "")
                       + f" and GetGenericPortMappingEntry answered {c.entry_status}"
                       + (f" (UPnP error {c.entry_error})" if c.entry_error else "")
                       + " without credentials; AddPortMapping was not tried (non-destructive assessment)")
            yield spec.finding(message=f"The {c.service_type.split(':')[-2]} service of {d.where} at {c.url} "
                                       f"processes port-mapping actions without authentication: {how}.",
                               location=Location(kind="url", path=c.url),
                               evidence=Evidence.of(f"{c.service_type} {c.url}: external IP {c.external_ip_status}, "
                                                    f"mapping entry {c.entry_status} {c.entry_error}; "
                                                    f"AddPortMapping: {c.mapping or 'not tried'}",
                                                    "unauthenticated SOAP to the WAN connection control URL"))
    failed = [c for d in with_controls for c in d.controls if c.error and not c.unauthenticated]
    if failed and not any(c.unauthenticated for d in with_controls for c in d.controls):
        raise CannotAssess("; ".join(f"{c.url}: {c.error}" for c in failed))
