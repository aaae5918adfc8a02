"""What speaks on an open TCP port, fast: a banner, or the answer to one minimal request per guess.

nmap's ``-sV`` waits seconds for each of its probes (its NULL probe alone waits 6 s, and a TLS port goes
through dozens of plain-text probes first). Here a port gets at most a few short exchanges, ordered by what the
port number suggests, and every exchange stops as soon as an answer is complete:

- the greeting a server sends first (SSH ``SSH-2.0-...``, telnet IAC negotiation, FTP/SMTP/POP/IMAP ``220``/``+OK``);
- ``GET / HTTP/1.0`` (HTTP, and RTSP servers that answer it with ``RTSP/1.0``);
- a TLS handshake, then HTTP (or MQTT) over it;
- an MQTT CONNECT (a CONNACK answers it) and an RTSP ``OPTIONS``.

The parsers take untrusted bytes and never raise.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import ssl
import warnings
from dataclasses import dataclass

from iotcop.device.net import Network
from iotcop.model import NetworkService

BANNER_MAX = 500
READ_LIMIT = 8192
TELNET_OPTIONS = {0: "BINARY", 1: "ECHO", 3: "SGA", 5: "STATUS", 24: "TTYPE", 31: "NAWS", 32: "TSPEED",
                  33: "LFLOW", 34: "LINEMODE", 35: "XDISPLOC", 36: "ENVIRON", 39: "NEW-ENVIRON"}
TELNET_VERBS = {251: "WILL", 252: "WONT", 253: "DO", 254: "DONT"}
BUSYBOX_TELNETD = ["DO ECHO", "DO NAWS", "WILL ECHO", "WILL SGA"]
HTTP_PORTS = frozenset({80, 81, 82, 88, 3000, 5000, 7547, 8000, 8001, 8008, 8080, 8081, 8088, 8089, 8181, 8800, 8888,
                        9000, 9090, 10000})
TLS_PORTS = frozenset({443, 4433, 4443, 5001, 8443, 8883, 9443, 55443})
MQTT_PORTS = frozenset({1883, 8883})
RTSP_PORTS = frozenset({554, 8554, 10554})


@dataclass(frozen=True)
class Ident:
    """What a parser recognised: a service name, the software and version its banner names."""

    name: str
    product: str | None = None
    version: str | None = None
    banner: str = ""


def printable(data: bytes, limit: int = BANNER_MAX) -> str:
    """The bytes as text a report can show: non-printable bytes escaped, cut to ``limit`` characters."""
    text = "".join(chr(b) if 32 <= b < 127 or b in (9, 10, 13) else f"\\x{b:02x}" for b in data[: limit * 2])
    return text.strip()[:limit]


def split_product(token: str) -> tuple[str | None, str | None]:
    """'lighttpd/1.4.69' → ('lighttpd', '1.4.69'); 'OpenSSH_9.2p1' → ('OpenSSH', '9.2p1'); 'nginx' → ('nginx', None)."""
    token = token.strip().strip("()")[:100]
    match = re.match(r"([A-Za-z][\w.+-]*?)(?:[/_ -]v?(\d[\w.+~-]*))?$", token)
    if not match:
        return None, None
    return match.group(1), match.group(2)


def parse_ssh(data: bytes) -> Ident | None:
    """'SSH-2.0-dropbear_2022.83' (RFC 4253 identification string; lines before it are allowed)."""
    for line in data.split(b"\n")[:20]:
        match = re.match(rb"SSH-(\d\.\d+)-([\x21-\x7e]+)(?: ([\x20-\x7e]*))?", line.rstrip(b"\r"))
        if match:
            product, version = split_product(match.group(2).decode())
            return Ident("ssh", product, version, printable(line))
    return None


def parse_server_header(value: str) -> tuple[str | None, str | None]:
    """The first product token of a Server header: 'SimpleHTTP/0.6 Python/3.11.2' → ('SimpleHTTP', '0.6')."""
    first = value.strip().split(" ", 1)[0] if value.strip() else ""
    return split_product(first) if first else (None, None)


def parse_headers(data: bytes) -> tuple[str, dict[str, str]] | None:
    """(status line, lower-cased headers) of an HTTP-like response (HTTP, RTSP, SSDP); None if it is not one."""
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    lines = head.decode("latin-1").splitlines()
    if not lines or not re.match(r"(HTTP|RTSP)/\d\.\d \d{3}\b", lines[0]):
        return None
    headers: dict[str, str] = {}
    for line in lines[1:100]:
        name, sep, value = line.partition(":")
        if sep and name.strip():
            headers.setdefault(name.strip().lower(), value.strip())
    return lines[0].strip(), headers


def parse_http(data: bytes, tls: bool = False) -> Ident | None:
    parsed = parse_headers(data)
    if parsed is None:
        return None
    status, headers = parsed
    name = "rtsp" if status.startswith("RTSP/") else "https" if tls else "http"
    product, version = parse_server_header(headers.get("server", ""))
    server = f" Server: {headers['server']}" if "server" in headers else ""
    return Ident(name, product, version, printable((status + server).encode("latin-1")))


_GREETINGS = (  # (service, pattern of the first line, product patterns over the whole greeting)
    ("ftp", rb"220[ -]", ((rb"vsFTPd (\d[\w.]*)", "vsftpd"), (rb"ProFTPD (\d[\w.]*)", "ProFTPD"),
                          (rb"Pure-FTPd", "Pure-FTPd"), (rb"FileZilla Server (\d[\w.]*)", "FileZilla Server"),
                          (rb"bftpd (\d[\w.]*)", "bftpd"), (rb"\bFTP\b", ""))),
    ("smtp", rb"220[ -]", ((rb"Postfix", "Postfix"), (rb"Exim (\d[\w.]*)", "Exim"), (rb"Sendmail (\d[\w./]*)",
                                                                                         "Sendmail"),
                           (rb"\bE?SMTP\b", ""))),
    ("pop3", rb"\+OK", ((rb"Dovecot", "Dovecot"), (rb"", ""))),
    ("imap", rb"\* (OK|PREAUTH)", ((rb"Dovecot", "Dovecot"), (rb"", ""))),
)


def parse_greeting(data: bytes) -> Ident | None:
    """FTP/SMTP '220 ...', POP3 '+OK', IMAP '* OK': which protocol, and the product it names."""
    for name, first, products in _GREETINGS:
        if not re.match(first, data):
            continue
        for pattern, product in products:
            match = re.search(pattern, data[:BANNER_MAX])
            if match:
                version = match.group(1).decode("latin-1") if match.groups() else None
                return Ident(name, product or None, version, printable(data.split(b"\n", 1)[0]))
    return None


def parse_telnet(data: bytes) -> Ident | None:
    """Telnet option negotiation (IAC WILL/WONT/DO/DONT/SB): the options asked for, and any text after them."""
    if not data.startswith(b"\xff") or len(data) < 3 or data[1] not in (250, *TELNET_VERBS):
        return None
    options: list[str] = []
    text = bytearray()
    i = 0
    while i < len(data):
        if data[i] == 255 and i + 1 < len(data):
            verb = data[i + 1]
            if verb in TELNET_VERBS and i + 2 < len(data):
                options.append(f"{TELNET_VERBS[verb]} {TELNET_OPTIONS.get(data[i + 2], str(data[i + 2]))}")
                i += 3
            elif verb == 250:  # SB ... IAC SE
                end = data.find(b"\xff\xf0", i + 2)
                i = len(data) if end < 0 else end + 2
            else:
                i += 2
        else:
            text.append(data[i])
            i += 1
    shown = printable(bytes(text), 200)
    banner = f"IAC {', '.join(options[:12])}" + (f"; {shown}" if shown else "")
    product = "BusyBox telnetd" if options[:4] == BUSYBOX_TELNETD else None  # its fixed opening negotiation
    return Ident("telnet", product, None, banner[:BANNER_MAX])


def parse_banner(data: bytes) -> Ident | None:
    """Whatever a server said first (or answered to a plain-text request)."""
    for parser in (parse_ssh, parse_telnet, parse_http, parse_greeting):
        found = parser(data)
        if found is not None:
            return found
    return None


def mqtt_connect(client_id: str) -> bytes:
    """An MQTT 3.1.1 CONNECT: clean session, no credentials, keep-alive 10 s."""
    cid = client_id.encode()[:23]
    body = b"\x00\x04MQTT\x04\x02\x00\x0a" + len(cid).to_bytes(2, "big") + cid
    return bytes([0x10, len(body)]) + body


def parse_connack(data: bytes) -> Ident | None:
    """CONNACK (0x20, length 2, flags, return code): an MQTT broker; the code says whether it let us in."""
    if len(data) < 4 or data[0] != 0x20 or data[1] != 2 or data[3] > 5:
        return None
    codes = ("accepted", "unacceptable protocol version", "identifier rejected", "server unavailable",
             "bad user name or password", "not authorized")
    return Ident("mqtt", None, None, f"CONNACK {data[3]} ({codes[data[3]]})")


def client_tls() -> ssl.SSLContext:
    """TLS that talks to anything (identification, not judgement: sslyze judges the TLS configuration)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with contextlib.suppress(ssl.SSLError, ValueError), warnings.catch_warnings(action="ignore"):
        ctx.minimum_version = ssl.TLSVersion.TLSv1  # deprecated: old devices speak it
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    return ctx


