"""Firmware checks on passwords: login accounts and the credential stores of services (guidelines 1 and 4;
EN 303 645 5.1-1, 5.1-3, 5.4-1, 5.6-7)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from iotcop.checks.registry import check, spec_of
from iotcop.errors import CannotAssess
from iotcop.firmware.accounts import PASSWD, SHADOW, Account, Accounts
from iotcop.firmware.credstores import CredentialStores
from iotcop.firmware.services import BootServices
from iotcop.knowledge.credentials import DefaultCredentials, Unverifiable
from iotcop.knowledge.hashes import State, scheme_of
from iotcop.model import Evidence, EvidenceKind, Finding, Location, Severity


def _require_accounts(accounts: Accounts) -> None:
    if not accounts.sources:
        raise CannotAssess("no /etc/passwd or /etc/shadow in the image, so its login accounts cannot be read")


def _complete(accounts: Accounts, findings: list[Finding]) -> list[Finding]:
    """Findings stand on their own; "clean" needs /etc/passwd, since without it (a file made at run time,
    often a link into /tmp) accounts beyond those of /etc/shadow may exist."""
    if not findings:
        _require_accounts(accounts)
    if not findings and PASSWD not in accounts.sources:
        raise CannotAssess(f"no {PASSWD} in the image (only {SHADOW}), so not every login account can be read")
    return findings


@dataclass(frozen=True)
class Held:
    """A secret as something holds it: a login account's password field or a service's stored password."""

    user: str
    secret: str
    plaintext: bool
    holder: str  # 'login account' or the service reading the store
    path: str
    line: int
    raw_line: str

    @property
    def who(self) -> str:
        return f"account {self.user!r}" if self.holder == "login account" else f"{self.holder} user {self.user!r}"

    @property
    def subject(self) -> str:
        """``who`` at the start of a sentence (a service's name keeps its own spelling: 'lighttpd')."""
        return "Account" + self.who[len("account"):] if self.holder == "login account" else self.who

    def location(self) -> Location:
        return Location.in_image(self.path, line=self.line)

    def redacted(self) -> str:
        """The line with the secret cut short: enough to recognise it, not to reuse it."""
        if not self.secret:
            return self.raw_line
        if self.secret not in self.raw_line:  # a tagged form ('{htdigest}realm:…'): cut the line's last field
            head, sep, tail = self.raw_line.rpartition(":")
            return head + sep + (tail[:12] + "…" if len(tail) > 12 else tail)
        if self.plaintext:
            cut = "***" if len(self.secret) <= 3 else self.secret[:2] + "…"
        else:
            cut = self.secret[:12] + "…" if len(self.secret) > 12 else self.secret
        head, _, tail = self.raw_line.rpartition(self.secret)  # the field is last on the line or after the user
        return head + cut + tail


def held_secrets(accounts: Accounts, stores: CredentialStores) -> list[Held]:
    """Every usable password hash of a login account, and every stored service credential."""
    out = [Held(a.name, a.password_field, False, "login account", a.source_path, a.line, a.raw_line)
           for a in accounts.with_password_hash()]
    out += [Held(c.user, c.secret, c.plaintext, c.service, c.source_path, c.line, c.raw_line) for c in stores.entries]
    return out


def _redacted(account: Account) -> str:
    return Held(account.name, account.password_field, False, "login account", account.source_path, account.line,
                account.raw_line).redacted()


@check(
    id="fw.credentials.empty-password",
    title="A login account or service user has no password",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.CRITICAL,
    remediation="Ship no account without a password: lock it ('*' or '!') or require the user to set one "
                "at first use.",
)
def empty_password(accounts: Accounts, stores: CredentialStores) -> Iterator[Finding]:
    """An account whose password field is empty logs in with no password at all: the same universal
    default on every device, which EN 303 645 5.1-1 and the PSTI password requirement forbid. A web or
    broker user stored with an empty password is the same."""
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
    for held in held_secrets(Accounts(), stores):
        if held.plaintext and held.secret == "":
            found.append(spec_of(empty_password).finding(
                message=f"{held.holder} user {held.user!r} has an empty password in {held.path}: it logs in "
                        "without a password.",
                location=held.location(), evidence=Evidence.of(held.raw_line, f"parsed {held.path}")))
    yield from _complete(accounts, found)


@check(
    id="fw.credentials.default-password",
    title="An account ships with a publicly known default password",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.CRITICAL,
    remediation="Remove the shared password: generate a unique password per device (not derived from the MAC "
                "or serial without a keyed secret) or force the user to choose one before first use.",
)
def default_password(accounts: Accounts, stores: CredentialStores, defaults: DefaultCredentials) -> Iterator[Finding]:
    """A password shipped in the image, as a hash or in clear text, that is on a public default-credential
    list (such as the Mirai botnet's) is a password every device shares and every attacker already tries.
    The password is shown: it is the proof, and it is already public. Hashes are verified in parallel,
    bounded in time per hash."""
    held = [h for h in held_secrets(accounts, stores) if h.secret]
    hashed = [h for h in held if not h.plaintext]
    answers = dict(zip(hashed, defaults.verify_all([(h.secret, h.user) for h in hashed]), strict=True))
    found, unverified = [], []
    for h in held:
        if h.plaintext:
            password: str | None = h.secret if defaults.sources_of(h.secret) else None
            how = "stored in clear text"
        else:
            answer = answers[h]
            if isinstance(answer, Unverifiable):  # a hostile or unusual cost: say so rather than call it clean
                unverified.append(f"{h.user!r} ({answer})")
                continue
            password, how = answer, f"{scheme_of(h.secret).name} hash verified"
        if password is None:
            continue
        shown = repr(password) if password else "'' (empty)"
        found.append(spec_of(default_password).finding(
            message=f"{h.subject} has the publicly known password {shown} ({how}). "
                    f"Listed in: {'; '.join(defaults.sources_of(password))}.",
            location=h.location(),
            evidence=Evidence.of(h.redacted(), "hash verification against shipped default-credential lists"
                                 if not h.plaintext else "compared with shipped default-credential lists"),
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
def weak_hash(accounts: Accounts, stores: CredentialStores) -> Iterator[Finding]:
    """DES crypt, MD5-crypt, Apache apr1, HTTP digest files and unsalted digests can be brute-forced quickly
    once the file is read from a device or a downloaded image: authentication does not follow
    best-practice cryptography (5.1-3), and the stored credential is not protected (5.4-1)."""
    found = []
    for h in held_secrets(accounts, stores):
        scheme = scheme_of(h.secret)
        if not h.plaintext and scheme.weak:
            found.append(spec_of(weak_hash).finding(
                message=f"{h.subject} has a password hash of a weak scheme ({scheme.name}): "
                        f"{scheme.why}.",
                location=h.location(),
                evidence=Evidence.of(h.redacted(), f"hash scheme identified as {scheme.id}"),
            ))
    yield from _complete(accounts, found)


@check(
    id="fw.credentials.plaintext-password",
    title="A service stores a password in clear text",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.HIGH,
    remediation="Store only a salted, slow hash of each password (e.g. htpasswd -B, BusyBox httpd with MD5 "
                "crypt at least, Mosquitto's mosquitto_passwd), and set it per device or at first use.",
)
def plaintext_password(stores: CredentialStores) -> Iterator[Finding]:
    """A password kept in clear text in the image is readable by anyone who downloads the firmware or reads
    the flash: credentials must be stored securely (5.4-1, guideline 4). The value is redacted here."""
    for h in held_secrets(Accounts(), stores):
        if h.plaintext and h.secret:
            yield spec_of(plaintext_password).finding(
                message=f"{h.subject} has its password stored in clear text in {h.path} "
                        f"({len(h.secret)} characters).",
                location=h.location(), evidence=Evidence.of(h.redacted(), f"parsed {h.path} as {h.holder} reads it"))


@check(
    id="fw.credentials.shared-hash",
    title="Several accounts share one password hash",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.MEDIUM,
    remediation="Give each account its own password; an identical salted hash means the same password was "
                "copied, so one cracked hash opens every account that shares it.",
)
def shared_hash(accounts: Accounts, stores: CredentialStores) -> Iterator[Finding]:
    """Salted hashes differ even for equal passwords; the same hash on several accounts or services means
    the value was copied between them: one guessed or leaked password opens all of them (5.1-1)."""
    groups: dict[str, list[Held]] = defaultdict(list)
    for h in held_secrets(accounts, stores):
        if not h.plaintext and h.secret:
            groups[h.secret].append(h)
    found = []
    for members in groups.values():
        if len({(m.user, m.holder) for m in members}) > 1:
            first, others = members[0], ", ".join(f"{m.who} ({m.path}:{m.line})" for m in members[1:])
            found.append(spec_of(shared_hash).finding(
                message=f"{first.subject} shares its password hash with {others}.",
                location=first.location(),
                evidence=Evidence.of(" | ".join(m.redacted() for m in members), "identical hash values compared")))
    yield from _complete(accounts, found)


@check(
    id="fw.credentials.extra-root-account",
    title="An account other than root has user id 0",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.HIGH,
    remediation="Remove the extra uid-0 account, or lock it and give it a nologin shell; use sudo-style "
                "privilege for maintenance instead of a second root.",
)
def extra_root_account(accounts: Accounts) -> Iterator[Finding]:
    """A second account with user id 0 is a full root login under another name, often a vendor's
    maintenance backdoor that survives a change of root's password (5.6-7 least privilege)."""
    _require_accounts(accounts)
    if PASSWD not in accounts.sources:
        raise CannotAssess(f"no {PASSWD} in the image, so user ids cannot be read")
    for a in accounts.accounts:
        if a.uid == 0 and a.name != "root" and a.state is not State.LOCKED and a.can_log_in:
            state = "no password" if a.state is State.EMPTY else "a password"
            yield spec_of(extra_root_account).finding(
                message=f"Account {a.name!r} has uid 0 (root's privileges), {state} and the login shell "
                        f"{a.shell or '/bin/sh'}.",
                location=Location.in_image(a.source_path, line=a.line),
                evidence=Evidence.of(_redacted(a), f"parsed {PASSWD} (uid field)"))


# Programs a boot script would run to set a device's own password at first boot.
PASSWORD_SETTERS = ("chpasswd", "passwd", "mkpasswd", "usermod")


@check(
    id="fw.credentials.static-password-hash",
    title="A login account's password hash is fixed in the image",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.HIGH,
    remediation="Ship login accounts locked, and set a unique password per device at manufacture or make "
                "the user choose one at first use.",
)
def static_password_hash(accounts: Accounts, boot: BootServices) -> Iterator[Finding]:
    """A usable password hash in the firmware image is the same on every device that runs it: the password
    is not unique per device (5.1-1) even when it is on no public list, and it is recovered once for all
    devices by cracking the image. Where a boot script runs a password-setting program the password may be
    replaced at first boot: then the finding is an observation for review (INFO), not a failure."""
    _require_accounts(accounts)
    setters = boot.started(*PASSWORD_SETTERS)
    for a in accounts.with_password_hash():
        if not a.can_log_in:
            continue
        shell = f"shell {a.shell or '/bin/sh'}" if PASSWD in accounts.sources else f"shell unknown: no {PASSWD}"
        if setters:
            first = setters[0]
            yield spec_of(static_password_hash).finding(
                message=f"Account {a.name!r} ({shell}) has a password hash fixed in the image, but "
                        f"{first.path}:{first.line} runs {first.program} at boot and may replace it: review.",
                severity=Severity.INFO, location=Location.in_image(a.source_path, line=a.line),
                evidence=Evidence.of(_redacted(a), "parsed the password field and the boot commands"))
        else:
            yield spec_of(static_password_hash).finding(
                message=f"Account {a.name!r} ({shell}) has a {scheme_of(a.password_field).name} password hash "
                        "fixed in the image, and no boot script sets a new one: every device running this "
                        "firmware shares the password.",
                location=Location.in_image(a.source_path, line=a.line),
                evidence=Evidence.of(_redacted(a), "parsed the password field and the boot commands"))
