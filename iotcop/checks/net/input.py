"""Live checks on input handling (EN 303 645 5.13-1) and resilience (5.9-x): what the bounded, non-destructive
probes of the device's web parameters and the malformed protocol frames sent to its services showed (command
injection, crash, hang)."""

from __future__ import annotations

from collections.abc import Iterator

from iotcop.checks.registry import check, spec_of
from iotcop.device.frames import FrameFacts
from iotcop.device.webinput import InputFacts, ProbeResult
from iotcop.errors import CannotAssess, NotApplicable
from iotcop.model import Evidence, EvidenceKind, Finding, Location, Severity

TECHNIQUE = ("bounded web parameter probes (echo and timing injection canaries, an oversized value, format "
             "strings), GET / before and after each group")


def _probed(facts: InputFacts) -> None:
    if not facts.services and not facts.probed:
        raise NotApplicable("; ".join(facts.notes) or "no web service to probe")
    if not facts.parameters:
        raise CannotAssess("no web parameter could be probed" + (": " + "; ".join(facts.skipped[:5])
                                                                 if facts.skipped else ""))


def _loc(r: ProbeResult) -> Location:
    return Location(kind="network", path=f"{r.where}{r.parameter.path}")


def _param(r: ProbeResult) -> str:
    return f"parameter {r.parameter.name!r} of {r.parameter.method} {r.where}{r.parameter.path}"


@check(id="net.input.command-injection", title="Web parameter runs shell commands (command injection)",
       kind=EvidenceKind.NETWORK, severity=Severity.CRITICAL,
       remediation="Never pass request data to a shell: validate the value against its format (an address) and "
                   "call the program directly with an argument vector.")
def command_injection(probes: InputFacts) -> Iterator[Finding]:
    """A parameter whose value reaches a shell lets anyone who can send the request run commands on the device
    (usually as root): data input via user interfaces and APIs must be validated."""
    spec = spec_of(command_injection)
    _probed(probes)
    for r in probes.failures("injection"):
        yield spec.finding(message=f"The {_param(r)} runs shell commands ({r.group}): {r.evidence}.",
                           location=_loc(r), evidence=Evidence.of(r.evidence, TECHNIQUE))


@check(id="net.input.crash", title="Malformed web input crashes or hangs the device", kind=EvidenceKind.NETWORK,
       severity=Severity.HIGH,
       remediation="Bound every input's length and format before use; never use input as a format string.")
def crash(probes: InputFacts) -> Iterator[Finding]:
    """A device that stops answering after an oversized value or a format string does not validate its input;
    such crashes are often exploitable memory corruption."""
    spec = spec_of(crash)
    _probed(probes)
    for r in probes.failures("crash", "hang"):
        what = "crashed (connections refused)" if r.outcome == "crash" else "hung (requests time out)"
        yield spec.finding(message=f"The device {what} after the {r.group} probe of the {_param(r)}: {r.evidence}.",
                           location=_loc(r), evidence=Evidence.of(r.evidence, TECHNIQUE))


@check(id="net.resilience.device-hang", title="Device stops answering after malformed input",
       kind=EvidenceKind.NETWORK, severity=Severity.HIGH,
       remediation="Validate input, and supervise services so that a failure restarts them (watchdog).")
def device_hang(probes: InputFacts) -> Iterator[Finding]:
    """A device should stay available or recover by itself: a web interface that no longer answers after a
    malformed request shows neither."""
    spec = spec_of(device_hang)
    _probed(probes)
    for r in probes.failures("crash", "hang"):
        yield spec.finding(message=f"{r.where} stopped answering GET / (retried 3 times) after the {r.group} probe "
                                   f"of the {_param(r)}.", location=Location(kind="network", path=r.where),
                           evidence=Evidence.of(r.evidence, TECHNIQUE))


FRAME_TECHNIQUE = ("bounded malformed protocol frames (MQTT, HTTP, RTSP, telnet, FTP, SNMP, CoAP), a liveness check "
                   "of the service and of another service on the same host after each frame")


@check(id="net.input.malformed-frame", title="A malformed protocol frame crashes or hangs a service",
       kind=EvidenceKind.NETWORK, severity=Severity.HIGH,
       remediation="Parse protocol frames defensively: bound every length field and buffer, reject truncated and "
                   "oversized frames by closing the connection, and supervise services so that a failure restarts "
                   "them.")
def malformed_frame(frames: FrameFacts) -> Iterator[Finding]:
    """Network input must be validated: a service that stops answering after one malformed frame (an oversized
    length, a truncated packet, a 64 KB line) trusts what it receives, and such crashes are often exploitable
    memory corruption; the device is not resilient either."""
    spec = spec_of(malformed_frame)
    if not frames.services:
        raise NotApplicable("; ".join(frames.notes) or "no MQTT, HTTP, RTSP, telnet, FTP, SNMP or CoAP service found")
    if not frames.probed:
        raise CannotAssess("liveness could not be established before probing" + (
            ": " + "; ".join(frames.skipped[:5]) if frames.skipped else ""))
    for r in frames.failures("crash", "hang"):
        what = "crashed (connections refused, reset or closed)" if r.outcome == "crash" else \
            "hung (connections time out or stay unanswered)"
        device = f" The whole device went down: {r.other}." if r.device_down else ""
        text = f"frame: {r.frame}; bytes: {r.excerpt}; {r.evidence}"
        text += f"; other service on the host: {r.other}" if r.other else ""
        subject = f"The {r.protocol.upper()} service at {r.where}"
        if r.device_down and r.evidence.endswith("it still answers"):
            subject, what = f"Another service of the device ({r.other.split(' ')[0]})", "stopped answering"
            device = ""
        yield spec.finding(message=f"{subject} {what} after the malformed frame '{r.frame}' ({r.excerpt}) was sent "
                                   f"to {r.where}: {r.evidence}.{device}",
                           location=Location(kind="network", path=r.where), evidence=Evidence.of(text, FRAME_TECHNIQUE))
