"""The manufacturer's declaration, after TS 103 701's ICS and IXIT.

The ICS part answers, per EN 303 645 provision, whether it is supported (``yes``, ``no``,
``not-applicable``) with a detail: the measure, or the justification. The IXIT part gives the extra
information a tester needs (authentication mechanisms, update mechanisms, support period, vulnerability
reporting, interfaces, services). Unanswered provisions are ``null``; the template validates as it is.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Literal

from pydantic import Field, HttpUrl, field_validator

from iotcop.model import Frozen

DECLARATION_SCHEMA = "iotcop-declaration/1"


class Support(StrEnum):
    YES = "yes"
    NO = "no"
    NOT_APPLICABLE = "not-applicable"


class IcsAnswer(Frozen):
    support: Support | None = Field(default=None, description="null while unanswered")
    detail: str | None = Field(default=None, description="The measure implemented, or why not / why N/A.")

    @field_validator("support", mode="before")
    @classmethod
    def _yaml_booleans(cls, value: object) -> object:
        """YAML 1.1 reads a bare yes/no as a boolean; take it as the answer the user wrote."""
        if value is True:
            return Support.YES
        if value is False:
            return Support.NO
        return value


class Product(Frozen):
    manufacturer: str
    name: str
    model: str | None = None
    hardware_version: str | None = None
    firmware_version: str | None = None
    constrained_device: bool = Field(default=False, description="EN 303 645 'constrained device'.")


class AuthMechanism(Frozen):
    """IXIT 1-AuthMech."""

    name: str
    description: str | None = None
    factor: Literal["user-defined", "pre-installed-unique", "none"] | None = None
    password_generation: str | None = None
    brute_force_protection: str | None = None


class UpdateMechanism(Frozen):
    """IXIT 7-UpdMech."""

    name: str
    description: str | None = None
    signed: bool | None = None
    transport: str | None = None
    automatic: bool | None = None
    user_notification: str | None = None


class SupportPeriod(Frozen):
    """IXIT 2-UserInfo 'Support Period'."""

    end_date: dt.date | None = None
    published_at: HttpUrl | None = None


class VulnerabilityReporting(Frozen):
    """IXIT 2-UserInfo / 5-VulnMon: how issues are reported and answered."""

    contact: str | None = None
    policy_url: HttpUrl | None = None
    acknowledgement_days: int | None = Field(default=None, ge=0)
    status_update_days: int | None = Field(default=None, ge=0)


class Interface(Frozen):
    """IXIT 15-Intf."""

    name: str
    kind: Literal["network", "physical", "logical"]
    status: Literal["enabled", "disabled"]
    debug: bool = False
    purpose: str | None = None


class SoftwareService(Frozen):
    """IXIT 13-SoftServ."""

    name: str
    port: int | None = Field(default=None, ge=0, le=65535)
    protocol: Literal["tcp", "udp"] | None = None
    authentication: str | None = None
    allows_configuration: bool | None = None


class Ixit(Frozen):
    authentication_mechanisms: tuple[AuthMechanism, ...] = ()
    update_mechanisms: tuple[UpdateMechanism, ...] = ()
    support_period: SupportPeriod | None = None
    vulnerability_reporting: VulnerabilityReporting | None = None
    interfaces: tuple[Interface, ...] = ()
    software_services: tuple[SoftwareService, ...] = ()


class Declaration(Frozen):
    """A filled-in declaration (the facts of the DECLARATION evidence kind)."""

    schema_: Literal["iotcop-declaration/1"] = Field(alias="schema")
    product: Product
    ics: dict[str, IcsAnswer] = Field(default_factory=dict, description="EN 303 645 provision id → answer.")
    ixit: Ixit = Field(default_factory=Ixit)
    lines: dict[str, int] = Field(default_factory=dict, exclude=True,
                                  description="Field path → line in the source file (filled by the loader).")

    def answer(self, provision: str) -> IcsAnswer | None:
        answer = self.ics.get(provision)
        return answer if answer is not None and answer.support is not None else None

    def line_of(self, path: str) -> int | None:
        return self.lines.get(path)
