"""fw.update.* on real update paths laid out in root file systems (updateimages.py): vendor OTA scripts,
opkg with a usign key, RAUC, swupdate, Mender, and FIT images signed by mkimage. Each test says which
files (and lines) were flagged; the look-alikes lie in the same images."""

from __future__ import annotations

from pathlib import Path

import pytest
import updateimages
from fwimages import write_tree

from iotcop.checks.fw import update as checks
from iotcop.checks.registry import CheckFunc, spec_of
from iotcop.firmware.content import scan_content
from iotcop.firmware.filesystem import FileSystem
from iotcop.firmware.update import UpdateFacts, UpdateScanner
from iotcop.model import CheckRun, Finding, RunStatus, Severity
from iotcop.runner import run_checks


def _facts(root: Path) -> UpdateFacts:
    fs = FileSystem.scan(root)
    scanner = UpdateScanner()
    stats = scan_content(fs, [scanner])
    assert not stats.failed
    return scanner.result(fs)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp() / "update-artefacts"


@pytest.fixture(scope="module")
def vendor(tmp_path_factory: pytest.TempPathFactory, work: Path) -> UpdateFacts:
    return _facts(updateimages.vendor_image(tmp_path_factory.mktemp("vendor"), work))


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory, work: Path) -> UpdateFacts:
    return _facts(updateimages.mender_image(tmp_path_factory.mktemp("good"), work, good=True))


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory, work: Path) -> UpdateFacts:
    return _facts(updateimages.mender_image(tmp_path_factory.mktemp("bad"), work, good=False))


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> UpdateFacts:
    return _facts(write_tree(tmp_path_factory.mktemp("bare"), {"/etc/init.d/rcS": "#!/bin/sh\nmount -a\n"}))


def run(func: CheckFunc, facts: UpdateFacts) -> tuple[CheckRun, list[Finding]]:
    result = run_checks([spec_of(func)], {UpdateFacts: facts}, {})
    [check_run] = result.runs
    return check_run, list(result.findings)


def flagged(findings: list[Finding], severity: Severity | None = None) -> set[str]:
    return {str(f.location) for f in findings if severity is None or f.severity is severity}


def test_plain_download_flags_http_tftp_and_disabled_tls_only_on_update_paths(vendor: UpdateFacts) -> None:
    status, found = run(checks.plain_download, vendor)
    assert status.status is RunStatus.COMPLETED
    assert flagged(found) == {"/usr/sbin/fw_upgrade.sh:3", "/usr/sbin/fw_upgrade.sh:4", "/usr/sbin/tftp_recover.sh:2",
                              "/usr/sbin/cloud_update.sh:2", "/usr/sbin/cloud_update.sh:3",
                              "/etc/opkg/distfeeds.conf:1"}
    # signed content over a plain or unverified channel is LOW; the HTTPS opkg feed, get_config.sh (never
    # flashes), ota_secure.sh (HTTPS) and the documentation example are not flagged at all
    assert flagged(found, Severity.LOW) == {"/usr/sbin/cloud_update.sh:2", "/usr/sbin/cloud_update.sh:3",
                                            "/etc/opkg/distfeeds.conf:1"}
    assert any("TLS certificate verification is switched off" in f.message for f in found)


def test_unverified_image_says_md5_is_not_authenticity(vendor: UpdateFacts) -> None:
    status, found = run(checks.unverified_image, vendor)
    assert status.status is RunStatus.COMPLETED
    assert flagged(found) == {"/usr/sbin/fw_upgrade.sh:6", "/usr/sbin/tftp_recover.sh:3", "/www/cgi-bin/upload.sh:5"}
    by_path = {f.location.path: f.message for f in found}
    assert "NOT an authenticity check" in by_path["/usr/sbin/fw_upgrade.sh"]
    assert "md5sum, line 5" in by_path["/usr/sbin/fw_upgrade.sh"]
    # md5 mentioned only in a comment and an echo: no integrity step claimed
    assert "integrity" not in by_path["/www/cgi-bin/upload.sh"]


def test_missing_verification_key_flags_only_the_absent_keyring(vendor: UpdateFacts) -> None:
    status, found = run(checks.missing_verification_key, vendor)
    assert status.status is RunStatus.COMPLETED
    assert flagged(found) == {"/usr/sbin/gpg_update.sh:4"}
    present = {(v.agent, v.key) for v in vendor.verifiers if v.key_present}
    assert present >= {("usign", "/etc/opkg/keys"), ("openssl", "/etc/ota/pubkey.pem"), ("opkg", "/etc/opkg/keys"),
                       ("swupdate", "/etc/swupdate/public.pem"), ("rauc", "/etc/rauc/ca.cert.pem")}


def test_no_secure_boot_flags_unsigned_fit_and_legacy_uimage(vendor: UpdateFacts) -> None:
    _, found = run(checks.no_secure_boot, vendor)
    assert flagged(found, Severity.MEDIUM) == {"/boot/fitImage@0x0", "/boot/uImage@0x0"}
    assert len(found) == 2


def test_mechanism_lists_agents_and_update_scripts(vendor: UpdateFacts) -> None:
    _, found = run(checks.mechanism, vendor)
    assert all(f.severity is Severity.INFO for f in found)
    paths = {f.location.path for f in found}
    assert {"/sbin/sysupgrade", "/etc/rauc/system.conf", "/usr/sbin/fw_upgrade.sh", "/etc/init.d/S80swupdate",
            "/usr/sbin/ota_secure.sh", "/www/cgi-bin/upload.sh"} <= paths
    assert "/usr/sbin/get_config.sh" not in paths and "/usr/share/doc/ota/example.sh" not in paths


def test_good_mender_image_is_clean(good: UpdateFacts) -> None:
    for func in (checks.plain_download, checks.unverified_image, checks.missing_verification_key,
                 checks.no_secure_boot):
        status, found = run(func, good)
        assert (status.status, found) == (RunStatus.COMPLETED, []), func.__name__
    assert [k.required for k in good.boot.keys] == ["conf"]


def test_bad_mender_image(bad: UpdateFacts) -> None:
    _, plain = run(checks.plain_download, bad)
    assert flagged(plain, Severity.HIGH) == {"/etc/mender/mender.conf:2"}
    _, unverified = run(checks.unverified_image, bad)
    assert flagged(unverified) == {"/etc/mender/mender.conf"}
    assert "without signature verification" in unverified[0].message
    status, _ = run(checks.missing_verification_key, bad)
    assert status.status is RunStatus.INCONCLUSIVE and "ixit.update_mechanisms[].signed" in status.reason
    _, boot = run(checks.no_secure_boot, bad)
    assert flagged(boot, Severity.MEDIUM) == {"/boot/u-boot.bin@0xb2"}  # verify=n
    assert flagged(boot, Severity.INFO) == {"/boot/fitImage@0x0", "/boot/u-boot.bin@0x40"}


def test_no_mechanism_is_inconclusive_naming_the_declaration_field(bare: UpdateFacts) -> None:
    expected = {checks.mechanism: "ixit.update_mechanisms[].name",
                checks.plain_download: "ixit.update_mechanisms[].transport",
                checks.unverified_image: "ixit.update_mechanisms[].signed",
                checks.missing_verification_key: "ixit.update_mechanisms[].signed",
                checks.no_secure_boot: "ics.5.7-1"}
    for func, field in expected.items():
        status, found = run(func, bare)
        assert status.status is RunStatus.INCONCLUSIVE and found == [], func.__name__
        assert field in status.reason
