"""What every CLI module shares: consoles, the output format option, error handling and exit codes."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from iotcop.errors import InputError, IotcopError, UsageError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INPUT = 0, 1, 2, 3

out = Console(soft_wrap=False)
err = Console(stderr=True, soft_wrap=True)  # an error stays on one line, whole paths intact
F = TypeVar("F", bound=Callable[..., Any])


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"


FORMAT = typer.Option(Format.TABLE, "--format", "-f", help="table for people, json for machines.")


def emit_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def handles_errors(func: F) -> F:
    """Turn iotcop's errors into a clear message and the documented exit code, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except UsageError as exc:
            err.print(f"[red]error:[/] {escape(str(exc))}", markup=True, highlight=False)
            raise typer.Exit(EXIT_USAGE) from None
        except InputError as exc:
            err.print(f"[red]cannot assess:[/] {escape(str(exc))}", markup=True, highlight=False)
            raise typer.Exit(EXIT_INPUT) from None
        except IotcopError as exc:
            err.print(f"[red]internal error:[/] {escape(str(exc))}", markup=True, highlight=False)
            raise typer.Exit(EXIT_INPUT) from None

    return wrapper  # type: ignore[return-value]


class nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
