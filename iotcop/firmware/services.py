"""What a firmware starts at boot: the commands run from inittab, init scripts (sysvinit rcS, /etc/init.d,
OpenWrt's procd scripts enabled by /etc/rc.d links), inetd, xinetd, cron and systemd units.

Shell scripts are tokenised (``shlex``) and split into simple commands, so a daemon counts as started
only where it is in command position (or named by a launcher such as ``start-stop-daemon --exec``,
procd's ``procd_set_param command`` or busybox ``tcpsvd``) — never because its name appears in a
comment, an ``echo``, a here-document or a ``killall``. Simple variables are followed (``PROG=/usr/sbin/x``
then ``$PROG -F``, values sourced from /etc/default files), continued lines are joined, and scripts called
from boot scripts are followed, to a bounded depth. Also recorded: the programs installed in bin
directories, so that checks can tell "present but not started" from "absent".
"""

from __future__ import annotations

import posixpath
from collections import deque
from dataclasses import dataclass

from iotcop.firmware import bootsources
from iotcop.firmware.content import is_documentation
from iotcop.firmware.filesystem import FileSystem
from iotcop.firmware.shell import assign, expand, logical_lines, raw_commands, simple_commands, unwrapped

__all__ = ["BootCommand", "BootServices", "collect_boot_services", "installed_programs", "simple_commands"]

MAX_SCRIPTS = 400
MAX_SCRIPT_BYTES = 512 * 1024
MAX_SOURCED = 50
LAUNCHER_OPTIONS = {"start-stop-daemon": ("--exec", "-x", "--startas", "-a")}
STOP_OPTIONS = {"-K", "--stop"}
SUPERSERVER_OPTIONS = {"-c", "-C", "-b", "-u", "-l", "-t"}  # busybox tcpsvd/udpsvd options taking a value
# /etc/init.d/S??*: busybox and Buildroot's rcS runs every such script in order ('for i in /etc/init.d/S??*')
BOOT_SCRIPT_GLOBS = ("/etc/init.d/rcS", "/etc/rc.local", "/etc/rc.d/S*", "/etc/rcS.d/S*", "/etc/rc[2-5].d/S*",
                     "/etc/init.d/rc.local", "/etc/rc.d/rc.local", "/etc/rc.d/rcS", "/etc/init.d/S[0-9][0-9]*")
CRONTABS = (("/etc/crontab", True), ("/etc/cron.d/*", True), ("/etc/crontabs/*", False),
            ("/var/spool/cron/crontabs/*", False))
BIN_DIRS = {"bin", "sbin", "xbin", "libexec"}
_INITTAB_ACTIONS = {"sysinit", "respawn", "askfirst", "once", "wait", "boot", "bootwait", "askconsole"}
_CONSOLE_ACTIONS = {"respawn", "askfirst", "once", "askconsole"}  # a session on the entry's terminal


@dataclass(frozen=True)
class BootCommand:
    """One command a boot path runs: ``program`` is its basename (``telnetd``), ``args`` its own arguments
    (after a launcher's)."""

    program: str
    argv: tuple[str, ...]
    path: str  # the file that starts it
    line: int
    via: str  # inittab, init script, inetd, xinetd, cron, systemd
    raw_line: str
    args: tuple[str, ...] = ()
    listen: str = ""  # inetd, xinetd, tcpsvd: '[address:]port-or-service' accepted on the program's behalf
    console: str = ""  # inittab: the terminal of the entry ('console' for busybox's empty id, 'ttyS0', ...)


@dataclass(frozen=True)
class BootServices:
    """Facts: every command started at boot, the files read to find them, and the programs installed in
    bin directories (paths, links included: a busybox link named ``tftpd`` is an installed tftpd)."""

    commands: tuple[BootCommand, ...] = ()
    sources: tuple[str, ...] = ()
    installed: tuple[str, ...] = ()
    init: str = ""  # what /sbin/init is, resolved inside the image ('/bin/busybox', '/lib/systemd/systemd')

    def started(self, *programs: str) -> list[BootCommand]:
        wanted = set(programs)
        return [c for c in self.commands if c.program in wanted]

    def installed_as(self, *programs: str) -> list[str]:
        wanted = set(programs)
        return [p for p in self.installed if posixpath.basename(p) in wanted]


@dataclass(frozen=True)
class _Origin:
    path: str
    line: int
    via: str
    raw: str
    console: str = ""


