"""Firmware checks on the keys and certificates shipped in the image (guidelines 4 and 5; EN 303 645
5.4-1, 5.4-3, 5.4-4, 5.5-1).

Keys are named by fingerprint, never by content. CA certificates of trust stores are public material
and never findings; documentation and test paths are skipped (a key in /usr/share/doc is an example).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from iotcop.checks.registry import check, spec_of
from iotcop.errors import CannotAssess
from iotcop.firmware.content import is_documentation
from iotcop.firmware.keys import CertInfo, KeyInfo, KeyMaterial
from iotcop.model import AssessmentTime, Evidence, EvidenceKind, Finding, Location, Severity

# NIST SP 800-131A Rev. 2 (2019) and SP 800-57 Part 1 Rev. 5: 112-bit security is the floor, i.e. RSA and
# DSA moduli of 2048 bits and elliptic curves of 224 bits; BSI TR-02102-1 and ETSI TS 103 523 ask 250+ bit
# curves, hence 256 here. FIPS 186-5 (2023) withdrew DSA for new signatures.
MIN_RSA_BITS = 2048
MIN_EC_BITS = 256
BROKEN_RSA_BITS = 1024  # below this, factoring is within reach of a single organisation (RSA-768, 2009)
WEAK_SIGNATURE_HASHES = frozenset({"md2", "md4", "md5", "sha1"})  # collisions shown: MD5 2004, SHA-1 2017


def _scanned(material: KeyMaterial) -> None:
    """Clean needs a scan: with no file offered to the key scanner, nothing was looked at."""
    if material.offered == 0:
        raise CannotAssess("the content scan offered no file to the key scanner, so no file was searched for "
                           "keys or certificates (an empty or unreadable root file system)")


def _where(path: str, line: int | None, offset: int) -> Location:
    return Location.in_image(path, line=line, offset=None if line is not None else offset)


def _key_name(key: KeyInfo) -> str:
    """'RSA 1024 bits', 'EC 256 bits secp256r1', 'algorithm unknown (encrypted)'."""
    if key.algorithm == "unknown":
        return "algorithm unknown" + (" (encrypted)" if key.encrypted else "")
    return " ".join(p for p in (key.algorithm, f"{key.bits} bits" if key.bits else "", key.curve or "") if p)


def _key_excerpt(key: KeyInfo) -> str:
    state = "encrypted" if key.encrypted else "unencrypted"
    return f"{key.container} {key.label!r}: {_key_name(key)}, {state}, fingerprint {key.fingerprint}"


def _technique(key: KeyInfo) -> str:
    if key.container in ("OpenSSH", "dropbear"):
        return f"parsed the {key.container} key file (SSH wire format, public part)"
    return f"parsed the {key.container} key with cryptography"


def _cert_excerpt(cert: CertInfo) -> str:
    return (f"subject {cert.subject}; issuer {cert.issuer}; valid {cert.not_before:%Y-%m-%d} to "
            f"{cert.not_after:%Y-%m-%d}; {cert.signature_algorithm}; {cert.key_algorithm} {cert.key_bits or '?'} "
            f"bits; SHA-256 {cert.fingerprint}")


def _issuing_ca(material: KeyMaterial, spki: str | None) -> CertInfo | None:
    """The CA certificate of this public key, if it issued another certificate found in the image."""
    issuers = {c.issuer for c in material.certificates if not c.self_signed}
    return next((c for c in material.certificates
                 if spki and c.ca and c.spki_sha256 == spki and c.subject in issuers), None)


def _own_certs(material: KeyMaterial) -> Iterator[CertInfo]:
    """Certificates that belong to the product: not public trust anchors, not documentation."""
    return (c for c in material.certificates if not c.public_material and not is_documentation(c.path))


@check(
    id="fw.keys.private-key",
    title="A private key is shipped in the firmware image",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.HIGH,
    remediation="Generate keys on each device at first boot (or provision them per device in the factory, into "
                "a secure element or protected storage); ship no private key in the image.",
)
def private_key(material: KeyMaterial) -> Iterator[Finding]:
    """A private key in the firmware image is the same on every device built from it, and anyone who
    downloads or dumps the firmware holds it: it can impersonate the device or the vendor's service and
    decrypt what the key protects. It is a hard-coded critical security parameter (EN 303 645 5.4-3) not
    stored securely (5.4-1). An encrypted key is reported too: the device must hold the passphrase to use
    it, so it is in the image as well."""
    _scanned(material)
    for key in material.private_keys():
        if is_documentation(key.path):
            continue
        notes = ""
        if key.encrypted:
            notes += (" The key is encrypted with a passphrase, which only delays its use: the device needs the "
                      "passphrase too, so it is in the image as well.")
        if key.ssh_host_key:
            notes += " It is an SSH host key (see fw.keys.shared-host-key)."
        if ca := _issuing_ca(material, key.spki_sha256):
            notes += (f" It is the key of the CA {ca.subject} ({ca.path}), which issued certificates found in the "
                      "image: whoever holds it can issue certificates that CA's clients accept.")
        yield spec_of(private_key).finding(
            message=f"The private key at {key.path} ({_key_name(key)}, {key.container} format, fingerprint "
                    f"{key.fingerprint}) is part of the image: every device built from it holds the same "
                    f"key.{notes}",
            location=_where(key.path, key.line, key.offset),
            evidence=Evidence.of(_key_excerpt(key), _technique(key)),
            severity=Severity.CRITICAL if ca else Severity.HIGH,
        )


@check(
    id="fw.keys.shared-host-key",
    title="An SSH host key is baked into the firmware image",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.HIGH,
    remediation="Remove the host keys from the image and generate them on the device at first boot "
                "('ssh-keygen -A', or dropbear's '-R' option / OpenWrt's first-boot key generation).",
)
def shared_host_key(material: KeyMaterial) -> Iterator[Finding]:
    """An SSH server proves its identity with its host key. A host key shipped in the image is the same on
    every device, so whoever extracts it can impersonate any device and intercept the SSH sessions of its
    users without a warning: the critical security parameter of the device's communication is not
    unique per device (EN 303 645 5.4-4)."""
    _scanned(material)
    for key in material.private_keys():
        if not key.ssh_host_key or is_documentation(key.path):
            continue
        yield spec_of(shared_host_key).finding(
            message=f"The SSH host key {key.path} ({_key_name(key)}, {key.container} format, fingerprint "
                    f"{key.fingerprint}) is part of the image: every device presents the same host key, so one "
                    f"extracted image lets an attacker impersonate any of them.",
            location=_where(key.path, key.line, key.offset),
            evidence=Evidence.of(_key_excerpt(key), "SSH host key location and format"),
        )


def weakness(algorithm: str, bits: int | None, curve: str | None) -> str | None:
    """Why a key of this kind is weak, or None."""
    if algorithm == "DSA":
        return (f"DSA{f' ({bits} bits)' if bits else ''}: withdrawn for signatures by FIPS 186-5 and disabled by "
                "default in OpenSSH since 7.0")
    if algorithm == "RSA" and bits is not None and bits < MIN_RSA_BITS:
        return f"RSA with {bits} bits, below the {MIN_RSA_BITS} bits NIST SP 800-131A has required since 2014"
    if algorithm == "EC" and bits is not None and bits < MIN_EC_BITS:
        return f"elliptic curve {curve or '?'} of {bits} bits, below {MIN_EC_BITS} bits"
    return None


@check(
    id="fw.keys.weak-key",
    title="A key or certificate uses a weak algorithm or key size",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.MEDIUM,
    remediation="Use RSA of at least 2048 bits (3072 for use beyond 2030), ECDSA on P-256 or larger, or Ed25519; "
                "replace DSA keys.",
)
def weak_key(material: KeyMaterial) -> Iterator[Finding]:
    """Communication is only as strong as its keys: an RSA modulus under 2048 bits, an elliptic curve under
    256 bits or any DSA key is not best-practice cryptography (EN 303 645 5.5-1). A weak public key counts
    too: one that verifies updates or servers lets whoever breaks it forge what it verifies."""
    _scanned(material)
    for key in material.keys:
        why = weakness(key.algorithm, key.bits, key.curve)
        if why is None or is_documentation(key.path):
            continue
        kind = "private key" if key.private else "public key"
        yield spec_of(weak_key).finding(
            message=f"The {kind} at {key.path} (fingerprint {key.fingerprint}) is {why}.",
            location=_where(key.path, key.line, key.offset),
            evidence=Evidence.of(_key_excerpt(key), _technique(key)),
            severity=Severity.HIGH if key.algorithm != "EC" and (key.bits or MIN_RSA_BITS) < BROKEN_RSA_BITS
            else Severity.MEDIUM,
        )
    for cert in _own_certs(material):
        why = weakness(cert.key_algorithm, cert.key_bits, cert.key_curve)
        if why is None or cert.key_in_image:  # its private key is reported above
            continue
        yield spec_of(weak_key).finding(
            message=f"The certificate for {cert.subject} at {cert.path} has a public key of {why}.",
            location=_where(cert.path, cert.line, cert.offset),
            evidence=Evidence.of(_cert_excerpt(cert), "parsed the X.509 certificate with cryptography"),
        )


@check(
    id="fw.keys.expired-certificate",
    title="A certificate in the image is expired or not yet valid",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.MEDIUM,
    remediation="Replace the certificate; give devices per-device certificates that can be renewed by an update "
                "or enrolment protocol.",
)
def expired_certificate(material: KeyMaterial, assessed: AssessmentTime) -> Iterator[Finding]:
    """A certificate outside its validity period makes peers either fail or, worse, be configured to ignore
    validation errors: either way the channel it should protect is no longer secured by best practice
    (EN 303 645 5.5-1). CA certificates of trust stores are public material and not judged here."""
    _scanned(material)
    now = assessed.at if assessed.at.tzinfo else assessed.at.replace(tzinfo=dt.UTC)
    for cert in _own_certs(material):
        if cert.not_after < now:
            state = f"expired on {cert.not_after:%Y-%m-%d}"
        elif cert.not_before > now:
            state = f"not valid before {cert.not_before:%Y-%m-%d}"
        else:
            continue
        yield spec_of(expired_certificate).finding(
            message=f"The certificate for {cert.subject} at {cert.path} is {state} (assessed at "
                    f"{now:%Y-%m-%d}).",
            location=_where(cert.path, cert.line, cert.offset),
            evidence=Evidence.of(_cert_excerpt(cert), "validity period of the X.509 certificate"),
        )


@check(
    id="fw.keys.weak-certificate-signature",
    title="A certificate is signed with MD5 or SHA-1",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.MEDIUM,
    remediation="Re-issue the certificate with a SHA-256 (or stronger) signature.",
)
def weak_certificate_signature(material: KeyMaterial) -> Iterator[Finding]:
    """Chosen-prefix collisions on MD5 (2008, rogue CA) and SHA-1 (2020, 'SHA-1 is a Shambles') let an
    attacker obtain a signature valid for a certificate of their own: such a signature is not best-practice
    cryptography (EN 303 645 5.5-1). The signature of a self-signed root is not relied on, so roots are
    left out."""
    _scanned(material)
    for cert in _own_certs(material):
        if cert.self_signed or cert.signature_hash not in WEAK_SIGNATURE_HASHES:
            continue
        yield spec_of(weak_certificate_signature).finding(
            message=f"The certificate for {cert.subject} at {cert.path}, issued by {cert.issuer}, is signed with "
                    f"{cert.signature_algorithm} ({cert.signature_hash.upper() if cert.signature_hash else '?'}).",
            location=_where(cert.path, cert.line, cert.offset),
            evidence=Evidence.of(_cert_excerpt(cert), "signature algorithm of the X.509 certificate"),
        )


@check(
    id="fw.keys.self-signed-certificate",
    title="A server certificate in the image is self-signed",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.MEDIUM,
    remediation="Issue each device its own certificate (per-device keys, signed by a vendor CA that clients "
                "can pin), or let the user install one.",
)
def self_signed_certificate(material: KeyMaterial) -> Iterator[Finding]:
    """A self-signed certificate the device presents cannot be verified by its clients, which are then
    taught to accept any certificate; and shipped in the image it is the same on every device (EN 303 645
    5.5-1). A self-signed CA certificate is a trust anchor, not a server certificate, and is not reported,
    unless its key ships in the image and it issued no certificate found there: then it is the device's own
    certificate, made CA by openssl's defaults."""
    _scanned(material)
    for cert in _own_certs(material):
        if not cert.self_signed or (cert.ca and (not cert.key_in_image or _issuing_ca(material, cert.spki_sha256))):
            continue
        key = material.private_key_with_spki(cert.spki_sha256)
        held = f" Its private key ships in the image too, at {key.path}." if key else (
            " Its private key is not in the image: it may be a peer the device pins rather than its own "
            "certificate, so this is for review.")
        role = " It is marked as a CA certificate, yet used as the device's own certificate." if cert.ca else ""
        yield spec_of(self_signed_certificate).finding(
            severity=Severity.MEDIUM if key else Severity.INFO,
            message=f"The certificate for {cert.subject} at {cert.path} is self-signed (issued by itself, so "
                    f"no client can verify it).{held}{role}",
            location=_where(cert.path, cert.line, cert.offset),
            evidence=Evidence.of(_cert_excerpt(cert), "issuer and signature of the X.509 certificate"),
        )
