"""The language analysers of the web handler taint tracker (sh with haserl, Lua with LuCI, PHP) and
``trace()``, which runs one over a script (see ``firmware.webinput`` for what is traced and its bounds).
"""

from __future__ import annotations

import re
from itertools import islice
from typing import Literal

from iotcop.firmware.webtaint import (
    MAX_LINE,
    MAX_MATCHES,
    Code,
    Step,
    Taint,
    Token,
    Traced,
    blanked,
    comparisons,
    mask,
    matches_in,
    sources,
    structure,
)

# ---------------------------------------------------------------- shell (sh, ash, bash; haserl)

_SH_REF = re.compile(r"\$\{?([A-Za-z_]\w*)")
_SH_SOURCES = frozenset({"QUERY_STRING", "REQUEST_URI", "PATH_INFO", "HTTP_COOKIE", "HTTP_USER_AGENT",
                         "HTTP_REFERER", "HTTP_HOST", "HTTP_AUTHORIZATION"})
_SH_PREFIXES = ("FORM_", "GET_", "POST_", "COOKIE_", "HTTP_X_")
_SH_TAGS = re.compile(r"<%=?|%>")
_SH_LEAD = re.compile(r"\s*(?:(?:if|then|else|elif|do|while|until|!|time)\s+|[({]\s*)*")
_SH_CASE = re.compile(r"case\s+\"?\$\{?([A-Za-z_]\w*)\}?\"?\s+in\b")
_SH_ASSIGN = re.compile(r"(?:(?:local|export|readonly|declare|typeset)(?:\s+-\w+)*\s+)?([A-Za-z_]\w*)(\+?=)")
_SH_FOR = re.compile(r"for\s+([A-Za-z_]\w*)\s+in\s")
_SH_READ = re.compile(r"read((?:\s+[^\s;|&<>]+)+)\s*$")
_SH_BODY = re.compile(r"\$\(\s*(?:cat\s*\)|(?:head|dd)\b[^)]*CONTENT_LENGTH)")
_SH_GREP, _SH_ANCHORED = re.compile(r"\bgrep\b"), re.compile(r"(['\"])\^[^'\"]*\$\1")
_SH_TR, _SH_EXPR = re.compile(r"\btr\s+-(?:cd|dc)\b"), re.compile(r"\bexpr\s+(?:match\s|\S+\s+:)")
_SH_SED, _SH_SED_CLASS = re.compile(r"\bsed\b"), re.compile(r"\bs/\[\^[^\]/]*\]//g")
_AT = r"(?:^|\$\(\s*|`\s*)"
_SH_EVAL = re.compile(_AT + r"eval\s")
_SH_SHELL = re.compile(r"(?:^|\$\(\s*|`\s*|\|\s*)(?:[\w./-]*/)?(?:busybox\s+)?(?:ba|a|da|k)?sh((?:\s+-\w+)+)\s")
_SH_PIPE = re.compile(r"\|\s*(?:[\w./-]*/)?(?:ba|a|da|k)?sh(?:\s+-s)?\s*(?:[;&)`]|$)")
_SH_SOURCE = re.compile(r"(?:source|\.)\s+(\S+)")
_SH_CMDWORD = re.compile(r"\"?\$\{?[A-Za-z_]\w*\}?\"?(?=\s|$)")
_SH_PRINTF = re.compile(_AT + r"printf\s+(?:--\s+)?(\"(?:[^\"\\]|\\.)*\"|[^\s;|&]+)")


