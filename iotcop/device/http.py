"""The HTTP(S) probe: what each web service on the device serves from ``/``, the pages it links to and the
usual admin paths (bounded), which authentication it asks for, and whether a default credential logs in
(HTTP Basic, Digest and login forms, through ``judge_logins``: the must-fail attempt first). Page judgements
(admin interface, directory listing, default page) are functions here so the checks and tests share them."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import secrets
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from iotcop.device.loginfacts import ServiceLogin, judge_logins
from iotcop.device.logins import Attempt, Result
from iotcop.device.net import Network
from iotcop.device.options import DeviceOptions, Discovered
from iotcop.device.webclient import Form, HttpResponse, Page, Target, fetch_page, parse_page, request
from iotcop.model import NetworkService

ADMIN_PATHS = ("/admin/", "/login.html", "/login", "/cgi-bin/", "/setup.cgi", "/index.html", "/files/")
MAX_PAGES = 16
ADMIN_WORDS = re.compile(r"\b(reboot|restart|factory|firmware|upgrade|ssid|wi-?fi|wan|lan|dhcp|dns|port forward\w*|"
                         r"diagnostic\w*|ping|traceroute|change password|admin\w*|settings|configuration|"
                         r"remote access|system log|backup|restore)\b", re.I)
FAILED = re.compile(r"invalid|incorrect|fail|wrong|denied|error|unauthori[sz]ed|try again|not match|bad (user|pass)",
                    re.I)
LOCKED = re.compile(r"too many|locked|lockout|try again later|temporarily", re.I)
DEFAULT_PAGES = re.compile(r"It works!|Welcome to nginx|Apache2 \w+ Default Page|lighttpd server placeholder|"
                           r"Placeholder page|Test Page for the (Apache|Nginx)|IIS Windows Server", re.I)


@dataclass(frozen=True)
class WebService:
    """What one HTTP(S) service showed."""

    service: NetworkService
    tls: bool
    reason: str = ""  # why it could not be judged ('' when it answered)
    pages: tuple[Page, ...] = ()  # "/" first, then what it links to and the usual admin paths (404s left out)
    logins: tuple[ServiceLogin, ...] = ()

    @property
    def where(self) -> str:
        return f"{self.service.host}:{self.service.port}"

    @property
    def root(self) -> Page | None:
        return self.pages[0] if self.pages and self.pages[0].path == "/" else None


@dataclass(frozen=True)
class HttpFacts:
    services: tuple[WebService, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def logins(self) -> tuple[ServiceLogin, ...]:
        """This family's contribution to ``LoginFacts.merge``."""
        return tuple(login for s in self.services for login in s.logins)


def https_redirect(page: Page) -> bool:
    return 300 <= page.status < 400 and page.location.lower().startswith("https://")


def admin_words(page: Page) -> list[str]:
    return list(dict.fromkeys(m.group(0).lower() for m in ADMIN_WORDS.finditer(f"{page.title} {page.text}")))


def asks_credentials(page: Page) -> str:
    """How the page asks for credentials: 'Basic', 'Digest', 'login form' or ''."""
    if page.status == 401 and page.challenge:
        return page.challenge.split()[0].capitalize()
    return "login form" if page.login_form else ""


def unauthenticated_admin(page: Page) -> list[str]:
    """The admin functions a page offers without asking for credentials (a form and two admin words)."""
    if page.status != 200 or page.login_form or not page.forms:
        return []
    words = admin_words(page)
    return words if len(words) >= 2 else []


def is_listing(page: Page) -> bool:
    return page.status == 200 and bool(re.match(r"(Index of|Directory listing for) /", page.title, re.I))


def is_default_page(page: Page) -> str:
    match = DEFAULT_PAGES.search(f"{page.title} {page.text}") if page.status == 200 else None
    return match.group(0) if match else ""


def _judge_status(response: HttpResponse, started: float) -> Attempt:
    seconds = round(time.monotonic() - started, 3)
    if response.status == 429 or (response.status == 503 and LOCKED.search(response.text)):
        return Attempt(Result.LOCKED, seconds, response.status_line())
    if response.status in (401, 403):
        return Attempt(Result.REJECTED, seconds, response.status_line())
    if 200 <= response.status < 400:
        return Attempt(Result.ACCEPTED, seconds, response.status_line())
    return Attempt(Result.ERROR, seconds, response.status_line())


