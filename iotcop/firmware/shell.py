"""Reading boot shell scripts without running them: lines, simple commands and simple variables.

A line is split with ``shlex`` into simple commands at ``;``, ``&&``, ``||``, ``|``, ``&`` and the
keywords that start one (``then``, ``do``, ...); leading assignments and wrappers (``exec``, ``nohup``,
``busybox``) are removed, so that ``argv[0]`` is the program a command runs. Variables are expanded
only from plain assignments seen earlier in the same script; nothing is ever executed.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator

MAX_VALUE = 4096  # a variable longer than this is not a program path or its options
SEPARATORS = {";", "&&", "||", "|", "&", "(", ")", "{", "}", "then", "do", "else", "elif", "!", "if", "while"}
WRAPPERS = {"exec", "nohup", "nice", "setsid", "env", "sudo", "chroot", "busybox", "command", "/bin/busybox"}
ASSIGNERS = {"export", "local", "readonly", "declare", "typeset"}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-=])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")
_HEREDOC = re.compile(r"(?<!<)<<(?!<)(-?)\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")


def raw_commands(line: str) -> list[list[str]]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        tokens = list(lexer)
    except ValueError:  # an unbalanced quote: fall back to plain splitting
        tokens = line.split("#", 1)[0].split()
    commands: list[list[str]] = [[]]
    for token in tokens:
        if token == "()" and len(commands[-1]) == 1:  # 'name() {': a function is defined, nothing is run
            commands[-1] = []
        elif token in SEPARATORS or set(token) <= set(";&|()"):
            commands.append([])
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def unwrapped(argv: list[str]) -> list[str]:
    while argv and (_NAME.match(argv[0]) or argv[0] in WRAPPERS):
        argv = argv[1:]
    return argv


def simple_commands(line: str) -> list[list[str]]:
    """The simple commands of one shell line, each as argv with wrappers removed."""
    return [argv for c in raw_commands(line) if (argv := unwrapped(c))]


def expand(word: str, env: dict[str, str], unknown: str | None = None) -> list[str]:
    """``$NAME``, ``${NAME}``, ``${NAME:-default}`` replaced where known (unknown ones by ``unknown``, or
    left as written); a word that is one whole variable is split into words, as the shell splits an
    unquoted expansion."""

    budget = [MAX_VALUE]  # what expansions may still add: '$A$A$A...' must not grow without bound

    def value(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(4)
        known = env.get(name)
        if m.group(2) and (known is None or (known == "" and m.group(2).startswith(":"))):
            out = m.group(3) or ""
        else:
            out = known if known is not None else m.group(0) if unknown is None else unknown
        out = out[: max(budget[0], 0)]
        budget[0] -= len(out)
        return out

    out = _VAR.sub(value, word)[: MAX_VALUE + len(word)]
    whole = _VAR.fullmatch(word)
    return out.split() if whole is not None and out != word else [out]


def assign(tokens: list[str], env: dict[str, str]) -> bool:
    """Record ``NAME=value`` (also after export/local); True if the command is only assignments."""
    if tokens[0] not in ASSIGNERS and not all(_NAME.match(t) for t in tokens):
        return False
    for name, _, value in (t.partition("=") for t in tokens if _NAME.match(t)):
        env[name] = " ".join(expand(value, env, unknown=""))[:MAX_VALUE]
    return True


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, text) of each shell line: continued lines joined, here-document bodies skipped."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        number, parts = i + 1, [lines[i]]
        i += 1
        while parts[-1].endswith("\\") and not parts[0].lstrip().startswith("#") and i < len(lines):
            parts[-1] = parts[-1][:-1]
            parts.append(lines[i])
            i += 1
        line = " ".join(parts)
        yield number, line
        if (here := _HEREDOC.search(line)) is not None and _unquoted(line, here.start()):
            strip_tabs, end = bool(here.group(1)), here.group(3)
            while i < len(lines) and (lines[i].lstrip("\t") if strip_tabs else lines[i]) != end:
                i += 1
            i += 1


def _unquoted(line: str, position: int) -> bool:
    """Whether a position of a line is outside quotes and comments (roughly: quotes before it are balanced)."""
    before = line[:position].replace("\\\"", "").replace("\\'", "")
    balanced = before.count('"') % 2 == 0 and before.count("'") % 2 == 0
    return balanced and re.search(r"(^|\s)#", before) is None