class _Shell:
    def __init__(self, taint: Taint, text: str) -> None:
        self.t = taint
        self.reads_body = "CONTENT_LENGTH" in text or "REQUEST_METHOD" in text  # stdin is the request body

    def tokens(self, text: str, span: tuple[int, int]) -> list[Token]:
        return [(m.start(), name, name in _SH_SOURCES or name.startswith(_SH_PREFIXES), "$" + name)
                for m in islice(_SH_REF.finditer(text, *span), MAX_MATCHES) for name in [m.group(1)]]

    def statement(self, n: int, code: Code) -> None:
        body, end = code.masked, len(code.masked)
        if case := _SH_CASE.match(body):  # a case on a variable: its patterns are the allowlist
            self.t.guard([case.group(1)])
            return
        assign = _SH_ASSIGN.match(body)
        if assign is None and _guards(code.raw):  # echo "$x" | grep -qE '^[0-9.]+$' || exit
            self.t.guard([name for _, name, _, _ in self.tokens(body, (0, end))])
            return
        clean = blanked(body, [span for m in islice(_SUBST.finditer(body), MAX_MATCHES)
                                if (span := (m.start(), code.end(m.end() - 1)))
                                and (body.startswith("$((", m.start()) or _cleans(code.raw[span[0]:span[1]]))])
        if assign is not None:
            chain = self.t.chain(self.tokens(clean, (assign.end(), end)), n)
            if chain is None and self.reads_body and _SH_BODY.search(clean, assign.end()):
                chain = (Step(n, "source", "request body", self.t.text(n)),)
            self.t.assign([assign.group(1)], chain, n, append=assign.group(2) == "+=")
        elif loop := _SH_FOR.match(body):
            self.t.assign([loop.group(1)], self.t.chain(self.tokens(clean, (loop.end(), end)), n), n)
        elif (read := _SH_READ.match(body)) and self.reads_body:
            self.t.assign(_read_names(read.group(1)), (Step(n, "source", "request body (read)", self.t.text(n)),), n)
        for name, kind, span in _sh_sinks(body):
            self.t.sink(self.t.chain(self.tokens(clean, span), n), kind, name, n)


_SUBST = re.compile(r"\$\(|`")


def _guards(raw: str) -> bool:
    return bool((_SH_GREP.search(raw) and _SH_ANCHORED.search(raw)) or ("[[" in raw and "=~" in raw)
                or _SH_EXPR.search(raw))


def _cleans(raw: str) -> bool:
    """Whether a command substitution's output cannot carry shell syntax (tr -cd, expr, an anchored grep, sed
    deleting a negated class)."""
    return bool(_SH_TR.search(raw) or _SH_EXPR.search(raw) or (_SH_GREP.search(raw) and _SH_ANCHORED.search(raw))
                or (_SH_SED.search(raw) and _SH_SED_CLASS.search(raw)))


def _sh_sinks(body: str) -> list[tuple[str, Literal["command", "format"], tuple[int, int]]]:
    found: list[tuple[str, Literal["command", "format"], tuple[int, int]]] = []
    if match := _SH_EVAL.search(body):
        found.append(("eval", "command", (match.end(), len(body))))
    if (match := _SH_SHELL.search(body)) and "c" in match.group(1).replace("--", ""):
        found.append(("sh -c", "command", (match.end(), len(body))))
    if match := _SH_PIPE.search(body):
        found.append(("piped into sh", "command", (0, match.start())))
    if match := _SH_SOURCE.match(body):
        found.append(("source", "command", match.span(1)))
    if match := _SH_CMDWORD.match(body):
        found.append(("command name", "command", match.span()))
    if match := _SH_PRINTF.search(body):
        found.append(("printf format", "format", match.span(1)))
    return found


def _read_names(words: str) -> list[str]:
    names, skip = [], False
    for word in words.split():
        if skip or word.startswith("-"):
            skip = not skip and word.startswith("-") and word[-1] in "nNptdua"  # options with a value
            continue
        if re.fullmatch(r"[A-Za-z_]\w*", word):
            names.append(word)
    return names


# ---------------------------------------------------------------- Lua (LuCI)

_LUA_KEYWORDS = frozenset(("and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if",
                           "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while"))
_LUA_REF = re.compile(r"(?<![\w.:])([A-Za-z_]\w*)")
_LUA_SOURCES = (re.compile(r"[.:]\s*(formvalue|formvaluetable)\s*\(\s*(?:[\"']([\w.\-]{0,64})[\"'])?"),
                re.compile(r"\b(http[.:](?:content|getcookie))\s*\(\s*(?:[\"']([\w.\-]{0,64})[\"'])?"),
                re.compile(r"\b(getenv)\s*\(\s*[\"'](QUERY_STRING|REQUEST_URI|PATH_INFO|HTTP_\w+)[\"']"))
