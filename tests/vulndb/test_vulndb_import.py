"""Importing NVD CVE JSON 2.0 and OSV feeds: rows stored, atomic imports, refusal of non-feeds, hostile input."""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import json
import sqlite3
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iotcop.errors import InputError
from iotcop.vulndb import VulnDB, nvd, osv, store

FEEDS = Path(__file__).parent.parent / "fixtures" / "feeds"
NVD = FEEDS / "nvd-iot-sample.json"
OSV = FEEDS / "osv-GHSA-jfh8-c2jp-5v3q.json"
NOW = datetime(2025, 5, 10, tzinfo=UTC)


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_import_nvd_and_osv(tmp_path: Path) -> None:
    db = VulnDB.open(tmp_path / "v.sqlite")
    report = db.import_files([NVD, OSV], now=NOW)
    assert (report.cves, report.cpe_rows, report.osv_records, report.skipped) == (7, 17, 1, 0)
    heart = _rows(db.path, "SELECT cvss_version, cvss_score, cvss_vector, severity, kev, kev_added FROM cve "
                           "WHERE id = 'CVE-2014-0160'")
    assert heart == [("3.1", 7.5, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", "HIGH", 1, "2022-05-04")]
    assert _rows(db.path, "SELECT cvss_version, cvss_score, kev FROM cve WHERE id = 'CVE-2016-7406'") == [
        ("3.0", 9.8, 0)]
    exact = _rows(db.path, "SELECT version_exact FROM cpe_match WHERE cve_id = 'CVE-2014-0160' ORDER BY 1")
    assert [e[0] for e in exact][-3:] == ["1.0.1f", "1.0.2-beta", "1.0.2-beta1"]
    assert _rows(db.path, "SELECT vendor, product, version_exact, start_incl, end_excl FROM cpe_match "
                          "WHERE cve_id = 'CVE-2022-0778' ORDER BY start_incl") == [
        ("openssl", "openssl", None, "1.0.2", "1.0.2zd"), ("openssl", "openssl", None, "1.1.0", "1.1.1n"),
        ("openssl", "openssl", None, "3.0.0", "3.0.2")]
    assert _rows(db.path, "SELECT count(*), min(name) FROM osv WHERE id = 'GHSA-jfh8-c2jp-5v3q'") == [
        (3, "org.apache.logging.log4j:log4j-core")]
    status = db.status(NOW)
    assert status.state == "ok" and status.schema_version == store.SCHEMA_VERSION
    assert status.counts == {"cve": 7, "cpe_match": 17, "osv": 3, "kev": 1}
    assert status.newest_record == "2025-04-20T01:37:25.860" and status.last_import == "2025-05-10T00:00:00+00:00"
    assert [f["name"] for f in status.feeds] == [NVD.name, OSV.name]


def test_reimport_replaces_records_not_duplicates(tmp_path: Path) -> None:
    db = VulnDB.open(tmp_path / "v.sqlite")
    db.import_files([NVD, OSV], now=NOW)
    db.import_files([NVD, OSV], now=NOW)
    assert db.status(NOW).counts == {"cve": 7, "cpe_match": 17, "osv": 3, "kev": 1}


def test_gzip_and_zip_feeds(tmp_path: Path) -> None:
    gz = tmp_path / "nvdcve-2.0-recent.json.gz"
    gz.write_bytes(gzip.compress(NVD.read_bytes()))
    zp = tmp_path / "all.zip"
    with zipfile.ZipFile(zp, "w") as zf:
        zf.writestr("GHSA-jfh8-c2jp-5v3q.json", OSV.read_text())
        zf.writestr("broken.json", "{not json")
    report = VulnDB.open(tmp_path / "v.sqlite").import_files([gz, zp], now=NOW)
    assert (report.cves, report.osv_records, report.skipped) == (7, 1, 1)


@pytest.mark.parametrize("content", [b"", b"{}", b"[1, 2]", b'{"vulnerabilities": {}}', b"\x89PNG\r\n",
                                     b'{"format": "NVD_CPE", "vulnerabilities": []}', b"[" * 100_000])
def test_a_file_that_is_not_a_feed_is_refused_and_nothing_is_written(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    db = VulnDB.open(tmp_path / "v.sqlite")
    with pytest.raises(InputError, match=r"bad\.json: not"):
        db.import_files([NVD, bad], now=NOW)
    assert db.status(NOW).state == "missing"  # the good file before it was not imported either


def test_import_is_one_transaction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = VulnDB.open(tmp_path / "v.sqlite")
    db.import_files([OSV], now=NOW)
    real = store.read_feed

    def broken(path: Path) -> store.ParsedFeed:  # the OSV feed's last row violates NOT NULL mid-transaction
        feed = real(path)
        if feed.kind == "osv":
            feed.osv_rows.append(dataclasses.replace(feed.osv_rows[0], ecosystem=None))  # type: ignore[arg-type]
        return feed

    monkeypatch.setattr(store, "read_feed", broken)
    with pytest.raises(sqlite3.IntegrityError):
        db.import_files([NVD, OSV], now=NOW)
    counts = db.status(NOW).counts
    assert (counts["cve"], counts["osv"]) == (0, 3)  # the CVEs written first were rolled back, the old OSV kept


def test_bad_records_are_counted_and_skipped() -> None:
    doc = json.loads(NVD.read_text())
    doc["vulnerabilities"] += [None, {"cve": {"id": 5}}, {"cve": {"id": "CVE-1", "published": []}}, {"cve": "x"},
                               {"cve": {"id": "CVE-2", "published": "2020", "configurations": [{"nodes": [
                                   {"cpeMatch": [{"criteria": "cpe:2.3:bogus"}, 7]}]}], "metrics": {
                                   "cvssMetricV31": [{"cvssData": {"vectorString": "CVSS:3.1/AV:Q"}}]}}}]
    records, bad = nvd.parse_feed(doc)
    assert (len(records), bad) == (8, 4)
    assert records[-1].id == "CVE-2" and records[-1].matches == [] and records[-1].cvss is None


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(
                        st.sampled_from(["cve", "id", "vulnerabilities", "configurations", "nodes", "cpeMatch",
                                         "criteria", "metrics", "cvssMetricV31", "cvssData", "vectorString",
                                         "affected", "package", "ranges", "events", "modified", "published",
                                         "descriptions", "versionEndExcluding", "name", "ecosystem"]) | st.text(
                                             max_size=8), inner, max_size=6), max_leaves=40)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON)
def test_hostile_json_never_raises_out_of_the_parsers(doc: object) -> None:
    nvd.parse_feed({"vulnerabilities": doc if isinstance(doc, list) else [doc]})
    nvd.parse_feed({"vulnerabilities": [{"cve": doc}]})
    osv.parse_records(doc if isinstance(doc, list) else [doc])
    osv.parse_records([{"id": "X", "modified": "2020", "affected": doc}])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300) | JSON.map(lambda d: json.dumps(d).encode()))
def test_hostile_files_raise_only_input_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "feed.json"
    path.write_bytes(data)
    with contextlib.suppress(InputError):
        store.read_feed(path)
