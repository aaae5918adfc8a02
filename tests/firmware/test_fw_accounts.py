"""Login accounts from /etc/passwd and /etc/shadow (iotcop.firmware.accounts), as embedded images ship them."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fwimages import write_tree
from hypothesis import given, settings
from hypothesis import strategies as st

from iotcop.firmware.accounts import Account, Accounts, collect_accounts, parse_shadow
from iotcop.firmware.filesystem import FileSystem
from iotcop.knowledge.hashes import State

SHA512 = "$6$saltsalt$" + "A" * 86


def accounts_of(root: Path, passwd: str | bytes | None, shadow: str | bytes | None = None) -> Accounts:
    files: dict[str, str | bytes] = {}
    if passwd is not None:
        files["/etc/passwd"] = passwd
    if shadow is not None:
        files["/etc/shadow"] = shadow
    return collect_accounts(FileSystem.scan(write_tree(root, files=files)))


def by_name(accounts: Accounts) -> dict[str, Account]:
    return {a.name: a for a in accounts.accounts}


def test_passwd_and_shadow(tmp_path: Path) -> None:
    passwd = ("root:x:0:0:root:/root:/bin/sh\n"
              "guest::1000:1000:Guest:/home/guest:/bin/sh\n"
              "daemon:*:1:1:daemon:/usr/sbin:/bin/false\n"
              "lost:x:1001:1001::/:/bin/sh\n"
              "inline:" + SHA512 + ":1002:1002::/:\n")
    shadow = "daemon:$1$x$ignored:1::::::\nroot:" + SHA512 + ":19000:0:99999:7:::\n"
    accounts = accounts_of(tmp_path, passwd, shadow)
    assert accounts.sources == ("/etc/passwd", "/etc/shadow")
    got = {a.name: (a.password_field, a.source_path, a.line, a.state) for a in accounts.accounts}
    assert got == {
        "root": (SHA512, "/etc/shadow", 2, State.HASH),  # 'x' defers to shadow
        "guest": ("", "/etc/passwd", 2, State.EMPTY),  # empty means no password, not "see shadow"
        "daemon": ("*", "/etc/passwd", 3, State.LOCKED),  # only 'x' defers: shadow's daemon line is unused
        "lost": ("*", "/etc/passwd", 4, State.LOCKED),  # defers to shadow, which lacks it: treated as locked
        "inline": (SHA512, "/etc/passwd", 5, State.HASH),
    }
    assert accounts.problems == ("lost: passwd defers to shadow, which has no entry for it",)
    assert by_name(accounts)["root"].raw_line.startswith("root:$6$saltsalt$")
    assert by_name(accounts)["inline"].shell == "" and by_name(accounts)["inline"].can_log_in  # '' is /bin/sh
    assert [a.name for a in accounts.with_password_hash()] == ["root", "inline"]


def test_locked_forms(tmp_path: Path) -> None:
    passwd = "".join(f"u{i}:x:{i}:{i}::/:/bin/sh\n" for i in range(5))
    shadow = "u0:!:1::::::\nu1:*:1::::::\nu2:!!:1::::::\nu3:!" + SHA512 + ":1::::::\nu4:*LK*:1::::::\n"
    accounts = accounts_of(tmp_path, passwd, shadow)
    assert {a.name: a.state for a in accounts.accounts} == {f"u{i}": State.LOCKED for i in range(5)}
    assert accounts.with_password_hash() == []


def test_crlf_comments_blank_lines_and_malformed_lines(tmp_path: Path) -> None:
    passwd = ("# made by the vendor's build\r\n"
              "root:x:0:0:root:/root:/bin/sh\r\n"
              "\r\n"
              "broken line without fields\r\n"
              "short:x:1:1\r\n"
              ":x:2:2::/:/bin/sh\r\n"
              "nologin::3:3::/:/sbin/nologin\r\n")
    shadow = "# comment\r\nroot:" + SHA512 + ":1::::::\r\n"
    accounts = accounts_of(tmp_path, passwd, shadow)
    root, nologin = by_name(accounts)["root"], by_name(accounts)["nologin"]
    assert (root.password_field, root.line, root.shell) == (SHA512, 2, "/bin/sh")  # no '\r' anywhere
    assert not root.raw_line.endswith("\r")
    assert (nologin.shell, nologin.can_log_in, nologin.line) == ("/sbin/nologin", False, 7)
    assert [a.name for a in accounts.accounts] == ["root", "nologin"]
    assert accounts.problems == (
        "/etc/passwd:4: not a passwd entry (expected 7 fields)",
        "/etc/passwd:5: not a passwd entry (expected 7 fields)",
        "/etc/passwd:6: not a passwd entry (expected 7 fields)",
    )


def test_non_numeric_uids(tmp_path: Path) -> None:
    """'²' passes str.isdigit() but not int(): it once crashed the collector."""
    accounts = accounts_of(tmp_path, "a:x:²:0::/:/bin/sh\nb:x:-1:0::/:/bin/sh\nc:x:07:0::/:/bin/sh\n")
    assert {a.name: a.uid for a in accounts.accounts} == {"a": None, "b": None, "c": 7}


def test_shells_that_block_login(tmp_path: Path) -> None:
    passwd = "".join(f"u{i}::{i}:{i}::/:{shell}\n" for i, shell in
                     enumerate(["/bin/false", "/sbin/nologin", "/usr/sbin/nologin", "/bin/sh", "", "/bin/ash"]))
    assert {a.name: a.can_log_in for a in accounts_of(tmp_path, passwd).accounts} == {
        "u0": False, "u1": False, "u2": False, "u3": True, "u4": True, "u5": True}


def test_no_account_files(tmp_path: Path) -> None:
    assert accounts_of(tmp_path, None) == Accounts()


def test_shadow_without_passwd(tmp_path: Path) -> None:
    """TP-Link style: /etc/passwd is made at run time, the shadow file and its hashes ship."""
    root = write_tree(tmp_path / "rootfs", files={"/etc/shadow": "root:$1$GTN.gpri$abc:15502:0:99999:7:::\n"},
                      links={"/etc/passwd": "../tmp/passwd"})
    accounts = collect_accounts(FileSystem.scan(root))
    assert accounts.sources == ("/etc/shadow",)
    [root_account] = accounts.accounts
    assert (root_account.name, root_account.uid, root_account.source_path, root_account.line) == \
        ("root", None, "/etc/shadow", 1)
    assert accounts.problems == ("/etc/passwd is missing: accounts were read from /etc/shadow alone",)


def test_parse_shadow_keeps_the_first_entry() -> None:
    assert parse_shadow("a:1:x\n\na:2:y\n:3\nb\n") == {"a": ("1", 1, "a:1:x")}


ACCOUNT_TEXT = st.text(alphabet=st.sampled_from(list(":x!*$6/\r\n#  09²٣abc\x00\ufeff")), max_size=300)
ANY_BYTES = st.binary(max_size=300)


@settings(max_examples=200, deadline=None)
@given(passwd=st.one_of(st.none(), ACCOUNT_TEXT, st.text(max_size=200), ANY_BYTES),
       shadow=st.one_of(st.none(), ACCOUNT_TEXT, st.text(max_size=200), ANY_BYTES))
def test_collect_accounts_never_raises(passwd: str | bytes | None, shadow: str | bytes | None) -> None:
    with tempfile.TemporaryDirectory() as d:
        if isinstance(passwd, str):
            passwd = passwd.encode("utf-8", "surrogatepass")
        if isinstance(shadow, str):
            shadow = shadow.encode("utf-8", "surrogatepass")
        accounts = accounts_of(Path(d) / "rootfs", passwd, shadow)
    for account in accounts.accounts:
        assert account.line >= 1 and account.source_path in accounts.sources
        assert account.state in State
