"""The secret scanner (iotcop.firmware.secrets) and the token-format table (iotcop.knowledge.tokens), fed by
the real content pass over trees written to disk. Every test names which (file, line, rule) were reported,
with the look-alikes that must not be beside them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
from fwimages import write_tree
from hypothesis import given, settings
from hypothesis import strategies as st

from iotcop.firmware.content import Blob, FileKind, scan_content
from iotcop.firmware.filesystem import Entry, FileSystem
from iotcop.firmware.secrets import (
    MAX_TEXT,
    Secrets,
    SecretScanner,
    credential_name,
    not_a_credential,
    nvram_like,
)
from iotcop.knowledge.credentials import default_credentials
from iotcop.knowledge.tokens import entropy, parse_formats, token_formats

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def fake(alphabet: str, n: int, seed: str) -> str:
    """A deterministic random-looking string: tokens are made at run time, never committed as literals."""
    out: list[str] = []
    counter = 0
    while len(out) < n:
        out += [alphabet[b % len(alphabet)] for b in hashlib.sha256(f"{seed}:{counter}".encode()).digest()]
        counter += 1
    return "".join(out[:n])


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims: dict[str, object], key: bytes) -> str:
    """A real HS256 JSON Web Token (RFC 7519), signed with hmac."""
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64url(json.dumps(claims).encode())
    return head + "." + b64url(hmac.new(key, head.encode(), hashlib.sha256).digest())


def scan(root: Path, files: Mapping[str, str | bytes]) -> Secrets:
    scanner = SecretScanner(default_credentials().passwords())
    scan_content(FileSystem.scan(write_tree(root, files=files)), [scanner])
    return scanner.result()


def found(secrets: Secrets) -> set[tuple[str, int | None, str, str]]:
    return {(c.path, c.line, c.kind, c.name) for c in secrets.candidates}


# ---------------------------------------------------------------- shell


SCRIPT = """#!/bin/sh
PASS=xc3511
ADMIN_PASSWORD='S3cr3t!x'
password=$1
TOKEN="$(cat /tmp/token)"
API_KEY="${CLOUD_KEY}"
curl -s -u admin:Adm1nPw http://cloud.example/upload
curl -u user:password http://host/
curl -u "$USER:$PASS" http://host/
curl -u admin http://host/
wget -q --password=Wg3tPw ftp://files.example/fw.bin
wget --http-password="$HTTP_PW" http://host/
sshpass -p 'Ssh9ass' ssh root@10.0.0.2
mosquitto_pub -h broker -u dev -P Mq77pass -t t -m 1
echo 'root:R00tpw!' | chpasswd
echo -e "hunter22\\nhunter22" | passwd root
nvram set http_passwd=admin
uci set wireless.@wifi-iface[0].key=Wifi1234x
[ "$pw" = "Sup3rUser" ] && exec /bin/sh
# PASS=commented-out
password_min_length=8
PASSWORD_FILE=/etc/app.pw
echo "Enter password:"
"""


def test_shell_script(tmp_path: Path) -> None:
    secrets = scan(tmp_path, {"/etc/init.d/cloud": SCRIPT})
    s = "/etc/init.d/cloud"
    assert found(secrets) == {
        (s, 2, "assignment", "PASS"), (s, 3, "assignment", "ADMIN_PASSWORD"),
        (s, 7, "cli-credential", "curl -u"), (s, 11, "cli-credential", "--password"),
        (s, 13, "cli-credential", "sshpass -p"), (s, 14, "cli-credential", "mosquitto -P"),
        (s, 15, "cli-credential", "chpasswd"), (s, 16, "cli-credential", "echo | passwd"),
        (s, 17, "assignment", "http_passwd"), (s, 18, "assignment", "wireless.@wifi-iface[0].key"),
        (s, 19, "comparison", "pw"),
    }
    by_line = {c.line: c for c in secrets.candidates}
    assert by_line[2].known_default == "xc3511" and by_line[17].known_default == "admin"
    assert by_line[3].known_default is None and by_line[3].redacted == "S3… (8 chars)"
    assert "for user 'admin'" in by_line[7].reason and "for user 'root'" in by_line[15].reason


# ---------------------------------------------------------------- configuration files


def test_config_formats(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {
        "/etc/config/cloud": "config cloud 'main'\n\toption password 'Cl0udPw'\n\toption token ''\n"
                             "\toption api_key 'YOUR_API_KEY'\n\toption password_hash '$1$abcdefgh$V9bPUY3r8aGx'\n",
        "/etc/config/rpcd": "config login\n\toption username 'root'\n\toption password '$p$root'\n",
        "/etc/config/users": "config user 'guest'\n\toption password '!'\n\toption secret '*'\n",
        "/etc/config/wireless": "config wifi-iface\n\toption encryption 'psk2'\n\toption key 'DefaultWifi99'\n",
        "/etc/config/network": "config interface 'wan'\n\toption proto 'pppoe'\n\toption key 'eth0'\n",
        "/etc/app.json": '{"mqtt": {"username": "dev", "password": "MqttPw01", "token": "****"}}\n',
        "/etc/app.xml": "<cfg>\n  <user>admin</user>\n  <password>XmlPw77</password>\n  <password></password>\n"
                        "</cfg>\n",
        "/etc/cam.conf": "password = changeme\nsecret: x\n#password=Commented1\npassword_min_length=8\n"
                         "wpa_passphrase=Hostapd12\nadmin_pass=%s\nrtsp_pass=<password>\npassword=xxxxxxxx\n",
        "/etc/agent.yaml": "cloud:\n  device_secret: Yml5ecret\n  secret_path: /etc/agent/secret\n",
        "/etc/nvram.default": b"HDR0\0http_username=admin\0http_passwd=admin\0wl0_ssid=HomeNet\0"
                              b"wl0_wpa_psk=NvPsk12345\0lan_ipaddr=192.168.1.1\0",
    }
    secrets = scan(tmp_path, files)
    assert found(secrets) == {
        ("/etc/config/cloud", 2, "assignment", "password"),
        ("/etc/config/wireless", 3, "assignment", "key"),
        ("/etc/app.json", 1, "assignment", "password"),
        ("/etc/app.xml", 3, "assignment", "password"),
        ("/etc/cam.conf", 1, "assignment", "password"),  # 'changeme' in a live file is the value in use
        ("/etc/cam.conf", 5, "assignment", "wpa_passphrase"),
        ("/etc/agent.yaml", 2, "assignment", "device_secret"),
        ("/etc/nvram.default", None, "assignment", "http_passwd"),
        ("/etc/nvram.default", None, "assignment", "wl0_wpa_psk"),
    }
    nvram = {c.name: c for c in secrets.candidates if c.path == "/etc/nvram.default"}
    assert nvram["http_passwd"].offset == len(b"HDR0\0http_username=admin\0http_passwd=")
    assert nvram["http_passwd"].known_default == "admin"


# ---------------------------------------------------------------- program code


def test_code_languages(tmp_path: Path) -> None:
    files = {
        "/usr/lib/lua/cloud.lua": 'local pass = "LuaPw99"\nlocal t = { password = "T4blePw", label = "Password" }\n'
                                  'if password == "Cmp4rePw" then ok() end\nlocal msg = "Enter your password"\n'
                                  'password = luci.http.formvalue("password")\nlocal p = { password = "%s" }\n',
        "/www/js/app.js": 'var cfg={password:"Password",token:"J5tok3n9",passwordHint:"at least 8 characters"};\n'
                          'var i18n={password:"Passwort",secret:"Geheimnis \u00e4"};\n'
                          'if (pwd === "") { return; }\n',
        "/www/index.php": "<?php\n$db_password = 'PhpDb#1';\ndefine('DB_PASSWORD', 'PhpDef1');\n"
                          "$cfg = array('password' => 'PhpArr1');\nif ($_POST['password'] == 'PhpCmp1') { login(); }\n"
                          "$password = $_POST['password'];\n",
        "/usr/bin/agent.py": '#!/usr/bin/python3\nCLIENT_SECRET = "PyS3cret"\nconnect(password="PyKw4rg")\n'
                             'PASSWORD = os.environ["PASSWORD"]\nhint = "password"\n',
    }
    assert found(scan(tmp_path, files)) == {
        ("/usr/lib/lua/cloud.lua", 1, "assignment", "pass"),
        ("/usr/lib/lua/cloud.lua", 2, "assignment", "password"),
        ("/usr/lib/lua/cloud.lua", 3, "comparison", "password"),
        ("/www/js/app.js", 1, "assignment", "token"),
        ("/www/index.php", 2, "assignment", "db_password"),
        ("/www/index.php", 3, "assignment", "DB_PASSWORD"),
        ("/www/index.php", 4, "assignment", "password"),
        ("/www/index.php", 5, "comparison", "_POST['password']"),
        ("/usr/bin/agent.py", 2, "assignment", "CLIENT_SECRET"),
        ("/usr/bin/agent.py", 3, "assignment", "password"),
    }


def test_web_pages_and_system_files(tmp_path: Path) -> None:
    """Look-alikes met in a real TP-Link TL-WR841N image: JavaScript in .htm pages that reads form fields,
    and nsswitch.conf's 'passwd' database; beside them the real default password of its web interface."""
    files = {
        "/web/dynaform/custom.js": 'var default_password = "admin";\r\nvar default_user = "admin";\r\n',
        "/web/userRpm/LoginRpm.htm": '<script>\r\n\t\t\t\tpassword = hex_md5($("pcPassword").value);\t\r\n'
                                     '<input type="password" name="pcPassword" value="">\r\n',
        "/web/userRpm/WlanSecurityRpm.htm": "        pwd = obj.radiusSecret.value;\r\n"
                                            "  \t\tlocalKey = cf.key1.value;\r\n",
        "/etc/nsswitch.conf": "passwd:\t\tcompat\ngroup:\t\tcompat\nshadow:\t\tcompat\n",
    }
    secrets = scan(tmp_path, files)
    assert found(secrets) == {("/web/dynaform/custom.js", 1, "assignment", "default_password")}
    assert secrets.candidates[0].known_default == "admin"


