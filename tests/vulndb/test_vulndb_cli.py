"""``iotcop vulndb`` through the CLI runner: import, status (missing/ok/stale exit codes), update from a local
HTTP server on 127.0.0.1, recheck of CycloneDX/SPDX SBOMs."""

from __future__ import annotations

import functools
import json
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "fixtures"))
from clitools import invoke

FEEDS = Path(__file__).parent.parent / "fixtures" / "feeds"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    handler = functools.partial(QuietHandler, directory=str(FEEDS))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_status_missing_then_import_then_stale(tmp_path: Path) -> None:
    db = str(tmp_path / "v.sqlite")
    missing = invoke("vulndb", "status", "--db", db)
    assert missing.exit_code == 3 and missing.output.startswith("missing: no vulnerability database at")
    imported = invoke("vulndb", "import", str(FEEDS / "nvd-iot-sample.json"), "--db", db)
    assert imported.exit_code == 0, imported.output
    assert "7 CVE(s) with 17 CPE criteria, 0 OSV record(s); 0 malformed" in imported.output
    status = invoke("vulndb", "status", "--db", db, "--format", "json")
    doc = json.loads(status.output)
    assert doc["state"] == "stale" and status.exit_code == 3  # the fixture records are from 2025-04 at newest
    assert doc["counts"] == {"cve": 7, "cpe_match": 17, "osv": 0, "kev": 1}


def test_import_refuses_a_non_feed(tmp_path: Path) -> None:
    bad = tmp_path / "sbom.json"
    bad.write_text('{"bomFormat": "CycloneDX"}')
    result = invoke("vulndb", "import", str(bad), "--db", str(tmp_path / "v.sqlite"))
    assert result.exit_code == 3 and "not an NVD CVE JSON 2.0 feed" in result.output


def test_update_from_local_server(tmp_path: Path, server: str) -> None:
    db = str(tmp_path / "v.sqlite")
    result = invoke("vulndb", "update", "--db", db, "--url", f"{server}/nvd-iot-sample.json",
                    "--url", f"{server}/osv-GHSA-jfh8-c2jp-5v3q.json", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["cves"] == 7
    gone = invoke("vulndb", "update", "--db", str(tmp_path / "w.sqlite"), "--url", f"{server}/absent.json")
    assert gone.exit_code == 3 and "cannot download" in gone.output
    assert not (tmp_path / "w.sqlite").exists()


def test_recheck_sboms_against_a_newer_database(tmp_path: Path) -> None:
    db = str(tmp_path / "v.sqlite")
    invoke("vulndb", "import", str(FEEDS / "nvd-iot-sample.json"), "--db", db)
    cdx = tmp_path / "bom.json"
    cdx.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [
        {"type": "application", "name": "dnsmasq", "version": "2.80",
         "cpe": "cpe:2.3:a:thekelleys:dnsmasq:2.80:*:*:*:*:*:*:*"},
        {"type": "library", "name": "openssl", "version": "1.0.1f"}, {"type": "library", "name": "zlib"}]}))
    first = invoke("vulndb", "recheck", str(cdx), "--db", db, "--allow-stale", "--format", "json")
    assert first.exit_code == 0, first.output
    assert [m["vuln_id"] for m in json.loads(first.output)["matches"]] == ["CVE-2020-25681", "CVE-2014-0160"]
    assert invoke("vulndb", "recheck", str(cdx), "--db", db).exit_code == 3  # stale without --allow-stale
    invoke("vulndb", "import", str(FEEDS / "nvd-modified-sample.json"), "--db", db)
    second = invoke("vulndb", "recheck", str(cdx), "--db", db, "--allow-stale", "--format", "json")
    assert [m["vuln_id"] for m in json.loads(second.output)["matches"]] == [
        "CVE-2020-25681", "CVE-2021-3448", "CVE-2014-0160"]
    spdx = tmp_path / "bom.spdx.json"
    spdx.write_text(json.dumps({"spdxVersion": "SPDX-2.3", "packages": [{"name": "BusyBox", "versionInfo": "1.35.0",
        "externalRefs": [{"referenceType": "cpe23Type",
                          "referenceLocator": "cpe:2.3:a:busybox:busybox:1.35.0:*:*:*:*:*:*:*"}]}]}))
    table = invoke("vulndb", "recheck", str(spdx), "--db", db, "--allow-stale")
    assert table.exit_code == 0 and "CVE-2022-28391" in table.output
    assert "busybox 1.35.0 in (-inf, 1.35.0]" in table.output
