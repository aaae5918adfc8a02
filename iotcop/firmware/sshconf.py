"""SSH servers: OpenSSH (sshd_config, and ``-f``/``-o``/``-p`` on its command line) and dropbear (its
flags, or OpenWrt's /etc/config/dropbear).

sshd uses the first value it obtains for a keyword (command-line ``-o`` first, then the file in order);
``Match`` blocks override it for the connections they match, so what they switch on is kept as
conditional. ``Include`` is not followed (a note says so). Defaults are OpenSSH's: password logins on,
root only without a password (``prohibit-password``, since OpenSSH 7.0), no empty passwords.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from iotcop.firmware.services import BootCommand, BootServices
from iotcop.firmware.servicetypes import (
    ConfigFiles,
    Endpoint,
    Flag,
    Source,
    SshServer,
    instances,
    port_of,
    source_of,
    split_hostport,
)
from iotcop.firmware.uci import UciSection, parse_uci

SSHD_CONFIG = "/etc/ssh/sshd_config"
DROPBEAR_UCI = "/etc/config/dropbear"
MAX_LINES = 20_000
_KEYWORD = re.compile(r"^\s*([A-Za-z][A-Za-z0-9]*)\s*(?:=\s*|\s+)(.*?)\s*$")
_DROPBEAR_VALUE_OPTIONS = set("bcDIKlpPrTW")  # take the rest of the word, or the next word


@dataclass
class SshdSettings:
    """What an sshd_config says: first value per keyword (lower case), Match-block values, listen lines."""

    values: dict[str, tuple[str, Source]] = field(default_factory=dict)
    matched: list[tuple[str, str, str, Source]] = field(default_factory=list)  # criteria, keyword, value, where
    listen: list[tuple[str, Source]] = field(default_factory=list)
    ports: list[tuple[str, Source]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def value(self, keyword: str, default: str) -> tuple[str, Source | None]:
        found = self.values.get(keyword)
        return (found[0].lower(), found[1]) if found else (default, None)


def parse_sshd_config(text: str, path: str, settings: SshdSettings | None = None) -> SshdSettings:
    settings = settings or SshdSettings()
    criteria = ""
    for number, raw in enumerate(text.splitlines()[:MAX_LINES], 1):
        match = _KEYWORD.match(raw)
        if raw.lstrip().startswith("#") or match is None:
            continue
        keyword, value = match.group(1).lower(), match.group(2).strip('"')
        where = Source(path, number, raw.strip())
        if keyword == "match":
            criteria = value
        elif keyword == "include":
            settings.notes.append(f"{path}:{number}: 'Include {value}' was not followed; settings in those files "
                                  "are not known (sshd reads them where the Include stands)")
        elif criteria:
            settings.matched.append((criteria, keyword, value.split()[0] if value else "", where))
        elif keyword == "listenaddress" and value:
            settings.listen.append((value.split()[0], where))
        elif keyword == "port":
            settings.ports.append((value, where))
        elif keyword not in settings.values:
            settings.values[keyword] = (value.split()[0] if value else "", where)
    return settings


def _command_line(command: BootCommand | None) -> tuple[str, SshdSettings, list[str]]:
    """The config file an sshd command names (-f), its -o options (which win over the file) and -p ports."""
    config, settings, ports = SSHD_CONFIG, SshdSettings(), []
    args = list(command.args) if command else []
    for i, arg in enumerate(args):
        value = args[i + 1] if i + 1 < len(args) else ""
        if arg[:2] in ("-f", "-o", "-p"):
            value = value if len(arg) == 2 else arg[2:]
            if arg.startswith("-f"):
                config = value
            elif arg.startswith("-p"):
                ports.append(value)
            elif command is not None:
                parse_sshd_config(value.replace("=", " ", 1), command.path, settings)
                for key, (v, _) in settings.values.items():  # point at the boot line, not at the option text
                    settings.values[key] = (v, source_of(command))
    return config, settings, ports


def openssh(boot: BootServices, files: ConfigFiles) -> list[SshServer]:
    out = []
    for command, program in instances(boot, "sshd"):
        config, settings, cli_ports = _command_line(command)
        text = files.read(config)
        notes = [] if text is not None else [f"{config} is not in the image: OpenSSH's defaults assumed"]
        settings = parse_sshd_config(text or "", config, settings)
        passwords, where = settings.value("passwordauthentication", "yes")
        password = Flag(passwords == "yes", where, "" if where else "OpenSSH's default: PasswordAuthentication yes",
                        _conditional(settings, "passwordauthentication", {"yes"}))
        root, root_where = settings.value("permitrootlogin", "prohibit-password")
        if not password.on:
            root_password = Flag(False, password.source, "password logins are off")
        else:
            root_password = Flag(root == "yes", root_where,
                                 "" if root_where else "OpenSSH's default since 7.0 is prohibit-password; "
                                 "older versions allowed root to log in with a password",
                                 _conditional(settings, "permitrootlogin", {"yes"}))
        empty, empty_where = settings.value("permitemptypasswords", "no")
        empty_passwords = Flag(empty == "yes" and bool(password.on), empty_where,
                               "" if empty_where else "OpenSSH's default: PermitEmptyPasswords no",
                               _conditional(settings, "permitemptypasswords", {"yes"}))
        out.append(SshServer(name="openssh", kind="ssh", started=command, program=program,
                             configs=(config,) if text is not None else (), endpoints=_sshd_endpoints(settings,
                             cli_ports), notes=tuple(notes + settings.notes), password_login=password,
                             root_password_login=root_password, empty_passwords=empty_passwords))
    return out


def _conditional(settings: SshdSettings, keyword: str, values: set[str]) -> tuple[Source, ...]:
    return tuple(Source(w.path, w.line, f"Match {c}: {w.excerpt}")
                 for c, k, v, w in settings.matched if k == keyword and v.lower() in values)


def _sshd_endpoints(settings: SshdSettings, cli_ports: list[str]) -> tuple[Endpoint, ...]:
    ports: list[tuple[str, Source | None]] = [(p, None) for p in cli_ports]
    ports = ports or [(p, s) for p, s in settings.ports] or [("22", None)]
    numbers = [(n, s) for p, s in ports if (n := port_of(p)) is not None]
    family, _ = settings.value("addressfamily", "any")
    listen: list[tuple[str, Source | None]] = [(a, s) for a, s in settings.listen]
    listen = listen or [(a, None) for a in {"inet": ["0.0.0.0"], "inet6": ["::"]}.get(family, ["0.0.0.0", "::"])]
    out = []
    for address, where in listen:
        host, port = split_hostport(address, None)
        for number, port_where in ([(port, where)] if port is not None else numbers):
            out.append(Endpoint(host, number, source=where or port_where))
    return tuple(out)


@dataclass
class DropbearOptions:
    no_passwords: bool = False  # -s
    no_root_passwords: bool = False  # -g
    no_root: bool = False  # -w
    blank_passwords: bool = False  # -B
    listen: list[str] = field(default_factory=list)  # -p [address:]port
    device: str = ""  # -l (OpenWrt's DirectInterface)
    unresolved: list[str] = field(default_factory=list)


def parse_dropbear_args(args: tuple[str, ...] | list[str]) -> DropbearOptions:
    """Dropbear's own option parsing: letters may be grouped ('-sg'); an option with a value takes the
    rest of its word or the next word."""
    options, i = DropbearOptions(), 0
    while i < len(args):
        word = args[i]
        i += 1
        if "$" in word:
            options.unresolved.append(word)
        if not word.startswith("-") or word == "-":
            continue
        for j, letter in enumerate(word[1:], 1):
            if letter in _DROPBEAR_VALUE_OPTIONS:
                value = word[j + 1:] if j + 1 < len(word) else (args[i] if i < len(args) else "")
                i += 0 if j + 1 < len(word) else 1
                if letter == "p":
                    options.listen.append(value)
                elif letter == "l":
                    options.device = value
                break
            options.no_passwords |= letter == "s"
            options.no_root_passwords |= letter == "g"
            options.no_root |= letter == "w"
            options.blank_passwords |= letter == "B"
    return options


def dropbear(boot: BootServices, files: ConfigFiles) -> list[SshServer]:
    found = instances(boot, "dropbear")
    text = files.read(DROPBEAR_UCI) if found else None
    sections = parse_uci(text, DROPBEAR_UCI).of_type("dropbear") if text is not None else []
    if not sections:
        return [_dropbear_from_flags(command, program) for command, program in found]
    command, program = found[0]
    return [_dropbear_from_uci(section, command, program) for section in sections]


def _dropbear_from_flags(command: BootCommand | None, program: str) -> SshServer:
    options = parse_dropbear_args(command.args if command else ())
    where = source_of(command) if command else None
    notes = [f"arguments from variables that could not be resolved ({', '.join(options.unresolved[:3])}): "
             "options given there are not known"] if options.unresolved else []
    endpoints = [Endpoint(*split_hostport(p, 22), source=where) for p in options.listen]
    no_root = options.no_passwords or options.no_root_passwords or options.no_root
    return SshServer(
        name="dropbear", kind="ssh", started=command, program=program, notes=tuple(notes),
        endpoints=tuple(endpoints) or (Endpoint(options.device, 22, source=where if options.device else None),),
        password_login=Flag(not options.no_passwords, where, "-s given" if options.no_passwords
                            else "dropbear started without -s: password logins are its default"),
        root_password_login=Flag(not no_root, where, "-s, -g or -w given" if no_root
                                 else "dropbear started without -g or -w"),
        empty_passwords=Flag(options.blank_passwords and not options.no_passwords, where,
                             "-B allows blank passwords" if options.blank_passwords else "no -B"))


def _dropbear_from_uci(section: UciSection, command: BootCommand | None, program: str) -> SshServer:
    def flag(name: str, default: bool) -> tuple[bool, Source | None]:
        value = section.get(name)
        return section.flag(name, default), _uci_source(value.name, value.value, value.line) if value else None

    enabled, _ = flag("enable", True)
    password, password_where = flag("PasswordAuth", True)
    root_password, root_password_where = flag("RootPasswordAuth", True)
    root, root_where = flag("RootLogin", True)
    cli = parse_dropbear_args(command.args if command else ())
    password = password and not cli.no_passwords
    decided = section.get("DirectInterface") or section.get("Interface") or section.get("Port")
    port = section.get("Port")
    address = "" if decided is None or decided is port or not decided.value.split() else decided.value.split()[0]
    endpoint = Endpoint(address, (port_of(port.value) if port else None) or 22,
                        source=_uci_source(decided.name, decided.value, decided.line) if decided else None)
    default = f"OpenWrt's default: {DROPBEAR_UCI} does not set it"
    if not password:
        root_flag = Flag(False, password_where, "password logins are off")
    else:
        root_on = root_password and root and not (cli.no_root or cli.no_root_passwords)
        root_flag_where = root_where if not root else root_password_where or root_where
        root_flag = Flag(root_on, root_flag_where, "" if root_flag_where else default)
    return SshServer(
        name="dropbear", kind="ssh", started=command if enabled else None, program=program,
        configs=(DROPBEAR_UCI,), endpoints=(endpoint,),
        notes=() if enabled else (f"instance disabled in {DROPBEAR_UCI} (option enable '0')",),
        password_login=Flag(password, password_where, "" if password_where else default),
        root_password_login=root_flag,
        empty_passwords=Flag(cli.blank_passwords and password, None, "-B allows blank passwords"
                             if cli.blank_passwords else "OpenWrt's dropbear script never passes -B"))


def _uci_source(name: str, value: str, line: int) -> Source:
    return Source(DROPBEAR_UCI, line, f"option {name} '{value}'")
