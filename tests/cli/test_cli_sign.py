"""``iotcop keys generate``, ``iotcop sign`` and ``iotcop verify`` through Typer's CliRunner.

The commands are mounted here as iotcop/cli.py mounts them (``keys`` sub-app, ``sign`` and ``verify``
commands). The report is the one ``iotcop assess firmware`` writes for the bundled example camera.
Exit codes: verify 0 valid, 1 does not verify (with the reason), 2 usage; sign 3 for a non-assessment.
"""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import pytest
import typer
from clitools import ANSI, invoke
from fwimages import require_tool
from typer.testing import CliRunner, Result

from iotcop.cli_sign import keys_app, sign_cmd, verify_cmd

REPO = Path(__file__).resolve().parents[2]
DECLARATION = REPO / "examples" / "smart-camera" / "declaration.yaml"

app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
app.add_typer(keys_app, name="keys")
app.command("sign")(sign_cmd)
app.command("verify")(verify_cmd)


def run(*args: str, passphrase: str | None = None) -> Result:
    env = {"COLUMNS": "250", "NO_COLOR": "1", "FORCE_COLOR": None, "IOTCOP_KEY_PASSPHRASE": passphrase}
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


def text(result: Result) -> str:
    return ANSI.sub("", result.stdout + result.stderr)


@pytest.fixture(scope="module")
def assessed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """assessment.json as `iotcop assess firmware` writes it for the example camera."""
    require_tool("mksquashfs")
    image = subprocess.run([str(REPO / "scripts" / "build-example.sh")], check=True, capture_output=True,
                           text=True).stdout.strip()
    out = tmp_path_factory.mktemp("assessed")
    result = invoke("assess", "firmware", image, "--declaration", str(DECLARATION), "-o", str(out), "-q")
    assert result.exit_code == 1, result.output  # a mandatory requirement fails, as it should for the example
    return out / "assessment.json"


@pytest.fixture()
def work(assessed: Path, tmp_path: Path) -> Path:
    (tmp_path / "assessment.json").write_bytes(assessed.read_bytes())
    assert run("keys", "generate", "--private", str(tmp_path / "a.key")).exit_code == 0
    assert run("keys", "generate", "--private", str(tmp_path / "b.key")).exit_code == 0
    return tmp_path


def test_keys_generate(tmp_path: Path) -> None:
    result = run("keys", "generate", "--private", str(tmp_path / "k"), "--public", str(tmp_path / "p.pem"))
    assert result.exit_code == 0
    assert "NOT encrypted" in text(result) and "key id sha256:" in text(result)
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600
    assert (tmp_path / "p.pem").read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    again = run("keys", "generate", "--private", str(tmp_path / "k"), "--public", str(tmp_path / "p.pem"))
    assert again.exit_code == 2 and "exists: not overwriting it (use --force" in text(again)
    forced = run("keys", "generate", "--private", str(tmp_path / "k"), "--public", str(tmp_path / "p.pem"),
                 "--force", "--format", "json")
    assert forced.exit_code == 0 and json.loads(forced.stdout)["encrypted"] is False


def test_sign_and_verify(work: Path) -> None:
    report = str(work / "assessment.json")
    signed = run("sign", report, "--key", str(work / "a.key"))
    assert signed.exit_code == 0 and (work / "assessment.json.sig").is_file()
    code = text(signed).rsplit("verification code ", 1)[1].strip()
    verified = run("verify", report, "--signature", str(work / "assessment.json.sig"),
                   "--public-key", str(work / "a.key.pub"))
    assert verified.exit_code == 0 and "valid: signed by key sha256:" in text(verified) and code in text(verified)
    as_json = run("verify", report, "--public-key", str(work / "a.key.pub"), "--format", "json")
    assert as_json.exit_code == 0
    assert json.loads(as_json.stdout) | {"key_id": None, "message": None} == {
        "valid": True, "problem": None, "verification_code": code, "key_id": None, "message": None}
    again = run("sign", report, "--key", str(work / "a.key"))
    assert again.exit_code == 2 and "exists" in text(again)


