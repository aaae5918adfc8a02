"""Signed results: an Ed25519 signature over the canonical JSON (RFC 8785, JCS) of an assessment.

Canonical JSON makes the signature about the assessment's *content*: re-indenting or re-ordering the keys
of the JSON file keeps it valid, while any change to a value (a finding's message, a verdict) breaks it.

The signature is a detached file, a small JSON document (``iotcop-signature/1``) with the algorithm, the
key id (SHA-256 of the raw 32-byte public key), the canonical SHA-256 of the assessment, the tool version
and the signature. The signature covers the canonical JSON of that document without its ``signature``
member, so every field in it is authenticated and verification can tell apart "the report was changed"
(the signed digest no longer matches) from "the signature file was altered" and "signed by another key".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from iotcop._version import __version__
from iotcop.errors import InputError, UsageError

SIGNATURE_FORMAT = "iotcop-signature/1"
ALGORITHM = "Ed25519"
CANONICALIZATION = "RFC 8785 (JCS)"
PASSPHRASE_ENV = "IOTCOP_KEY_PASSPHRASE"
MAX_SIGNATURE_FILE = 64 * 1024  # a real one is ~400 bytes: anything larger is not one
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class VerifyProblem(StrEnum):
    """Why a report does not verify."""

    NOT_A_SIGNATURE = "not-a-signature"
    WRONG_KEY = "wrong-key"
    SIGNATURE_ALTERED = "signature-altered"
    REPORT_CHANGED = "report-changed"


@dataclass(frozen=True)
class Verification:
    """The answer of ``verify``: ``problem`` is None when the report is exactly what was signed."""

    problem: VerifyProblem | None
    message: str
    key_id: str | None = None
    verification_code: str | None = None

    @property
    def valid(self) -> bool:
        return self.problem is None


# --- canonical JSON ---------------------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):  # parsers disagree on which one wins: a signed value must be unambiguous
        dup = sorted({k for k in keys if keys.count(k) > 1})[0]
        raise ValueError(f"duplicate key {dup!r}")
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(data: bytes) -> Any:
    """Strict JSON: UTF-8, no duplicate keys, no NaN/Infinity. Raises ValueError (incl. decode errors)."""
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical bytes of a JSON value. Raises ValueError for values JCS cannot represent."""
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, RecursionError) as exc:
        raise ValueError(f"cannot be canonicalized: {exc}") from exc


def canonical_sha256(report: bytes) -> str:
    """Hex SHA-256 of the canonical JSON of a JSON document (ValueError when it is not strict JSON)."""
    return hashlib.sha256(canonical_json(parse_json(report))).hexdigest()


# --- keys -------------------------------------------------------------------------------------------------


