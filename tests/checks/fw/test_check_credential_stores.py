"""Credential stores of services (htpasswd, htdigest, BusyBox httpd, lighttpd, Mosquitto, rpcd) and the
account checks added beside them (shared hash, extra root, static hash). Stores are written by the real
tools where one exists: ``htpasswd`` (apache2-utils), ``mosquitto_passwd``, ``openssl passwd``."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from fwimages import md5crypt, require_tool, sha512crypt, write_tree
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iotcop.checks.registry import REGISTRY
from iotcop.firmware.accounts import Accounts, collect_accounts
from iotcop.firmware.credstores import CredentialStores, collect_credential_stores
from iotcop.firmware.filesystem import FileSystem
from iotcop.firmware.services import BootServices, collect_boot_services
from iotcop.knowledge.credentials import default_credentials
from iotcop.model import Finding, RunStatus, Severity
from iotcop.runner import run_checks

PASSWD = "root:x:0:0:root:/root:/bin/sh\n"


def htpasswd(*args: str) -> str:
    require_tool("htpasswd")
    return subprocess.run(["htpasswd", "-nb", *args], capture_output=True, text=True, check=True).stdout.strip()


def mosquitto_passwd(tmp: Path, user: str, password: str) -> str:
    require_tool("mosquitto_passwd")
    path = tmp / "mosq.pw"
    path.unlink(missing_ok=True)
    path.touch()
    subprocess.run(["mosquitto_passwd", "-b", str(path), user, password], check=True, capture_output=True)
    return path.read_text()


class Image:
    def __init__(self, root: Path) -> None:
        fs = FileSystem.scan(root)
        self.accounts, self.stores, self.boot = collect_accounts(fs), collect_credential_stores(fs), \
            collect_boot_services(fs)

    def run(self, check_id: str) -> tuple[RunStatus, list[Finding]]:
        bag = {Accounts: self.accounts, CredentialStores: self.stores, BootServices: self.boot,
               type(default_credentials()): default_credentials()}
        result = run_checks([REGISTRY.get(check_id)], bag, {})
        return result.runs[0].status, list(result.findings)

    def flagged(self, check_id: str) -> set[tuple[str, int | None]]:
        status, findings = self.run(check_id)
        assert status is RunStatus.COMPLETED
        return {(f.location.path, f.location.line) for f in findings}


@pytest.fixture(scope="module")
def web_image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    tmp = tmp_path_factory.mktemp("stores")
    digest = hashlib.md5(b"operator:router:Secr3t-Unique-42").hexdigest()
    files = {
        "/etc/passwd": PASSWD,
        "/etc/shadow": "root:*:1::::::\n",
        # BusyBox httpd: clear-text admin/admin (a default), a clear-text unique one, an empty one, an MD5 one;
        # the other line kinds are not credentials
        "/etc/httpd.conf": ("A:*\nH:/www\n.cgi:application/x-cgi\n*.php:/usr/bin/php-cgi\n"
                            "/cgi-bin:admin:admin\n/adm:tech:Zq8-unique-pass\n/open:guest:\n"
                            f"/secure:svc:{md5crypt('vizxv', 'httpdslt')}\n"),
        "/etc/lighttpd/lighttpd.conf": 'server.port = 80\nauth.backend = "plain"\n'
                                       'auth.backend.plain.userfile = "/etc/lighttpd/lighttpd.user"\n',
        "/etc/lighttpd/lighttpd.user": "# users\nsupport:support\n",
        "/etc/lighttpd/lighttpd.htdigest": f"operator:router:{digest}\n",
        "/www/.htpasswd": htpasswd("admin", "1234") + "\n" + htpasswd("-B", "-C", "5", "viewer", "V1ew-only-99") + "\n",
        "/etc/mosquitto/mosquitto.conf": "listener 1883\npassword_file /etc/mosquitto/passwd\n",
        "/etc/mosquitto/passwd": mosquitto_passwd(tmp, "sensor", "123456"),
        "/etc/config/rpcd": ("config rpcd\n\toption socket /var/run/ubus/ubus.sock\n\n"
                             "config login\n\toption username 'root'\n\toption password '$p$root'\n"
                             "\tlist read '*'\n\nconfig login\n\toption username 'luci'\n"
                             f"\toption password '{md5crypt('admin', 'rpcdsalt')}'\n"),
        "/usr/share/doc/lighttpd/lighttpd.user": "example:example\n",  # documentation, never read as a store
    }
    return Image(write_tree(tmp / "root", files=files))


def test_stores_are_parsed_as_their_servers_read_them(web_image: Image) -> None:
    got = {(c.service, c.user, c.plaintext, c.source_path, c.line) for c in web_image.stores.entries}
    assert got == {
        ("BusyBox httpd", "admin", True, "/etc/httpd.conf", 5),
        ("BusyBox httpd", "tech", True, "/etc/httpd.conf", 6),
        ("BusyBox httpd", "guest", True, "/etc/httpd.conf", 7),
        ("BusyBox httpd", "svc", False, "/etc/httpd.conf", 8),
        ("lighttpd", "support", True, "/etc/lighttpd/lighttpd.user", 2),
        ("HTTP digest authentication", "operator", False, "/etc/lighttpd/lighttpd.htdigest", 1),
        ("HTTP basic authentication", "admin", False, "/www/.htpasswd", 1),
        ("HTTP basic authentication", "viewer", False, "/www/.htpasswd", 2),
        ("Mosquitto", "sensor", False, "/etc/mosquitto/passwd", 1),
        ("rpcd (ubus/LuCI)", "luci", False, "/etc/config/rpcd", 11),  # '$p$root' defers to /etc/shadow
    }


def test_default_passwords_in_stores(web_image: Image) -> None:
    assert web_image.flagged("fw.credentials.default-password") == {
        ("/etc/httpd.conf", 5),  # admin/admin in clear text
        ("/etc/httpd.conf", 8),  # MD5 crypt of 'vizxv' (Mirai)
        ("/etc/lighttpd/lighttpd.user", 2),  # support/support (Mirai)
        ("/www/.htpasswd", 1),  # apr1 of '1234'
        ("/etc/mosquitto/passwd", 1),  # PBKDF2 of '123456' (Mirai)
        ("/etc/config/rpcd", 11),  # MD5 crypt of 'admin'
    }
    _, findings = web_image.run("fw.credentials.default-password")
    mosq = next(f for f in findings if f.location.path == "/etc/mosquitto/passwd")
    assert mosq.message.startswith("Mosquitto user 'sensor' has the publicly known password '123456'")


def test_plaintext_and_empty_passwords_in_stores(web_image: Image) -> None:
    assert web_image.flagged("fw.credentials.plaintext-password") == {
        ("/etc/httpd.conf", 5), ("/etc/httpd.conf", 6), ("/etc/lighttpd/lighttpd.user", 2)}
    _, findings = web_image.run("fw.credentials.plaintext-password")
    tech = next(f for f in findings if "'tech'" in f.message)
    assert "Zq8-unique-pass" not in tech.message + tech.evidence.excerpt  # redacted
    assert tech.evidence.excerpt == "/adm:tech:Zq…"
    assert web_image.flagged("fw.credentials.empty-password") == {("/etc/httpd.conf", 7)}


def test_weak_hashes_in_stores(web_image: Image) -> None:
    assert web_image.flagged("fw.credentials.weak-hash") == {
        ("/etc/httpd.conf", 8), ("/etc/lighttpd/lighttpd.htdigest", 1), ("/www/.htpasswd", 1),
        ("/etc/mosquitto/passwd", 1), ("/etc/config/rpcd", 11)}  # bcrypt (viewer) is not weak


# ---------------------------------------------------------------- account checks


@pytest.fixture(scope="module")
def accounts_image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    copied = sha512crypt("Sh4red-betw33n", "copiedsalt")
    passwd = ("root:x:0:0:root:/root:/bin/sh\n"
              "toor:x:0:0:backdoor:/root:/bin/sh\n"  # positive: a second root with a password
              "operator:x:0:0::/:/sbin/nologin\n"  # look-alike: uid 0 without a login shell
              "halt:*:0:0::/:/bin/sh\n"  # look-alike: uid 0, locked
              "admin:x:1000:1000::/home/admin:/bin/sh\n"
              "backup:x:1001:1001::/:/bin/sh\n"
              "same:x:1002:1002::/:/bin/sh\n"
              "daemon:x:1:1::/:/bin/false\n")
    shadow = (f"root:{copied}:1::::::\n"
              f"toor:{sha512crypt('t00r-Unique', 'toorsalt')}:1::::::\n"
              "operator:!:1::::::\n"
              f"admin:{copied}:1::::::\n"  # positive: the very same hash as root's
              f"backup:{sha512crypt('Sh4red-betw33n', 'othersalt')}:1::::::\n"  # look-alike: same password, own salt
              "same:*:1::::::\n"
              f"daemon:{sha512crypt('x', 'daemonsl')}:1::::::\n")  # not a login shell: not static-login
    return Image(write_tree(tmp_path_factory.mktemp("acc") / "root", files={"/etc/passwd": passwd,
                                                                           "/etc/shadow": shadow}))


def test_shared_hash(accounts_image: Image) -> None:
    assert accounts_image.flagged("fw.credentials.shared-hash") == {("/etc/shadow", 1)}
    _, [finding] = accounts_image.run("fw.credentials.shared-hash")
    assert finding.message == "Account 'root' shares its password hash with account 'admin' (/etc/shadow:4)."


def test_extra_root_account(accounts_image: Image) -> None:
    assert accounts_image.flagged("fw.credentials.extra-root-account") == {("/etc/shadow", 2)}


def test_static_password_hash(accounts_image: Image) -> None:
    assert accounts_image.flagged("fw.credentials.static-password-hash") == {
        ("/etc/shadow", 1), ("/etc/shadow", 2), ("/etc/shadow", 4), ("/etc/shadow", 5)}
    _, findings = accounts_image.run("fw.credentials.static-password-hash")
    assert {f.severity for f in findings} == {Severity.HIGH}


def test_static_hash_replaced_at_first_boot_is_for_review(tmp_path: Path) -> None:
    files = {"/etc/passwd": PASSWD, "/etc/shadow": f"root:{sha512crypt('factory', 'factorys')}:1::::::\n",
             "/etc/inittab": "::sysinit:/etc/init.d/rcS\n",
             "/etc/init.d/rcS": "#!/bin/sh\n[ -f /etc/.pwset ] || echo \"root:$(cat /proc/sys/kernel/random/uuid)\""
                                " | chpasswd && touch /etc/.pwset\n"}
    status, [finding] = Image(write_tree(tmp_path, files=files)).run("fw.credentials.static-password-hash")
    assert status is RunStatus.COMPLETED and finding.severity is Severity.INFO
    assert "/etc/init.d/rcS:2 runs chpasswd at boot" in finding.message


def test_the_real_tplink_root_hash_is_static(tmp_path: Path) -> None:
    """TP-Link TL-WR841N v10 ships root's MD5-crypt hash (of 'sohoadmin', on no public list) in /etc/shadow."""
    shadow = ("root:$1$GTN.gpri$DlSyKvZKMR9A9Uj9e9wR3/:15502:0:99999:7:::\n"
              "Admin:$1$$zdlNHiCDxYDfeF4MZL.H3/:10933:0:99999:7:::\n")
    image = Image(write_tree(tmp_path, files={"/etc/shadow": shadow}, links={"/etc/passwd": "../tmp/passwd"}))
    status, findings = image.run("fw.credentials.static-password-hash")
    assert status is RunStatus.COMPLETED
    assert {(f.location.line, "shell unknown" in f.message) for f in findings} == {(1, True), (2, True)}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=400), st.sampled_from(["/etc/httpd.conf", "/etc/config/rpcd", "/www/.htpasswd",
                                                "/etc/lighttpd/x.htdigest"]))
