"""The requirement catalogue: every framework iotcop judges against, loaded from data and validated.

``load_catalogue()`` reads ``data/*.yaml`` and fails loudly (``CatalogueError``) on a duplicate id, a
group or cross-reference that does not exist, a cycle of roll-ups, or a cited check id that is not
registered. Adding a framework is adding a data file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from iotcop.catalogue.schema import FrameworkData, FrameworkInfo, Group, Requirement, Status
from iotcop.errors import CatalogueError, UsageError
from iotcop.model import CatalogueRef

__all__ = ["Catalogue", "Framework", "Group", "Requirement", "Status", "load_catalogue"]

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Framework:
    """One framework's validated data, with lookups."""

    info: FrameworkInfo
    groups: tuple[Group, ...]
    requirements: tuple[Requirement, ...]
    sha256: str
    _by_id: dict[str, Requirement] = field(repr=False, compare=False, default_factory=dict)

    @property
    def id(self) -> str:
        return self.info.id

    def requirement(self, requirement_id: str) -> Requirement:
        try:
            return self._by_id[requirement_id]
        except KeyError:
            raise UsageError(f"{self.id} has no requirement {requirement_id!r}") from None

    def __contains__(self, requirement_id: object) -> bool:
        return requirement_id in self._by_id

    def in_group(self, group_id: str) -> list[Requirement]:
        return [r for r in self.requirements if r.group == group_id]

    def ref(self) -> CatalogueRef:
        return CatalogueRef(framework=self.id, title=self.info.title, version=self.info.version, sha256=self.sha256)


@dataclass(frozen=True)
class Catalogue:
    """All frameworks, in evaluation order (a framework comes after those it rolls up)."""

    frameworks: tuple[Framework, ...]

    def framework(self, framework_id: str) -> Framework:
        for fw in self.frameworks:
            if fw.id == framework_id:
                return fw
        known = ", ".join(fw.id for fw in self.frameworks)
        raise UsageError(f"unknown framework {framework_id!r} (known: {known})")

    def resolve(self, ref: str) -> tuple[Framework, Requirement]:
        framework_id, _, requirement_id = ref.partition(":")
        fw = self.framework(framework_id)
        return fw, fw.requirement(requirement_id)

    def find(self, requirement_id: str) -> list[tuple[Framework, Requirement]]:
        """Every framework's requirement with this id (``5.1-1``) or ref (``en303645:5.1-1``)."""
        if ":" in requirement_id:
            return [self.resolve(requirement_id)]
        return [(fw, fw.requirement(requirement_id)) for fw in self.frameworks if requirement_id in fw]

    def all_requirements(self) -> Iterator[tuple[Framework, Requirement]]:
        for fw in self.frameworks:
            for req in fw.requirements:
                yield fw, req

    def citing(self, check_id: str) -> list[tuple[Framework, Requirement, str]]:
        """Requirements that cite a check, with 'built', 'refutes' (can only fail it) or 'planned' (the reverse
        view of the data)."""
        out = []
        for fw, req in self.all_requirements():
            if check_id in req.evidenced_by:
                out.append((fw, req, "built"))
            elif check_id in req.refuted_by:
                out.append((fw, req, "refutes"))
            elif check_id in req.planned:
                out.append((fw, req, "planned"))
        return out

    def rolled_up_by(self, framework_id: str, requirement_id: str) -> list[tuple[Framework, Requirement]]:
        """Requirements of other frameworks that derive from or relate to this one."""
        ref = f"{framework_id}:{requirement_id}"
        return [(fw, r) for fw, r in self.all_requirements() if ref in r.derived_from or ref in r.related]

    def refs(self) -> tuple[CatalogueRef, ...]:
        return tuple(fw.ref() for fw in self.frameworks)


def _read(path: Path) -> Framework:
    raw = path.read_bytes()
    try:
        data = FrameworkData.model_validate(yaml.safe_load(raw))
    except (yaml.YAMLError, ValidationError) as exc:
        raise CatalogueError(f"{path.name}: {exc}") from exc
    by_id: dict[str, Requirement] = {}
    group_ids = {g.id for g in data.groups}
    for req in data.requirements:
        if req.id in by_id:
            raise CatalogueError(f"{path.name}: duplicate requirement id {req.id!r}")
        if req.group not in group_ids:
            raise CatalogueError(f"{path.name}: {req.id} is in unknown group {req.group!r}")
        by_id[req.id] = req
    return Framework(
        info=data.framework,
        groups=data.groups,
        requirements=data.requirements,
        sha256=hashlib.sha256(raw).hexdigest(),
        _by_id=by_id,
    )


def _evaluation_order(frameworks: list[Framework]) -> tuple[Framework, ...]:
    """Topological order over roll-ups, so each framework is judged after those it derives from."""
    by_id = {fw.id: fw for fw in frameworks}
    if len(by_id) != len(frameworks):
        raise CatalogueError("two data files declare the same framework id")
    deps = {
        fw.id: {ref.split(":")[0] for r in fw.requirements for ref in r.derived_from} - {fw.id}
        for fw in frameworks
    }
    for fid, needed in deps.items():
        for unknown in sorted(needed - set(by_id)):
            raise CatalogueError(f"{fid} rolls up requirements of unknown framework {unknown!r}")
    ordered: list[Framework] = []
    while deps:
        ready = sorted(fid for fid, d in deps.items() if not d - {f.id for f in ordered})
        if not ready:
            raise CatalogueError(f"roll-ups form a cycle among {sorted(deps)}")
        for fid in ready:
            ordered.append(by_id[fid])
            del deps[fid]
    return tuple(ordered)


def _check_refs(catalogue: Catalogue, known_checks: Iterable[str]) -> None:
    known = set(known_checks)
    for fw, req in catalogue.all_requirements():
        where = f"{fw.id}:{req.id}"
        for check_id in (*req.evidenced_by, *req.refuted_by):
            if check_id not in known:
                raise CatalogueError(f"{where} cites check {check_id!r}, which is not registered")
        for check_id in req.planned:
            if check_id in known:
                raise CatalogueError(f"{where} lists {check_id!r} as planned, but it is built: cite it")
        for ref in (*req.derived_from, *req.related):
            try:
                catalogue.resolve(ref)
            except UsageError as exc:
                raise CatalogueError(f"{where} refers to {ref}: {exc}") from None
            if ref == where:
                raise CatalogueError(f"{where} refers to itself")


def load_catalogue(data_dir: Path | None = None, known_checks: Iterable[str] | None = None) -> Catalogue:
    """Load and validate every framework; ``known_checks`` defaults to the registered checks."""
    if data_dir is None and known_checks is None:
        return _default_catalogue()
    return _load(data_dir or DATA_DIR, known_checks)


def _load(data_dir: Path, known_checks: Iterable[str] | None) -> Catalogue:
    paths = sorted(data_dir.glob("*.yaml"))
    if not paths:
        raise CatalogueError(f"no framework data in {data_dir}")
    catalogue = Catalogue(_evaluation_order([_read(p) for p in paths]))
    if known_checks is None:
        from iotcop.checks.registry import REGISTRY

        known_checks = REGISTRY.ids()
    _check_refs(catalogue, known_checks)
    return catalogue


@cache
def _default_catalogue() -> Catalogue:
    return _load(DATA_DIR, None)
