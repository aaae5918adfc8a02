"""A small HTTP/1.1 client over ``Network.open_tcp`` (every request in the audit log, scope checked; redirects
are never followed, links off the device are dropped) and page parsing (title, text, forms, links), shared by
the HTTP probe (``http.py``) and the input-handling probe (``webinput.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import time
import warnings
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import quote, urljoin, urlsplit

from iotcop.device.net import Network

MAX_BODY = 512 * 1024
MAX_HTML = 64 * 1024  # html.parser is quadratic on some inputs (CVE-2025-6069): parse at most this
MAX_UNPARSED = 2048  # what close() may still parse (its quadratic part) after feed()
LOGIN_EXCLUDED = re.compile(r"(?<![a-z])(new|confirm|old|repeat|retype)|(new|confirm|old|repeat|retype)(?![a-z])")
PATH_SAFE = "!$%&'()*+,/:;=@~-._"
QUERY_SAFE = PATH_SAFE + "?[]"
USER_AGENT = "iotcop (device assessment)"


class HttpError(ValueError):
    """The answer was not HTTP."""


@dataclass(frozen=True)
class HttpResponse:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]  # names lower-cased, in order
    body: bytes
    seconds: float

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name.lower()), None)

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name.lower()]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def status_line(self) -> str:
        return f"HTTP {self.status} {self.reason}".strip()


def client_tls() -> ssl.SSLContext:
    """Talks to whatever the device offers (an assessment judges TLS elsewhere, with sslyze)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():  # deprecated, and exactly what an old device may still speak
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
    with contextlib.suppress(ssl.SSLError):
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    tls: bool

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def netloc(self) -> str:
        """``host:port`` as URLs and Host headers write it (an IPv6 address in brackets)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return f"{'https' if self.tls else 'http'}://{self.netloc}{path}"


async def request(net: Network, target: Target, path: str = "/", *, method: str = "GET",
                  headers: dict[str, str] | None = None, body: bytes = b"", probe: str = "http",
                  timeout: float | None = None) -> HttpResponse:
    """One request on a fresh connection (``Connection: close``); raises OSError, TimeoutError or HttpError."""
    limit = timeout or net.limits.timeout
    started = time.monotonic()
    reader, writer = await net.open_tcp(target.host, target.port, probe, tls=client_tls() if target.tls else None,
                                        timeout=limit)
    try:
        head = {"Host": target.netloc, "User-Agent": USER_AGENT, "Accept": "*/*", "Connection": "close",
                **(headers or {})}
        if body or method == "POST":
            head["Content-Length"] = str(len(body))
        lines = [f"{method} {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in head.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        raw = await asyncio.wait_for(_read_all(reader), limit)
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
            await asyncio.wait_for(writer.wait_closed(), 1.0)
    return parse_response(raw, time.monotonic() - started)


async def _read_all(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < MAX_BODY + 65536:
        try:
            chunk = await reader.read(65536)
        except (ConnectionResetError, ssl.SSLError, asyncio.IncompleteReadError):
            break
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def parse_response(raw: bytes, seconds: float = 0.0) -> HttpResponse:
    """A complete HTTP/1.x response (read to EOF); raises HttpError when it is not one."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, rest = raw.partition(b"\n\n")
    lines = head.decode("latin-1").splitlines()
    match = re.match(r"HTTP/\d(?:\.\d)?\s+(\d{3})\s*(.*)", lines[0] if lines else "")
    if not match:
        raise HttpError(f"not an HTTP response: {raw[:60]!r}")
    headers = tuple((k.strip().lower(), v.strip()) for k, _, v in (ln.partition(":") for ln in lines[1:]) if k)
    body = rest
    if any(k == "transfer-encoding" and "chunked" in v.lower() for k, v in headers):
        body = _dechunk(rest)
    else:
        length = next((v for k, v in headers if k == "content-length"), None)
        if length is not None and length.isdigit():
            body = rest[: int(length)]
    return HttpResponse(int(match.group(1)), match.group(2).strip(), headers, body[:MAX_BODY], round(seconds, 3))


def _dechunk(data: bytes) -> bytes:
    """The chunked body's data, up to the last chunk or the first malformed size line (hex digits only: ``int``
    would take '-6' and move backwards)."""
    out: list[bytes] = []
    pos = 0
    while pos < len(data):
        end = data.find(b"\r\n", pos)
        if end < 0:
            break
        size_text = data[pos:end].split(b";")[0].strip()
        if not re.fullmatch(rb"[0-9A-Fa-f]{1,16}", size_text):
            break
        size = int(size_text, 16)
        if size == 0:
            break
        out.append(data[end + 2:end + 2 + size])
        after = end + 2 + size + 2
        if after <= pos:  # no progress: never loop
            break
        pos = after
    return b"".join(out)


