"""Gather the vendor's documents an assessment judges: security.txt and the disclosure policy.

Sources are what the user names: the vendor's site (security.txt is looked for where RFC 9116 puts it),
policy documents as URLs or files, a security.txt file. A Policy URL found in security.txt is followed only
when its host is in scope (a host the user named); otherwise it is listed as not fetched, with how to include it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from iotcop.documents.fetch import Fetched, Fetcher, Request, read_file
from iotcop.documents.policy import PolicyReading, read_policy
from iotcop.documents.securitytxt import SecurityTxt, fetch_security_txt, security_txt_file
from iotcop.documents.text import DocumentText, document_text

MAX_POLICIES = 5


@dataclass(frozen=True)
class DocumentSources:
    """What the user gave: sites (URLs), policy documents (URLs or files), a security.txt file."""

    sites: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()
    security_txt: Path | None = None
    ca_bundle: Path | None = None

    @property
    def empty(self) -> bool:
        return not (self.sites or self.policies or self.security_txt)


@dataclass(frozen=True)
class PolicyDocument:
    source: str  # URL or file
    via: str  # how iotcop came to read it
    error: str  # why it could not be read ("" when it was)
    text: DocumentText
    reading: PolicyReading


@dataclass(frozen=True)
class VendorDocuments:
    """The documents fact the doc.* checks read."""

    sources: DocumentSources
    security_txt: SecurityTxt | None  # None: no site and no security.txt file was given
    policies: tuple[PolicyDocument, ...] = ()
    not_fetched: tuple[str, ...] = ()  # policy URLs outside the scope (reasons included)
    requests: tuple[Request, ...] = field(default=())


def _is_url(text: str) -> bool:
    return text.lower().startswith(("http://", "https://"))


def _policy(fetched: Fetched, via: str) -> PolicyDocument:
    if not fetched.ok:
        empty = DocumentText(())
        return PolicyDocument(fetched.url, via, fetched.error or "nothing was read", empty, read_policy(empty))
    text = document_text(fetched.content, fetched.content_type, fetched.final_url)
    return PolicyDocument(fetched.final_url, via, "", text, read_policy(text))


def collect_documents(sources: DocumentSources) -> VendorDocuments:
    """Fetch and read everything the sources name; never raises (failures are recorded in the facts)."""
    urls = [*sources.sites, *(p for p in sources.policies if _is_url(p))]
    fetcher = Fetcher.for_urls([u if "://" in u else f"https://{u}" for u in urls], sources.ca_bundle)
    sec: SecurityTxt | None = None
    if sources.security_txt is not None:
        sec = security_txt_file(read_file(sources.security_txt))
    for site in sources.sites:
        found = fetch_security_txt(site, fetcher)
        if sec is None or (found.found and not sec.found):
            sec = found
    policies: list[PolicyDocument] = []
    seen: set[str] = set()
    for given in sources.policies:
        fetched = fetcher.get(given) if _is_url(given) else read_file(Path(given))
        policies.append(_policy(fetched, "given by the user"))
        seen.add(given)
    not_fetched: list[str] = []
    for linked in (sec.values("policy") if sec else []):
        url = linked.value.strip()
        if url in seen or len(policies) >= MAX_POLICIES:
            continue
        seen.add(url)
        if not fetcher.in_scope(url):
            not_fetched.append(f"{url} (security.txt line {linked.line}): its host is outside the scope of this "
                               "assessment; give it as a policy document to include it")
            continue
        policies.append(_policy(fetcher.get(url), f"security.txt Policy field, line {linked.line}"))
    return VendorDocuments(sources, sec, tuple(policies), tuple(not_fetched), tuple(fetcher.log))
