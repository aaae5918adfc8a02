"""Hostile vendor sites and documents: scope escapes, proxies from the environment, trickled bodies and inputs that
make parsers super-linear. Real loopback servers on 127.0.0.91-99 speaking raw HTTP, real hostile bytes."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iotcop.documents.facts import DocumentSources, collect_documents
from iotcop.documents.fetch import Fetched, Fetcher
from iotcop.documents.policy import read_policy
from iotcop.documents.securitytxt import parse
from iotcop.documents.text import DocumentText, html_text

Handler = Callable[[socket.socket, str], None]  # connection, request head


class RawServer:
    """A tiny HTTP server on one loopback address: each connection's request head is recorded, then handed over."""

    def __init__(self, host: str, handler: Handler, port: int = 0) -> None:
        self.handler = handler
        self.heads: list[str] = []
        self.listener = socket.create_server((host, port))
        self.port = self.listener.getsockname()[1]
        self.closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            head = b""
            try:
                while b"\r\n\r\n" not in head and len(head) < 65536:
                    data = conn.recv(4096)
                    if not data or data[:1] == b"\x16":  # closed, or a TLS ClientHello: plain HTTP only
                        return
                    head += data
                self.heads.append(head.decode("latin-1"))
                self.handler(conn, head.decode("latin-1"))
            except OSError:
                return

    def close(self) -> None:
        self.closed.set()
        self.listener.close()


def reply(body: bytes, status: str = "200 OK", extra: str = "") -> Handler:
    def handle(conn: socket.socket, head: str) -> None:
        conn.sendall(f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n{extra}"
                     f"Connection: close\r\n\r\n".encode("latin-1") + body)
    return handle


@pytest.fixture
def servers() -> Iterator[list[RawServer]]:
    started: list[RawServer] = []
    yield started
    for server in started:
        server.close()


def pair(servers: list[RawServer], site: Handler) -> tuple[RawServer, RawServer]:
    """A decoy on 127.0.0.92 and the vendor site on 127.0.0.91, on the same port (as the attack needs)."""
    decoy = RawServer("127.0.0.92", reply(b"decoy"))
    servers.append(decoy)
    vendor = RawServer("127.0.0.91", site, decoy.port)
    servers.append(vendor)
    return decoy, vendor


# --- finding 1: a backslash (or whitespace) in a URL must not get past the scope check


@pytest.mark.parametrize("trick", ["\\@", "\t@", " @", "\\\\@", "\x00@"])
def test_redirect_with_backslash_userinfo_is_refused(servers: list[RawServer], trick: str) -> None:
    port_holder: list[int] = []
    decoy, vendor = pair(servers, lambda conn, head: reply(b"", "302 Found", (
        f"Location: http://127.0.0.92:{port_holder[0]}{trick}127.0.0.91:{port_holder[0]}/x\r\n"))(conn, head))
    port_holder.append(vendor.port)
    fetcher = Fetcher.for_urls([f"http://127.0.0.91:{vendor.port}/start"])
    fetcher.timeout = 2.0
    result = fetcher.get(f"http://127.0.0.91:{vendor.port}/start")
    assert not result.ok and decoy.heads == []
    if trick != "\t@":  # urljoin drops a tab: what is left is userinfo on the vendor's own host, a redirect loop
        assert "outside the scope" in result.error and len(vendor.heads) == 1


def test_security_txt_policy_with_backslash_is_not_fetched(servers: list[RawServer]) -> None:
    port_holder: list[int] = []

    def site(conn: socket.socket, head: str) -> None:
        if head.startswith("GET /.well-known/security.txt "):
            text = (f"Contact: mailto:security@vendor.example\nExpires: 2099-01-01T00:00:00Z\n"
                    f"Policy: http://127.0.0.92:{port_holder[0]}\\@127.0.0.91:{port_holder[0]}/policy\n")
            reply(text.encode())(conn, head)
        else:
            reply(b"not found", "404 Not Found")(conn, head)

    decoy, vendor = pair(servers, site)
    port_holder.append(vendor.port)
    docs = collect_documents(DocumentSources(sites=(f"http://127.0.0.91:{vendor.port}",)))
    assert docs.security_txt is not None and docs.security_txt.found
    assert decoy.heads == []
    assert docs.policies == ()
    assert len(docs.not_fetched) == 1 and "outside the scope" in docs.not_fetched[0]


