"""Integrity of the shipped catalogue data files (``iotcop/catalogue/data/*.yaml``).

The expected values below are written from shared/reference/provisions.md, not generated from the YAML,
so a slip in either shows up here. Only the schema is imported: the files are read directly.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
import yaml

import iotcop
from iotcop.catalogue.schema import FrameworkData, Requirement

DATA = Path(iotcop.__file__).parent / "catalogue" / "data"
FILES = {"en303645": "en303645-v2.1.1.yaml", "cop2018": "cop2018.yaml", "psti": "psti-2023.yaml"}
CHECK_ID = re.compile(r"^(fw|net|doc|decl)\.[a-z0-9-]+\.[a-z0-9-]+$")
KIND_OF_PREFIX = {"fw": "firmware", "net": "network", "doc": "document", "decl": "declaration"}

# EN 303 645 V2.1.1 provisions per clause (provisions.md §1).
EN_GROUP_COUNTS = {
    "4": 1, "5.1": 5, "5.2": 3, "5.3": 16, "5.4": 4, "5.5": 8, "5.6": 9, "5.7": 2,
    "5.8": 3, "5.9": 3, "5.10": 1, "5.11": 4, "5.12": 3, "5.13": 1, "6": 5,
}  # fmt: skip

M, MC = "mandatory", "mandatory-conditional"
# Every mandatory and mandatory-conditional provision (Table B.1 as transcribed in provisions.md §1).
# 5.3-10 and 6-3 show plain M there; their wording is conditional, so we hold them as M C.
EN_MANDATORY = {
    "4-1": M,
    "5.1-1": MC, "5.1-2": MC, "5.1-3": M, "5.1-4": MC, "5.1-5": MC,
    "5.2-1": M,
    "5.3-2": MC, "5.3-3": MC, "5.3-7": MC, "5.3-8": MC, "5.3-10": MC, "5.3-13": M, "5.3-16": M,
    "5.4-1": M, "5.4-2": MC, "5.4-3": M, "5.4-4": M,
    "5.5-1": M, "5.5-5": M, "5.5-7": M, "5.5-8": M,
    "5.6-1": M, "5.6-2": M, "5.6-4": MC,
    "5.8-2": M, "5.8-3": M,
    "5.11-1": M,
    "5.13-1": M,
    "6-1": M, "6-2": MC, "6-3": MC, "6-5": MC,
}  # fmt: skip
EN_RECOMMENDED_CONDITIONAL = {
    "5.3-4", "5.3-5", "5.3-6", "5.3-9", "5.3-11", "5.3-12", "5.3-14", "5.3-15", "5.10-1", "6-4",
}  # fmt: skip

# The EN provisions that each CoP guideline rolls up, beyond clause 5.n for guideline n.
COP_EXTRA = {"8": {"6-1", "6-2", "6-3", "6-4", "6-5"}, "10": {"6-4", "6-5"}}

PSTI_DERIVED = {
    "sch1-1": ("en303645:5.1-1", "en303645:5.1-2"),
    "sch1-2": ("en303645:5.2-1",),
    "sch1-3": ("en303645:5.3-13",),
    "soc-1": (),  # the statement of compliance is judged directly, from the statement itself
}


@cache
def load(framework: str) -> FrameworkData:
    with (DATA / FILES[framework]).open(encoding="utf-8") as fh:
        return FrameworkData.model_validate(yaml.safe_load(fh))


def requirements(framework: str) -> dict[str, Requirement]:
    return {r.id: r for r in load(framework).requirements}


def en_clause(provision_id: str) -> str:
    return provision_id.split("-")[0]


@pytest.mark.parametrize("framework", sorted(FILES))
def test_file_declares_its_framework(framework: str) -> None:
    assert load(framework).framework.id == framework


@pytest.mark.parametrize("framework", sorted(FILES))
def test_requirement_ids_are_unique(framework: str) -> None:
    counts = Counter(r.id for r in load(framework).requirements)
    assert [i for i, n in counts.items() if n > 1] == []


@pytest.mark.parametrize("framework", sorted(FILES))
def test_group_ids_are_unique_and_every_requirement_has_its_group(framework: str) -> None:
    data = load(framework)
    group_ids = [g.id for g in data.groups]
    assert len(group_ids) == len(set(group_ids))
    assert sorted({r.id for r in data.requirements if r.group not in group_ids}) == []


@pytest.mark.parametrize("framework", sorted(FILES))
def test_cross_references_point_at_existing_requirements(framework: str) -> None:
    dangling = []
    for req in load(framework).requirements:
        for ref in (*req.derived_from, *req.related):
            target_framework, _, target_id = ref.partition(":")
            if target_framework not in FILES or target_id not in requirements(target_framework):
                dangling.append(f"{req.id} -> {ref}")
    assert dangling == []


@pytest.mark.parametrize("framework", sorted(FILES))
def test_check_ids_are_namespaced_and_match_an_evidence_kind(framework: str) -> None:
    wrong = []
    for req in load(framework).requirements:
        for check_id in (*req.evidenced_by, *req.planned):
            if not CHECK_ID.match(check_id):
                wrong.append(f"{req.id}: malformed {check_id}")
            elif KIND_OF_PREFIX[check_id.split(".")[0]] not in req.evidence_kinds:
                wrong.append(f"{req.id}: {check_id} needs evidence the requirement does not list")
    assert wrong == []


def test_en_group_counts() -> None:
    counts = Counter(r.group for r in load("en303645").requirements)
    assert dict(counts) == EN_GROUP_COUNTS
    assert sum(EN_GROUP_COUNTS.values()) == 68


def test_en_provision_ids_follow_their_clause() -> None:
    assert sorted(r.id for r in load("en303645").requirements if en_clause(r.id) != r.group) == []


def test_en_mandatory_statuses() -> None:
    reqs = requirements("en303645")
    assert {i: reqs[i].status.value for i in EN_MANDATORY if i in reqs} == EN_MANDATORY
    assert sorted(i for i, r in reqs.items() if r.mandatory) == sorted(EN_MANDATORY)


def test_en_recommended_statuses() -> None:
    reqs = requirements("en303645")
    conditional = {i for i, r in reqs.items() if r.status.value == "recommended-conditional"}
    assert conditional == EN_RECOMMENDED_CONDITIONAL


def test_en_reclassified_provisions_explain_themselves() -> None:
    reqs = requirements("en303645")
    for provision in ("5.3-10", "6-3"):
        assert reqs[provision].notes and "unverified" in reqs[provision].notes.lower()


def test_en_built_checks() -> None:
    """Which built checks can PASS a provision (evidenced_by) is a deliberate list: only where the image
    alone can show the provision is met, or where the published document is the thing required. Elsewhere
    checks can only FAIL it (refuted_by)."""
    built = {i: set(r.evidenced_by) for i, r in requirements("en303645").items() if r.evidenced_by}
    assert built == {
        "4-1": {"decl.ics.missing-justification"},
        "5.1-1": {"fw.credentials.empty-password", "fw.credentials.default-password", "fw.credentials.shared-hash",
                  "fw.credentials.static-password-hash"},
        "5.4-3": {"fw.keys.private-key", "fw.secrets.cloud-token", "fw.secrets.hardcoded-credential"},
        "5.4-4": {"fw.keys.private-key", "fw.keys.shared-host-key"},
        # where the vendor's published document is the evidence itself: found and complete → met
        "5.2-1": {"doc.disclosure.no-policy", "doc.disclosure.no-timelines"},
        "5.3-13": {"doc.support-period.expired", "doc.support-period.missing", "doc.support-period.vague"},
        "5.3-14": {"doc.support-period.no-non-updatable-rationale"},
        "5.11-3": {"doc.deletion.no-instructions"},
        "5.12-2": {"doc.setup.no-secure-setup-guide"},
        "5.12-3": {"doc.setup.no-setup-check-guide"},
        "6-1": {"doc.privacy.incomplete", "doc.privacy.missing"},
        "6-5": {"doc.privacy.no-telemetry-information"},
        # the live device: every authenticating service measured resisting guessing → met
        "5.1-5": {"net.auth.brute-force-unprotected"},
    }
    refuting = {i for i, r in requirements("en303645").items() if r.refuted_by}
    assert refuting == {"5.1-1", "5.1-3", "5.1-4", "5.2-1", "5.2-3", "5.3-1", "5.3-2", "5.3-7", "5.3-8", "5.3-9",
                        "5.3-10", "5.3-13", "5.4-1", "5.4-3", "5.5-1", "5.5-4", "5.5-5", "5.5-6", "5.5-7", "5.6-1",
                        "5.6-2", "5.6-4", "5.6-5", "5.6-7", "5.6-8", "5.7-1", "5.8-1", "5.8-2", "5.9-1", "5.11-1",
                        "5.11-2", "5.11-4", "5.13-1", "6-2", "6-3"}


def test_en_automatable_provisions_have_planned_or_built_checks() -> None:
    automatable = {"firmware", "network", "document"}
    missing = [
        i for i, r in requirements("en303645").items()
        if automatable & set(r.evidence_kinds) and not (r.planned or r.evidenced_by or r.refuted_by)
    ]  # fmt: skip
    assert missing == []


def test_en_declaration_only_provisions_plan_no_checks() -> None:
    reqs = requirements("en303645")
    planned = [i for i, r in reqs.items() if set(r.evidence_kinds) == {"declaration"} and r.planned]
    assert planned == []


def test_en_provisions_relate_to_their_guideline() -> None:
    for provision_id, req in requirements("en303645").items():
        clause = en_clause(provision_id)
        if clause.startswith("5."):
            expected = {f"cop2018:{clause.removeprefix('5.')}"}
        elif clause == "6":
            expected = {"cop2018:8"} | ({"cop2018:10"} if provision_id in COP_EXTRA["10"] else set())
        else:
            expected = set()
        assert set(req.related) == expected, provision_id


def test_cop_has_13_guidelines() -> None:
    assert list(requirements("cop2018")) == [str(n) for n in range(1, 14)]
    assert all(r.status.value == "recommended" and not r.evidenced_by for r in load("cop2018").requirements)


def test_every_en_clause_5_and_6_provision_is_rolled_up_by_exactly_its_guidelines() -> None:
    rolled_up_by: dict[str, set[str]] = {}
    for guideline_id, guideline in requirements("cop2018").items():
        for ref in guideline.derived_from:
            assert ref.startswith("en303645:"), ref
            rolled_up_by.setdefault(ref.removeprefix("en303645:"), set()).add(guideline_id)
    expected: dict[str, set[str]] = {}
    for provision_id in requirements("en303645"):
        clause = en_clause(provision_id)
        if clause.startswith("5."):
            expected[provision_id] = {clause.removeprefix("5.")}
        elif clause == "6":
            expected[provision_id] = {g for g, extra in COP_EXTRA.items() if provision_id in extra}
    assert rolled_up_by == expected
    assert "4-1" not in rolled_up_by


def test_cop_evidence_kinds_are_the_union_of_their_provisions() -> None:
    en = requirements("en303645")
    for guideline_id, guideline in requirements("cop2018").items():
        union = {k for ref in guideline.derived_from for k in en[ref.partition(":")[2]].evidence_kinds}
        assert set(guideline.evidence_kinds) == union, guideline_id


def test_psti_requirements() -> None:
    reqs = requirements("psti")
    assert {i: r.derived_from for i, r in reqs.items()} == PSTI_DERIVED
    assert {i: r.related for i, r in reqs.items()} == {
        "sch1-1": ("cop2018:1",), "sch1-2": ("cop2018:2",), "sch1-3": ("cop2018:3",), "soc-1": ("psti:sch1-3",),
    }  # fmt: skip
    assert all(r.status.value == "mandatory" and not r.declarable for r in reqs.values())
