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
    (re.compile(r"^\{htdigest\}"), Scheme("htdigest", "HTTP digest (MD5 of user:realm:password)", True,
                                          "an unsalted MD5 of a guessable string, fast to brute-force")),
    (re.compile(r"^\{mosquitto-sha512\}"), Scheme("mosquitto-sha512", "Mosquitto salted SHA-512", True,
                                                  "a single SHA-512 round, fast to brute-force")),
    (re.compile(r"^\{mosquitto-pbkdf2\}1?\d{1,3}\$"), Scheme(
        "mosquitto-pbkdf2", "Mosquitto PBKDF2-SHA512", True,
        "fewer than 2,000 PBKDF2 iterations (Mosquitto's default is 101; OWASP advises 210,000)")),
    (re.compile(r"^\{mosquitto-pbkdf2\}"), Scheme("mosquitto-pbkdf2", "Mosquitto PBKDF2-SHA512", False)),
    (re.compile(r"^\{SHA\}"), Scheme("ldap-sha1", "unsalted SHA-1 ({SHA})", True,
                                     "unsalted: one lookup table cracks all")),
    (re.compile(r"^\{SSHA\}"), Scheme("ldap-ssha", "salted SHA-1 ({SSHA})", True,
                                      "a single SHA-1, fast to brute-force")),
    (re.compile(r"^[0-9a-fA-F]{32}$"), Scheme("md5", "unsalted MD5", True, "unsalted: one lookup table cracks all")),
    (re.compile(r"^[0-9a-fA-F]{40}$"), Scheme("sha1", "unsalted SHA-1", True, "unsalted: one lookup table cracks all")),
)

UNKNOWN = Scheme("unknown", "unknown scheme", False)

# Bounds on the work one crypt(3) call may do. A hash's cost is chosen by whoever wrote the file: a
# hostile image can ask for 999,999,999 SHA-512 rounds, bcrypt cost 31 or gigabytes of yescrypt memory,
# and a single verification would then run for hours. Ordinary settings stay far below these.
MAX_SHA_ROUNDS = 1_000_000  # libxcrypt default 5000
MAX_BCRYPT_COST = 14  # common 10-12
MAX_MEMORY = 256 * 1024 * 1024  # yescrypt/scrypt bytes; yescrypt default ('j9T') is 16 MiB
MAX_ITERATIONS = 1_000_000  # Sun MD5 rounds, BSDi DES iterations, Mosquitto PBKDF2 iterations
_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ROUNDS = re.compile(r"^\$(?:5|6|md5)[$,]rounds=(\d{1,12})[$,]")
_BCRYPT = re.compile(r"^\$2[abxy]\$(\d\d)\$")


def _b64(text: str) -> int:
    """crypt's little-endian base-64 integer (each character 6 bits); -1 if a character is not base 64."""
    if any(c not in _ITOA64 for c in text):
        return -1
    return sum(_ITOA64.index(c) << (6 * i) for i, c in enumerate(text))


def excessive_cost(hash_text: str) -> str | None:
    """Why verifying ``hash_text`` would cost more than the bounds above allow, or None if it does not."""
    if (m := _ROUNDS.match(hash_text)) and int(m[1]) > (MAX_ITERATIONS if "md5" in hash_text[:5]
                                                           else MAX_SHA_ROUNDS):
        return f"it asks for {int(m[1])} rounds"
    if (m := _BCRYPT.match(hash_text)) and int(m[1]) > MAX_BCRYPT_COST:
        return f"it asks for bcrypt cost {int(m[1])}"
    memory = None
    if hash_text.startswith(("$y$", "$gy$")):  # params 'j9T': flavour, log2(N) - 1, r - 1 (one char each)
        params = hash_text.split("$")[2] if hash_text.count("$") >= 3 else ""
        if len(params) >= 3:
            n_log2, r = _b64(params[1]) + 1, _b64(params[2]) + 1
            memory = 128 * r << n_log2 if n_log2 > 0 and 0 < r <= 48 else 1 << 62
    elif hash_text.startswith("$7$") and len(hash_text) >= 14:  # '$7$' log2(N) (1 char) r (5 chars)
        n_log2, r = _b64(hash_text[3]), _b64(hash_text[4:9])
        memory = 128 * r << n_log2 if n_log2 >= 0 and r >= 0 else 1 << 62
    if memory is not None and memory > MAX_MEMORY:
        return f"it asks for about {memory // 2**20} MiB of memory per attempt"
    if (m := re.match(r"^\{mosquitto-pbkdf2\}(\d{1,12})\$", hash_text)) and int(m[1]) > MAX_ITERATIONS:
        return f"it asks for {int(m[1])} PBKDF2 iterations"
    if hash_text.startswith("_") and len(hash_text) >= 5 and _b64(hash_text[1:5]) > MAX_ITERATIONS:
        return f"it asks for {_b64(hash_text[1:5])} DES iterations"
    return None


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
