"""Live checks on the device's web services (EN 303 645 5.1-3, 5.5-1, 5.5-4/5/6/7, 5.6-2): plain-HTTP admin
interfaces, no redirect to HTTPS, Basic authentication in clear, admin functions without authentication,
directory listings, default pages and missing security headers. Default web logins are judged with the other
services' logins (``HttpFacts.logins`` → ``LoginFacts``) by the credentials checks."""

from __future__ import annotations

from collections.abc import Iterator

from iotcop.checks.registry import CheckSpec, check, spec_of
from iotcop.device import http as web
from iotcop.device.http import (
    HttpFacts,
    WebService,
    admin_words,
    asks_credentials,
    https_redirect,
    is_default_page,
    is_listing,
)
from iotcop.errors import CannotAssess, NotApplicable
from iotcop.model import Evidence, EvidenceKind, Finding, Location, Severity

TECHNIQUE = "HTTP GET of /, the pages it links to and the usual admin paths"
SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options")


def _answered(http: HttpFacts, *, plain_only: bool = False) -> list[WebService]:
    services = [s for s in http.services if not (plain_only and s.tls)]
    if not services:
        raise NotApplicable("no plain HTTP service was found" if plain_only else "no web service was found")
    answered = [s for s in services if not s.reason]
    if not answered:
        raise CannotAssess("no web service answered: " + "; ".join(f"{s.where}: {s.reason}" for s in services))
    return answered


def _settle(http: HttpFacts, spec: CheckSpec, failed: bool, *, plain_only: bool = False) -> None:
    """A check that found nothing failing must not pass for a service it could not judge: CannotAssess."""
    unjudged = [s for s in http.services if s.reason and not (plain_only and s.tls)]
    if unjudged and not (failed and spec.severity is not Severity.INFO):
        raise CannotAssess("could not judge " + "; ".join(f"{s.where}: {s.reason}" for s in unjudged))


def _where(service: WebService, path: str = "") -> Location:
    return Location(kind="network", path=f"{service.where}{path}")


def _admin_surface(service: WebService) -> list[str]:
    """What shows the plain service is an admin interface: a login, a credential challenge, admin functions."""
    seen: list[str] = []
    for page in service.pages:
        asked = asks_credentials(page)
        if asked:
            seen.append(f"{page.path} asks for credentials ({asked})")
        elif web.unauthenticated_admin(page):
            seen.append(f"{page.path} offers {', '.join(admin_words(page)[:4])}")
    return seen


@check(id="net.http.admin-plaintext", title="Web admin interface served over plain HTTP", kind=EvidenceKind.NETWORK,
       severity=Severity.HIGH,
       remediation="Serve the admin interface only over HTTPS and answer plain HTTP with a redirect to it (or "
                   "close port 80).")
def admin_plaintext(http: HttpFacts) -> Iterator[Finding]:
    """An admin interface over plain HTTP sends the administrator's password and session in clear: anyone on
    the network path can read them. Credentials and security-relevant communication must be encrypted in
    transit."""
    spec = spec_of(admin_plaintext)
    failed = False
    for s in _answered(http, plain_only=True):
        root = s.root
        if root is not None and https_redirect(root):
            continue
        surface = _admin_surface(s)
        if surface:
            failed = True
            yield spec.finding(message=f"The web service at {s.where} serves its admin interface over plain HTTP "
                                       f"without redirecting to HTTPS: {'; '.join(surface[:4])}.",
                               location=_where(s), evidence=Evidence.of("; ".join(surface), TECHNIQUE))
    _settle(http, spec, failed, plain_only=True)


@check(id="net.http.no-https-redirect", title="Plain HTTP does not redirect to HTTPS", kind=EvidenceKind.NETWORK,
       severity=Severity.MEDIUM,
       remediation="Answer every plain HTTP request with a permanent redirect (301/308) to the HTTPS address.")
def no_https_redirect(http: HttpFacts) -> Iterator[Finding]:
    """A device that answers plain HTTP with content instead of a redirect to HTTPS invites users and apps to
    talk to it unencrypted."""
    spec = spec_of(no_https_redirect)
    failed = False
    for s in _answered(http, plain_only=True):
        root = s.root
        if root is None or https_redirect(root):
            continue
        answer = f"GET / → HTTP {root.status}" + (f" Location: {root.location}" if root.location else "")
        failed = True
        yield spec.finding(message=f"The web service at {s.where} answers plain HTTP itself ({answer}, "
                                   f"title {root.title!r}) instead of redirecting to HTTPS.",
                           location=_where(s, "/"), evidence=Evidence.of(answer, TECHNIQUE))
    _settle(http, spec, failed, plain_only=True)


@check(id="net.http.basic-auth-plaintext", title="HTTP Basic authentication over plain HTTP",
       kind=EvidenceKind.NETWORK, severity=Severity.HIGH,
       remediation="Require HTTPS for every authenticated page; replace Basic authentication with a session login "
                   "over TLS.")