def _programs(argv: list[str]) -> list[tuple[str, list[str], str]]:
    """(program, its arguments, listen spec) of what an argv starts: itself, or what a launcher names."""
    name = posixpath.basename(argv[0])
    if name == "procd_set_param":
        return [(posixpath.basename(argv[2]), argv[3:], "")] if len(argv) > 2 and argv[1] == "command" else []
    if name in ("service_start", "start_daemon"):
        rest = argv[1:]
        while len(rest) > 1 and rest[0] in ("-f", "-n", "-p"):
            rest = rest[1:] if rest[0] == "-f" else rest[2:]
        return [(name, rest, ""), (posixpath.basename(rest[0]), rest[1:], "")] if rest else [(name, [], "")]
    if name in ("tcpsvd", "udpsvd"):
        rest = argv[1:]
        while rest and rest[0].startswith("-"):
            rest = rest[2:] if rest[0] in SUPERSERVER_OPTIONS else rest[1:]
        if len(rest) >= 3:
            return [(name, argv[1:], ""), (posixpath.basename(rest[2]), rest[3:], f"{rest[0]}:{rest[1]}")]
        return [(name, argv[1:], "")]
    options = LAUNCHER_OPTIONS.get(name)
    if options:
        if STOP_OPTIONS & set(argv):  # 'start-stop-daemon -K -x telnetd' stops it: the opposite of starting
            return []
        named = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a in options]
        named += [a.partition("=")[2] for a in argv if a.partition("=")[0] in options]  # '--exec=/usr/sbin/x'
        args = argv[argv.index("--") + 1:] if "--" in argv else []
        return [(posixpath.basename(n), args, "") for n in named if n]
    return [(name, argv[1:], "")]


