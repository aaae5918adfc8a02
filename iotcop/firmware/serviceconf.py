"""Configuration of the network services an image ships: SSH, web, MQTT, SNMP and UPnP servers, which
addresses they bind and how they authenticate, gathered once into ``ServiceConfig`` facts.

Each server found by its boot command (``BootServices``) or, when never started, by its installed binary,
is described by reading its own configuration: sshd_config and dropbear flags (``sshconf``), lighttpd,
nginx, uhttpd, busybox httpd, boa, mini_httpd and thttpd (``webconf``), mosquitto and snmpd (``lanconf``),
miniupnpd (``upnpconf``), and OpenWrt's UCI files under /etc/config (``uci``). Configuration files are
small and are read directly through the FileSystem view, bounded in number and size (``ConfigFiles``);
they are not part of the one content pass.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass

from iotcop.firmware.bootsources import SERVICE_PORTS
from iotcop.firmware.filesystem import FileSystem
from iotcop.firmware.lanconf import mosquitto, snmp_agents
from iotcop.firmware.services import BootCommand, BootServices
from iotcop.firmware.servicetypes import (
    Community,
    ConfigFiles,
    Endpoint,
    Flag,
    MqttBroker,
    MqttListener,
    Scope,
    Service,
    ServiceConfig,
    SnmpAgent,
    Source,
    SshServer,
    UpnpIgd,
    WebServer,
    port_of,
    scope_of,
    source_of,
)
from iotcop.firmware.sshconf import dropbear, openssh
from iotcop.firmware.uci import parse_uci, uci_bool
from iotcop.firmware.upnpconf import upnp_igds
from iotcop.firmware.webconf import web_servers

__all__ = ["Community", "ConfigFiles", "ConsoleSession", "Endpoint", "Flag", "Listening", "MqttBroker",
           "MqttListener", "Scope", "Service", "ServiceConfig", "SnmpAgent", "Source", "SshServer", "UpnpIgd",
           "WebServer", "bind_shells", "collect_service_config", "config_files", "console_sessions", "endpoint_list",
           "exposed_listeners", "listening_everywhere", "plain_http", "present_only", "scope_of"]

SHELLS = frozenset({"sh", "ash", "bash", "dash", "hush", "ksh", "mksh", "zsh", "msh"})
GETTYS = frozenset({"getty", "agetty", "mingetty", "mgetty", "fgetty", "ngetty"})
NETCATS = frozenset({"nc", "netcat", "ncat", "nc.traditional"})
_TERMINAL = re.compile(r"^(?:/dev/)?(console|tty[A-Za-z]*\d*|hvc\d+)$")
_SERIAL = re.compile(r"^(console|ttyS|ttyAMA|ttyO|ttymxc|ttyPS|ttyMSM|ttyHS|ttySAC|ttyUSB|ttyACM|ttyGS|hvc|ttyLP|"
                     r"ttyTHS|ttyMV|ttyFIQ|ttyMT|ttySC|ttyUL|ttyAML|ttyBCM|ttyATH)")

def config_files(fs: FileSystem) -> ConfigFiles:
    """Bounded reading of configuration files from an image (links resolved inside the image only)."""
    return ConfigFiles(lambda path, limit: fs.read_text(path, limit),
                       lambda pattern: [e.path for e in fs.glob(pattern) if (r := fs.resolve(e.path)) and r.is_file])


def collect_service_config(fs: FileSystem, boot: BootServices) -> ServiceConfig:
    return gather(config_files(fs), boot)


def gather(files: ConfigFiles, boot: BootServices) -> ServiceConfig:
    """The facts from any ``ConfigFiles`` (tests give a dict of file texts)."""
    return ServiceConfig(
        ssh=tuple(openssh(boot, files) + dropbear(boot, files)),
        web=tuple(web_servers(boot, files)),
        mqtt=tuple(mosquitto(boot, files)),
        snmp=tuple(snmp_agents(boot, files)),
        upnp=tuple(upnp_igds(boot, files)),
        console_login=console_login(files),
        notes=tuple(dict.fromkeys(files.notes)),
    )


def console_login(files: ConfigFiles) -> Flag | None:
    """OpenWrt's ``system.ttylogin``: whether /usr/libexec/login.sh asks for a password on the console."""
    text = files.read("/etc/config/system")
    if text is None:
        return None
    for section in parse_uci(text, "/etc/config/system").of_type("system"):
        if (v := section.get("ttylogin")) is not None:
            return Flag(uci_bool(v.value, False), Source("/etc/config/system", v.line, f"option ttylogin '{v.value}'"))
    return Flag(False, why="/etc/config/system does not set ttylogin (OpenWrt's default: no login on the console)")


@dataclass(frozen=True)
class ConsoleSession:
    """A terminal session that boot starts without asking for a password."""

    path: str
    line: int | None
    excerpt: str
    terminal: str
    serial: bool
    why: str