def test_scope_check_uses_the_host_requests_connects_to() -> None:
    fetcher = Fetcher.for_urls(["http://127.0.0.91:8765/"])
    assert fetcher.in_scope("http://127.0.0.91:8765/a/b?c=d")
    assert fetcher.in_scope("http://user:pw@127.0.0.91:8765/")
    assert fetcher.in_scope("http://127.0.0.92:8765%5C@127.0.0.91:8765/")  # percent-encoded: userinfo really
    assert not fetcher.in_scope("http://127.0.0.92:8765\\@127.0.0.91:8765/x")
    assert not fetcher.in_scope("http://127.0.0.91:8765/a b")
    assert not fetcher.in_scope("http://127.0.0.91:8765/\r\nX: y")
    assert not fetcher.in_scope("ftp://127.0.0.91/")
    assert not fetcher.in_scope("http://[::1/")


# --- finding 2: proxies and .netrc from the environment are ignored


def test_environment_proxy_and_netrc_are_ignored(servers: list[RawServer], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = RawServer("127.0.0.93", reply(b"via proxy"))
    site = RawServer("127.0.0.94", reply(b"direct"))
    servers += [proxy, site]
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.93:{proxy.port}")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.94 login someone password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    url = f"http://127.0.0.94:{site.port}/policy"
    result = Fetcher.for_urls([url]).get(url)
    assert result.ok and result.content == b"direct"
    assert proxy.heads == []
    assert "authorization" not in site.heads[0].lower()


# --- finding 5: an overall deadline on reading the body


def trickle(chunked: bool) -> Handler:
    def handle(conn: socket.socket, head: str) -> None:
        framing = "Transfer-Encoding: chunked" if chunked else "Content-Length: 100000"
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n{framing}\r\n\r\n".encode())
        for _ in range(600):  # 30 s at most
            conn.sendall(b"1\r\nx\r\n" if chunked else b"x")
            time.sleep(0.05)
    return handle


@pytest.mark.parametrize("chunked", [False, True])
def test_trickled_body_is_cut_at_the_deadline(servers: list[RawServer], chunked: bool) -> None:
    site = RawServer("127.0.0.95", trickle(chunked))
    servers.append(site)
    url = f"http://127.0.0.95:{site.port}/policy"
    fetcher = Fetcher.for_urls([url])
    fetcher.timeout = 1.0
    out: list[Fetched] = []
    start = time.monotonic()
    worker = threading.Thread(target=lambda: out.append(fetcher.get(url)), daemon=True)
    worker.start()
    worker.join(8)
    assert out, "the fetch did not return"
    assert time.monotonic() - start < 3
    assert out[0].truncated and out[0].status == 200
    assert 0 < len(out[0].content) < 100 and set(out[0].content) == {ord("x")}


def test_trickled_headers_are_given_up_on_at_the_deadline(servers: list[RawServer]) -> None:
    """The status line, then one header byte every 0.3 s for ever: only an overall deadline ends it."""
    def handle(conn: socket.socket, head: str) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        for _ in range(200):
            time.sleep(0.3)
            conn.sendall(b"a")

    site = RawServer("127.0.0.97", handle)
    servers.append(site)
    url = f"http://127.0.0.97:{site.port}/policy"
    fetcher = Fetcher.for_urls([url])
    fetcher.timeout = 1.0
    start = time.monotonic()
    result = fetcher.get(url)
    assert time.monotonic() - start < 5
    assert not result.ok and "no complete answer within 3 s" in result.error
    assert fetcher.log[-1].error.startswith("no complete answer")


def test_fast_body_is_read_whole(servers: list[RawServer]) -> None:
    body = b"policy text\n" * 50_000
    site = RawServer("127.0.0.96", reply(body))
    servers.append(site)
    url = f"http://127.0.0.96:{site.port}/policy"
    result = Fetcher.for_urls([url]).get(url)
    assert result.ok and not result.truncated and result.content == body


# --- finding 4: sectxt is super-linear on repeated PGP headers


def test_repeated_pgp_headers_are_refused_quickly() -> None:
    content = b"-----BEGIN PGP SIGNED MESSAGE-----\n" * 150 + b"Contact: mailto:security@vendor.example\n"
    start = time.monotonic()
    fields, signed, problems = parse(content, "security.txt")
    assert time.monotonic() - start < 1
    assert fields == () and not signed
    assert [p.code for p in problems] == ["unparsable"] and "BEGIN PGP" in problems[0].message


def test_oversized_security_txt_is_refused() -> None:
    content = b"Contact: mailto:security@vendor.example\n" + b"# padding padding padding\n" * 3000
    fields, _, problems = parse(content, "security.txt")
    assert fields == () and [p.code for p in problems] == ["unparsable"] and "KB" in problems[0].message


def test_signed_security_txt_is_still_parsed() -> None:
    content = (b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nContact: mailto:security@vendor.example\n"
               b"Expires: 2099-01-01T00:00:00Z\n-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----\n")
    fields, signed, problems = parse(content, "security.txt")
    assert signed and [f.name for f in fields] == ["contact", "expires"]
    assert "unparsable" not in [p.code for p in problems]


# --- finding 7: html.parser is quadratic on unterminated constructs (CVE-2025-6069)


@pytest.mark.parametrize("unit", [b"<a", b"<!--x>", b"<![CDATA[x>", b"</a", b"<!", b"<?", b"<a x=\"", b"<a\n"])
def test_hostile_html_is_read_quickly(unit: bytes) -> None:
    content = b"<html><body><p>Report vulnerabilities to security@vendor.example</p>" + unit * (700_000 // len(unit))
    start = time.monotonic()
    text = html_text(content)
    assert time.monotonic() - start < 3
    assert text.lines[0] == "Report vulnerabilities to security@vendor.example"
    assert "cut" in text.problem


def test_html_text_is_unchanged_for_ordinary_pages() -> None:
    page = (b"<html><head><title>Policy</title><script>if (a<b) x()</script></head><body><!-- note -->"
            b"<h1>Disclosure</h1><p>Mail <a href='mailto:s@v.example'>us</a> &amp; wait 5 days</p>"
            b"<![CDATA[raw]]><p>a < b and c<d</p><p>tail <b")
    text = html_text(page)
    assert text.lines == ("Policy", "Disclosure", "Mail us & wait 5 days", "a < b and c", "tail <b")
    assert text.links == ("mailto:s@v.example",) and text.problem == ""


# --- finding 8: the policy regexes must stay linear on long lines


@pytest.mark.parametrize("line", ["a" * 80_000, "a." * 40_000, "a@" * 40_000, "1 " * 40_000, "within " * 12_000])
def test_long_lines_are_read_quickly(line: str) -> None:
    start = time.monotonic()
    read_policy(DocumentText((line, "Report vulnerabilities to security@vendor.example")))
    assert time.monotonic() - start < 1


def test_policy_reading_is_unchanged_for_ordinary_text() -> None:
    reading = read_policy(DocumentText(("Security", "Report vulnerabilities to security@vendor.example.",
                                        "We acknowledge reports within 5 working days.")))
    assert reading.route is not None and reading.route.line == 2
    assert reading.acknowledgement is not None and reading.acknowledgement.timeline == "within 5 working days"
    assert reading.is_policy


# --- the defences are parsers of untrusted input themselves: random input never raises


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="<>!-[]/\\?@&;#:=\"' aAx\t\n\x00é", max_size=200))
def test_random_markup_and_urls_never_raise(text: str) -> None:
    html_text(text.encode())
    fetcher = Fetcher.for_urls([f"http://{text}/", "http://127.0.0.91/"])
    fetcher.in_scope(f"http://{text}")
    fetcher.in_scope(text)
    read_policy(DocumentText((text,)))
    parse(text.encode(), "security.txt")
