"""Live checks on the device's TLS services, from sslyze's scan (EN 303 645 5.5-1, 5.5-7): obsolete protocol
versions, weak cipher suites, the certificate (self-signed, expired or not yet valid, weak key, name not
matching the address) and compliance with Mozilla's intermediate profile as sslyze judges it."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterator

from iotcop.checks.registry import CheckSpec, check, spec_of
from iotcop.device.options import Discovered
from iotcop.device.tls import OBSOLETE, Certificate, TlsFacts, TlsService
from iotcop.errors import CannotAssess, NotApplicable
from iotcop.model import AssessmentTime, Evidence, EvidenceKind, Finding, Location, Severity

TECHNIQUE = "sslyze scan (protocol versions, cipher suites, certificate; Mozilla intermediate profile)"
#: Criteria sslyze checks that other checks here judge, or that no device certificate can meet (publicly
#: trusted chains): left out of the profile check's failures.
JUDGED_ELSEWHERE = ("certificate_path_validation",)


def _scanned(tls: TlsFacts) -> list[TlsService]:
    if not tls.services:
        raise NotApplicable("no TLS service was found")
    scanned = [s for s in tls.services if not s.reason]
    if not scanned:
        raise CannotAssess("no TLS service could be scanned: " + "; ".join(f"{s.where}: {s.reason}"
                                                                           for s in tls.services))
    return scanned


def _settle(tls: TlsFacts, spec: CheckSpec, failed: bool) -> None:
    """A check that found nothing failing must not pass for a service sslyze could not scan: CannotAssess."""
    unscanned = [s for s in tls.services if s.reason]
    if unscanned and not (failed and spec.severity is not Severity.INFO):
        raise CannotAssess("could not judge " + "; ".join(f"{s.where}: {s.reason}" for s in unscanned))


def _loc(s: TlsService) -> Location:
    return Location(kind="network", path=s.where)


def _certified(tls: TlsFacts) -> list[tuple[TlsService, Certificate]]:
    pairs = [(s, s.certificate) for s in _scanned(tls) if s.certificate is not None]
    if not pairs:
        raise CannotAssess("sslyze read no certificate from the TLS services")
    return pairs


def _cert_text(c: Certificate) -> str:
    return (f"subject {c.subject}, issuer {c.issuer}, {c.key_algorithm} {c.key_size} bits, valid {c.not_before} "
            f"to {c.not_after}, SHA-256 {c.fingerprint_sha256}")


@check(id="net.tls.weak-protocol", title="TLS service accepts obsolete protocol versions",
       kind=EvidenceKind.NETWORK, severity=Severity.HIGH,
       remediation="Accept TLS 1.2 and 1.3 only; disable SSL 2.0/3.0 and TLS 1.0/1.1.")
def weak_protocol(tls: TlsFacts) -> Iterator[Finding]:
    """SSL 2.0/3.0 and TLS 1.0/1.1 have known attacks and are deprecated (RFC 8996): a device that still
    accepts them does not communicate with best-practice cryptography."""
    spec = spec_of(weak_protocol)
    failed = False
    for s in _scanned(tls):
        old = [p for p in s.protocols if p in OBSOLETE]
        if old:
            failed = True
            yield spec.finding(message=f"The TLS service at {s.where} accepts {', '.join(old)} (supported: "
                                       f"{', '.join(s.protocols)}).", location=_loc(s),
                               evidence=Evidence.of("supported: " + ", ".join(s.protocols), TECHNIQUE))
    _settle(tls, spec, failed)


@check(id="net.tls.weak-cipher", title="TLS service accepts weak cipher suites", kind=EvidenceKind.NETWORK,
       severity=Severity.HIGH,
       remediation="Offer only AEAD suites with forward secrecy (ECDHE with AES-GCM or ChaCha20-Poly1305).")
def weak_cipher(tls: TlsFacts) -> Iterator[Finding]:
    """Anonymous, NULL, export, RC4, DES/3DES and MD5 suites, or keys under 128 bits, give no or broken
    protection: the connection is not secure even when TLS is used."""
    spec = spec_of(weak_cipher)
    failed = False
    for s in _scanned(tls):
        weak = s.weak_ciphers()
        if weak:
            names = list(dict.fromkeys(name for _, name, _ in weak))
            shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
            failed = True
            yield spec.finding(message=f"The TLS service at {s.where} accepts {len(names)} weak cipher suite(s): "
                                       f"{shown}.", location=_loc(s),
                               evidence=Evidence.of("; ".join(f"{p} {n} ({b} bits)" for p, n, b in weak[:30]),
                                                    TECHNIQUE))
    _settle(tls, spec, failed)


@check(id="net.tls.self-signed", title="TLS certificate is self-signed", kind=EvidenceKind.NETWORK,
       severity=Severity.MEDIUM,
       remediation="Use a certificate issued by a CA the apps trust (a per-device certificate from the "
                   "manufacturer's CA, pinned by the app), not a self-signed one.")
def self_signed(tls: TlsFacts) -> Iterator[Finding]:
    """A self-signed certificate cannot be told apart from an attacker's: clients either accept any
    certificate or warn users into clicking through, so the connection is open to interception."""
    spec = spec_of(self_signed)
    failed = False
    for s, c in _certified(tls):
        if c.self_signed:
            failed = True
            yield spec.finding(message=f"The certificate of {s.where} is self-signed (issuer = subject = "
                                       f"{c.subject}).", location=_loc(s), evidence=Evidence.of(_cert_text(c),
                                                                                                TECHNIQUE))
    _settle(tls, spec, failed)


def _when(text: str) -> dt.datetime | None:
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@check(id="net.tls.expired-certificate", title="TLS certificate expired or not yet valid",
       kind=EvidenceKind.NETWORK, severity=Severity.MEDIUM,
       remediation="Renew the certificate before it expires; make sure the device's clock is set (NTP).")
def expired_certificate(tls: TlsFacts, now: AssessmentTime) -> Iterator[Finding]:
    """A certificate outside its validity period fails validation: clients are trained to ignore the error,
    which makes interception easy."""
    spec = spec_of(expired_certificate)
    failed = False
    at = now.at if now.at.tzinfo else now.at.replace(tzinfo=dt.UTC)
    for s, c in _certified(tls):
        start, end = _when(c.not_before), _when(c.not_after)
        if end is not None and end < at:
            state = f"expired on {c.not_after}"
        elif start is not None and start > at:
            state = f"is not valid before {c.not_before}"
        else:
            continue
        failed = True
        yield spec.finding(message=f"The certificate of {s.where} {state} (assessed at {at.isoformat()}).",
                           location=_loc(s), evidence=Evidence.of(_cert_text(c), TECHNIQUE))
    _settle(tls, spec, failed)


@check(id="net.tls.weak-key", title="TLS certificate key is too small", kind=EvidenceKind.NETWORK,
       severity=Severity.MEDIUM, remediation="Use an RSA key of at least 2048 bits or an EC key of at least 256.")
def weak_key(tls: TlsFacts) -> Iterator[Finding]:
    """RSA keys under 2048 bits and EC keys under 256 bits are below current best practice (1024-bit RSA is
    within reach of well-funded attackers)."""
    spec = spec_of(weak_key)
    failed = False
    for s, c in _certified(tls):
        minimum = 2048 if c.key_algorithm.upper() in ("RSA", "DSA") else 256 if c.key_algorithm else 0
        if 0 < c.key_size < minimum:
            failed = True
            yield spec.finding(message=f"The certificate of {s.where} has a {c.key_size}-bit {c.key_algorithm} key "
                                       f"(at least {minimum} expected).", location=_loc(s),
                               evidence=Evidence.of(_cert_text(c), TECHNIQUE))
    _settle(tls, spec, failed)


def _matches(host: str, names: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        host = host.lower()
        parent = host.split(".", 1)[1] if "." in host else ""
        # a wildcard stands for exactly one label (RFC 6125 6.4.3): *.example.com names a.example.com only
        return any(n.lower() == host or (n.startswith("*.") and parent and n[2:].lower() == parent) for n in names)
    return any(n == str(address) for n in names)


@check(id="net.tls.hostname-mismatch", title="TLS certificate does not name the device's address",
       kind=EvidenceKind.NETWORK, severity=Severity.LOW,
       remediation="Issue the certificate for the names and addresses clients use to reach the device.")
def hostname_mismatch(tls: TlsFacts, found: Discovered) -> Iterator[Finding]:
    """A certificate that does not name the address clients connect to fails hostname verification, so
    clients must turn verification off to talk to the device. A device reached by a host name the user gave
    may rightly be certified for that name."""
    spec = spec_of(hostname_mismatch)
    failed = False
    for s, c in _certified(tls):
        reached = [s.service.host, *found.names_of(s.service.host)]
        if not any(_matches(name, c.names()) for name in reached):
            failed = True
            yield spec.finding(message=f"The certificate of {s.where} names {', '.join(c.names()) or 'nothing'}, "
                                       f"not the address {s.service.host} it was reached at.", location=_loc(s),
                               evidence=Evidence.of(_cert_text(c), TECHNIQUE))
    _settle(tls, spec, failed)


@check(id="net.tls.mozilla-intermediate", title="TLS configuration is not compliant with Mozilla's intermediate "
       "profile", kind=EvidenceKind.NETWORK, severity=Severity.LOW,
       remediation="Configure TLS after https://ssl-config.mozilla.org/ (intermediate).")
def mozilla_intermediate(tls: TlsFacts) -> Iterator[Finding]:
    """Mozilla's intermediate profile is a widely used statement of best-practice TLS configuration; sslyze
    checks a server against it criterion by criterion. (Certificate path validation against public trust
    stores is left out: device certificates are rarely publicly trusted; the certificate checks judge it.)"""
    spec = spec_of(mozilla_intermediate)
    failed = False
    scanned = _scanned(tls)
    for s in scanned:
        failures = [(k, v) for k, v in s.compliance if k not in JUDGED_ELSEWHERE]
        if s.compliant is False and failures:
            failed = True
            yield spec.finding(message=f"sslyze found {s.where} not compliant with Mozilla's intermediate profile: "
                                       + "; ".join(k for k, _ in failures) + ".", location=_loc(s),
                               evidence=Evidence.of("\n".join(f"{k}: {v[:300]}" for k, v in failures), TECHNIQUE))
    if all(s.compliant is None for s in scanned):
        raise CannotAssess("sslyze reported no compliance result")
    _settle(tls, spec, failed)
