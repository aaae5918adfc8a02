"""Hostile web services (raw Python servers on 127.0.0.101-109 and ::1) against the web client, the HTTP,
input and TLS probes and their checks: review findings 3, 7, 11, 12, 13, 14 and 15. Each test failed before
its fix (a hang, an exception, a pass for an unjudged service, a changed password)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from svc_basic import free_port

from iotcop.checks.net import http as http_checks
from iotcop.checks.net import tls as tls_checks
from iotcop.checks.registry import CheckFunc, spec_of
from iotcop.device.http import HttpFacts, probe_http
from iotcop.device.net import NetLimits, Network
from iotcop.device.options import DeviceOptions, Discovered
from iotcop.device.scope import make_scope
from iotcop.device.tls import TlsFacts, parse_sslyze, probe_tls
from iotcop.device.webclient import Form, Page, Target, fetch_page, same_device
from iotcop.device.webinput import probe_input
from iotcop.knowledge.credentials import Credential
from iotcop.model import NetworkService, RunStatus
from iotcop.runner import run_checks

CREDS = tuple(Credential(u, p, "test") for u, p in (("admin", "admin"), ("root", "12345")))


@dataclass
class Raw:
    """A raw HTTP server: ``answer(path)`` gives the bytes sent back; every request is kept."""

    port: int
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)  # method, path, head, body

    def paths(self, method: str) -> list[str]:
        return [p for m, p, _, _ in self.requests if m == method]


def _read_request(conn: socket.socket) -> tuple[str, str, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    while len(body) < int(headers.get("content-length", "0") or 0):
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    method, path = [*lines[0].split(" "), "", ""][:2]
    return method, path, headers, body


@contextlib.contextmanager
def raw_server(host: str, answer: Callable[[str], bytes]) -> Iterator[Raw]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.create_server((host, 0), family=family)
    listener.settimeout(0.1)
    raw = Raw(int(listener.getsockname()[1]))
    stopped = threading.Event()

    def handle(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.settimeout(2)
            request = _read_request(conn)
            raw.requests.append(request)
            conn.sendall(answer(request[1]))

    def serve() -> None:
        while not stopped.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                conn, _ = listener.accept()
                threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield raw
    finally:
        stopped.set()
        thread.join(2)
        listener.close()


def html(body: str, status: str = "200 OK") -> bytes:
    data = body.encode()
    return f"HTTP/1.1 {status}\r\nContent-Type: text/html\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data


def within(seconds: float, work: Callable[[], Any]) -> Any:
    """``work()`` in a daemon thread; fails (instead of hanging the suite) when it takes longer than ``seconds``."""
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(work()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s (the event loop would be frozen)"
    assert result, "raised (see the thread's traceback)"
    return result[0]


def _net(host: str) -> Network:
    return Network(make_scope([host]), NetLimits(timeout=2.0))


def _fetch(host: str, port: int, path: str = "/") -> Page | str:
    return asyncio.run(fetch_page(_net(host), Target(host, port, False), path))


def _http(host: str, *ports: int, options: DeviceOptions | None = None) -> HttpFacts:
    services = tuple(NetworkService(host=host, port=p, transport="tcp", name="http") for p in ports)
    return asyncio.run(probe_http(_net(host), Discovered(hosts=(host,), services=services),
                                  options or DeviceOptions(credentials=CREDS, bruteforce_attempts=2)))


# ------------------------------------------------------------------ finding 3: a negative chunk size

def test_negative_chunk_size_does_not_freeze_the_client() -> None:
    body = b"4\r\nabcd\r\n-6\r\nxx\r\n0\r\n\r\n"
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/html\r\n\r\n"
    with raw_server("127.0.0.101", lambda _: head + body) as srv:
        page = within(5, lambda: _fetch("127.0.0.101", srv.port))
    assert isinstance(page, Page) and page.status == 200 and page.text == "abcd"


# ------------------------------------------------------------------ finding 7: html.parser is quadratic

@pytest.mark.parametrize("pattern", ["<a ", "<a", '<a x="'])
def test_quadratic_html_is_cut(pattern: str) -> None:
    hostile = "<html><title>t</title>" + pattern * (300_000 // len(pattern))
    with raw_server("127.0.0.102", lambda _: html(hostile)) as srv:
        started = time.monotonic()
        page = within(4, lambda: _fetch("127.0.0.102", srv.port))
    assert isinstance(page, Page) and page.title == "t" and time.monotonic() - started < 4


# ------------------------------------------------------------------ finding 11: links that do not encode

def test_non_ascii_and_bad_port_links_leave_the_service_judged() -> None:
    root = ('<html><title>Cam</title><a href="/€">euro</a> <a href="/ok page">ok</a> '
            '<a href="http://127.0.0.103:99999/x">bad port</a> <a href="http://[::1/x">bad v6</a></html>')
    with raw_server("127.0.0.103", lambda p: html(root if p == "/" else "<title>sub</title>")) as srv:
        facts = _http("127.0.0.103", srv.port)
        asked = srv.paths("GET")
    (svc,) = facts.services
    assert svc.reason == ""
    assert svc.root is not None and svc.root.links == ("/%E2%82%AC", "/ok%20page")
    assert "/%E2%82%AC" in asked and "/ok%20page" in asked
    assert same_device("/", "/€?q=ü", Target("127.0.0.103", 80, False)) == "/%E2%82%AC?q=%C3%BC"


# ------------------------------------------------------------------ finding 12: one service answered, one failed

HTTP_CHECKS: list[CheckFunc] = [
    http_checks.admin_plaintext, http_checks.no_https_redirect, http_checks.basic_auth_plaintext,
    http_checks.unauthenticated_admin, http_checks.directory_listing, http_checks.default_page,
    http_checks.missing_security_headers]


def _statuses(facts: HttpFacts) -> dict[str, tuple[RunStatus, int]]:
    runs = run_checks([spec_of(f) for f in HTTP_CHECKS], {HttpFacts: facts}, {}).runs
    return {r.check_id: (r.status, r.finding_count) for r in runs}


def test_a_failed_web_service_is_not_passed() -> None:
    clean = ("<html><title>Plug</title><body>Power: on</body></html>")
    listing = '<html><title>Index of /files/</title><a href="a.txt">a.txt</a></html>'
    dead = free_port("127.0.0.104")
    with raw_server("127.0.0.104", lambda p: html(listing if p == "/files/" else clean)) as srv:
        facts = _http("127.0.0.104", srv.port, dead)
    assert [bool(s.reason) for s in facts.services] == [False, True]
    statuses = _statuses(facts)
    # a failing finding on the answering service: the check stands; otherwise the dead service is unjudged
    assert statuses["net.http.directory-listing"] == (RunStatus.COMPLETED, 1)
    assert statuses["net.http.no-https-redirect"] == (RunStatus.COMPLETED, 1)
    for check_id in ("net.http.admin-plaintext", "net.http.basic-auth-plaintext", "net.http.unauthenticated-admin",
                     "net.http.default-page", "net.http.missing-security-headers"):
        assert statuses[check_id] == (RunStatus.INCONCLUSIVE, 0), check_id
    reasons = {r.check_id: r.reason for r in run_checks([spec_of(http_checks.default_page)], {HttpFacts: facts},
                                                          {}).runs}
    assert f"127.0.0.104:{dead}" in reasons["net.http.default-page"]


def _sslyze_result(host: str, port: int, protocols: dict[str, str], connected: bool = True) -> dict[str, Any]:
    """One server's entry as sslyze 6 writes it; ``protocols``: scan command → status."""
    scans: dict[str, Any] = {}
    for key in ("ssl_2_0", "ssl_3_0", "tls_1_0", "tls_1_1", "tls_1_2", "tls_1_3"):
        status = protocols.get(key, "COMPLETED")
        supported = key == "tls_1_2" or (key == "tls_1_0" and "weak" in protocols)
        scans[f"{key}_cipher_suites"] = {
            "status": status, "error_reason": "BUG_IN_SSLYZE" if status == "ERROR" else None,
            "error_trace": "Traceback ..." if status == "ERROR" else None,
            "result": None if status == "ERROR" else {"is_tls_version_supported": supported, "accepted_cipher_suites": [
                {"cipher_suite": {"name": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "key_size": 128}}] if supported
                else []}}
    scans["certificate_info"] = {"status": protocols.get("certificate_info", "COMPLETED"), "result": None}
    return {"server_location": {"hostname": host, "ip_address": host, "port": port},
            "connectivity_status": "COMPLETED" if connected else "ERROR",
            "connectivity_error_trace": None if connected else "Connection rejected", "scan_result": scans}