_LUA_CLEAN = re.compile(r"(?<![\w.:])((?:luci\.)?(?:util\.)?shellquote|tonumber|(?:luci\.)?ip\.(?:new|IPv4|IPv6|"
                        r"checkip4|checkip6)|(?:luci\.cbi\.)?datatypes\.\w+|dt\.\w+)\s*\(")
_LUA_GUARDS = (re.compile(r"(?<![\w.])([A-Za-z_]\w*)\s*:\s*match\s*\(\s*([\"'])\^[^\"']*\$\2"),
               re.compile(r"\bstring\.match\s*\(\s*([A-Za-z_]\w*)\s*,\s*([\"'])\^[^\"']*\$\2"),
               re.compile(r"(?<![\w:])(?:(?:luci\.cbi\.)?datatypes|dt|(?:luci\.)?ip)\.\w+\s*\(\s*([A-Za-z_]\w*)\s*[,)]"),
               re.compile(r"(?<![\w.:])tonumber\s*\(\s*([A-Za-z_]\w*)\s*\)"))
_LUA_ASSIGN = re.compile(r"\s*(?:local\s+)?([A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*)\s*=(?!=)")
_LUA_FUNC = re.compile(r"\bfunction\s+([\w.:]+)\s*\(([^)]{0,400})\)")
_LUA_ACTIONS = re.compile(r"\b(?:call|post)\s*\(\s*[\"'](\w+)[\"']")
_LUA_SINK = re.compile(r"(?<![\w.:])(os\.execute|io\.popen|(?:luci\.)?sys\.(?:call|exec)|(?:luci\.)?util\.exec|"
                       r"nixio\.execp?)\s*\(")
_LUA_FORMAT = re.compile(r"(?<![\w.:])string\.format\s*\(|(?<![\w.:])([A-Za-z_]\w*)\s*:\s*format\s*\(")


def _lua_shown(m: re.Match[str]) -> str:
    return f'{m.group(1)}("{m.group(2)}")' if m.group(2) is not None else f"{m.group(1)}()"


class _Lua:
    def __init__(self, taint: Taint, text: str) -> None:
        self.t = taint
        self.actions = frozenset(_LUA_ACTIONS.findall(text))  # functions LuCI's dispatcher calls with URL parts

    def tokens(self, text: str, span: tuple[int, int], found: list[re.Match[str]]) -> list[Token]:
        refs: list[Token] = [(m.start(), m.group(1), False, m.group(1))
                             for m in islice(_LUA_REF.finditer(text, *span), MAX_MATCHES)
                             if m.group(1) not in _LUA_KEYWORDS]
        return refs + sources(found, text, span, _lua_shown)

    def statement(self, n: int, code: Code) -> None:
        masked, clean, found = code.masked, comparisons(code.strip(_LUA_CLEAN, {})), matches_in(_LUA_SOURCES, code)
        assign = _LUA_ASSIGN.match(masked)
        if function := _LUA_FUNC.search(masked):
            self.parameters(n, function)
        elif assign is None:
            self.t.guard([m.group(1) for m in matches_in(_LUA_GUARDS, code)])
        else:
            names = [name.split(".")[0].strip() for name in assign.group(1).split(",")]
            self.t.assign(names, self.t.chain(self.tokens(clean, (assign.end(), len(clean)), found), n), n)
        for match in islice(_LUA_SINK.finditer(masked), MAX_MATCHES):
            span = code.args(match.end() - 1, 1)[0]
            self.t.sink(self.t.chain(self.tokens(clean, span, found), n), "command", match.group(1), n)
        for match in islice(_LUA_FORMAT.finditer(masked), MAX_MATCHES):
            span, name = ((match.span(1), f"{match.group(1)}:format") if match.group(1)  # fmt:format(...)
                          else (code.args(match.end() - 1, 1)[0], "string.format"))
            self.t.sink(self.t.chain(self.tokens(clean, span, found), n), "format", name, n)

    def parameters(self, n: int, function: re.Match[str]) -> None:
        name = function.group(1)
        params = [p.strip() for p in function.group(2).split(",") if p.strip() not in ("", "...")]
        short = re.split(r"[.:]", name)[-1]
        if short in self.actions:
            self.t.assign(params, (Step(n, "source", f'URL path of call("{short}")', self.t.text(n)),), n)
        elif short == "write" and len(params) > (index := 1 if ":" in name else 2):
            self.t.assign([params[index]], (Step(n, "source", "CBI form value", self.t.text(n)),), n)
        else:
            self.t.assign(params, None, n)


