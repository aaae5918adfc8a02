"""Vendor support-period documents for the tests: a product page as vendors write them (navigation, specs, a
warranty line, customer-service hours, a "last updated" date), a support table, PDFs from WeasyPrint, and a
manufacturer's declaration."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from iotcop.declaration.schema import Declaration
from iotcop.firmware.components import Components
from iotcop.model import Component

LOOKALIKES = ("<p>Warranty: 2 years from the date of purchase.</p>"
              "<p>Customer support is available Monday to Friday until 6pm.</p>"
              "<p>Firmware 2.4 was released on 12 March 2024 with security fixes.</p>"
              "<footer><p>This security update page was last updated on 1 March 2024.</p>"
              "<p>Copyright 2024 Acme Ltd.</p></footer>")


def product_page(statement: str, *, lookalikes: bool = True) -> bytes:
    """The Acme X100 product page, with ``statement`` (HTML) in its Support section."""
    return (
        "<!doctype html><html><head><title>Acme X100 smart camera</title><script>var year = 2031;</script></head>"
        "<body><nav><a href='/'>Home</a> <a href='/shop'>Shop</a></nav>"
        "<main><h1>Acme X100 smart camera</h1><p>1080p video, night vision, two-way audio.</p>"
        "<h2>Specifications</h2><ul><li>Wi-Fi 2.4 GHz</li><li>Model number: X100-2029</li></ul>"
        f"<h2>Support</h2>{statement}</main>{LOOKALIKES if lookalikes else ''}</body></html>"
    ).encode()


def support_table(rows: list[tuple[str, str]]) -> bytes:
    """A support policy listing models and the date security updates end, one table row per model."""
    cells = "".join(f"<tr><td>{model}</td><td>{end}</td></tr>" for model, end in rows)
    return ("<html><body><h1>Product support policy</h1><p>We list below how long each model gets security "
            "updates.</p><table><tr><th>Model</th><th>Security updates until</th></tr>"
            f"{cells}</table></body></html>").encode()


def write_pdf(html: bytes, path: Path) -> Path:
    weasyprint = pytest.importorskip("weasyprint")
    weasyprint.HTML(string=html.decode()).write_pdf(path)
    return path


def statement_of_compliance(support_sentence: str) -> bytes:
    return ("<html><body><h1>Statement of compliance</h1><p>Product: Acme X100 smart camera, batch 2024-03.</p>"
            "<p>Manufacturer: Acme Ltd, 1 High Street, Bristol BS1 1AA, United Kingdom.</p>"
            "<p>This statement of compliance is prepared by Acme Ltd. In the opinion of the manufacturer, the "
            "product complies with the applicable security requirements in Schedule 1 of the PSTI regulations.</p>"
            f"<p>{support_sentence}</p><p>Signed for and on behalf of Acme Ltd by Jane Smith, Head of Product "
            "Security, at Bristol on 1 March 2024.</p></body></html>").encode()


def declaration(end: dt.date | None, *, constrained: bool = False) -> Declaration:
    return Declaration.model_validate({
        "schema": "iotcop-declaration/1",
        "product": {"manufacturer": "Acme Ltd", "name": "Acme X100", "firmware_version": "2.4",
                    "constrained_device": constrained},
        "ixit": {"support_period": {"end_date": end.isoformat() if end else None,
                                    "published_at": "https://acme.example/x100"}},
        "lines": {"ixit.support_period.end_date": 7},
    })


def components(*versions: tuple[str, str]) -> Components:
    """Components as the firmware reader reports them (name, version, where the banner was)."""
    paths = {"linux": "/lib/modules/{v}/modules.dep", "openssl": "/usr/lib/libcrypto.so.{v}",
             "busybox": "/bin/busybox"}
    return Components(tuple(
        Component(name=name, version=version, confidence="high", source="version string",
                  locations=(paths.get(name, "/usr/lib/lib{n}.so").format(v=version, n=name),),
                  evidence=f"{name} {version}")
        for name, version in versions))
