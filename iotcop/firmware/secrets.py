"""Hard-coded credentials in scripts and configuration files, found during the one content pass.

What counts (each candidate says which rule matched and why the value is believed to be a credential):
``url-credential`` (``scheme://user:pass@host``), ``cli-credential`` (``curl -u user:pass``, ``wget
--password=``, ``sshpass -p``, ``mosquitto_pub -P``, ``echo user:pass | chpasswd``, ...),
``assignment`` (a password/secret/token/key-like name given a literal: shell, Lua, JS, PHP, Python, key=value,
``key: value``, JSON, XML ``<password>``, UCI ``option password``, NUL-separated nvram defaults),
``comparison`` (such a name compared with a literal: a fixed password check), ``basic-auth-header``
(``Authorization: Basic`` or ``btoa("user:pass")``), and ``token:<format>`` (the formats of
``iotcop.knowledge.tokens``).

What does not count, by decision:
- documentation, man pages, examples and templates (``content.is_documentation``): they are not read at all;
- commented-out lines: they configure nothing;
- empty values, variable references (``$PASS``, ``${x}``, ``$(cmd)``, ``%s``, ``{{x}}``, ``<password>``,
  ``@X@``), masks (``****``, ``xxxx``) and slot names (``YOUR_PASSWORD``, ``password_here``);
- crypt hashes and lock markers (``$1$...``, ``$p$root``, ``!``, ``*``): stored hashes are judged by the
  ``fw.credentials`` checks, which verify them against the default lists;
- in program code, a value with white space or non-ASCII characters, or a bare credential word
  (``password: "Password"``): these are labels and messages of a user interface;
- a documented example value (AWS's ``AKIAIOSFODNN7EXAMPLE``): it grants nothing.
A well-known default (``admin``, ``changeme``, ``password`` in a configuration file) IS a finding: in a live
file it is the value the device uses. Values are never kept in full: first two characters and length,
except a publicly known default password, which is public already (``known_default``).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from iotcop.firmware.content import Blob, FileKind, is_documentation
from iotcop.knowledge.tokens import TokenFormats, token_formats

MAX_TEXT = 4 * 1024 * 1024  # a script or configuration file larger than this is not one
MAX_LINE = 1024 * 1024  # longer lines (minified bundles) are searched for token formats only
MAX_PER_FILE = 200  # candidates kept of one file: enough to fail the requirement, bounded against hostile files
MAX_COMMAND = 4096  # a command line longer than this is not one; the command rules skip such lines
_MARKUP = (".htm", ".html", ".shtml", ".xhtml", ".asp", ".stm", ".jsp")  # pages: their code is JavaScript
_NOT_CREDENTIAL_FILES = ("/etc/nsswitch.conf",)  # "passwd: files" names a database there
_SKIP_SUFFIXES = (".css", ".svg", ".pem", ".crt", ".cer", ".csr", ".key", ".pub")
_V = r"""(?:"(?:[^"\\]|\\.)*"|'[^']*'|[^\s'"|;&<>()`]+)"""  # a shell word, quoted or bare
_TRIGGER = re.compile(r"(?i)pass|pwd|pw\b|secret|token|key|psk|://|authoriz|btoa|chpasswd|\s-[uUP]")
_COMMENT = re.compile(r"^\s*(?:#|//|--|;|<!--|/?\*)")
_KV_LINE = re.compile(r"""^\s*["']?([A-Za-z_][\w.@\[\]-]*)["']?[ \t]*[=:][ \t]*(.*)$""")
_UCI = re.compile(r"""^\s*option\s+([\w-]+)\s+('[^']*'|"[^"]*"|\S+)""")
_XML = re.compile(r"<([A-Za-z][\w:.-]*)>([^<]{1,512})</\1>")
_QUOTED_PAIR = re.compile(  # name (bare, quoted, $php, ['lua']) then = : => then a quoted literal
    r"""(?:^|[^\w$.-])(\$?[A-Za-z_]\w*|"[\w.-]+"|'[\w.-]+'|\[\s*["'][\w.-]+["']\s*\])"""
    r"""\s*(?:(?<![=!<>~])=(?![=~])|:|=>)\s*(["'])((?:(?!\2)[^\\]|\\.){0,512})\2""")
_SH_ASSIGN = re.compile(r"(?:^|[\s;&|(])(?:export\s+|local\s+|readonly\s+)?([A-Za-z_][\w.@\[\]-]*)=(" + _V + ")")
_DEFINE = re.compile(r"""\bdefine\(\s*["']([\w.-]+)["']\s*,\s*(["'])((?:(?!\2)[^\\]|\\.)*)\2""")
_COMPARE = re.compile(  # bounded name: an unbounded one makes long runs of word characters quadratic
    r"""(?<![\w.\]'"$\[{])(["']?\$?\{?[A-Za-z_][\w.\[\]'"]{0,64}\}?["']?)\s*(?:===?|!==?|~=|\beq\b|\bne\b)\s*"""
    r"""(["'])((?:(?!\2)[^\\]|\\.){0,512})\2""")
_COMPARE_SH = re.compile(r"""\[\[?\s+["']?\$\{?([A-Za-z_]\w*)\}?["']?\s+!?==?\s+(["']?)([^\s"'\]]+)\2\s+\]""")
_URL = re.compile(r"(?i)\b((?:https?|ftps?|sftp|mqtts?|rtsps?|rtmps?|wss?|amqps?|redis|mongodb(?:\+srv)?|"
                  r"postgres(?:ql)?|mysql|smb|telnet|ssh)://)([^\s:/@'\"<>]+):([^\s/@'\"<>]+)@[\w.\[\]-]+")
_BASIC = re.compile(r"(?i)\bauthorization\b[\"']?\s*[:=,]?\s*[\"']?\s*basic\s+([A-Za-z0-9+/]{4,}={0,2})")
_BTOA = re.compile(r"""\bbtoa\(\s*(["'])([^"':]{1,64}):([^"']{1,128})\1\s*\)""")
_CLI = tuple((what, word, re.compile(rx)) for what, word, rx in (  # (rule, a word the line must hold, regex)
    ("curl -u", "curl", r"\bcurl\b[^|;&]*?\s(?:-u|--user)(?:=|\s*)(?P<v>" + _V + ")"),
    ("--password", "--", r"(?:^|\s)--(?:http-|ftp-|proxy-)?(?:password|passwd|pw)(?:=|\s+)(?P<v>" + _V + ")"),
    ("sshpass -p", "sshpass", r"\bsshpass\s+(?:-\w+\s+)*?-p\s*(?P<v>" + _V + ")"),
    ("mosquitto -P", "mosquitto", r"\bmosquitto_(?:pub|sub|rr)\b[^|;&]*?\s-P\s+(?P<v>" + _V + ")"),
    ("mosquitto_passwd -b", "mosquitto", r"\bmosquitto_passwd\s+(?:-c\s+)?-b\s+\S+\s+\S+\s+(?P<v>" + _V + ")"),
    ("htpasswd -b", "htpasswd", r"\bhtpasswd\s+-\w*b\w*\s+\S+\s+\S+\s+(?P<v>" + _V + ")"),
    ("-pass pass:", "pass:", r"\s-pass(?:in|out)?\s+pass:(?P<v>" + _V + ")"),
    ("smbclient -U user%pass", "smbclient", r"\bsmbclient\b[^|;&]*?\s-U\s*\S+?%(?P<v>" + _V + ")"),
    ("chpasswd", "chpasswd", r"\b(?:echo|printf)\s+(?:-\w+\s+)?(?P<v>['\"]?[\w.-]+:[^\s'\"|]+['\"]?)\s*\|"
                             r"\s*(?:\S*/)?chpasswd"),
    ("echo | passwd", "passwd", r"\b(?:echo|printf)\s+(?:-\w+\s+)?['\"](?P<v>[^'\"\\\s]+)\\n(?P=v)(?:\\n)?['\"]\s*\|"
                                r"\s*(?:\S*/)?passwd\b"),
))
_CRED_WORDS = frozenset({"password", "passwd", "passphrase", "pass", "pwd", "pw", "passw", "passcode", "secret",
                         "token", "psk", "authkey", "apikey", "localkey", "auzkey", "secretkey", "accesskey"})
# "ProductKey" (Alibaba, Tuya) is a public product identifier, not a secret: "product" is no qualifier here
_KEY_QUALIFIERS = frozenset({"api", "access", "secret", "auth", "local", "app", "client", "master", "shared", "pre",
                             "encryption", "aes", "hmac", "signing", "sign", "device", "wpa", "wep"})
_NOT_SECRET_QUALIFIERS = frozenset({"csrf", "xsrf", "public", "pub", "session", "nonce", "min", "max"})
_GENERIC = frozenset({"password", "passwd", "pass", "pwd", "pw", "secret", "token", "key", "passphrase", "user",
                      "username", "login", "name", "usr", "u", "p"})
# the word "password" in the languages web interfaces ship translation tables for (a label, not a value)
_TRANSLATIONS = frozenset({"passwort", "kennwort", "wachtwoord", "parola", "senha", "salasana", "heslo", "haslo",
                           "jelszo", "lozinka", "sifre", "passord", "losenord", "adgangskode", "parool", "geslo"})
_VARIABLE = re.compile(  # references and lock markers ('!', '!!', '!$6$...', '*LK*'), never a value in use
    r"^(?:[$`]|!+$|!\$|\*LK\*|%[\w(%]|\{\{|\{[\w.]*\}$|<[^>]*>$|@\w+@$|\[[^\]]*\]$|%\w+%$)")
_MASK = re.compile(r"^(?:x+|X+|\*+|\.+|-+|_+|#+|\?+)$")
_SLOT = re.compile(r"(?i)^(?:(?:your|my|enter|insert|put|new|some|the)[_ -]?\w*(?:pass|pwd|key|token|secret)\w*|"
                   r"\w*[_ -](?:here|goes[_ -]?here))$|"
                   r"^(?:null|nil|none|undefined|empty|true|false|yes|no|on|off|disabled?|n/?a|placeholder|"
                   r"changethis|example\w*|sample\w*)$")
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


@dataclass(frozen=True, slots=True)
class Candidate:
    """One value believed to be a credential, and why. ``redacted`` never holds the full value."""

    path: str
    line: int | None  # None in a binary (nvram) file, which has ``offset`` instead
    kind: str  # url-credential, cli-credential, assignment, comparison, basic-auth-header, token:<format id>
    name: str  # the key, option, command or token format the value belongs to
    redacted: str
    reason: str
    offset: int | None = None
    known_default: str | None = None  # the value, when it is a publicly known default password

    @property
    def is_token(self) -> bool:
        return self.kind.startswith("token:")


@dataclass(frozen=True)
class Secrets:
    """Facts: candidates from every script and configuration file read; ``files`` is how many were read,
    ``truncated`` those read only in part."""

    candidates: tuple[Candidate, ...] = ()
    files: int = 0
    truncated: tuple[str, ...] = ()

    def credentials(self) -> list[Candidate]:
        return [c for c in self.candidates if not c.is_token]

    def tokens(self) -> list[Candidate]:
        return [c for c in self.candidates if c.is_token]


def redact(value: str) -> str:
    return f"{value[:2]}… ({len(value)} chars)"


def credential_name(name: str, *, wireless: bool = False) -> bool:
    """Whether a key names a password, secret, token or key (by its last word: ``adminPassword``,
    ``DEVICE_SECRET``, ``apiKey``, ``wpa_psk``; not ``password_file``, ``csrf_token`` or ``keymap``)."""
    last = re.split(r"[.\[\]>'\"$-]+", name.strip("[]'\" "))
    words = [w.lower() for w in _WORDS.findall(next((p for p in reversed(last) if p), "")) if not w.isdigit()]
    if not words or (len(words) > 1 and words[-2] in _NOT_SECRET_QUALIFIERS):
        return False
    if words[-1] in _CRED_WORDS:
        return True
    if words[-1] == "key":
        return (len(words) > 1 and words[-2] in _KEY_QUALIFIERS) or (wireless and len(words) == 1)
    return False


def not_a_credential(value: str, *, code: bool, known: frozenset[str]) -> bool:
    """The value-side false-positive policy of the module docstring."""
    if len(value) < 3 or _VARIABLE.match(value) or _MASK.match(value) or "://" in value:
        return True
    if value.startswith(("/", "./", "~/")):
        return True  # a path: the secret lives elsewhere
    if any(c.isspace() for c in value):
        return True  # prose, a label or a message (a passphrase with spaces is missed: rare in shipped defaults)
    if code and (value.lower() in _GENERIC or value.lower() in _TRANSLATIONS or not value.isascii()):
        return True
    return value not in known and bool(_SLOT.match(value))


def _slot_pair(user: str, secret: str) -> bool:
    """'user:password', 'username:pass': both halves name their slot."""
    return user.lower() in _GENERIC and secret.lower() in _GENERIC


def _unquote(word: str) -> str:
    return word[1:-1] if len(word) >= 2 and word[0] == word[-1] and word[0] in "'\"" else word


@dataclass
class _Hit:
    line: int
    col: int
    kind: str
    name: str
    value: str
    reason: str


class SecretScanner:
    """A ``content.Scanner``: reads scripts, text files and nvram-style binaries; ``result()`` gives
    ``Secrets``. ``known_defaults``: passwords of the public default lists (shown when found)."""

    def __init__(self, known_defaults: Iterable[str] = (), formats: TokenFormats | None = None) -> None:
        self.max_bytes = MAX_TEXT
        self._known = frozenset(p for p in known_defaults if p)
        self._formats = formats if formats is not None else token_formats()
        self._examples = frozenset(e for f in self._formats.formats for e in f.examples)
        self._found: list[Candidate] = []
        self._files = 0
        self._truncated: list[str] = []

    def wants(self, path: str, kind: FileKind, language: str | None, head: bytes) -> bool:
        if is_documentation(path) or path.lower().endswith(_SKIP_SUFFIXES) or path in _NOT_CREDENTIAL_FILES:
            return False
        return kind in (FileKind.SCRIPT, FileKind.TEXT) or (kind is FileKind.BINARY and nvram_like(head))

    def feed(self, blob: Blob) -> None:
        self._files += 1
        if blob.truncated:
            self._truncated.append(blob.path)
        binary = blob.kind is FileKind.BINARY
        text = blob.data.decode("latin-1").replace("\0", "\n") if binary else blob.text()
        language = blob.language if blob.kind is FileKind.SCRIPT else None
        if blob.kind is FileKind.TEXT and blob.path.lower().endswith(_MARKUP):
            language = "html"  # only string literals count, as in other program code
        starts = [0, *(m.end() for m in re.finditer("\n", text))]
        hits = list(self._tokens(text, starts))
        for number, line in enumerate(text.split("\n"), 1):
            if len(line) <= MAX_LINE and _TRIGGER.search(line) and not _COMMENT.match(line):
                hits.extend(self._line(line, number, language, blob.path))
        for hit in _dedupe(hits)[:MAX_PER_FILE]:
            self._found.append(Candidate(
                path=blob.path, line=None if binary else hit.line, kind=hit.kind, name=hit.name,
                redacted=redact(hit.value), reason=hit.reason,
                offset=starts[hit.line - 1] + hit.col if binary else None,
                known_default=hit.value if hit.value in self._known else None))

    def result(self) -> Secrets:
        return Secrets(tuple(self._found), self._files, tuple(self._truncated))

    def _credential(self, value: str, code: bool) -> bool:
        """Whether a literal given to a credential-like name is believed to be a real credential."""
        if "EXAMPLE" in value or value in self._examples:
            return False  # a vendor's documented example (AWS's AKIAIOSFODNN7EXAMPLE): it grants nothing
        return not not_a_credential(value, code=code, known=self._known)

    def _tokens(self, text: str, starts: list[int]) -> Iterator[_Hit]:
        for m in self._formats.scan(text):
            line = bisect.bisect_right(starts, m.start)
            fmt = m.format
            yield _Hit(line, m.start - starts[line - 1], f"token:{fmt.id}", fmt.name, m.value,
                       f"matches the format of a {fmt.name} (source: {fmt.source})")

    def _line(self, line: str, number: int, language: str | None, path: str) -> Iterator[_Hit]:
        code = language not in (None, "sh")
        if len(line) <= MAX_COMMAND:
            yield from self._cli(line, number)
        if "://" in line:
            yield from self._urls(line, number)
        if "btoa" in line or "asic" in line:
            yield from self._basic(line, number)
        pairs: list[tuple[int, str, str, str]] = []  # col, name, value, what
        if language == "sh":
            pairs += [(m.start(2), m[1], _unquote(m[2]), "shell assignment") for m in _SH_ASSIGN.finditer(line)
                      if not (m[2].startswith('"') and "$" in m[2])]
        elif language is None:
            if m := _UCI.match(line):
                pairs.append((m.start(2), m[1], _unquote(m[2]), "UCI option"))
            elif (m := _KV_LINE.match(line)) and not m[2].lstrip().startswith(("'", '"')):
                value = re.split(r"\s+[#;]", m[2].strip())[0].strip()
                if not value.endswith(";"):  # a statement of code ('pwd = obj.value;'), not a setting
                    pairs.append((m.start(2), m[1], value.rstrip(","), "key-value setting"))
            pairs += [(m.start(2), m[1], m[2].strip(), "XML element") for m in _XML.finditer(line)]
        pairs += [(m.start(3), m[1], m[3], "string assignment") for m in _QUOTED_PAIR.finditer(line)]
        pairs += [(m.start(3), m[1], m[3], "constant definition") for m in _DEFINE.finditer(line)]
        for col, name, value, what in pairs:
            wireless = path == "/etc/config/wireless" or name.startswith("wireless.")
            if credential_name(name, wireless=wireless) and self._credential(value, code):
                key = name.strip("[]'\" $")
                yield _Hit(number, col, "assignment", key, value,
                           f"{what}: {key!r} names a password, secret, token or key and is given a literal value")
        compares = [*_COMPARE.finditer(line), *(_COMPARE_SH.finditer(line) if language == "sh" else ())]
        for m in compares:
            if credential_name(m[1]) and self._credential(m[3], True):
                key = m[1].strip("'\"${}")
                yield _Hit(number, m.start(3), "comparison", key, m[3],
                           f"{key!r} is compared with a literal: the program accepts this fixed value")

    def _cli(self, line: str, number: int) -> Iterator[_Hit]:
        for what, word, rx in _CLI:
            if word not in line:
                continue
            for m in rx.finditer(line):
                value = _unquote(m["v"])
                user, sep, secret = value.partition(":")
                if what in ("curl -u", "chpasswd"):
                    if not sep or _slot_pair(user, secret):
                        continue  # no password given (curl prompts) or a 'user:password' slot
                else:
                    secret, user = value, ""
                if self._credential(secret, False):
                    whose = f" for user {user!r}" if user else ""
                    yield _Hit(number, m.start("v"), "cli-credential", what, secret,
                               f"the password is given on a command line ({what}){whose}")

    def _urls(self, line: str, number: int) -> Iterator[_Hit]:
        for m in _URL.finditer(line):
            user, secret = m[2], m[3]
            if _slot_pair(user, secret) or _VARIABLE.match(user):
                continue
            if self._credential(secret, False):
                yield _Hit(number, m.start(3), "url-credential", m[1].rstrip(":/").lower(), secret,
                           f"the {m[1]} URL embeds the password of user {user!r}")

    def _basic(self, line: str, number: int) -> Iterator[_Hit]:
        pairs = [(m.start(2), m[2], m[3], "btoa('user:password')") for m in _BTOA.finditer(line)]
        for m in _BASIC.finditer(line):
            try:
                user, sep, secret = base64.b64decode(m[1], validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                continue
            if sep and user.isprintable() and secret.isprintable():
                pairs.append((m.start(1), user, secret, "an Authorization: Basic header"))
        for col, user, secret, what in pairs:
            if not _slot_pair(user, secret) and self._credential(secret, False):
                yield _Hit(number, col, "basic-auth-header", user, secret,
                           f"{what} carries the password of user {user!r} in base64 (an encoding, not a secret)")


_PRIORITY = ("token:", "cli-credential", "url-credential", "basic-auth-header", "comparison", "assignment")


MAX_PER_LINE = 64  # candidates kept from one line


def _dedupe(hits: list[_Hit]) -> list[_Hit]:
    """One candidate per value and line: the most specific rule wins (a token format over the assignment
    that holds it)."""
    def rank(h: _Hit) -> int:
        return next(i for i, p in enumerate(_PRIORITY) if h.kind.startswith(p))

    kept: dict[int, list[_Hit]] = {}
    for hit in sorted(hits, key=lambda h: (h.line, rank(h), h.col)):
        same_line = kept.setdefault(hit.line, [])
        if len(same_line) >= MAX_PER_LINE:  # a minified line of thousands of pairs: quadratic otherwise
            continue
        if not any(hit.value in k.value or k.value in hit.value for k in same_line):
            same_line.append(hit)
    return sorted((h for line in kept.values() for h in line), key=lambda h: (h.line, h.col))


def nvram_like(head: bytes) -> bool:
    """NUL-separated ``key=value`` records (nvram defaults of Broadcom/Realtek SDKs): a binary file that
    holds configuration."""
    records = [r for r in head.split(b"\0") if r]
    kv = sum(1 for r in records if re.match(rb"^[A-Za-z_][\w.:-]{0,63}=[\x20-\x7e]*$", r))
    return kv >= 3 and kv * 2 >= len(records)

