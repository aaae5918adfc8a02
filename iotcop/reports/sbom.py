"""The components of an assessment as a CycloneDX 1.6 SBOM (JSON), made with cyclonedx-python-lib.

A pure function of the assessment: the serial number is derived from the image digest and the assessment
time, so the same assessment gives the same bytes. The firmware image is the BOM's subject (type
``firmware``, with its SHA-256); every component hangs off it. How iotcop identified each component
(confidence, source, the evidence string) goes into ``properties`` under the ``iotcop:`` namespace, and
where it was found into CycloneDX's ``evidence.occurrences``.
"""

from __future__ import annotations

import datetime as dt
import uuid
import warnings

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component as CdxComponent
from cyclonedx.model.component import ComponentType
from cyclonedx.model.component_evidence import ComponentEvidence, Occurrence
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from iotcop.model import Assessment, Component

# What kind of thing a component is, where the name says it (everything else is a library or program)
_TYPES = {"linux": ComponentType.OPERATING_SYSTEM, "u-boot": ComponentType.FIRMWARE}
_APPLICATIONS = frozenset({"busybox", "dropbear", "openssh", "lighttpd", "nginx", "uhttpd", "boa", "goahead",
                           "mini_httpd", "thttpd", "dnsmasq", "hostapd", "wpa_supplicant", "mosquitto",
                           "miniupnpd", "samba", "openvpn", "iptables", "ppp", "ntp", "chrony", "avahi", "dbus",
                           "curl"})
MAX_OCCURRENCES = 20


def render_sbom(assessment: Assessment) -> bytes:
    target = assessment.target
    seed = f"iotcop:{target.sha256 or target.name}:{assessment.generated_at}"
    bom = Bom(serial_number=uuid.uuid5(uuid.NAMESPACE_URL, seed))
    bom.metadata.timestamp = dt.datetime.fromisoformat(assessment.generated_at)
    subject = CdxComponent(name=target.product or target.name, version=target.version or None,
                           type=ComponentType.FIRMWARE, bom_ref="firmware-image",
                           hashes=[HashType(alg=HashAlgorithm.SHA_256, content=target.sha256)] if target.sha256 else [])
    bom.metadata.component = subject
    parts = [_component(c, i) for i, c in enumerate(assessment.components)]
    for part in parts:
        bom.components.add(part)
    bom.register_dependency(subject, parts)
    with warnings.catch_warnings():  # the library warns about optional graph data it would like to have
        warnings.simplefilter("ignore", UserWarning)
        text = JsonV1Dot6(bom).output_as_string(indent=2)
    return (text + "\n").encode()


def _component(c: Component, index: int) -> CdxComponent:
    kind = _TYPES.get(c.name) or (ComponentType.APPLICATION if c.name in _APPLICATIONS else ComponentType.LIBRARY)
    properties = [Property(name="iotcop:confidence", value=c.confidence),
                  Property(name="iotcop:source", value=c.source)]
    if c.evidence:
        properties.append(Property(name="iotcop:evidence", value=c.evidence))
    ref = f"{c.purl or c.name}#{index}"  # unique even when two entries share a purl
    # an occurrence without a bom-ref gets a random one, and the set sorts by it: name them, in our order
    occurrences = [Occurrence(location=path, bom_ref=f"{ref}@{i:03d}") for i, path in
                   enumerate(c.locations[:MAX_OCCURRENCES])]
    return CdxComponent(
        name=c.name, version=c.version, type=kind, bom_ref=ref, purl=_purl(c.purl, properties),
        cpe=c.cpe, properties=properties,
        evidence=ComponentEvidence(occurrences=occurrences) if occurrences else None,
    )


def _purl(text: str | None, properties: list[Property]) -> PackageURL | None:
    """The package URL, or None (kept as a property) when names from a hostile package database make it
    invalid: the SBOM is still written."""
    if not text:
        return None
    try:
        return PackageURL.from_string(text)
    except ValueError:
        properties.append(Property(name="iotcop:invalid-purl", value=text))
        return None