# ---------------------------------------------------------------- PHP

_PHP_REF = re.compile(r"\$\{?([A-Za-z_]\w*)")
_PHP_GLOBALS = frozenset({"_GET", "_POST", "_REQUEST", "_COOKIE", "_FILES", "_SERVER", "_ENV", "_SESSION", "GLOBALS",
                          "this", "HTTP_GET_VARS", "HTTP_POST_VARS", "HTTP_COOKIE_VARS"})
_PHP_SOURCES = (
    re.compile(r"\$(_GET|_POST|_REQUEST|_COOKIE|_FILES|HTTP_GET_VARS|HTTP_POST_VARS|HTTP_COOKIE_VARS)\b"
               r"(?:\s*\[\s*['\"]?([\w.\-]{0,64})['\"]?\s*\])?"),
    re.compile(r"\$(_SERVER)\s*\[\s*['\"](QUERY_STRING|REQUEST_URI|PATH_INFO|PHP_SELF|HTTP_\w+)['\"]\s*\]"),
    re.compile(r"\b(getenv)\s*\(\s*['\"](QUERY_STRING|REQUEST_URI|PATH_INFO|HTTP_\w+)['\"]\s*\)"),
    re.compile(r"\bfile_get_contents\s*\(\s*['\"](php://input)['\"]\s*\)()"))
_PHP_CALL = r"(?<![\w>$:\\])"
_PHP_CLEAN = re.compile(_PHP_CALL + r"(escapeshellarg|escapeshellcmd|intval|floatval|boolval|abs|count|strlen|"
                        r"is_numeric|ctype_\w+|isset|empty|md5|sha1|crc32|ip2long|long2ip|preg_match|in_array|"
                        r"filter_var|preg_replace|is_int|sizeof)\s*\(")
_PHP_ONLY = {"filter_var": re.compile(r"FILTER_VALIDATE_|FILTER_SANITIZE_NUMBER_"),
             "preg_replace": re.compile(r"^preg_replace\s*\(\s*(['\"])(.)\[\^[^\]]*\]\2\w*\1\s*,\s*(''|\"\")")}
_PHP_CAST = re.compile(r"\(\s*(?:int|integer|float|double|bool|boolean)\s*\)\s*(?:\$\w+(?:\s*\[[^\]]{0,200}\])*"
                       r"|\w+\s*\()")
_PHP_GUARD = re.compile(_PHP_CALL + r"(preg_match|filter_var|is_numeric|ctype_\w+|in_array|ip2long|is_int|"
                        r"inet_pton)\s*\(")
_PHP_ASSIGN = re.compile(r"(?:^|[{}:]|\belse\b|\)\s|<\?(?:php)?\s)\s*\$([A-Za-z_]\w*)(?:\s*\[[^\]]{0,200}\])*\s*"
                         r"(\.=|=)(?![=>])")
_PHP_FOREACH = re.compile(r"\bforeach\s*\((.{0,400}?)\bas\s+(?:&?\$([A-Za-z_]\w*)\s*=>\s*)?&?\$([A-Za-z_]\w*)")
_PHP_SINK = re.compile(_PHP_CALL + r"(system|exec|shell_exec|passthru|popen|proc_open|pcntl_exec|eval)\s*\(")
_PHP_FORMAT = re.compile(_PHP_CALL + r"(printf|sprintf|vprintf|vsprintf|fprintf|vfprintf)\s*\(")
_PHP_BACKTICK = re.compile(r"`[^`]*`")


