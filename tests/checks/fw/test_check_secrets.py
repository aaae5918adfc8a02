"""fw.secrets.* run through the runner, on trees written to disk and programs built by the Debian cross
compilers (tests/fixtures/secret_binaries.py). Each test says which files, lines and programs were flagged,
and which look-alikes beside them were not."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import pytest
import secret_binaries
from fwimages import write_tree

from iotcop.checks.fw.secrets import binary_credential, cloud_token, distinctive, hardcoded_credential
from iotcop.checks.registry import CheckFunc, spec_of
from iotcop.firmware.content import scan_content
from iotcop.firmware.elf import ElfFiles, ElfScanner
from iotcop.firmware.filesystem import FileSystem
from iotcop.firmware.secrets import Secrets, SecretScanner
from iotcop.knowledge.credentials import DefaultCredentials, default_credentials
from iotcop.knowledge.tokens import TokenFormats, token_formats
from iotcop.model import CheckRun, Finding, RunStatus, Severity
from iotcop.runner import run_checks

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def fake(alphabet: str, n: int, seed: str) -> str:
    """Token-shaped values are made at run time, never committed as literals."""
    digest = b"".join(hashlib.sha256(f"{seed}:{i}".encode()).digest() for i in range(4))
    return "".join(alphabet[b % len(alphabet)] for b in digest[:n])


AWS_KEY_ID = "AKIA" + fake("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16, "aws")
GOOGLE_KEY = "AIza" + fake(ALNUM + "_-", 35, "gcp")
STRIPE_KEY = "sk_live_" + fake(ALNUM, 24, "stripe")


def collect(root: Path, files: Mapping[str, str | bytes]) -> tuple[Secrets, ElfFiles]:
    secrets, elves = SecretScanner(default_credentials().passwords()), ElfScanner()
    scan_content(FileSystem.scan(write_tree(root, files=files)), [secrets, elves])
    return secrets.result(), elves.result()


def run(func: CheckFunc, secrets: Secrets, elves: ElfFiles) -> tuple[CheckRun, list[Finding]]:
    bag = {Secrets: secrets, ElfFiles: elves, DefaultCredentials: default_credentials(),
           TokenFormats: token_formats()}
    result = run_checks([spec_of(func)], bag, {})
    [check_run] = result.runs
    return check_run, list(result.findings)


def flagged(findings: list[Finding]) -> set[tuple[str, int | None]]:
    return {(f.location.path, f.location.line) for f in findings}


# ---------------------------------------------------------------- fw.secrets.hardcoded-credential


IMAGE = {
    "/etc/init.d/S90cloud": "#!/bin/sh\n"
                            "CLOUD_PASS=Cl0ud-Upl0ad\n"  # 2: positive
                            "curl -s -u camera:Cam-Upl0ad https://cloud.example/upload\n"  # 3: positive
                            "password=$1\n"  # look-alike: an argument
                            'echo "root:xc3511" | chpasswd\n',  # 5: positive, a Mirai password
    "/etc/config/cloud": "config cloud 'main'\n\toption password ''\n\toption api_key 'YOUR_API_KEY'\n",
    "/etc/config/rpcd": "config login\n\toption username 'root'\n\toption password '$p$root'\n",
    "/etc/config/mqtt": "config broker\n\toption url 'mqtts://dev:Mq77-Br0ker@broker.example:8883'\n",  # 2: positive
    "/etc/shadow": "root:!:19000:0:99999:7:::\n",
    "/usr/share/man/man1/curl.1": ".B curl -u user:password https://example.com\n",
    "/usr/share/doc/agent/example.conf": "password=Ex4mple-Only\n",
    "/www/cgi-bin/login.lua": 'if password == "Sup3r-Us3r" then grant() end\n',  # 1: positive
}


def test_hardcoded_credentials(tmp_path: Path) -> None:
    run_, findings = run(hardcoded_credential, *collect(tmp_path, IMAGE))
    assert run_.status is RunStatus.COMPLETED
    assert flagged(findings) == {("/etc/init.d/S90cloud", 2), ("/etc/init.d/S90cloud", 3),
                                 ("/etc/init.d/S90cloud", 5), ("/etc/config/mqtt", 2),
                                 ("/www/cgi-bin/login.lua", 1)}
    assert all(f.severity is Severity.HIGH for f in findings)
    by_line = {(f.location.path, f.location.line): f for f in findings}
    mirai = by_line[("/etc/init.d/S90cloud", 5)]
    assert "publicly known default password 'xc3511'" in mirai.message and "Mirai" in mirai.message
    curl = by_line[("/etc/init.d/S90cloud", 3)]
    assert "command line (curl -u) for user 'camera'" in curl.message and "Ca… (10 chars)" in curl.message
    for secret in ("Cl0ud-Upl0ad", "Cam-Upl0ad", "Mq77-Br0ker", "Sup3r-Us3r"):  # never printed in full
        assert not any(secret in f.message or secret in f.evidence.excerpt for f in findings)
    assert "compared with a literal" in by_line[("/www/cgi-bin/login.lua", 1)].message


def test_hardcoded_credentials_clean_and_unassessable(tmp_path: Path) -> None:
    clean = {k: v for k, v in IMAGE.items() if k in ("/etc/config/cloud", "/etc/config/rpcd", "/etc/shadow")}
    run_, findings = run(hardcoded_credential, *collect(tmp_path / "clean", clean))
    assert (run_.status, findings) == (RunStatus.COMPLETED, [])

    run_, findings = run(hardcoded_credential, Secrets(), ElfFiles())
    assert (run_.status, findings) == (RunStatus.INCONCLUSIVE, [])
    assert run_.reason == "no script or configuration file was read from the image"

    partial = Secrets(files=3, truncated=("/www/js/bundle.js",))
    run_, _ = run(hardcoded_credential, partial, ElfFiles())
    assert run_.status is RunStatus.INCONCLUSIVE and "/www/js/bundle.js was read only in part" in run_.reason


# ---------------------------------------------------------------- programs


@pytest.fixture(scope="session")
def programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Each test program for each architecture, built once per session: in-image path → ELF bytes."""
    out = tmp_path_factory.mktemp("secret-binaries")
    tokens = {"GOOGLE_KEY": GOOGLE_KEY, "AWS_KEY_ID": AWS_KEY_ID}
    return {f"/usr/bin/{name}-{arch}": path.read_bytes()
            for arch in secret_binaries.COMPILERS
            for name, path in secret_binaries.build(out / arch, arch, tokens).items()}


