"""The SQLite store: schema (with its version), reading feed files, atomic imports, status queries.

A file is read whole and parsed before the database is touched; every file of one import is then written in a
single transaction, so an import either lands completely or not at all. A file that is not an NVD CVE JSON 2.0
feed or an OSV record (or a list or zip of them) is refused with an ``InputError`` naming it.
"""

from __future__ import annotations

import gzip
import io
import json
import sqlite3
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iotcop.errors import InputError
from iotcop.vulndb import nvd, osv

SCHEMA_VERSION = 2  # 2: configuration grouping of CPE criteria (cve_node), OSV releases and upstream CVEs
MAX_FILE_BYTES = 1 << 30  # decompressed; the largest NVD yearly feed is ~250 MB
MAX_ZIP_MEMBERS = 500_000

DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cve (
    id TEXT PRIMARY KEY, published TEXT NOT NULL, modified TEXT NOT NULL, summary TEXT NOT NULL,
    cvss_version TEXT, cvss_score REAL, cvss_vector TEXT, severity TEXT,
    kev INTEGER NOT NULL DEFAULT 0, kev_added TEXT, feed TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cpe_match (
    cve_id TEXT NOT NULL, part TEXT NOT NULL, vendor TEXT NOT NULL, product TEXT NOT NULL, version_exact TEXT,
    start_incl TEXT, start_excl TEXT, end_incl TEXT, end_excl TEXT, vulnerable INTEGER NOT NULL,
    criteria TEXT NOT NULL, config INTEGER NOT NULL DEFAULT 0, node INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS cve_node (
    cve_id TEXT NOT NULL, config INTEGER NOT NULL, node INTEGER NOT NULL, config_operator TEXT NOT NULL,
    operator TEXT NOT NULL, negate INTEGER NOT NULL, PRIMARY KEY (cve_id, config, node));
CREATE INDEX IF NOT EXISTS cpe_match_vp ON cpe_match (vendor, product);
CREATE INDEX IF NOT EXISTS cpe_match_p ON cpe_match (product);
CREATE INDEX IF NOT EXISTS cpe_match_cve ON cpe_match (cve_id);
CREATE TABLE IF NOT EXISTS osv (
    id TEXT NOT NULL, ecosystem TEXT NOT NULL, name TEXT NOT NULL, ranges TEXT NOT NULL, versions TEXT NOT NULL,
    aliases TEXT NOT NULL, summary TEXT NOT NULL, published TEXT NOT NULL, modified TEXT NOT NULL,
    severity_vector TEXT, feed TEXT NOT NULL, release TEXT NOT NULL DEFAULT '', upstream TEXT NOT NULL DEFAULT '[]');
CREATE INDEX IF NOT EXISTS osv_pkg ON osv (ecosystem, name);
CREATE INDEX IF NOT EXISTS osv_id ON osv (id);
CREATE TABLE IF NOT EXISTS aliases (
    vendor TEXT NOT NULL, product TEXT NOT NULL, alias_vendor TEXT NOT NULL, alias_product TEXT NOT NULL,
    PRIMARY KEY (vendor, product, alias_vendor, alias_product));
CREATE TABLE IF NOT EXISTS feeds (
    name TEXT PRIMARY KEY, kind TEXT NOT NULL, records INTEGER NOT NULL, skipped INTEGER NOT NULL,
    imported_at TEXT NOT NULL);
"""


@dataclass
class ParsedFeed:
    name: str
    kind: str  # "nvd" or "osv"
    cves: list[nvd.CveRecord]
    osv_rows: list[osv.OsvRow]
    records: int
    skipped: int


def connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path))
    conn.executescript(DDL)
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        with conn:
            conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    elif row[0] != str(SCHEMA_VERSION):
        conn.close()
        raise InputError(f"{path}: vulnerability database schema {row[0]}, this iotcop reads {SCHEMA_VERSION}: "
                         "delete it and import again")
    return conn


def open_readonly(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{path}: not an iotcop vulnerability database ({exc})") from exc
    if version is None or version[0] != str(SCHEMA_VERSION):
        conn.close()
        raise InputError(f"{path}: vulnerability database schema {version and version[0]}, "
                         f"this iotcop reads {SCHEMA_VERSION}: delete it and import again")
    return conn


def _read_bytes(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
            fh.seek(0)
            if head[:2] == b"\x1f\x8b":
                with gzip.GzipFile(fileobj=fh) as gz:
                    data = gz.read(MAX_FILE_BYTES + 1)
            else:
                data = fh.read(MAX_FILE_BYTES + 1)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(f"{path}: cannot read ({exc})") from exc
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"{path}: larger than {MAX_FILE_BYTES} bytes, refused")
    return data


def _json(data: bytes, name: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{name}: not JSON ({str(exc)[:120]}): not an NVD CVE 2.0 or OSV feed") from exc


def read_feed(path: Path) -> ParsedFeed:
    """Parse one file: NVD 2.0 JSON (optionally gzipped), one OSV record, a JSON list of them, or a zip of them."""
    data = _read_bytes(path)
    if data[:4] == b"PK\x03\x04":
        return _read_zip(data, path)
    doc = _json(data, str(path))
    if nvd.is_nvd_feed(doc):
        cves, skipped = nvd.parse_feed(doc)
        return ParsedFeed(path.name, "nvd", cves, [], len(cves), skipped)
    docs = doc if isinstance(doc, list) else [doc]
    if docs and any(osv.is_osv_record(d) for d in docs):
        rows, skipped = osv.parse_records(docs)
        return ParsedFeed(path.name, "osv", [], rows, len(docs) - skipped, skipped)
    raise InputError(f"{path}: not an NVD CVE JSON 2.0 feed (no 'vulnerabilities' list) nor OSV records "
                     "(no 'id', 'modified' and 'affected')")


def _read_zip(data: bytes, path: Path) -> ParsedFeed:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = [i for i in zf.infolist() if i.filename.endswith(".json") and not i.is_dir()]
            if len(members) > MAX_ZIP_MEMBERS or sum(i.file_size for i in members) > MAX_FILE_BYTES:
                raise InputError(f"{path}: zip too large, refused")
            docs = []
            for info in members:
                try:
                    docs.append(json.loads(zf.read(info)))
                except (ValueError, RecursionError):
                    docs.append(None)  # counted as skipped by the parser
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise InputError(f"{path}: not a readable zip ({exc})") from exc
    if not any(osv.is_osv_record(d) for d in docs):
        raise InputError(f"{path}: a zip without OSV records")
    rows, skipped = osv.parse_records(docs)
    return ParsedFeed(path.name, "osv", [], rows, len(docs) - skipped, skipped)


def write_feeds(conn: sqlite3.Connection, feeds: list[ParsedFeed], now_iso: str) -> None:
    """All feeds in one transaction; a record already stored is replaced by the newer import."""
    with conn:
        for feed in feeds:
            for c in feed.cves:
                conn.execute("DELETE FROM cpe_match WHERE cve_id = ?", (c.id,))
                conn.execute("DELETE FROM cve_node WHERE cve_id = ?", (c.id,))
                s = c.cvss
                conn.execute("INSERT OR REPLACE INTO cve VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                             (c.id, c.published, c.modified, c.summary, s and s.version, s and s.score,
                              s and s.vector, s and s.severity, int(c.kev_added is not None), c.kev_added, feed.name))
                conn.executemany("INSERT INTO cpe_match VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", [
                    (c.id, m.part, m.vendor, m.product, m.version_exact, m.start_incl, m.start_excl, m.end_incl,
                     m.end_excl, int(m.vulnerable), m.criteria, m.config, m.node) for m in c.matches])
                conn.executemany("INSERT OR REPLACE INTO cve_node VALUES (?,?,?,?,?,?)", [
                    (c.id, n.config, n.node, n.config_operator, n.operator, int(n.negate)) for n in c.nodes])
            for osv_id in sorted({r.id for r in feed.osv_rows}):
                conn.execute("DELETE FROM osv WHERE id = ?", (osv_id,))
            conn.executemany("INSERT INTO osv VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", [
                (r.id, r.ecosystem, r.name, r.ranges, r.versions, r.aliases, r.summary, r.published, r.modified,
                 r.severity_vector, feed.name, r.release, r.upstream) for r in feed.osv_rows])
            conn.execute("INSERT OR REPLACE INTO feeds VALUES (?,?,?,?,?)",
                         (feed.name, feed.kind, feed.records, feed.skipped, now_iso))
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('last_import', ?)", (now_iso,))


def seed_aliases(conn: sqlite3.Connection, pairs: list[tuple[str, str, str, str]]) -> None:
    with conn:
        conn.executemany("INSERT OR IGNORE INTO aliases VALUES (?,?,?,?)", pairs)


def scalar(conn: sqlite3.Connection, sql: str) -> Any:
    row = conn.execute(sql).fetchone()
    return row[0] if row else None