# ---------------------------------------------------------------- URLs and Authorization headers


def test_urls_and_basic_auth(tmp_path: Path) -> None:
    header = base64.b64encode(b"admin:admin1234").decode()
    slot = base64.b64encode(b"user:password").decode()
    files = {
        "/etc/cam.conf": "rtsp_url=rtsp://admin:Cam3raPw@192.168.1.10:554/live\nstream=rtsp://user:password@host/\n"
                         "upload=ftp://%s:%s@%s/\nbroker=mqtts://dev:Mq7tLs@broker.example:8883\n"
                         "www=https://example.com/a@b\n",
        "/www/js/auth.js": f'h["Authorization"]="Basic "+btoa("admin:J5basic1");\n'
                           f'fetch(u,{{headers:{{Authorization:"Basic {header}"}}}});\n'
                           f'fetch(u,{{headers:{{Authorization:"Basic {slot}"}}}});\n'
                           'h.Authorization="Basic "+btoa(user+":"+pass);\n',
    }
    secrets = scan(tmp_path, files)
    assert found(secrets) == {
        ("/etc/cam.conf", 1, "url-credential", "rtsp"),
        ("/etc/cam.conf", 4, "url-credential", "mqtts"),
        ("/www/js/auth.js", 1, "basic-auth-header", "admin"),
        ("/www/js/auth.js", 2, "basic-auth-header", "admin"),
    }
    decoded = next(c for c in secrets.candidates if c.line == 2 and c.path == "/www/js/auth.js")
    assert decoded.known_default == "admin1234" and "base64" in decoded.reason


