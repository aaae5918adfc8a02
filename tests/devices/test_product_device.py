"""A product file with a live device: the device part runs within its scope, merged with the documents."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import svc_login

from iotcop.api import assess_product
from iotcop.product import load_product

HOST = "127.0.0.81"
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def test_device_and_documents_in_one_assessment(tmp_path: Path) -> None:
    (tmp_path / "support.html").write_text("<p>Security updates are provided until 31 December 2030.</p>")
    with svc_login.python_telnet(HOST, {"admin": "admin"}) as (_, port):
        (tmp_path / "product.yaml").write_text(
            "schema: iotcop-product/1\nproduct: {name: Test Plug}\n"
            f"device: {{targets: ['{HOST}'], ports: '{port}', bruteforce_attempts: 4, input_probes: false}}\n"
            "documents: {support: [support.html]}\n")
        a = assess_product(load_product(tmp_path / "product.yaml"), clock=lambda: NOW)
    assert list(a.inputs) == ["document", "network"]
    assert {(f.check_id, f.location.path) for f in a.findings if f.check_id.startswith("net.credentials")} == {
        ("net.credentials.default-login", f"{HOST}:{port}")}
    assert a.verdict("psti", "sch1-1").outcome.value == "FAIL"  # the live default password
    assert a.verdict("psti", "sch1-3").outcome.value == "PASS"  # the published support period
    assert {c.host for c in a.connections} == {HOST}
