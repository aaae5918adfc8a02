"""Signed assessments: Ed25519 over RFC 8785 canonical JSON. Re-formatting the JSON keeps a signature valid;
any change to its content, to the signature file or to the key breaks it, each with its own message.

The assessment is a real one: the bundled example camera (scripts/build-example.sh, as `make demo` builds
it) assessed with its declaration by the real pipeline. OpenSSL checks the signatures independently.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iotcop.api import assess_firmware
from iotcop.catalogue import load_catalogue
from iotcop.declaration import load_declaration
from iotcop.errors import InputError, UsageError
from iotcop.model import Assessment
from iotcop.reports.json import render_json
from iotcop.reports.signing import (
    VerifyProblem,
    canonical_json,
    canonical_sha256,
    generate_keypair,
    key_id,
    load_private_key,
    load_public_key,
    read_signature,
    sign,
    verification_code,
    verification_code_of,
    verify,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))  # no conftest of our own here
from fwimages import require_tool

REPO = Path(__file__).resolve().parents[2]
FIXED = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
CODE = re.compile(r"^[0-9ABCDEFGHJKMNPQRSTVWXYZ]{5}-[0-9ABCDEFGHJKMNPQRSTVWXYZ]{5}$")


def example_assessment() -> Assessment:
    require_tool("mksquashfs")
    image = subprocess.run([str(REPO / "scripts" / "build-example.sh")], check=True, capture_output=True,
                           text=True).stdout.strip()
    catalogue = load_catalogue()
    declaration = load_declaration(REPO / "examples" / "smart-camera" / "declaration.yaml", catalogue)
    return assess_firmware(Path(image), declaration, catalogue=catalogue, use_cache=False, clock=lambda: FIXED)


@pytest.fixture(scope="session")
def report() -> bytes:
    return render_json(example_assessment())


KEY_A = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"iotcop test key A").digest())
KEY_B = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"iotcop test key B").digest())


@pytest.fixture(scope="session")
def signature(report: bytes) -> bytes:
    return sign(report, KEY_A)


def problem(report: bytes, signature: bytes, key: Ed25519PrivateKey = KEY_A) -> VerifyProblem | None:
    return verify(report, signature, key.public_key()).problem


# --- the good path ---------------------------------------------------------------------------------------


def test_a_signed_report_verifies_and_gives_a_verification_code(report: bytes, signature: bytes) -> None:
    result = verify(report, signature, KEY_A.public_key())
    assert result.valid and result.problem is None
    assert result.key_id == key_id(KEY_A.public_key()) and result.key_id in result.message
    assert result.verification_code is not None and CODE.match(result.verification_code)
    assert result.verification_code == verification_code_of(signature)
    assert sign(report, KEY_A) == signature  # Ed25519 is deterministic: same report, same key, same bytes


def test_the_signature_file_says_what_was_signed(report: bytes, signature: bytes) -> None:
    doc = json.loads(signature)
    assert set(doc) == {"format", "algorithm", "canonicalization", "key_id", "assessment_sha256", "tool", "signature"}
    assert (doc["format"], doc["algorithm"]) == ("iotcop-signature/1", "Ed25519")
    raw = KEY_A.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert doc["key_id"] == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert doc["assessment_sha256"] == hashlib.sha256(canonical_json(json.loads(report))).hexdigest()
    assert doc["tool"]["name"] == "iotcop" and len(base64.b64decode(doc["signature"])) == 64


def test_openssl_verifies_the_signature_independently(signature: bytes, tmp_path: Path) -> None:
    require_tool("openssl")
    doc = json.loads(signature)
    (tmp_path / "payload").write_bytes(canonical_json({k: v for k, v in doc.items() if k != "signature"}))
    (tmp_path / "sig.bin").write_bytes(base64.b64decode(doc["signature"]))
    (tmp_path / "pub.pem").write_bytes(KEY_A.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    done = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "payload",
                           "-sigfile", "sig.bin"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0 and "Signature Verified Successfully" in done.stdout


def test_a_key_made_by_openssl_signs(report: bytes, tmp_path: Path) -> None:
    require_tool("openssl")
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", "k.pem"], cwd=tmp_path, check=True)
    subprocess.run(["openssl", "pkey", "-in", "k.pem", "-pubout", "-out", "k.pub"], cwd=tmp_path, check=True)
    signed = sign(report, load_private_key((tmp_path / "k.pem").read_bytes()))
    assert verify(report, signed, load_public_key((tmp_path / "k.pub").read_bytes())).valid


# --- canonical JSON: formatting does not matter, content does ---------------------------------------------


def test_canonical_json_follows_rfc_8785() -> None:
    """The example of RFC 8785 section 3.2.2 (numbers as ECMAScript prints them, sorted keys, minimal escapes)."""
    value = json.loads('{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], '
                       '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", '
                       '"literals": [null, true, false]}')
    assert canonical_json(value) == ('{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,'
                                     '1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}').encode()


@pytest.mark.parametrize("style", ["compact", "indent4", "sorted", "ascii", "crlf"])
def test_reformatting_the_json_keeps_the_signature_valid(report: bytes, signature: bytes, style: str) -> None:
    data = json.loads(report)
    text = {"compact": lambda: json.dumps(data, separators=(",", ":"), ensure_ascii=False),
            "indent4": lambda: json.dumps(data, indent=4, ensure_ascii=False),
            "sorted": lambda: json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False),
            "ascii": lambda: json.dumps(data, ensure_ascii=True),  # \u escapes: the same strings
            "crlf": lambda: json.dumps(data, indent=2, ensure_ascii=False).replace("\n", "\r\n")}[style]()
    assert text.encode() != report
    assert problem(text.encode(), signature) is None


def edit(report: bytes, change: object) -> bytes:
    data = json.loads(report)
    change(data)  # type: ignore[operator]
    return json.dumps(data, indent=2, ensure_ascii=False).encode()


def test_flipping_one_byte_of_a_finding_message_fails(report: bytes, signature: bytes) -> None:
    message = json.loads(report)["findings"][0]["message"].encode()
    at = report.index(message) + message.index(b"root")
    tampered = report[:at] + b"R" + report[at + 1:]  # 'root' -> 'Root'
    result = verify(tampered, signature, KEY_A.public_key())
    assert result.problem is VerifyProblem.REPORT_CHANGED
    assert result.message.startswith("the report was changed after signing")


def test_changing_a_verdict_fails(report: bytes, signature: bytes) -> None:
    def pass_it(data: dict) -> None:  # type: ignore[type-arg]
        [verdict] = [v for v in data["verdicts"] if (v["framework"], v["requirement_id"]) == ("psti", "sch1-1")]
        assert verdict["outcome"] == "FAIL"
        verdict["outcome"] = "PASS"
    assert problem(edit(report, pass_it), signature) is VerifyProblem.REPORT_CHANGED


@pytest.mark.parametrize("change", [
    lambda d: d["findings"].pop(),  # a finding hidden
    lambda d: d["target"].update(version="1.0.4"),  # claimed for another version
    lambda d: d.update(generated_at="2027-01-01T00:00:00+00:00"),
    lambda d: d["findings"][0]["evidence"].update(excerpt=d["findings"][0]["evidence"]["excerpt"] + " "),
    lambda d: d.update(extra=None),  # a member added
    lambda d: d["findings"].reverse(),  # order is content too
], ids=["finding-removed", "version", "time", "trailing-space-in-a-string", "member-added", "reordered-list"])
def test_any_content_change_fails(report: bytes, signature: bytes, change: object) -> None:
    assert problem(edit(report, change), signature) is VerifyProblem.REPORT_CHANGED


def test_a_duplicated_key_is_not_accepted(report: bytes, signature: bytes) -> None:
    """Parsers disagree on which of two equal keys wins, so a report with one is never valid."""
    duplicated = report.replace(b'"generated_at"', b'"generated_at": "2030-01-01", "generated_at"', 1)
    result = verify(duplicated, signature, KEY_A.public_key())
    assert result.problem is VerifyProblem.REPORT_CHANGED and "duplicate key 'generated_at'" in result.message


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_a_flipped_byte_verifies_only_if_the_content_is_unchanged(report: bytes, signature: bytes,
                                                                  data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(report) - 1))
    mask = data.draw(st.integers(1, 255))
    tampered = report[:at] + bytes([report[at] ^ mask]) + report[at + 1:]
    result = verify(tampered, signature, KEY_A.public_key())
    if result.valid:  # only a whitespace byte turned into other whitespace
        assert json.loads(tampered) == json.loads(report)
    else:
        assert result.problem is VerifyProblem.REPORT_CHANGED


# --- keys and signature files ------------------------------------------------------------------------------


def test_signed_by_another_key(report: bytes) -> None:
    result = verify(report, sign(report, KEY_B), KEY_A.public_key())
    assert result.problem is VerifyProblem.WRONG_KEY
    assert result.message == (f"signed by a different key (key id {key_id(KEY_B.public_key())}, "
                              f"expected {key_id(KEY_A.public_key())})")


def test_a_key_id_rewritten_to_the_expected_one_is_caught(report: bytes) -> None:
    doc = json.loads(sign(report, KEY_B))
    doc["key_id"] = key_id(KEY_A.public_key())
    assert problem(report, json.dumps(doc).encode()) is VerifyProblem.SIGNATURE_ALTERED


def test_a_changed_report_with_its_digest_updated_in_the_signature_file_is_caught(report: bytes,
                                                                                  signature: bytes) -> None:
    tampered = edit(report, lambda d: d["findings"].pop())
    doc = json.loads(signature)
    doc["assessment_sha256"] = canonical_sha256(tampered)
    result = verify(tampered, json.dumps(doc).encode(), KEY_A.public_key())
    assert result.problem is VerifyProblem.SIGNATURE_ALTERED and "signature file was altered" in result.message


def test_a_flipped_bit_in_the_signature_is_caught(report: bytes, signature: bytes) -> None:
    doc = json.loads(signature)
    raw = bytearray(base64.b64decode(doc["signature"]))
    raw[10] ^= 1
    doc["signature"] = base64.b64encode(bytes(raw)).decode()
    assert problem(report, json.dumps(doc).encode()) is VerifyProblem.SIGNATURE_ALTERED


@pytest.mark.parametrize("cut", [0, 1, 40, -60, -2])
def test_a_truncated_signature_file_is_not_a_signature(report: bytes, signature: bytes, cut: int) -> None:
    result = verify(report, signature[:cut], KEY_A.public_key())
    assert result.problem is VerifyProblem.NOT_A_SIGNATURE and result.message.startswith("not a signature file")


def test_a_truncated_signature_value_is_not_a_signature(report: bytes, signature: bytes) -> None:
    doc = json.loads(signature)
    doc["signature"] = doc["signature"][:44]
    result = verify(report, json.dumps(doc).encode(), KEY_A.public_key())
    assert result.problem is VerifyProblem.NOT_A_SIGNATURE and "has 33 bytes" in result.message


def test_wrong_file_types(report: bytes, signature: bytes, tmp_path: Path) -> None:
    pem = KEY_A.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    for not_a_signature in (report, pem, png, b"[]", b'{"format": "iotcop-signature/2"}', b"\xff\xfe{}"):
        assert problem(report, not_a_signature) is VerifyProblem.NOT_A_SIGNATURE
    for not_the_report in (signature, png, pem, b""):  # the signature given as the report, ...
        assert problem(not_the_report, signature) is VerifyProblem.REPORT_CHANGED
    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(UsageError, match="not an Ed25519 key"):
        load_private_key(rsa_pem)
    with pytest.raises(UsageError, match="not a PEM public key"):
        load_public_key(rsa_pem)  # a private key given as the public one
    with pytest.raises(UsageError, match="not a PEM private key"):
        load_private_key(pem)
    with pytest.raises(UsageError, match="not a PEM public key"):
        load_public_key(report)


@pytest.mark.parametrize("document", [b"not json", b'{"a": 1}', b'{"tool": {}, "tool": {}}', b"[1, NaN]"])
def test_only_assessments_are_signed(document: bytes) -> None:
    with pytest.raises(InputError, match="not a valid iotcop assessment"):
        sign(document, KEY_A)


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.binary(max_size=400),
                 st.dictionaries(st.sampled_from(["format", "algorithm", "key_id", "signature", "tool",
                                                  "assessment_sha256", "canonicalization"]),
                                 st.one_of(st.just("iotcop-signature/1"), st.just("Ed25519"), st.text(max_size=90),
                                           st.integers(), st.none(), st.dictionaries(st.text(), st.text())))
                 .map(lambda d: json.dumps(d).encode())))
def test_any_bytes_as_a_signature_file_give_an_answer_never_a_crash(data: bytes) -> None:
    result = verify(b'{"a": 1}', data, KEY_A.public_key())
    assert not result.valid and result.message


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_as_a_report_give_an_answer_never_a_crash(data: bytes) -> None:
    assert verify(data, sign(render_json_minimal(), KEY_A), KEY_A.public_key()).problem is VerifyProblem.REPORT_CHANGED


def render_json_minimal() -> bytes:
    from iotcop.model import CatalogueRef, Target, ToolInfo

    return render_json(Assessment(tool=ToolInfo(version="0"), target=Target(kind="firmware", name="fw.bin"),
                                  generated_at="2026-11-25T12:00:00+00:00", inputs=(),
                                  catalogues=(CatalogueRef(framework="x", title="x", version="1", sha256="0"),),
                                  check_runs=(), findings=(), verdicts=(), summary=()))


def test_generated_key_files(tmp_path: Path) -> None:
    private, public = tmp_path / "k", tmp_path / "k.pub"
    kid = generate_keypair(private, public)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    key = load_private_key(private.read_bytes())
    assert key_id(key.public_key()) == kid == key_id(load_public_key(public.read_bytes()))


def test_an_encrypted_private_key_needs_its_passphrase(tmp_path: Path) -> None:
    private, public = tmp_path / "k", tmp_path / "k.pub"
    generate_keypair(private, public, passphrase=b"correct horse")
    pem = private.read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert load_private_key(pem, b"correct horse")
    with pytest.raises(UsageError, match=r"encrypted: set its passphrase in \$IOTCOP_KEY_PASSPHRASE"):
        load_private_key(pem)
    with pytest.raises(UsageError, match="passphrase is wrong"):
        load_private_key(pem, b"battery staple")


def test_existing_key_files_are_kept_unless_forced(tmp_path: Path) -> None:
    private, public = tmp_path / "k", tmp_path / "k.pub"
    public.write_bytes(b"precious")
    with pytest.raises(UsageError, match="exists: not overwriting it"):
        generate_keypair(private, public)
    assert not private.exists() and public.read_bytes() == b"precious"  # nothing half-written
    private.write_bytes(b"old")
    private.chmod(0o644)
    generate_keypair(private, public, force=True)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600 and public.read_bytes() != b"precious"
    assert load_private_key(private.read_bytes())


def test_a_symlink_in_place_of_the_key_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"do not touch")
    os.symlink(victim, tmp_path / "k")
    with pytest.raises(UsageError, match="exists"):
        generate_keypair(tmp_path / "k", tmp_path / "k.pub")
    generate_keypair(tmp_path / "k", tmp_path / "k.pub", force=True)
    assert victim.read_bytes() == b"do not touch" and not (tmp_path / "k").is_symlink()


# --- the verification code ---------------------------------------------------------------------------------


def crockford_reference(signature: bytes) -> str:
    """An independent spelling: the first 50 bits of SHA-256 as a bit string, 5 bits a character."""
    bits = "".join(f"{b:08b}" for b in hashlib.sha256(signature).digest())[:50]
    chars = "".join("0123456789ABCDEFGHJKMNPQRSTVWXYZ"[int(bits[i:i + 5], 2)] for i in range(0, 50, 5))
    return f"{chars[:5]}-{chars[5:]}"


@given(st.binary(min_size=64, max_size=64))
def test_the_verification_code(signature: bytes) -> None:
    code = verification_code(signature)
    assert CODE.match(code) and code == crockford_reference(signature)


def test_the_verification_code_of_a_file(signature: bytes) -> None:
    assert verification_code_of(signature) == verification_code(read_signature(signature)[1])
    with pytest.raises(UsageError, match="not a signature file"):
        verification_code_of(b"{}")
