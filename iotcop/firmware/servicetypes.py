"""The facts about configured services (SSH, web, MQTT, SNMP, UPnP): frozen values, no I/O.

Re-exported by ``iotcop.firmware.serviceconf``, which gathers them; kept apart so that the per-server
parsers (sshconf, webconf, lanconf) and the collector can share them without importing each other.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from iotcop.firmware.services import BootCommand, BootServices

ALL_ADDRESSES = {"", "*", "0.0.0.0", "::", "[::]", "0:0:0:0:0:0:0:0", "any", "inaddr_any", "0"}
LOOPBACK_ADDRESSES = {"localhost", "::1", "[::1]", "lo", "ip6-localhost"}


@dataclass(frozen=True)
class Source:
    """Where a setting was read: a file, line and the line itself."""

    path: str
    line: int | None = None
    excerpt: str = ""


class Scope(StrEnum):
    ALL = "all interfaces"
    LOOPBACK = "loopback only"
    SPECIFIC = "a specific address or interface"


def scope_of(address: str) -> Scope:
    a = address.strip().lower()
    if a in ALL_ADDRESSES:
        return Scope.ALL
    if a in LOOPBACK_ADDRESSES or a.startswith("127.") or a.startswith("[127.") or a == "[::ffff:127.0.0.1]":
        return Scope.LOOPBACK
    return Scope.SPECIFIC


@dataclass(frozen=True)
class Endpoint:
    """One address a service listens on. ``address`` is as configured: '' or 0.0.0.0 or :: for all
    interfaces, a loopback address, a specific address, or an interface name ('lan', 'br0')."""

    address: str
    port: int | None
    tls: bool = False
    source: Source | None = None  # None: the server's default
    redirect: Source | None = None  # for a plain HTTP endpoint: what sends its clients to HTTPS
    transport: str = "tcp"

    @property
    def scope(self) -> Scope:
        return scope_of(self.address)

    def __str__(self) -> str:
        address = self.address or "*"
        if ":" in address and not address.startswith("["):
            address = f"[{address}]"
        return f"{address}:{self.port}" if self.port is not None else address


@dataclass(frozen=True)
class Flag:
    """A yes/no property of a service. ``on`` is None when it cannot be decided (``why`` says on what it
    depends); ``source`` is the line that decided it, None when it is the server's default;
    ``conditional`` lists lines that turn it on for some clients only (sshd ``Match`` blocks)."""

    on: bool | None
    source: Source | None = None
    why: str = ""
    conditional: tuple[Source, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Service:
    """One server program found in the image: started at boot (``started``) or only installed."""

    name: str  # openssh, dropbear, lighttpd, uhttpd, httpd (busybox), boa, mini_httpd, thttpd, nginx, ...
    kind: str  # ssh, http, mqtt, snmp, upnp
    started: BootCommand | None
    program: str  # the binary's path in the image, or the program name when it was not found
    configs: tuple[str, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def where(self) -> Source:
        """Where a person can see it: the boot line that starts it, else its configuration, else the binary."""
        if self.started is not None:
            return Source(self.started.path, self.started.line, self.started.raw_line)
        return Source(self.configs[0] if self.configs else self.program)

    def describe(self) -> str:
        if self.started is not None:
            return f"{self.name} (started at boot by {self.started.path}:{self.started.line})"
        return f"{self.name} ({self.program}, present but not started at boot)"


@dataclass(frozen=True, kw_only=True)
class SshServer(Service):
    password_login: Flag
    root_password_login: Flag  # root may log in with a password (root login allowed and passwords on)
    empty_passwords: Flag


@dataclass(frozen=True, kw_only=True)
class WebServer(Service):
    auth: Flag = field(default_factory=lambda: Flag(None, why="not known from the configuration"))


@dataclass(frozen=True)
class MqttListener:
    endpoint: Endpoint
    anonymous: Flag  # clients without a username may connect
    version_dependent: bool = False  # no listener configured: where it binds depends on the unknown version


@dataclass(frozen=True, kw_only=True)
class MqttBroker(Service):
    version: str | None = None
    version_source: str = ""
    listeners: tuple[MqttListener, ...] = ()


@dataclass(frozen=True)
class Community:
    """One SNMPv1/v2c community: its name, whether it may write, and who may use it."""

    name: str
    write: bool | None
    allowed_from: str  # 'default' (anyone), 'localhost', a network
    source: Source

    @property
    def local_only(self) -> bool:
        return self.allowed_from.lower() in ("localhost", "::1") or self.allowed_from.startswith("127.")


@dataclass(frozen=True, kw_only=True)
class SnmpAgent(Service):
    communities: tuple[Community, ...] = ()


@dataclass(frozen=True, kw_only=True)
class UpnpIgd(Service):
    enabled: Flag  # the IGD (port mapping) service is switched on in the configuration
    secure_mode: Flag  # clients may only map ports to themselves
    external: str = ""
    switch: Source | None = None  # the line that switches the service on or off (OpenWrt's option enabled)


@dataclass(frozen=True)
class ServiceConfig:
    """Facts: the configuration of the network services of an image, one entry per server found
    (started at boot, or present only), and what could not be read (``notes``)."""

    ssh: tuple[SshServer, ...] = ()
    web: tuple[WebServer, ...] = ()
    mqtt: tuple[MqttBroker, ...] = ()
    snmp: tuple[SnmpAgent, ...] = ()
    upnp: tuple[UpnpIgd, ...] = ()
    console_login: Flag | None = None  # OpenWrt's system.ttylogin: a password is asked on the console
    notes: tuple[str, ...] = ()

    def services(self) -> tuple[Service, ...]:
        return (*self.ssh, *self.web, *self.mqtt, *self.snmp, *self.upnp)


class ConfigFiles:
    """Bounded reading of small configuration files for the parsers: ``read`` and ``glob`` over an image
    (or over a dict in tests). Counts files so that include loops and huge include sets stop."""

    MAX_FILES = 512  # distinct files: an OpenWrt image with conf.d includes reads a few dozen
    MAX_BYTES = 256 * 1024

    def __init__(self, read: Callable[[str, int], str | None], glob: Callable[[str], list[str]]) -> None:
        self._read, self._glob = read, glob
        self.read_paths: list[str] = []
        self.notes: list[str] = []
        self._texts: dict[tuple[str, int], str | None] = {}  # several parsers read /etc/config/*: once

    @classmethod
    def of(cls, files: dict[str, str]) -> ConfigFiles:
        from fnmatch import fnmatchcase

        return cls(lambda path, limit: files[path][:limit] if path in files else None,
                   lambda pattern: sorted(p for p in files if fnmatchcase(p, pattern)))

    def read(self, path: str, limit: int = MAX_BYTES) -> str | None:
        """A file's text (its first ``limit`` bytes; package databases ask for more than configurations)."""
        path = posixpath.normpath("/" + path.lstrip("/"))
        if (path, limit) in self._texts:
            return self._texts[(path, limit)]
        if len(self.read_paths) >= self.MAX_FILES:
            self.notes.append(f"{path}: not read (more than {self.MAX_FILES} configuration files)")
            return None
        text = self._read(path, limit)
        self._texts[(path, limit)] = text
        if text is not None:
            self.read_paths.append(path)
        return text

    def glob(self, pattern: str) -> list[str]:
        return self._glob(posixpath.normpath("/" + pattern.lstrip("/")))[: self.MAX_FILES]