def _failed(exc: BaseException, started: float) -> Attempt:
    result = Result.ERROR if isinstance(exc, ValueError) else Result.DISCONNECTED  # HttpError, UnicodeError
    return Attempt(result, round(time.monotonic() - started, 3), f"{type(exc).__name__}: {exc}"[:200])


def digest_authorization(challenge: str, user: str, password: str, method: str, uri: str) -> str:
    """RFC 7616 response (MD5 or SHA-256, qop=auth or none) to a ``WWW-Authenticate: Digest`` challenge."""
    params = {k.lower(): v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|[^,\s]+)', challenge)}
    algorithm = params.get("algorithm", "MD5")
    digest = hashlib.sha256 if algorithm.upper().startswith("SHA-256") else hashlib.md5

    def h(text: str) -> str:
        return digest(text.encode()).hexdigest()

    realm, nonce = params.get("realm", ""), params.get("nonce", "")
    ha1, ha2 = h(f"{user}:{realm}:{password}"), h(f"{method}:{uri}")
    cnonce, nc = secrets.token_hex(8), "00000001"
    qop = "auth" if "auth" in params.get("qop", "").split(",") else ""
    response = h(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}") if qop else h(f"{ha1}:{nonce}:{ha2}")
    parts = [f'username="{user}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"',
             f'response="{response}"', f"algorithm={algorithm}"]
    if qop:
        parts += [f"qop={qop}", f"nc={nc}", f'cnonce="{cnonce}"']
    if "opaque" in params:
        parts.append(f'opaque="{params["opaque"]}"')
    return "Digest " + ", ".join(parts)


class ChallengeAuth:
    """HTTP Basic or Digest on a path that answered 401."""

    def __init__(self, net: Network, target: Target, path: str, scheme: str) -> None:
        self.net, self.target, self.path, self.scheme = net, target, path, scheme.lower()
        self.service = f"http-{self.scheme} {target.where}{path}"

    async def attempt(self, user: str, password: str) -> Attempt:
        started = time.monotonic()
        try:
            if self.scheme == "digest":
                first = await request(self.net, self.target, self.path, probe="credentials")
                challenge = first.header("www-authenticate") or ""
                if first.status != 401 or not challenge.lower().startswith("digest"):
                    return _judge_status(first, started)
                auth = digest_authorization(challenge, user, password, "GET", self.path)
            else:
                auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            response = await request(self.net, self.target, self.path, headers={"Authorization": auth},
                                     probe="credentials")
        except (OSError, TimeoutError, ValueError, ssl.SSLError) as exc:  # ValueError: HttpError, UnicodeError
            return _failed(exc, started)
        return _judge_status(response, started)


def _shape(response: HttpResponse, page: Page) -> tuple[int, str, str]:
    where = urlsplit(response.header("location") or "").path
    return response.status // 100, where, page.title


