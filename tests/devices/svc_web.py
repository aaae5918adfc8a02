"""Web services for the device test bed (addresses 127.0.0.41-49), each a context manager:

- ``vulnerable_lighttpd``: a real lighttpd with real shell CGIs: a login form taking admin:admin (a failed login
  answers 200 with the form again), an unauthenticated diagnostics page whose CGI runs ``ping -c 1 $ip`` through
  ``sh -c`` unsanitised (command injection; ``ping`` is a local shim so no packet leaves), HTTP Basic on /admin/
  (admin:admin) and a directory listing on /files/, no security headers.
- ``redirecting_lighttpd``: lighttpd answering every plain HTTP request with a redirect to HTTPS.
- ``hardened_https``: a Python HTTPS server with a trustme certificate (lighttpd here has no TLS module), a
  login form with a random password, and the security headers.
- ``weak_tls``: ``openssl s_server`` with a 1024-bit self-signed certificate made by openssl, TLS 1.0 and 1.1
  enabled, SECLEVEL=0 ciphers.
- ``fragile_http``: a Python HTTP server (its own process) that dies on a parameter over 2000 bytes.
"""

from __future__ import annotations

import contextlib
import http.server
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import trustme
from svc_basic import free_port  # one free-port picker for the whole test bed

VULNERABLE_HOST = "127.0.0.41"
HARDENED_HOST = "127.0.0.42"
WEAK_TLS_HOST = "127.0.0.43"
FRAGILE_HOST = "127.0.0.44"

LOGIN_CGI = r"""#!/bin/sh
form='<form method="post" action="/cgi-bin/login.cgi"><input type="hidden" name="token" value="'$$'">
User <input type="text" name="username"> Password <input type="password" name="password">
<input type="submit" name="login" value="Log in"></form>'
echo "Content-Type: text/html"
echo
if [ "$REQUEST_METHOD" = POST ]; then
  body=$(head -c "${CONTENT_LENGTH:-0}")
  user=""; pass=""
  for kv in $(echo "$body" | tr '&' ' '); do
    case "$kv" in
      username=*) user=$(busybox httpd -d "${kv#*=}");;
      password=*) pass=$(busybox httpd -d "${kv#*=}");;
    esac
  done
  if [ "$user" = admin ] && [ "$pass" = admin ]; then
    echo "<html><head><title>Router status</title></head><body>Welcome, $user. Uptime 3 days."
    echo '<a href="/cgi-bin/ping.cgi">Diagnostics</a> <a href="/logout">Log out</a></body></html>'
    exit 0
  fi
  echo "<html><head><title>Router login</title></head><body><p>Login failed.</p>$form</body></html>"
  exit 0
fi
echo "<html><head><title>Router login</title></head><body>$form</body></html>"
"""

PING_CGI = r"""#!/bin/sh
export PATH="@BIN@:$PATH"
echo "Content-Type: text/html"
echo
echo '<html><head><title>Diagnostics</title></head><body><h1>Network diagnostics</h1>'
echo '<form method="get" action="/cgi-bin/ping.cgi">Ping <input type="text" name="ip" value="127.0.0.1">'
echo '<input type="submit" value="Ping"></form><p>Reboot and firmware upgrade are under Settings.</p>'
ip=""
for kv in $(echo "$QUERY_STRING" | tr '&' ' '); do
  case "$kv" in ip=*) ip=$(busybox httpd -d "${kv#*=}");; esac
done
if [ -n "$ip" ]; then
  echo "<pre>"
  sh -c "ping -c 1 $ip" 2>&1 | head -c 2000 | sed 's/</\&lt;/g'
  echo "</pre>"
fi
echo "</body></html>"
"""

PING_SHIM = """#!/bin/sh
# stands in for ping so that nothing leaves loopback: prints what a ping would
echo "PING $3: 56 data bytes"
echo "1 packets transmitted, 1 packets received"
"""

INDEX = """<html><head><title>Home Router</title></head><body><h1>Home Router</h1>
<a href="/cgi-bin/login.cgi">Log in</a> <a href="/cgi-bin/ping.cgi">Diagnostics</a> <a href="/files/">Files</a>
<a href="http://192.0.2.1/elsewhere">Vendor</a></body></html>"""


