"""``iotcop keys generate``, ``iotcop sign`` and ``iotcop verify``: signed assessments (Ed25519 over RFC 8785
canonical JSON, see iotcop/reports/signing.py).

Exit codes: 0 done (``verify``: the report is exactly what was signed), 1 ``verify``: it does not verify
(the reason is printed), 2 usage (a missing or unreadable file, not a key, a file that would be overwritten),
3 ``sign``: the report is not a valid iotcop assessment.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from iotcop.cli_common import EXIT_FAILED, FORMAT, Format, emit_json, err, handles_errors, out
from iotcop.errors import UsageError

keys_app = typer.Typer(help="Signing keys (Ed25519) for signed assessments.", no_args_is_help=True)

PASSPHRASE_HELP = "Passphrase for the private key is read from $IOTCOP_KEY_PASSPHRASE (never from the command line)."


def _passphrase() -> bytes | None:
    from iotcop.reports.signing import PASSPHRASE_ENV

    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode() if value else None


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the {what} {path}: {exc.strerror or exc}") from exc


@keys_app.command("generate")
@handles_errors
def generate_cmd(
    private: Path = typer.Option(Path("iotcop-signing.key"), "--private", help="Private key file to write (0600)."),
    public: Path | None = typer.Option(None, "--public", help="Public key file to write (default: PRIVATE with .pub)."),
    force: bool = typer.Option(False, "--force", help="Replace existing key files."),
    fmt: Format = FORMAT,
) -> None:
    """Make an Ed25519 key pair; the private key is encrypted when $IOTCOP_KEY_PASSPHRASE is set."""
    from iotcop.reports.signing import generate_keypair

    pub = public or private.with_name(private.name + ".pub")
    passphrase = _passphrase()
    kid = generate_keypair(private, pub, passphrase, force=force)
    if fmt is Format.JSON:
        emit_json({"private_key": str(private), "public_key": str(pub), "key_id": kid,
                   "encrypted": passphrase is not None})
        return
    state = "encrypted with $IOTCOP_KEY_PASSPHRASE" if passphrase else "NOT encrypted (set $IOTCOP_KEY_PASSPHRASE)"
    out.print(f"wrote {private} (private, {state}) and {pub} (public)", markup=False, highlight=False)
    out.print(f"key id {kid}", markup=False, highlight=False)


@handles_errors
def sign_cmd(
    report: Path = typer.Argument(..., help="The assessment.json to sign."),
    key: Path = typer.Option(..., "--key", "-k", help="The private key (PEM). " + PASSPHRASE_HELP),
    output: Path | None = typer.Option(None, "--output", "-o", help="Signature file (default: REPORT with .sig)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing signature file."),
    fmt: Format = FORMAT,
) -> None:
    """Sign an assessment: writes a detached signature (JSON) over its canonical content."""
    from iotcop.reports.signing import load_private_key, read_signature, sign, verification_code

    private = load_private_key(_read(key, "private key"), _passphrase())
    document = sign(_read(report, "report"), private)
    target = output or report.with_name(report.name + ".sig")
    if target.exists() and not force:
        raise UsageError(f"{target} exists: not overwriting it (use --force to replace it)")
    try:
        target.write_bytes(document)
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror}") from exc
    doc, signature = read_signature(document)
    code = verification_code(signature)
    if fmt is Format.JSON:
        emit_json({"signature": str(target), "key_id": doc["key_id"], "assessment_sha256": doc["assessment_sha256"],
                   "verification_code": code})
        return
    out.print(f"wrote {target}: key id {doc['key_id']}, verification code {code}", markup=False, highlight=False)


@handles_errors
def verify_cmd(
    report: Path = typer.Argument(..., help="The assessment.json to verify."),
    signature: Path | None = typer.Option(None, "--signature", "-s",
                                          help="Signature file (default: REPORT with .sig)."),
    public_key: Path = typer.Option(..., "--public-key", "-p", help="The signer's public key (PEM)."),
    fmt: Format = FORMAT,
) -> None:
    """Check that REPORT is exactly the assessment that was signed with the key (exit 0), or say why not (1)."""
    from iotcop.reports.signing import load_public_key, verify

    sig = signature or report.with_name(report.name + ".sig")
    key = load_public_key(_read(public_key, "public key"))
    result = verify(_read(report, "report"), _read(sig, "signature file"), key)
    if fmt is Format.JSON:
        emit_json({"valid": result.valid, "problem": result.problem.value if result.problem else None,
                   "message": result.message, "key_id": result.key_id,
                   "verification_code": result.verification_code})
    elif result.valid:
        out.print(f"{report}: {result.message}", markup=False, highlight=False)
    else:
        err.print(f"{report}: does not verify: {result.message}", markup=False, highlight=False)
    if not result.valid:
        raise typer.Exit(EXIT_FAILED)
