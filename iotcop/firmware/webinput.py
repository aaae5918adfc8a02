"""Web handlers of a root file system and the request input that reaches a shell in them (guideline 13).

A file is a web handler when it is a script (sh, Lua, PHP; Python, Perl and ucode are recognised but not
traced) or an ELF program placed where a web server runs it (a ``cgi-bin`` directory, a web root such as
``/www`` or ``/htdocs``, ``*.cgi``, a LuCI controller or CBI model), a PHP page, a haserl script, or any
script that reads request input (``$QUERY_STRING``, ``$FORM_x``, ``luci.http.formvalue``, ``$_GET``, ...).

Each script handler is read once (through ``scan_content``) and traced by a small intra-file taint tracker,
one forward pass over its lines: a *source* (request input) taints the variable it is assigned to; an
assignment whose right side mentions a tainted variable taints its left side (concatenation, interpolation,
command substitution and function calls all propagate); a *sanitiser* around an expression
(``$((..))``, ``tr -cd``, ``tonumber``, ``shellquote``, ``escapeshellarg``, ``intval``, ``(int)``,
``filter_var`` with a validate filter) or a *guard* on a variable (``case``, an anchored ``grep``,
``x:match("^..$")``, ``datatypes.*``, ``preg_match``, ``in_array``) clears it; a tainted *sink* argument
(``eval``, ``sh -c``, ``| sh``, ``source``, a tainted command name; ``os.execute``, ``io.popen``,
``luci.sys.call/exec``; ``system``, ``exec``, ``shell_exec``, ``passthru``, ``popen``, backticks; and the
format argument of ``printf``, ``string.format``, ``sprintf``) records a ``Flow``: the source, every
assignment on the way and the sink, each with its line. That list is the evidence a reviewer follows.

What the tracker does not do, by design: follow taint between files or into functions through their
arguments (except the parameters LuCI's dispatcher fills from the URL, ``call("x")`` → ``function x(..)``,
and a CBI ``.write(self, section, value)``); tell one branch from another (a guard anywhere before a sink
counts); see variables a helper such as ``extract($_GET)`` creates. A tainted value passed as an *argument*
to a command (``ping -c 1 $ip``) is not injection in a shell and is not reported. Work is bounded: at most
``MAX_SCRIPT`` bytes and ``MAX_LINES`` lines of a file, ``MAX_LINE`` characters of a line, ``MAX_CHAIN``
steps per flow, ``MAX_TAINTED`` variables and ``MAX_FLOWS`` flows per file; a handler cut by a bound says so.
ELF handlers are only named here; their imports and strings come from ``ElfFiles`` (the check joins them).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Literal

from iotcop.firmware.content import Blob, FileKind, is_documentation
from iotcop.firmware.webtaint import MAX_LINE, Flow, Step
from iotcop.firmware.webtaint_lang import trace

__all__ = ["MAX_LINES", "MAX_SCRIPT", "Flow", "Handler", "Step", "WebHandlerScanner", "WebHandlers", "place_of",
           "trace"]

MAX_SCRIPT = 1 << 20  # a handler script larger than this is generated code; its head is traced
MAX_LINES = 20_000

# Web servers into which vendors compile their own page handlers (GoAhead's websFormDefine, Boa and vendor
# 'httpd' builds): the program is the handler. General-purpose servers that only pass requests to external
# CGI programs (lighttpd, nginx, uhttpd, mini_httpd, thttpd, Apache) are not: their getenv strings and
# command strings set up CGI environments, and judging them would flag every upstream build.
WEB_SERVERS = frozenset({"httpd", "boa", "goahead", "webs", "appweb", "shttpd", "mongoose", "civetweb", "alphapd",
                         "jjhttpd", "hydra"})
_WEB_ROOTS = re.compile(r"/(www|htdocs|webroot|web|webs|web_root|html|httpd)(/|$)")
_CGI_BIN = re.compile(r"/cgi-bin(/|$)")
_LUCI = re.compile(r"^/usr/lib/lua/luci/(controller|model)/")
_TRACED = frozenset({"sh", "lua", "php"})
_RECOGNISED = _TRACED | {"python", "perl", "ucode"}
_HASERL = re.compile(r"^#![ \t]*\S*haserl\b([^\n]*)")
_MARKS = {
    "sh": re.compile(r"\$\{?((QUERY_STRING|REQUEST_METHOD|CONTENT_LENGTH|REQUEST_URI|PATH_INFO)\b|HTTP_(COOKIE|"
                     r"USER_AGENT|REFERER|HOST|AUTHORIZATION|X_\w+)\b|(FORM|GET|POST)_\w)"),
    "lua": re.compile(r"[.:]\s*formvalue(table)?\s*\(|\bhttp\s*[.:]\s*content\s*\(|QUERY_STRING"),
    "php": re.compile(r"\$_(GET|POST|REQUEST|COOKIE|FILES)\b|\$HTTP_(GET|POST)_VARS|php://input"),
    "ucode": re.compile(r"\.\s*formvalue\s*\(|QUERY_STRING"),
}
_CGI_ENV = re.compile(r"\b(QUERY_STRING|REQUEST_METHOD)\b")


@dataclass(frozen=True, slots=True)
class Handler:
    """One web handler: ``why`` it is one, and ``limit``, non-empty when it was not traced completely
    (a language the tracker does not read, or a bound reached). ELF handlers are judged from ``ElfFiles``."""

    path: str
    language: str  # sh, lua, php, python, perl, ucode, elf
    why: str
    limit: str = ""


@dataclass(frozen=True)
class WebHandlers:
    """Facts: the web handlers of the image, the flows found in them, and web server programs by name."""

    handlers: tuple[Handler, ...] = ()
    flows: tuple[Flow, ...] = ()
    servers: tuple[str, ...] = ()

    def scripts(self) -> tuple[Handler, ...]:
        return tuple(h for h in self.handlers if h.language != "elf")

    def elf(self) -> tuple[Handler, ...]:
        return tuple(h for h in self.handlers if h.language == "elf")

    def of_kind(self, kind: Literal["command", "format"]) -> tuple[Flow, ...]:
        return tuple(f for f in self.flows if f.kind == kind)


def place_of(path: str) -> str | None:
    """Why a path is where a web server runs handlers from, or None."""
    directory = posixpath.dirname(path)
    if _CGI_BIN.search(directory):
        return "in a cgi-bin directory"
    if path.endswith(".cgi"):
        return "named *.cgi"
    if match := _LUCI.match(path):
        return f"a LuCI {match.group(1)}"
    if match := _WEB_ROOTS.search(directory + "/"):
        return f"under a web root ({directory[: match.end() - 1] or '/'})"
    return None


def _language(blob: Blob, text: str) -> str | None:
    if (shebang := _HASERL.match(text)) and "--shell=lua" in shebang.group(1):
        return "lua"
    return blob.language


def _why(path: str, language: str, text: str) -> str | None:
    if _HASERL.match(text):
        return "a haserl CGI script"
    where = place_of(path)
    if where is not None and (language in _TRACED or where in ("in a cgi-bin directory", "named *.cgi")):
        return where  # a Python library in a directory named 'web' is no handler: those need a request read
    if language == "php":
        return "a PHP page"
    mark = _MARKS.get(language) or _CGI_ENV
    if match := mark.search(text):
        return f"reads request input ({match.group(0).strip()})"
    return None


@dataclass
class WebHandlerScanner:
    """A ``Scanner`` for ``scan_content``: wants scripts and ELF files in web places; ``result()`` gives
    the ``WebHandlers`` facts."""

    max_bytes: int = MAX_SCRIPT
    handlers: list[Handler] = field(default_factory=list)
    flows: list[Flow] = field(default_factory=list)
    servers: list[str] = field(default_factory=list)

    def wants(self, path: str, kind: FileKind, language: str | None, head: bytes) -> bool:
        if is_documentation(path):
            return False
        if kind is FileKind.ELF:
            return place_of(path) is not None or posixpath.basename(path) in WEB_SERVERS
        return kind is FileKind.SCRIPT and language in _RECOGNISED

    def feed(self, blob: Blob) -> None:
        if blob.kind is FileKind.ELF:
            if posixpath.basename(blob.path) in WEB_SERVERS:
                self.servers.append(blob.path)
            if (where := place_of(blob.path)) is not None:
                self.handlers.append(Handler(blob.path, "elf", where))
            return
        text = blob.text()
        language = _language(blob, text)
        if language is None or (why := _why(blob.path, language, text)) is None:
            return
        if language not in _TRACED:
            self.handlers.append(Handler(blob.path, language, why, f"{language} scripts are not traced"))
            return
        lines = text.split("\n", MAX_LINES)  # line numbers as editors and grep -n count them
        limits = [f"cut at {len(blob.data)} bytes"] if blob.truncated else []
        if len(lines) > MAX_LINES and lines[MAX_LINES]:
            limits.append(f"traced to line {MAX_LINES}")
        lines = lines[:MAX_LINES]
        if any(len(line) > MAX_LINE for line in lines):
            limits.append(f"lines longer than {MAX_LINE} characters were cut")
        result = trace(blob.path, language, lines)
        limits += [result.limit] if result.limit else []
        self.handlers.append(Handler(blob.path, language, why, "; ".join(limits)))
        self.flows.extend(result.flows)

    def result(self) -> WebHandlers:
        return WebHandlers(
            handlers=tuple(sorted(self.handlers, key=lambda h: h.path)),
            flows=tuple(sorted(self.flows, key=lambda f: (f.path, f.line, f.kind, f.sink, f.source))),
            servers=tuple(sorted(self.servers)),
        )
