"""fw.credentials.* on real hashes (openssl passwd, libxcrypt), run through the runner as an assessment
runs them. Every test says which accounts were flagged, and which look-alikes were not."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fwimages import YESCRYPT_SETTING, libxcrypt, md5crypt, sha512crypt, write_tree

from iotcop.checks.registry import REGISTRY
from iotcop.firmware.accounts import Accounts, collect_accounts
from iotcop.firmware.credstores import CredentialStores
from iotcop.firmware.filesystem import FileSystem
from iotcop.firmware.services import BootServices
from iotcop.knowledge.credentials import DefaultCredentials, default_credentials
from iotcop.model import CheckRun, Finding, RunStatus
from iotcop.runner import run_checks

EMPTY, DEFAULT, WEAK = "fw.credentials.empty-password", "fw.credentials.default-password", "fw.credentials.weak-hash"


def collect(root: Path, files: dict[str, str], links: dict[str, str] | None = None) -> Accounts:
    return collect_accounts(FileSystem.scan(write_tree(root, files=files, links=links)))


def run(check_id: str, accounts: Accounts,
        defaults: DefaultCredentials | None = None) -> tuple[CheckRun, list[Finding]]:
    bag = {Accounts: accounts, DefaultCredentials: defaults or default_credentials(),
           CredentialStores: CredentialStores(), BootServices: BootServices()}
    result = run_checks([REGISTRY.get(check_id)], bag, {})
    [check_run] = result.runs
    return check_run, list(result.findings)


def flagged(findings: list[Finding]) -> set[tuple[str, str, int | None]]:
    """(account, file, line) of each finding; the account name is quoted first in every message."""
    return {(f.message.split("'")[1], f.location.path, f.location.line) for f in findings}


# ---------------------------------------------------------------- empty password


def test_empty_password(tmp_path: Path) -> None:
    passwd = ("root:x:0:0:root:/root:/bin/sh\n"
              "guest::1000:1000:Guest:/home/guest:/bin/sh\n"  # positive
              "svc:x:1001:1001::/var/svc:/bin/ash\n"  # positive: empty field in shadow
              "blank::1002:1002::/:\n"  # positive: an empty shell is /bin/sh
              "ftp::1003:1003::/srv:/bin/false\n"  # look-alike: no login shell
              "www::1004:1004::/www:/sbin/nologin\n"
              "bin::1005:1005::/bin:/usr/sbin/nologin\n"
              "daemon:*:1:1::/:/bin/sh\n"  # look-alike: locked
              "sync:!:4:4::/:/bin/sh\n"
              "lp:x:7:7::/:/bin/sh\n")  # look-alike: locked in shadow
    shadow = f"root:{sha512crypt('Xq7!vLp2#rT9', 'rootsalt')}:1::::::\nsvc::1::::::\nlp:!!:1::::::\n"
    run_, findings = run(EMPTY, collect(tmp_path, {"/etc/passwd": passwd, "/etc/shadow": shadow}))
    assert run_.status is RunStatus.COMPLETED and run_.finding_count == 3
    assert flagged(findings) == {("guest", "/etc/passwd", 2), ("svc", "/etc/shadow", 2), ("blank", "/etc/passwd", 4)}
    svc = next(f for f in findings if "'svc'" in f.message)
    assert "uid 1001, shell /bin/ash" in svc.message and svc.evidence.excerpt == "svc::1::::::"


def test_empty_password_clean(tmp_path: Path) -> None:
    passwd = "root:x:0:0::/root:/bin/sh\nftp::1003:1003::/srv:/bin/false\n"
    run_, findings = run(EMPTY, collect(tmp_path, {"/etc/passwd": passwd, "/etc/shadow": "root:*:1::::::\n"}))
    assert (run_.status, findings) == (RunStatus.COMPLETED, [])


# ---------------------------------------------------------------- default password


@pytest.fixture(scope="module")
def default_image(tmp_path_factory: pytest.TempPathFactory) -> Accounts:
    passwd = ("root:x:0:0::/root:/bin/sh\n"
              "admin:x:1000:1000::/home/admin:/bin/sh\n"
              "support:x:1001:1001::/:/bin/sh\n"
              "locked:x:1002:1002::/:/bin/sh\n"
              "user:x:1003:1003::/:/bin/sh\n"
              "old:" + libxcrypt("vizxv", "ab") + ":1004:1004::/:/bin/sh\n")  # DES in passwd, a Mirai password
    shadow = (f"root:{md5crypt('xc3511', 'Mir4iSlt')}:19000:0:99999:7:::\n"  # Mirai, md5crypt
              f"admin:{sha512crypt('admin', 'adminsaltXY')}:19000:0:99999:7:::\n"  # Mirai and vendors, sha512crypt
              f"support:{sha512crypt('c0rrect-h0rse-B4ttery-st4ple', 'uniqsalt')}:19000:::::\n"  # strong, unique
              f"locked:!{sha512crypt('admin', 'lockedsalt')}:19000:::::\n"  # a default, but locked
              f"user:{md5crypt('7h1s-1s-n0t-d3fault', 'usersalt')}:19000:::::\n")  # weak scheme, not a default
    return collect(tmp_path_factory.mktemp("defaults"), {"/etc/passwd": passwd, "/etc/shadow": shadow})


def test_default_password(default_image: Accounts) -> None:
    run_, findings = run(DEFAULT, default_image)
    assert run_.status is RunStatus.COMPLETED
    assert flagged(findings) == {("root", "/etc/shadow", 1), ("admin", "/etc/shadow", 2), ("old", "/etc/passwd", 6)}
    shown = {f.message.split("'")[1]: f.message.split("'")[3] for f in findings}
    assert shown == {"root": "xc3511", "admin": "admin", "old": "vizxv"}  # the proof is shown: it is public
    root = next(f for f in findings if "'root'" in f.message)
    assert "MD5 crypt hash verified" in root.message and "Mirai" in root.message
    admin = next(f for f in findings if "'admin'" in f.message)
    assert "SHA-512 crypt hash verified" in admin.message and "Mirai" in admin.message
    assert root.evidence.excerpt == "root:$1$Mir4iSlt$…:19000:0:99999:7:::"  # the hash itself is cut


def test_a_costly_hash_is_inconclusive_not_clean(tmp_path: Path) -> None:
    """A hostile image can ask for 999,999,999 SHA-512 rounds: verification must neither hang nor pass."""
    costly = "$6$rounds=999999999$saltsalt$" + "A" * 86
    accounts = collect(tmp_path / "a", {"/etc/passwd": "root:x:0:0::/:/bin/sh\n",
                                        "/etc/shadow": f"root:{costly}:1::::::\n"})
    start = time.monotonic()
    run_, findings = run(DEFAULT, accounts)
    assert time.monotonic() - start < 5
    assert run_.status is RunStatus.INCONCLUSIVE and findings == []
    assert "'root'" in run_.reason and "999999999 rounds" in run_.reason

    # beside an account with a default password, the finding stands
    accounts = collect(tmp_path / "b", {
        "/etc/passwd": "root:x:0:0::/:/bin/sh\nadmin:x:1:1::/:/bin/sh\n",
        "/etc/shadow": f"root:{costly}:1::::::\nadmin:{md5crypt('admin', 'abcdefgh')}:1::::::\n"})
    run_, findings = run(DEFAULT, accounts)
    assert run_.status is RunStatus.COMPLETED and flagged(findings) == {("admin", "/etc/shadow", 2)}


def test_verification_out_of_time_is_inconclusive(tmp_path: Path) -> None:
    accounts = collect(tmp_path, {"/etc/passwd": "root:x:0:0::/:/bin/sh\n",
                                  "/etc/shadow": f"root:{libxcrypt('n0t-a-default', YESCRYPT_SETTING)}:1::::::\n"})
    run_, findings = run(DEFAULT, accounts, DefaultCredentials(default_credentials().entries, seconds_per_hash=0))
    assert run_.status is RunStatus.INCONCLUSIVE and findings == []
    assert "could be tried within 0 s" in run_.reason


# ---------------------------------------------------------------- weak hash


def test_weak_hash_schemes(tmp_path: Path) -> None:
    hashes = {
        "des": libxcrypt("whatever", "ab"),
        "md5crypt": md5crypt("whatever", "saltsalt"),
        "rawmd5": "5f4dcc3b5aa765d61d8327deb882cf99",
        "sha512": sha512crypt("whatever", "saltsalt"),
        "yescrypt": libxcrypt("whatever", YESCRYPT_SETTING),
        "bcrypt": libxcrypt("whatever", "$2b$05$abcdefghijklmnopqrstuu"),
        "lockedmd5": "!" + md5crypt("whatever", "saltsalt"),  # locked: not a usable hash
    }
    passwd = "".join(f"{name}:x:{uid}:{uid}::/:/bin/sh\n" for uid, name in enumerate(hashes, 1))
    shadow = "".join(f"{name}:{h}:19000:::::\n" for name, h in hashes.items())
    run_, findings = run(WEAK, collect(tmp_path, {"/etc/passwd": passwd, "/etc/shadow": shadow}))
    assert run_.status is RunStatus.COMPLETED
    assert flagged(findings) == {("des", "/etc/shadow", 1), ("md5crypt", "/etc/shadow", 2),
                                 ("rawmd5", "/etc/shadow", 3)}
    schemes = {f.message.split("'")[1]: f.evidence.technique for f in findings}
    assert schemes == {"des": "hash scheme identified as descrypt", "md5crypt": "hash scheme identified as md5crypt",
                       "rawmd5": "hash scheme identified as md5"}


# ---------------------------------------------------------------- missing account files


@pytest.mark.parametrize("check_id", [EMPTY, DEFAULT, WEAK])
def test_no_account_files_is_inconclusive(tmp_path: Path, check_id: str) -> None:
    run_, findings = run(check_id, collect(tmp_path, {}))
    assert (run_.status, findings) == (RunStatus.INCONCLUSIVE, [])
    assert run_.reason == "no /etc/passwd or /etc/shadow in the image, so its login accounts cannot be read"


@pytest.mark.parametrize("check_id", [EMPTY, DEFAULT, WEAK])
def test_shadow_alone_clean_is_inconclusive(tmp_path: Path, check_id: str) -> None:
    """/etc/passwd made at run time (a link into /tmp): a clean shadow does not show every account."""
    shadow = f"root:{sha512crypt('Xq7!vLp2#rT9', 'rootsalt')}:1::::::\n"
    run_, findings = run(check_id, collect(tmp_path, {"/etc/shadow": shadow}, links={"/etc/passwd": "/tmp/passwd"}))
    assert (run_.status, findings) == (RunStatus.INCONCLUSIVE, [])
    assert run_.reason == "no /etc/passwd in the image (only /etc/shadow), so not every login account can be read"


def test_shadow_alone_still_gives_findings(tmp_path: Path) -> None:
    shadow = f"root:{md5crypt('xc3511', 'Mir4iSlt')}:1::::::\nguest::1::::::\n"
    accounts = collect(tmp_path, {"/etc/shadow": shadow}, links={"/etc/passwd": "../tmp/passwd"})
    assert {check: flagged(run(check, accounts)[1]) for check in (EMPTY, DEFAULT, WEAK)} == {
        EMPTY: {("guest", "/etc/shadow", 2)},
        DEFAULT: {("root", "/etc/shadow", 1)},
        WEAK: {("root", "/etc/shadow", 1)},
    }
    [guest] = run(EMPTY, accounts)[1]
    assert "shell unknown: no /etc/passwd" in guest.message


def test_the_example_camera() -> None:
    from fwimages import EXAMPLE_CAMERA

    accounts = collect_accounts(FileSystem.scan(EXAMPLE_CAMERA))
    assert flagged(run(EMPTY, accounts)[1]) == {("guest", "/etc/passwd", 3)}  # 'support' has /bin/false
    assert flagged(run(DEFAULT, accounts)[1]) == {("root", "/etc/shadow", 1)}
    assert flagged(run(WEAK, accounts)[1]) == {("root", "/etc/shadow", 1)}  # 'service' is SHA-512 crypt
