"""KeyScanner on real keys and certificates (openssl, ssh-keygen, dropbearkey), through the one content
pass. Fingerprints are compared with what openssl and ssh-keygen print; look-alikes sit beside the keys."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import keymaterial
import pytest
from fwimages import write_tree
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from keymaterial import KeyArtefacts

from iotcop.firmware.content import HEAD, Blob, FileKind, scan_content
from iotcop.firmware.filesystem import Entry, FileSystem
from iotcop.firmware.keys import MAX_ITEMS, KeyMaterial, KeyScanner


@pytest.fixture(scope="module")
def art(tmp_path_factory: pytest.TempPathFactory) -> KeyArtefacts:
    return keymaterial.build(tmp_path_factory.getbasetemp() / "keymaterial")


def scan(root: Path, files: dict[str, str | bytes], scanner: KeyScanner | None = None) -> KeyMaterial:
    scanner = scanner or KeyScanner()
    scan_content(FileSystem.scan(write_tree(root, files)), [scanner])
    return scanner.result()


def blob(data: bytes, kind: FileKind = FileKind.BINARY, path: str = "/x") -> Blob:
    return Blob(Entry(path, stat.S_IFREG | 0o644, len(data), 0, 0), kind, None, data)


# ---------------------------------------------------------------- keys


def test_pem_and_der_private_keys(tmp_path: Path, art: KeyArtefacts) -> None:
    names = ("rsa1024.key", "rsa2048.key", "ec256.key", "ec192.key", "ed25519.key", "dsa1024.key",
             "rsa2048-enc.key", "rsa2048-legacy-enc.key")
    files: dict[str, str | bytes] = {f"/etc/ssl/private/{n}": art[n] for n in names}
    files["/etc/ssl/private/device.der"] = art["rsa2048.der"]
    m = scan(tmp_path, files)
    got = {(k.path.rsplit("/", 1)[1], k.container, k.label, k.algorithm, k.bits, k.curve, k.encrypted)
           for k in m.keys}
    assert got == {
        ("rsa1024.key", "PEM", "PRIVATE KEY", "RSA", 1024, None, False),
        ("rsa2048.key", "PEM", "RSA PRIVATE KEY", "RSA", 2048, None, False),
        ("ec256.key", "PEM", "EC PRIVATE KEY", "EC", 256, "secp256r1", False),
        ("ec192.key", "PEM", "EC PRIVATE KEY", "EC", 192, "secp192r1", False),
        ("ed25519.key", "PEM", "PRIVATE KEY", "Ed25519", 256, None, False),
        ("dsa1024.key", "PEM", "PRIVATE KEY", "DSA", 1024, None, False),
        ("rsa2048-enc.key", "PEM", "ENCRYPTED PRIVATE KEY", "unknown", None, None, True),  # PKCS#8 hides it
        ("rsa2048-legacy-enc.key", "PEM", "RSA PRIVATE KEY", "RSA", None, None, True),
        ("device.der", "DER", "DER", "RSA", 2048, None, False),
    }
    assert all(k.private and not k.ssh_host_key for k in m.keys)
    by_name = {k.path.rsplit("/", 1)[1]: k for k in m.keys}
    for name in names[:6]:  # the SPKI digest openssl computes
        assert by_name[name].fingerprint == by_name[name].spki_sha256 == art.fingerprints[name]
    assert by_name["device.der"].fingerprint == art.fingerprints["rsa2048.key"]
    assert by_name["rsa2048-enc.key"].fingerprint.startswith("encrypted-blob-sha256:")
    assert {(k.line, k.offset) for k in m.keys} == {(1, 0), (None, 0)}
    assert m.unparsed == () and m.examined == m.offered


def test_ssh_keys_openssh_and_dropbear(tmp_path: Path, art: KeyArtefacts) -> None:
    files: dict[str, str | bytes] = {f"/etc/ssh/{n}": art[n] for n in (
        "ssh_host_ed25519_key", "ssh_host_rsa_key", "ssh_host_dsa_key", "ssh_host_ecdsa_key")}
    files |= {f"/etc/dropbear/{n}": art[n] for n in (
        "dropbear_rsa_host_key", "dropbear_ed25519_host_key")}
    files["/usr/lib/rescue/hostkey.bin"] = art["dropbear_ecdsa_host_key"]  # found by its format, anywhere
    files["/root/.ssh/id_ed25519"] = art["id_ed25519"]  # passphrase-protected user key
    files["/etc/ssh/ssh_host_key"] = art["old_ssh_host_rsa_key"]  # PEM, as OpenSSH < 7.8 wrote it
    files["/etc/ssh/ssh_host_ed25519_key.pub"] = art["ssh_host_ed25519_key.pub"]  # public: not key material
    m = scan(tmp_path, files)
    got = {(k.path, k.container, k.algorithm, k.bits, k.encrypted, k.ssh_host_key, k.fingerprint) for k in m.keys}
    fp = art.fingerprints
    assert got == {
        ("/etc/ssh/ssh_host_ed25519_key", "OpenSSH", "Ed25519", 256, False, True, fp["ssh_host_ed25519_key"]),
        ("/etc/ssh/ssh_host_rsa_key", "OpenSSH", "RSA", 2048, False, True, fp["ssh_host_rsa_key"]),
        ("/etc/ssh/ssh_host_dsa_key", "OpenSSH", "DSA", 1024, False, True, fp["ssh_host_dsa_key"]),
        ("/etc/ssh/ssh_host_ecdsa_key", "OpenSSH", "EC", 256, False, True, fp["ssh_host_ecdsa_key"]),
        ("/etc/dropbear/dropbear_rsa_host_key", "dropbear", "RSA", 1024, False, True, fp["dropbear_rsa_host_key"]),
        ("/etc/dropbear/dropbear_ed25519_host_key", "dropbear", "Ed25519", 256, False, True,
         fp["dropbear_ed25519_host_key"]),
        ("/usr/lib/rescue/hostkey.bin", "dropbear", "EC", 256, False, True, fp["dropbear_ecdsa_host_key"]),
        ("/root/.ssh/id_ed25519", "OpenSSH", "Ed25519", 256, True, False, fp["id_ed25519"]),
        ("/etc/ssh/ssh_host_key", "PEM", "RSA", 2048, False, True, fp["old_ssh_host_rsa_key"]),  # SSH-style
    }
    assert m.unparsed == ()


def test_pem_public_key_is_not_private(tmp_path: Path, art: KeyArtefacts) -> None:
    m = scan(tmp_path, {"/etc/update/verify.pem": art["rsa2048.pub.pem"]})
    [key] = m.keys
    assert (key.private, key.algorithm, key.bits, key.fingerprint) == (False, "RSA", 2048,
                                                                      art.fingerprints["rsa2048.key"])
    assert m.private_keys() == ()


# ---------------------------------------------------------------- certificates


def test_certificate_facts(tmp_path: Path, art: KeyArtefacts) -> None:
    names = ("server.crt", "expired.crt", "future.crt", "leaf-sha1.crt", "leaf-md5.crt", "root-sha1.crt",
             "leaf-weak.crt", "ca.crt")
    files: dict[str, str | bytes] = {f"/etc/certs/{n}": art[n] for n in names}
    files["/etc/certs/server.der"] = art["server.der"]
    m = scan(tmp_path, files)
    got = {(c.path.rsplit("/", 1)[1], c.subject, c.self_signed, c.ca, c.signature_hash, c.key_algorithm, c.key_bits)
           for c in m.certificates}
    assert got == {
        ("server.crt", "CN=camera.local", True, False, "sha256", "RSA", 2048),
        ("server.der", "CN=camera.local", True, False, "sha256", "RSA", 2048),
        ("expired.crt", "CN=expired.camera.local", True, False, "sha256", "RSA", 2048),
        ("future.crt", "CN=future.camera.local", True, False, "sha256", "RSA", 2048),
        ("leaf-sha1.crt", "CN=leaf-sha1.vendor.example", False, False, "sha1", "EC", 256),
        ("leaf-md5.crt", "CN=leaf-md5.vendor.example", False, False, "md5", "EC", 256),
        ("root-sha1.crt", "CN=Old Vendor Root", True, True, "sha1", "RSA", 2048),
        ("leaf-weak.crt", "CN=leaf-weak.vendor.example", False, False, "sha256", "RSA", 1024),
        ("ca.crt", "CN=Vendor Device CA", True, True, "sha256", "EC", 256),
    }
    by_name = {c.path.rsplit("/", 1)[1]: c for c in m.certificates}
    for name in names:
        assert by_name[name].fingerprint == art.fingerprints[name]
    expired = by_name["expired.crt"]
    assert (expired.not_before.isoformat(), expired.not_after.isoformat()) == (
        "2010-01-01T00:00:00+00:00", "2011-01-01T00:00:00+00:00")
    assert by_name["future.crt"].not_before.year == 2040
    assert by_name["leaf-md5.crt"].issuer == "CN=Old Vendor Root"
    assert by_name["leaf-md5.crt"].signature_algorithm == "md5WithRSAEncryption"
    assert m.keys == ()


def test_trust_stores_are_public_material(tmp_path: Path, art: KeyArtefacts) -> None:
    if "ca-certificates.crt" not in {p.name for p in art.directory.iterdir()}:
        pytest.skip("the host has no /etc/ssl/certs/ca-certificates.crt to copy")
    bundle = art["ca-certificates.crt"]
    files: dict[str, str | bytes] = {
        "/etc/ssl/certs/ca-certificates.crt": bundle,
        "/etc/cloud/roots.pem": art["ca.crt"] + art["root-sha1.crt"],  # a file of CA certificates only
        "/etc/cloud/chain.pem": art["leaf-sha1.crt"] + art["ca.crt"],  # the device's chain: its own
        "/etc/ssl/certs/ssl-cert-snakeoil.pem": art["server.crt"],  # a server certificate in the certs dir
        "/etc/lighttpd/server.pem": art["ec256.key"] + art["default.crt"],  # key and CA-flagged cert
        "/etc/lighttpd/default.crt": art["default.crt"],  # the same, alone: its key is in the image
    }
    m = scan(tmp_path, files)
    in_bundle = [c for c in m.certificates if c.path == "/etc/ssl/certs/ca-certificates.crt"]
    assert len(in_bundle) == bundle.count(b"-----BEGIN CERTIFICATE-----") > 50
    assert all(c.trust_anchor and c.public_material for c in in_bundle)
    others = {(c.path, c.subject, c.public_material) for c in m.certificates if c not in in_bundle}
    assert others == {
        ("/etc/cloud/roots.pem", "CN=Vendor Device CA", True),
        ("/etc/cloud/roots.pem", "CN=Old Vendor Root", True),
        ("/etc/cloud/chain.pem", "CN=leaf-sha1.vendor.example", False),
        ("/etc/cloud/chain.pem", "CN=Vendor Device CA", False),
        ("/etc/ssl/certs/ssl-cert-snakeoil.pem", "CN=camera.local", False),
        ("/etc/lighttpd/server.pem", "CN=lighttpd", False),
        ("/etc/lighttpd/default.crt", "CN=lighttpd", False),  # all-CA file, but its key ships: not public
    }
    default = next(c for c in m.certificates if c.path == "/etc/lighttpd/default.crt")
    assert default.trust_anchor and default.key_in_image


# ---------------------------------------------------------------- where keys hide


def test_keys_pasted_into_code_and_json(tmp_path: Path, art: KeyArtefacts) -> None:
    header = "/* device credentials */\n#include <stddef.h>\n\n" + keymaterial.c_source(art.text("ec256.key"))
    config = json.dumps({"endpoint": "mqtts://iot.vendor.example", "private_key": art.text("ed25519.key"),
                         "certificate": art.text("leaf-sha256.crt")}, indent=1)
    script = "#!/bin/sh\ncat > /tmp/k <<EOF\n" + art.text("rsa2048.key") + "EOF\n"
    m = scan(tmp_path, {"/usr/include/vendor/creds.h": header, "/etc/cloud.json": config, "/etc/init.d/k": script})
    got = {(k.path, k.line, k.offset, k.fingerprint) for k in m.keys}
    fp = art.fingerprints
    assert got == {("/usr/include/vendor/creds.h", 5, header.index("-----BEGIN"), fp["ec256.key"]),
                   ("/etc/cloud.json", 3, config.index("-----BEGIN"), fp["ed25519.key"]),
                   ("/etc/init.d/k", 3, script.index("-----BEGIN"), fp["rsa2048.key"])}
    [cert] = m.certificates
    assert (cert.path, cert.line, cert.fingerprint) == ("/etc/cloud.json", 4, fp["leaf-sha256.crt"])


def test_keys_compiled_into_an_elf(tmp_path: Path, art: KeyArtefacts) -> None:
    elf = keymaterial.elf_with_keys(art.directory / "elf", art.text("rsa1024.key"), art.text("server.crt"))
    m = scan(tmp_path, {"/usr/bin/cloud-agent": elf})
    [key] = m.keys
    assert (key.path, key.line, key.algorithm, key.bits, key.fingerprint) == (
        "/usr/bin/cloud-agent", None, "RSA", 1024, art.fingerprints["rsa1024.key"])
    assert key.offset == elf.index(b"-----BEGIN PRIVATE KEY-----")
    [cert] = m.certificates
    assert cert.offset == elf.index(b"-----BEGIN CERTIFICATE-----") and cert.line is None


def test_look_alikes_are_not_keys(tmp_path: Path, art: KeyArtefacts) -> None:
    files: dict[str, str | bytes] = {
        "/etc/ssl/private/placeholder.key": keymaterial.garbage_key(),  # prose: not even a note
        "/lib/firmware/blob.bin": keymaterial.split_by_binary(art["rsa2048.key"]),
        "/etc/ssl/private/cut.pem": art["rsa2048.key"][:600],  # no END line
        "/etc/ssl/certs/only.pem": art["server.crt"],
        "/etc/ec.pem": b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n",
        "/etc/req.csr": b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
        "/etc/ssl/openssl.cnf": "# keys start with -----BEGIN PRIVATE KEY----- and end with the END line\n",
        "/etc/random.der": b"\x30\x82\x01\x00" + bytes(range(256)),  # an ASN.1 header over noise: a note
    }
    m = scan(tmp_path, files)
    assert m.keys == ()
    assert [c.path for c in m.certificates] == ["/etc/ssl/certs/only.pem"]
    notes = sorted(n.split(":")[0] for n in m.unparsed)
    assert notes == ["/etc/random.der@0x0", "/etc/ssl/private/cut.pem@0x0",
                     f"/lib/firmware/blob.bin@0x{keymaterial.split_by_binary(art['rsa2048.key']).index(b'-----'):x}"]
    assert all("does not parse" in n for n in m.unparsed)


# ---------------------------------------------------------------- cost and bounds


def test_wants_is_cheap_and_selective() -> None:
    s = KeyScanner()
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * HEAD
    assert s.wants("/etc/x.conf", FileKind.TEXT, None, b"a=b\n")
    assert s.wants("/bin/x", FileKind.ELF, None, b"\x7fELF" + b"\0" * HEAD)
    assert s.wants("/www/logo.png", FileKind.BINARY, None, big[:100])  # small: already in memory
    assert not s.wants("/www/logo.png", FileKind.BINARY, None, big[:HEAD])  # large, nothing key-like
    assert s.wants("/etc/device.key", FileKind.BINARY, None, big[:HEAD])  # the name
    assert s.wants("/etc/blob", FileKind.BINARY, None, b"\x30\x82\x04\x00" + b"\0" * HEAD)  # a DER header
    assert s.wants("/etc/blob", FileKind.BINARY, None, b"\0\0\0\x07ssh-rsa" + b"\0" * HEAD)  # dropbear
    assert s.wants("/etc/blob", FileKind.BINARY, None, b"\0" * 100 + b"-----BEGIN " + b"\0" * HEAD)
    assert s.offered == 8


def test_large_files_are_bounded(tmp_path: Path, art: KeyArtefacts) -> None:
    filler = b"option value 1\n" * (1 << 19)  # 7.5 MiB of configuration
    hostile = b"-----BEGIN CERTIFICATE-----\n" * 300_000  # 8 MiB of headers without an END
    scanner = KeyScanner()
    start = time.monotonic()
    m = scan(tmp_path, {"/etc/big.conf": filler + art["ec256.key"], "/etc/hostile.pem": hostile,
                        "/etc/over.conf": filler + filler + art["ed25519.key"]}, scanner)
    assert time.monotonic() - start < 10
    assert [k.path for k in m.keys] == ["/etc/big.conf"]  # the one beyond 8 MiB is out of reach
    assert m.keys[0].line == (1 << 19) + 1
    assert any(t.startswith("/etc/over.conf: searched only the first") for t in m.truncated)
    assert f"/etc/hostile.pem: only the first {MAX_ITEMS} PEM blocks" in m.truncated
    assert len(m.unparsed) <= 500


def test_counts_what_it_looked_at(tmp_path: Path) -> None:
    m = scan(tmp_path, {"/etc/hostname": "camera\n", "/etc/banner": "welcome\n"})
    assert (m.keys, m.certificates) == ((), ())
    assert m.offered == m.examined == 3  # with the skeleton's /bin/busybox


# ---------------------------------------------------------------- hostile input never raises


def _fed(data: bytes, kind: FileKind = FileKind.BINARY, path: str = "/x") -> KeyMaterial:
    s = KeyScanner()
    s.feed(blob(data, kind, path))
    return s.result()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096), st.sampled_from(list(FileKind)), st.sampled_from(["/x", "/etc/dropbear/k.der"]))
def test_random_bytes_never_raise(data: bytes, kind: FileKind, path: str) -> None:
    _fed(data, kind, path)
    _fed(b"-----BEGIN PRIVATE KEY-----\n" + data + b"\n-----END PRIVATE KEY-----\n", kind, path)
    _fed(b"-----BEGIN OPENSSH PRIVATE KEY-----\n" + data + b"\n-----END OPENSSH PRIVATE KEY-----\n", kind, path)
    _fed(b"\0\0\0\x07ssh-rsa" + data, kind, "/etc/dropbear/dropbear_rsa_host_key")
    _fed(b"\x30\x82" + len(data).to_bytes(2, "big") + data, kind, path)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_truncated_and_mutated_real_material_never_raises(art: KeyArtefacts, data: st.DataObject) -> None:
    import base64

    name = data.draw(st.sampled_from(["rsa2048.key", "ssh_host_rsa_key", "id_ed25519", "server.crt", "dsa1024.key",
                                      "rsa2048-legacy-enc.key", "dropbear_rsa_host_key", "server.der",
                                      "dropbear_ed25519_host_key", "rsa2048.der"]))
    raw = art[name]
    cut = data.draw(st.integers(0, len(raw)))
    _fed(raw[:cut])
    if raw.startswith(b"-----"):  # mutate the DER inside the armour, re-armour it (hostile DER, valid PEM)
        lines = raw.decode().strip().splitlines()
        label = lines[0]
        der = bytearray(base64.b64decode("".join(x for x in lines[1:-1] if ":" not in x)))
    else:
        label, der = "", bytearray(raw)
    for _ in range(data.draw(st.integers(1, 8))):
        der[data.draw(st.integers(0, len(der) - 1))] = data.draw(st.integers(0, 255))
    mutated = bytes(der)
    if label:
        mutated = (label + "\n" + base64.encodebytes(mutated).decode() + label.replace("BEGIN", "END") + "\n").encode()
    _fed(mutated, FileKind.TEXT, "/etc/ssh/ssh_host_rsa_key")
