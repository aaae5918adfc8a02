"""The home-network services of a device: the mosquitto MQTT broker and SNMP agents (net-snmp, mini_snmpd),
from their own files or from OpenWrt's /etc/config.

Mosquitto's defaults changed in 2.0: a broker with no listener configured binds only the loopback
interface (and lets local clients in without a username), and ``allow_anonymous`` defaults to false;
1.x listened on every interface and allowed anonymous clients unless another security option was set.
The version is read from the package database (dpkg, opkg) when there is one; otherwise the facts say
what depends on it.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from iotcop.firmware.services import BootServices
from iotcop.firmware.servicetypes import (
    Community,
    ConfigFiles,
    Endpoint,
    Flag,
    MqttBroker,
    MqttListener,
    SnmpAgent,
    Source,
    instances,
    port_of,
    source_of,
    split_hostport,
)
from iotcop.firmware.uci import parse_uci

MAX_LINES = 20_000
MAX_DATABASE = 16 * 1024 * 1024  # dpkg's status file of a Debian-based image runs to megabytes
PACKAGE_DATABASES = ("/var/lib/dpkg/status", "/usr/lib/opkg/status", "/var/lib/opkg/status")
_SECURITY = {"password_file", "psk_file", "auth_plugin", "plugin"}


@dataclass
class _Section:
    """The settings of one mosquitto listener (or of the default listener)."""

    port: tuple[str, Source] | None = None
    bind: tuple[str, Source] | None = None
    tls: Source | None = None
    anonymous: tuple[bool, Source] | None = None
    secured: Source | None = None


@dataclass
class MosquittoConf:
    default: _Section = field(default_factory=_Section)
    listeners: list[_Section] = field(default_factory=list)
    per_listener: bool = False
    notes: list[str] = field(default_factory=list)


def parse_mosquitto(text: str, path: str, files: ConfigFiles | None = None, conf: MosquittoConf | None = None) -> \
        MosquittoConf:
    top, conf = conf is None, conf or MosquittoConf()
    for number, raw in enumerate(text.splitlines()[:MAX_LINES], 1):
        if raw.startswith("#") or not raw.split():
            continue
        key, _, value = raw.strip().partition(" ")
        value, where = value.strip(), Source(path, number, raw.strip())
        current = conf.listeners[-1] if conf.listeners else conf.default
        scoped = current if conf.per_listener else conf.default  # auth options are global unless per listener
        if key == "listener":
            port, _, bind = value.partition(" ")
            conf.listeners.append(_Section((port, where), (bind.strip(), where) if bind.strip() else None))
        elif key == "port":
            conf.default.port = (value, where)
        elif key in ("bind_address", "bind_interface"):
            (conf.default if key == "bind_address" else current).bind = (value, where)
        elif key in ("certfile", "psk_hint"):
            current.tls = current.tls or where
        elif key == "per_listener_settings":
            conf.per_listener = value.lower() == "true"
        elif key in ("allow_anonymous", "listener_allow_anonymous"):
            target = current if key == "listener_allow_anonymous" else scoped
            target.anonymous = (value.lower() == "true", where)  # a later line replaces an earlier one
        elif key in _SECURITY:
            scoped.secured = where
        elif key == "include_dir" and files is not None and top:  # followed from the main file only
            for included in sorted(files.glob(posixpath.join(value, "*.conf"))):
                parse_mosquitto(files.read(included) or "", included, files, conf)
    return conf


def package_version(files: ConfigFiles, package: str) -> tuple[str | None, str]:
    """The installed version of a package and the database that says so (dpkg or opkg status files)."""
    for database in PACKAGE_DATABASES:
        for stanza in (files.read(database, MAX_DATABASE) or "").split("\n\n"):
            if re.search(rf"(?m)^Package: {re.escape(package)}$", stanza) and \
                    (version := re.search(r"(?m)^Version: (\S+)", stanza)):
                return version.group(1), database
    for control in files.glob(f"/usr/lib/opkg/info/{package}*.control"):
        if version := re.search(r"(?m)^Version: (\S+)", files.read(control) or ""):
            return version.group(1), control
    return None, ""


def mosquitto(boot: BootServices, files: ConfigFiles) -> list[MqttBroker]:
    out = []
    found = instances(boot, "mosquitto")
    version, database = package_version(files, "mosquitto") if found else (None, "")
    major = re.sub(r"^\d+:", "", version or "").split(".")[0]
    for command, program in found:
        args = command.args if command else ("-c", "/etc/mosquitto/mosquitto.conf")
        config = next((args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-c", "--config-file")), None)
        conf = parse_mosquitto(files.read(config) or "", config, files) if config else MosquittoConf()
        notes = [] if config else ["mosquitto is started without -c: it reads no configuration file"]
        sections = ([conf.default] if conf.default.port or conf.default.bind else []) + conf.listeners
        listeners = [_listener(s, conf, major) for s in sections] or [_no_listener(major)]
        if not sections and not major:
            notes.append(listeners[0].anonymous.why)
        out.append(MqttBroker(
            name="mosquitto", kind="mqtt", started=command, program=program, version=version,
            version_source=database, configs=(config,) if config else (), notes=tuple(notes + conf.notes),
            endpoints=tuple(lst.endpoint for lst in listeners), listeners=tuple(listeners)))
    return out


def _no_listener(major: str) -> MqttListener:
    if major in ("0", "1"):
        return MqttListener(Endpoint("", 1883), Flag(True, why=f"mosquitto {major}.x default with no listener "
                                                               "configured: all interfaces, anonymous allowed"))
    if major:
        return MqttListener(Endpoint("127.0.0.1", 1883), Flag(True, why=f"mosquitto {major}.x with no listener "
                                                              "configured: local-only mode (loopback interface, "
                                                              "anonymous clients from this host only)"))
    return MqttListener(Endpoint("", 1883), Flag(None, why=(
        "depends on the mosquitto version, which was not found: with no listener configured, 1.x listens on all "
        "interfaces and allows anonymous clients, 2.x listens on localhost only")), version_dependent=True)


def _listener(section: _Section, conf: MosquittoConf, major: str) -> MqttListener:
    endpoint = Endpoint(section.bind[0] if section.bind else "", port_of(section.port[0]) if section.port else 1883,
                        section.tls is not None, (section.port or section.bind or ("", None))[1])
    scoped = section if conf.per_listener else conf.default
    anonymous = section.anonymous or scoped.anonymous
    if anonymous is not None:
        return MqttListener(endpoint, Flag(anonymous[0], anonymous[1]))
    if scoped.secured is not None:
        return MqttListener(endpoint, Flag(False, scoped.secured, "a password file or plugin is set and "
                                                                  "allow_anonymous is not"))
    if major in ("0", "1"):
        return MqttListener(endpoint, Flag(True, why=f"mosquitto {major}.x default (allow_anonymous true)"))
    if major:
        return MqttListener(endpoint, Flag(False, why=f"mosquitto {major}.x default (allow_anonymous false)"))
    return MqttListener(endpoint, Flag(None, why="allow_anonymous is not set: allowed by default in mosquitto 1.x, "
                                                 "refused in 2.x; the version was not found"))


def snmp_agents(boot: BootServices, files: ConfigFiles) -> list[SnmpAgent]:
    out = []
    for command, program in instances(boot, "snmpd"):
        uci = files.read("/etc/config/snmpd")
        if uci is not None:
            communities, listen = _snmp_uci(uci)
            configs: tuple[str, ...] = ("/etc/config/snmpd",)
        else:
            args = command.args if command else ()
            named = [a for i, a in enumerate(args) if i and args[i - 1] == "-c"]
            paths = [p for n in named for p in n.split(",")] or ["/etc/snmp/snmpd.conf", "/etc/snmpd.conf",
                                                                  "/usr/share/snmp/snmpd.conf"]
            configs = tuple(p for p in paths if files.read(p) is not None)
            communities, listen = [], []
            for path in configs:
                c, lst = parse_snmpd(files.read(path) or "", path)
                communities, listen = communities + c, listen + lst
            listen += [(a, source_of(command)) for a in args if re.match(r"(?i)^(udp6?|tcp6?):", a)] if command else []
        endpoints = tuple(_snmp_endpoint(a, w) for spec, w in listen for a in spec.split(",")) or (
            Endpoint("", 161, transport="udp"),)
        out.append(SnmpAgent(name="snmpd", kind="snmp", started=command, program=program, configs=configs,
                             endpoints=endpoints, communities=tuple(communities)))
    for command, program in instances(boot, "mini_snmpd"):
        args = command.args if command else ()
        named = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "-c"]
        where = source_of(command) if command else Source(program)
        out.append(SnmpAgent(name="mini_snmpd", kind="snmp", started=command, program=program,
                             endpoints=(Endpoint("", 161, transport="udp"),),
                             communities=(Community(named[0] if named else "public", False, "default", where),)))
    return out


def _snmp_endpoint(spec: str, where: Source | None) -> Endpoint:
    """An agentaddress item: '[transport:]address', e.g. 'udp:161', 'UDP:127.0.0.1:161', 'udp6:[::1]:161'."""
    match = re.match(r"(?i)^(udp6?|tcp6?|ipv4|ipv6|dtlsudp|tlstcp):(.*)$", spec.strip())
    proto, rest = (match.group(1).lower(), match.group(2)) if match else ("udp", spec.strip())
    host, port = split_hostport(rest, 161)
    return Endpoint(host, port, tls=proto in ("dtlsudp", "tlstcp"), source=where,
                    transport="tcp" if proto.startswith("t") else "udp")


def parse_snmpd(text: str, path: str) -> tuple[list[Community], list[tuple[str, Source]]]:
    """v1/v2c communities (rocommunity/rwcommunity, com2sec resolved through group and access lines) and
    agentaddress lines of an snmpd.conf."""
    communities: list[Community] = []
    com2sec: list[tuple[str, str, str, Source]] = []
    groups: dict[str, set[str]] = {}
    writers: set[str] = set()
    listen: list[tuple[str, Source]] = []
    for number, raw in enumerate(text.splitlines()[:MAX_LINES], 1):
        words = [w for w in raw.split("#", 1)[0].split()]
        where = Source(path, number, raw.strip())
        while len(words) > 2 and words[1].startswith("-"):  # '-V view', '-Cn context': options before the values
            words = [words[0], *words[3:]]
        if not words:
            continue
        key = words[0].lower()
        if key in ("rocommunity", "rwcommunity", "rocommunity6", "rwcommunity6") and len(words) > 1:
            communities.append(Community(words[1], key.startswith("rw"), words[2] if len(words) > 2 else "default",
                                         where))
        elif key in ("com2sec", "com2sec6") and len(words) > 3:
            com2sec.append((words[1], words[2], words[3], where))
        elif key == "group" and len(words) > 3:
            groups.setdefault(words[3], set()).add(words[1])
        elif key == "access" and len(words) > 7 and words[7].lower() != "none":
            writers.add(words[1])
        elif key == "agentaddress" and len(words) > 1:
            listen.append((words[1], where))
    for secname, source, community, where in com2sec:
        write = bool(groups.get(secname, set()) & writers) if groups.get(secname) else None
        communities.append(Community(community, write, source, where))
    return communities, listen


def _snmp_uci(text: str) -> tuple[list[Community], list[tuple[str, Source]]]:
    """OpenWrt's /etc/config/snmpd, as its init script writes it into the snmpd.conf it generates."""
    path, lines = "/etc/config/snmpd", []
    package = parse_uci(text, path)
    for s in package.sections:
        values = {v.name: v.value for v in s.values}

        def joined(*keys: str, values: dict[str, str] = values) -> str:
            return " ".join(values.get(k, "-") for k in keys)

        if s.type in ("com2sec", "com2sec6"):
            lines.append(f"{s.type} {joined('secname', 'source', 'community')}")
        elif s.type == "group":
            lines.append(f"group {joined('group', 'version', 'secname')}")
        elif s.type == "access":
            lines.append("access " + joined("group", "context", "version", "level", "prefix", "read", "write",
                                            "notify"))
        elif s.type == "agent" and "agentaddress" in values:
            lines.append(f"agentaddress {values['agentaddress']}")
        elif s.type == "access_default" and {"Mode", "CommunityName"} <= values.keys():
            lines.append(f"{values['Mode']} {values['CommunityName']} default")
        else:
            continue
        lines[-1] = f"{lines[-1]}  # {s.line}"
    communities, listen = parse_snmpd("\n".join(lines), path)
    return ([Community(c.name, c.write, c.allowed_from, _uci_line(path, c.source)) for c in communities],
            [(a, _uci_line(path, w)) for a, w in listen])


def _uci_line(path: str, generated: Source) -> Source:
    """Point a line of the generated snmpd.conf back at its section in the UCI file."""
    text, _, line = generated.excerpt.rpartition("  # ")
    return Source(path, int(line) if line.isdigit() else None, f"(section) {text}"[:200])