def basic_auth_plaintext(http: HttpFacts) -> Iterator[Finding]:
    """HTTP Basic sends the user name and password, only base64-encoded, with every request: over plain HTTP
    anyone on the network path reads them. Users must authenticate with best-practice cryptography."""
    spec = spec_of(basic_auth_plaintext)
    failed = False
    for s in _answered(http, plain_only=True):
        for page in s.pages:
            if asks_credentials(page) == "Basic":
                failed = True
                yield spec.finding(message=f"{s.where}{page.path} asks for HTTP Basic credentials over plain HTTP "
                                           f"(HTTP {page.status}, WWW-Authenticate: {page.challenge}).",
                                   location=_where(s, page.path),
                                   evidence=Evidence.of(f"WWW-Authenticate: {page.challenge}", TECHNIQUE))
    _settle(http, spec, failed, plain_only=True)


@check(id="net.http.unauthenticated-admin", title="Web admin functions reachable without authentication",
       kind=EvidenceKind.NETWORK, severity=Severity.HIGH,
       remediation="Put every configuration and diagnostics page behind the login; check the session on each "
                   "request, not only on the menu page.")
def unauthenticated_admin(http: HttpFacts) -> Iterator[Finding]:
    """A page that offers configuration or diagnostics functions without asking for credentials lets anyone on
    the network change the device's security-relevant configuration."""
    spec = spec_of(unauthenticated_admin)
    failed = False
    for s in _answered(http):
        for page in s.pages:
            words = web.unauthenticated_admin(page)
            if words:
                failed = True
                yield spec.finding(message=f"{s.where}{page.path} ({page.title!r}) answered HTTP 200 without any "
                                           f"credential and offers a form with admin functions: {', '.join(words)}.",
                                   location=_where(s, page.path),
                                   evidence=Evidence.of(f"{page.title}: {page.text[:300]}", TECHNIQUE))
    _settle(http, spec, failed)


@check(id="net.http.directory-listing", title="Web server lists directory contents", kind=EvidenceKind.NETWORK,
       severity=Severity.MEDIUM, remediation="Turn directory listing off (lighttpd: dir-listing.activate = "
                                             "\"disable\"; busybox httpd: no index-less directories).")
def directory_listing(http: HttpFacts) -> Iterator[Finding]:
    """A directory listing discloses the files the device serves (backups, configuration, logs) to anyone
    without authentication."""
    spec = spec_of(directory_listing)
    failed = False
    for s in _answered(http):
        for page in s.pages:
            if is_listing(page):
                failed = True
                yield spec.finding(message=f"{s.where}{page.path} answers with a directory listing "
                                           f"({page.title!r}) listing {len(page.links)} entries.",
                                   location=_where(s, page.path),
                                   evidence=Evidence.of(f"{page.title}: {', '.join(page.links[:10])}", TECHNIQUE))
    _settle(http, spec, failed)


@check(id="net.http.default-page", title="Web server shows its default page", kind=EvidenceKind.NETWORK,
       severity=Severity.LOW, remediation="Remove the web server's default page, or the web server if unused.")
def default_page(http: HttpFacts) -> Iterator[Finding]:
    """A web server's stock page shows an interface nobody configured is exposed, and names the software."""
    spec = spec_of(default_page)
    failed = False
    for s in _answered(http):
        for page in s.pages:
            shown = is_default_page(page)
            if shown:
                failed = True
                yield spec.finding(message=f"{s.where}{page.path} shows the web server's default page ({shown!r}).",
                                   location=_where(s, page.path), evidence=Evidence.of(shown, TECHNIQUE))
    _settle(http, spec, failed)


@check(id="net.http.missing-security-headers", title="Web interface lacks security headers",
       kind=EvidenceKind.NETWORK, severity=Severity.INFO,
       remediation="Send Content-Security-Policy, X-Content-Type-Options: nosniff, X-Frame-Options (and "
                   "Strict-Transport-Security over HTTPS) on every page.")
def missing_security_headers(http: HttpFacts) -> Iterator[Finding]:
    """Security headers make the browser refuse framing, content sniffing and injected scripts: without them a
    web admin interface is easier to attack through the administrator's browser."""
    spec = spec_of(missing_security_headers)
    failed = False
    for s in _answered(http):
        page = next((p for p in s.pages if p.status == 200), None)
        if page is None:
            continue
        present = {name for name, _ in page.headers}
        wanted = SECURITY_HEADERS + (("strict-transport-security",) if s.tls else ())
        missing = [h for h in wanted if h not in present]
        if missing:
            failed = True
            yield spec.finding(message=f"{s.where}{page.path} is served without {', '.join(missing)}.",
                               location=_where(s, page.path),
                               evidence=Evidence.of("headers: " + ", ".join(sorted(present)), TECHNIQUE))
    _settle(http, spec, failed)