def test_a_reformatted_report_still_verifies(work: Path) -> None:
    report = work / "assessment.json"
    assert run("sign", str(report), "--key", str(work / "a.key")).exit_code == 0
    report.write_text(json.dumps(json.loads(report.read_bytes()), sort_keys=True, separators=(",", ":")))
    assert run("verify", str(report), "--public-key", str(work / "a.key.pub")).exit_code == 0


def test_a_changed_report_does_not_verify(work: Path) -> None:
    report = work / "assessment.json"
    assert run("sign", str(report), "--key", str(work / "a.key")).exit_code == 0
    data = json.loads(report.read_bytes())
    data["findings"][0]["message"] = data["findings"][0]["message"].replace("root", "toor", 1)
    report.write_text(json.dumps(data, indent=2))
    result = run("verify", str(report), "--public-key", str(work / "a.key.pub"))
    assert result.exit_code == 1
    assert "does not verify: the report was changed after signing" in text(result)


def test_another_key_does_not_verify(work: Path) -> None:
    report = str(work / "assessment.json")
    assert run("sign", report, "--key", str(work / "b.key")).exit_code == 0
    result = run("verify", report, "--public-key", str(work / "a.key.pub"))
    assert result.exit_code == 1 and "signed by a different key (key id sha256:" in text(result)


@pytest.mark.parametrize("signature", ["truncated", "the report", "a key"])
def test_not_a_signature_file(work: Path, signature: str) -> None:
    report = work / "assessment.json"
    assert run("sign", str(report), "--key", str(work / "a.key")).exit_code == 0
    sig = work / "assessment.json.sig"
    source = {"truncated": sig.read_bytes()[:100], "the report": report.read_bytes(),
              "a key": (work / "a.key.pub").read_bytes()}[signature]
    (work / "other.sig").write_bytes(source)
    result = run("verify", str(report), "--signature", str(work / "other.sig"), "--public-key",
                 str(work / "a.key.pub"))
    assert result.exit_code == 1 and "does not verify: not a signature file" in text(result)


def test_usage_errors(work: Path) -> None:
    report = str(work / "assessment.json")
    missing = run("verify", report, "--signature", str(work / "none.sig"), "--public-key", str(work / "a.key.pub"))
    assert missing.exit_code == 2 and "cannot read the signature file" in text(missing)
    assert run("sign", report, "--key", str(work / "a.key")).exit_code == 0
    private_as_public = run("verify", report, "--public-key", str(work / "a.key"))
    assert private_as_public.exit_code == 2 and "not a PEM public key" in text(private_as_public)
    public_as_private = run("sign", report, "--key", str(work / "a.key.pub"), "--force")
    assert public_as_private.exit_code == 2 and "not a PEM private key" in text(public_as_private)
    assert run("verify", report).exit_code == 2  # --public-key is required


def test_only_an_assessment_is_signed(work: Path) -> None:
    (work / "sbom.json").write_text('{"bomFormat": "CycloneDX"}')
    result = run("sign", str(work / "sbom.json"), "--key", str(work / "a.key"))
    assert result.exit_code == 3 and "not a valid iotcop assessment" in text(result)
    assert not (work / "sbom.json.sig").exists()


def test_an_encrypted_key(work: Path) -> None:
    key = work / "enc.key"
    made = run("keys", "generate", "--private", str(key), "--format", "json", passphrase="s3cret phrase")
    assert made.exit_code == 0 and json.loads(made.stdout)["encrypted"] is True
    assert key.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    report = str(work / "assessment.json")
    no_phrase = run("sign", report, "--key", str(key))
    assert no_phrase.exit_code == 2 and "$IOTCOP_KEY_PASSPHRASE" in text(no_phrase)
    wrong = run("sign", report, "--key", str(key), passphrase="wrong")
    assert wrong.exit_code == 2 and "passphrase is wrong" in text(wrong)
    assert run("sign", report, "--key", str(key), passphrase="s3cret phrase").exit_code == 0
    assert run("verify", report, "--public-key", str(work / "enc.key.pub")).exit_code == 0
