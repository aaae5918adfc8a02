"""Basic services for the device test bed (discovery and identification), on loopback addresses 127.0.0.21-29.

Real daemons from Debian, run as ``nobody``: dropbear, busybox telnetd, lighttpd, mosquitto, snmpd. Python
servers where no daemon fits: HTTPS with a trustme certificate, FTP/SMTP greeters, an RTSP responder, and UDP
responders for SSDP, mDNS, CoAP, TFTP and NTP. Each starter is a context manager yielding its port;
``basic_bed`` starts them all on one host.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

BED_HOST = "127.0.0.21"  # the services
QUIET_HOST = "127.0.0.22"  # in scope, nothing listens
ELSEWHERE = "127.0.0.29"  # a listener tests keep OUT of the scope


def free_port(host: str, kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _bound(host: str, port: int, kind: socket.SocketKind) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind((host, port))
        except OSError:
            return True
        return False


def _wait_bound(proc: subprocess.Popen[bytes], host: str, port: int, kind: socket.SocketKind) -> None:
    deadline = time.monotonic() + 10
    while not _bound(host, port, kind):
        if proc.poll() is not None or time.monotonic() > deadline:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise RuntimeError(f"{proc.args!r} did not start (exit {proc.poll()}): {out[-800:]}")
        time.sleep(0.02)


@contextlib.contextmanager
def _workdir() -> Iterator[Path]:
    """A directory ``nobody`` can read (pytest's temporary directories are root-only)."""
    path = Path(tempfile.mkdtemp(prefix="iotcop-svc-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _give(*paths: Path) -> None:
    nobody = pwd.getpwnam("nobody")
    for p in paths:
        os.chown(p, nobody.pw_uid, nobody.pw_gid)


@contextlib.contextmanager
def daemon(argv: list[str], host: str, port: int, kind: socket.SocketKind = socket.SOCK_STREAM,
           env: dict[str, str] | None = None) -> Iterator[int]:
    """Run ``argv`` (as nobody when we are root) until the port is bound; kill it afterwards."""
    if shutil.which(argv[0]) is None:
        pytest.skip(f"{argv[0]} is not installed")
    user = "nobody" if os.geteuid() == 0 else None
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            user=user, env={**os.environ, **(env or {})})
    try:
        _wait_bound(proc, host, port, kind)
        yield port
    finally:
        proc.kill()
        proc.wait(5)
        if proc.stdout:
            proc.stdout.close()


@contextlib.contextmanager
def dropbear(host: str = BED_HOST) -> Iterator[int]:
    port = free_port(host)
    with _workdir() as d:
        key = d / "host_ed25519"
        subprocess.run(["dropbearkey", "-t", "ed25519", "-f", str(key)], check=True, capture_output=True)
        _give(d, key)
        with daemon(["dropbear", "-F", "-E", "-s", "-w", "-j", "-k", "-r", str(key), "-P", str(d / "pid"),
                     "-p", f"{host}:{port}"], host, port):
            yield port


TELNET_GREETING = b"\xff\xfd\x01\xff\xfd\x1f\xff\xfb\x01\xff\xfb\x03\r\nrouter login: "  # busybox telnetd's


def _has_applet(name: str) -> bool:
    if shutil.which("busybox") is None:
        return False
    done = subprocess.run(["busybox", "--list"], capture_output=True, text=True)
    return name in done.stdout.split()


@contextlib.contextmanager
def telnetd(host: str = BED_HOST, login: str = "/bin/sh") -> Iterator[int]:
    """busybox telnetd when this busybox has it (Debian's dynamic build has not); else a Python stand-in that
    negotiates as busybox telnetd does (DO ECHO, DO NAWS, WILL ECHO, WILL SGA) and prompts for a login."""
    if not _has_applet("telnetd"):
        with tcp_responder(host, TELNET_GREETING) as port:
            yield port
        return
    port = free_port(host)
    with daemon(["busybox", "telnetd", "-F", "-p", str(port), "-b", host, "-l", login], host, port):
        yield port


@contextlib.contextmanager
def lighttpd(host: str = BED_HOST) -> Iterator[int]:
    port = free_port(host)
    with _workdir() as d:
        (d / "www").mkdir()
        (d / "www" / "index.html").write_text("<html><title>Router</title></html>\n")
        conf = d / "lighttpd.conf"
        conf.write_text(f'server.document-root = "{d}/www"\nserver.bind = "{host}"\nserver.port = {port}\n'
                        f'index-file.names = ("index.html")\nserver.errorlog = "{d}/error.log"\n')
        _give(d, d / "www", d / "www" / "index.html", conf)
        with daemon(["lighttpd", "-D", "-f", str(conf)], host, port):
            yield port


@contextlib.contextmanager
def mosquitto(host: str = BED_HOST) -> Iterator[int]:
    port = free_port(host)
    with _workdir() as d:
        conf = d / "mosquitto.conf"
        conf.write_text(f"listener {port} {host}\nallow_anonymous false\npersistence false\nlog_dest stderr\n")
        _give(d, conf)
        with daemon(["mosquitto", "-c", str(conf)], host, port):
            yield port


@contextlib.contextmanager
def snmpd(host: str = BED_HOST) -> Iterator[int]:
    port = free_port(host, socket.SOCK_DGRAM)
    with _workdir() as d:
        conf = d / "snmpd.conf"
        conf.write_text("rocommunity public 127.0.0.0/8\nsysDescr iotcop test bed\n")
        _give(d, conf)
        with daemon(["snmpd", "-f", "-Lo", "-C", "-c", str(conf), "-p", str(d / "pid"), f"udp:{host}:{port}"],
                    host, port, socket.SOCK_DGRAM, env={"SNMP_PERSISTENT_DIR": str(d), "MIBS": ""}):
            yield port


# ---------------------------------------------------------------- Python servers

@contextlib.contextmanager
def _thread(serve: Callable[[], None], stop: Callable[[], None]) -> Iterator[None]:
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop()
        thread.join(5)


@contextlib.contextmanager
def https_server(host: str = BED_HOST) -> Iterator[int]:
    """Python's http.server over TLS with a trustme certificate for the address."""
    trustme = pytest.importorskip("trustme")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    trustme.CA().issue_cert(host).configure_cert(ctx)

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Quiet)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    def stop() -> None:
        server.shutdown()
        server.server_close()

    with _thread(server.serve_forever, stop):
        yield int(server.server_address[1])


@contextlib.contextmanager
def tcp_responder(host: str, greeting: bytes = b"", answer: Callable[[bytes], bytes] | None = None,
                  peers: list[str] | None = None) -> Iterator[int]:
    """A TCP server that sends ``greeting`` on connect and ``answer(request)`` to the first request; the address
    of every client is appended to ``peers``."""
    listener = socket.create_server((host, 0))
    listener.settimeout(0.2)
    stopped = threading.Event()

    def handle(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.settimeout(2)
            if greeting:
                conn.sendall(greeting)
            if answer is not None:
                request = conn.recv(4096)
                if request:
                    conn.sendall(answer(request))
            with contextlib.suppress(OSError):
                conn.recv(1)

    def serve() -> None:
        while not stopped.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                conn, peer = listener.accept()
                if peers is not None:
                    peers.append(str(peer[0]))
                threading.Thread(target=handle, args=(conn,), daemon=True).start()

    with _thread(serve, stopped.set):
        yield int(listener.getsockname()[1])
    listener.close()


@contextlib.contextmanager
def udp_responder(host: str, answer: Callable[[bytes], bytes | None]) -> Iterator[int]:
    """A UDP server replying ``answer(datagram)`` (None: silence) to each datagram."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.settimeout(0.2)
    stopped = threading.Event()

    def serve() -> None:
        while not stopped.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                data, peer = sock.recvfrom(65536)
                reply = answer(data)
                if reply is not None:
                    sock.sendto(reply, peer)

    with _thread(serve, stopped.set):
        yield int(sock.getsockname()[1])
    sock.close()


def rtsp_answer(request: bytes) -> bytes:
    cseq = next((ln.split(b":", 1)[1].strip() for ln in request.split(b"\r\n") if ln.lower().startswith(b"cseq:")),
                b"1")
    return (b"RTSP/1.0 200 OK\r\nCSeq: " + cseq
            + b"\r\nServer: GStreamer RTSP server\r\nPublic: OPTIONS, DESCRIBE\r\n\r\n")


def ssdp_answer(request: bytes) -> bytes | None:
    if not request.startswith(b"M-SEARCH"):
        return None
    return (b"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: upnp:rootdevice\r\nUSN: uuid:1234::upnp:rootdevice"
            b"\r\nEXT:\r\nSERVER: Linux/4.14 UPnP/1.0 MiniUPnPd/2.1\r\nLOCATION: http://127.0.0.21:5000/rootDesc.xml"
            b"\r\n\r\n")


def mdns_answer(request: bytes) -> bytes | None:
    """Answers a DNS-SD services query with one PTR record (_http._tcp.local), name compressed."""
    if len(request) < 12 or request[2] & 0x80:
        return None
    question = request[12:]
    answer = b"\xc0\x0c" + b"\x00\x0c\x00\x01" + b"\x00\x00\x00\x0a" + b"\x00\x0d" + b"\x05_http\x04_tcp\xc0\x23"
    return request[:2] + b"\x84\x00\x00\x01\x00\x01\x00\x00\x00\x00" + question + answer


def coap_answer(request: bytes) -> bytes | None:
    if len(request) < 4 or request[0] >> 6 != 1:
        return None
    tkl = request[0] & 0x0F
    payload = b'</sensors/temp>;rt="temperature";if="sensor",</config>'
    return bytes([0x60 | tkl, 0x45]) + request[2:4] + request[4:4 + tkl] + b"\xc1\x28\xff" + payload


def tftp_answer(request: bytes) -> bytes | None:
    if request[:2] != b"\x00\x01":
        return None
    return b"\x00\x05\x00\x01File not found\x00"


def ntp_answer(request: bytes) -> bytes | None:
    if len(request) < 48 or request[0] & 7 != 3:
        return None
    return bytes([0x24, 2, 6, 0xEC]) + b"\x00" * 8 + bytes([192, 0, 2, 1]) + b"\x00" * 16 + request[40:48] + \
        b"\x00" * 8


FTP_GREETING = b"220 (vsFTPd 3.0.3)\r\n"
SMTP_GREETING = b"220 camera.local ESMTP Postfix (Debian/GNU)\r\n"


@dataclass
class Bed:
    host: str
    tcp: dict[str, int] = field(default_factory=dict)
    udp: dict[str, int] = field(default_factory=dict)


@contextlib.contextmanager
def basic_bed(host: str = BED_HOST) -> Iterator[Bed]:
    """Every basic service on ``host``."""
    bed = Bed(host)
    with contextlib.ExitStack() as stack:
        for name, starter in (("ssh", dropbear), ("telnet", telnetd), ("http", lighttpd), ("https", https_server),
                              ("mqtt", mosquitto)):
            bed.tcp[name] = stack.enter_context(starter(host))
        bed.tcp["ftp"] = stack.enter_context(tcp_responder(host, FTP_GREETING))
        bed.tcp["smtp"] = stack.enter_context(tcp_responder(host, SMTP_GREETING))
        bed.tcp["rtsp"] = stack.enter_context(tcp_responder(host, answer=rtsp_answer))
        bed.udp["snmp"] = stack.enter_context(snmpd(host))
        for name, answer in (("ssdp", ssdp_answer), ("mdns", mdns_answer), ("coap", coap_answer),
                             ("tftp", tftp_answer), ("ntp", ntp_answer)):
            bed.udp[name] = stack.enter_context(udp_responder(host, answer))
        yield bed
