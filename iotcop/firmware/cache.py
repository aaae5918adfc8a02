"""Extractions cached by the image's sha256, so a second assessment of the same image does not unpack it
again. Only successful work is cached: the entry is built in a staging directory and renamed into place
when complete, so a crash or Ctrl-C never leaves a half entry that a later run would trust.

Where: ``$IOTCOP_CACHE_DIR``, else ``$XDG_CACHE_HOME/iotcop``, else ``~/.cache/iotcop``; the entry is
``extract/<sha256>/``. An entry made by another iotcop version or with other limits is replaced.
``iotcop cache clear`` removes them all.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path

from iotcop._version import __version__
from iotcop.firmware.extract import extract
from iotcop.firmware.filesystem import FileSystem
from iotcop.firmware.tree import Extraction, Limits, remove_tree
from iotcop.model import ExtractionStep

MANIFEST = "manifest.json"
FORMAT = 1


def cache_root() -> Path:
    if env := os.environ.get("IOTCOP_CACHE_DIR"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "iotcop"


def _key(limits: Limits) -> dict[str, object]:
    return {"format": FORMAT, "iotcop": __version__, "limits": dataclasses.asdict(limits)}


def cached_extract(image: Path, sha256: str, limits: Limits) -> Extraction:
    """The extraction of ``image`` from the cache, or made now and stored (the cache is best effort:
    an unwritable cache directory means an uncached extraction, not an error)."""
    entry = cache_root() / "extract" / sha256
    hit = _load(entry, limits)
    if hit is not None:
        return hit
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{sha256[:12]}-", dir=entry.parent))
        os.chmod(staging, 0o755)  # the unprivileged extractors work below it
    except OSError:
        return extract(image, limits)
    try:
        result = extract(image, limits, workdir=staging / "tree")
        if not _cacheable(result):  # keep it for this run only: the next run tries again
            result.workdir, result.keep = staging, False
            return result
        try:
            _write_manifest(staging, result, limits)
            remove_tree(str(entry))
            os.rename(staging, entry)
        except OSError:  # a full disk, or another run stored this image meanwhile: this run goes uncached
            result.workdir, result.keep = staging, False
            return result
    except BaseException:
        remove_tree(str(staging))
        raise
    loaded = _load(entry, limits)
    return loaded if loaded is not None else extract(image, limits)  # replaced meanwhile by another run


def _cacheable(result: Extraction) -> bool:
    """Cache what the image is, not what happened to this run: a tripped limit (time depends on the
    machine's load) or a worker that could not run is not a fact about the image."""
    return not any(s.outcome == "limit" or (s.format == "nested layers" and s.outcome == "failed")
                   for s in result.steps)


def _write_manifest(staging: Path, result: Extraction, limits: Limits) -> None:
    tree = staging / "tree"
    manifest = {
        **_key(limits),
        "steps": [s.model_dump(mode="json") for s in result.steps],
        "notes": result.notes,
        "filesystems": [{"label": fs.label, "dir": str(fs.host_root.relative_to(tree)),
                         "meta": {p: list(v) for p, v in fs.meta.items()}} for fs in result.filesystems],
    }
    (staging / MANIFEST).write_text(json.dumps(manifest))


def _load(entry: Path, limits: Limits) -> Extraction | None:
    try:
        manifest = json.loads((entry / MANIFEST).read_text())
        if {k: manifest.get(k) for k in ("format", "iotcop", "limits")} != json.loads(json.dumps(_key(limits))):
            return None
        tree = entry / "tree"
        filesystems = [FileSystem.scan(tree / fs["dir"], label=fs["label"],
                                       meta={p: (int(v[0]), int(v[1]), int(v[2])) for p, v in fs["meta"].items()})
                       for fs in manifest["filesystems"]]
        steps = [ExtractionStep.model_validate(s) for s in manifest["steps"]]
        return Extraction(filesystems=filesystems, steps=steps, notes=list(manifest["notes"]), workdir=entry,
                          keep=True)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):  # any damage: extract again
        return None


def clear() -> int:
    """Remove every cached extraction; returns how many entries there were."""
    root = cache_root() / "extract"
    if not root.is_dir():
        return 0
    entries = list(root.iterdir())
    for entry in entries:
        remove_tree(str(entry))
    return len(entries)
