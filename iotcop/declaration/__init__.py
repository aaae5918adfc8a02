"""Load, validate and template the manufacturer's declaration.

Every problem is reported with the line and the field it concerns, and all problems are reported at
once. Untrusted YAML is bounded: size, nesting, and no anchors/aliases (which a declaration never needs
and which make "billion laughs" documents).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from iotcop.catalogue import Catalogue
from iotcop.declaration.schema import DECLARATION_SCHEMA, Declaration, IcsAnswer, Support
from iotcop.errors import DeclarationError, InputError, Problem

__all__ = ["Declaration", "IcsAnswer", "Support", "load_declaration", "parse_declaration", "template"]

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 30
UNKNOWN_FIELD = "unknown field (check the spelling against `iotcop declaration template`)"


def load_declaration(path: Path, catalogue: Catalogue | None = None) -> Declaration:
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the declaration: {exc.strerror}") from exc
    if len(raw) > MAX_BYTES:
        raise DeclarationError(str(path), [Problem(None, "", f"larger than {MAX_BYTES} bytes")])
    return parse_declaration(raw, str(path), catalogue)


def parse_declaration(raw: bytes | str, source: str = "<declaration>",
                      catalogue: Catalogue | None = None) -> Declaration:
    """Parse and validate; raises ``DeclarationError`` listing every problem."""
    if len(raw) > MAX_BYTES:  # a str of MAX_BYTES characters is at least as many bytes
        raise DeclarationError(source, [Problem(None, "", f"larger than {MAX_BYTES} bytes")])
    if isinstance(raw, bytes):
        data_bytes = raw
        try:
            raw = data_bytes.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data_bytes.count(b"\n", 0, exc.start) + 1
            raise DeclarationError(source, [Problem(line, "", f"not UTF-8 text (byte {exc.start})")]) from None
    data, lines = _compose(raw, source)
    if not isinstance(data, dict):
        raise DeclarationError(source, [Problem(1, "", "the declaration must be a mapping with "
                                                       "'schema', 'product', 'ics' and 'ixit'")])
    # 'lines' is filled by this loader, not by the file: written in the file it is an unknown field.
    problems = [Problem(lines.get("lines"), "lines", UNKNOWN_FIELD)] if "lines" in data else []
    try:
        declaration = Declaration.model_validate({**data, "lines": lines})
    except ValidationError as exc:
        raise DeclarationError(source, problems + [_problem(e, lines) for e in exc.errors()]) from None
    problems += _unknown_provisions(declaration, catalogue)
    if problems:
        raise DeclarationError(source, problems)
    return declaration


_ALIAS_TAG = "tag:iotcop,2025:alias"  # marks an anchor or alias, so the walk reports it with its field
MAX_NUMBER_CHARS = 100  # PyYAML reads '1:2:3:...' (base 60) in quadratic time; no answer needs such numbers


class _Loader(yaml.SafeLoader):
    """SafeLoader that never shares a node (anchors and aliases become markers) and never lets a value error
    escape."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.get_event()  # type: ignore[no-untyped-call]
            return yaml.ScalarNode(_ALIAS_TAG, event.anchor, event.start_mark, event.end_mark)
        anchor = getattr(self.peek_event(), "anchor", None)  # type: ignore[no-untyped-call]
        node = super().compose_node(parent, index)
        if anchor is not None and node is not None:
            node.tag = _ALIAS_TAG  # an anchor is refused where it is defined, before any alias multiplies it
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            # PyYAML lets e.g. 'end_date: 2030-02-30' or '!!bool maybe' escape as plain Python errors. Keep
            # such a scalar as the text written, so the schema reports it against its field and line.
            if isinstance(node, yaml.ScalarNode):
                return str(node.value)
            raise yaml.constructor.ConstructorError(None, None, f"cannot read this value: {exc}",
                                                    node.start_mark) from None

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        if len(str(node.value)) > MAX_NUMBER_CHARS:
            raise ValueError("too long to be a number")
        return super().construct_yaml_int(node)


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


def _compose(text: str, source: str) -> tuple[Any, dict[str, int]]:
    loader: _Loader | None = None
    try:
        loader = _Loader(text)  # the reader refuses control characters here already
        node = loader.get_single_node()
        if node is None:
            raise DeclarationError(source, [Problem(None, "", "the file is empty")])
        lines: dict[str, int] = {}
        _walk(node, "", lines, 0, source)
        return loader.construct_document(node), lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise DeclarationError(source, [Problem(line, "", f"not valid YAML: {exc.problem or exc}")]) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise DeclarationError(source, [Problem(line, "", f"not valid YAML: character #x{exc.character:04x} "
                                                         "is not allowed")]) from None
    except yaml.YAMLError as exc:
        raise DeclarationError(source, [Problem(None, "", f"not valid YAML: {exc}")]) from None
    except RecursionError:
        raise DeclarationError(source, [Problem(None, "", "nested too deeply")]) from None
    finally:
        if loader is not None:
            loader.dispose()