def _tls_run(results: list[dict[str, Any]], services: list[NetworkService]) -> dict[str, RunStatus]:
    facts = TlsFacts(tuple(parse_sslyze(services, json.dumps({"server_scan_results": results}), "")))
    runs = run_checks([spec_of(tls_checks.weak_protocol)], {TlsFacts: facts}, {}).runs
    return {r.check_id: r.status for r in runs}


def test_a_failed_tls_service_or_scan_command_is_not_passed() -> None:
    a, b = (NetworkService(host="127.0.0.105", port=p, transport="tcp", name="https", tls=True) for p in (443, 8443))
    # finding 12: one scanned (TLS 1.2 only), one not reachable → the check cannot say the second is fine
    assert _tls_run([_sslyze_result(a.host, 443, {}), _sslyze_result(b.host, 8443, {}, connected=False)],
                    [a, b]) == {"net.tls.weak-protocol": RunStatus.INCONCLUSIVE}
    # ... unless the scanned one already fails (TLS 1.0 accepted)
    assert _tls_run([_sslyze_result(a.host, 443, {"weak": ""}), _sslyze_result(b.host, 8443, {}, connected=False)],
                    [a, b]) == {"net.tls.weak-protocol": RunStatus.COMPLETED}
    # finding 13: the TLS 1.0 scan command ended in ERROR: not 'TLS 1.0 not supported'
    (svc,) = parse_sslyze([a], json.dumps({"server_scan_results": [_sslyze_result(a.host, 443,
                                                                                   {"tls_1_0": "ERROR"})]}), "")
    assert "tls_1_0_cipher_suites: ERROR (BUG_IN_SSLYZE)" in svc.reason
    assert _tls_run([_sslyze_result(a.host, 443, {"tls_1_0": "ERROR"})], [a]) == \
        {"net.tls.weak-protocol": RunStatus.INCONCLUSIVE}
    assert _tls_run([_sslyze_result(a.host, 443, {})], [a]) == {"net.tls.weak-protocol": RunStatus.COMPLETED}


