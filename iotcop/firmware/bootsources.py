"""Boot sources that are tables rather than scripts: inetd.conf, xinetd services and crontabs.

Pure text → records; ``iotcop.firmware.services`` turns them into boot commands. A line that is commented
out, a service with ``disable = yes`` (or disabled in xinetd's ``defaults``) and a crontab's variable
assignments start nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_ENTRIES = 2_000
INETD_WRAPPERS = {"tcpd"}  # 'telnet stream tcp nowait root /usr/sbin/tcpd in.telnetd': tcpd runs argv[0]
#: /etc/services names of the ports a superserver may be configured with, for the services iotcop reports
SERVICE_PORTS = {"ftp": 21, "ssh": 22, "telnet": 23, "tftp": 69, "http": 80, "www": 80, "exec": 512, "login": 513,
                 "shell": 514, "rsh": 514, "snmp": 161, "https": 443}
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\s*=")
_UNESCAPED_PERCENT = re.compile(r"(?<!\\)%")


@dataclass(frozen=True)
class TableEntry:
    """One started command of a table: ``argv[0]`` is the program as the table names it."""

    line: int
    argv: tuple[str, ...]
    raw: str
    listen: str = ""  # inetd/xinetd: '[address:]service-or-port' the superserver accepts connections on
    schedule: str = ""  # cron: '@reboot' or the five time fields


def parse_inetd(text: str) -> list[TableEntry]:
    """``service socket-type protocol wait user server [argv0 args...]`` lines of inetd.conf."""
    out: list[TableEntry] = []
    for number, raw in enumerate(text.splitlines()[:MAX_ENTRIES], 1):
        fields = raw.split()
        if len(fields) < 6 or raw.lstrip().startswith("#"):
            continue
        server, args = fields[5], fields[6:]
        argv = tuple(args) if _basename(server) in INETD_WRAPPERS and args else (server, *args[1:])
        out.append(TableEntry(number, argv, raw.strip(), listen=fields[0]))
    return out


@dataclass(frozen=True)
class XinetdService:
    name: str
    line: int
    attrs: dict[str, tuple[str, int, str]]  # attribute → (value, line, raw line); '+=' appends

    def get(self, attr: str) -> str:
        return self.attrs.get(attr, ("", 0, ""))[0]


def parse_xinetd(text: str) -> tuple[list[XinetdService], list[str]]:
    """The ``service`` blocks of an xinetd file, and the ``includedir`` directories it names. A
    ``defaults`` block is returned as a service named ``defaults``."""
    services: list[XinetdService] = []
    includes: list[str] = []
    current: XinetdService | None = None
    pending: tuple[str, int] | None = None
    for number, raw in enumerate(text.splitlines()[: MAX_ENTRIES * 10], 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        if current is None:
            if words[0] == "includedir" and len(words) == 2:
                includes.append(words[1])
                continue
            if words[0] in ("service", "defaults") and len(services) < MAX_ENTRIES:
                pending = (words[1] if words[0] == "service" and len(words) > 1 else "defaults", number)
            if pending is not None and line.endswith("{"):
                current, pending = XinetdService(pending[0], pending[1], {}), None
            continue
        if line.startswith("}"):
            services.append(current)
            current = None
            continue
        key, op, value = _xinetd_attribute(line)
        if key:
            old = current.attrs.get(key, ("", 0, ""))[0] if op == "+=" else ""
            current.attrs[key] = ((old + " " + value).strip(), number, raw.strip())
    return services, includes


def _xinetd_attribute(line: str) -> tuple[str, str, str]:
    match = re.match(r"^([A-Za-z_]+)\s*([-+]?=)\s*(.*)$", line)
    return (match.group(1).lower(), match.group(2), match.group(3).strip()) if match else ("", "", "")


def xinetd_disabled(service: XinetdService, defaults: XinetdService | None) -> bool:
    """Whether xinetd leaves a service off: ``disable = yes``, or listed in ``defaults``' ``disabled``, or
    missing from a ``defaults`` ``enabled`` list."""
    if service.get("disable").lower() == "yes":
        return True
    if defaults is not None:
        if service.name in defaults.get("disabled").split():
            return True
        enabled = defaults.get("enabled").split()
        if enabled and service.name not in enabled:
            return True
    return False


def xinetd_entry(service: XinetdService) -> TableEntry | None:
    """The command an enabled xinetd service runs (None for INTERNAL services and those without a server)."""
    server = service.attrs.get("server")
    if server is None or "INTERNAL" in service.get("type").upper().split():
        return None
    value, line, raw = server
    argv = (value, *service.get("server_args").split())
    port = service.get("port") or service.name
    bind = service.get("bind") or service.get("interface")
    return TableEntry(line, argv, raw, listen=f"{bind}:{port}" if bind else port)


def parse_crontab(text: str, user_field: bool) -> list[TableEntry]:
    """Entries of a crontab; ``user_field`` for /etc/crontab and /etc/cron.d (a user column before the
    command). The command is shell text (cron runs it with ``sh -c``): ``argv`` holds it as one string."""
    out: list[TableEntry] = []
    for number, raw in enumerate(text.splitlines()[:MAX_ENTRIES], 1):
        line = raw.strip()
        if not line or line.startswith("#") or _ASSIGNMENT.match(line):
            continue
        fields = line.split(None, (1 if line.startswith("@") else 5) + int(user_field))
        if len(fields) != (2 if line.startswith("@") else 6) + int(user_field):
            continue
        command = _UNESCAPED_PERCENT.split(fields[-1], 1)[0].replace("\\%", "%")  # '%' starts the stdin text
        schedule = fields[0] if line.startswith("@") else " ".join(fields[:5])
        out.append(TableEntry(number, (command,), line, schedule=schedule))
    return out


def _basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]
