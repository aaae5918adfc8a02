"""``iotcop assess device`` end to end against one real service on loopback, and its usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import svc_login
from clitools import invoke

from iotcop.cli import EXIT_FAILED, EXIT_USAGE
from iotcop.device.options import parse_ports
from iotcop.errors import UsageError

HOST = "127.0.0.82"


def test_a_telnet_with_a_default_password_fails_and_the_audit_log_is_written(tmp_path: Path) -> None:
    creds = tmp_path / "creds.txt"
    creds.write_text("# ours\nroot:root\nadmin:admin\n")
    with svc_login.python_telnet(HOST, {"admin": "admin"}) as (_, port):
        result = invoke("assess", "device", HOST, "--ports", str(port), "--credentials", str(creds),
                        "--bruteforce-attempts", "3", "--no-input-probes", "-o", str(tmp_path / "out"), "-q")
    assert result.exit_code == EXIT_FAILED, result.output
    data = json.loads((tmp_path / "out" / "assessment.json").read_text())
    assert data["inputs"] == ["network"] and data["target"] == {"kind": "device", "name": HOST, "sha256": None,
                                                                "size": None, "product": None, "version": None}
    login = next(f for f in data["findings"] if f["check_id"] == "net.credentials.default-login")
    assert "'admin' / 'admin'" in login["message"] and "credentials file creds.txt" in login["message"]
    assert {c["host"] for c in data["connections"]} == {HOST}
    assert any(s["port"] == port and s["name"] == "telnet" for s in data["services"])


@pytest.mark.parametrize("args", [[], ["10.0.0.0/8"], [HOST, "--ports", "0"], [HOST, "--ports", "http"],
                                  [HOST, "--credentials", "/nonexistent"]])
def test_usage_errors_contact_nothing(args: list[str], tmp_path: Path) -> None:
    result = invoke("assess", "device", *args, "-o", str(tmp_path))
    assert result.exit_code == EXIT_USAGE, result.output
    assert not (tmp_path / "assessment.json").exists()


def test_port_lists() -> None:
    assert parse_ports("22, 80,8000-8002,80") == (22, 80, 8000, 8001, 8002)
    for bad in ("", "70000", "5-1", "a-b"):
        with pytest.raises(UsageError):
            parse_ports(bad)


def test_nmap_gets_port_ranges_not_a_list_too_long_for_one_argument() -> None:
    from iotcop.device.discovery import nmap_command

    command = nmap_command("/usr/bin/nmap", HOST, tuple(range(1, 65536)), 2.0, 100.0)
    assert command[command.index("-p") + 1] == "1-65535"
    command = nmap_command("/usr/bin/nmap", HOST, (80, 22, 23, 8000, 8001, 8002, 23), 2.0, 100.0)
    assert command[command.index("-p") + 1] == "22-23,80,8000-8002"