# ------------------------------------------------------------------ finding 14: IPv6 hosts

def _has_ipv6_loopback() -> bool:
    try:
        socket.create_server(("::1", 0), family=socket.AF_INET6).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback")
def test_ipv6_urls_host_header_and_sslyze_argument(tmp_path: Path) -> None:
    assert Target("::1", 8080, False).url("/x") == "http://[::1]:8080/x"
    root = '<html><title>v6</title><a href="/next">next</a><a href="http://[::1]:1/other">other port</a></html>'
    with raw_server("::1", lambda _: html(root)) as srv:
        page = _fetch("::1", srv.port)
        (_, _, headers, _), = srv.requests
    assert isinstance(page, Page) and page.links == ("/next",)
    assert headers["host"] == f"[::1]:{srv.port}"
    # the argument sslyze gets: a stand-in program records its command line
    argv_file = tmp_path / "argv.json"
    fake = tmp_path / "sslyze"
    fake.write_text(f"#!{sys.executable}\nimport json, sys\njson.dump(sys.argv[1:], open({str(argv_file)!r}, 'w'))\n")
    fake.chmod(0o755)
    svc = NetworkService(host="::1", port=443, transport="tcp", name="https", tls=True)
    asyncio.run(probe_tls(_net("::1"), Discovered(hosts=(), services=(svc,)), DeviceOptions(), sslyze=str(fake)))
    assert json.loads(argv_file.read_text())[-1] == "[::1]:443"


# ------------------------------------------------------------------ finding 15: change-password and settings forms

DEVICE = """<html><title>Camera setup</title><body>Set the admin password before first use.
<form method="post" action="/chpw">Old <input type="password" name="old_password">
New <input type="password" name="new_password"> Again <input type="password" name="confirm_password">
<input type="submit" value="Change"></form>
<form method="post" action="/newpw"><input name="user" value="admin"><input type="password" name="newPass"></form>
<form method="post" action="/save">SSID <input name="ssid" value="home"><input type="submit"></form>
<form method="get" action="/search">Find <input name="q" value="x"></form></body></html>"""


def test_change_password_and_settings_forms_are_never_posted() -> None:
    with raw_server("127.0.0.106", lambda p: html(DEVICE if p == "/" else "<title>ok</title>")) as srv:
        facts = _http("127.0.0.106", srv.port)
        inputs = asyncio.run(probe_input(_net("127.0.0.106"), Discovered(hosts=()), DeviceOptions(), web=facts))
        posted = srv.paths("POST")
    assert posted == []  # no guessed password was sent to /chpw or /newpw, no payload into /save
    assert facts.logins == () and facts.services[0].root is not None
    assert facts.services[0].root.login_form is None
    assert {p.parameter.path for p in inputs.probed} == {"/search"}
    assert sum("/save: a POST form that is not a login form" in s for s in inputs.skipped) == 1
    assert Form("/login", "POST", (("user", "text", ""), ("pass", "password", ""))).is_login
