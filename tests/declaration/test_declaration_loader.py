"""The declaration loader: what it accepts, and that every refusal names the line and the field.

Each bad document is the valid one below with one edit, so the expected line is easy to read off.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from iotcop.catalogue import Catalogue, load_catalogue
from iotcop.declaration import MAX_BYTES, Declaration, Support, load_declaration, parse_declaration
from iotcop.errors import DeclarationError, InputError, Problem

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "smart-camera" / "declaration.yaml"

VALID = """\
schema: iotcop-declaration/1
product:
  manufacturer: Example Ltd
  name: Example Camera
ics:
  "5.1-1": {support: yes, detail: unique per device}
  "5.1-2": {support: no, detail: no passwords at all}
ixit:
  support_period: {end_date: 2030-12-31}
  software_services:
    - {name: web admin, port: 443, protocol: tcp}
"""  # line numbers: 6 is 5.1-1, 7 is 5.1-2, 9 support_period, 11 the service


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def problems_of(text: str | bytes, catalogue: Catalogue) -> list[Problem]:
    with pytest.raises(DeclarationError) as info:
        parse_declaration(text, "decl.yaml", catalogue)
    assert info.value.problems, "a DeclarationError must carry at least one problem"
    assert info.value.source == "decl.yaml"
    for problem in info.value.problems:
        assert problem.message.strip()
        assert str(problem) in str(info.value)  # the exception's text lists every problem
    return info.value.problems


def edited(old: str, new: str) -> str:
    assert old in VALID, old
    return VALID.replace(old, new, 1)


# --- what loads ------------------------------------------------------------------------------------


def test_valid_document_loads_with_lines(catalogue: Catalogue) -> None:
    decl = parse_declaration(VALID, catalogue=catalogue)
    assert decl.product.name == "Example Camera"
    assert decl.ics["5.1-1"].support is Support.YES
    assert decl.ics["5.1-2"].support is Support.NO
    assert decl.ixit.support_period is not None
    assert decl.ixit.support_period.end_date == dt.date(2030, 12, 31)
    assert decl.ixit.software_services[0].port == 443
    assert decl.line_of("ics.5.1-2") == 7
    assert decl.line_of("ixit.software_services.0.port") == 11
    assert decl.answer("5.1-1") == decl.ics["5.1-1"]
    assert decl.answer("5.1-3") is None  # not answered


def test_example_declaration_loads(catalogue: Catalogue) -> None:
    decl = load_declaration(EXAMPLE, catalogue)
    assert decl.product.manufacturer == "Example Cameras Ltd"
    assert decl.product.firmware_version == "1.0.3"
    assert {pid: a.support for pid, a in decl.ics.items()} == {
        "5.1-1": Support.YES, "5.1-4": Support.YES, "5.2-1": Support.YES, "5.3-13": Support.YES,
        "5.6-3": Support.NO, "5.7-1": Support.NO, "5.10-1": Support.NOT_APPLICABLE,
    }  # fmt: skip
    assert decl.ics["5.7-1"].detail is None
    assert decl.ixit.support_period is not None
    assert decl.ixit.support_period.end_date == dt.date(2030, 12, 31)
    assert decl.ixit.authentication_mechanisms[0].factor == "pre-installed-unique"
    assert decl.line_of("ics.5.7-1") == 15


@pytest.mark.parametrize(("written", "support"), [
    ("yes", Support.YES), ("no", Support.NO), ("Yes", Support.YES), ("NO", Support.NO),
    ("true", Support.YES), ("false", Support.NO), ('"yes"', Support.YES), ("'no'", Support.NO),
    ("not-applicable", Support.NOT_APPLICABLE), ("null", None), ("~", None),
])  # fmt: skip
def test_yaml_11_booleans_are_the_answers_written(catalogue: Catalogue, written: str,
                                                  support: Support | None) -> None:
    decl = parse_declaration(edited("{support: yes, detail: unique", f"{{support: {written}, detail: unique"),
                             catalogue=catalogue)
    assert decl.ics["5.1-1"].support is support


def test_missing_sections_default_to_empty(catalogue: Catalogue) -> None:
    decl = parse_declaration("schema: iotcop-declaration/1\nproduct: {manufacturer: a, name: b}\n",
                             catalogue=catalogue)
    assert decl.ics == {}
    assert decl.ixit.software_services == ()
    assert decl.product.constrained_device is False


def test_byte_order_mark_and_crlf_are_accepted(catalogue: Catalogue) -> None:
    raw = ("\ufeff" + VALID).replace("\n", "\r\n").encode()
    decl = parse_declaration(raw, catalogue=catalogue)
    assert decl.line_of("ics.5.1-2") == 7


def test_a_date_text_in_a_text_field_stays_text(catalogue: Catalogue) -> None:
    # PyYAML cannot build 2030-02-30 as a date; the loader keeps what was written instead of crashing.
    decl = parse_declaration(edited("name: Example Camera", "name: 2030-02-30"), catalogue=catalogue)
    assert decl.product.name == "2030-02-30"


# --- what is refused, with line and field ----------------------------------------------------------

CASES = {
    "wrong support value": (edited("{support: no,", "{support: maybe,"), 7, "ics.5.1-2.support",
                            "'yes', 'no' or 'not-applicable'"),
    "support written as a number": (edited("{support: no,", "{support: 1,"), 7, "ics.5.1-2.support", "'yes'"),
    "unknown field in product": (edited("  name: Example Camera\n", "  name: Example Camera\n  colour: red\n"),
                                 5, "product.colour", "unknown field"),
    "typo in product": (edited("  name: Example Camera\n", "  name: Example Camera\n  modle: EC-100\n"), 5,
                        "product.modle", "unknown field"),
    "unknown field in ixit": (edited("support_period:", "suport_period:"), 9, "ixit.suport_period",
                              "unknown field"),
    "unknown field in an ixit entry": (edited("protocol: tcp", "protocl: tcp"), 11,
                                       "ixit.software_services.0.protocl", "unknown field"),
    "unknown top-level field": (VALID + "extra: 1\n", 12, "extra", "unknown field"),
    "top-level 'lines' is not a field": (VALID + "lines: {product: 1}\n", 12, "lines", "unknown field"),
    "unknown provision id": (edited('"5.1-2"', '"5.1-99"'), 7, "ics.5.1-99", "not an EN 303 645"),
    "provision id written as a number": (edited('"5.1-2"', "5.1"), 7, "ics.5.1.[key]", "string"),
    "unknown field in an answer": (edited("detail: no passwords", "details: no passwords"), 7,
                                   "ics.5.1-2.details", "unknown field"),
    "wrong schema string": (edited("iotcop-declaration/1", "iotcop-declaration/2"), 1, "schema",
                            "iotcop-declaration/1"),
    "missing schema": (edited("schema: iotcop-declaration/1\n", ""), 1, "schema", "required"),
    "missing product": (edited("product:\n  manufacturer: Example Ltd\n  name: Example Camera\n", ""), 1,
                        "product", "required"),
    "missing product name": (edited("  name: Example Camera\n", ""), 2, "product.name", "required"),
    "product is a list": (edited("product:\n  manufacturer: Example Ltd\n  name: Example Camera\n",
                                 "product: [a, b]\n"), 2, "product", "dictionary"),
    "a date that is not a date": (edited("2030-12-31", "next year"), 9, "ixit.support_period.end_date",
                                  "date"),
    "a date that does not exist": (edited("2030-12-31", "2030-02-30"), 9, "ixit.support_period.end_date",
                                   "date"),
    "a date with a time": (edited("2030-12-31", "2030-12-31 10:00:00"), 9, "ixit.support_period.end_date",
                           "date"),
    "a port out of range": (edited("port: 443", "port: 70000"), 11, "ixit.software_services.0.port",
                            "65535"),
    "a negative port": (edited("port: 443", "port: -1"), 11, "ixit.software_services.0.port", "0"),
    "a port of a thousand digits": (edited("port: 443", "port: " + "9" * 1000), 11,
                                    "ixit.software_services.0.port", "65535"),
    "a port of more digits than Python converts": (edited("port: 443", "port: " + "9" * 5000), 11,
                                                   "ixit.software_services.0.port", "integer"),
    "a port of base-60 digits": (edited("port: 443", "port: " + "1:" * 5000 + "1"), 11,
                                 "ixit.software_services.0.port", "integer"),
    "a port that is text": (edited("port: 443", "port: https"), 11, "ixit.software_services.0.port",
                            "integer"),
    "a protocol not tcp or udp": (edited("protocol: tcp", "protocol: sctp"), 11,
                                  "ixit.software_services.0.protocol", "'tcp' or 'udp'"),
    "an explicit bad tag value": (edited("{support: no,", "{support: !!bool maybe,"), 7,
                                  "ics.5.1-2.support", "'yes'"),
    "a bad URL": (edited("{end_date: 2030-12-31}", "{end_date: 2030-12-31, published_at: not a url}"), 9,
                  "ixit.support_period.published_at", "URL"),
}


@pytest.mark.parametrize(("text", "line", "field", "message"), CASES.values(), ids=CASES.keys())
def test_refusal_names_line_and_field(catalogue: Catalogue, text: str, line: int, field: str,
                                      message: str) -> None:
    problems = problems_of(text, catalogue)
    assert [(p.line, p.field) for p in problems] == [(line, field)]
    assert message.lower() in problems[0].message.lower()
    assert str(problems[0]).startswith(f"line {line}: {field}: ")


def test_all_problems_are_reported_together(catalogue: Catalogue) -> None:
    text = edited("{support: no,", "{support: maybe,").replace("port: 443", "port: 70000").replace(
        "manufacturer:", "manufactuer:")
    problems = problems_of(text, catalogue)
    assert sorted((p.line, p.field) for p in problems) == [
        (2, "product.manufacturer"), (3, "product.manufactuer"),  # the typo, and the field it leaves missing
        (7, "ics.5.1-2.support"), (11, "ixit.software_services.0.port"),
    ]


def test_two_unknown_provisions_are_two_problems(catalogue: Catalogue) -> None:
    text = edited('"5.1-2"', '"5.1-99"').replace('"5.1-1"', '"9.9-9"')
    problems = problems_of(text, catalogue)
    assert sorted((p.line, p.field) for p in problems) == [(6, "ics.9.9-9"), (7, "ics.5.1-99")]


# --- hostile or broken YAML: a located, clear refusal, fast ----------------------------------------

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""

YAML_CASES = {
    "billion laughs": (BILLION_LAUGHS, 1, "a", "anchors and aliases"),
    "a merge key from an anchor": (
        "schema: iotcop-declaration/1\nbase: &b {manufacturer: a}\nproduct:\n  <<: *b\n  name: x\n", 2,
        "base", "anchors and aliases"),
    "an anchor alone": (edited("{support: no,", "&x {support: no,"), 7, "ics.5.1-2", "anchors and aliases"),
    "an alias alone": (edited('"5.1-2": {support: no, detail: no passwords at all}', '"5.1-2": *x'), 7,
                       "ics.5.1-2", "anchors and aliases"),
    "duplicate top-level key": (VALID + "schema: iotcop-declaration/1\n", 12, "schema", "duplicate key"),
    "duplicate provision": (edited('"5.1-2"', '"5.1-1"'), 7, "ics.5.1-1", "duplicate key"),
    "duplicate nested key": (edited("protocol: tcp", "port: 80"), 11, "ixit.software_services.0.port",
                             "duplicate key"),
    "deep nesting": ("schema: iotcop-declaration/1\nproduct:\n" + "".join(
        "  " * i + "x:\n" for i in range(1, 40)), 32, "product" + ".x" * 30, "nested deeper than 30"),
    "list at top level": ("- schema: iotcop-declaration/1\n- product: {}\n", 1, "", "must be a mapping"),
    "scalar at top level": ("just some words\n", 1, "", "must be a mapping"),
    "multiple documents": (VALID + "---\nschema: iotcop-declaration/1\n", 12, "", "not valid YAML"),
    "unclosed flow mapping": (edited("{support: no, detail: no passwords at all}", "{support: no"), 8, "",
                              "not valid YAML"),
    "tab indentation": (edited("  name: Example Camera", "\tname: Example Camera"), 4, "", "not valid YAML"),
    "a python tag": (edited("Example Ltd", "!!python/object/apply:os.system [ls]"), 3, "", "not valid YAML"),
    "a NUL character": (edited("Example Camera", "Example\0Camera"), 4, "", "not allowed"),
    "non-UTF-8 bytes": (VALID.encode().replace(b"Example Camera", b"Example \xff\xfe Camera"), 4, "",
                        "not UTF-8"),
    "UTF-16 text": (VALID.encode("utf-16"), 1, "", "not UTF-8"),
}  # fmt: skip


@pytest.mark.parametrize(("text", "line", "field", "message"), YAML_CASES.values(), ids=YAML_CASES.keys())
def test_hostile_yaml_is_refused_with_a_line(catalogue: Catalogue, text: str | bytes, line: int, field: str,
                                             message: str) -> None:
    problems = problems_of(text, catalogue)
    assert len(problems) == 1
    if field:
        assert problems[0].field == field
    assert problems[0].line == line
    assert message.lower() in problems[0].message.lower()


def test_very_deep_flow_nesting_fails_cleanly(catalogue: Catalogue) -> None:
    problems = problems_of("schema: " + "[" * 50_000 + "]" * 50_000 + "\n", catalogue)
    assert "nested" in problems[0].message


@pytest.mark.parametrize("text", ["", "   \n", "# only a comment\n", b""])
def test_empty_file(catalogue: Catalogue, text: str | bytes) -> None:
    problems = problems_of(text, catalogue)
    assert "empty" in problems[0].message


@pytest.mark.parametrize("text", ["null\n", "---\n", "~\n"])
def test_a_document_that_is_null_is_not_a_mapping(catalogue: Catalogue, text: str) -> None:
    problems = problems_of(text, catalogue)
    assert "must be a mapping" in problems[0].message


# --- files -----------------------------------------------------------------------------------------


def test_file_over_one_mebibyte_is_refused_unread(tmp_path: Path, catalogue: Catalogue) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(VALID.encode() + b"# " + b"x" * MAX_BYTES + b"\n")
    with pytest.raises(DeclarationError) as info:
        load_declaration(path, catalogue)
    assert "larger than" in info.value.problems[0].message
    assert str(path) in str(info.value)


def test_text_over_one_mebibyte_is_refused_by_the_parser_too(catalogue: Catalogue) -> None:
    problems = problems_of(VALID + "# " + "x" * MAX_BYTES + "\n", catalogue)
    assert "larger than" in problems[0].message


def test_a_file_just_under_the_limit_loads(tmp_path: Path, catalogue: Catalogue) -> None:
    path = tmp_path / "padded.yaml"
    body = VALID.encode()
    path.write_bytes(body + b"#" + b"x" * (MAX_BYTES - len(body) - 2) + b"\n")
    assert path.stat().st_size == MAX_BYTES
    assert isinstance(load_declaration(path, catalogue), Declaration)


def test_missing_file_is_an_input_error(tmp_path: Path, catalogue: Catalogue) -> None:
    with pytest.raises(InputError, match="cannot read the declaration") as info:
        load_declaration(tmp_path / "nope.yaml", catalogue)
    assert not isinstance(info.value, DeclarationError)


def test_a_directory_is_an_input_error(tmp_path: Path, catalogue: Catalogue) -> None:
    with pytest.raises(InputError, match="cannot read the declaration"):
        load_declaration(tmp_path, catalogue)


def test_error_text_names_the_file(tmp_path: Path, catalogue: Catalogue) -> None:
    path = tmp_path / "decl.yaml"
    path.write_text(edited("{support: no,", "{support: maybe,"))
    with pytest.raises(DeclarationError) as info:
        load_declaration(path, catalogue)
    assert str(info.value).startswith(f"{path}: invalid declaration (1 problem(s)):")
    assert "line 7: ics.5.1-2.support:" in str(info.value)


def test_default_catalogue_is_used_when_none_is_given() -> None:
    with pytest.raises(DeclarationError) as info:
        parse_declaration(edited('"5.1-2"', '"5.1-99"'))
    assert info.value.problems[0].field == "ics.5.1-99"
    assert info.value.source == "<declaration>"
