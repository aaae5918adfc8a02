"""OpenWrt's UCI configuration format (``/etc/config/*``), read as libuci reads it.

::

    config uhttpd 'main'                 # config <type> [<name>]
        list listen_http '0.0.0.0:80'    # list <name> <value>: appends
        option redirect_https '1'        # option <name> <value>: a later option replaces an earlier one

Words are unquoted (a backslash escapes the next character), in single quotes (no escapes) or in double
quotes (a backslash escapes the next character); adjacent pieces join into one word (``'a'"b"c`` is
``abc``). A quoted word may run over several lines, and a backslash at the end of a line continues it.
``#`` at the start of a word starts a comment. libuci rejects a whole file on one error; this reader keeps
every statement it understands and records the others in ``errors`` (with their line), since a check
must still see the options a device would apply, and a hostile file must never make it raise.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

MAX_STATEMENTS = 20_000
_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_TYPE = re.compile(r"^[A-Za-z0-9_-]+$")
_TRUE = {"1", "on", "true", "yes", "enabled"}
_FALSE = {"0", "off", "false", "no", "disabled"}
_UNTERMINATED = "\0unterminated"  # marks a statement cut by the end of the file inside quotes


@dataclass(frozen=True)
class UciValue:
    """One ``option`` or ``list`` statement: ``kind`` is 'option' or 'list'."""

    kind: str
    name: str
    value: str
    line: int


@dataclass(frozen=True)
class UciSection:
    type: str
    name: str | None  # None for an anonymous section (``config dropbear``)
    line: int
    values: tuple[UciValue, ...] = ()

    def get(self, name: str) -> UciValue | None:
        """The value an ``option`` has (the last one given), or None. A ``list`` is not an option."""
        found = None
        for v in self.values:
            if v.name == name:
                found = v if v.kind == "option" else None  # a list after an option replaces it, and back
        return found

    def value(self, name: str, default: str | None = None) -> str | None:
        found = self.get(name)
        return found.value if found is not None else default

    def get_list(self, name: str) -> list[UciValue]:
        """The items of a ``list`` (an ``option`` of the same name given later replaces them)."""
        out: list[UciValue] = []
        for v in self.values:
            if v.name == name:
                out = [*out, v] if v.kind == "list" else []
        return out

    def flag(self, name: str, default: bool) -> bool:
        """An option read as libuci's ``config_get_bool`` reads it; an unknown word gives the default."""
        return uci_bool(self.value(name), default)


@dataclass(frozen=True)
class UciPackage:
    """One parsed ``/etc/config/<package>`` file."""

    path: str
    sections: tuple[UciSection, ...] = ()
    errors: tuple[str, ...] = ()

    def of_type(self, type_: str) -> list[UciSection]:
        return [s for s in self.sections if s.type == type_]

    def named(self, name: str) -> UciSection | None:
        return next((s for s in self.sections if s.name == name), None)


def uci_bool(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    word = value.strip().lower()
    return True if word in _TRUE else False if word in _FALSE else default


def parse_uci(text: str, path: str = "") -> UciPackage:
    """Sections, options and lists of a UCI file; statements that are not valid are listed in ``errors``."""
    sections: list[UciSection] = []
    errors: list[str] = []
    current: tuple[str, str | None, int] | None = None
    values: list[UciValue] = []

    def close() -> None:
        if current is not None:
            sections.append(UciSection(current[0], current[1], current[2], tuple(values)))

    for count, (line, words) in enumerate(_statements(text)):
        if count >= MAX_STATEMENTS:
            errors.append(f"{path}:{line}: more than {MAX_STATEMENTS} statements; the rest was not read")
            break
        if words[-1] is _UNTERMINATED:
            errors.append(f"{path}:{line}: a quote is not closed before the end of the file")
            break
        keyword, args = words[0], words[1:]
        if keyword == "package" and len(args) == 1:
            continue
        if keyword == "config" and 1 <= len(args) <= 2:
            close()
            current, values = None, []
            if _TYPE.match(args[0]) and (len(args) == 1 or _NAME.match(args[1])):
                current = (args[0], args[1] if len(args) == 2 else None, line)
            else:
                errors.append(f"{path}:{line}: invalid section type or name")
            continue
        if keyword in ("option", "list") and len(args) == 2:
            if current is None:
                errors.append(f"{path}:{line}: {keyword} outside a valid section")
            elif not _NAME.match(args[0]):
                errors.append(f"{path}:{line}: invalid {keyword} name")
            else:
                values.append(UciValue(keyword, args[0], args[1], line))
            continue
        errors.append(f"{path}:{line}: not a UCI statement ({keyword[:40]!r} with {len(args)} arguments)")
    close()
    return UciPackage(path, tuple(sections), tuple(errors))


def _statements(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line of the first word, words) of each statement; a statement ends at a newline outside quotes."""
    words: list[str] = []
    word: list[str] = []
    in_word = False
    line, start = 1, 1
    quote = ""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        i += 1
        if quote:
            if c == quote:
                quote = ""
                continue
            if c == "\\" and quote == '"' and i < n:
                c = text[i]
                i += 1
            line += c == "\n"
            word.append(c)
            continue
        if c in " \t\r\n":
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
            if c == "\n":
                if words:
                    yield start, words
                words = []
                line += 1
            continue
        if c == "#" and not in_word:
            while i < n and text[i] != "\n":
                i += 1
            continue
        if c == "\\" and i < n and text[i] == "\n":  # a continued line
            line += 1
            i += 1
            continue
        if not in_word:
            in_word = True
            start = start if words else line
        if c in "'\"":
            quote = c
        elif c == "\\" and i < n:
            word.append(text[i])
            i += 1
        else:
            word.append(c)
    if in_word:
        words.append("".join(word))
    if quote:
        words.append(_UNTERMINATED)
    if words:
        yield start, words
