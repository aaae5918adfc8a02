"""Document checks on security.txt (RFC 9116): where vulnerability reporters look first (5.2-1)."""

from __future__ import annotations

from collections.abc import Iterator

from iotcop.checks.registry import check, spec_of
from iotcop.documents.facts import PolicyDocument, VendorDocuments
from iotcop.documents.securitytxt import SecurityTxt
from iotcop.errors import CannotAssess
from iotcop.model import AssessmentTime, Evidence, EvidenceKind, Finding, Location, Severity

_TECH = "fetched from the vendor's site and parsed per RFC 9116 (sectxt)"


def _where(sec: SecurityTxt, line: int | None = None) -> Location:
    kind = "url" if sec.source.lower().startswith(("http://", "https://")) else "document"
    return Location(kind=kind, path=sec.source, line=line)


def tried(sec: SecurityTxt) -> str:
    return "; ".join(f"{url}: {outcome}" for url, outcome in sec.tried)


def _security_txt(docs: VendorDocuments) -> SecurityTxt:
    if docs.security_txt is None:
        raise CannotAssess("no vendor site or security.txt file was given (--site URL or --security-txt FILE)")
    return docs.security_txt


def usable_policy(docs: VendorDocuments) -> PolicyDocument | None:
    return next((p for p in docs.policies if not p.error and p.reading.is_policy), None)


@check(
    id="doc.securitytxt.missing",
    title="The vendor publishes no security.txt",
    kind=EvidenceKind.DOCUMENT,
    severity=Severity.MEDIUM,
    remediation="Publish /.well-known/security.txt (RFC 9116) over HTTPS with a Contact, an Expires date and a "
                "Policy link to the vulnerability disclosure policy.",
)
def missing(docs: VendorDocuments) -> Iterator[Finding]:
    """security.txt is where researchers and tools look first for how to report a vulnerability. Without it
    a reporter must search the site, and reports get lost. When a disclosure policy was found another way,
    its absence is an observation, not a failure."""
    sec = _security_txt(docs)
    if sec.found:
        return
    policy = usable_policy(docs)
    yield spec_of(missing).finding(
        severity=Severity.INFO if policy else Severity.MEDIUM,
        message="No security.txt was found at any location RFC 9116 allows" +
                (f"; a disclosure policy was found at {policy.source}." if policy else "."),
        location=_where(sec), evidence=Evidence.of(tried(sec), _TECH))


@check(
    id="doc.securitytxt.not-https",
    title="security.txt is not served over HTTPS with a valid certificate",
    kind=EvidenceKind.DOCUMENT,
    severity=Severity.MEDIUM,
    remediation="Serve security.txt over HTTPS with a certificate that validates (RFC 9116 section 3); a "
                "reporter must be able to trust the contact details it gives.",
)
def not_https(docs: VendorDocuments) -> Iterator[Finding]:
    """RFC 9116 requires HTTPS: over plain HTTP, or with a certificate that does not validate, anyone on the
    path can replace the contact details and receive the vulnerability reports."""
    sec = _security_txt(docs)
    if not sec.found:
        raise CannotAssess("no security.txt was found, so how it is served cannot be judged")
    if sec.served_https is None:
        raise CannotAssess(f"security.txt was given as a file ({sec.source}); how the vendor serves it is unknown")
    if sec.served_https:
        return
    why = f"its certificate did not validate ({sec.tls_error})" if sec.tls_error else "it is served over plain HTTP"
    yield spec_of(not_https).finding(message=f"security.txt was found at {sec.source}, but {why}.",
                                     location=_where(sec), evidence=Evidence.of(tried(sec), _TECH))