def console_sessions(boot: BootServices, login: Flag | None) -> list[ConsoleSession]:
    """Shells started directly on a terminal, gettys that log in automatically or run a shell instead of
    login, and ``login -f``; with busybox init and no /etc/inittab, its built-in ``::askfirst:-/bin/sh``."""
    out = []
    for c in boot.commands:
        why = _unauthenticated(c, login) if c.console else None
        if why is not None:
            terminal = _terminal(c)
            out.append(ConsoleSession(c.path, c.line, c.raw_line, terminal, bool(_SERIAL.match(terminal)), why))
    if posixpath.basename(boot.init) == "busybox" and "/etc/inittab" not in boot.sources:
        out.append(ConsoleSession("/sbin/init", None, f"/sbin/init -> {boot.init}", "console", True,
                                  "busybox init without /etc/inittab uses its built-in table, which runs "
                                  "'::askfirst:-/bin/sh' on the console: a root shell after pressing Enter"))
    return out


def _terminal(command: BootCommand) -> str:
    """The terminal of a session: the one a getty names, else the inittab id ('ttyS0', '' meaning console)."""
    named = [a.removeprefix("/dev/") for a in command.args if _TERMINAL.match(a)]
    if command.program in GETTYS and named:
        return named[0]
    if _TERMINAL.match(command.console):
        return command.console.removeprefix("/dev/")
    return named[0] if named else command.console


def _value(args: tuple[str, ...], *names: str) -> str | None:
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.partition("=")[2]
    return None


def _unauthenticated(c: BootCommand, login: Flag | None) -> str | None:
    if c.program in SHELLS and not any(a == "-c" or not a.startswith("-") for a in c.args):
        if "ttylogin" in c.raw_line and login is not None and login.on:
            return None  # OpenWrt's login.sh runs the shell only while system.ttylogin is off
        return f"runs the shell {c.program} directly: whoever has the terminal gets it without a password"
    if c.program in GETTYS:
        if user := _value(c.args, "-a", "--autologin"):
            return f"{c.program} logs {user!r} in automatically, without a password"
        program = _value(c.args, "-l", "--login-program")
        if program and posixpath.basename(program) in SHELLS:
            return f"{c.program} runs {program} instead of login: a shell without a password"
    if c.program == "login" and (user := _value(c.args, "-f")):
        return f"'login -f {user}' logs {user!r} in without asking for a password"
    return None


def bind_shells(boot: BootServices) -> list[tuple[BootCommand, str]]:
    """Commands that give a shell to whoever connects over the network: ``nc -l -e /bin/sh``, socat
    ``TCP-LISTEN`` to ``EXEC:sh``, or a shell run by inetd, xinetd or tcpsvd."""
    out = []
    for c in boot.commands:
        if c.program in NETCATS:
            listens = "--listen" in c.args or any(re.match(r"^-[A-Za-z]*l", a) for a in c.args)
            run = _value(c.args, "-e", "-c", "--exec", "--sh-exec") or next(
                (a[2:] for a in c.args if a.startswith("-e") and len(a) > 2), None)
            if listens and run and posixpath.basename(run.split()[0] if run.split() else "") in SHELLS:
                out.append((c, f"{c.program} listens and runs {run} for whoever connects"))
        elif c.program == "socat":
            joined = " ".join(c.args)
            shell = re.search(r"(?i)(?:EXEC|SYSTEM):['\"]?(\S*?)(?:[ ,'\"]|$)", joined)
            if "LISTEN" in joined.upper() and shell and posixpath.basename(shell.group(1)) in SHELLS:
                out.append((c, f"socat listens and connects whoever connects to {shell.group(1)}"))
        elif c.program in SHELLS and c.listen:
            out.append((c, f"{c.via} runs {c.program} for every connection to {c.listen}"))
    return out


@dataclass(frozen=True)
class Listening:
    """A started service bound to every interface."""

    service: str
    kind: str  # ssh, http, mqtt, snmp, upnp, or the superserver's name
    endpoint: Endpoint
    where: Source


def listening_everywhere(boot: BootServices, config: ServiceConfig) -> list[Listening]:
    out = [Listening(s.name, s.kind, e, e.source or s.where) for s in config.services()
           if s.started is not None for e in s.endpoints if e.scope is Scope.ALL]
    for c in boot.commands:
        if c.listen:
            host, _, service = c.listen.rpartition(":")
            endpoint = Endpoint(host, SERVICE_PORTS.get(service) or port_of(service), source=source_of(c),
                                transport="udp" if c.program in ("tftpd", "in.tftpd") else "tcp")
            if endpoint.scope is Scope.ALL:
                out.append(Listening(c.program, c.via, endpoint, source_of(c)))
    return list(dict.fromkeys(out))


def present_only(boot: BootServices, programs: Sequence[str]) -> list[str]:
    """Installed programs of these names that nothing starts at boot."""
    started = {c.program for c in boot.started(*programs)}
    return [p for p in boot.installed_as(*programs) if posixpath.basename(p) not in started]


def plain_http(server: WebServer) -> tuple[list[Endpoint], list[Endpoint]]:
    """A web server's plain endpoints reachable beyond loopback that do not redirect to HTTPS, and its TLS ones."""
    plain = [e for e in server.endpoints if not e.tls and e.redirect is None and e.scope is not Scope.LOOPBACK]
    return plain, [e for e in server.endpoints if e.tls]


def endpoint_list(endpoints: list[Endpoint]) -> str:
    return ", ".join(f"{e} ({e.source.path}:{e.source.line})" if e.source else f"{e} (default)" for e in endpoints)


def exposed_listeners(broker: MqttBroker) -> list[MqttListener]:
    """The listeners of a broker that are reachable from beyond the device itself."""
    return [lst for lst in broker.listeners if lst.endpoint.scope is not Scope.LOOPBACK]
