"""Publicly known default credentials, as typed tables with their sources, and bounded verification.

Two lists ship as data: the Mirai botnet's credential list (decoded from its public source) and a short
list of vendor defaults documented in manuals. A shipped hash that verifies against one of them is a
default password every attacker already tries.
"""

from __future__ import annotations

import hashlib
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from iotcop.knowledge.hashes import excessive_cost, scheme_of

with warnings.catch_warnings():  # deprecated in 3.11, kept there; libxcrypt knows every scheme we meet
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt

DATA = Path(__file__).parent / "data"
MIRAI_SOURCE = "Mirai botnet scanner.c credential list (public source release, 2016)"


class Unverifiable(Exception):
    """A hash could not be tried against the whole list within the bounds; the message says why."""


@dataclass(frozen=True)
class Credential:
    user: str
    password: str
    source: str


@dataclass(frozen=True)
class DefaultCredentials:
    """The shipped default-credential tables."""

    entries: tuple[Credential, ...]
    seconds_per_hash: float = 10.0  # bound on verification work per account

    def passwords(self) -> list[str]:
        """Each distinct password once, in table order."""
        return list(dict.fromkeys(c.password for c in self.entries))

    def sources_of(self, password: str) -> list[str]:
        return sorted({c.source for c in self.entries if c.password == password})

    def verify(self, hash_text: str, user: str | None = None) -> str | None:
        """The default password that produces ``hash_text``, if any (bounded in time).

        Passwords listed for ``user`` are tried first. Raises ``Unverifiable`` when the hash asks for more
        work per attempt than ``hashes.excessive_cost`` allows, or when the time bound ends before the
        whole list was tried: a partial answer must never read as "no default password".
        """
        if (why := excessive_cost(hash_text)) is not None:
            raise Unverifiable(f"the hash was not tried: {why}")
        candidates = list(dict.fromkeys([c.password for c in self.entries if c.user == user] + self.passwords()))
        deadline = time.monotonic() + self.seconds_per_hash
        for tried, password in enumerate(candidates, 1):
            if matches(password, hash_text):
                return password
            if time.monotonic() > deadline and tried < len(candidates):
                raise Unverifiable(f"only {tried} of {len(candidates)} default passwords could be tried "
                                   f"within {self.seconds_per_hash:g} s")
        return None


def matches(password: str, hash_text: str) -> bool:
    """Whether ``password`` produces ``hash_text`` (crypt(3) schemes and unsalted hex digests)."""
    scheme = scheme_of(hash_text).id
    if scheme == "md5":
        return hashlib.md5(password.encode()).hexdigest() == hash_text.lower()  # verifying, not hashing
    if scheme == "sha1":
        return hashlib.sha1(password.encode()).hexdigest() == hash_text.lower()
    try:
        return crypt.crypt(password, hash_text) == hash_text
    except (OSError, ValueError):  # a scheme libxcrypt does not know, or a malformed setting
        return False


def parse_pairs(lines: Iterable[str], source: str) -> tuple[Credential, ...]:
    """'user:password' lines (empty password allowed; '#' comments)."""
    out = []
    for line in lines:
        line = line.rstrip("\n")
        if not line or line.startswith("#") or ":" not in line:
            continue
        user, _, password = line.partition(":")
        out.append(Credential(user, password, source))
    return tuple(out)


@cache
def default_credentials() -> DefaultCredentials:
    mirai = parse_pairs((DATA / "mirai-credentials.txt").read_text().splitlines(), MIRAI_SOURCE)
    vendor = tuple(Credential(str(e["user"]), str(e["password"]), str(e["source"]))
                   for e in yaml.safe_load((DATA / "vendor-defaults.yaml").read_text()))
    return DefaultCredentials(mirai + vendor)