def test_binary_credential(tmp_path: Path, programs: dict[str, bytes]) -> None:
    secrets, elves = collect(tmp_path, dict(programs))
    assert {e.path for e in elves.files} >= set(programs)
    table = elves.get("/usr/bin/table-mipsel")
    assert table is not None and "xc3511" in table.strings and not table.imports_any("strcmp", "memcmp")
    usage = elves.get("/usr/bin/usage-armel")  # compares and talks about passwords, but holds no default
    assert usage is not None and usage.imports_any("strcmp") and any("password" in s for s in usage.strings)
    run_, findings = run(binary_credential, secrets, elves)
    assert run_.status is RunStatus.COMPLETED
    assert flagged(findings) == {("/usr/bin/login-mipsel", None), ("/usr/bin/login-armel", None)}
    for f in findings:
        assert f.severity is Severity.MEDIUM
        assert "'xc3511'" in f.message and "strcmp" in f.message and "'Password:'" in f.message
        assert "Mirai" in f.message


def test_binary_credential_needs_programs() -> None:
    run_, findings = run(binary_credential, Secrets(files=1), ElfFiles())
    assert (run_.status, findings) == (RunStatus.INCONCLUSIVE, [])
    assert run_.reason == "no ELF program was parsed from the image"


@pytest.mark.parametrize(("password", "expected"), [
    ("xc3511", True), ("vizxv", True), ("7ujMko0admin", True), ("12345", True),
    ("admin", False), ("default", False), ("1234", False), ("888888", False), ("realtek", False), ("root", False),
])
def test_distinctive_passwords(password: str, expected: bool) -> None:
    assert distinctive(password) is expected


# ---------------------------------------------------------------- fw.secrets.cloud-token


def test_cloud_tokens_in_files_and_programs(tmp_path: Path, programs: dict[str, bytes]) -> None:
    files: dict[str, str | bytes] = {
        "/etc/cloud.json": '{"region": "eu-west-1",\n "billing": "' + STRIPE_KEY + '",\n'  # 2: positive
                           ' "example_key": "AKIAIOSFODNN7EXAMPLE"}\n',
        "/www/js/map.js": 'var src = "https://maps.googleapis.com/maps/api/js?key=' + GOOGLE_KEY + '";\n',  # 1
        "/usr/share/doc/sdk/README": "export STRIPE_KEY=" + STRIPE_KEY + "\n",  # documentation: not read
        "/usr/bin/uploader-mipsel": programs["/usr/bin/uploader-mipsel"],
        "/usr/bin/login-mipsel": programs["/usr/bin/login-mipsel"],
    }
    run_, findings = run(cloud_token, *collect(tmp_path, files))
    assert run_.status is RunStatus.COMPLETED
    assert flagged(findings) == {("/etc/cloud.json", 2), ("/www/js/map.js", 1), ("/usr/bin/uploader-mipsel", None)}
    kinds = sorted((f.location.path, f.evidence.technique) for f in findings)
    assert kinds == [("/etc/cloud.json", "content scan (token:stripe-live-key)"),
                     ("/usr/bin/uploader-mipsel", "ELF string scan (token:aws-access-key-id)"),
                     ("/usr/bin/uploader-mipsel", "ELF string scan (token:gcp-api-key)"),
                     ("/www/js/map.js", "content scan (token:gcp-api-key)")]
    for f in findings:
        assert "source:" in f.message or "gitleaks" in f.message
        assert not any(v in f.message for v in (STRIPE_KEY, GOOGLE_KEY, AWS_KEY_ID))


def test_cloud_token_clean_and_unassessable(tmp_path: Path) -> None:
    run_, findings = run(cloud_token, *collect(tmp_path, {"/etc/app.conf": "region=eu-west-1\n"}))
    assert (run_.status, findings) == (RunStatus.COMPLETED, [])
    run_, _ = run(cloud_token, Secrets(), ElfFiles())
    assert run_.status is RunStatus.INCONCLUSIVE
    assert run_.reason == "neither text files nor ELF binaries were read from the image"
    run_, _ = run(cloud_token, Secrets(files=2), ElfFiles(unparsed=("/usr/bin/broken: not a valid ELF file",)))
    assert run_.status is RunStatus.INCONCLUSIVE and "/usr/bin/broken: not a valid ELF file" in run_.reason