async def read_answer(reader: asyncio.StreamReader, wait: float, settle: float = 0.05) -> bytes:
    """Bytes until ``wait`` passes with nothing, EOF, or a pause of ``settle`` after something arrived."""
    data = bytearray()
    with contextlib.suppress(TimeoutError, OSError, ssl.SSLError, asyncio.IncompleteReadError):
        while len(data) < READ_LIMIT:
            chunk = await asyncio.wait_for(reader.read(READ_LIMIT - len(data)), settle if data else wait)
            if not chunk:
                break
            data += chunk
    return bytes(data)


def http_request(host: str, method: str = "GET", proto: str = "HTTP/1.0") -> bytes:
    return f"{method} / {proto}\r\nHost: {host}\r\nUser-Agent: iotcop\r\nAccept: */*\r\n\r\n".encode()


def _plan(port: int) -> list[str]:
    """Which exchanges to try, most likely first."""
    if port in TLS_PORTS:
        return ["tls", "banner", "mqtt", "rtsp"]
    if port in MQTT_PORTS:
        return ["mqtt", "banner", "tls", "rtsp"]
    if port in RTSP_PORTS:
        return ["rtsp", "banner", "tls", "mqtt"]
    if port in HTTP_PORTS:
        return ["http", "tls", "mqtt", "rtsp"]
    return ["banner", "tls", "mqtt", "rtsp"]


