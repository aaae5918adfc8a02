"""The YAML form of the statement of compliance (``iotcop-statement/1``, see ``StatementForm``) and its loader."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field, ValidationError

from iotcop.declaration import _compose, _problem
from iotcop.documents.statement import Found, Statement, usable
from iotcop.documents.statement_dates import LENGTH, SupportPeriod, excerpt_of
from iotcop.errors import DeclarationError, Problem
from iotcop.model import Frozen

STATEMENT_SCHEMA = "iotcop-statement/1"
MAX_YAML_BYTES = 256 * 1024
NEWLINE = b"\n"


class Party(Frozen):
    name: str | None = None
    address: str | None = None


class Compliance(Frozen):
    declared: bool | None = Field(default=None, description="In the manufacturer's opinion it has complied.")
    requirements: tuple[Literal["sch1-1", "sch1-2", "sch1-3"], ...] = Field(
        default=("sch1-1", "sch1-2", "sch1-3"), description="The Schedule 1 requirements declared met.")
    text: str | None = Field(default=None, description="The declaration's wording.")


class SupportForm(Frozen):
    end_date: dt.date | None = None
    text: str | None = Field(default=None, description="The support period as worded.")


class Signatory(Frozen):
    name: str | None = None
    function: str | None = None


class StatementForm(Frozen):
    """The statement of compliance as YAML: every element optional here (a missing one is a finding, not a
    parse error); an unknown field or a wrong type is a problem with its line."""

    schema_: Literal["iotcop-statement/1"] = Field(alias="schema")
    product_type: str | None = None
    product_batch: str | None = Field(default=None, description="Batch, model or other identifier.")
    manufacturer: Party | None = None
    authorised_representative: Party | None = None
    prepared_by_or_on_behalf_of_manufacturer: bool | None = None
    compliance: Compliance | None = None
    support_period: SupportForm | None = None
    signatory: Signatory | None = None
    place_of_issue: str | None = None
    date_of_issue: dt.date | None = None


def _form_values(form: StatementForm) -> dict[str, tuple[str, object]]:
    """element → (field path, value)."""
    maker = form.manufacturer or Party()
    signatory = form.signatory or Signatory()
    compliance = form.compliance or Compliance()
    rep = form.authorised_representative or Party()
    return {
        "product_type": ("product_type", form.product_type),
        "product_batch": ("product_batch", form.product_batch),
        "manufacturer_name": ("manufacturer.name", maker.name),
        "manufacturer_address": ("manufacturer.address", maker.address),
        "representative": ("authorised_representative", ", ".join(v for v in (rep.name, rep.address) if v)),
        "prepared_by": ("prepared_by_or_on_behalf_of_manufacturer",
                        "by or on behalf of the manufacturer" if form.prepared_by_or_on_behalf_of_manufacturer
                        else None),
        "compliance": ("compliance.declared", ", ".join(compliance.requirements) if compliance.declared else None),
        "signatory_name": ("signatory.name", signatory.name),
        "signatory_function": ("signatory.function", signatory.function),
        "place_of_issue": ("place_of_issue", form.place_of_issue),
        "date_of_issue": ("date_of_issue", form.date_of_issue.isoformat() if form.date_of_issue else None),
    }


def read_form(raw: bytes, source: str) -> Statement:
    """The YAML form, parsed with the declaration's bounded loader (no anchors, bounded depth, lines kept)."""
    if len(raw) > MAX_YAML_BYTES:
        return Statement(source, "yaml", f"larger than {MAX_YAML_BYTES} bytes")
    try:
        data, lines = _compose(raw.decode("utf-8"), source)
        if not isinstance(data, dict):
            raise DeclarationError(source, [Problem(1, "", f"a statement is a mapping starting with "
                                                           f"'schema: {STATEMENT_SCHEMA}'")])
        form = StatementForm.model_validate(data)
    except UnicodeDecodeError as exc:
        return Statement(source, "yaml", f"line {raw.count(NEWLINE, 0, exc.start) + 1}: not UTF-8 text")
    except DeclarationError as exc:
        return Statement(source, "yaml", "; ".join(str(p) for p in exc.problems))
    except ValidationError as exc:
        return Statement(source, "yaml", "; ".join(_located(e, lines) for e in exc.errors()))
    found = []
    for name, (path, value) in _form_values(form).items():
        if isinstance(value, str) and usable(value):
            found.append(Found(name, value, excerpt_of(f"{path}: {value}"), lines.get(path, 1)))
    support = _form_support(form.support_period, lines)
    if support is not None:
        found.append(Found("support_period", support.excerpt, support.excerpt, support.line))
    compliance = form.compliance
    scope = tuple(compliance.requirements) if compliance and compliance.declared else ()
    return Statement(source, "yaml", "", tuple(sorted(found, key=lambda e: e.line)), support, scope)


def _located(error: Any, lines: dict[str, int]) -> str:
    problem = _problem(error, lines)
    if error["type"] == "extra_forbidden":
        problem = Problem(problem.line, problem.field, f"unknown field (the fields of {STATEMENT_SCHEMA}: "
                                                       f"{', '.join(StatementForm.model_fields)})".replace("schema_",
                                                                                                       "schema"))
    return str(problem)


def _form_support(period: SupportForm | None, lines: dict[str, Any]) -> SupportPeriod | None:
    if period is None or (period.end_date is None and not (period.text and usable(period.text))):
        return None
    if period.end_date is not None:
        return SupportPeriod("end-date", period.end_date, f"support_period.end_date: {period.end_date.isoformat()}",
                             lines.get("support_period.end_date", 1))
    text = period.text or ""
    length = LENGTH.search(text)
    return SupportPeriod("period" if length else "vague", None, excerpt_of(f"support_period.text: {text}"),
                         lines.get("support_period.text", 1), length.group(0) if length else "")

