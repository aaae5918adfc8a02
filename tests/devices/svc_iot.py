"""IoT protocol services for the device test bed, on loopback addresses 127.0.0.51-59 only.

Real daemons where Debian has them (mosquitto, snmpd), small Python responders where it has none (RTSP, SSDP +
UPnP IGD over HTTP, CoAP, TFTP). Each is a context manager yielding an ``Endpoint`` (``.service()`` gives the
``NetworkService`` discovery would report), so personas can be assembled from them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

import pytest
from svc_basic import free_port  # one free-port picker for the whole test bed

from iotcop.model import NetworkService

MQTT_HOST, RTSP_HOST, SNMP_HOST, UPNP_HOST, COAP_HOST, TFTP_HOST = (f"127.0.0.{n}" for n in range(51, 57))
ELSEWHERE = "127.0.0.59"  # an address tests keep OUT of the scope


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    name: str
    transport: Literal["tcp", "udp"] = "tcp"
    tls: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def service(self) -> NetworkService:
        return NetworkService(host=self.host, port=self.port, transport=self.transport, name=self.name,
                              tls=self.tls, method="test bed")


def wait_tcp(host: str, port: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the daemon exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {host}:{port}")


@contextlib.contextmanager
def _daemon(argv: list[str], env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    if shutil.which(argv[0]) is None:
        pytest.skip(f"{argv[0]} is not installed")
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, **(env or {})})
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- MQTT: mosquitto -------------------------------------------------------------------------------------------


@contextlib.contextmanager
def mosquitto(tmp: Path, *, tls: bool = False, users: dict[str, str] | None = None,
              retained: dict[str, str] | None = None) -> Iterator[Endpoint]:
    """mosquitto on MQTT_HOST: anonymous on plain TCP, or (``tls``) with a trustme certificate and a password file."""
    import trustme

    port = free_port(MQTT_HOST)
    lines = [f"listener {port} {MQTT_HOST}", "persistence false", "user root", "log_dest none",
             f"allow_anonymous {'false' if users else 'true'}"]
    if users:
        pwfile = tmp / "passwd"
        for i, (user, password) in enumerate(users.items()):
            subprocess.run(["mosquitto_passwd", "-b", *(["-c"] if i == 0 else []), str(pwfile), user, password],
                           check=True, capture_output=True)
        lines.append(f"password_file {pwfile}")
    if tls:
        ca = trustme.CA()
        cert = ca.issue_cert(MQTT_HOST)
        ca.cert_pem.write_to_path(str(tmp / "ca.pem"))
        cert.private_key_pem.write_to_path(str(tmp / "key.pem"))
        cert.cert_chain_pems[0].write_to_path(str(tmp / "cert.pem"))
        lines += [f"cafile {tmp / 'ca.pem'}", f"certfile {tmp / 'cert.pem'}", f"keyfile {tmp / 'key.pem'}"]
    (tmp / "mosquitto.conf").write_text("\n".join(lines) + "\n")
    with _daemon(["mosquitto", "-c", str(tmp / "mosquitto.conf")]) as proc:
        wait_tcp(MQTT_HOST, port, proc)
        for topic, payload in (retained or {}).items():
            subprocess.run(["mosquitto_pub", "-h", MQTT_HOST, "-p", str(port), "-t", topic, "-m", payload, "-r"],
                           check=True, capture_output=True, timeout=5)
        yield Endpoint(MQTT_HOST, port, "mqtt", tls=tls)


# --- SNMP: snmpd -----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def snmpd(tmp: Path, *, communities: tuple[str, ...] = ("public",), v3_only: bool = False,
          v3: bool = True) -> Iterator[Endpoint]:
    """net-snmp's snmpd, unprivileged port: read-only communities (v1/v2c; ``v3=False`` disables SNMPv3), or
    (``v3_only``) a v3 user only."""
    port = free_port(SNMP_HOST, socket.SOCK_DGRAM)
    conf = [f"rocommunity {c} 127.0.0.0/8" for c in communities if not v3_only]
    conf += [] if v3 or v3_only else ["[snmp] disableSNMPv3 yes"]
    if v3_only:
        conf += ["createUser iotcop SHA iotcop-auth-pass AES iotcop-priv-pass", "rouser iotcop priv"]
    (tmp / "snmpd.conf").write_text("\n".join(conf) + "\n")
    log = tmp / "snmpd.log"
    argv = ["snmpd", "-f", "-Lf", str(log), "-C", "-c", str(tmp / "snmpd.conf"), "-p", str(tmp / "snmpd.pid"),
            f"udp:{SNMP_HOST}:{port}"]
    with _daemon(argv, {"SNMP_PERSISTENT_DIR": str(tmp), "MIBS": ""}) as proc:
        deadline = time.monotonic() + 5
        while "NET-SNMP version" not in (log.read_text() if log.exists() else ""):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("snmpd did not start: " + (log.read_text() if log.exists() else ""))
            time.sleep(0.05)
        yield Endpoint(SNMP_HOST, port, "snmp", "udp")


# --- Python responders -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def _serving(server: socketserver.BaseServer) -> Iterator[None]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class _TCP(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


SDP = "v=0\r\no=- 0 0 IN IP4 127.0.0.52\r\ns=camera\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"


def _rtsp_handler(auth: str, user: str, password: str) -> type[socketserver.StreamRequestHandler]:
    nonce = secrets.token_hex(8)
    realm = "IPCAM"

    def authorised(header: str, method: str) -> bool:
        if auth == "none":
            return True
        if auth == "basic":
            import base64
            return header == "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        fields = dict(p.strip().split("=", 1) for p in header.removeprefix("Digest ").split(",") if "=" in p)
        fields = {k: v.strip('"') for k, v in fields.items()}
        ha1 = hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()
        ha2 = hashlib.md5(f"{method}:{fields.get('uri', '')}".encode()).hexdigest()
        return fields.get("response") == hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            while True:
                lines = []
                while (line := self.rfile.readline(4096)) not in (b"\r\n", b"\n", b""):
                    lines.append(line.decode("latin-1").strip())
                if not lines:
                    return
                method = lines[0].split(" ", 1)[0]
                headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
                cseq = headers.get("cseq", "0")
                if method == "OPTIONS":
                    reply = f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY\r\n\r\n"
                elif method != "DESCRIBE":
                    reply = f"RTSP/1.0 405 Method Not Allowed\r\nCSeq: {cseq}\r\n\r\n"
                elif authorised(headers.get("authorization", ""), method):
                    reply = (f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Type: application/sdp\r\n"
                             f"Content-Length: {len(SDP)}\r\n\r\n{SDP}")
                else:
                    challenge = (f'Basic realm="{realm}"' if auth == "basic"
                                 else f'Digest realm="{realm}", nonce="{nonce}"')
                    reply = f"RTSP/1.0 401 Unauthorized\r\nCSeq: {cseq}\r\nWWW-Authenticate: {challenge}\r\n\r\n"
                self.wfile.write(reply.encode())

    return Handler


@contextlib.contextmanager
def rtsp(*, auth: Literal["none", "basic", "digest"] = "none", user: str = "admin",
         password: str = "12345") -> Iterator[Endpoint]:
    """An RTSP camera responder: DESCRIBE answered with SDP without credentials, or behind Basic/Digest."""
    server = _TCP((RTSP_HOST, 0), _rtsp_handler(auth, user, password))
    with _serving(server):
        yield Endpoint(RTSP_HOST, server.server_address[1], "rtsp")




# --- SSDP + UPnP IGD -------------------------------------------------------------------------------------------

IGD = "urn:schemas-upnp-org:device:InternetGatewayDevice:1"
WANIP = "urn:schemas-upnp-org:service:WANIPConnection:1"
MEDIA = "urn:schemas-upnp-org:device:MediaRenderer:1"


def _description(kind: str) -> str:
    if kind == "media":
        inner = f"<deviceType>{MEDIA}</deviceType><friendlyName>TV</friendlyName><serviceList/>"
    else:
        inner = (f"<deviceType>{IGD}</deviceType><friendlyName>Home Router</friendlyName><modelName>R1</modelName>"
                 "<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType><deviceList>"
                 "<device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType><serviceList>"
                 f"<service><serviceType>{WANIP}</serviceType><serviceId>urn:upnp-org:serviceId:WANIPConn1"
                 "</serviceId><controlURL>/ctl/IPConn</controlURL><SCPDURL>/WANIPCn.xml</SCPDURL></service>"
                 "</serviceList></device></deviceList></device></deviceList>")
    return ('<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0"><specVersion><major>1</major>'
            f"<minor>0</minor></specVersion><device>{inner}</device></root>")


def _soap_fault(code: int, text: str) -> bytes:
    return ('<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>'
            "<faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError "
            f'xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>{code}</errorCode><errorDescription>{text}'
            "</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>").encode()


def _igd_http(kind: str, log: list[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", 'text/xml; charset="utf-8"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._send(200, _description(kind).encode()) if self.path == "/rootDesc.xml" else self._send(404, b"")

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            action = self.headers.get("SOAPAction", "").strip('"').rsplit("#", 1)[-1]
            log.append(action)
            if kind == "locked":
                self._send(500, _soap_fault(606, "Action not authorized"))
            elif action == "GetGenericPortMappingEntry":
                self._send(500, _soap_fault(713, "SpecifiedArrayIndexInvalid"))
            else:
                ip = "<NewExternalIPAddress>203.0.113.7</NewExternalIPAddress>" if "External" in action else ""
                self._send(200, ('<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/'
                                 f'envelope/"><s:Body><u:{action}Response xmlns:u="{WANIP}">{ip}</u:{action}'
                                 "Response></s:Body></s:Envelope>").encode())

    return Handler


class _SSDP(socketserver.UDPServer):
    allow_reuse_address = True


@contextlib.contextmanager
def ssdp_igd(*, kind: Literal["igd", "locked", "media"] = "igd",
             location_host: str = UPNP_HOST) -> Iterator[Endpoint]:
    """An SSDP responder plus the HTTP server of its device description and WANIPConnection control URL.
    ``extra['actions']`` lists the SOAP actions received; ``location_host`` may point LOCATION elsewhere."""
    actions: list[str] = []
    web = ThreadingHTTPServer((UPNP_HOST, 0), _igd_http(kind, actions))
    location = f"http://{location_host}:{web.server_address[1]}/rootDesc.xml"
    st = MEDIA if kind == "media" else IGD

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            data, sock = self.request
            if data.startswith(b"M-SEARCH"):
                for target in ("upnp:rootdevice", st):
                    sock.sendto((f"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: {target}\r\nUSN: uuid:1::"
                                 f"{target}\r\nLOCATION: {location}\r\nSERVER: Linux/3.4 UPnP/1.0 MiniUPnPd/1.9\r\n"
                                 "EXT:\r\n\r\n").encode(), self.client_address)

    ssdp = _SSDP((UPNP_HOST, 0), Handler)
    with _serving(web), _serving(ssdp):
        yield Endpoint(UPNP_HOST, ssdp.server_address[1], "ssdp", "udp", extra={"actions": actions,
                                                                                 "location": location})


# --- CoAP ------------------------------------------------------------------------------------------------------

COAP_RESOURCES = {"sensors/temp": b"21.5", "config/wifi": b"ssid=home;psk=hunter2"}


def _coap_path(data: bytes) -> str:
    i, number, segments = 4 + (data[0] & 0x0F), 0, []
    while i < len(data) and data[i] != 0xFF:
        delta, length = data[i] >> 4, data[i] & 0x0F
        i += 1
        number += delta
        if number == 11:
            segments.append(data[i:i + length].decode())
        i += length
    return "/".join(segments)


@contextlib.contextmanager
def coap(*, secured: bool = False) -> Iterator[Endpoint]:
    """A CoAP responder: /.well-known/core and two resources readable by anyone, or (``secured``) the listing
    readable but every resource answering 4.01 Unauthorized."""
    links = ",".join(f'</{p}>;ct=0' for p in COAP_RESOURCES).encode()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            data, sock = self.request
            if len(data) < 4 or data[1] != 0x01:
                return
            path = _coap_path(data)
            body = links if path == ".well-known/core" else COAP_RESOURCES.get(path)
            code = 0x45 if body is not None else 0x84  # 2.05 Content / 4.04 Not Found
            if secured and path != ".well-known/core" and body is not None:
                code, body = 0x81, None  # 4.01 Unauthorized
            tkl = data[0] & 0x0F
            head = bytes([0x60 | tkl, code]) + data[2:4] + data[4:4 + tkl]
            sock.sendto(head + (b"\xff" + body if body else b""), self.client_address)

    server = _SSDP((COAP_HOST, 0), Handler)
    with _serving(server):
        yield Endpoint(COAP_HOST, server.server_address[1], "coap", "udp")


# --- TFTP ------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def tftp(files: dict[str, bytes] | None = None, *, any_name: bool = False) -> Iterator[Endpoint]:
    """A TFTP responder answering read requests from a fresh port (its transfer id), like tftpd does: the files
    given, ERROR 1 'File not found' for the rest (or, ``any_name``, the same data for every name)."""
    served = dict(files or {})
    requests: list[str] = []

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            data, _ = self.request
            if data[:2] != b"\x00\x01":
                return
            name = data[2:].split(b"\x00", 1)[0].decode("latin-1")
            requests.append(name)
            content = served.get(name, b"anything\n" if any_name else None)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tid:
                tid.bind((TFTP_HOST, 0))
                tid.settimeout(0.5)
                if content is None:
                    tid.sendto(b"\x00\x05\x00\x01File not found\x00", self.client_address)
                    return
                tid.sendto(b"\x00\x03\x00\x01" + content[:512], self.client_address)
                with contextlib.suppress(OSError):
                    tid.recvfrom(516)  # ACK or the client's ERROR

    server = _ThreadingUDP((TFTP_HOST, 0), Handler)
    with _serving(server):
        yield Endpoint(TFTP_HOST, server.server_address[1], "tftp", "udp", extra={"requests": requests})


class _ThreadingUDP(socketserver.ThreadingUDPServer):
    daemon_threads = True
