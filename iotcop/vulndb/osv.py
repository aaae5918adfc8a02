"""OSV records (https://ossf.github.io/osv-schema/) → rows for the store; tolerant like the NVD parser.

One row per ``affected[]`` package: its ecosystem (and release: ``Debian:12`` is ecosystem Debian, release 12) and
name, the CVEs a distribution record is about, its ``ranges`` (type SEMVER, ECOSYSTEM or GIT with
``introduced``/``fixed``/``last_affected`` events, kept as JSON) and its explicit ``versions`` list.
GIT ranges name commits, not versions: they are kept but never match a component version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_AFFECTED = 5_000
EVENT_KEYS = ("introduced", "fixed", "last_affected", "limit")


@dataclass(frozen=True)
class OsvRow:
    id: str
    ecosystem: str
    name: str
    ranges: str  # JSON: [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2"}]}]
    versions: str  # JSON list of strings
    aliases: str  # JSON list of strings
    summary: str
    published: str
    modified: str
    severity_vector: str | None
    release: str = ""  # the part after ':' of the ecosystem ("12" of "Debian:12"), "" when none
    upstream: str = "[]"  # JSON list: the CVEs a distribution record is about (related, upstream, its own id)


def is_osv_record(doc: object) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("id"), str) and (
        "affected" in doc or "schema_version" in doc) and "modified" in doc


def parse_records(docs: list[Any]) -> tuple[list[OsvRow], int]:
    rows: list[OsvRow] = []
    bad = 0
    for doc in docs:
        try:
            parsed = parse_record(doc)
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
            parsed = None
        if parsed is None:
            bad += 1
        else:
            rows.extend(parsed)
    return rows, bad


def _strings(value: object, limit: int = 10_000) -> list[str]:
    if not isinstance(value, list):
        return []
    return [v[:200] for v in value[:limit] if isinstance(v, str)]


def _ranges(value: object) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in value if isinstance(value, list) else []:
        if not isinstance(r, dict) or r.get("type") not in ("SEMVER", "ECOSYSTEM", "GIT"):
            continue
        events = [{k: e[k][:200]} for e in r.get("events") or [] if isinstance(e, dict)
                  for k in EVENT_KEYS if isinstance(e.get(k), str)]
        out.append({"type": r["type"], "events": events})
    return out


def upstream_ids(doc: dict[str, Any]) -> list[str]:
    """The CVE ids a record is about: its aliases, ``related`` and ``upstream`` (Debian's DSA/DLA records name their
    CVEs there) and the CVE inside a DEBIAN-CVE-... id."""
    ids = {*_strings(doc.get("aliases"), 100), *_strings(doc.get("related"), 500), *_strings(doc.get("upstream"), 500)}
    own = str(doc.get("id", ""))
    if own.startswith("DEBIAN-CVE-"):
        ids.add(own.removeprefix("DEBIAN-"))
    return sorted(i for i in ids if i.startswith("CVE-"))


def parse_record(doc: object) -> list[OsvRow] | None:
    if not is_osv_record(doc):
        return None
    assert isinstance(doc, dict)
    osv_id = doc["id"][:100]
    modified = doc["modified"]
    if not isinstance(modified, str):
        return None
    summary = doc.get("summary") or doc.get("details") or ""
    vector = None
    for sev in doc.get("severity") or []:
        if isinstance(sev, dict) and isinstance(sev.get("score"), str) and str(sev.get("type", "")).startswith("CVSS"):
            vector = sev["score"][:300]
            break
    rows = []
    for aff in (doc.get("affected") or [])[:MAX_AFFECTED]:
        pkg = aff.get("package") if isinstance(aff, dict) else None
        if not isinstance(pkg, dict) or not isinstance(pkg.get("name"), str) or not isinstance(
                pkg.get("ecosystem"), str):
            continue
        rows.append(OsvRow(
            id=osv_id, ecosystem=pkg["ecosystem"].split(":")[0][:100], name=pkg["name"][:300],
            release=pkg["ecosystem"].partition(":")[2][:100], upstream=json.dumps(upstream_ids(doc)),
            ranges=json.dumps(_ranges(aff.get("ranges"))), versions=json.dumps(_strings(aff.get("versions"))),
            aliases=json.dumps(_strings(doc.get("aliases"), 100)),
            summary=summary[:4000] if isinstance(summary, str) else "",
            published=str(doc.get("published") or modified)[:40], modified=modified[:40], severity_vector=vector))
    return rows
