"""Firmware checks for hard-coded credentials and secrets (EN 303 645 5.4-3; CoP guideline 4).

The scripts and configuration files are read once by ``iotcop.firmware.secrets.SecretScanner`` (facts
``Secrets``); binaries are judged from their ``ElfFiles`` facts. Secrets are never printed in full: the first
two characters and the length, except a publicly known default password, which is the proof and public.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from iotcop.checks.registry import check, spec_of
from iotcop.errors import CannotAssess
from iotcop.firmware.elf import ElfFiles, ElfInfo
from iotcop.firmware.secrets import Candidate, Secrets, redact
from iotcop.knowledge.credentials import DefaultCredentials
from iotcop.knowledge.tokens import TokenFormats
from iotcop.model import Evidence, EvidenceKind, Finding, Location, Severity

COMPARISONS = ("strcmp", "strncmp", "strcasecmp", "strncasecmp", "memcmp")
PROMPT = re.compile(r"(?i)\b(?:password|passwd|passcode|login|username)\b")
MIN_BINARY_PASSWORD = 5
# Default passwords that are also ordinary words or brand names: as a string in a binary they say nothing
# ("admin", "default" and "system" are in every menu and log message). Values of one repeated character
# ("00000000", "888888") are left out too: they are fill patterns and masks as often as passwords.
COMMON_WORDS = frozenset({"admin", "default", "support", "password", "service", "supervisor", "guest", "system",
                          "realtek", "dreambox", "raspberry", "fucker", "administrator", "manager", "operator",
                          "public", "private", "secret", "changeme", "letmein", "welcome"})


def _shown(c: Candidate, defaults: DefaultCredentials) -> str:
    if c.known_default is not None:
        return (f"The value is the publicly known default password {c.known_default!r} "
                f"(listed in: {'; '.join(defaults.sources_of(c.known_default))}).")
    return f"Value: {c.redacted}."


def _where(c: Candidate) -> str:
    return f"{c.path}:{c.line}" if c.line is not None else f"{c.path} at offset {c.offset}"


def _partial(secrets: Secrets, elves: ElfFiles | None = None) -> str:
    parts = [f"{p} was read only in part" for p in secrets.truncated[:5]]
    parts += list(elves.unparsed[:5]) if elves is not None else []
    return "; ".join(parts)


@check(
    id="fw.secrets.hardcoded-credential",
    title="A script or configuration file holds a hard-coded credential",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.HIGH,
    remediation="Remove the credential from the image: derive a per-device secret at provisioning (stored in "
                "protected storage) or have the user set it at first use; pass secrets to programs through "
                "files with restrictive permissions, never on command lines or in URLs.",
)
def hardcoded_credential(secrets: Secrets, defaults: DefaultCredentials) -> Iterator[Finding]:
    """A password, key or token written into a script or configuration file is the same on every device
    that runs the firmware and can be read by anyone who downloads the image: a hard-coded critical
    security parameter (EN 303 645 5.4-3) and, for a login, a universal default password (5.1-1).
    Documentation, templates, placeholders, variable references and stored hashes are not reported."""
    if not secrets.files:
        raise CannotAssess("no script or configuration file was read from the image")
    found = [spec_of(hardcoded_credential).finding(
        message=f"{_where(c)}: {c.reason}. {_shown(c, defaults)}",
        location=Location.in_image(c.path, line=c.line, offset=c.offset),
        evidence=Evidence.of(f"{c.name}: {c.known_default or c.redacted}", f"content scan ({c.kind} rule)"),
    ) for c in secrets.credentials()]
    if not found and secrets.truncated:
        raise CannotAssess("no credential in what was read, but " + _partial(secrets))
    yield from found


@check(
    id="fw.secrets.cloud-token",
    title="The image holds a cloud or API token",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.HIGH,
    remediation="Revoke the token now (it is public with the image). Give each device its own credential at "
                "provisioning, or have devices obtain short-lived tokens from a backend after authenticating.",
)
def cloud_token(secrets: Secrets, elves: ElfFiles, formats: TokenFormats) -> Iterator[Finding]:
    """An access key or API token of a cloud service, found by its documented format in a file or in the
    read-only strings of a program, gives whoever extracts it the product's access to that service: a
    hard-coded critical security parameter (EN 303 645 5.4-3). Documented example values are ignored."""
    if not secrets.files and not elves.files:
        raise CannotAssess("neither text files nor ELF binaries were read from the image")
    found = [spec_of(cloud_token).finding(
        message=f"{_where(c)}: {c.reason}. Value: {c.redacted}.",
        location=Location.in_image(c.path, line=c.line, offset=c.offset),
        evidence=Evidence.of(f"{c.name}: {c.redacted}", f"content scan ({c.kind})"),
    ) for c in secrets.tokens()]
    for elf in elves.files:
        seen: set[str] = set()
        for m in formats.scan("\n".join(elf.strings)):
            if m.value in seen:
                continue
            seen.add(m.value)
            fmt = m.format
            found.append(spec_of(cloud_token).finding(
                message=f"The read-only data of the program {elf.path} holds a string in the format of a {fmt.name} "
                        f"(source: {fmt.source}). Value: {redact(m.value)}.",
                location=Location.in_image(elf.path),
                evidence=Evidence.of(f"{fmt.name}: {redact(m.value)}", f"ELF string scan (token:{fmt.id})"),
            ))
    if not found and (secrets.truncated or elves.unparsed):
        raise CannotAssess("no token in what was read, but " + _partial(secrets, elves))
    yield from found


def distinctive(password: str) -> bool:
    """Whether a default password is worth looking for as a string in a binary (see COMMON_WORDS)."""
    return (len(password) >= MIN_BINARY_PASSWORD and password.lower() not in COMMON_WORDS
            and len(set(password)) > 1)


def _comparisons(elf: ElfInfo) -> list[str]:
    names = {name.split("@", 1)[0] for name in elf.imports}
    return [n for n in COMPARISONS if n in names]


@check(
    id="fw.secrets.binary-credential",
    title="A program compares input with a publicly known default password",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.MEDIUM,
    remediation="Remove the built-in password from the program: authenticate against per-device credentials "
                "set at provisioning or by the user, stored as a salted hash.",
)
def binary_credential(elves: ElfFiles, defaults: DefaultCredentials) -> Iterator[Finding]:
    """A program that holds a publicly known default password as a string constant, imports a string
    comparison function and shows login or password prompts most likely accepts that password: a backdoor
    or universal default password compiled in (EN 303 645 5.1-1, 5.4-3). Only distinctive passwords are
    looked for (five characters or more, not an ordinary word); statically linked programs, which import
    nothing, cannot be judged this way. The password is shown: it is public already."""
    if not elves.files:
        raise CannotAssess("no ELF program was parsed from the image")
    wanted = {p for p in defaults.passwords() if distinctive(p)}
    found = []
    for elf in elves.files:
        compares = _comparisons(elf)
        prompts = [s.strip() for s in elf.strings if len(s) <= 120 and PROMPT.search(s)]
        hits = sorted({s for s in elf.strings if s in wanted})
        if not (compares and prompts and hits):
            continue
        for password in hits:
            sources = "; ".join(defaults.sources_of(password))
            found.append(spec_of(binary_credential).finding(
                message=f"The program {elf.path} holds the publicly known default password {password!r} as a string "
                        f"constant, imports {', '.join(compares)} and shows the prompt {prompts[0]!r}: it most "
                        f"likely compares input with that password. Listed in: {sources}.",
                location=Location.in_image(elf.path),
                evidence=Evidence.of(f"string {password!r}; prompt {prompts[0]!r}; imports {', '.join(compares)}",
                                     "ELF read-only strings and imported functions"),
            ))
    if not found and elves.unparsed:
        raise CannotAssess("no program with a built-in default password among those parsed, but "
                           + "; ".join(elves.unparsed[:5]))
    yield from found
