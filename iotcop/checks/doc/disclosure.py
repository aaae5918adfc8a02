"""Document checks on the vulnerability disclosure policy (guideline 2; EN 303 645 5.2-1; PSTI Schedule 1
paragraph 2)."""

from __future__ import annotations

from collections.abc import Iterator

from iotcop.checks.doc.securitytxt import tried, usable_policy
from iotcop.checks.registry import check, spec_of
from iotcop.documents.facts import VendorDocuments
from iotcop.errors import CannotAssess
from iotcop.model import Evidence, EvidenceKind, Finding, Location, Severity


@check(
    id="doc.disclosure.no-policy",
    title="No vulnerability disclosure policy is published",
    kind=EvidenceKind.DOCUMENT,
    severity=Severity.HIGH,
    remediation="Publish a vulnerability disclosure policy: how to report, and when reporters can expect an "
                "acknowledgement and status updates; link it from security.txt's Policy field.",
)
def no_policy(docs: VendorDocuments) -> Iterator[Finding]:
    """EN 303 645 5.2-1 and the PSTI regulations require a published disclosure policy with a contact point.
    A policy is looked for where security.txt points and in the documents given; a page that says nothing
    about reporting vulnerabilities is not one."""
    if not (docs.sources.sites or docs.sources.policies or docs.sources.security_txt):
        raise CannotAssess("neither the vendor's site nor a disclosure policy was given (--site URL or --policy "
                           "URL|FILE)")
    if usable_policy(docs):
        return
    read = [p for p in docs.policies if not p.error]
    failed = [p for p in docs.policies if p.error]
    if failed and not read:
        raise CannotAssess("the policy document(s) could not be read: " +
                           "; ".join(f"{p.source}: {p.error}" for p in failed))
    if docs.not_fetched and not read:
        raise CannotAssess("security.txt points to a policy outside the scope: " + "; ".join(docs.not_fetched))
    sec = docs.security_txt
    what = (f"the document(s) given say nothing about reporting vulnerabilities ({', '.join(p.source for p in read)})"
            if read else "security.txt has no Policy field" if sec and sec.found else
            "no security.txt and no policy document were found")
    given = [*docs.sources.sites, *docs.sources.policies, *(source for _, source in docs.sources.documents)]
    where = read[0].source if read else (sec.source if sec else given[0] if given else "the documents given")
    yield spec_of(no_policy).finding(
        message=f"No vulnerability disclosure policy was found: {what}.",
        location=Location(kind="url" if where.startswith("http") else "document", path=where),
        evidence=Evidence.of(tried(sec) if sec else where, "documents fetched and read for a disclosure policy"))


@check(
    id="doc.disclosure.no-timelines",
    title="The disclosure policy does not say how to report or when reporters hear back",
    kind=EvidenceKind.DOCUMENT,
    severity=Severity.MEDIUM,
    remediation="State in the policy how to report (an address or form), and when a reporter can expect an "
                "acknowledgement and status updates (e.g. 'within 5 working days', 'every 14 days').",
)
def no_timelines(docs: VendorDocuments) -> Iterator[Finding]:
    """PSTI (Schedule 1, paragraph 2) requires the policy to say how to report and WHEN a reporter can expect
    an acknowledgement of receipt and status updates until resolution. A promise without a time is not a when."""
    policy = usable_policy(docs)
    if policy is None:
        raise CannotAssess("no disclosure policy was found to read (see doc.disclosure.no-policy)")
    reading = policy.reading
    sec_contacts = docs.security_txt.contacts if docs.security_txt and docs.security_txt.found else []
    gaps = []
    if reading.route is None and not sec_contacts:
        gaps.append("how to report (no address, form or link)")
    for element, label in ((reading.acknowledgement, "an acknowledgement"), (reading.status_updates,
                                                                             "status updates")):
        if element is None:
            gaps.append(f"that reports get {label}")
        elif not element.has_timeline:
            gaps.append(f"when reporters get {label} (line {element.line} promises it without a time: "
                        f"\u201c{element.excerpt}\u201d)")
    if not gaps:
        return
    found = [e for e in (reading.route, reading.acknowledgement, reading.status_updates) if e]
    yield spec_of(no_timelines).finding(
        message=f"The disclosure policy at {policy.source} does not state " + "; ".join(gaps) + ".",
        location=Location(kind="url" if policy.source.startswith("http") else "document", path=policy.source,
                          line=found[0].line if found else None),
        evidence=Evidence.of("\n".join(f"line {e.line} ({e.name}): {e.excerpt}" for e in found) or
                             "\n".join(policy.text.lines[:10]), "policy read sentence by sentence"))