class Identifier:
    """Identifies the TCP services of one assessment through its ``Network`` (probe name 'identify')."""

    def __init__(self, net: Network, greet: float | None = None) -> None:
        self.net = net
        self.timeout = net.limits.timeout
        self.greet = greet if greet is not None else min(0.6, self.timeout)  # how long a server-first greeting takes

    async def identify(self, host: str, port: int) -> NetworkService:
        """The service on host:port (an open port), 'unknown' when nothing answered in a way we know."""
        tls_info = ""
        for step in _plan(port):
            try:
                found, info = await self._step(host, port, step)
            except (OSError, TimeoutError, ssl.SSLError, asyncio.IncompleteReadError, EOFError):
                continue
            if step == "tls":
                tls_info = tls_info or info
            if found is not None:
                method = f"TLS handshake ({info}), {found.name} over TLS" if step == "tls" else info or "banner"
                return NetworkService(host=host, port=port, transport="tcp", name=found.name, product=found.product,
                                      version=found.version, tls=step == "tls", banner=found.banner[:BANNER_MAX],
                                      method=method)
        if tls_info:
            return NetworkService(host=host, port=port, transport="tcp", name="tls", tls=True, banner=tls_info,
                                  method="TLS handshake")
        return NetworkService(host=host, port=port, transport="tcp", name="unknown", method="no known answer")

    async def _step(self, host: str, port: int, step: str) -> tuple[Ident | None, str]:
        if step == "tls":
            return await self._tls(host, port)
        reader, writer = await self.net.open_tcp(host, port, "identify")
        try:
            if step == "banner":
                data = await read_answer(reader, self.greet)
                if not data:  # a client-first protocol: ask over HTTP, which many also answer (RTSP, SSDP)
                    step = "http"
                    writer.write(http_request(host))
                    data = await read_answer(reader, self.timeout)
            else:
                writer.write(self._request(host, step))
                data = await read_answer(reader, self.timeout)
            found = parse_connack(data) if step == "mqtt" else parse_banner(data)
            if found is not None and found.name == "mqtt":
                writer.write(b"\xe0\x00")  # DISCONNECT
            return found, "" if step == "banner" else f"{step} probe"
        finally:
            await _close(writer)

    @staticmethod
    def _request(host: str, step: str) -> bytes:
        if step == "mqtt":
            return mqtt_connect(f"iotcop-{secrets.token_hex(4)}")
        if step == "rtsp":
            return b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: iotcop\r\n\r\n"
        return http_request(host)

    async def _tls(self, host: str, port: int) -> tuple[Ident | None, str]:
        """A TLS handshake; then HTTP over it (and, on an MQTT port or without an HTTP answer, MQTT)."""
        found: Ident | None = None
        info = ""
        for inner in (["mqtt", "http"] if port in MQTT_PORTS else ["http", "mqtt"]):
            reader, writer = await self.net.open_tcp(host, port, "identify", tls=client_tls())
            try:
                sslobj = writer.get_extra_info("ssl_object")
                if isinstance(sslobj, ssl.SSLObject):
                    cipher = sslobj.cipher()
                    info = f"{sslobj.version()} {cipher[0] if cipher else ''}".strip()
                writer.write(self._request(host, inner))
                data = await read_answer(reader, self.timeout)
                found = parse_connack(data) if inner == "mqtt" else parse_http(data, tls=True) or parse_banner(data)
                if found is not None:
                    return found, info or "TLS"
            finally:
                await _close(writer)
        return found, info or "TLS"


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), 0.5)
