"""Live checks on RTSP (camera stream) services (EN 303 645 5.5-4, 5.8-2, 5.5-6)."""

from __future__ import annotations

from collections.abc import Iterator

from iotcop.checks.registry import check, spec_of
from iotcop.device.rtsp import RtspFacts, RtspService
from iotcop.errors import CannotAssess, NotApplicable
from iotcop.model import Evidence, EvidenceKind, Finding, Location, Severity

TECHNIQUE = "RTSP OPTIONS and DESCRIBE without credentials"


def _judged(facts: RtspFacts) -> list[RtspService]:
    if not facts.services:
        raise NotApplicable("; ".join(facts.reasons) or "no RTSP service was found")
    judged = [s for s in facts.services if s.describe_status is not None]
    if not judged:
        raise CannotAssess("no RTSP service answered DESCRIBE: " + "; ".join(f"{s.where}: {s.error}"
                                                                               for s in facts.services))
    return judged


@check(id="net.rtsp.unauthenticated", title="RTSP stream described without authentication",
       kind=EvidenceKind.NETWORK, severity=Severity.HIGH,
       remediation="Require Digest authentication with a unique per-device or user-set password for every RTSP "
                   "method that exposes the stream (DESCRIBE, SETUP, PLAY), or disable RTSP when unused.")
def unauthenticated(rtsp: RtspFacts) -> Iterator[Finding]:
    """A camera that answers DESCRIBE with its session description without asking for credentials lets anyone
    on the network watch its stream: sensitive personal data leaves the device to whoever asks, and network
    access to a device function needs no authentication."""
    spec = spec_of(unauthenticated)
    judged = _judged(rtsp)
    for s in judged:
        if s.unauthenticated:
            yield spec.finding(message=f"The RTSP service at {s.where} answered DESCRIBE {s.url} with 200 and a "
                                       "session description (SDP) although no credentials were sent: the stream "
                                       "can be set up and played by anyone who reaches the port.",
                               location=Location(kind="network", path=s.where),
                               evidence=Evidence.of(f"DESCRIBE {s.url} -> RTSP/1.0 200\n{s.sdp}", TECHNIQUE))
    if not any(s.unauthenticated for s in judged) and len(judged) < len(rtsp.services):
        raise CannotAssess("some RTSP services did not answer: " + "; ".join(
            f"{s.where}: {s.error}" for s in rtsp.services if s.describe_status is None))


@check(id="net.rtsp.basic-auth", title="RTSP asks for Basic authentication over plain TCP",
       kind=EvidenceKind.NETWORK, severity=Severity.MEDIUM,
       remediation="Offer only Digest authentication on RTSP (or RTSP over TLS): Basic sends the password in "
                   "clear with every request.")
def basic_auth(rtsp: RtspFacts) -> Iterator[Finding]:
    """RTSP runs over plain TCP; Basic authentication sends the user name and password base64-encoded, i.e. in
    clear, with every request. Critical security parameters must be protected in transit."""
    spec = spec_of(basic_auth)
    challenged = [s for s in _judged(rtsp) if s.challenges]
    if not challenged:
        raise NotApplicable("no RTSP service asked for credentials")
    for s in challenged:
        if "Basic" in s.schemes:
            offered = " and ".join(s.schemes)
            yield spec.finding(message=f"The RTSP service at {s.where} challenges DESCRIBE {s.url} with {offered} "
                                       "authentication over plain TCP: a client that answers the Basic challenge "
                                       "sends its password in clear.",
                               location=Location(kind="network", path=s.where),
                               evidence=Evidence.of("WWW-Authenticate: " + " | ".join(s.challenges), TECHNIQUE))
