"""SSH wire formats, parsed by hand and bounded: public key blobs, OpenSSH private key containers
(openssh-key-v1, whose public keys are in clear even when the private part is encrypted) and Dropbear's
own host key files. Every length is checked before it is used; malformed input raises ValueError.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

MAX_PRIVATE = 64 * 1024  # the private section of one container
MAX_FIELD = 16 * 1024  # one SSH wire-format string
OPENSSH_MAGIC = b"openssh-key-v1\0"
SSH_CURVES = {b"nistp256": ("secp256r1", 256), b"nistp384": ("secp384r1", 384), b"nistp521": ("secp521r1", 521)}
# dropbear's host key files: key type, then (public fields, private fields) as SSH strings/mpints
DROPBEAR = {b"ssh-rsa": (2, 3), b"ssh-dss": (4, 1), b"ecdsa-sha2-nistp256": (2, 1),
            b"ecdsa-sha2-nistp384": (2, 1), b"ecdsa-sha2-nistp521": (2, 1)}


def ssh_blob_of(pub: object) -> bytes | None:
    try:
        line = pub.public_bytes(serialization.Encoding.OpenSSH,  # type: ignore[attr-defined]
                                serialization.PublicFormat.OpenSSH)
    except (ValueError, AttributeError, UnsupportedAlgorithm):
        return None  # a curve SSH has no name for (P-192)
    return base64.b64decode(line.split()[1])


def ssh_fingerprint(blob: bytes) -> str:
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def ssh_line(blob: bytes) -> bytes:
    return ssh_string(blob, 0)[0] + b" " + base64.b64encode(blob)


def ssh_string(data: bytes, pos: int, limit: int = MAX_FIELD) -> tuple[bytes, int]:
    """One SSH wire-format string (also an mpint) at ``pos``, and the position after it."""
    if pos + 4 > len(data):
        raise ValueError("truncated SSH field")
    n = int.from_bytes(data[pos:pos + 4], "big")
    if n > limit or pos + 4 + n > len(data):
        raise ValueError("SSH field length out of bounds")
    return data[pos + 4:pos + 4 + n], pos + 4 + n


def encode_string(value: bytes) -> bytes:
    return len(value).to_bytes(4, "big") + value


def ssh_describe(blob: bytes) -> tuple[str, int | None, str | None]:
    """Algorithm, bits and curve of an SSH public key blob; ValueError if it is not one."""
    kind, pos = ssh_string(blob, 0, 64)
    if kind in (b"ssh-rsa", b"ssh-dss"):
        first, pos = ssh_string(blob, pos)
        second, pos = ssh_string(blob, pos)
        modulus = second if kind == b"ssh-rsa" else first  # RSA: e, n; DSA: p, q, g, y
        return ("RSA" if kind == b"ssh-rsa" else "DSA"), int.from_bytes(modulus, "big").bit_length(), None
    if kind.startswith(b"ecdsa-sha2-"):
        curve, pos = ssh_string(blob, pos, 64)
        if curve not in SSH_CURVES:
            raise ValueError("unknown SSH curve")
        name, bits = SSH_CURVES[curve]
        return "EC", bits, name
    if kind == b"ssh-ed25519" and len(ssh_string(blob, pos)[0]) == 32:
        return "Ed25519", 256, None
    raise ValueError("not an SSH public key")


def openssh_public_blobs(der: bytes) -> tuple[list[bytes], bool]:
    """Public key blobs of an openssh-key-v1 container (in clear even when the key is encrypted)."""
    if not der.startswith(OPENSSH_MAGIC):
        raise ValueError("not an openssh-key-v1 container")
    cipher, pos = ssh_string(der, len(OPENSSH_MAGIC), 64)
    _, pos = ssh_string(der, pos, 64)  # kdf name
    _, pos = ssh_string(der, pos, 1024)  # kdf options
    count, pos = int.from_bytes(der[pos:pos + 4], "big"), pos + 4
    if not 1 <= count <= 16:
        raise ValueError("implausible number of keys")
    blobs = []
    for _ in range(count):
        blob, pos = ssh_string(der, pos)
        ssh_describe(blob)
        blobs.append(blob)
    private, pos = ssh_string(der, pos, MAX_PRIVATE)
    if cipher == b"none" and (len(private) < 8 or private[:4] != private[4:8]):
        raise ValueError("the private section fails its check numbers")
    return blobs, cipher != b"none"


def dropbear_type(data: bytes) -> bytes | None:
    if data[:2] != b"\0\0" or len(data) < 8:
        return None
    kind = data[4:4 + int.from_bytes(data[:4], "big")]
    return kind if kind in DROPBEAR or kind == b"ssh-ed25519" else None


def dropbear_public_blob(data: bytes) -> tuple[bytes, bool]:
    """The public key blob of a dropbear host key file (never encrypted)."""
    kind, pos = ssh_string(data, 0, 64)
    if kind == b"ssh-ed25519":  # one string: 32 bytes of secret, then the 32 of the public key
        secret, _ = ssh_string(data, pos)
        if len(secret) != 64:
            raise ValueError("an Ed25519 key of the wrong length")
        return encode_string(kind) + encode_string(secret[32:]), False
    public, private = DROPBEAR[kind]
    start = pos
    for _ in range(public):
        _, pos = ssh_string(data, pos)
    end = pos
    for _ in range(private):
        _, pos = ssh_string(data, pos)
    blob = encode_string(kind) + data[start:end]
    ssh_describe(blob)
    return blob, False