class _Collector:
    def __init__(self, fs: FileSystem) -> None:
        self.fs = fs
        self.commands: list[BootCommand] = []
        self.sources: list[str] = []
        self.queue: deque[tuple[str, str]] = deque()
        self.seen: set[str] = set()
        self.sourced = 0

    def add_script(self, path: str, console: str = "") -> None:
        entry = self.fs.resolve(path)
        if entry is not None and entry.is_file and entry.path not in self.seen and len(self.seen) < MAX_SCRIPTS:
            self.seen.add(entry.path)
            self.queue.append((entry.path, console))

    def add(self, argv: list[str], origin: _Origin) -> None:
        for program, args, listen in _programs(argv):
            self.commands.append(BootCommand(program, tuple(argv), origin.path, origin.line, origin.via,
                                             origin.raw.strip(), tuple(args), listen, origin.console))
        if argv[0].startswith("/") or argv[0].startswith("."):
            self.add_script(argv[0], origin.console)

    def shell(self, text: str, origin: _Origin, env: dict[str, str]) -> None:
        """Run through the commands of shell text, keeping simple variable assignments in ``env``."""
        for tokens in raw_commands(text):
            if assign(tokens, env):
                continue
            argv = unwrapped([w for t in tokens for w in expand(t, env)])
            if argv and argv[0] in (".", "source") and len(argv) > 1:
                self.source_variables(argv[1], env)
            elif argv:
                self.add(argv, origin)

    def source_variables(self, path: str, env: dict[str, str]) -> None:
        """Assignments of a sourced file (/etc/default/dropbear: DROPBEAR_ARGS=...); its commands are not run."""
        self.sourced += 1
        text = self.fs.read_text(path, MAX_SCRIPT_BYTES) if self.sourced <= MAX_SOURCED else None
        for _, line in logical_lines(text or ""):
            for tokens in raw_commands(line):
                assign(tokens, env)

    def run_scripts(self) -> None:
        while self.queue:
            path, console = self.queue.popleft()
            if self.fs.read_bytes(path, 2) != b"#!" and not path.startswith(("/etc/init", "/etc/rc")):
                continue  # a binary the boot path runs, not a script to read
            text = self.fs.read_text(path, MAX_SCRIPT_BYTES) or ""
            self.sources.append(path)
            env: dict[str, str] = {}
            for number, line in logical_lines(text):
                self.shell(line, _Origin(path, number, "init script", line, console), env)

    def inittab(self) -> None:
        text = self.fs.read_text("/etc/inittab")
        if text is None:
            return
        self.sources.append("/etc/inittab")
        for number, raw in enumerate(text.splitlines(), 1):
            parts = raw.split(":", 3)
            if raw.lstrip().startswith("#") or len(parts) != 4 or parts[2] not in _INITTAB_ACTIONS:
                continue
            console = (parts[0].strip() or "console") if parts[2] in _CONSOLE_ACTIONS else ""
            for argv in simple_commands(parts[3].lstrip("-")):
                self.add(argv, _Origin("/etc/inittab", number, "inittab", raw, console))

    def inetd(self) -> None:
        text = self.fs.read_text("/etc/inetd.conf")
        if text is not None:
            self.sources.append("/etc/inetd.conf")
            self.table("/etc/inetd.conf", "inetd", bootsources.parse_inetd(text))

    def table(self, path: str, via: str, entries: list[bootsources.TableEntry]) -> None:
        for e in entries:
            argv = list(e.argv)
            self.commands.append(BootCommand(posixpath.basename(argv[0]), tuple(argv), path, e.line, via, e.raw,
                                             tuple(argv[1:]), e.listen))

    def xinetd(self) -> None:
        files, read = ["/etc/xinetd.conf"], set[str]()
        services: list[tuple[str, bootsources.XinetdService]] = []
        while files and len(read) < MAX_SCRIPTS:
            path = files.pop(0)
            text = self.fs.read_text(path, MAX_SCRIPT_BYTES) if path not in read else None
            if text is None:
                continue
            read.add(path)
            self.sources.append(path)
            found, includes = bootsources.parse_xinetd(text)
            services += [(path, s) for s in found]
            for directory in includes:  # xinetd skips names with a dot or ending in '~' (backups, .rpmsave)
                files += [e.path for e in self.fs.glob(posixpath.join(directory, "*")) if e.is_file
                          and "." not in posixpath.basename(e.path) and not e.path.endswith("~")]
        defaults = next((s for _, s in services if s.name == "defaults"), None)
        for path, service in services:
            if service.name != "defaults" and not bootsources.xinetd_disabled(service, defaults):
                entry = bootsources.xinetd_entry(service)
                self.table(path, "xinetd", [entry] if entry else [])

    def cron(self) -> None:
        for pattern, user_field in CRONTABS:
            for entry in self.fs.glob(pattern):
                text = self.fs.read_text(entry.path, MAX_SCRIPT_BYTES) if entry.is_file else None
                if text is None:
                    continue
                self.sources.append(entry.path)
                for e in bootsources.parse_crontab(text, user_field):
                    self.shell(e.argv[0], _Origin(entry.path, e.line, f"cron {e.schedule}", e.raw), {})

    def systemd(self) -> None:
        for entry in self.fs.glob("/etc/systemd/system/*.wants/*"):
            target = self.fs.resolve(entry.path)
            if target is None or not target.is_file:
                continue
            text = self.fs.read_text(target.path) or ""
            self.sources.append(target.path)
            unit = posixpath.basename(entry.path)
            instance = unit.partition("@")[2].rpartition(".")[0]  # serial-getty@ttyS0.service → ttyS0
            settings = [(n, *raw.partition("=")) for n, raw in enumerate(text.splitlines(), 1)]
            tty = next((v.strip() for _, k, _, v in settings if k.strip() == "TTYPath"), "")
            console = posixpath.basename(tty) or ((instance or "console") if "getty" in unit else "")
            for number, key, _, value in settings:
                if key.strip() == "ExecStart":
                    value = value.replace("%I", instance).replace("%i", instance)
                    for argv in simple_commands(value.lstrip("-@+!:")):
                        self.add(argv, _Origin(target.path, number, "systemd", key + "=" + value, console))


def installed_programs(fs: FileSystem) -> tuple[str, ...]:
    """Files and links directly in a bin, sbin, xbin or libexec directory, outside documentation."""
    return tuple(sorted(e.path for e in fs.entries() if (e.is_file or e.is_symlink)
                        and posixpath.basename(posixpath.dirname(e.path)) in BIN_DIRS
                        and not is_documentation(e.path)))


def collect_boot_services(fs: FileSystem) -> BootServices:
    collector = _Collector(fs)
    collector.inittab()
    for pattern in BOOT_SCRIPT_GLOBS:
        for entry in fs.glob(pattern):
            collector.add_script(entry.path)
    collector.run_scripts()
    collector.inetd()
    collector.xinetd()
    collector.cron()
    collector.run_scripts()  # scripts that cron entries run
    collector.systemd()
    init = fs.resolve("/sbin/init")
    return BootServices(tuple(collector.commands), tuple(dict.fromkeys(collector.sources)), installed_programs(fs),
                        init.path if init is not None else "")
