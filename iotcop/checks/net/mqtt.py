"""Live checks on MQTT brokers (EN 303 645 5.5-1, 5.5-4, 5.5-7, 5.8-1, 5.8-2)."""

from __future__ import annotations

from collections.abc import Iterator

from iotcop.checks.registry import check, spec_of
from iotcop.device.mqtt import MqttFacts, MqttService
from iotcop.errors import CannotAssess, NotApplicable
from iotcop.model import Evidence, EvidenceKind, Finding, Location, Severity

TECHNIQUE = "MQTT 3.1.1 CONNECT without credentials, then SUBSCRIBE '#' for a short window"


def _judged(facts: MqttFacts) -> list[MqttService]:
    if not facts.services:
        raise NotApplicable("; ".join(facts.reasons) or "no MQTT service was found")
    judged = [s for s in facts.services if s.return_code is not None]
    if not judged:
        raise CannotAssess("no MQTT service answered: " + "; ".join(f"{s.where}: {s.answer}" for s in facts.services))
    return judged


def _unjudged(facts: MqttFacts) -> None:
    missing = [s for s in facts.services if s.return_code is None]
    if missing:
        raise CannotAssess("no MQTT answer from " + "; ".join(f"{s.where}: {s.answer}" for s in missing))


def _topics(service: MqttService) -> str:
    if not service.messages:
        return "No message was published on '#' during the listening window."
    shown = ", ".join(service.topics[:8]) + (", ..." if len(service.topics) > 8 else "")
    return (f"{service.messages} message(s) on {len(service.topics)} topic(s) arrived on '#' within the window "
            f"(payloads not kept): {shown}.")


@check(id="net.mqtt.plaintext", title="MQTT broker accepts connections without TLS", kind=EvidenceKind.NETWORK,
       severity=Severity.HIGH,
       remediation="Serve MQTT only over TLS (port 8883) and close the plain listener (1883), or bind it to "
                   "the loopback interface for local clients only.")
def plaintext(mqtt: MqttFacts) -> Iterator[Finding]:
    """An MQTT broker reachable over plain TCP carries user names, passwords and every message in clear: anyone
    on the network path reads them and can inject commands. Security-relevant communication and personal data
    must be protected with best-practice cryptography."""
    spec = spec_of(plaintext)
    judged = _judged(mqtt)
    plain = [s for s in judged if not s.tls]
    for s in plain:
        yield spec.finding(message=f"The MQTT broker at {s.where} speaks MQTT over plain TCP: the CONNECT sent "
                                   f"without TLS was answered ({s.answer}), so credentials and messages on this "
                                   "listener cross the network unencrypted.",
                           location=Location(kind="network", path=s.where),
                           evidence=Evidence.of(f"{s.where}/tcp: {s.answer}", TECHNIQUE))
    if not plain:
        _unjudged(mqtt)


@check(id="net.mqtt.anonymous", title="MQTT broker accepts anonymous clients", kind=EvidenceKind.NETWORK,
       severity=Severity.HIGH,
       remediation="Disable anonymous access (mosquitto: allow_anonymous false), require a per-device password "
                   "or client certificate, and restrict topics with an ACL.")
def anonymous(mqtt: MqttFacts) -> Iterator[Finding]:
    """A broker that accepts a CONNECT without user name and password lets anyone on the network read every
    topic and publish commands to the device: network access to device functions must require
    authentication."""
    spec = spec_of(anonymous)
    judged = _judged(mqtt)
    found = [s for s in judged if s.anonymous]
    for s in found:
        tls = "over TLS" if s.tls else "over plain TCP"
        granted = "The subscription to '#' was granted. " if s.subscribed else ""
        yield spec.finding(message=f"The MQTT broker at {s.where} ({tls}) accepted a CONNECT without user name or "
                                   f"password ({s.answer}). {granted}{_topics(s)}",
                           location=Location(kind="network", path=s.where),
                           evidence=Evidence.of(f"{s.where}: {s.answer}; topics: {', '.join(s.topics) or 'none'}",
                                                TECHNIQUE))
    if not found:
        _unjudged(mqtt)