class FormAuth:
    """A login form: fetched afresh each attempt (tokens, cookies), submitted, and the answer judged against
    the must-fail attempt's answer (a failed login that returns 200 is not a success)."""

    def __init__(self, net: Network, target: Target, path: str) -> None:
        self.net, self.target, self.path = net, target, path
        self.service = f"http-form {target.where}{path}"
        self.baseline: tuple[int, str, str] | None = None

    async def attempt(self, user: str, password: str) -> Attempt:
        started = time.monotonic()
        try:
            first = await request(self.net, self.target, self.path, probe="credentials")
            form = parse_page(self.path, first, self.target).login_form
            if form is None or not form.is_login:
                return Attempt(Result.ERROR, round(time.monotonic() - started, 3), "the login form is gone")
            response = await self._submit(form, first, user, password)
        except (OSError, TimeoutError, ValueError, ssl.SSLError) as exc:  # ValueError: HttpError, UnicodeError
            return _failed(exc, started)
        return self._judge(response, form, started)

    async def _submit(self, form: Form, first: HttpResponse, user: str, password: str) -> HttpResponse:
        values = [(n, v) for n, _, v in form.fields]
        filled = [(n, user if n == form.user_field else password if n == form.password_field else v)
                  for n, v in values]
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        cookies = "; ".join(c.split(";", 1)[0] for c in first.all("set-cookie"))
        if cookies:
            headers["Cookie"] = cookies
        body = urlencode(filled).encode()
        if form.method == "GET":
            sep = "&" if "?" in form.action else "?"
            return await request(self.net, self.target, f"{form.action}{sep}{body.decode()}", headers=headers,
                                 probe="credentials")
        return await request(self.net, self.target, form.action, method="POST", headers=headers, body=body,
                             probe="credentials")

    def _judge(self, response: HttpResponse, form: Form, started: float) -> Attempt:
        seconds = round(time.monotonic() - started, 3)
        page = parse_page(form.action, response, self.target)
        said = f"{response.status_line()}; {page.title or page.text[:80]}".strip("; ")
        shape = _shape(response, page)
        baseline, self.baseline = self.baseline, self.baseline or shape
        if response.status == 429 or LOCKED.search(page.text):
            return Attempt(Result.LOCKED, seconds, said)
        location = urlsplit(response.header("location") or "")
        refused = (response.status in (401, 403) or page.login_form is not None or bool(FAILED.search(page.text))
                   or (300 <= response.status < 400 and (location.path in (self.path, form.action.split("?")[0])
                                                         or bool(FAILED.search(location.query)))))
        if refused or (baseline is not None and shape == baseline):
            return Attempt(Result.REJECTED, seconds, said)
        if response.status >= 400:
            return Attempt(Result.ERROR, seconds, said)
        return Attempt(Result.ACCEPTED, seconds, said)


async def crawl(net: Network, target: Target, root: Page) -> list[Page]:
    pages = [root]
    queue = list(dict.fromkeys([p for p in (root.location and _local(root.location, target),) if p]
                               + list(root.links) + list(ADMIN_PATHS)))
    seen = {"/"}
    while queue and len(seen) < MAX_PAGES:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        page = await fetch_page(net, target, path)
        if isinstance(page, Page) and page.status != 404:
            pages.append(page)
            queue.extend(ln for ln in page.links if ln not in seen and "logout" not in ln.lower())
    return pages


def _local(location: str, target: Target) -> str | None:
    from iotcop.device.webclient import same_device

    return same_device("/", location, target)


async def probe_service(net: Network, service: NetworkService, options: DeviceOptions) -> WebService:
    target = Target(service.host, service.port, service.tls or service.name == "https")
    root = await fetch_page(net, target, "/")
    if isinstance(root, str):
        return WebService(service, target.tls, reason=f"GET / failed: {root}")
    pages = await crawl(net, target, root)
    logins: list[ServiceLogin] = []
    challenged = next((p for p in pages if asks_credentials(p) in ("Basic", "Digest")), None)
    if challenged is not None:
        scheme = asks_credentials(challenged)
        auth = ChallengeAuth(net, target, challenged.path, scheme)
        logins.append(await judge_logins(auth, service, f"http-{scheme.lower()}", options))
    form_page = next((p for p in pages if p.login_form is not None), None)
    if form_page is not None:
        logins.append(await judge_logins(FormAuth(net, target, form_page.path), service, "http-form", options))
    return WebService(service, target.tls, pages=tuple(pages), logins=tuple(logins))


async def probe_http(net: Network, found: Discovered, options: DeviceOptions) -> HttpFacts:
    """Every HTTP(S) service ``found`` lists; never raises (a failure is the service's ``reason``)."""
    services = [s for s in found.services if s.transport == "tcp" and s.name in ("http", "https")]
    results = await asyncio.gather(*(probe_service(net, s, options) for s in services), return_exceptions=True)
    out: list[WebService] = []
    for svc, res in zip(services, results, strict=True):
        if isinstance(res, BaseException):
            if not isinstance(res, Exception):
                raise res
            res = WebService(svc, svc.tls, reason=f"probe failed: {type(res).__name__}: {res}"[:300])
        out.append(res)
    return HttpFacts(tuple(out))
