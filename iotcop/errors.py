"""iotcop's exceptions.

::

    IotcopError                      base of everything iotcop raises on purpose
    ├── UsageError                   the user asked for something impossible (CLI exit code 2)
    ├── InputError                   an input file cannot be read or understood (CLI exit code 3)
    │   ├── DeclarationError         a declaration fails validation; carries (line, field, message) items
    │   └── ImageError               a firmware image cannot be opened at all
    ├── CatalogueError               shipped catalogue data is inconsistent (a bug: fails loudly at load)
    └── CheckOutcome                 raised *inside* a check to say how it ended without findings
        ├── CannotAssess             the facts needed are missing → INCONCLUSIVE with the reason
        └── NotApplicable            the facts show the checked thing does not exist → NOT_APPLICABLE

Any other exception escaping a check is caught by the runner and recorded as an ERROR run.
"""

from __future__ import annotations

from dataclasses import dataclass


class IotcopError(Exception):
    """Base of all deliberate iotcop errors."""


class UsageError(IotcopError):
    """The request cannot be satisfied as asked (unknown framework, unknown id, ...)."""


class InputError(IotcopError):
    """An input (image, declaration, assessment file) cannot be read or understood."""


@dataclass(frozen=True)
class Problem:
    """One validation problem, located so that a person can fix it."""

    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "(no line)"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class DeclarationError(InputError):
    """A manufacturer declaration is not valid; ``problems`` says where and why."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source}: invalid declaration ({len(problems)} problem(s)):\n{lines}")


class ImageError(InputError):
    """The firmware image cannot be opened (missing, unreadable, empty)."""


class CatalogueError(IotcopError):
    """The shipped catalogue data breaks one of its invariants."""


class CheckOutcome(IotcopError):
    """Raised inside a check to end it without findings; carries the reason shown to the user."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class CannotAssess(CheckOutcome):
    """The check cannot establish its answer from the facts available → INCONCLUSIVE."""


class NotApplicable(CheckOutcome):
    """The facts show the subject of the check does not exist → NOT_APPLICABLE."""
