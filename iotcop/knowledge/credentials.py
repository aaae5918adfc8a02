"""Publicly known default credentials, as typed tables with their sources, and bounded verification.

Two lists ship as data: the Mirai botnet's credential list (decoded from its public source) and a short
list of vendor defaults documented in manuals. A shipped hash that verifies against one of them is a
default password every attacker already tries.
"""

from __future__ import annotations

import base64
import hashlib
import multiprocessing
import os
import time
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import yaml
from passlib.hash import apr_md5_crypt, ldap_salted_sha1, ldap_sha1

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
            if matches(password, hash_text, user):
                return password
            if time.monotonic() > deadline and tried < len(candidates):
                raise Unverifiable(f"only {tried} of {len(candidates)} default passwords could be tried "
                                   f"within {self.seconds_per_hash:g} s")
        return None


    def verify_all(self, items: Sequence[tuple[str, str | None]]) -> list[str | Unverifiable | None]:
        """``verify`` for many (hash, user) pairs: the answer, or the ``Unverifiable`` that stopped it.

        Each distinct pair is tried once; at most ``MAX_HASHES`` of them, and slow schemes share a budget
        of ``TOTAL_SECONDS`` (a hostile store of thousands of bcrypt hashes must not run for hours).
        Slow schemes (SHA-crypt, bcrypt, yescrypt: tens of milliseconds per attempt) are spread over the
        CPU cores in worker processes, since crypt(3) holds the GIL; fast ones run here.
        """
        distinct = list(dict.fromkeys(items))
        answers: dict[tuple[str, str | None], str | Unverifiable | None] = {
            item: Unverifiable(f"not tried: more than {MAX_HASHES} distinct hashes") for item in distinct[MAX_HASHES:]}
        tried = distinct[:MAX_HASHES]
        slow = [item for item in tried if scheme_of(item[0]).id not in FAST_SCHEMES]
        workers = min(len(slow), os.cpu_count() or 1)
        if slow:
            share = max(1.0, TOTAL_SECONDS * workers / len(slow))
            bounded = replace(self, seconds_per_hash=min(self.seconds_per_hash, share))
            if workers > 1:
                with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
                    answers.update(zip(slow, pool.map(bounded._try, slow), strict=True))
            else:
                answers.update((item, bounded._try(item)) for item in slow)
        answers.update((item, self._try(item)) for item in tried if item not in answers)
        return [answers[item] for item in items]

    def _try(self, item: tuple[str, str | None]) -> str | Unverifiable | None:
        try:
            return self.verify(*item)
        except Unverifiable as exc:
            return exc


MAX_HASHES = 500  # distinct hashes one assessment tries
TOTAL_SECONDS = 120.0  # CPU seconds per worker shared by all slow hashes

# Schemes cheap enough (well under a millisecond per attempt) that worker processes would cost more.
FAST_SCHEMES = frozenset({"md5crypt", "apr1", "descrypt", "bsdicrypt", "md5", "sha1", "htdigest", "mosquitto-sha512",
                          "ldap-sha1", "ldap-ssha", "unknown"})


def matches(password: str, hash_text: str, user: str | None = None) -> bool:
    """Whether ``password`` produces ``hash_text``: crypt(3) schemes (libxcrypt), Apache's apr1 and
    {SHA}/{SSHA} (passlib), unsalted hex digests, and the tagged forms of ``firmware.credstores``
    (HTTP digest needs the ``user``). Digests here verify a password; they protect nothing."""
    scheme = scheme_of(hash_text).id
    raw = password.encode()
    try:
        if scheme in ("md5", "sha1"):
            return hashlib.new(scheme, raw).hexdigest() == hash_text.lower()
        if scheme == "htdigest":
            realm, _, digest = hash_text.removeprefix("{htdigest}").rpartition(":")
            return hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest() == digest
        if scheme == "mosquitto-sha512":
            salt, _, digest = hash_text.removeprefix("{mosquitto-sha512}").partition("$")
            return hashlib.sha512(raw + base64.b64decode(salt)).digest() == base64.b64decode(digest)
        if scheme == "mosquitto-pbkdf2":
            rounds, salt, digest = hash_text.removeprefix("{mosquitto-pbkdf2}").split("$")
            return hashlib.pbkdf2_hmac("sha512", raw, base64.b64decode(salt), int(rounds)) == base64.b64decode(digest)
        if scheme == "apr1":
            return bool(apr_md5_crypt.verify(password, hash_text))
        if scheme in ("ldap-sha1", "ldap-ssha"):
            return bool((ldap_sha1 if scheme == "ldap-sha1" else ldap_salted_sha1).verify(password, hash_text))
        return crypt.crypt(password, hash_text) == hash_text
    except (OSError, ValueError, TypeError):  # an unknown scheme, a malformed setting or bad base 64
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
