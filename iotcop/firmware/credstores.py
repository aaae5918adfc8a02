"""Credential stores beside /etc/shadow: the password files of web servers, brokers and management daemons.

Each format is parsed as its server reads it:

- Apache-style ``htpasswd`` files (``user:hash``; crypt(3), ``$apr1$``, ``{SHA}``, bcrypt), wherever they lie
  and wherever a server configuration points (lighttpd ``auth.backend.htpasswd.userfile``, nginx
  ``auth_basic_user_file``);
- ``htdigest`` files (``user:realm:md5(user:realm:password)``) of lighttpd;
- lighttpd's plain user file (``user:password`` in clear text);
- BusyBox httpd's ``/etc/httpd.conf`` (``/path:user:password``: clear text, or ``$1$`` crypt when built so);
- Mosquitto's ``password_file`` (``user:$6$salt$hash`` SHA-512 of password+salt, or ``$7$`` PBKDF2);
- OpenWrt's ``/etc/config/rpcd`` logins (``option password '$p$root'`` defers to /etc/shadow, else a crypt hash).

Hashes of formats crypt(3) does not know get a tag (``{htdigest}``, ``{mosquitto-sha512}``,
``{mosquitto-pbkdf2}``) that ``knowledge.hashes`` and ``knowledge.credentials`` understand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from iotcop.firmware.content import is_documentation
from iotcop.firmware.filesystem import FileSystem
from iotcop.firmware.uci import parse_uci
from iotcop.knowledge.hashes import UNKNOWN, scheme_of

MAX_CONFIG = 1024 * 1024
HTPASSWD_GLOBS = ("*/.htpasswd", "*.htpasswd", "*/htpasswd", "*/htpasswd.*", "/etc/lighttpd/*.user",
                  "/etc/lighttpd/*passwd*", "/etc/nginx/*passwd*")
HTDIGEST_GLOBS = ("*/.htdigest", "*.htdigest", "/etc/lighttpd/*htdigest*")
_LIGHTTPD_USERFILE = re.compile(r'^\s*auth\.backend\.(plain|htpasswd|htdigest)\.userfile\s*=\s*"([^"]+)"', re.M)
_NGINX_USERFILE = re.compile(r"^\s*auth_basic_user_file\s+\"?([^\";\s]+)\"?\s*;", re.M)
_MOSQUITTO_PWFILE = re.compile(r"^\s*password_file\s+(\S+)", re.M)


@dataclass(frozen=True)
class StoredCredential:
    """One user's secret in a service's credential store."""

    user: str
    secret: str  # a hash (possibly tagged, see the module docstring) or, when ``plaintext``, the password
    plaintext: bool
    service: str  # who reads the file: 'BusyBox httpd', 'lighttpd', 'Mosquitto', 'rpcd (ubus/LuCI)', ...
    source_path: str
    line: int
    raw_line: str


@dataclass(frozen=True)
class CredentialStores:
    """Facts: the credentials of every store found, and the stores that were read."""

    entries: tuple[StoredCredential, ...] = ()
    sources: tuple[str, ...] = ()


def _lines(text: str) -> list[tuple[int, str]]:
    return [(n, line.rstrip("\r")) for n, line in enumerate(text.split("\n"), 1)
            if line.strip() and not line.lstrip().startswith("#")]


class _Reader:
    def __init__(self, fs: FileSystem) -> None:
        self.fs = fs
        self.entries: list[StoredCredential] = []
        self.sources: list[str] = []
        self.read: set[str] = set()

    def text(self, path: str) -> tuple[str, str] | None:
        """(resolved path, text) of a text file not read yet: never a program or documentation that a
        name pattern happens to match (/usr/bin/htpasswd, an example under /usr/share/doc)."""
        entry = self.fs.resolve(path)
        if entry is None or not entry.is_file or entry.path in self.read or is_documentation(entry.path):
            return None
        data = self.fs.read_bytes(entry.path, MAX_CONFIG)
        if data is None or b"\0" in data[:4096]:
            return None
        text = data.decode("utf-8", errors="replace")
        self.read.add(entry.path)
        return entry.path, text

    def add(self, user: str, secret: str, plaintext: bool, service: str, where: tuple[str, int, str]) -> None:
        path, number, raw = where
        self.entries.append(StoredCredential(user, secret, plaintext, service, path, number, raw))
        if path not in self.sources:
            self.sources.append(path)

    def htpasswd(self, path: str, service: str) -> None:
        if (found := self.text(path)) is None:
            return
        real, text = found
        for number, line in _lines(text):
            user, sep, secret = line.partition(":")
            secret = secret.strip()
            if sep and user and ":" not in secret and scheme_of(secret) is not UNKNOWN:  # only hashes: not prose
                self.add(user, secret, False, service, (real, number, line))

    def htdigest(self, path: str, service: str) -> None:
        if (found := self.text(path)) is None:
            return
        real, text = found
        for number, line in _lines(text):
            parts = line.split(":")
            if len(parts) == 3 and parts[0] and re.fullmatch(r"[0-9a-fA-F]{32}", parts[2]):
                self.add(parts[0], f"{{htdigest}}{parts[1]}:{parts[2].lower()}", False, service, (real, number, line))

    def plain(self, path: str, service: str) -> None:
        if (found := self.text(path)) is None:
            return
        real, text = found
        for number, line in _lines(text):
            user, sep, password = line.partition(":")
            if sep and user:
                self.add(user, password, True, service, (real, number, line))

    def busybox_httpd(self, path: str) -> None:
        """httpd.conf lines '/dir:user:pass' protect /dir (BusyBox networking/httpd.c); other lines are
        A:/D: rules, .ext:mime types, *.ext:interpreters, E404:pages, H:home, I:index."""
        if (found := self.text(path)) is None:
            return
        real, text = found
        for number, line in _lines(text):
            parts = line.strip().split(":", 2)
            if len(parts) == 3 and parts[0].startswith("/") and parts[1]:
                secret = parts[2].strip()
                if secret == "*":  # '*' takes the system password of the user (/etc/passwd, /etc/shadow)
                    continue
                hashed = secret.startswith("$")  # '$1$', '$5$', '$6$' crypt when built with FEATURE_HTTPD_AUTH_MD5
                self.add(parts[1], secret, not hashed, "BusyBox httpd", (real, number, line))

    def mosquitto(self, path: str) -> None:
        if (found := self.text(path)) is None:
            return
        real, text = found
        for number, line in _lines(text):
            user, sep, secret = line.partition(":")
            if not sep or not user:
                continue
            parts = secret.split("$")
            if secret.startswith("$6$") and len(parts) == 4:
                secret = f"{{mosquitto-sha512}}{parts[2]}${parts[3]}"
            elif secret.startswith("$7$") and len(parts) == 5:
                secret = f"{{mosquitto-pbkdf2}}{parts[2]}${parts[3]}${parts[4]}"
            self.add(user, secret, False, "Mosquitto", (real, number, line))

    def rpcd(self, path: str) -> None:
        """OpenWrt rpcd 'config login' sections: ubus/LuCI logins; '$p$user' takes that user's shadow hash."""
        if (found := self.text(path)) is None:
            return
        real, text = found
        lines = text.split("\n")
        for section in parse_uci(text, real).of_type("login"):
            user, password = section.value("username"), section.get("password")
            if user is None or password is None or password.value.startswith("$p$"):
                continue  # a reference to /etc/shadow is judged there
            secret = password.value
            raw = lines[password.line - 1].strip() if 0 < password.line <= len(lines) else f"option password {secret}"
            self.add(user, secret, not secret.startswith("$"), "rpcd (ubus/LuCI)", (real, password.line, raw))


