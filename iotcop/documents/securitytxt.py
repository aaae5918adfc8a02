"""security.txt (RFC 9116): found where the RFC puts it, validated with ``sectxt``, judged at the assessment's time.

``sectxt`` does the RFC's field grammar; two of its verdicts depend on its own clock (``expired``,
``long_expiry``), so they are dropped here and decided from the ``Expires`` value against the assessment time,
like every other time-dependent check in iotcop.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from iotcop.documents.fetch import Fetched, Fetcher

WELL_KNOWN = "/.well-known/security.txt"
LEGACY = "/security.txt"
_CLOCK_CODES = {"expired", "long_expiry"}
MAX_SIZE = 64 * 1024  # RFC 9116 files are a few lines; sectxt is super-linear on some inputs, so bound what it gets


@dataclass(frozen=True)
class Problem:
    code: str  # sectxt's code, e.g. "no_contact", "invalid_media"
    message: str
    line: int | None


@dataclass(frozen=True)
class Field:
    name: str  # lower case: contact, expires, policy, canonical, ...
    value: str
    line: int


@dataclass(frozen=True)
class SecurityTxt:
    """A security.txt as found (or not) on the vendor's site, or given as a file."""

    source: str  # where it was read: the URL served, or the file
    found: bool
    tried: tuple[tuple[str, str], ...]  # every location tried and what happened
    served_https: bool | None = None  # None: given as a file, so how it is served is unknown
    tls_error: str = ""
    legacy_location: bool = False
    fields: tuple[Field, ...] = ()
    signed: bool = False
    problems: tuple[Problem, ...] = ()
    text: str = ""

    def values(self, name: str) -> list[Field]:
        return [f for f in self.fields if f.name == name]

    @property
    def contacts(self) -> list[Field]:
        return self.values("contact")

    def expires(self) -> tuple[dt.datetime | None, Field | None]:
        """The Expires time (None if absent or not a valid date) and its field."""
        found = self.values("expires")
        if not found:
            return None, None
        try:
            when = dt.datetime.fromisoformat(found[0].value.strip())
        except (ValueError, OverflowError):
            return None, found[0]
        return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)), found[0]


def parse(content: bytes, source: str, urls: list[str] | None = None) -> tuple[tuple[Field, ...], bool,
                                                                                tuple[Problem, ...]]:
    """Fields, whether it is PGP-signed, and the RFC problems sectxt reports (clock-dependent ones left out)."""
    import sectxt  # type: ignore[import-untyped]

    refused = _refusal(content)
    if refused:
        return (), False, (Problem("unparsable", refused, None),)
    try:
        parser = sectxt.Parser(content, urls=urls or None)
    except Exception as exc:  # sectxt on hostile bytes: a problem to report, never a crash
        return (), False, (Problem("unparsable", f"sectxt could not parse it: {type(exc).__name__}: {exc}", None),)
    fields = tuple(Field(str(line["field_name"]), str(line["value"]), number)
                   for number, line in enumerate(parser.lines, start=1)
                   if line["type"] == "field" and line["field_name"])
    problems = tuple(Problem(e["code"], e["message"], e["line"]) for e in parser.errors
                     if e["code"] not in _CLOCK_CODES)
    return fields, bool(getattr(parser, "_signed", False)), problems


def _refusal(content: bytes) -> str:
    """Why ``content`` is not given to sectxt ("" when it is): too large, or PGP armour headers repeated (sectxt
    takes seconds per hundred such lines). A signed file has one of each: SIGNED MESSAGE and SIGNATURE."""
    if len(content) > MAX_SIZE:
        return (f"not read: {len(content) // 1024} KB, more than a security.txt can reasonably be "
                f"({MAX_SIZE // 1024} KB)")
    armour = [line.strip() for line in content.splitlines() if line.lstrip().startswith(b"-----BEGIN PGP")]
    if len(armour) > 2 or len(set(armour)) != len(armour):
        return (f"not read: {len(armour)} '-----BEGIN PGP' lines (a signed security.txt has one message and one "
                "signature)")
    return ""


def _media_problems(fetched: Fetched) -> list[Problem]:
    kind = fetched.content_type.lower()
    if not kind:
        return [Problem("no_content_type", "HTTP Content-Type header must be sent.", None)]
    if kind.split(";")[0].strip() != "text/plain":
        return [Problem("invalid_media", f"Media type in Content-Type header must be 'text/plain' (served as "
                                         f"{fetched.content_type!r}).", None)]
    if "charset=" in kind and kind.split("charset=")[1].split(";")[0].strip(" \"'") not in ("utf-8", "csutf8"):
        return [Problem("invalid_charset", "Charset parameter in Content-Type header must be 'utf-8'.", None)]
    return []


def locations(site: str) -> list[str]:
    """Where RFC 9116 says to look, best first: HTTPS well-known, HTTPS legacy, then HTTP (to report it)."""
    parts = urlsplit(site if "://" in site else f"https://{site}")
    host = parts.netloc
    return [urlunsplit(("https", host, WELL_KNOWN, "", "")), urlunsplit(("https", host, LEGACY, "", "")),
            urlunsplit(("http", host, WELL_KNOWN, "", ""))]


def fetch_security_txt(site: str, fetcher: Fetcher) -> SecurityTxt:
    tried: list[tuple[str, str]] = []
    for url in locations(site):
        fetched = fetcher.get(url)
        if not fetched.ok or not fetched.content.strip() or fetched.content.lstrip()[:1] == b"<":
            outcome = fetched.error or ("an HTML page, not a security.txt" if fetched.content.strip() else "empty")
            tried.append((url, outcome))
            continue
        tried.append((url, f"found (HTTP {fetched.status})" + (f", certificate: {fetched.tls_error}"
                                                               if fetched.tls_error else "")))
        urls = [url, fetched.final_url] if fetched.final_url != url else [url]
        fields, signed, problems = parse(fetched.content, fetched.final_url, urls)
        return SecurityTxt(source=fetched.final_url, found=True, tried=tuple(tried),
                           served_https=fetched.https and not fetched.tls_error, tls_error=fetched.tls_error,
                           legacy_location=urlsplit(url).path == LEGACY, fields=fields, signed=signed,
                           problems=tuple(_media_problems(fetched)) + problems,
                           text=fetched.content.decode("utf-8", "replace"))
    return SecurityTxt(source=locations(site)[0], found=False, tried=tuple(tried))


def security_txt_file(fetched: Fetched) -> SecurityTxt:
    """A security.txt the user gave as a file: judged on content only."""
    if not fetched.ok:
        return SecurityTxt(source=fetched.url, found=False, tried=((fetched.url, fetched.error),))
    fields, signed, problems = parse(fetched.content, fetched.url)
    return SecurityTxt(source=fetched.url, found=True, tried=((fetched.url, "read"),), fields=fields, signed=signed,
                       problems=problems, text=fetched.content.decode("utf-8", "replace"))