def wait_listening(host: str, port: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server on {host}:{port} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {host}:{port}")


@contextlib.contextmanager
def _process(args: list[str], host: str, port: int) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(host, port, proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _lighttpd_conf(root: Path, host: str, port: int, extra: str) -> Path:
    conf = root / "lighttpd.conf"
    conf.write_text(textwrap.dedent(f"""\
        server.document-root = "{root / 'www'}"
        server.bind = "{host}"
        server.port = {port}
        server.errorlog = "{root / 'error.log'}"
        server.pid-file = "{root / 'lighttpd.pid'}"
        server.upload-dirs = ("{root}")
        index-file.names = ("index.html")
        mimetype.assign = (".html" => "text/html", ".txt" => "text/plain")
        """) + extra)
    return conf


def _lighttpd() -> str:
    path = shutil.which("lighttpd") or "/usr/sbin/lighttpd"
    if not Path(path).exists():
        import pytest

        pytest.skip("lighttpd is not installed")
    return path


@contextlib.contextmanager
def vulnerable_lighttpd(root: Path, host: str = VULNERABLE_HOST) -> Iterator[int]:
    """The vulnerable persona's web admin; yields its port."""
    www, cgi, shim = root / "www", root / "www" / "cgi-bin", root / "bin"
    for d in (www / "files", cgi, shim, www / "admin"):
        d.mkdir(parents=True, exist_ok=True)
    (www / "index.html").write_text(INDEX)
    (www / "files" / "config-backup.txt").write_text("wan=dhcp\n")
    (www / "admin" / "index.html").write_text("<html><head><title>Admin</title></head><body>Settings</body></html>")
    for name, text in (("login.cgi", LOGIN_CGI), ("ping.cgi", PING_CGI.replace("@BIN@", str(shim)))):
        (cgi / name).write_text(text)
        (cgi / name).chmod(0o755)
    (shim / "ping").write_text(PING_SHIM)
    (shim / "ping").chmod(0o755)
    (root / "users").write_text("admin:admin\n")
    port = free_port(host)
    conf = _lighttpd_conf(root, host, port, f"""\
server.modules += ("mod_cgi", "mod_auth", "mod_authn_file", "mod_dirlisting")
server.feature-flags += ("auth.delay-invalid-creds" => "disable")
$HTTP["url"] =~ "^/cgi-bin/" {{ cgi.assign = (".cgi" => "") }}
$HTTP["url"] =~ "^/files/" {{ dir-listing.activate = "enable" }}
auth.backend = "plain"
auth.backend.plain.userfile = "{root / 'users'}"
auth.require = ("/admin/" => ("method" => "basic", "realm" => "Router", "require" => "valid-user"))
""")
    with _process([_lighttpd(), "-D", "-f", str(conf)], host, port):
        yield port


@contextlib.contextmanager
def redirecting_lighttpd(root: Path, https_port: int, host: str = HARDENED_HOST) -> Iterator[int]:
    """Plain HTTP that only redirects to HTTPS; yields its port."""
    (root / "www").mkdir(parents=True, exist_ok=True)
    port = free_port(host)
    conf = _lighttpd_conf(root, host, port, f"""\
server.modules += ("mod_redirect")
url.redirect = ("^/(.*)" => "https://{host}:{https_port}/$1")
""")
    with _process([_lighttpd(), "-D", "-f", str(conf)], host, port):
        yield port


MOZILLA_INTERMEDIATE = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                        "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")
HARDENED_LOGIN = """<html><head><title>Camera login</title></head><body>{msg}
<form method="post" action="/login"><input name="user"> <input type="password" name="pass">
<input type="submit" value="Sign in"></form></body></html>"""


class _HardenedHandler(http.server.BaseHTTPRequestHandler):
    password = secrets.token_urlsafe(16)

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        for name, value in (("Content-Type", "text/html"), ("Content-Length", str(len(data))),
                            ("Strict-Transport-Security", "max-age=31536000"),
                            ("Content-Security-Policy", "default-src 'self'"),
                            ("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY")):
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path in ("/", "/login"):
            self._send(200, HARDENED_LOGIN.format(msg=""))
        else:
            self._send(404, "<html><head><title>Not found</title></head></html>")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 65536)).decode()
        ok = f"pass={self.password}" in body.split("&")
        self._send(200, "<html><head><title>Camera</title></head><body>Live view</body></html>" if ok
                   else HARDENED_LOGIN.format(msg="<p>Wrong user name or password.</p>"))


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # scanners' failed handshakes are expected


@contextlib.contextmanager
def hardened_https(ca: trustme.CA, host: str = HARDENED_HOST) -> Iterator[int]:
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    cert = ca.issue_cert(host, "camera.local", not_before=now - dt.timedelta(days=1),
                         not_after=now + dt.timedelta(days=300))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(MOZILLA_INTERMEDIATE)
    ctx.set_ecdh_curve("prime256v1")
    cert.configure_cert(ctx)
    server = _QuietServer((host, 0), _HardenedHandler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def weak_tls(root: Path, host: str = WEAK_TLS_HOST) -> Iterator[int]:
    """openssl s_server -www: 1024-bit self-signed, TLS 1.0-1.3, every cipher openssl still has."""
    root.mkdir(parents=True, exist_ok=True)
    key, pem = root / "weak.key", root / "weak.pem"
    if not pem.exists():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:1024", "-nodes", "-keyout", str(key), "-out",
                        str(pem), "-days", "30", "-subj", "/CN=router.local"], check=True, capture_output=True)
    port = free_port(host)
    with _process(["openssl", "s_server", "-accept", f"{host}:{port}", "-cert", str(pem), "-key", str(key), "-www",
                   "-cipher", "ALL:@SECLEVEL=0", "-min_protocol", "TLSv1", "-quiet"], host, port):
        yield port


FRAGILE = """
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        if len(self.path) > 2000:
            os._exit(3)  # the firmware's fixed-size buffer
        body = (b'<html><head><title>Plug</title></head><body><form action="/set">'
                b'<input name="name" value="plug"><input type="submit"></form></body></html>')
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer((sys.argv[1], int(sys.argv[2])), H).serve_forever()
"""


@contextlib.contextmanager
def fragile_http(host: str = FRAGILE_HOST) -> Iterator[int]:
    """Dies (for good) on a request line over 2000 bytes; yields its port."""
    port = free_port(host)
    with _process([sys.executable, "-c", FRAGILE, host, str(port)], host, port):
        yield port
