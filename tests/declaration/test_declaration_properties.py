"""Property tests: whatever the input, the loader returns a Declaration or a located, clear refusal.

Every call to ``parse_declaration`` either returns a ``Declaration`` or raises ``DeclarationError``
with at least one ``Problem`` whose text is non-empty and whose line (when given) lies in the input.
Any other exception is a bug: the CLI would show a traceback.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iotcop.catalogue import Catalogue, load_catalogue
from iotcop.declaration import Declaration, parse_declaration, template
from iotcop.errors import DeclarationError

CATALOGUE: Catalogue = load_catalogue()
TEMPLATE = template(CATALOGUE)
TEMPLATE_LINES = TEMPLATE.splitlines(keepends=True)
PROVISION_IDS = [r.id for r in CATALOGUE.framework("en303645").requirements]

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MUTATION = settings(PROPERTY, max_examples=100)  # each mutant is a 10 kB document: fewer, still varied


def assert_parses_or_explains(raw: str | bytes) -> Declaration | None:
    """The property itself."""
    try:
        result = parse_declaration(raw, "prop.yaml", CATALOGUE)
    except DeclarationError as exc:
        assert exc.problems, "DeclarationError without problems"
        text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
        last_line = len(text.splitlines()) + 1
        for problem in exc.problems:
            assert str(problem).strip()
            assert problem.message.strip()
            assert problem.line is None or 1 <= problem.line <= last_line, (problem, last_line)
        assert str(exc).startswith("prop.yaml: invalid declaration")
        return None
    assert isinstance(result, Declaration)
    for path, line in result.lines.items():  # every recorded line lies in the document
        assert 1 <= line <= len(raw.splitlines()) + 1, path
    return result


# --- random text and bytes -------------------------------------------------------------------------


@PROPERTY
@given(st.text())
def test_random_text(text: str) -> None:
    assert_parses_or_explains(text)


@PROPERTY
@given(st.binary())
def test_random_bytes(raw: bytes) -> None:
    assert_parses_or_explains(raw)


YAML_ALPHABET = st.sampled_from([*"{}[]:,-?&*!|>'\"%@`#\n\t .01abyn~<=\\\r", "\u2028", "\x85", "\ufeff"])


@PROPERTY
@given(st.text(YAML_ALPHABET, max_size=80))
def test_random_yaml_punctuation(text: str) -> None:
    assert_parses_or_explains(text)


@PROPERTY
@given(st.text(YAML_ALPHABET, max_size=60))
def test_random_text_after_a_valid_header(tail: str) -> None:
    head = "schema: iotcop-declaration/1\nproduct: {manufacturer: a, name: b}\n"
    assert_parses_or_explains(head + tail)


# --- random YAML-shaped structures -----------------------------------------------------------------

SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    | st.dates() | st.datetimes() | st.sampled_from(["yes", "no", "not-applicable", "on", "off", "~", "5.1-1"])
)
KEYS = st.text(max_size=12) | st.sampled_from(
    ["schema", "product", "ics", "ixit", "support", "detail", "name", "manufacturer", "port", "end_date",
     "lines", "<<", *PROVISION_IDS[:10]])
TREES = st.recursive(SCALARS, lambda children: st.lists(children, max_size=4)
                     | st.dictionaries(KEYS, children, max_size=4), max_leaves=25)


@PROPERTY
@given(TREES)
def test_random_yaml_structures(tree: Any) -> None:
    assert_parses_or_explains(yaml.safe_dump(tree, allow_unicode=True))


ANSWER = st.fixed_dictionaries({}, optional={
    "support": st.sampled_from(["yes", "no", "not-applicable", None, True, False, "maybe", 1]),
    "detail": st.none() | st.text(max_size=20) | st.integers(),
})
SERVICE = st.fixed_dictionaries({"name": st.text(max_size=8)}, optional={
    "port": st.integers(-5, 70_000) | st.text(max_size=5) | st.none(),
    "protocol": st.sampled_from(["tcp", "udp", "sctp", None]),
    "authentication": st.none() | st.text(max_size=8),
})
DECLARATION_SHAPED = st.fixed_dictionaries(
    {"schema": st.sampled_from(["iotcop-declaration/1", "iotcop-declaration/2", 1, None])},
    optional={
        "product": st.fixed_dictionaries(
            {"manufacturer": st.text(max_size=10), "name": st.text(max_size=10) | st.integers()},
            optional={"constrained_device": st.booleans() | st.text(max_size=4),
                      "firmware_version": st.text(max_size=6) | st.floats(), "colour": st.text(max_size=3)})
        | TREES,
        "ics": st.dictionaries(st.sampled_from(PROVISION_IDS) | st.text(max_size=6), ANSWER | TREES, max_size=6)
        | TREES,
        "ixit": st.fixed_dictionaries({}, optional={
            "software_services": st.lists(SERVICE, max_size=3),
            "support_period": st.fixed_dictionaries({}, optional={
                "end_date": st.dates() | st.text(max_size=10) | st.datetimes(),
                "published_at": st.sampled_from(["https://example.com/p", "not a url", None])}),
            "vulnerability_reporting": st.fixed_dictionaries({}, optional={
                "acknowledgement_days": st.integers(-3, 30) | st.text(max_size=3)}),
            "bogus": TREES,
        }) | TREES,
        "extra": TREES,
    })


@PROPERTY
@given(DECLARATION_SHAPED)
def test_declaration_shaped_structures(doc: dict[str, Any]) -> None:
    assert_parses_or_explains(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(PROVISION_IDS), st.sampled_from(["yes", "no", "not-applicable"]),
       st.text(st.characters(blacklist_categories=["Cs", "Cc"]), max_size=30),
       st.dates(dt.date(2000, 1, 1), dt.date(2100, 1, 1)))
def test_well_formed_answers_round_trip(pid: str, support: str, detail: str, end: dt.date) -> None:
    doc = {"schema": "iotcop-declaration/1", "product": {"manufacturer": "m", "name": "n"},
           "ics": {pid: {"support": support, "detail": detail}}, "ixit": {"support_period": {"end_date": end}}}
    decl = assert_parses_or_explains(yaml.safe_dump(doc, allow_unicode=True))
    assert decl is not None
    assert decl.ics[pid].support == support and decl.ics[pid].detail == detail
    assert decl.ixit.support_period is not None and decl.ixit.support_period.end_date == end


# --- mutations of the template ---------------------------------------------------------------------

LINE_INDEX = st.integers(0, len(TEMPLATE_LINES) - 1)
CHAR_INDEX = st.integers(0, len(TEMPLATE) - 1)


@MUTATION
@given(st.lists(LINE_INDEX, min_size=1, max_size=5, unique=True))
def test_template_with_lines_deleted(indices: list[int]) -> None:
    lines = [line for i, line in enumerate(TEMPLATE_LINES) if i not in set(indices)]
    assert_parses_or_explains("".join(lines))


@MUTATION
@given(LINE_INDEX, st.integers(0, len(TEMPLATE_LINES)))
def test_template_with_a_line_duplicated(source: int, target: int) -> None:
    lines = list(TEMPLATE_LINES)
    lines.insert(target, TEMPLATE_LINES[source])
    assert_parses_or_explains("".join(lines))


@MUTATION
@given(st.lists(st.tuples(CHAR_INDEX, CHAR_INDEX), min_size=1, max_size=4))
def test_template_with_characters_swapped(swaps: list[tuple[int, int]]) -> None:
    chars = list(TEMPLATE)
    for a, b in swaps:
        chars[a], chars[b] = chars[b], chars[a]
    assert_parses_or_explains("".join(chars))


@MUTATION
@given(CHAR_INDEX, st.text(YAML_ALPHABET, min_size=1, max_size=5), st.integers(0, 5))
def test_template_with_text_replaced(at: int, inserted: str, removed: int) -> None:
    assert_parses_or_explains(TEMPLATE[:at] + inserted + TEMPLATE[at + removed:])


@MUTATION
@given(st.integers(0, len(TEMPLATE.encode()) - 1), st.binary(min_size=1, max_size=3))
def test_template_with_bytes_replaced(at: int, garbage: bytes) -> None:
    raw = TEMPLATE.encode()
    assert_parses_or_explains(raw[:at] + garbage + raw[at + len(garbage):])


@PROPERTY
@given(st.sampled_from(PROVISION_IDS), st.sampled_from(
    ["maybe", "1", "[yes]", "{a: b}", "*x", "&x yes", "!!bool maybe", "!!int x", "!!timestamp x", "2030-02-30",
     "yes, extra: 1", "!!binary x", "!!python/name:os.system", "'", '"', "|", "- a", "? a"]))
def test_template_with_a_bad_answer(pid: str, value: str) -> None:
    text = TEMPLATE.replace(f'"{pid}": {{support: null,', f'"{pid}": {{support: {value},', 1)
    assert text != TEMPLATE
    assert assert_parses_or_explains(text) is None