def _walk(node: yaml.Node, path: str, lines: dict[str, int], depth: int, source: str) -> None:
    """Record the line of every field; refuse aliases, duplicate keys and deep nesting."""
    line = lines.get(path, node.start_mark.line + 1)  # a key's line, rather than where its value starts
    if node.tag == _ALIAS_TAG:
        raise DeclarationError(source, [Problem(line, path, "YAML anchors and aliases are not allowed")])
    if depth > MAX_DEPTH:
        raise DeclarationError(source, [Problem(line, path, f"nested deeper than {MAX_DEPTH} levels")])
    lines.setdefault(path, line)
    if isinstance(node, yaml.MappingNode):
        keys: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in keys:
                raise DeclarationError(source, [Problem(key_node.start_mark.line + 1, _join(path, key),
                                                        "duplicate key")])
            keys.add(key)
            lines[_join(path, key)] = key_node.start_mark.line + 1
            _walk(value_node, _join(path, key), lines, depth + 1, source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, _join(path, str(index)), lines, depth + 1, source)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _problem(error: Any, lines: dict[str, int]) -> Problem:
    loc = [str(part) for part in error["loc"]]
    field = ".".join(loc)
    line = None
    for end in range(len(loc), -1, -1):  # the nearest located ancestor of a missing field
        candidate = ".".join(loc[:end])
        if candidate in lines:
            line = lines[candidate]
            break
    message = str(error["msg"])
    if error["type"] == "extra_forbidden":
        message = UNKNOWN_FIELD
    return Problem(line, field.replace("schema_", "schema"), message)


def _unknown_provisions(declaration: Declaration, catalogue: Catalogue | None) -> list[Problem]:
    if catalogue is None:
        from iotcop.catalogue import load_catalogue

        catalogue = load_catalogue()
    en = catalogue.framework("en303645")
    return [Problem(declaration.line_of(f"ics.{pid}"), f"ics.{pid}",
                    "not an EN 303 645 V2.1.1 provision id (e.g. '5.1-1')")
            for pid in declaration.ics if pid not in en]


def template(catalogue: Catalogue) -> str:
    """A declaration to fill in: every provision unanswered, with its status and title as comments."""
    en = catalogue.framework("en303645")
    out = [
        f"# iotcop manufacturer declaration ({DECLARATION_SCHEMA}), after ETSI TS 103 701's ICS and IXIT.",
        "# Answer each provision with support: yes | no | not-applicable, and a detail: the measure you",
        "# implemented, or why it is not supported / not applicable (EN 303 645 4-1 wants a justification",
        "# for every recommendation you do not meet). Leave support: null for provisions you do not answer.",
        "# Observations outrank declarations: iotcop reports a declaration its checks contradict.",
        f"schema: {DECLARATION_SCHEMA}",
        "product:",
        "  manufacturer: Example Ltd",
        "  name: Example Camera",
        "  model: EC-100",
        "  hardware_version: null",
        "  firmware_version: null",
        "  constrained_device: false",
        "ics:",
    ]
    for group in en.groups:
        out.append(f"  # {group.id} {group.title}")
        for req in en.in_group(group.id):
            condition = f" — if {req.condition}" if req.condition else ""
            out.append(f"  # [{req.status.short}] {req.title}{condition}")
            out.append(f'  "{req.id}": {{support: null, detail: null}}')
    out += [
        "ixit:",
        "  authentication_mechanisms: []",
        "  #  - {name: web admin login, factor: user-defined, password_generation: null,",
        "  #     brute_force_protection: '5 failures lock the login for 15 minutes'}",
        "  update_mechanisms: []",
        "  #  - {name: OTA, signed: true, transport: HTTPS, automatic: true, user_notification: app}",
        "  support_period: {end_date: null, published_at: null}",
        "  vulnerability_reporting: {contact: null, policy_url: null, acknowledgement_days: null,",
        "                            status_update_days: null}",
        "  interfaces: []",
        "  #  - {name: UART, kind: physical, status: disabled, debug: true, purpose: factory test}",
        "  software_services: []",
        "  #  - {name: web admin, port: 443, protocol: tcp, authentication: password, allows_configuration: true}",
        "",
    ]
    return "\n".join(out)


# The YAML reader with line numbers, for the project's other YAML inputs (product files, statements): a file is
# composed once, every field's line recorded, aliases, duplicate keys and deep nesting refused.
compose_with_lines = _compose
located_problem = _problem
