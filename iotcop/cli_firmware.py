"""CLI commands about firmware images as such: ``iotcop extract`` and ``iotcop cache``."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.markup import escape
from rich.tree import Tree

from iotcop.cli_common import EXIT_INPUT, FORMAT, Format, emit_json, err, handles_errors, nullcontext, out
from iotcop.errors import UsageError
from iotcop.firmware import cache
from iotcop.firmware.extract import Limits, extract
from iotcop.firmware.facts import identify
from iotcop.firmware.identify import platform
from iotcop.firmware.tree import Extraction

cache_app = typer.Typer(help="The extraction cache (images unpacked before, by sha256).", no_args_is_help=True)

MAX_BYTES = typer.Option(Limits.max_total_bytes, "--max-bytes", help="Stop when extraction writes more bytes.")
MAX_FILES = typer.Option(Limits.max_files, "--max-files", help="Stop when extraction writes more files.")
MAX_DEPTH = typer.Option(Limits.max_depth, "--max-depth", help="Layers inside layers to unpack.")
TIMEOUT = typer.Option(Limits.seconds_per_layer, "--timeout", help="Seconds allowed per layer.")


def limits_from(max_bytes: int, max_files: int, max_depth: int, timeout: float) -> Limits:
    return Limits(max_total_bytes=max_bytes, max_files=max_files, max_depth=max_depth, seconds_per_layer=timeout)


@handles_errors
def extract_cmd(
    image: Path = typer.Argument(..., help="A firmware image file."),
    output: Path = typer.Option(..., "--output", "-o", help="A new or empty directory to unpack into (kept)."),
    fmt: Format = FORMAT,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
    max_bytes: int = MAX_BYTES,
    max_files: int = MAX_FILES,
    max_depth: int = MAX_DEPTH,
    timeout: float = TIMEOUT,
) -> None:
    """Unpack every layer of IMAGE into OUTPUT; print what was found (format, offset, size) and the root
    file systems. Exit code 3 when no file system was found or a limit stopped the extraction."""
    identity = identify(image)
    if identity.sha256 is None:  # extract() reads a directory in place: OUTPUT would silently stay empty
        raise UsageError(f"{image} is a directory, already unpacked: `iotcop assess firmware` reads it in place")
    if output.exists() and not output.is_dir():
        raise UsageError(f"{output} is not a directory: extract into a new or empty directory")
    limits = limits_from(max_bytes, max_files, max_depth, timeout)
    busy = err.status(f"unpacking {escape(image.name)} …", spinner="dots") \
        if not quiet and fmt is Format.TABLE and sys.stderr.isatty() else nullcontext()
    with busy:
        try:
            result = extract(image, limits, workdir=output)
        except OSError as exc:  # OUTPUT is a file, lies under one, or cannot be created
            raise UsageError(f"cannot unpack into {output}: {exc.strerror or exc}") from exc
    with result:
        if fmt is Format.JSON:
            emit_json(_as_json(result, identity.sha256))
        elif not quiet:
            out.print(_tree(result, image.name, identity.sha256))
        if not result.filesystems or any(s.outcome == "limit" for s in result.steps):
            raise typer.Exit(EXIT_INPUT)  # nothing found, or what was found may be incomplete


def _as_json(result: Extraction, sha256: str | None) -> dict[str, object]:
    return {
        "sha256": sha256,
        "steps": [s.model_dump(mode="json") for s in result.steps],
        "notes": result.notes,
        "filesystems": [
            {"label": fs.label, "path": str(fs.host_root), "entries": len(fs), "root": fs is result.root,
             **platform(fs).__dict__}
            for fs in result.filesystems
        ],
    }


def _tree(result: Extraction, name: str, sha256: str | None) -> Tree:
    tree = Tree(f"[bold]{escape(name)}[/]  sha256 {sha256}")
    containers: dict[str, Tree] = {"": tree}
    for step in result.steps:  # sorted by container, then offset: each container's layers together
        if step.container not in containers:
            containers[step.container] = tree.add(f"inside [bold]{escape(step.container)}[/]")
        style = {"extracted": "green", "failed": "red", "limit": "bold red", "skipped": "yellow"}[step.outcome]
        line = (f"[{style}]{escape(step.format)}[/] at 0x{step.offset:x}, {step.size:,} bytes ({step.tool}, "
                f"{step.outcome})" + (f": {escape(step.message)}" if step.message else ""))
        containers[step.container].add(line)
    for note in result.notes:
        tree.add(f"[yellow]note:[/] {escape(note)}")
    for fs in result.filesystems:
        p = platform(fs)
        role = "[bold]root file system[/]" if fs is result.root else "file system"
        cpu = f"{p.arch} {p.bits}-bit {p.endianness}-endian" if p.arch else "no ELF binaries"
        tree.add(f"{role} {escape(fs.label)}: {len(fs):,} entries, {escape(p.os_flavour)}"
                 f"{' ' + escape(p.os_version) if p.os_version else ''}, {cpu} → {escape(str(fs.host_root))}")
    return tree


@cache_app.command("clear")
@handles_errors
def cache_clear() -> None:
    """Remove every cached extraction."""
    count = cache.clear()
    out.print(f"removed {count} cached extraction(s) from {escape(str(cache.cache_root()))}")


@cache_app.command("where")
def cache_where() -> None:
    """Print the cache directory ($IOTCOP_CACHE_DIR, else $XDG_CACHE_HOME/iotcop, else ~/.cache/iotcop)."""
    out.print(str(cache.cache_root()), markup=False, highlight=False)
