"""What a firmware starts at boot: the commands run from inittab, init scripts, inetd and systemd units.

Shell scripts are tokenised (``shlex``) and split into simple commands, so a daemon counts as started
only where it is in command position (or named by a launcher such as ``start-stop-daemon --exec`` or
procd's ``procd_set_param command``) — never because its name appears in a comment, an ``echo`` or a
``killall``. Scripts called from boot scripts are followed, to a bounded depth.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections import deque
from dataclasses import dataclass

from iotcop.firmware.filesystem import FileSystem

MAX_SCRIPTS = 400
MAX_SCRIPT_BYTES = 512 * 1024
SEPARATORS = {";", "&&", "||", "|", "&", "(", ")", "{", "}", "then", "do", "else", "elif", "!", "if", "while"}
WRAPPERS = {"exec", "nohup", "nice", "setsid", "env", "sudo", "chroot", "busybox", "command", "/bin/busybox"}
LAUNCHER_OPTIONS = {"start-stop-daemon": ("--exec", "-x", "--startas", "-a")}
STOP_OPTIONS = {"-K", "--stop"}
INETD_WRAPPERS = {"tcpd"}  # 'telnet stream tcp nowait root /usr/sbin/tcpd in.telnetd': tcpd runs argv[0]
BOOT_SCRIPT_GLOBS = ("/etc/init.d/rcS", "/etc/rc.local", "/etc/rc.d/S*", "/etc/rcS.d/S*", "/etc/rc[2-5].d/S*",
                     "/etc/init.d/rc.local", "/etc/rc.d/rc.local", "/etc/rc.d/rcS")
_INITTAB_ACTIONS = {"sysinit", "respawn", "askfirst", "once", "wait", "boot", "bootwait"}


@dataclass(frozen=True)
class BootCommand:
    """One command a boot path runs: ``program`` is its basename (``telnetd``)."""

    program: str
    argv: tuple[str, ...]
    path: str  # the file that starts it
    line: int
    via: str  # inittab, init script, inetd, systemd
    raw_line: str


@dataclass(frozen=True)
class BootServices:
    """Facts: every command started at boot, and the files that were read to find them."""

    commands: tuple[BootCommand, ...] = ()
    sources: tuple[str, ...] = ()

    def started(self, *programs: str) -> list[BootCommand]:
        wanted = set(programs)
        return [c for c in self.commands if c.program in wanted]


def simple_commands(line: str) -> list[list[str]]:
    """The simple commands of one shell line, each as argv with wrappers removed."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        tokens = list(lexer)
    except ValueError:  # an unbalanced quote: fall back to plain splitting
        tokens = line.split("#", 1)[0].split()
    commands: list[list[str]] = [[]]
    for token in tokens:
        if token in SEPARATORS or set(token) <= set(";&|()"):
            commands.append([])
        else:
            commands[-1].append(token)
    out = []
    for argv in commands:
        while argv and (re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", argv[0]) or argv[0] in WRAPPERS):
            argv = argv[1:]
        if argv:
            out.append(argv)
    return out


def _programs(argv: list[str]) -> list[str]:
    """Programs an argv starts: itself, or what a launcher names."""
    name = posixpath.basename(argv[0])
    if name == "procd_set_param" and len(argv) > 2 and argv[1] == "command":
        return [posixpath.basename(argv[2])]
    options = LAUNCHER_OPTIONS.get(name)
    if options:
        if STOP_OPTIONS & set(argv):  # 'start-stop-daemon -K -x telnetd' stops it: the opposite of starting
            return []
        named = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a in options]
        named += [a.partition("=")[2] for a in argv if a.partition("=")[0] in options]  # '--exec=/usr/sbin/x'
        return [posixpath.basename(n) for n in named if n]
    return [name]


class _Collector:
    def __init__(self, fs: FileSystem) -> None:
        self.fs = fs
        self.commands: list[BootCommand] = []
        self.sources: list[str] = []
        self.queue: deque[str] = deque()
        self.seen: set[str] = set()

    def add_script(self, path: str) -> None:
        entry = self.fs.resolve(path)
        if entry is not None and entry.is_file and entry.path not in self.seen and len(self.seen) < MAX_SCRIPTS:
            self.seen.add(entry.path)
            self.queue.append(entry.path)

    def add(self, argv: list[str], path: str, line: int, via: str, raw: str) -> None:
        for program in _programs(argv):
            self.commands.append(BootCommand(program, tuple(argv), path, line, via, raw.strip()))
        if argv[0].startswith("/") or argv[0].startswith("."):
            self.add_script(argv[0])

    def run_scripts(self) -> None:
        while self.queue:
            path = self.queue.popleft()
            text = self.fs.read_text(path, MAX_SCRIPT_BYTES) or ""
            if not text.startswith("#!") and not path.startswith(("/etc/init", "/etc/rc")):
                continue  # a binary the boot path runs, not a script to read
            self.sources.append(path)
            for number, raw in enumerate(text.splitlines(), 1):
                for argv in simple_commands(raw):
                    self.add(argv, path, number, "init script", raw)

    def inittab(self) -> None:
        text = self.fs.read_text("/etc/inittab")
        if text is None:
            return
        self.sources.append("/etc/inittab")
        for number, raw in enumerate(text.splitlines(), 1):
            parts = raw.split(":", 3)
            if raw.lstrip().startswith("#") or len(parts) != 4 or parts[2] not in _INITTAB_ACTIONS:
                continue
            for argv in simple_commands(parts[3].lstrip("-")):
                self.add(argv, "/etc/inittab", number, "inittab", raw)

    def inetd(self) -> None:
        for path in ("/etc/inetd.conf",):
            text = self.fs.read_text(path)
            if text is None:
                continue
            self.sources.append(path)
            for number, raw in enumerate(text.splitlines(), 1):
                fields = raw.split()
                if len(fields) >= 6 and not raw.lstrip().startswith("#"):
                    argv = fields[6:] or fields[5:6]
                    server = fields[5]
                    if posixpath.basename(server) in INETD_WRAPPERS and fields[6:]:
                        server = fields[6]
                    self.commands.append(BootCommand(posixpath.basename(server), tuple(argv), path, number,
                                                     "inetd", raw.strip()))

    def systemd(self) -> None:
        for entry in self.fs.glob("/etc/systemd/system/*.wants/*"):
            target = self.fs.resolve(entry.path)
            if target is None or not target.is_file:
                continue
            text = self.fs.read_text(target.path) or ""
            self.sources.append(target.path)
            for number, raw in enumerate(text.splitlines(), 1):
                key, _, value = raw.partition("=")
                if key.strip() == "ExecStart":
                    for argv in simple_commands(value.lstrip("-@+!:")):
                        self.add(argv, target.path, number, "systemd", raw)


def collect_boot_services(fs: FileSystem) -> BootServices:
    collector = _Collector(fs)
    collector.inittab()
    for pattern in BOOT_SCRIPT_GLOBS:
        for entry in fs.glob(pattern):
            collector.add_script(entry.path)
    collector.run_scripts()
    collector.inetd()
    collector.systemd()
    return BootServices(tuple(collector.commands), tuple(dict.fromkeys(collector.sources)))