@check(
    id="doc.securitytxt.no-contact",
    title="security.txt gives no usable contact",
    kind=EvidenceKind.DOCUMENT,
    severity=Severity.HIGH,
    remediation="Add at least one Contact field: a mailto: address, an https: URL of a reporting form, or a "
                "tel: number (RFC 9116 section 2.5.3).",
)
def no_contact(docs: VendorDocuments) -> Iterator[Finding]:
    """A Contact is the one thing security.txt exists for; without a usable one (mailto:, https:, tel:), a
    reporter has no route to the vendor (5.2-1, PSTI: information on how to report)."""
    sec = _security_txt(docs)
    if not sec.found:
        raise CannotAssess("no security.txt was found")
    usable = [c for c in sec.contacts if c.value.lower().startswith(("mailto:", "https://", "tel:"))]
    if usable:
        return
    shown = "; ".join(f"line {c.line}: {c.value}" for c in sec.contacts) or "no Contact field at all"
    yield spec_of(no_contact).finding(
        message="security.txt has no Contact a reporter can use (mailto:, https: or tel:): " + shown + ".",
        location=_where(sec, sec.contacts[0].line if sec.contacts else None),
        evidence=Evidence.of(sec.text[:800], _TECH))


@check(
    id="doc.securitytxt.expired",
    title="security.txt has expired or states no expiry",
    kind=EvidenceKind.DOCUMENT,
    severity=Severity.MEDIUM,
    remediation="Set Expires to a date less than a year ahead and renew it before it passes (RFC 9116 2.5.5).",
)
def expired(docs: VendorDocuments, now: AssessmentTime) -> Iterator[Finding]:
    """Expires tells a reporter whether the contact details are still maintained: past it, RFC 9116 says the
    file must be treated as stale. A date more than a year ahead is against the RFC's advice (an observation)."""
    sec = _security_txt(docs)
    if not sec.found:
        raise CannotAssess("no security.txt was found")
    when, field = sec.expires()
    location = _where(sec, field.line if field else None)
    if field is None:
        yield spec_of(expired).finding(message="security.txt has no Expires field, which RFC 9116 requires.",
                                       location=location, evidence=Evidence.of(sec.text[:800], _TECH))
    elif when is None:
        yield spec_of(expired).finding(message=f"Expires is not an RFC 3339 date: {field.value!r}.",
                                       location=location, evidence=Evidence.of(field.value, _TECH))
    elif when < now.at:
        yield spec_of(expired).finding(
            message=f"security.txt expired on {when.date().isoformat()}, before this assessment "
                    f"({now.at.date().isoformat()}): its contact details must be treated as stale.",
            location=location, evidence=Evidence.of(f"Expires: {field.value}", _TECH))
    elif (when - now.at).days > 366:
        yield spec_of(expired).finding(
            severity=Severity.INFO, location=location, evidence=Evidence.of(f"Expires: {field.value}", _TECH),
            message=f"Expires is {(when - now.at).days} days ahead; RFC 9116 advises less than a year.")


@check(
    id="doc.securitytxt.invalid",
    title="security.txt breaks RFC 9116",
    kind=EvidenceKind.DOCUMENT,
    severity=Severity.INFO,
    remediation="Fix the fields the validator names; tools that read security.txt may otherwise ignore it.",
)
def invalid(docs: VendorDocuments) -> Iterator[Finding]:
    """Other RFC 9116 errors (wrong media type, legacy location, duplicate fields, a Canonical that does not
    match where the file is served, a broken signature block): tools and people may misread the file. They are
    observations: the file still gives a reporter a route, which is what 5.2-1 asks."""
    sec = _security_txt(docs)
    if not sec.found:
        raise CannotAssess("no security.txt was found")
    handled = {"no_contact", "no_expire", "invalid_expiry", "no_https", "invalid_cert", "invalid_uri_scheme"}
    if sec.legacy_location:
        yield spec_of(invalid).finding(message="security.txt is only at the legacy location /security.txt, not "
                                               "/.well-known/security.txt.",
                                       location=_where(sec), evidence=Evidence.of(tried(sec), _TECH))
    for problem in sec.problems:
        if problem.code in handled:
            continue
        yield spec_of(invalid).finding(message=f"{problem.message} ({problem.code})",
                                       location=_where(sec, problem.line),
                                       evidence=Evidence.of(_line(sec, problem.line), _TECH))


def _line(sec: SecurityTxt, line: int | None) -> str:
    lines = sec.text.splitlines()
    return lines[line - 1] if line and 0 < line <= len(lines) else sec.text[:400]
