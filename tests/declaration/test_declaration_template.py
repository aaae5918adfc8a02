"""``template()``: the declaration a manufacturer fills in validates as it is and lists every provision."""

from __future__ import annotations

import re

import pytest
import yaml

from iotcop.catalogue import Catalogue, load_catalogue
from iotcop.declaration import Declaration, Support, parse_declaration, template
from iotcop.declaration.schema import DECLARATION_SCHEMA

# EN 303 645 V2.1.1 provisions per clause (reference/provisions.md), written out, not read from the catalogue.
EN_CLAUSE_COUNTS = {
    "4": 1, "5.1": 5, "5.2": 3, "5.3": 16, "5.4": 4, "5.5": 8, "5.6": 9, "5.7": 2,
    "5.8": 3, "5.9": 3, "5.10": 1, "5.11": 4, "5.12": 3, "5.13": 1, "6": 5,
}  # fmt: skip
EN_PROVISIONS = 68


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def text(catalogue: Catalogue) -> str:
    return template(catalogue)


def test_template_parses_back_as_a_valid_declaration(text: str, catalogue: Catalogue) -> None:
    decl = parse_declaration(text, "template", catalogue)
    assert isinstance(decl, Declaration)
    assert decl.schema_ == DECLARATION_SCHEMA
    assert decl.product.manufacturer and decl.product.name


def test_template_lists_every_provision_unanswered(text: str, catalogue: Catalogue) -> None:
    decl = parse_declaration(text, "template", catalogue)
    en = catalogue.framework("en303645")
    assert len(en.requirements) == EN_PROVISIONS
    assert list(decl.ics) == [r.id for r in en.requirements]  # all of them, in catalogue order
    assert all(a.support is None and a.detail is None for a in decl.ics.values())
    assert all(decl.answer(pid) is None for pid in decl.ics)
    assert len(decl.ics) == EN_PROVISIONS == sum(EN_CLAUSE_COUNTS.values())
    per_clause: dict[str, int] = {}
    for pid in decl.ics:
        clause = pid.split("-")[0]
        per_clause[clause] = per_clause.get(clause, 0) + 1
    assert per_clause == EN_CLAUSE_COUNTS


def test_template_ixit_is_empty_but_present(text: str, catalogue: Catalogue) -> None:
    decl = parse_declaration(text, "template", catalogue)
    ixit = decl.ixit
    assert ixit.authentication_mechanisms == ixit.update_mechanisms == ixit.interfaces == ()
    assert ixit.software_services == ()
    assert ixit.support_period is not None and ixit.support_period.end_date is None
    assert ixit.vulnerability_reporting is not None and ixit.vulnerability_reporting.contact is None


def test_template_comments_give_status_and_title(text: str, catalogue: Catalogue) -> None:
    en = catalogue.framework("en303645")
    lines = text.splitlines()
    for req in en.requirements:
        entry = next(i for i, line in enumerate(lines) if line.startswith(f'  "{req.id}": '))
        comment = lines[entry - 1]
        assert comment.startswith(f"  # [{req.status.short}] {req.title}"), (req.id, comment)
        if req.condition:
            assert req.condition in comment
    for group in en.groups:
        assert f"  # {group.id} {group.title}" in lines


def test_every_template_line_points_at_its_provision(text: str, catalogue: Catalogue) -> None:
    decl = parse_declaration(text, "template", catalogue)
    lines = text.splitlines()
    for pid in decl.ics:
        line = decl.line_of(f"ics.{pid}")
        assert line is not None
        assert lines[line - 1].startswith(f'  "{pid}": ')


def test_filling_in_the_template_works(text: str, catalogue: Catalogue) -> None:
    filled = text.replace('"5.1-1": {support: null, detail: null}',
                          '"5.1-1": {support: yes, detail: unique per device}')
    filled = filled.replace('"5.10-1": {support: null, detail: null}', '"5.10-1": {support: not-applicable}')
    filled = filled.replace("support_period: {end_date: null,", "support_period: {end_date: 2031-01-01,")
    decl = parse_declaration(filled, "filled", catalogue)
    assert decl.ics["5.1-1"].support is Support.YES
    assert decl.ics["5.10-1"].support is Support.NOT_APPLICABLE
    assert decl.ixit.support_period is not None and str(decl.ixit.support_period.end_date) == "2031-01-01"


def test_uncommenting_the_examples_validates(text: str, catalogue: Catalogue) -> None:
    """The commented IXIT examples are valid entries once uncommented (they teach the format)."""
    out = []
    for line in text.splitlines():
        match = re.match(r"^  #  (- .*|   .*)$", line)
        out.append("  " + match.group(1) if match else line)
    filled = "\n".join(out).replace("authentication_mechanisms: []", "authentication_mechanisms:")
    for key in ("update_mechanisms", "interfaces", "software_services"):
        filled = filled.replace(f"{key}: []", f"{key}:")
    decl = parse_declaration(filled, "uncommented", catalogue)
    assert decl.ixit.authentication_mechanisms[0].factor == "user-defined"
    assert decl.ixit.update_mechanisms[0].signed is True
    assert decl.ixit.interfaces[0].kind == "physical"
    assert decl.ixit.software_services[0].port == 443


def test_template_is_plain_safe_yaml(text: str) -> None:
    data = yaml.safe_load(text)
    assert data["schema"] == DECLARATION_SCHEMA
    assert set(data) == {"schema", "product", "ics", "ixit"}
    assert text.endswith("\n")
