"""Facts the declaration checks read besides the declaration itself."""

from __future__ import annotations

from dataclasses import dataclass

from iotcop.model import Finding


@dataclass(frozen=True)
class Observations:
    """The findings of every observing (non-declaration) check, available to checks run after them."""

    findings: tuple[Finding, ...]

    def of_checks(self, check_ids: tuple[str, ...]) -> list[Finding]:
        wanted = set(check_ids)
        return [f for f in self.findings if f.check_id in wanted]