@dataclass(frozen=True)
class Form:
    action: str  # absolute path on the device (query included)
    method: str  # GET or POST
    fields: tuple[tuple[str, str, str], ...]  # (name, type, value) in order

    @property
    def password_field(self) -> str | None:
        return next((n for n, t, _ in self.fields if t == "password"), None)

    @property
    def is_login(self) -> bool:
        """Exactly one password field and nothing like new/confirm/old/repeat: a change-password form is not a
        login form (posting guesses to it would change the device's password)."""
        passwords = [n for n, t, _ in self.fields if t == "password"]
        return len(passwords) == 1 and not any(LOGIN_EXCLUDED.search(n.lower()) for n, _, _ in self.fields)

    @property
    def user_field(self) -> str | None:
        texts = [n for n, t, _ in self.fields if t in ("text", "email", "")]
        named = [n for n in texts if re.search(r"user|login|name|mail|account|id", n, re.I)]
        return (named or texts)[0] if (named or texts) else None


@dataclass(frozen=True)
class Page:
    """What one page showed."""

    path: str
    status: int
    title: str = ""
    text: str = ""  # visible text, whitespace folded, cut
    forms: tuple[Form, ...] = ()
    links: tuple[str, ...] = ()  # same-device paths, in order
    challenge: str = ""  # WWW-Authenticate, when it asked for credentials
    location: str = ""  # Location of a redirect
    headers: tuple[tuple[str, str], ...] = field(default=())

    @property
    def login_form(self) -> Form | None:
        return next((f for f in self.forms if f.is_login), None)


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.text: list[str] = []
        self.links: list[str] = []
        self.forms: list[tuple[dict[str, str], list[tuple[str, str, str]]]] = []
        self._in_title = False
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "title":
            self._in_title = True
        elif tag in ("script", "style"):
            self._skip += 1
        elif tag in ("a", "frame", "iframe") and (a.get("href") or a.get("src")):
            self.links.append(a.get("href") or a.get("src", ""))
        elif tag == "form":
            self.forms.append((a, []))
        elif tag in ("input", "select", "textarea", "button") and self.forms and a.get("name"):
            kind = a.get("type", "text" if tag == "input" else tag).lower()
            if kind in ("button", "reset", "file", "image") or (kind in ("checkbox", "radio") and "checked" not in a):
                return
            self.forms[-1][1].append((a["name"], kind, a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip and data.strip():
            self.text.append(data.strip())


def same_device(base: str, ref: str, target: Target) -> str | None:
    """The path (with query, percent-quoted: ASCII only) ``ref`` points to on this device, or None when it
    leaves it or is not a URL."""
    try:
        parts = urlsplit(urljoin(target.url(base), ref.strip()))
        if parts.scheme not in ("http", "https") or parts.hostname != target.host:
            return None
        if (parts.port or (443 if parts.scheme == "https" else 80)) != target.port:
            return None
        path = quote(parts.path or "/", safe=PATH_SAFE)
        return path + (f"?{quote(parts.query, safe=QUERY_SAFE)}" if parts.query else "")
    except ValueError:  # bad port, bad IPv6 literal, ...
        return None


def parse_page(path: str, response: HttpResponse, target: Target) -> Page:
    parser = _Parser()
    try:
        parser.feed(response.text[:MAX_HTML])
        if len(parser.rawdata) <= MAX_UNPARSED:  # an unfinished tag left over: close() is quadratic on it
            parser.close()
    except (AssertionError, ValueError):
        pass
    links = list(dict.fromkeys(p for p in (same_device(path, ln, target) for ln in parser.links) if p))
    forms = []
    for attrs, fields in parser.forms:
        action = same_device(path, attrs.get("action") or path, target)
        if action:
            method = "POST" if attrs.get("method", "get").upper() == "POST" else "GET"
            forms.append(Form(action, method, tuple(fields)))
    return Page(path, response.status, " ".join(parser.title.split())[:200], " ".join(parser.text)[:4000],
                tuple(forms), tuple(links), response.header("www-authenticate") or "",
                response.header("location") or "", response.headers)


async def fetch_page(net: Network, target: Target, path: str, probe: str = "http") -> Page | str:
    """The page at ``path``, or why it could not be fetched."""
    try:
        return parse_page(path, await request(net, target, path, probe=probe), target)
    except (OSError, TimeoutError, ValueError, ssl.SSLError) as exc:  # HttpError, UnicodeError are ValueErrors
        return f"{type(exc).__name__}: {exc}"[:200]