def key_id(public_key: Ed25519PublicKey) -> str:
    """The key's fingerprint: SHA-256 of its raw 32 bytes, in hex."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def generate_keypair(private_path: Path, public_path: Path, passphrase: bytes | None = None,
                     force: bool = False) -> str:
    """Write a new Ed25519 key pair (private: PEM PKCS#8, mode 0600, encrypted when a passphrase is given;
    public: PEM SubjectPublicKeyInfo) and return its key id. Existing files are kept unless ``force``."""
    if private_path.resolve() == public_path.resolve():
        raise UsageError("the private and the public key need different files")
    if not force:
        for path in (private_path, public_path):
            if path.exists() or path.is_symlink():
                raise UsageError(f"{path} exists: not overwriting it (use --force to replace it)")
    key = Ed25519PrivateKey.generate()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption())
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    _write(private_path, private_pem, 0o600, force)
    _write(public_path, public_pem, 0o644, force)
    return key_id(key.public_key())


def _write(path: Path, data: bytes, mode: int, force: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL) | getattr(os, "O_NOFOLLOW", 0)
    try:
        if force and path.is_symlink():
            path.unlink()
        fd = os.open(path, flags, mode)
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)  # an existing file replaced with --force gets the mode too
            handle.write(data)
    except FileExistsError:
        raise UsageError(f"{path} exists: not overwriting it (use --force to replace it)") from None
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc


def load_private_key(pem: bytes, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase or None)
    except TypeError as exc:  # encrypted without a passphrase, or a passphrase for a plain key
        if passphrase:
            raise UsageError("the private key is not encrypted: unset the passphrase") from exc
        raise UsageError(f"the private key is encrypted: set its passphrase in ${PASSPHRASE_ENV}") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        hint = " or the passphrase is wrong" if passphrase else ""
        raise UsageError(f"not a PEM private key{hint}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError(f"the private key is not an {ALGORITHM} key (it is {type(key).__name__})")
    return key


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise UsageError("not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise UsageError(f"the public key is not an {ALGORITHM} key (it is {type(key).__name__})")
    return key


# --- sign and verify --------------------------------------------------------------------------------------


def sign(report: bytes, key: Ed25519PrivateKey) -> bytes:
    """The detached signature file (JSON bytes) for an assessment. Raises InputError when ``report`` is not
    a valid iotcop assessment: only assessments are signed."""
    from pydantic import ValidationError

    from iotcop.reports.json import load_assessment

    try:
        digest = canonical_sha256(report)
        load_assessment(report)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError too
        count = f"{exc.error_count()} problem(s)" if isinstance(exc, ValidationError) else str(exc)
        raise InputError(f"not a valid iotcop assessment ({count})") from exc
    document: dict[str, Any] = {
        "format": SIGNATURE_FORMAT,
        "algorithm": ALGORITHM,
        "canonicalization": CANONICALIZATION,
        "key_id": key_id(key.public_key()),
        "assessment_sha256": digest,
        "tool": {"name": "iotcop", "version": __version__},
    }
    document["signature"] = base64.b64encode(key.sign(canonical_json(document))).decode()
    return (json.dumps(document, indent=2) + "\n").encode()


_FIELDS = {"format": str, "algorithm": str, "canonicalization": str, "key_id": str, "assessment_sha256": str,
           "tool": dict, "signature": str}


def read_signature(data: bytes) -> tuple[dict[str, Any], bytes]:
    """The signature document and the raw signature; ValueError with the reason when it is not one."""
    if len(data) > MAX_SIGNATURE_FILE:
        raise ValueError(f"larger than {MAX_SIGNATURE_FILE} bytes")
    try:
        doc = parse_json(data)
    except ValueError as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != SIGNATURE_FORMAT:
        raise ValueError(f"no \"format\": \"{SIGNATURE_FORMAT}\" member")
    for name, kind in _FIELDS.items():
        if not isinstance(doc.get(name), kind):
            raise ValueError(f"member {name!r} is missing or not a {kind.__name__}")
    if doc["algorithm"] != ALGORITHM:
        raise ValueError(f"algorithm {doc['algorithm']!r} is not supported (only {ALGORITHM})")
    try:
        signature = base64.b64decode(doc["signature"], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the signature is not base64") from None
    if len(signature) != 64:
        raise ValueError(f"the signature has {len(signature)} bytes, an {ALGORITHM} signature has 64")
    return doc, signature


def verify(report: bytes, signature_file: bytes, public_key: Ed25519PublicKey) -> Verification:
    """Whether ``report`` is exactly the assessment that was signed with the key, and if not, why."""
    try:
        doc, signature = read_signature(signature_file)
    except ValueError as exc:
        return Verification(VerifyProblem.NOT_A_SIGNATURE, f"not a signature file: {exc}")
    expected = key_id(public_key)
    if doc["key_id"] != expected:
        return Verification(VerifyProblem.WRONG_KEY, f"signed by a different key (key id {doc['key_id']}, "
                            f"expected {expected})", key_id=doc["key_id"])
    unsigned = {k: v for k, v in doc.items() if k != "signature"}
    try:
        public_key.verify(signature, canonical_json(unsigned))
    except (InvalidSignature, ValueError):
        return Verification(VerifyProblem.SIGNATURE_ALTERED, "the signature file was altered or damaged after signing "
                            "(its signature does not match its contents)", key_id=expected)
    try:
        digest = canonical_sha256(report)
    except ValueError as exc:
        return Verification(VerifyProblem.REPORT_CHANGED, f"the report was changed after signing (it is no longer "
                            f"valid JSON: {exc})", key_id=expected)
    if digest != doc["assessment_sha256"]:
        return Verification(VerifyProblem.REPORT_CHANGED, "the report was changed after signing (its canonical "
                            f"SHA-256 is {digest}, the signed one {doc['assessment_sha256']})", key_id=expected)
    code = verification_code(signature)
    return Verification(None, f"valid: signed by key {expected}; verification code {code}", key_id=expected,
                        verification_code=code)


# --- the human verification code --------------------------------------------------------------------------


def verification_code(signature: bytes) -> str:
    """10 Crockford base32 characters of SHA-256(signature), grouped XXXXX-XXXXX (50 bits): short enough to
    print on a label and type in, tied to one signed result."""
    bits = int.from_bytes(hashlib.sha256(signature).digest()[:7], "big") >> 6  # the first 50 bits
    chars = "".join(_CROCKFORD[(bits >> (5 * i)) & 31] for i in reversed(range(10)))
    return f"{chars[:5]}-{chars[5:]}"


def verification_code_of(signature_file: bytes) -> str:
    """The verification code of a signature file (UsageError when it is not one). It does not verify
    anything: verify first, then print the code."""
    try:
        _, signature = read_signature(signature_file)
    except ValueError as exc:
        raise UsageError(f"not a signature file: {exc}") from None
    return verification_code(signature)
