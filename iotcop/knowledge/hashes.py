"""Password hash schemes as they appear in /etc/shadow and friends, and how strong each is.

Sources: crypt(5) of libxcrypt (prefixes and algorithm families); the weakness ratings follow its
"not recommended"/"deprecated" notes: DES crypt truncates to 8 characters with a 12-bit salt, MD5-crypt
and the unsalted hex digests are fast enough to brute-force on commodity GPUs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    HASH = "hash"  # a real hash: a password logs in
    EMPTY = "empty"  # no password at all: anyone logs in
    LOCKED = "locked"  # '!' / '*' / '!!' and friends: password login disabled
    SHADOWED = "shadowed"  # 'x' in passwd: look in shadow


@dataclass(frozen=True)
class Scheme:
    id: str
    name: str
    weak: bool
    why: str = ""


SCHEMES: tuple[tuple[re.Pattern[str], Scheme], ...] = (
    (re.compile(r"^\$y\$"), Scheme("yescrypt", "yescrypt", False)),
    (re.compile(r"^\$gy\$"), Scheme("gost-yescrypt", "gost-yescrypt", False)),
    (re.compile(r"^\$7\$"), Scheme("scrypt", "scrypt", False)),
    (re.compile(r"^\$2[abxy]\$"), Scheme("bcrypt", "bcrypt", False)),
    (re.compile(r"^\$6\$"), Scheme("sha512crypt", "SHA-512 crypt", False)),
    (re.compile(r"^\$5\$"), Scheme("sha256crypt", "SHA-256 crypt", False)),
    (re.compile(r"^\$1\$"), Scheme("md5crypt", "MD5 crypt", True,
                                  "MD5-crypt is fast to brute-force and deprecated by libxcrypt")),
    (re.compile(r"^\$apr1\$"), Scheme("apr1", "Apache MD5 (apr1)", True, "an MD5 construction, fast to brute-force")),
    (re.compile(r"^\$md5[,$]"), Scheme("sunmd5", "Sun MD5", True, "an MD5 construction, fast to brute-force")),
    (re.compile(r"^_[./0-9A-Za-z]{19}$"), Scheme("bsdicrypt", "BSDi extended DES", True,
                                                 "DES based, weak by modern standards")),
    (re.compile(r"^[./0-9A-Za-z]{13}$"), Scheme("descrypt", "traditional DES crypt", True,
                                                "DES crypt uses only the first 8 characters and a 12-bit salt")),
    (re.compile(r"^[0-9a-fA-F]{32}$"), Scheme("md5", "unsalted MD5", True, "unsalted: one lookup table cracks all")),
    (re.compile(r"^[0-9a-fA-F]{40}$"), Scheme("sha1", "unsalted SHA-1", True, "unsalted: one lookup table cracks all")),
)

UNKNOWN = Scheme("unknown", "unknown scheme", False)


def state_of(field: str) -> State:
    """What a password field means, from passwd(5) and shadow(5)."""
    if field == "":
        return State.EMPTY
    if field == "x":
        return State.SHADOWED
    if field[0] in "!*":
        return State.LOCKED
    return State.HASH


def scheme_of(hash_text: str) -> Scheme:
    for pattern, scheme in SCHEMES:
        if pattern.match(hash_text):
            return scheme
    return UNKNOWN