def _php_shown(m: re.Match[str]) -> str:
    head, key = m.group(1), m.group(2)
    if head == "getenv":
        return f"getenv('{key}')"
    return head if head.startswith("php:") else f"${head}['{key}']" if key else f"${head}"


class _Php:
    def __init__(self, taint: Taint, text: str) -> None:
        self.t = taint

    def tokens(self, text: str, span: tuple[int, int], found: list[re.Match[str]]) -> list[Token]:
        refs: list[Token] = [(m.start(), m.group(1), False, "$" + m.group(1))
                             for m in islice(_PHP_REF.finditer(text, *span), MAX_MATCHES)
                             if m.group(1) not in _PHP_GLOBALS]
        return refs + sources(found, text, span, _php_shown)

    def statement(self, n: int, code: Code) -> None:
        masked, found = code.masked, matches_in(_PHP_SOURCES, code)
        clean = comparisons(code.strip(_PHP_CLEAN, _PHP_ONLY))
        clean = blanked(clean, [(m.start(), code.end(m.end() - 1) if m.group().endswith("(") else m.end())
                                 for m in islice(_PHP_CAST.finditer(clean), MAX_MATCHES)])
        if loop := _PHP_FOREACH.search(masked):
            chain = self.t.chain(self.tokens(clean, loop.span(1), found), n)
            self.t.assign([name for name in loop.group(2, 3) if name], chain, n)
        if assign := _PHP_ASSIGN.search(masked):
            chain = self.t.chain(self.tokens(clean, (assign.end(), len(clean)), found), n)
            self.t.assign([assign.group(1)], chain, n, append=assign.group(2) == ".=")
        else:
            for guard in islice(_PHP_GUARD.finditer(masked), MAX_MATCHES):
                spans, index = code.args(guard.end() - 1), 1 if guard.group(1) == "preg_match" else 0
                condition = _PHP_ONLY.get(guard.group(1))
                if len(spans) > index and (condition is None or condition.search(code.raw, guard.start())):
                    self.t.guard([key for _, key, _, _ in self.tokens(masked, spans[index], found)])
        for match in islice(_PHP_SINK.finditer(masked), MAX_MATCHES):
            if not masked[:match.start()].rstrip().endswith("function"):
                name = "eval (PHP code)" if match.group(1) == "eval" else match.group(1)
                span = code.args(match.end() - 1, 1)[0]
                self.t.sink(self.t.chain(self.tokens(clean, span, found), n), "command", name, n)
        for match in islice(_PHP_BACKTICK.finditer(masked), MAX_MATCHES):
            self.t.sink(self.t.chain(self.tokens(clean, match.span(), found), n), "command", "backticks", n)
        for match in islice(_PHP_FORMAT.finditer(masked), MAX_MATCHES):
            spans, index = code.args(match.end() - 1, 2), 1 if match.group(1) in ("fprintf", "vfprintf") else 0
            if len(spans) > index:
                self.t.sink(self.t.chain(self.tokens(clean, spans[index], found), n), "format", match.group(1), n)


def trace(path: str, language: str, lines: list[str]) -> Traced:
    """The flows of one script (``language`` sh, lua or php); never raises on any text."""
    tracker = Taint(path, lines)
    text = "\n".join(lines)
    analyse = _Shell(tracker, text) if language == "sh" else _Lua(tracker, text) if language == "lua" \
        else _Php(tracker, text)
    state = ""
    for number, full in enumerate(lines, 1):
        raw = full[:MAX_LINE]
        masked, state = mask(raw, language, state)
        if language == "sh":  # haserl's code brackets are no shell syntax
            raw, masked = (_SH_TAGS.sub(lambda m: " " * len(m.group()), t) for t in (raw, masked))
        for start, end in structure(masked, language)[1]:
            if language == "sh" and (lead := _SH_LEAD.match(masked, start, end)):
                start = lead.end()
            if masked[start:end].strip():
                analyse.statement(number, Code(raw[start:end], masked[start:end], language))
    return Traced(tuple(tracker.flows), "; ".join(tracker.limits))
