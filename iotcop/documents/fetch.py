"""Fetching vendor documents: only the URLs the user named, bounded in size, time and redirects, every request
recorded.

A product's documents are hostile input like its firmware: a page may be huge, never finish, redirect in circles
or elsewhere. The fetcher reads at most ``max_bytes``, follows at most ``max_redirects`` redirects and only to
hosts in scope (the hosts of the URLs the user gave), and turns every failure into a ``Fetched`` with an error,
never an exception. TLS is verified; a certificate that does not verify is recorded (``tls_error``) and the page
is read once more without verification, so that its content can still be judged while the fault is reported.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

if TYPE_CHECKING:
    import requests

MAX_BYTES = 2 * 1024 * 1024
TIMEOUT = 10.0
MAX_REDIRECTS = 5


@dataclass(frozen=True)
class Request:
    """One connection iotcop made, for the audit log."""

    url: str
    status: int | None
    error: str
    seconds: float


@dataclass(frozen=True)
class Fetched:
    """A document as retrieved: its final URL, how it was served and its bytes (or why there are none)."""

    url: str  # the URL asked for
    final_url: str  # after redirects
    status: int | None
    content: bytes
    content_type: str
    error: str = ""  # why nothing usable was read ("" when status is 200 and content was read)
    tls_error: str = ""  # the certificate did not verify (content was then read without verification)
    redirects: tuple[str, ...] = ()
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return not self.error and self.status == 200

    @property
    def https(self) -> bool:
        return urlsplit(self.final_url).scheme == "https"


@dataclass
class Fetcher:
    """Fetches inside a scope: the hosts of the URLs the user named (and nothing else, ever)."""

    scope: frozenset[str]
    ca_bundle: Path | None = None  # a CA file to trust instead of the system's (tests, private CAs)
    max_bytes: int = MAX_BYTES
    timeout: float = TIMEOUT
    max_redirects: int = MAX_REDIRECTS
    log: list[Request] = field(default_factory=list)
    _session: requests.Session | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def for_urls(cls, urls: list[str], ca_bundle: Path | None = None) -> Fetcher:
        return cls(scope=frozenset(host for u in urls if (host := _host(u))), ca_bundle=ca_bundle)

    def in_scope(self, url: str) -> bool:
        return self._target(url) is not None

    def _target(self, url: str) -> str | None:
        """The URL as requests will send it, if the host it connects to is in scope; else None."""
        prepared = _prepared(url)
        return prepared if prepared is not None and _host(prepared) in self.scope else None

    def get(self, url: str) -> Fetched:
        """GET ``url`` following in-scope redirects; never raises."""
        chain: list[str] = []
        current = url
        for _ in range(self.max_redirects + 1):
            target = self._target(current)
            if target is None:
                return _failed(url, current, f"{current} is outside the scope of this assessment ("
                               f"{', '.join(sorted(self.scope)) or 'no host named'}); not contacted", chain)
            result = self._bounded(target)
            if isinstance(result, Fetched):
                return Fetched(url, result.final_url, result.status, result.content, result.content_type,
                               result.error, result.tls_error, tuple(chain), result.truncated)
            chain.append(current)
            current = result
        return _failed(url, current, f"more than {self.max_redirects} redirects", chain)

    def _bounded(self, url: str) -> Fetched | str:
        """``_one`` within an overall deadline: a server that trickles its status line or headers (where
        only the per-read timeout applies) is given up on, and the assessment goes on. The request runs in a
        daemon thread, which ends when the server closes or the process does."""
        done: list[Fetched | str] = []
        worker = threading.Thread(target=lambda: done.append(self._one(url)), daemon=True,
                                  name=f"iotcop fetch {url[:60]}")
        worker.start()
        worker.join(self.timeout * 3)
        if done:
            return done[0]
        self.log.append(Request(url, None, f"no complete answer within {self.timeout * 3:.0f} s", self.timeout * 3))
        return _failed(url, url, f"no complete answer within {self.timeout * 3:.0f} s (the server sends too "
                                 "slowly)", [])

    def _one(self, url: str) -> Fetched | str:
        """One request: a Fetched, or the URL a redirect points to."""
        import requests

        verify: bool | str = str(self.ca_bundle) if self.ca_bundle else True
        tls_error = ""
        try:
            response = self._request(url, verify)
        except requests.exceptions.SSLError as exc:
            tls_error = _reason(exc)
            try:
                with warnings.catch_warnings():  # reading it unverified is deliberate: the fault is reported
                    warnings.simplefilter("ignore")
                    response = self._request(url, False)
            except requests.RequestException as again:
                return _failed(url, url, _reason(again), [], tls_error)
        except requests.RequestException as exc:
            return _failed(url, url, _reason(exc), [])
        with response:
            if response.is_redirect and "location" in response.headers:
                return urljoin(url, response.headers["location"])
            content, truncated = self._body(response)
            kind = response.headers.get("content-type", "")
            error = "" if response.status_code == 200 else f"HTTP {response.status_code}"
            return Fetched(url, url, response.status_code, content, kind, error, tls_error, (), truncated)

    def _request(self, url: str, verify: bool | str) -> requests.Response:
        import requests

        if self._session is None:
            self._session = requests.Session()
            self._session.trust_env = False  # no proxy, .netrc or CA bundle from the environment: only the scope
        start = time.monotonic()
        try:
            response = self._session.get(url, stream=True, allow_redirects=False, timeout=self.timeout,
                                         verify=verify, headers={"User-Agent": "iotcop (product security baseline)"})
        except requests.RequestException as exc:
            self.log.append(Request(url, None, _reason(exc), time.monotonic() - start))
            raise
        self.log.append(Request(url, response.status_code, "", time.monotonic() - start))
        return response

    def _body(self, response: requests.Response) -> tuple[bytes, bool]:
        """At most ``max_bytes``, read within ``timeout`` overall: a server trickling bytes is cut at the deadline
        (the socket is shut down under the blocked read)."""
        import requests
        import urllib3

        chunks: list[bytes] = []
        size = 0
        expired = threading.Event()
        timer = threading.Timer(self.timeout, _abort, (response, expired))
        timer.daemon = True
        timer.start()
        try:
            while chunk := response.raw.read1(65536, decode_content=True):  # what has arrived, not a full 64 KB
                chunks.append(chunk)
                size += len(chunk)
                if size > self.max_bytes or expired.is_set():
                    return b"".join(chunks)[: self.max_bytes], True
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError, ValueError):
            return b"".join(chunks), True
        finally:
            timer.cancel()
        return b"".join(chunks), expired.is_set()


def _abort(response: requests.Response, expired: threading.Event) -> None:
    expired.set()
    sock = getattr(getattr(response.raw, "connection", None), "sock", None)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):  # already closed: nothing left to stop
            sock.shutdown(socket.SHUT_RDWR)


def _prepared(url: str) -> str | None:
    """The URL requests will really send (None if it is not a plain http(s) URL): a backslash, whitespace or a
    control character is refused outright, as parsers disagree on them (``http://a\\@b/`` is host b for urlsplit,
    host a for requests)."""
    import requests

    if any(c == "\\" or c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return None
    try:
        prepared = requests.Request("GET", url).prepare().url
    except (requests.RequestException, ValueError, UnicodeError):
        return None
    if prepared is None or urlsplit(prepared).scheme not in ("http", "https"):
        return None
    return prepared


def _host(url: str) -> str:
    """The host a connection to ``url`` goes to, as urllib3 (under requests) reads it; "" when there is none."""
    from urllib3.util import parse_url

    prepared = _prepared(url)
    if prepared is None:
        return ""
    try:
        host = parse_url(prepared).host or ""
    except ValueError:
        return ""
    return host.strip("[]").lower()


def _reason(exc: BaseException) -> str:
    text = str(exc.args[0] if exc.args else exc)
    return f"{type(exc).__name__}: {text[:300]}"


def _failed(url: str, final: str, error: str, chain: list[str], tls_error: str = "") -> Fetched:
    return Fetched(url, final, None, b"", "", error, tls_error, tuple(chain))


def read_file(path: Path, max_bytes: int = MAX_BYTES) -> Fetched:
    """A document the user gave as a file, in the same shape as a fetched one."""
    try:
        with path.open("rb") as fh:
            content = fh.read(max_bytes + 1)
    except OSError as exc:
        return _failed(str(path), str(path), f"cannot read {path}: {exc.strerror}", [])
    kind = {".html": "text/html", ".htm": "text/html", ".pdf": "application/pdf"}.get(path.suffix.lower(),
                                                                                      "text/plain")
    return Fetched(str(path), str(path), 200, content[:max_bytes], kind, truncated=len(content) > max_bytes)
