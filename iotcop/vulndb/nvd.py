"""NVD CVE JSON 2.0 records → rows for the store. Bounded and tolerant: a bad record is counted and skipped.

Only ``vulnerabilities[].cve`` is read: id, dates, the English description, CVSS metrics (v3.1, then v3.0,
then v4.0, then v2; NVD's "Primary" score first), CISA KEV fields (``cisaExploitAdd``) and the CPE match
criteria of every configuration node, with the configuration grouping (``Node``: NVD's AND configurations pair a
vulnerable node with the platform it runs on or with). CPE names are split with the ``cpe`` package; CVSS vectors
are re-scored with the ``cvss`` package (the vector is the data; a score that disagrees with its vector is not trusted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import cvss  # type: ignore[import-untyped]
from cpe import CPE  # type: ignore[import-untyped]

MAX_MATCHES_PER_CVE = 20_000  # the largest real records (Linux kernel, Cisco IOS) hold a few thousand


@dataclass(frozen=True)
class CpeRow:
    part: str
    vendor: str
    product: str
    version_exact: str | None  # a specific version (with its CPE update field: "1.0.2-beta1"), else None
    start_incl: str | None
    start_excl: str | None
    end_incl: str | None
    end_excl: str | None
    vulnerable: bool
    criteria: str
    config: int = 0  # index of its configuration in the record
    node: int = 0  # index of its node in that configuration


@dataclass(frozen=True)
class Node:
    """One node of a configuration: with ``config_operator`` AND, a vulnerable node counts only together with the
    configuration's other nodes (the platform it runs on or with)."""

    config: int
    node: int
    config_operator: str  # "AND" or "OR"
    operator: str  # of the node's own criteria: "OR" (any) or "AND" (all)
    negate: bool


@dataclass(frozen=True)
class Cvss:
    version: str
    score: float
    vector: str
    severity: str


@dataclass
class CveRecord:
    id: str
    published: str
    modified: str
    summary: str
    cvss: Cvss | None
    kev_added: str | None
    matches: list[CpeRow] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)


def is_nvd_feed(doc: object) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("vulnerabilities"), list) and (
        "format" not in doc or doc.get("format") == "NVD_CVE")


def parse_feed(doc: dict[str, Any]) -> tuple[list[CveRecord], int]:
    """Every good record of an NVD 2.0 feed and how many records were skipped as malformed."""
    records: list[CveRecord] = []
    bad = 0
    for item in doc.get("vulnerabilities") or []:
        try:
            record = parse_cve(item.get("cve") if isinstance(item, dict) else None)
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError):
            record = None
        if record is None:
            bad += 1
        else:
            records.append(record)
    return records, bad


def _str(value: object, limit: int = 4000) -> str:
    if not isinstance(value, str):
        raise ValueError("not a string")
    return value[:limit]


def _opt_str(value: object) -> str | None:
    return value[:200] if isinstance(value, str) and value else None


def parse_cve(cve: object) -> CveRecord | None:
    if not isinstance(cve, dict):
        return None
    cve_id = _str(cve.get("id"), 64)
    if not cve_id.startswith("CVE-"):
        return None
    summary = ""
    for desc in cve.get("descriptions") or []:
        if isinstance(desc, dict) and desc.get("lang") == "en" and isinstance(desc.get("value"), str):
            summary = desc["value"][:4000]
            break
    record = CveRecord(id=cve_id, published=_str(cve.get("published", ""), 40),
                       modified=_str(cve.get("lastModified", cve.get("published", "")), 40), summary=summary,
                       cvss=_cvss(cve.get("metrics")), kev_added=_opt_str(cve.get("cisaExploitAdd")))
    for c, config in enumerate(cve.get("configurations") or []):
        config_op = _operator(config.get("operator")) if isinstance(config, dict) else "OR"
        for n, node in enumerate((config.get("nodes") or []) if isinstance(config, dict) else []):
            if not isinstance(node, dict):
                continue
            record.nodes.append(Node(c, n, config_op, _operator(node.get("operator")), node.get("negate") is True))
            for m in node.get("cpeMatch") or []:
                row = _cpe_row(m, c, n)
                if row is not None and len(record.matches) < MAX_MATCHES_PER_CVE:
                    record.matches.append(row)
    return record


@lru_cache(maxsize=65_536)
def split_cpe(name: str) -> tuple[str, str, str, str, str] | None:
    """(part, vendor, product, version, update) of a CPE 2.3 formatted string, lower-case; None if invalid."""
    if not name.startswith("cpe:2.3:") or len(name) > 1000:
        return None
    try:
        c = CPE(name)
        fields = (c.get_part(), c.get_vendor(), c.get_product(), c.get_version(), c.get_update())
    except (ValueError, NotImplementedError, TypeError, IndexError, KeyError):
        return None
    values = tuple((f[0] if f else "*").lower() for f in fields)
    return values[0], values[1], values[2], values[3], values[4]


def _operator(value: object) -> str:
    return "AND" if value == "AND" else "OR"


def _cpe_row(m: object, config: int = 0, node: int = 0) -> CpeRow | None:
    if not isinstance(m, dict) or not isinstance(m.get("criteria"), str):
        return None
    parts = split_cpe(m["criteria"])
    if parts is None:
        return None
    part, vendor, product, version, update = parts
    exact = None
    if version not in ("*", "-"):
        exact = version if update in ("*", "-") else f"{version}-{update}"
    return CpeRow(part=part, vendor=vendor, product=product, version_exact=exact,
                  start_incl=_opt_str(m.get("versionStartIncluding")),
                  start_excl=_opt_str(m.get("versionStartExcluding")),
                  end_incl=_opt_str(m.get("versionEndIncluding")), end_excl=_opt_str(m.get("versionEndExcluding")),
                  vulnerable=m.get("vulnerable") is not False, criteria=m["criteria"][:1000], config=config, node=node)


_METRICS = (("cvssMetricV31", "3.1"), ("cvssMetricV30", "3.0"), ("cvssMetricV40", "4.0"), ("cvssMetricV2", "2.0"))


def _cvss(metrics: object) -> Cvss | None:
    if not isinstance(metrics, dict):
        return None
    for key, version in _METRICS:
        entries = [e for e in metrics.get(key) or [] if isinstance(e, dict) and isinstance(e.get("cvssData"), dict)]
        entries.sort(key=lambda e: e.get("type") != "Primary")
        for entry in entries:
            scored = score_vector(version, entry["cvssData"].get("vectorString"), entry.get("baseSeverity"))
            if scored is not None:
                return scored
    return None


def score_vector(version: str, vector: object, v2_severity: object = None) -> Cvss | None:
    """Score a CVSS vector with the ``cvss`` package; None when the vector does not parse."""
    if not isinstance(vector, str) or len(vector) > 300:
        return None
    try:
        if version == "2.0":
            score = float(cvss.CVSS2(vector).scores()[0])
            severity = v2_severity if isinstance(v2_severity, str) else _v2_severity(score)
            return Cvss(version, score, vector, severity.upper())
        calc: cvss.CVSS3 | cvss.CVSS4 = cvss.CVSS4(vector) if version == "4.0" else cvss.CVSS3(vector)
        return Cvss(version, float(calc.base_score), vector, str(calc.severities()[0]).upper())
    except (cvss.CVSSError, ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None


def _v2_severity(score: float) -> str:
    return "HIGH" if score >= 7.0 else "MEDIUM" if score >= 4.0 else "LOW"
