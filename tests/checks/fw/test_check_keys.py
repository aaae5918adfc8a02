"""fw.keys.* on real keys and certificates (openssl, ssh-keygen, dropbearkey) laid out in one root file
system, scanned by the content pass and judged through the runner. Each test says which files were
flagged; the look-alikes (a CA bundle, public keys, documentation, placeholders) lie in the same image."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import keymaterial
import pytest
from fwimages import write_tree
from keymaterial import KeyArtefacts

from iotcop.checks.fw import keys as checks
from iotcop.checks.registry import CheckFunc, spec_of
from iotcop.firmware.content import scan_content
from iotcop.firmware.filesystem import FileSystem
from iotcop.firmware.keys import KeyMaterial, KeyScanner
from iotcop.model import AssessmentTime, CheckRun, Finding, RunStatus, Severity
from iotcop.runner import run_checks


@pytest.fixture(scope="module")
def art(tmp_path_factory: pytest.TempPathFactory) -> KeyArtefacts:
    return keymaterial.build(tmp_path_factory.getbasetemp() / "keymaterial")


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory, art: KeyArtefacts) -> KeyMaterial:
    files: dict[str, str | bytes] = {
        # keys the product ships
        "/etc/ssl/private/device.key": art["rsa2048.key"],
        "/etc/ssl/private/legacy.key": art["rsa1024.key"],
        "/etc/ssl/private/tiny-ec.key": art["ec192.key"],
        "/etc/ssl/private/signing.key": art["dsa1024.key"],
        "/etc/ssl/private/backup.key": art["rsa2048-enc.key"],
        "/etc/ssh/ssh_host_ed25519_key": art["ssh_host_ed25519_key"],
        "/etc/ssh/ssh_host_dsa_key": art["ssh_host_dsa_key"],
        "/etc/dropbear/dropbear_rsa_host_key": art["dropbear_rsa_host_key"],
        "/root/.ssh/id_ed25519": art["id_ed25519"],
        "/etc/lighttpd/server.pem": art["ec256.key"] + art["default.crt"],  # key and its CA-flagged cert
        "/etc/cloud.json": json.dumps({"key": art.text("ed25519.key")}),
        "/etc/pki/vendor-ca.key": art["ca.key"],  # the key of the CA that issued chain.pem's leaf
        # certificates
        "/etc/ssl/certs/camera.crt": art["server.crt"],  # self-signed, CA:FALSE, key shipped above
        "/etc/ssl/certs/expired.pem": art["expired.crt"],
        "/etc/ssl/certs/future.pem": art["future.crt"],
        "/etc/cloud/chain.pem": art["leaf-sha1.crt"] + art["ca.crt"],
        "/etc/cloud/legacy.pem": art["leaf-md5.crt"],
        "/etc/cloud/weak.pem": art["leaf-weak.crt"],
        "/etc/cloud/good.pem": art["leaf-sha256.crt"],
        # look-alikes
        "/etc/cloud/roots.pem": art["ca.crt"] + art["root-sha1.crt"],  # CA certificates only: public
        "/etc/update/verify.pem": art["rsa2048.pub.pem"],  # a public key
        "/etc/update/old-verify.pem": art["rsa1024.pub.pem"],  # ... but a weak one
        "/etc/ssh/ssh_host_ed25519_key.pub": art["ssh_host_ed25519_key.pub"],
        "/usr/share/doc/lighttpd/example.key": art["rsa1024.key"],  # documentation
        "/usr/lib/python3/dist-packages/tls/tests/keycert.pem": art["dsa1024.key"] + art["expired.crt"],
        "/etc/ssl/private/placeholder.key": keymaterial.garbage_key(),
        "/lib/firmware/wifi.bin": keymaterial.split_by_binary(art["rsa2048.key"]),
    }
    if (art.directory / "ca-certificates.crt").exists():
        files["/etc/ssl/certs/ca-certificates.crt"] = art["ca-certificates.crt"]
    scanner = KeyScanner()
    scan_content(FileSystem.scan(write_tree(tmp_path_factory.mktemp("keys-image"), files)), [scanner])
    return scanner.result()


def run(func: CheckFunc, material: KeyMaterial,
        assessed: AssessmentTime | str | None = "now") -> tuple[CheckRun, list[Finding]]:
    bag: dict[type, object] = {KeyMaterial: material}
    if assessed == "now":
        bag[AssessmentTime] = AssessmentTime(at=dt.datetime.now(dt.UTC))
    elif assessed is not None:
        bag[AssessmentTime] = assessed
    result = run_checks([spec_of(func)], bag, {})
    [check_run] = result.runs
    return check_run, list(result.findings)


def flagged(findings: list[Finding]) -> set[str]:
    return {f.location.path for f in findings}


def test_private_key(image: KeyMaterial, art: KeyArtefacts) -> None:
    run_, findings = run(checks.private_key, image)
    assert run_.status is RunStatus.COMPLETED
    assert flagged(findings) == {
        "/etc/ssl/private/device.key", "/etc/ssl/private/legacy.key", "/etc/ssl/private/tiny-ec.key",
        "/etc/ssl/private/signing.key", "/etc/ssl/private/backup.key", "/etc/ssh/ssh_host_ed25519_key",
        "/etc/ssh/ssh_host_dsa_key", "/etc/dropbear/dropbear_rsa_host_key", "/root/.ssh/id_ed25519",
        "/etc/lighttpd/server.pem", "/etc/cloud.json", "/etc/pki/vendor-ca.key"}
    by_path = {f.location.path: f for f in findings}
    device = by_path["/etc/ssl/private/device.key"]
    assert art.fingerprints["rsa2048.key"] in device.message and "RSA 2048 bits" in device.message
    assert "every device built from it holds the same key" in device.message
    assert (device.location.line, device.location.offset) == (1, None)
    assert "passphrase" in by_path["/etc/ssl/private/backup.key"].message
    assert "passphrase" in by_path["/root/.ssh/id_ed25519"].message
    assert "passphrase" not in device.message
    assert "SSH host key" in by_path["/etc/ssh/ssh_host_dsa_key"].message
    dropbear = by_path["/etc/dropbear/dropbear_rsa_host_key"]
    assert (dropbear.location.line, dropbear.location.offset) == (None, 0)
    ca = by_path.pop("/etc/pki/vendor-ca.key")
    assert ca.severity is Severity.CRITICAL and "key of the CA CN=Vendor Device CA" in ca.message
    assert all(f.severity is Severity.HIGH for f in by_path.values())


def test_no_secret_is_printed(image: KeyMaterial, art: KeyArtefacts) -> None:
    findings = [f for func in (checks.private_key, checks.shared_host_key, checks.weak_key)
                for f in run(func, image)[1]]
    secrets = [art.text(n).splitlines()[2] for n in ("rsa2048.key", "rsa1024.key", "ssh_host_ed25519_key")]
    for finding in findings:
        text = finding.message + finding.evidence.excerpt
        assert "MII" not in text and not any(s in text for s in secrets)


def test_shared_host_key(image: KeyMaterial, art: KeyArtefacts) -> None:
    run_, findings = run(checks.shared_host_key, image)
    assert run_.status is RunStatus.COMPLETED
    assert flagged(findings) == {"/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_dsa_key",
                                 "/etc/dropbear/dropbear_rsa_host_key"}
    fingerprints = {f.location.path: f.message for f in findings}
    assert art.fingerprints["dropbear_rsa_host_key"] in fingerprints["/etc/dropbear/dropbear_rsa_host_key"]
    assert art.fingerprints["ssh_host_ed25519_key"] in fingerprints["/etc/ssh/ssh_host_ed25519_key"]


def test_weak_key(image: KeyMaterial) -> None:
    run_, findings = run(checks.weak_key, image)
    assert run_.status is RunStatus.COMPLETED
    got = {(f.location.path, f.severity) for f in findings}
    assert got == {
        ("/etc/ssl/private/legacy.key", Severity.MEDIUM),  # RSA 1024
        ("/etc/ssl/private/tiny-ec.key", Severity.MEDIUM),  # P-192
        ("/etc/ssl/private/signing.key", Severity.MEDIUM),  # DSA
        ("/etc/ssh/ssh_host_dsa_key", Severity.MEDIUM),
        ("/etc/dropbear/dropbear_rsa_host_key", Severity.MEDIUM),
        ("/etc/update/old-verify.pem", Severity.MEDIUM),  # a public key that verifies updates
        ("/etc/cloud/weak.pem", Severity.MEDIUM),  # a certificate's 1024-bit key
    }
    messages = {f.location.path: f.message for f in findings}
    assert "public key" in messages["/etc/update/old-verify.pem"]
    assert "secp192r1" in messages["/etc/ssl/private/tiny-ec.key"]
    assert "DSA" in messages["/etc/ssh/ssh_host_dsa_key"]
    assert "CN=leaf-weak.vendor.example" in messages["/etc/cloud/weak.pem"]


def test_weak_key_below_1024_bits_is_high() -> None:
    from iotcop.firmware.keys import KeyInfo

    key = KeyInfo("/etc/k.pem", 0, 1, "PEM", "RSA PRIVATE KEY", True, "RSA", 512, None, False, "ab" * 32, None,
                  False)
    _, findings = run(checks.weak_key, KeyMaterial(keys=(key,), offered=1, examined=1))
    assert [(f.location.path, f.severity) for f in findings] == [("/etc/k.pem", Severity.HIGH)]


def test_expired_certificate(image: KeyMaterial) -> None:
    run_, findings = run(checks.expired_certificate, image)
    assert run_.status is RunStatus.COMPLETED
    assert flagged(findings) == {"/etc/ssl/certs/expired.pem", "/etc/ssl/certs/future.pem"}
    messages = sorted(f.message for f in findings)
    assert "expired on 2011-01-01" in messages[0] and "not valid before 2040-01-01" in messages[1]


def test_expired_certificate_depends_on_the_assessment_time(image: KeyMaterial) -> None:
    in_2040 = AssessmentTime(at=dt.datetime(2040, 6, 1))  # naive: taken as UTC
    _, findings = run(checks.expired_certificate, image, in_2040)
    assert "/etc/ssl/certs/future.pem" not in flagged(findings)
    assert "/etc/ssl/certs/camera.crt" in flagged(findings)  # valid for ten years from today
    run_, findings = run(checks.expired_certificate, image, None)
    assert run_.status is RunStatus.INCONCLUSIVE and "AssessmentTime" in run_.reason


def test_weak_certificate_signature(image: KeyMaterial) -> None:
    run_, findings = run(checks.weak_certificate_signature, image)
    assert run_.status is RunStatus.COMPLETED
    got = {(f.location.path, f.message.split(" is signed with ")[1]) for f in findings}
    assert got == {("/etc/cloud/chain.pem", "ecdsa-with-SHA1 (SHA1)."),
                   ("/etc/cloud/legacy.pem", "md5WithRSAEncryption (MD5).")}
    # not the SHA-1 root in roots.pem (a root's own signature is not relied on), nor good.pem (SHA-256)


def test_self_signed_certificate(image: KeyMaterial) -> None:
    run_, findings = run(checks.self_signed_certificate, image)
    assert run_.status is RunStatus.COMPLETED
    assert flagged(findings) == {"/etc/ssl/certs/camera.crt", "/etc/ssl/certs/expired.pem",
                                 "/etc/ssl/certs/future.pem", "/etc/lighttpd/server.pem"}
    by_path = {f.location.path: f.message for f in findings}
    assert "Its private key ships in the image too, at /etc/ssl/private/device.key" in by_path[
        "/etc/ssl/certs/camera.crt"]
    assert "marked as a CA certificate" in by_path["/etc/lighttpd/server.pem"]
    # not: the CA roots of roots.pem and chain.pem (their key ships, but they issued chain.pem's leaf: a CA),
    # roots.pem's old root (no key in the image), nor the CA bundle


def test_ca_bundle_alone_is_clean(tmp_path: Path, art: KeyArtefacts) -> None:
    if not (art.directory / "ca-certificates.crt").exists():
        pytest.skip("the host has no CA bundle to copy")
    scanner = KeyScanner()
    scan_content(FileSystem.scan(write_tree(tmp_path, {
        "/etc/ssl/certs/ca-certificates.crt": art["ca-certificates.crt"],
        "/usr/lib/ssl/cert.pem": art["ca-certificates.crt"]})), [scanner])
    material = scanner.result()
    assert len(material.certificates) > 100
    in_2100 = AssessmentTime(at=dt.datetime(2100, 1, 1, tzinfo=dt.UTC))  # every root expired by then
    for func in (checks.private_key, checks.shared_host_key, checks.weak_key, checks.expired_certificate,
                 checks.weak_certificate_signature, checks.self_signed_certificate):
        assert run(func, material, in_2100) == (CheckRun(check_id=spec_of(func).id, status=RunStatus.COMPLETED), [])


def test_nothing_found_is_clean_nothing_scanned_is_inconclusive(tmp_path: Path) -> None:
    scanner = KeyScanner()
    scan_content(FileSystem.scan(write_tree(tmp_path, {"/etc/hostname": "camera\n"})), [scanner])
    for func in (checks.private_key, checks.shared_host_key, checks.weak_key, checks.expired_certificate,
                 checks.weak_certificate_signature, checks.self_signed_certificate):
        run_, findings = run(func, scanner.result())
        assert (run_.status, findings) == (RunStatus.COMPLETED, [])
        run_, findings = run(func, KeyMaterial())
        assert run_.status is RunStatus.INCONCLUSIVE and "no file was searched" in run_.reason