def split_hostport(spec: str, default_port: int | None) -> tuple[str, int | None]:
    """'0.0.0.0:80', '[::]:443', '*:80', ':80', '80', '::1', 'localhost' → (address, port)."""
    spec = spec.strip()
    if is_number(spec):
        return "", _port(spec, default_port)
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        return host, _port(rest[1:], default_port) if rest.startswith(":") else default_port
    if spec.count(":") == 1:
        host, _, port = spec.partition(":")
        return host, _port(port, default_port)
    return spec, default_port  # a bare address (IPv6 without brackets has several colons)


def is_number(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 9


def _port(text: str, default: int | None) -> int | None:
    return int(text) if is_number(text) and 0 < int(text) < 65536 else default


def port_of(text: str) -> int | None:
    return _port(text.strip(), None)


def instances(boot: BootServices, *programs: str) -> list[tuple[BootCommand | None, str]]:
    """(boot command, program path) of each start of a server; one (None, path) if it is installed but
    never started; nothing if it is neither. A program started twice from one line counts once."""
    started: dict[tuple[str, int], BootCommand] = {}
    for command in boot.started(*programs):
        started.setdefault((command.path, command.line), command)
    installed = boot.installed_as(*programs)
    if started:
        return [(c, _program_path(c, installed)) for c in started.values()]
    return [(None, installed[0])] if installed else []


def _program_path(command: BootCommand, installed: list[str]) -> str:
    named = next((a for a in command.argv if posixpath.basename(a) == command.program and a.startswith("/")), None)
    return named or (installed[0] if installed else command.program)


def source_of(command: BootCommand) -> Source:
    return Source(command.path, command.line, command.raw_line)


def option_values(args: tuple[str, ...], *names: str) -> list[str]:
    """Values of single-letter options (``-p 80`` or ``-p80``)."""
    out = []
    for i, arg in enumerate(args):
        if arg[:2] in names:
            value = arg[2:] or (args[i + 1] if i + 1 < len(args) else "")
            out.append(value)
    return out