def collect_credential_stores(fs: FileSystem) -> CredentialStores:
    reader = _Reader(fs)
    reader.busybox_httpd("/etc/httpd.conf")
    reader.rpcd("/etc/config/rpcd")
    for conf in fs.glob("/etc/lighttpd/*.conf") + fs.glob("/etc/lighttpd/conf.d/*.conf"):
        text = fs.read_text(conf.path, MAX_CONFIG) or ""
        for backend, userfile in _LIGHTTPD_USERFILE.findall(text):
            getattr(reader, {"plain": "plain", "htpasswd": "htpasswd", "htdigest": "htdigest"}[backend])(
                userfile, "lighttpd")
    for conf in fs.glob("/etc/nginx/*.conf") + fs.glob("/etc/nginx/*/*"):
        for userfile in _NGINX_USERFILE.findall(fs.read_text(conf.path, MAX_CONFIG) or ""):
            reader.htpasswd(userfile, "nginx")
    for conf in fs.glob("/etc/mosquitto/*.conf") + fs.glob("/etc/mosquitto/conf.d/*.conf"):
        for pwfile in _MOSQUITTO_PWFILE.findall(fs.read_text(conf.path, MAX_CONFIG) or ""):
            reader.mosquitto(pwfile)
    for pattern in HTDIGEST_GLOBS:
        for entry in fs.glob(pattern):
            reader.htdigest(entry.path, "HTTP digest authentication")
    for pattern in HTPASSWD_GLOBS:
        for entry in fs.glob(pattern):
            reader.htpasswd(entry.path, "HTTP basic authentication")
    return CredentialStores(tuple(reader.entries), tuple(reader.sources))
