"""The loader's invariants: it fails loudly on broken data, and the shipped data keeps them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from iotcop.catalogue import DATA_DIR, load_catalogue
from iotcop.checks.registry import REGISTRY
from iotcop.errors import CatalogueError, UsageError

FW = {"id": "t", "title": "T", "version": "1", "published": "2020", "kind": "standard", "source": "test"}


def write(tmp_path: Path, requirements: list[dict[str, object]], name: str = "t.yaml",
          framework: dict[str, str] = FW) -> Path:
    (tmp_path / name).write_text(yaml.safe_dump({"framework": framework, "groups": [{"id": "g", "title": "G"}],
                                                 "requirements": requirements}))
    return tmp_path


def req(rid: str, **more: object) -> dict[str, object]:
    return {"id": rid, "group": "g", "title": "x", "status": "mandatory", **more}


@pytest.mark.parametrize(("requirements", "message"), [
    ([req("1"), req("1")], "duplicate requirement id '1'"),
    ([req("1", group="nope")], "unknown group 'nope'"),
    ([req("1", evidenced_by=["fw.no.such-check"])], "not registered"),
    ([req("1", planned=["fw.credentials.empty-password"])], "planned, but it is built"),
    ([req("1", derived_from=["t:2"])], "no requirement '2'"),
    ([req("1", derived_from=["other:1"])], "unknown framework 'other'"),
    ([req("1", derived_from=["t:1"])], "refers to itself"),
    ([req("1", status="mandatory-conditional")], "needs its condition"),
    ([req("1", condition="when")], "only conditional requirements"),
    ([req("1", status="sometimes")], "status"),
    ([req("1", evidenced_by=["fw.credentials.empty-password"], planned=["fw.credentials.empty-password"])],
     "both in evidenced_by and planned"),
])
def test_broken_data_fails_loudly(tmp_path: Path, requirements: list[dict[str, object]], message: str) -> None:
    with pytest.raises(CatalogueError, match=message):
        load_catalogue(write(tmp_path, requirements), known_checks=REGISTRY.ids())


def test_rollup_cycle_is_refused(tmp_path: Path) -> None:
    write(tmp_path, [req("1", derived_from=["u:1"])], "t.yaml")
    write(tmp_path, [req("1", derived_from=["t:1"])], "u.yaml", {**FW, "id": "u"})
    with pytest.raises(CatalogueError, match="cycle"):
        load_catalogue(tmp_path, known_checks=[])


def test_not_yaml_is_refused(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text("framework: [unclosed")
    with pytest.raises(CatalogueError, match=r"t\.yaml"):
        load_catalogue(tmp_path, known_checks=[])


def test_empty_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="no framework data"):
        load_catalogue(tmp_path, known_checks=[])


def test_shipped_catalogue_order_and_lookups() -> None:
    catalogue = load_catalogue()
    assert [fw.id for fw in catalogue.frameworks] == ["en303645", "cop2018", "psti"]
    assert catalogue.framework("en303645").requirement("5.1-1").mandatory
    assert [f"{fw.id}:{r.id}" for fw, r in catalogue.rolled_up_by("en303645", "5.1-1")] == \
        ["cop2018:1", "psti:sch1-1"]
    with pytest.raises(UsageError, match="unknown framework"):
        catalogue.framework("nist")


def test_every_registered_check_is_cited_or_listed_as_orphan() -> None:
    """Orphan checks are listed here on purpose; a new one must be mapped or added with a reason."""
    catalogue = load_catalogue()
    orphans = {spec.id for spec in REGISTRY if not catalogue.citing(spec.id)}
    # the contradiction check reports on the declaration itself, not on one provision
    assert orphans == {"decl.consistency.contradiction"}


def test_planned_check_ids_are_well_formed_and_consistent() -> None:
    catalogue = load_catalogue()
    planned = {c for _, r in catalogue.all_requirements() for c in r.planned}
    assert planned and all(c.split(".")[0] in {"fw", "net", "doc", "decl"} for c in planned)
    assert not planned & set(REGISTRY.ids())


def test_data_files_are_the_shipped_ones() -> None:
    assert sorted(p.name for p in DATA_DIR.glob("*.yaml")) == ["cop2018.yaml", "en303645-v2.1.1.yaml",
                                                                "psti-2023.yaml"]
