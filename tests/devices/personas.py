"""The two simulated devices of the test bed, each on one loopback address, from the real services of svc_*.py.

vulnerable (127.0.0.71): a Python telnet with admin:admin; the real dropbear with password logins (admin:admin);
real lighttpd with a login form taking admin:admin, Basic on /admin/, a directory listing and a ping CGI with a
command injection; mosquitto letting anyone in; an RTSP camera answering DESCRIBE without credentials; snmpd
answering 'public'; an SSDP/UPnP IGD whose port mappings need no authentication.

hardened (127.0.0.72): dropbear with keys only; HTTPS with a trustme certificate behind lighttpd redirecting
plain HTTP to it; mosquitto over TLS with a password file; no telnet.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import svc_iot
import svc_login
import svc_web
import trustme

VULNERABLE, HARDENED = "127.0.0.71", "127.0.0.72"


@dataclass
class Persona:
    host: str
    tcp: dict[str, int] = field(default_factory=dict)  # service → port
    udp: dict[str, int] = field(default_factory=dict)
    ca: trustme.CA | None = None


@contextlib.contextmanager
def _iot_on(host: str) -> Iterator[None]:
    """svc_iot's starters bind to its module's hosts: point them at the persona's address."""
    names = ("MQTT_HOST", "RTSP_HOST", "SNMP_HOST", "UPNP_HOST")
    saved = {n: getattr(svc_iot, n) for n in names}
    for n in names:
        setattr(svc_iot, n, host)
    try:
        yield
    finally:
        for n, v in saved.items():
            setattr(svc_iot, n, v)


@contextlib.contextmanager
def vulnerable(tmp: Path) -> Iterator[Persona]:
    persona = Persona(VULNERABLE)
    with contextlib.ExitStack() as stack:
        stack.enter_context(_iot_on(VULNERABLE))
        persona.tcp["telnet"] = stack.enter_context(svc_login.python_telnet(VULNERABLE, {"admin": "admin"}))[1]
        persona.tcp["ssh"] = stack.enter_context(svc_login.dropbear(VULNERABLE, tmp / "ssh"))[1]
        persona.tcp["http"] = stack.enter_context(svc_web.vulnerable_lighttpd(tmp / "web", VULNERABLE))
        persona.tcp["mqtt"] = stack.enter_context(svc_iot.mosquitto(_dir(tmp / "mqtt"))).port
        persona.tcp["rtsp"] = stack.enter_context(svc_iot.rtsp(auth="none")).port
        persona.udp["snmp"] = stack.enter_context(svc_iot.snmpd(_dir(tmp / "snmp"))).port
        igd = stack.enter_context(svc_iot.ssdp_igd(kind="igd", location_host=VULNERABLE))
        persona.udp["ssdp"] = igd.port
        persona.tcp["igd"] = urlsplit(igd.extra["location"]).port or 80
        yield persona


@contextlib.contextmanager
def hardened(tmp: Path) -> Iterator[Persona]:
    persona = Persona(HARDENED, ca=trustme.CA())
    with contextlib.ExitStack() as stack:
        stack.enter_context(_iot_on(HARDENED))
        persona.tcp["ssh"] = stack.enter_context(modern_sshd(HARDENED, _dir(tmp / "ssh")))
        https = stack.enter_context(svc_web.hardened_https(persona.ca, HARDENED))
        persona.tcp["https"] = https
        persona.tcp["http"] = stack.enter_context(svc_web.redirecting_lighttpd(tmp / "web", https, HARDENED))
        persona.tcp["mqtts"] = stack.enter_context(svc_iot.mosquitto(_dir(tmp / "mqtt"), tls=True,
                                                                     users={"camera": "X7v!q2-unique"})).port
        yield persona


SSHD_CONFIG = """\
ListenAddress {host}:{port}
HostKey {key}
PidFile none
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile {directory}/authorized_keys
HostKeyAlgorithms ssh-ed25519
KexAlgorithms sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org
Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com
MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com
"""


@contextlib.contextmanager
def modern_sshd(host: str, directory: Path) -> Iterator[int]:
    """OpenSSH's sshd with keys only and modern algorithms (what a hardened product would ship); its port."""
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if not Path(sshd).exists():
        pytest.skip("OpenSSH's sshd is not installed (the set-up command installs openssh-server)")
    if os.geteuid() != 0:
        pytest.skip("sshd's privilege separation needs root")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    key = directory / "host_ed25519"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    (directory / "authorized_keys").write_text("")
    port = svc_login.free_port(host)
    config = directory / "sshd_config"
    config.write_text(SSHD_CONFIG.format(host=host, port=port, key=key, directory=directory))
    with subprocess.Popen([sshd, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL) as proc:
        try:
            svc_login.wait_listening(host, port)
            yield port
        finally:
            proc.terminate()
            proc.wait(5)


def _dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
