"""Which build a known vulnerability needs (``data/vuln-context.yaml``): the BusyBox applets that hold the flaw,
the Linux configuration options whose absence removes it. A typed table, each entry with its source."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

DATA = Path(__file__).parent / "data" / "vuln-context.yaml"
_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$")


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    cve: str
    why: str
    source: str = Field(pattern=r"^https://")

    @field_validator("cve")
    @classmethod
    def _cve_id(cls, value: str) -> str:
        if not _CVE.match(value):
            raise ValueError(f"{value!r} is not a CVE id")
        return value


class AppletRule(_Entry):
    applets: tuple[str, ...] = Field(min_length=1)


class KernelRule(_Entry):
    options: tuple[str, ...] = Field(min_length=1)

    @field_validator("options")
    @classmethod
    def _config_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not re.fullmatch(r"CONFIG_[A-Z0-9_]+", o) for o in value):
            raise ValueError(f"{value!r}: options are CONFIG_ names")
        return value


class VulnContext(BaseModel):
    """The table, looked up by CVE id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    busybox: tuple[AppletRule, ...] = ()
    linux: tuple[KernelRule, ...] = ()

    def applets(self, cve: str) -> AppletRule | None:
        return next((r for r in self.busybox if r.cve == cve), None)

    def kernel(self, cve: str) -> KernelRule | None:
        return next((r for r in self.linux if r.cve == cve), None)


@cache
def vuln_context(path: Path = DATA) -> VulnContext:
    table = VulnContext.model_validate(yaml.safe_load(path.read_text()))
    for rules in (table.busybox, table.linux):
        ids = [r.cve for r in rules]
        if len(ids) != len(set(ids)):
            raise ValueError(f"{path}: a CVE is listed twice")
    return table
