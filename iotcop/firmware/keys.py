"""Keys and certificates shipped in a root file system, found during the one content pass.

``KeyScanner`` looks for PEM blocks anywhere in text files, scripts, ELF files and small binaries
(keys pasted into JSON or C strings too), DER files, OpenSSH private keys and dropbear's own host key
format, and parses them with ``cryptography`` (SSH wire formats by hand, bounded). What is kept is a
description, never the secret: algorithm, size, whether it is encrypted, and a fingerprint of the
public key (``SHA256:base64`` for SSH keys, hex SHA-256 of the SubjectPublicKeyInfo for the others).
CA certificates of trust stores (``/etc/ssl/certs``, ``ca-certificates.crt``, files of CA certificates
only) are public material: recorded, and marked so that checks leave them alone.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import posixpath
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519

from iotcop.firmware.content import HEAD, Blob, FileKind
from iotcop.firmware.sshwire import (
    dropbear_public_blob,
    dropbear_type,
    openssh_public_blobs,
    ssh_blob_of,
    ssh_describe,
    ssh_fingerprint,
    ssh_line,
)

MAX_BYTES = 8 * 1024 * 1024  # of any one file: more than any configuration file or user-space program
MAX_BLOCK = 64 * 1024  # a PEM block or DER object (a 16384-bit RSA key is 12 KiB of PEM)
MAX_ITEMS = 2000  # PEM blocks per file (a CA bundle has about 150)
MAX_NOTES = 500
_KEY_SUFFIXES = (".pem", ".key", ".crt", ".cer", ".der", ".p8", "_key", "host_key")
_TRUST_DIRS = ("/etc/ssl/certs/", "/usr/share/ca-certificates/", "/usr/local/share/ca-certificates/",
               "/etc/pki/ca-trust/", "/etc/pki/tls/certs/", "/etc/ca-certificates/", "/usr/lib/ssl/certs/")
_TRUST_NAMES = ("ca-certificates.crt", "ca-bundle.crt", "ca-bundle.pem", "cacert.pem", "tls-ca-bundle.pem",
                "ca-root-nss.crt", "cacerts.pem", "ca-bundle.trust.crt")
_HOST_KEY = re.compile(r"^ssh_host_.*key$|host_?key")  # ssh_host_rsa_key, dropbear_rsa_host_key, hostkey
_SSH_DIRS = ("/etc/ssh/", "/etc/dropbear/", "/etc/config/dropbear/", "/etc/default/dropbear/")
_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9][A-Z0-9 ]{0,60})-----")
_NOISE = re.compile(rb"[\s\"'\\]")  # whitespace and the quotes and backslashes of keys pasted into code or JSON
_BODY = re.compile(rb"(?:\\[nr]|[\s\"'])*(?:[A-Za-z-]+: [^\n\\]*(?:\\n|\n)(?:\\[nr]|[\s\"'])*)*[A-Za-z0-9+/]{32}")


@dataclass(frozen=True)
class KeyInfo:
    """One key found in the image (a public key too: a weak one still matters)."""

    path: str
    offset: int
    line: int | None  # for text files
    container: str  # PEM, DER, OpenSSH, dropbear
    label: str  # the PEM label ('RSA PRIVATE KEY') or the format's name
    private: bool
    algorithm: str  # RSA, DSA, EC, Ed25519, Ed448, X25519, X448, unknown
    bits: int | None
    curve: str | None
    encrypted: bool
    fingerprint: str  # 'SHA256:…' (SSH keys), hex SHA-256 of the SPKI, or of the encrypted blob when unknowable
    spki_sha256: str | None
    ssh_host_key: bool  # lies where an SSH server looks for its host key


@dataclass(frozen=True)
class CertInfo:
    """One X.509 certificate found in the image."""

    path: str
    offset: int
    line: int | None
    subject: str
    issuer: str
    self_signed: bool
    ca: bool
    not_before: dt.datetime
    not_after: dt.datetime
    signature_algorithm: str
    signature_hash: str | None  # md5, sha1, sha256, ... (None for Ed25519 and unknown algorithms)
    key_algorithm: str
    key_bits: int | None
    key_curve: str | None
    fingerprint: str  # hex SHA-256 of the certificate (DER)
    spki_sha256: str | None
    trust_anchor: bool = False  # a CA certificate of a trust store or of a file of CA certificates only
    key_in_image: bool = False  # its private key ships in the image too

    @property
    def public_material(self) -> bool:
        """A trust anchor whose key the image does not hold: published by its CA, not a product secret."""
        return self.trust_anchor and not self.key_in_image


@dataclass(frozen=True)
class KeyMaterial:
    """Facts: keys and certificates of the root file system, and what the scan covered."""

    keys: tuple[KeyInfo, ...] = ()
    certificates: tuple[CertInfo, ...] = ()
    offered: int = 0  # files the content pass offered to the scanner
    examined: int = 0  # files it read and searched
    unparsed: tuple[str, ...] = ()  # 'path@0xoffset: why' for key-like data that did not parse
    truncated: tuple[str, ...] = ()  # files searched only up to MAX_BYTES

    def private_keys(self) -> tuple[KeyInfo, ...]:
        return tuple(k for k in self.keys if k.private)

    def private_key_with_spki(self, spki: str | None) -> KeyInfo | None:
        return next((k for k in self.keys if k.private and spki and k.spki_sha256 == spki), None)


@dataclass
class KeyScanner:
    """Scanner of the content pass; ``result()`` gives the ``KeyMaterial`` facts."""

    max_bytes: int = MAX_BYTES
    offered: int = 0
    examined: int = 0
    keys: list[KeyInfo] = field(default_factory=list)
    certificates: list[CertInfo] = field(default_factory=list)
    unparsed: list[str] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)

    def wants(self, path: str, kind: FileKind, language: str | None, head: bytes) -> bool:
        self.offered += 1
        if kind is not FileKind.BINARY or len(head) < HEAD:  # text, ELF, or small enough to be in memory already
            return True
        name = posixpath.basename(path).lower()
        return name.endswith(_KEY_SUFFIXES) or _der_span(head) is not None or b"-----BEGIN" in head \
            or dropbear_type(head) is not None

    def feed(self, blob: Blob) -> None:
        self.examined += 1
        if blob.truncated:
            self._note(self.truncated, f"{blob.path}: searched only the first {len(blob.data)} bytes")
        with warnings.catch_warnings():  # DSA and odd certificates warn; they are facts here, not warnings
            warnings.simplefilter("ignore")
            _File(self, blob).scan()

    def result(self) -> KeyMaterial:
        spkis = {k.spki_sha256 for k in self.keys if k.private and k.spki_sha256}
        certs = tuple(replace(c, key_in_image=c.spki_sha256 in spkis) for c in self.certificates)
        return KeyMaterial(tuple(self.keys), certs, self.offered, self.examined, tuple(self.unparsed),
                           tuple(self.truncated))

    def _note(self, notes: list[str], text: str) -> None:
        if len(notes) < MAX_NOTES:
            notes.append(text)


class _File:
    """The items of one file: located by offset (and line, in text), then trust-classified together."""

    def __init__(self, scanner: KeyScanner, blob: Blob) -> None:
        self.scanner, self.blob, self.data = scanner, blob, blob.data
        self.text = blob.kind is not FileKind.BINARY and blob.kind is not FileKind.ELF
        self.lines, self.line_pos = 1, 0  # newlines counted so far, incrementally: items come in order
        self.keys: list[KeyInfo] = []
        self.certs: list[CertInfo] = []

    def scan(self) -> None:
        if b"-----BEGIN" in self.data:
            self._pem()
        if (span := _der_span(self.data)) is not None and (span == len(self.data) or self._key_suffix()):
            self._der(self.data[:span])
        if dropbear_type(self.data) is not None:
            self._guard(0, "dropbear host key", lambda: self._ssh_key(0, "dropbear", *dropbear_public_blob(self.data)))
        anchors = bool(self.certs) and not any(k.private for k in self.keys) \
            and (_trust_store(self.blob.path) or all(c.ca for c in self.certs))
        self.scanner.keys.extend(self.keys)
        self.scanner.certificates.extend(replace(c, trust_anchor=anchors and c.ca) for c in self.certs)

    def _key_suffix(self) -> bool:
        return posixpath.basename(self.blob.path).lower().endswith(_KEY_SUFFIXES)

    def _line(self, offset: int) -> int | None:
        if not self.text:
            return None
        self.lines += self.data.count(b"\n", self.line_pos, offset)
        self.line_pos = offset
        return self.lines

    def _guard(self, offset: int, what: str, parse: Callable[[], None]) -> None:
        try:
            parse()
        except Exception as exc:  # hostile bytes: whatever a parser raises is a note, never a failed pass
            self.scanner._note(self.scanner.unparsed, f"{self.blob.path}@0x{offset:x}: a {what} that does not "
                                                      f"parse ({str(exc)[:120] or type(exc).__name__})")

    def _pem(self) -> None:
        pos = count = 0
        while count < MAX_ITEMS and (m := _BEGIN.search(self.data, pos)):
            count += 1
            label = m.group(1)
            end_marker = b"-----END " + label + b"-----"
            end = self.data.find(end_marker, m.end(), m.end() + MAX_BLOCK)
            name = label.decode()
            # a block the key types can be in, whose body starts as base64 does (not prose or a format string)
            wanted = name.endswith(("PRIVATE KEY", "CERTIFICATE", "PUBLIC KEY")) \
                and _BODY.match(self.data, m.end(), m.end() + 512) is not None
            if end < 0:
                if wanted:
                    self._guard(m.start(), f"'{name}' block", _raise("no END line"))
                pos = m.end()
                continue
            if wanted:
                body = self.data[m.end():end]
                self._guard(m.start(), f"'{name}' block", partial(self._pem_item, m.start(), name, body))
            pos = end + len(end_marker)
        if count >= MAX_ITEMS:
            self.scanner._note(self.scanner.truncated, f"{self.blob.path}: only the first {MAX_ITEMS} PEM blocks")

    def _pem_item(self, offset: int, label: str, body: bytes) -> None:
        lines = body.replace(b"\\n", b"\n").replace(b"\\r", b"").splitlines()
        headers = b" ".join(x for x in lines if b":" in x)
        der = base64.b64decode(_NOISE.sub(b"", b"".join(x for x in lines if b":" not in x)), validate=True)
        if not der:
            raise ValueError("empty")
        line = self._line(offset)
        if label == "OPENSSH PRIVATE KEY":
            blobs, encrypted = openssh_public_blobs(der)
            for pub in blobs:
                self._ssh_key(offset, "OpenSSH", pub, encrypted)
        elif label.endswith("CERTIFICATE"):  # also TRUSTED CERTIFICATE: a certificate followed by trust settings
            span = _der_span(der)
            self.certs.append(_cert(self.blob.path, offset, line, der[:span] if span else der))
        elif label.endswith("PUBLIC KEY"):
            self._pkey(offset, line, ("PEM", label), serialization.load_der_public_key(der))
        elif label == "ENCRYPTED PRIVATE KEY" or b"ENCRYPTED" in headers:
            if _der_span(der) != len(der) and b"DEK-Info" not in headers:
                raise ValueError("not a DER object")
            algorithm = label.split()[0] if label.split()[0] in ("RSA", "DSA", "EC") else "unknown"
            self.keys.append(KeyInfo(self.blob.path, offset, line, "PEM", label, True, algorithm, None, None, True,
                                     "encrypted-blob-sha256:" + hashlib.sha256(der).hexdigest(), None,
                                     self._host_key()))
        else:
            self._pkey(offset, line, ("PEM", label), serialization.load_der_private_key(der, None))

    def _der(self, der: bytes) -> None:
        def parse() -> None:
            loaders: tuple[Callable[[], object], ...] = (
                lambda: x509.load_der_x509_certificate(der), lambda: serialization.load_der_private_key(der, None),
                lambda: serialization.load_der_public_key(der))
            for load in loaders:
                try:
                    item = load()
                except (ValueError, TypeError, UnsupportedAlgorithm):
                    continue
                if isinstance(item, x509.Certificate):
                    self.certs.append(_cert(self.blob.path, 0, None, der, item))
                else:
                    self._pkey(0, None, ("DER", "DER"), item)
                return
            if self._key_suffix():
                raise ValueError("neither a certificate nor a key")
        self._guard(0, "DER object", parse)

    def _pkey(self, offset: int, line: int | None, where: tuple[str, str], key: object) -> None:
        private = hasattr(key, "private_bytes")
        pub = key.public_key() if private else key  # type: ignore[attr-defined]
        algorithm, bits, curve = _describe(pub)
        spki = _spki(pub)
        host = self._host_key()
        fingerprint = spki or "unknown"
        if host and (ssh := ssh_blob_of(pub)) is not None:
            fingerprint = ssh_fingerprint(ssh)
        self.keys.append(KeyInfo(self.blob.path, offset, line, where[0], where[1], private, algorithm, bits, curve,
                                 False, fingerprint, spki, host and private))

    def _ssh_key(self, offset: int, container: str, pub: bytes, encrypted: bool) -> None:
        algorithm, bits, curve = ssh_describe(pub)
        spki = None
        with contextlib.suppress(ValueError, UnsupportedAlgorithm):
            spki = _spki(serialization.load_ssh_public_key(ssh_line(pub)))
        host = self._host_key() or container == "dropbear"
        self.keys.append(KeyInfo(self.blob.path, offset, self._line(offset), container, f"{container} private key",
                                 True, algorithm, bits, curve, encrypted, ssh_fingerprint(pub), spki, host))

    def _host_key(self) -> bool:
        path = self.blob.path
        return bool(_HOST_KEY.search(posixpath.basename(path).lower())) or path.startswith(_SSH_DIRS)


def _raise(reason: str) -> Callable[[], None]:
    def fail() -> None:
        raise ValueError(reason)
    return fail


def _cert(path: str, offset: int, line: int | None, der: bytes, cert: x509.Certificate | None = None) -> CertInfo:
    cert = cert or x509.load_der_x509_certificate(der)
    self_signed = _self_signed(cert)
    try:
        ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:  # a v1 root has no extensions at all
        ca = cert.version is x509.Version.v1 and self_signed
    except ValueError:  # malformed or duplicate extensions: not a CA anyone's software would accept
        ca = False
    try:
        pub = cert.public_key()
        (algorithm, bits, curve), spki = _describe(pub), _spki(pub)
    except (ValueError, UnsupportedAlgorithm):
        (algorithm, bits, curve), spki = ("unknown", None, None), None
    sig_name = cert.signature_algorithm_oid._name
    try:
        sig_hash = cert.signature_hash_algorithm.name if cert.signature_hash_algorithm else None
    except UnsupportedAlgorithm:  # MD2, MD4, ...: named by the OID
        sig_hash = next((h for h in ("md2", "md4", "md5", "sha1") if sig_name.lower().startswith(h)), None)
    return CertInfo(path, offset, line, cert.subject.rfc4514_string(), cert.issuer.rfc4514_string(), self_signed,
                    ca, cert.not_valid_before_utc, cert.not_valid_after_utc, sig_name, sig_hash, algorithm, bits,
                    curve, hashlib.sha256(der).hexdigest(), spki)


def _self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except InvalidSignature:
        return False
    except (ValueError, TypeError, UnsupportedAlgorithm):  # e.g. MD5: the names alone say it
        return True
    return True


def _describe(pub: object) -> tuple[str, int | None, str | None]:
    if isinstance(pub, rsa.RSAPublicKey):
        return "RSA", pub.key_size, None
    if isinstance(pub, dsa.DSAPublicKey):
        return "DSA", pub.key_size, None
    if isinstance(pub, ec.EllipticCurvePublicKey):
        return "EC", pub.curve.key_size, pub.curve.name
    for kind, name, bits in ((ed25519.Ed25519PublicKey, "Ed25519", 256), (ed448.Ed448PublicKey, "Ed448", 456),
                             (x25519.X25519PublicKey, "X25519", 256), (x448.X448PublicKey, "X448", 448)):
        if isinstance(pub, kind):
            return name, bits, None
    return "unknown", None, None


def _spki(pub: object) -> str | None:
    try:
        der = pub.public_bytes(serialization.Encoding.DER,  # type: ignore[attr-defined]
                               serialization.PublicFormat.SubjectPublicKeyInfo)
    except (ValueError, AttributeError, UnsupportedAlgorithm):
        return None
    return hashlib.sha256(der).hexdigest()


def _der_span(data: bytes) -> int | None:
    """Length of the DER SEQUENCE that starts ``data`` (header included), if it plausibly is one."""
    if len(data) < 2 or data[0] != 0x30:
        return None
    first = data[1]
    if first < 0x80:
        span = 2 + first
    elif 0x81 <= first <= 0x83 and len(data) >= 2 + (first & 0x7F):
        n = first & 0x7F
        span = 2 + n + int.from_bytes(data[2:2 + n], "big")
    else:
        return None
    return span if 16 <= span <= MAX_BLOCK else None


def _trust_store(path: str) -> bool:
    return path.startswith(_TRUST_DIRS) or posixpath.basename(path) in _TRUST_NAMES or path == "/etc/ssl/cert.pem"

