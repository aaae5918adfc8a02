"""Login accounts of a root file system, from /etc/passwd and /etc/shadow (passwd(5), shadow(5)).

Parsing is tolerant of what embedded images ship (busybox-made files, missing shadow, DOS line ends,
stray blank lines) and records, for each account, the line it came from so findings can point at it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from iotcop.firmware.filesystem import FileSystem
from iotcop.knowledge.hashes import State, state_of

PASSWD = "/etc/passwd"
SHADOW = "/etc/shadow"
NOLOGIN_NAMES = ("false", "nologin")  # an empty shell field means /bin/sh (passwd(5))


@dataclass(frozen=True)
class Account:
    name: str
    uid: int | None  # None when not a number, or when the account is known from shadow alone
    shell: str  # '' means /bin/sh (passwd(5)); also '' when passwd is missing
    password_field: str  # the effective field: from shadow when passwd says 'x'
    source_path: str  # where the effective password field was read
    line: int
    raw_line: str

    @property
    def state(self) -> State:
        return state_of(self.password_field)

    @property
    def can_log_in(self) -> bool:
        """Whether the account has a usable shell (a nologin shell blocks interactive logins)."""
        return self.shell.rsplit("/", 1)[-1] not in NOLOGIN_NAMES


@dataclass(frozen=True)
class Accounts:
    """Facts: every account, and which account files were found."""

    accounts: tuple[Account, ...] = ()
    sources: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default=())

    def with_password_hash(self) -> list[Account]:
        return [a for a in self.accounts if a.state is State.HASH]


def _lines(text: str) -> list[tuple[int, str]]:
    return [(n, line.rstrip("\r")) for n, line in enumerate(text.split("\n"), 1) if line.strip()
            and not line.lstrip().startswith("#")]


def parse_shadow(text: str) -> dict[str, tuple[str, int, str]]:
    """name → (password field, line number, raw line)."""
    out: dict[str, tuple[str, int, str]] = {}
    for number, line in _lines(text):
        parts = line.split(":")
        if len(parts) >= 2 and parts[0]:
            out.setdefault(parts[0], (parts[1], number, line))
    return out


def collect_accounts(fs: FileSystem) -> Accounts:
    passwd_text = fs.read_text(PASSWD)
    shadow_text = fs.read_text(SHADOW)
    sources = tuple(p for p, t in ((PASSWD, passwd_text), (SHADOW, shadow_text)) if t is not None)
    shadow = parse_shadow(shadow_text) if shadow_text is not None else {}
    if passwd_text is None:
        # passwd is often made at run time (TP-Link: /etc/passwd -> /tmp/passwd) while the shadow file and
        # its hashes ship: they are still facts. Shell and uid are unknown; the checks say so.
        return Accounts(tuple(Account(name, None, "", field_, SHADOW, number, raw)
                              for name, (field_, number, raw) in shadow.items()), sources,
                        (f"{PASSWD} is missing: accounts were read from {SHADOW} alone",) if shadow else ())
    accounts, problems = [], []
    for number, line in _lines(passwd_text):
        parts = line.split(":")
        if len(parts) < 7 or not parts[0]:
            problems.append(f"{PASSWD}:{number}: not a passwd entry (expected 7 fields)")
            continue
        name, pw, uid_text, shell = parts[0], parts[1], parts[2], parts[6]
        uid = int(uid_text) if uid_text.isascii() and uid_text.isdigit() else None  # not '²': isdigit, no int
        entry = Account(name, uid, shell, pw, PASSWD, number, line)
        if pw == "x":  # only 'x' defers to shadow; an empty field means no password at all
            if name in shadow:
                field_, s_line, s_raw = shadow[name]
                entry = Account(name, uid, shell, field_, SHADOW, s_line, s_raw)
            else:
                problems.append(f"{name}: passwd defers to shadow, which has no entry for it")
                entry = Account(name, uid, shell, "*", PASSWD, number, line)
        accounts.append(entry)
    return Accounts(tuple(accounts), sources, tuple(problems))
