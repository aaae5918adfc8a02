"""Matching components: exact criteria, inclusive/exclusive bounds, OpenSSL letter versions, aliases, OSV,
and a missing or stale database reported as such (the caller's INCONCLUSIVE), never as a clean result."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import pytest

from iotcop.model import Component
from iotcop.vulndb import VulnDB, VulnDBUnavailable
from iotcop.vulndb.match import compare, cpe_scheme

FEEDS = Path(__file__).parent.parent / "fixtures" / "feeds"
NOW = datetime(2025, 5, 10, tzinfo=UTC)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> VulnDB:
    vdb = VulnDB.open(tmp_path_factory.mktemp("vdb") / "v.sqlite")
    vdb.import_files([FEEDS / "nvd-iot-sample.json", FEEDS / "osv-GHSA-jfh8-c2jp-5v3q.json"], now=NOW)
    return vdb


def comp(name: str, version: str | None, cpe: str | None = None, purl: str | None = None) -> Component:
    return Component(name=name, version=version, confidence="high", source="test", cpe=cpe, purl=purl)


def ids(db: VulnDB, *components: Component) -> list[str]:
    return [m.vuln_id for m in db.match(components, NOW)]


def test_openssl_letter_versions_order() -> None:
    order = ["0.9.8zh", "1.0.1", "1.0.1a", "1.0.1f", "1.0.1g", "1.0.2", "1.0.2zc", "1.0.2zd", "1.1.1m", "3.0.0"]
    scheme = cpe_scheme("openssl")
    assert all(compare(scheme, a, b) == -1 for a, b in itertools.pairwise(order))
    assert compare(scheme, "1.0.1f", "1.0.1f") == 0


@pytest.mark.parametrize(("version", "expected"), [
    ("1.0.1", ["CVE-2014-0160"]), ("1.0.1f", ["CVE-2014-0160"]), ("1.0.1g", []), ("1.0.0t", []),
    ("1.0.2-beta1", ["CVE-2014-0160"]),  # exact criterion 1.0.2:beta1; a beta precedes the [1.0.2, ...) range
    ("1.0.2", ["CVE-2022-0778"]),  # start-including bound
    ("1.0.2zc", ["CVE-2022-0778"]), ("1.0.2zd", []),  # end-excluding bound
    ("1.1.1m", ["CVE-2022-0778"]), ("1.1.1n", []), ("3.0.1", ["CVE-2022-0778"]), ("3.0.2", []), ("3.1.0", [])])
def test_openssl_exact_and_ranges(db: VulnDB, version: str, expected: list[str]) -> None:
    assert ids(db, comp("openssl", version, f"cpe:2.3:a:openssl:openssl:{version}:*:*:*:*:*:*:*")) == expected


def test_match_carries_cvss_kev_criterion_and_reason(db: VulnDB) -> None:
    heart, = db.match([comp("openssl", "1.0.1f", "cpe:2.3:a:openssl:openssl:1.0.1f:*:*:*:*:*:*:*")], NOW)
    assert (heart.cvss_score, heart.cvss_version, heart.severity, heart.kev, heart.kev_added) == (
        7.5, "3.1", "HIGH", True, "2022-05-04")
    assert heart.criterion == "cpe:2.3:a:openssl:openssl:1.0.1f:*:*:*:*:*:*:*"
    assert heart.reason == "openssl 1.0.1f = 1.0.1f (exact version criterion)"
    bn, = db.match([comp("openssl", "1.1.1k")], NOW)
    assert bn.reason == "openssl 1.1.1k in [1.1.0, 1.1.1n)" and not bn.kev


def test_generic_versions_order_numerically_with_prereleases_first() -> None:
    order = ["1.4", "1.29.3", "1.36.0", "2.8", "2.78", "2.80rc1", "2.80", "2016.74", "2019.78"]
    assert all(compare(None, a, b) == -1 for a, b in itertools.pairwise(order))


@pytest.mark.parametrize(("name", "version", "expected"), [
    ("dnsmasq", "2.77", ["CVE-2017-14491", "CVE-2020-25681"]),  # end-including 2.77
    ("dnsmasq", "2.78", ["CVE-2020-25681"]), ("dnsmasq", "2.82", ["CVE-2020-25681"]), ("dnsmasq", "2.83", []),
    ("dnsmasq", "2.9", ["CVE-2017-14491", "CVE-2020-25681"]),  # 2.9 < 2.78: numeric, not string order
    ("busybox", "1.33.1", ["CVE-2021-42374", "CVE-2022-28391"]), ("busybox", "1.35.0", ["CVE-2022-28391"]),
    ("busybox", "1.36.1", []),
    ("dropbear", "2016.73", ["CVE-2016-7406"]), ("dropbear", "2016.74", []), ("dropbear", "2019.78", [])])
def test_names_resolve_through_aliases(db: VulnDB, name: str, version: str, expected: list[str]) -> None:
    assert ids(db, comp(name, version)) == expected


def test_cpe_vendor_alias_and_lookalikes(db: VulnDB) -> None:
    alias = comp("dropbear_ssh_server", "2015.67", "cpe:2.3:a:matt_johnston:dropbear_ssh_server:2015.67:*:*:*:*:*:*:*")
    assert ids(db, alias) == ["CVE-2016-7406"]
    assert ids(db, comp("libressl", "1.0.1f", "cpe:2.3:a:openbsd:libressl:1.0.1f:*:*:*:*:*:*:*")) == []
    assert ids(db, comp("busybox", None)) == []  # no version: nothing can be claimed
    assert ids(db, comp("openssl", "not-a-version")) == []


def test_osv_maven_ranges(db: VulnDB) -> None:
    purl = "pkg:maven/org.apache.logging.log4j/log4j-core@{}"
    hit = db.match([comp("log4j-core", "2.14.1", purl=purl.format("2.14.1"))], NOW)
    assert [(m.vuln_id, m.source, m.aliases) for m in hit] == [("GHSA-jfh8-c2jp-5v3q", "osv", ("CVE-2021-44228",))]
    assert hit[0].reason == "log4j-core 2.14.1 in range introduced in 2.13.0, fixed 2.15.0"
    assert ids(db, comp("log4j-core", "2.0-beta9", purl=purl.format("2.0-beta9"))) == ["GHSA-jfh8-c2jp-5v3q"]
    for safe in ("2.15.0", "2.3.1", "2.12.2", "1.2.17"):
        assert ids(db, comp("log4j-core", safe, purl=purl.format(safe))) == [], safe


def test_missing_database_is_unavailable_not_clean(tmp_path: Path) -> None:
    vdb = VulnDB.open(tmp_path / "none.sqlite")
    assert vdb.status(NOW).state == "missing"
    with pytest.raises(VulnDBUnavailable, match="no vulnerability database at"):
        vdb.match([comp("openssl", "1.0.1f")], NOW)
    assert not (tmp_path / "none.sqlite").exists()


def test_stale_database(db: VulnDB) -> None:
    later = datetime(2025, 8, 1, tzinfo=UTC)
    status = db.status(later)
    assert status.state == "stale" and "newest record is from 2025-04-20" in status.reason
    with pytest.raises(VulnDBUnavailable, match="stale"):
        db.match([comp("openssl", "1.0.1f")], later)
    assert ids_stale(db, later) == ["CVE-2014-0160"]


def ids_stale(db: VulnDB, when: datetime) -> list[str]:
    return [m.vuln_id for m in db.match([comp("openssl", "1.0.1f")], when, allow_stale=True)]


def test_empty_database(tmp_path: Path) -> None:
    vdb = VulnDB.open(tmp_path / "v.sqlite")
    empty = tmp_path / "empty.json"
    empty.write_text('{"format": "NVD_CVE", "version": "2.0", "vulnerabilities": []}')
    vdb.import_files([empty], now=NOW)
    assert vdb.status(NOW).state == "empty"
    with pytest.raises(VulnDBUnavailable, match="holds no records"):
        vdb.match([comp("openssl", "1.0.1f")], NOW)