def test_store_parsers_never_raise(tmp_path_factory: pytest.TempPathFactory, text: str, path: str) -> None:
    root = write_tree(tmp_path_factory.mktemp("h"), files={path: text}, skeleton=False)
    stores = collect_credential_stores(FileSystem.scan(root))
    assert all(c.source_path == path for c in stores.entries)


def test_verification_tries_each_hash_once_and_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hostile store repeats one hash or holds thousands: each distinct hash is tried once, and past the
    bound the rest are 'not tried' (which makes the check inconclusive, never clean)."""
    from iotcop.knowledge import credentials as kc

    monkeypatch.setattr(kc, "MAX_HASHES", 3)
    mirai = md5crypt("xc3511", "abcdefgh")
    items = [(mirai, "root")] * 5 + [(md5crypt(f"Unlisted-{i}", "saltsalt"), None) for i in range(4)]
    out = default_credentials().verify_all(items)
    assert out[:7] == ["xc3511"] * 5 + [None, None]
    assert [str(o) for o in out[7:]] == ["not tried: more than 3 distinct hashes"] * 2


def test_look_alike_stores(tmp_path: Path) -> None:
    """Files a name pattern matches that are no store, and store lines that hold no password."""
    files: dict[str, str | bytes] = {
        "/etc/passwd": PASSWD, "/etc/shadow": "root:*:1::::::\n",
        "/usr/bin/htpasswd": Path("/bin/true").read_bytes() + b"\nusage:htpasswd\n%s:%s\n",  # a program
        "/usr/lib/lua/luci/htpasswd.lua": "local usage = 'x'\nroot:abc def\n",  # prose, not hashes
        "/usr/share/doc/lighttpd/.htpasswd": htpasswd("admin", "admin") + "\n",  # documentation
        "/etc/httpd.conf": f"/adm:root:*\n/ops:ops:{sha512crypt('Unique-0ps-pass', 'opssalt1')}\n",
        "/etc/lighttpd/lighttpd.htdigest": f"operator:router:{hashlib.md5(b'operator:router:x').hexdigest()}\n",
    }
    image = Image(write_tree(tmp_path, files=files))
    got = {(c.user, c.plaintext, c.source_path) for c in image.stores.entries}
    assert got == {("ops", False, "/etc/httpd.conf"),  # '$6$': a hash; '*' means the system password
                   ("operator", False, "/etc/lighttpd/lighttpd.htdigest")}
    _, [weak] = image.run("fw.credentials.weak-hash")  # the digest; never the whole hash in the evidence
    assert weak.evidence.excerpt.startswith("operator:router:") and weak.evidence.excerpt.endswith("…")
    assert len(weak.evidence.excerpt) < len("operator:router:") + 32