# ---------------------------------------------------------------- documentation is not read


def test_documentation_and_templates_are_not_read(tmp_path: Path) -> None:
    doc = {
        "/usr/share/man/man1/curl.1": ".TP\ncurl -u user:Secret123 https://example.com\n",
        "/usr/share/doc/agent/example.conf": "password=DocPw1\n",
        "/etc/agent/agent.conf.example": "password=ExPw1234\n",
        "/www/README.md": "Log in with `curl -u admin:Readme99`\n",
        "/etc/ssl/certs/ca.pem": "password=PemPw123\n",
    }
    assert scan(tmp_path, doc).candidates == ()
    scanner = SecretScanner()
    assert [p for p in doc if scanner.wants(p, FileKind.TEXT, None, b"")] == []
    assert scanner.wants("/etc/config/cloud", FileKind.TEXT, None, b"")
    assert not scanner.wants("/bin/busybox", FileKind.ELF, None, b"\x7fELF")
    assert not scanner.wants("/www/logo.png", FileKind.BINARY, None, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")


# ---------------------------------------------------------------- token formats


def tokens() -> dict[str, str]:
    """One value per format id, made at run time."""
    b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    url = ALNUM + "_-"
    return {
        "aws-access-key-id": "AKIA" + fake("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16, "aws"),
        "aws-secret-access-key": fake(b64, 40, "aws-secret"),
        "gcp-api-key": "AIza" + fake(url, 35, "gcp"),
        "github-pat": "ghp_" + fake(ALNUM, 36, "ghp"),
        "github-fine-grained-pat": "github_pat_" + fake(ALNUM + "_", 82, "ghfg"),
        "github-token": "gho_" + fake(ALNUM, 36, "gho"),
        "gitlab-pat": "glpat-" + fake(url, 20, "gl"),
        "slack-token": f"xoxb-{fake('0123456789', 12, 's1')}-{fake('0123456789', 13, 's2')}-{fake(ALNUM, 24, 's3')}",
        "slack-webhook-url": f"T{fake(ALNUM, 8, 'w1')}/B{fake(ALNUM, 10, 'w2')}/{fake(ALNUM, 24, 'w3')}",
        "stripe-live-key": "sk_live_" + fake(ALNUM, 24, "stripe"),
        "twilio-api-key": "SK" + fake("0123456789abcdef", 32, "twilio"),
        "sendgrid-api-key": f"SG.{fake(url, 22, 'sg1')}.{fake(url, 43, 'sg2')}",
        "openai-api-key": f"sk-proj-{fake(url, 24, 'oa1')}T3BlbkFJ{fake(url, 24, 'oa2')}",
        "azure-storage-connection-string": base64.b64encode(hashlib.sha512(b"azure").digest()).decode(),
        "azure-iot-hub-connection-string": base64.b64encode(hashlib.sha256(b"iothub").digest()).decode(),
        "alibaba-access-key-id": "LTAI" + fake(ALNUM, 20, "ali"),
        "alibaba-iot-device-secret": fake(ALNUM, 32, "alidev"),
        "tuya-device-authkey": fake(ALNUM, 32, "tuya"),
        "jwt": jwt({"sub": "camera-fleet", "iss": "vendor-cloud", "iat": 1700000000}, b"vendor signing key"),
    }


def token_config(t: dict[str, str]) -> str:
    """Where each token sits, as in real firmware: one line per format, in order of ``tokens()``."""
    return "\n".join([
        f"aws_access_key_id={t['aws-access-key-id']}",
        f"aws_secret_access_key = {t['aws-secret-access-key']}",
        f"maps_url=https://maps.googleapis.com/maps/api/js?key={t['gcp-api-key']}&v=3",
        f"GH_TOKEN={t['github-pat']}",
        f"export GITHUB_PAT={t['github-fine-grained-pat']}",
        f"oauth: {t['github-token']}",
        f"gitlab_pat={t['gitlab-pat']}",
        f'slack={{"bot": "{t["slack-token"]}"}}',
        f"alert_hook=https://hooks.slack.com/services/{t['slack-webhook-url']}",
        f"billing_key={t['stripe-live-key']}",
        f"sms_sid={t['twilio-api-key']}",
        f"mail_key={t['sendgrid-api-key']}",
        f"assistant={t['openai-api-key']}",
        f"blob=DefaultEndpointsProtocol=https;AccountName=camstore01;AccountKey="
        f"{t['azure-storage-connection-string']};EndpointSuffix=core.windows.net",
        f"hub=HostName=cam-hub.azure-devices.net;DeviceId=cam-0001;SharedAccessKey="
        f"{t['azure-iot-hub-connection-string']}",
        f"ali_ak={t['alibaba-access-key-id']}",
        f'{{"ProductKey": "a1k6Tex0gDo", "DeviceName": "cam01", "DeviceSecret": "{t["alibaba-iot-device-secret"]}"}}',
        f'{{"uuid": "tuya1a2b3c4d5e6f7a8b", "auzkey": "{t["tuya-device-authkey"]}"}}',
        f"session={t['jwt']}",
    ]) + "\n"


def test_every_token_format_is_found_where_firmware_keeps_it(tmp_path: Path) -> None:
    t = tokens()
    assert set(t) == {f.id for f in token_formats().formats}  # every format of the table has a positive case
    secrets = scan(tmp_path, {"/etc/cloud.conf": token_config(t)})
    assert {(c.line, c.kind) for c in secrets.candidates} == {
        (line, f"token:{fid}") for line, fid in enumerate(t, 1)}  # the assignments holding them collapse
    for c in secrets.candidates:
        value = t[c.kind.removeprefix("token:")]
        assert c.redacted == f"{value[:2]}… ({len(value)} chars)" and value not in repr(c)


def test_token_look_alikes(tmp_path: Path) -> None:
    t = tokens()
    blob = base64.b64encode(hashlib.sha512(b"x").digest() * 3).decode()
    look_alikes = "\n".join([
        "aws_access_key_id=AKIAIOSFODNN7EXAMPLE",  # AWS's documented example
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
        "session=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2"
        "MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",  # the jwt.io example
        "cert=" + blob[:40] + t["gcp-api-key"] + blob[40:80],  # 'AIza...' inside a base64 blob
        "cert=" + blob[:40] + "/" + t["gcp-api-key"] + blob[40:80],
        "id=AKIAAAAAAAAAAAAAAAAA",  # the format, but no entropy
        "hook=https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
        "sid=" + t["twilio-api-key"] + "ff",  # part of a longer hex string
        "key=sk_test_" + fake(ALNUM, 24, "stripe-test"),  # test mode: reaches no real money
        "tuya_authkey=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    ]) + "\n"
    assert scan(tmp_path, {"/etc/cloud.conf": look_alikes}).candidates == ()


def test_token_table_is_sourced_and_sound() -> None:
    formats = token_formats()
    assert len(formats.formats) >= 15
    for f in formats.formats:
        assert f.source and f.keywords and f.name
        for example in f.examples:
            assert list(f.finditer(f"x={example}\n")) == []
    with pytest.raises(ValueError, match="bad pattern"):
        parse_formats("- {id: x, name: X, pattern: '(', source: 'gitleaks rule x', keywords: [x]}")
    with pytest.raises(ValueError, match="unique"):
        parse_formats("- {id: x, name: X, pattern: 'a', source: 'gitleaks rule x', keywords: [a]}\n" * 2)
    with pytest.raises(ValueError):
        parse_formats("- {id: x, name: X, pattern: 'a', keywords: [a]}")  # no source: refused
    assert entropy("") == 0 and entropy("aaaa") == 0 and entropy("ab") == 1


# ---------------------------------------------------------------- facts and limits


def test_truncated_files_are_recorded() -> None:
    scanner = SecretScanner()
    data = b"password=Tr7ncated1\n"
    scanner.feed(Blob(Entry("/etc/big.conf", 0o100644, MAX_TEXT + 1, 0, 0), FileKind.TEXT, None, data))
    result = scanner.result()
    assert result.files == 1 and result.truncated == ("/etc/big.conf",)
    assert [(c.path, c.line, c.name) for c in result.credentials()] == [("/etc/big.conf", 1, "password")]


@pytest.mark.parametrize(("name", "expected"), [
    ("password", True), ("adminPassword", True), ("DEVICE_SECRET", True), ("apiKey", True), ("wl0_wpa_psk", True),
    ("$_POST['passwd']", True), ("PASSWORD1", True), ("authkey", True), ("client_secret", True),
    ("password_file", False), ("passwordHint", False), ("csrf_token", False), ("public_key", False),
    ("keymap", False), ("key", False), ("ProductKey", False), ("bypass", False), ("password_min_length", False),
    ("token_url", False),
])
def test_credential_names(name: str, expected: bool) -> None:
    assert credential_name(name) is expected


@pytest.mark.parametrize(("value", "expected"), [
    ("myCam2019", False), ("!Qaz2wsx", False), ("thermostat1", False), ("zlxx.", False), ("admin", False),
    ("", True), ("ab", True), ("$PASS", True), ("${x}", True), ("$(cat /tmp/pw)", True), ("%s", True),
    ("{{ password }}", True), ("<password>", True), ("@ROOT_PW@", True), ("****", True), ("xxxx", True),
    ("!", True), ("!!", True), ("!$6$salt$hash", True), ("$1$abcdefgh$V9bPUY3r8aGx", True), ("YOUR_PASSWORD", True),
    ("my_password", True), ("new_api_key_here", True), ("none", True), ("/etc/app/secret", True),
    ("two words", True), ("https://host/", True),
])
def test_value_policy(value: str, expected: bool) -> None:
    assert not_a_credential(value, code=False, known=frozenset({"admin"})) is expected


def test_nvram_detection() -> None:
    assert nvram_like(b"a=1\0b=2\0http_passwd=admin\0")
    assert not nvram_like(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0")
    assert not nvram_like(b"a=1\0" + b"\xff\xfe" * 10 + b"\0garbage\0more\0junk\0")


# ---------------------------------------------------------------- hostile input


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=2048), kind=st.sampled_from(list(FileKind)),
       language=st.sampled_from([None, "sh", "lua", "php", "js", "python"]))
def test_random_bytes_never_raise(data: bytes, kind: FileKind, language: str | None) -> None:
    scanner = SecretScanner(["admin"])
    scanner.wants("/etc/x", kind, language, data[:4096])
    scanner.feed(Blob(Entry("/etc/x", 0o100644, len(data), 0, 0), kind, language, data))
    nvram_like(data)
    for c in scanner.result().candidates:
        assert c.path == "/etc/x"


@pytest.mark.parametrize("unit", ["eyJaaaaaaaaaaaa.", "AIza", "curl ", "tuyatuya", "a.b.c.", "x == '", "a:'\\'"])
def test_long_hostile_lines_stay_linear(unit: str) -> None:
    """Regexes with unbounded runs went quadratic on a long line of one repeated unit (a 64 KiB line of
    'AIza' once took two minutes); 128 KiB lines of each such unit must now take well under a second."""
    data = ((unit * (128 * 1024 // len(unit))) + " password").encode()
    for language, kind in ((None, FileKind.TEXT), ("sh", FileKind.SCRIPT), ("js", FileKind.SCRIPT)):
        scanner = SecretScanner(["admin"])
        start = time.monotonic()
        scanner.feed(Blob(Entry("/x", 0o100644, len(data), 0, 0), kind, language, data))
        assert time.monotonic() - start < 10


_ALPHABET = st.sampled_from([*"=:'\"$ \t\n\0\\/@#;-_.{}[]()<>|&%*xpPasSwWdoOrRkKeEyY0129",
    "password", "curl -u ", "option ", "Basic ", "btoa(", "://", "AKIA", "AIza", "eyJ", "==", "echo ", "chpasswd"])


@settings(max_examples=200, deadline=None)
@given(text=st.lists(_ALPHABET, max_size=120).map("".join))
def test_random_text_never_raises(text: str) -> None:
    for language, kind in ((None, FileKind.TEXT), ("sh", FileKind.SCRIPT), ("js", FileKind.SCRIPT)):
        scanner = SecretScanner(["admin"])
        data = text.encode()
        scanner.feed(Blob(Entry("/etc/x", 0o100644, len(data), 0, 0), kind, language, data))
        for c in scanner.result().candidates:
            assert len(c.redacted) < 40  # never more than two characters of the value and its length
    token_formats().scan(text)
    not_a_credential(text, code=True, known=frozenset())
    credential_name(text)
