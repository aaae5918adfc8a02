"""Document checks on user guidance: deleting personal data, factory reset, secure set-up, changing the password
(guidelines 11 and 12; EN 303 645 5.11-1..5.11-4, 5.12-2, 5.12-3, 5.1-4).

A guide proves that instructions are published, never that the device does what they say: the checks on
published guidance (5.11-3, 5.12-2, 5.12-3) can pass; those on device functions (5.11-1, 5.11-2, 5.11-4,
5.1-4) can only fail, when the guidance is silent on the function or says it does not exist.
"""

from __future__ import annotations

from collections.abc import Iterator

from iotcop.checks.doc.privacy import location, partly, quote
from iotcop.checks.registry import check, spec_of
from iotcop.documents.privacy import GuidanceFacts, Statement
from iotcop.errors import CannotAssess
from iotcop.model import Evidence, EvidenceKind, Finding, Location, Severity

TECHNIQUE = "user guidance read sentence by sentence, instructions under their heading"


def _read(facts: GuidanceFacts, *roles: str) -> tuple[str, ...]:
    """The documents of these roles that were read; CannotAssess naming what to give otherwise."""
    if not any(facts.given_role(r) for r in roles):
        raise CannotAssess("no user guidance was given (give the user guide or support pages with "
                           f"--document {roles[0]}=URL_OR_FILE)")
    read = tuple(s for r in roles for s in facts.read(r))
    if not read:
        raise CannotAssess("the guidance document(s) could not be read: " +
                           "; ".join(f"{s}: {why}" for s, why in facts.unreadable))
    return read


def _where(read: tuple[str, ...], statement: Statement | None = None) -> Location:
    return location(statement.source, statement.line) if statement else location(read[0])


def _silent(facts: GuidanceFacts, read: tuple[str, ...], what: str) -> str:
    return (f"The guidance given ({', '.join(read)}) does not {what}{partly(facts)}; if another document does, "
            "give it too.")


@check(
    id="doc.deletion.no-instructions",
    title="No instructions for deleting personal data are published",
    kind=EvidenceKind.DOCUMENT,
    severity=Severity.LOW,
    remediation="Publish step-by-step instructions for deleting personal data from the device, the app and the "
                "associated services.",
)
def no_instructions(facts: GuidanceFacts) -> Iterator[Finding]:
    """EN 303 645 5.11-3: users get clear instructions on how to delete their personal data. Instructions
    are steps (open, tap, select, press...) under or beside a statement about deleting data, in the user
    guide or the privacy information; a sentence saying data can be deleted, without how, is not."""
    read = _read(facts, "guidance", "privacy")
    if facts.first("deletion", negated=False):
        return
    denial = facts.first("deletion", negated=True)
    yield spec_of(no_instructions).finding(
        message=_silent(facts, read, "say how to delete personal data") if denial is None else
        f"The guidance says personal data cannot be deleted (line {denial.line}: \u201c{denial.excerpt}\u201d).",
        location=_where(read, denial), evidence=Evidence.of(quote([denial]) if denial else
                                                            "no deletion steps found", TECHNIQUE))


@check(
    id="doc.deletion.no-factory-reset",
    title="The guidance does not say how to erase user data from the device",
    kind=EvidenceKind.DOCUMENT,
    severity=Severity.MEDIUM,
    remediation="Provide a simple way to erase user data from the device (a factory reset) and document it.",
)
def no_factory_reset(facts: GuidanceFacts) -> Iterator[Finding]:
    """EN 303 645 5.11-1: the user can erase user data from the device in a simple way, usually a factory
    reset. Guidance that says how shows the function is offered, not that it wipes the data, so this check
    never passes 5.11-1; guidance that says there is no reset, or is silent about it, fails it."""
    read = _read(facts, "guidance")
    if facts.first("reset", negated=False, role="guidance"):
        return
    denial = facts.first("reset", negated=True, role="guidance")
    message = (f"The guidance says the device cannot be reset (line {denial.line}: \u201c{denial.excerpt}\u201d)."
               if denial else _silent(facts, read, "describe a factory reset or another way to erase user data"))
    yield spec_of(no_factory_reset).finding(message=message, location=_where(read, denial), evidence=Evidence.of(
        quote([denial]) if denial else "no factory-reset or erase instructions found", TECHNIQUE))


