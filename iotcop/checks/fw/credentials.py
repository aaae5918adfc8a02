"""Firmware checks on login accounts and their passwords (guideline 1; EN 303 645 5.1-1, 5.1-3)."""

from __future__ import annotations

from collections.abc import Iterator

from iotcop.checks.registry import check, spec_of
from iotcop.errors import CannotAssess
from iotcop.firmware.accounts import PASSWD, SHADOW, Account, Accounts
from iotcop.knowledge.credentials import DefaultCredentials, Unverifiable
from iotcop.knowledge.hashes import State, scheme_of
from iotcop.model import Evidence, EvidenceKind, Finding, Location, Severity


def _require_accounts(accounts: Accounts) -> None:
    if not accounts.sources:
        raise CannotAssess("no /etc/passwd or /etc/shadow in the image, so its login accounts cannot be read")


def _complete(accounts: Accounts, findings: list[Finding]) -> list[Finding]:
    """Findings stand on their own; "clean" needs /etc/passwd, since without it (a file made at run time,
    often a link into /tmp) accounts beyond those of /etc/shadow may exist."""
    if not findings and PASSWD not in accounts.sources:
        raise CannotAssess(f"no {PASSWD} in the image (only {SHADOW}), so not every login account can be read")
    return findings


def _redacted(account: Account) -> str:
    """The account line with the password field shortened: enough to recognise, not to reuse."""
    parts = account.raw_line.split(":")
    if len(parts) > 1 and len(parts[1]) > 12:
        parts[1] = parts[1][:12] + "…"
    return ":".join(parts)


@check(
    id="fw.credentials.empty-password",
    title="A login account has no password",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.CRITICAL,
    remediation="Ship no account without a password: lock it ('*' or '!') or require the user to set one "
                "at first use.",
)
def empty_password(accounts: Accounts) -> Iterator[Finding]:
    """An account whose password field is empty logs in with no password at all: the same universal
    default on every device, which EN 303 645 5.1-1 and the PSTI password requirement forbid."""
    _require_accounts(accounts)
    found = []
    for account in accounts.accounts:
        if account.state is State.EMPTY and account.can_log_in:
            who = (f"uid {account.uid}, shell {account.shell or '/bin/sh'}" if PASSWD in accounts.sources
                   else f"shell unknown: no {PASSWD}")
            found.append(spec_of(empty_password).finding(
                message=f"Account {account.name!r} ({who}) has an empty password field in "
                        f"{account.source_path}: it logs in without a password.",
                location=Location.in_image(account.source_path, line=account.line),
                evidence=Evidence.of(account.raw_line, f"parsed {account.source_path} (empty password field)"),
            ))
    yield from _complete(accounts, found)


@check(
    id="fw.credentials.default-password",
    title="An account ships with a publicly known default password",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.CRITICAL,
    remediation="Remove the shared password: generate a unique password per device (not derived from the MAC "
                "or serial without a keyed secret) or force the user to choose one before first use.",
)
def default_password(accounts: Accounts, defaults: DefaultCredentials) -> Iterator[Finding]:
    """A password hash shipped in the image that verifies against a public default-credential list (such
    as the Mirai botnet's) is a password every device shares and every attacker already tries. The
    password is shown: it is the proof, and it is already public."""
    _require_accounts(accounts)
    found, unverified = [], []
    for account in accounts.with_password_hash():
        try:
            password = defaults.verify(account.password_field, user=account.name)
        except Unverifiable as exc:  # a hostile or unusual cost setting: say so rather than call it clean
            unverified.append(f"{account.name!r} ({exc})")
            continue
        if password is None:
            continue
        sources = "; ".join(defaults.sources_of(password))
        shown = repr(password) if password else "'' (empty)"
        found.append(spec_of(default_password).finding(
            message=f"Account {account.name!r} has the publicly known password {shown} "
                    f"({scheme_of(account.password_field).name} hash verified). Listed in: {sources}.",
            location=Location.in_image(account.source_path, line=account.line),
            evidence=Evidence.of(_redacted(account), "hash verification against shipped default-credential lists"),
        ))
    if unverified and not found:
        raise CannotAssess("the password hashes of " + ", ".join(unverified) + " could not be verified")
    yield from _complete(accounts, found)


@check(
    id="fw.credentials.weak-hash",
    title="A password is stored with a weak hash scheme",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.MEDIUM,
    remediation="Store passwords with yescrypt, bcrypt or SHA-512 crypt (libxcrypt's recommended schemes).",
)
def weak_hash(accounts: Accounts) -> Iterator[Finding]:
    """DES crypt, MD5-crypt and unsalted digests can be brute-forced quickly once the file is read from a
    device or a downloaded image: authentication does not follow best-practice cryptography (5.1-3)."""
    _require_accounts(accounts)
    found = []
    for account in accounts.with_password_hash():
        scheme = scheme_of(account.password_field)
        if scheme.weak:
            found.append(spec_of(weak_hash).finding(
                message=f"Account {account.name!r} has a password hash of a weak scheme ({scheme.name}): {scheme.why}.",
                location=Location.in_image(account.source_path, line=account.line),
                evidence=Evidence.of(_redacted(account), f"hash scheme identified as {scheme.id}"),
            ))
    yield from _complete(accounts, found)
