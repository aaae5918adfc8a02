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
from iotcop.errors import UsageError

MAX_POLICIES = 5
#: What a document given by the user is for; each role's checks read the documents of that role.
ROLES: dict[str, str] = {
    "support": "the defined support period (product page, support policy)",
    "statement": "the PSTI statement of compliance",
    "privacy": "privacy information (what personal data, by whom, why, shared with whom)",
    "guidance": "user documentation: secure set-up, updates, deleting personal data, factory reset",
}


@dataclass(frozen=True)
class DocumentSources:
    """What the user gave: sites (URLs), policy documents (URLs or files), a security.txt file, and other
    documents by role (``ROLES``)."""

    sites: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()
    security_txt: Path | None = None
    ca_bundle: Path | None = None
    documents: tuple[tuple[str, str], ...] = ()  # (role, URL or file)

    @property
    def empty(self) -> bool:
        return not (self.sites or self.policies or self.security_txt or self.documents)

    def given(self, role: str) -> bool:
        return any(r == role for r, _ in self.documents)


def parse_documents(specs: list[str]) -> tuple[tuple[str, str], ...]:
    """'support=https://…' / 'statement=soc.pdf' → (role, source); an unknown role or a missing file is a
    usage error naming the choices."""
    out = []
    for spec in specs:
        role, sep, source = spec.partition("=")
        role = role.strip().lower()
        if not sep or role not in ROLES or not source.strip():
            raise UsageError(f"--document {spec!r}: give ROLE=URL_OR_FILE with ROLE one of {', '.join(ROLES)}")
        source = source.strip()
        if not _is_url(source) and not Path(source).is_file():
            raise UsageError(f"--document {spec!r}: no such file: {source}")
        out.append((role, source))
    return tuple(out)


@dataclass(frozen=True)
class ReadDocument:
    """A document given for a role, as read: its text (one block per line) or why it could not be read."""

    role: str
    source: str  # the final URL or the file
    error: str  # "" when it was read
    text: DocumentText
    raw: bytes = b""  # the bytes read (a YAML statement is parsed from them), at most the fetch limit


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
    documents: tuple[ReadDocument, ...] = ()  # the documents given by role, in the order given

    def of_role(self, role: str) -> list[ReadDocument]:
        return [d for d in self.documents if d.role == role]


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
    urls = [*sources.sites, *(p for p in sources.policies if _is_url(p)), *(u for _, u in sources.documents
                                                                             if _is_url(u))]
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
    documents = []
    for role, given in sources.documents:
        fetched = fetcher.get(given) if _is_url(given) else read_file(Path(given))
        text = document_text(fetched.content, fetched.content_type, fetched.final_url) if fetched.ok else \
            DocumentText(())
        documents.append(ReadDocument(role, fetched.final_url, "" if fetched.ok else fetched.error or "nothing read",
                                      text, fetched.content if fetched.ok else b""))
    return VendorDocuments(sources, sec, tuple(policies), tuple(not_fetched), tuple(fetcher.log), tuple(documents))
