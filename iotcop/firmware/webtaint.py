"""The intra-file taint tracker of web handler scripts: its flows (``Step``, ``Flow``), the state of one
file (``Taint``) and the lexing helpers the language analysers share (masking strings and comments,
statement structure, comparisons). ``firmware.webinput`` describes what is traced and its bounds; the
languages (sh, Lua, PHP) and ``trace()`` are in ``firmware.webtaint_lang``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from typing import Literal


@dataclass(frozen=True, slots=True)
class Step:
    """One line of a flow: ``role`` is source, assign or sink; ``what`` the input, variable or sink name."""

    line: int
    role: Literal["source", "assign", "sink"]
    what: str
    text: str


@dataclass(frozen=True, slots=True)
class Flow:
    """Request input reaching a sink: ``kind`` command (a shell runs it) or format (it is a format string)."""

    path: str
    kind: Literal["command", "format"]
    sink: str
    source: str
    steps: tuple[Step, ...]

    @property
    def line(self) -> int:
        return self.steps[-1].line

    def excerpt(self) -> str:
        return "\n".join(f"{s.line:>5} {s.role:<6} {s.what}: {s.text}" for s in self.steps)



# ---------------------------------------------------------------- the taint tracker

MAX_LINE = 4096
MAX_CHAIN = 12
MAX_TAINTED = 2000
MAX_FLOWS = 100
MAX_MATCHES = 64  # of one pattern in one statement
_EXCERPT = 160


@dataclass(frozen=True)
class Traced:
    flows: tuple[Flow, ...]
    limit: str = ""


Chain = tuple[Step, ...]
Token = tuple[int, str, bool, str]  # position, key, is a request source, how it is shown


class Taint:
    """The state of one file: tainted variables with the steps that tainted them, and cleared names."""

    def __init__(self, path: str, lines: list[str]) -> None:
        self.path, self.lines = path, lines
        self.vars: dict[str, Chain] = {}
        self.clean: set[str] = set()
        self.flows: list[Flow] = []
        self.limits: dict[str, None] = {}  # the bounds reached, in order
        self._text = (0, "")

    def text(self, line: int) -> str:
        if self._text[0] != line:  # many steps may quote one line: cut it once
            self._text = (line, " ".join(self.lines[line - 1][:MAX_LINE].split())[:_EXCERPT])
        return self._text[1]

    def chain(self, tokens: list[Token], line: int) -> Chain | None:
        for _, key, source, shown in sorted(tokens):
            if key in self.vars:
                return self.vars[key]
            if source and key not in self.clean:
                return (Step(line, "source", shown, self.text(line)),)
        return None

    def assign(self, names: list[str], chain: Chain | None, line: int, append: bool = False) -> None:
        for name in names:
            if chain is None:
                if not append:
                    self.vars.pop(name, None)
                    self.clean.add(name)
            elif name in self.vars or len(self.vars) < MAX_TAINTED:
                self.vars[name] = _extend(chain, Step(line, "assign", name, self.text(line)))
                self.clean.discard(name)
            else:
                self.limits[f"more than {MAX_TAINTED} tainted variables"] = None

    def guard(self, keys: list[str]) -> None:
        for key in keys:
            self.vars.pop(key, None)
            self.clean.add(key)

    def sink(self, chain: Chain | None, kind: Literal["command", "format"], name: str, line: int) -> None:
        if chain is None:
            return
        if len(self.flows) >= MAX_FLOWS:
            self.limits[f"more than {MAX_FLOWS} flows"] = None
            return
        if any(f.line == line and f.sink == name for f in self.flows):
            return
        steps = _extend(chain, Step(line, "sink", name, self.text(line)))
        self.flows.append(Flow(self.path, kind, name, chain[0].what, steps))


def _extend(chain: Chain, step: Step) -> Chain:
    return (*chain, step) if len(chain) < MAX_CHAIN else (chain[0], *chain[-(MAX_CHAIN - 2):], step)


# ---------------------------------------------------------------- lexing (every helper keeps positions)

_LUA_LONG = re.compile(r"\[=*\[")


def mask(line: str, lang: str, state: str) -> tuple[str, str]:
    """``line`` with comments and uninterpreted string contents blanked, same length, so that matches on it
    index the raw line. ``state`` carries an open construct to the next line: a quote, or '*' (a block
    comment or Lua long string). The scan jumps from one character that can matter to the next."""
    out, i, n = list(line), 0, len(line)
    special = _MASK_SPECIAL[lang]
    while i < n:
        if state == "*":
            end = line.find("*/" if lang == "php" else "]]", i)
            stop = n if end < 0 else end + 2
            out[i:stop] = " " * (stop - i)
            i, state = stop, ("*" if end < 0 else "")
            continue
        if state:  # inside a string: only an escape or the closing quote matters
            blank = state == "'" or lang == "lua"
            escapes = not (lang == "sh" and state == "'")
            m = (_STRING_STOP[state] if escapes else _QUOTE_STOP[state]).search(line, i)
            stop = m.start() if m else n
            if blank:
                out[i:stop] = " " * (stop - i)
            if m is None:
                break
            i = stop
            if line[i] == "\\":
                if blank or line.startswith("$", i + 1):  # an escaped '$' expands nothing
                    out[i:i + 2] = " " * len(out[i:i + 2])
                i += 2
                continue
            state = ""
            i += 1
            continue
        m = special.search(line, i)
        if m is None:
            break
        i = m.start()
        c = line[i]
        if c in "'\"":
            state = c
        elif c == "\\":
            if line.startswith("$", i + 1):
                out[i:i + 2] = "  "
            i += 1
        elif _comment(line, i, lang):
            if line.startswith("/*", i) or (lang == "lua" and _LUA_LONG.match(line, i + 2)):
                out[i:i + 2], state = "  ", "*"
                i += 2
                continue
            out[i:] = " " * (n - i)
            break
        elif lang == "lua" and _LUA_LONG.match(line, i):
            state = "*"
        i += 1
    return "".join(out), ("" if state in "'\"" and lang == "lua" else state)


# Characters where ``mask`` can change state: quotes, escapes and what starts a comment or a long string.
_MASK_SPECIAL = {"sh": re.compile(r"['\"\\#]"), "lua": re.compile(r"['\"\\\-\[]"),
                 "php": re.compile(r"['\"\\#/]")}
_STRING_STOP = {q: re.compile(r"[\\" + q + "]") for q in "'\""}
_QUOTE_STOP = {q: re.compile(q) for q in "'\""}


def _comment(line: str, i: int, lang: str) -> bool:
    if lang == "sh":
        return line[i] == "#" and (i == 0 or line[i - 1] in " \t;|&(")
    if lang == "lua":
        return line.startswith("--", i)
    return line[i] == "#" or line.startswith("//", i) or line.startswith("/*", i)


_CLOSERS = {")": "(", "]": "[", "}": "{"}


def structure(text: str, lang: str) -> tuple[dict[int, int], list[tuple[int, int]]]:
    """One pass over masked text: where each bracket or string opened at i closes, and the spans of the
    statements (split at ';', and at '&&' and '||' in sh, outside brackets and strings). The scan jumps
    from one bracket, quote, separator or escape to the next."""
    close: dict[int, int] = {}
    stack: list[int] = []
    spans, start, i, n = [], 0, 0, len(text)
    quotes = '"' if lang == "lua" else '"`'
    special = _STRUCTURE_SPECIAL[lang]
    while i < n:
        m = special.search(text, i)
        if m is None:
            break
        i = m.start()
        c, top = text[i], text[stack[-1]] if stack else ""
        if c == "\\":
            i += 2
            continue
        if top and top in quotes:  # in a string: only its end, or a command substitution in sh, counts
            if c == top:
                close[stack.pop()] = i
            elif lang == "sh" and (c == "`" or (c == "(" and text[i - 1] == "$")):
                stack.append(i)
        elif c in "([{" or c in quotes:
            stack.append(i)
        elif c in _CLOSERS:
            if top == _CLOSERS[c]:
                close[stack.pop()] = i
        elif not stack and (c == ";" or (lang == "sh" and text.startswith(("&&", "||"), i))):
            spans.append((start, i))
            start = i + (1 if c == ";" else 2)
            i = start
            continue
        i += 1
    close.update((j, n) for j in stack)
    return close, [*spans, (start, n)]


_STRUCTURE_SPECIAL = {"sh": re.compile(r"[\\()\[\]{}\"`;&|]"), "lua": re.compile(r"[\\()\[\]{}\";]"),
                      "php": re.compile(r"[\\()\[\]{}\"`;]")}


class Code:
    """One statement: raw text, masked text (same length) and where its brackets close."""

    def __init__(self, raw: str, masked: str, lang: str) -> None:
        self.raw, self.masked = raw, masked
        self.close = structure(masked, lang)[0]

    def end(self, opening: int) -> int:
        """The index after the bracket or quote that closes the one at ``opening``."""
        return min(self.close.get(opening, len(self.masked)) + 1, len(self.masked))

    def args(self, opening: int, limit: int = 3) -> list[tuple[int, int]]:
        """Spans of the first ``limit`` top-level arguments of the call whose '(' is at ``opening``."""
        end = self.close.get(opening, len(self.masked))
        spans, start, j = [], opening + 1, opening + 1
        while j < end:
            if j in self.close:  # a nested bracket or string: jump over it
                j = self.close[j] + 1
                continue
            if self.masked[j] == ",":
                spans.append((start, j))
                start = j + 1
                if len(spans) >= limit:
                    return spans
            j += 1
        return [*spans, (start, end)]

    def strip(self, calls: re.Pattern[str], only: dict[str, re.Pattern[str]]) -> str:
        """The masked text with the sanitiser calls ``calls`` matches blanked (name to closing ')'); a call
        named in ``only`` counts when its raw text matches (filter_var needs a validating filter)."""
        spans = []
        for match in islice(calls.finditer(self.masked), MAX_MATCHES):
            end = self.end(match.end() - 1)
            condition = only.get(match.group(1))
            if condition is None or condition.search(self.raw[match.start():end]):
                spans.append((match.start(), end))
        return blanked(self.masked, spans)


def blanked(text: str, spans: list[tuple[int, int]]) -> str:
    out, covered = list(text), 0
    for start, end in sorted(spans):
        if end > covered:
            out[max(start, covered):end] = " " * (end - max(start, covered))
            covered = end
    return "".join(out)


_OPERAND = r"(?:[\w.:$]+(?:\s*\[[^\[\]]{0,80}\])?(?:\s*\([^()]{0,80}\))?|\"[^\"]{0,200}\"|'[^']{0,200}')"
_COMPARISON = re.compile(r"(?<![\w.:$])" + _OPERAND + r"\s*(?:===?|!==?|~=|<=|>=)\s*" + _OPERAND)


def comparisons(text: str) -> str:
    """``text`` with comparisons blanked: ``formvalue("keep") == "1"`` is a boolean, not the request's text."""
    return blanked(text, [m.span() for m in islice(_COMPARISON.finditer(text), MAX_MATCHES)])


def matches_in(patterns: tuple[re.Pattern[str], ...], code: Code) -> list[re.Match[str]]:
    """Matches on the raw text that start in code (not in a comment or an uninterpreted string)."""
    return [m for p in patterns for m in islice(p.finditer(code.raw), MAX_MATCHES) if code.masked[m.start()] != " "]


def sources(found: list[re.Match[str]], text: str, span: tuple[int, int],
             shown: Callable[[re.Match[str]], str]) -> list[Token]:
    """Tokens of the request sources in ``found`` that lie in ``span`` of ``text`` and were not blanked."""
    return [(m.start(), shown(m), True, shown(m)) for m in found if span[0] <= m.start() < span[1]
            and text[m.start()] != " "]