@check(
    id="doc.deletion.no-service-data-deletion",
    title="The guidance does not say how to remove personal data from the associated services",
    kind=EvidenceKind.DOCUMENT,
    severity=Severity.LOW,
    remediation="Offer a function (device or app) that removes the user's personal data from the cloud service "
                "(e.g. delete the account) and document it.",
)
def no_service_data_deletion(facts: GuidanceFacts) -> Iterator[Finding]:
    """EN 303 645 5.11-2: a function lets the user remove personal data from associated services (the cloud
    account, stored recordings). Documentation cannot show that the function works: this check only fails
    5.11-2, when no document given says how data is removed from the service."""
    read = _read(facts, "guidance", "privacy")
    if facts.first("service_deletion", negated=False):
        return
    yield spec_of(no_service_data_deletion).finding(
        message=_silent(facts, read, "say how to remove personal data from the associated services (account, cloud)"),
        location=_where(read), evidence=Evidence.of("no account or cloud data deletion steps found", TECHNIQUE))


@check(
    id="doc.deletion.no-confirmation",
    title="The deletion instructions do not mention a confirmation",
    kind=EvidenceKind.DOCUMENT,
    severity=Severity.INFO,
    remediation="Confirm to the user that personal data has been deleted (a message or an e-mail), and say so in "
                "the instructions.",
)
def no_confirmation(facts: GuidanceFacts) -> Iterator[Finding]:
    """EN 303 645 5.11-4: users get clear confirmation that their personal data has been deleted. Whether
    the device or service confirms can only be seen by deleting; instructions that do not mention it are an
    observation for the reviewer, not a failure."""
    _read(facts, "guidance", "privacy")
    steps = facts.first("deletion", negated=False)
    if steps is None:
        raise CannotAssess("no deletion instructions were found (see doc.deletion.no-instructions)")
    if facts.of("confirmation"):
        return
    yield spec_of(no_confirmation).finding(
        message=f"The deletion instructions (line {steps.line}: \u201c{steps.excerpt}\u201d) do not say that the "
                "user is told when the deletion is complete.",
        location=_where((), steps), evidence=Evidence.of(quote(facts.of("deletion")), TECHNIQUE))


@check(
    id="doc.setup.no-secure-setup-guide",
    title="No guidance on setting the device up securely",
    kind=EvidenceKind.DOCUMENT,
    severity=Severity.LOW,
    remediation="Publish secure set-up guidance: the security steps (passwords, updates, network settings) and "
                "in what order to take them.",
)
def no_secure_setup_guide(facts: GuidanceFacts) -> Iterator[Finding]:
    """EN 303 645 5.12-2: users get guidance on how to set up the device securely. A heading or sentence on
    secure set-up with concrete security steps (a password, updates, Wi-Fi encryption, two-factor) is such
    guidance; "make sure the bracket is securely mounted" is not."""
    read = _read(facts, "guidance")
    if facts.first("secure_setup"):
        return
    yield spec_of(no_secure_setup_guide).finding(
        message=_silent(facts, read, "say how to set the device up securely"), location=_where(read),
        evidence=Evidence.of("no secure set-up section with security steps found", TECHNIQUE))


@check(
    id="doc.setup.no-setup-check-guide",
    title="No guidance on checking that the device is set up securely",
    kind=EvidenceKind.DOCUMENT,
    severity=Severity.LOW,
    remediation="Tell users how to check that the device is securely set up (e.g. a security status page, how "
                "to see the firmware version and whether updates are on).",
)
def no_setup_check_guide(facts: GuidanceFacts) -> Iterator[Finding]:
    """EN 303 645 5.12-3: users get guidance on how to check whether the device is securely set up."""
    read = _read(facts, "guidance")
    if facts.first("setup_check"):
        return
    yield spec_of(no_setup_check_guide).finding(
        message=_silent(facts, read, "say how to check that the device is set up securely"), location=_where(read),
        evidence=Evidence.of("no guidance on checking security settings, status or firmware found", TECHNIQUE))


@check(
    id="doc.credentials.no-change-instructions",
    title="The guidance does not say how to change the device's password",
    kind=EvidenceKind.DOCUMENT,
    severity=Severity.MEDIUM,
    remediation="Let users change the device's password in a simple way and say how in the user guide.",
)
def no_change_instructions(facts: GuidanceFacts) -> Iterator[Finding]:
    """EN 303 645 5.1-4: the user has a simple way to change the authentication value. Guidance stating that
    the password cannot be changed fails it; guidance silent about it is an observation (the way may exist);
    guidance describing it does not prove that it works, so this check never passes 5.1-4."""
    read = _read(facts, "guidance")
    if facts.first("password_change", negated=False):
        return
    denial = facts.first("password_change", negated=True)
    if denial is not None:
        yield spec_of(no_change_instructions).finding(
            message=f"The guidance says the password cannot be changed (line {denial.line}: "
                    f"\u201c{denial.excerpt}\u201d).", location=_where(read, denial),
            evidence=Evidence.of(quote([denial]), TECHNIQUE))
        return
    yield spec_of(no_change_instructions).finding(
        message=_silent(facts, read, "say how to change the device's password"), location=_where(read),
        severity=Severity.INFO, evidence=Evidence.of("no password-change instructions found", TECHNIQUE))
