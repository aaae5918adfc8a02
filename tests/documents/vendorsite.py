"""A vendor's web site on loopback, over HTTPS with a trustme CA (and plain HTTP), serving what a test sets.

``VendorSite.serve({path: Page})`` replaces the pages; every request is recorded so tests can assert what
iotcop contacted. Only 127.0.0.1 is ever listened on.
"""

from __future__ import annotations

import http.server
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class Page:
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    status: int = 200
    location: str = ""


class _Handler(http.server.BaseHTTPRequestHandler):
    site: VendorSite

    def do_GET(self) -> None:
        self.site.requests.append(f"{self.server.scheme}://{self.headers.get('Host')}{self.path}")  # type: ignore[attr-defined]
        page = self.site.pages.get(self.path)
        if page is None:
            self.send_response(404)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html><body>Not found</body></html>")
            return
        self.send_response(page.status)
        if page.content_type:
            self.send_header("Content-Type", page.content_type)
        if page.location:
            self.send_header("Location", page.location)
        self.send_header("Content-Length", str(len(page.body)))
        self.end_headers()
        self.wfile.write(page.body)

    def log_message(self, *args: object) -> None:
        return


class VendorSite:
    def __init__(self, workdir: Path) -> None:
        self.ca = trustme.CA()
        self.ca_file = workdir / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.pages: dict[str, Page] = {}
        self.requests: list[str] = []
        handler = type("Handler", (_Handler,), {"site": self})
        self.https = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self.https.socket = context.wrap_socket(self.https.socket, server_side=True)
        self.https.scheme = "https"  # type: ignore[attr-defined]
        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.http.scheme = "http"  # type: ignore[attr-defined]
        self.threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (self.https, self.http)]
        for t in self.threads:
            t.start()

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.https.server_address[1]}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}"

    def serve(self, pages: dict[str, Page]) -> None:
        self.pages = dict(pages)
        self.requests.clear()

    def close(self) -> None:
        for server in (self.https, self.http):
            server.shutdown()
            server.server_close()
