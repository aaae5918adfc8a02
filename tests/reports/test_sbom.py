"""The CycloneDX SBOM: valid against CycloneDX 1.6's own JSON schema (shipped with cyclonedx-python-lib),
deterministic, and faithful to the assessment's components."""

from __future__ import annotations

import json

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from hypothesis import given, settings
from hypothesis import strategies as st

from iotcop.model import Assessment, CatalogueRef, Component, Target, ToolInfo
from iotcop.reports.sbom import render_sbom

OPENSSL = Component(name="openssl", version="1.0.1f", confidence="high", source="opkg status",
                    locations=("/usr/lib/libssl.so.1.0.0", "/usr/lib/libcrypto.so.1.0.0"), evidence="Version: 1.0.1f",
                    purl="pkg:generic/openssl@1.0.1f", cpe="cpe:2.3:a:openssl:openssl:1.0.1f:*:*:*:*:*:*:*")
BUSYBOX = Component(name="busybox", confidence="low", source="file name", locations=("/bin/busybox",))
LINUX = Component(name="linux", version="4.14.180", confidence="medium", source="module vermagic",
                  locations=("/lib/modules/4.14.180/x.ko",), purl="pkg:generic/linux@4.14.180",
                  cpe="cpe:2.3:o:linux:linux_kernel:4.14.180:*:*:*:*:*:*:*")


def assessment(*components: Component, sha256: str | None = "ab" * 32) -> Assessment:
    return Assessment(tool=ToolInfo(version="0"), target=Target(kind="firmware", name="fw.bin", sha256=sha256),
                      generated_at="2026-11-25T20:00:00+00:00", inputs=(),
                      catalogues=(CatalogueRef(framework="x", title="x", version="1", sha256="0"),),
                      check_runs=(), findings=(), verdicts=(), summary=(), components=components)


def validate(data: bytes) -> None:
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(data.decode())
    assert error is None, error


def test_a_valid_deterministic_cyclonedx_document() -> None:
    data = render_sbom(assessment(OPENSSL, BUSYBOX, LINUX))
    validate(data)
    assert render_sbom(assessment(OPENSSL, BUSYBOX, LINUX)) == data
    doc = json.loads(data)
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.6"
    subject = doc["metadata"]["component"]
    assert (subject["type"], subject["name"], subject["hashes"][0]["content"]) == ("firmware", "fw.bin", "ab" * 32)
    parts = {c["name"]: c for c in doc["components"]}
    assert parts["openssl"]["purl"] == "pkg:generic/openssl@1.0.1f" and parts["openssl"]["type"] == "library"
    assert parts["openssl"]["cpe"] == OPENSSL.cpe
    assert [o["location"] for o in parts["openssl"]["evidence"]["occurrences"]] == list(OPENSSL.locations)
    assert parts["linux"]["type"] == "operating-system" and parts["busybox"]["type"] == "application"
    assert "version" not in parts["busybox"]  # unknown, not invented
    props = {p["name"]: p["value"] for p in parts["busybox"]["properties"]}
    assert props == {"iotcop:confidence": "low", "iotcop:source": "file name"}
    [root] = [d for d in doc["dependencies"] if d["ref"] == "firmware-image"]
    assert len(root["dependsOn"]) == 3


def test_no_components_and_no_digest_is_still_valid() -> None:
    validate(render_sbom(assessment(sha256=None)))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.text(min_size=1, max_size=30), st.one_of(st.none(), st.text(max_size=20))),
                max_size=6))
def test_any_names_and_versions_make_a_valid_document(items: list[tuple[str, str | None]]) -> None:
    components = tuple(Component(name=n, version=v, confidence="medium", source="version string") for n, v in items)
    validate(render_sbom(assessment(*components)))


def test_an_invalid_package_url_from_the_image_does_not_stop_the_sbom() -> None:
    odd = Component(name="x", version="1", confidence="high", source="opkg status", purl="not a purl at all")
    doc = json.loads(render_sbom(assessment(odd)))
    [part] = doc["components"]
    assert "purl" not in part
    assert {"name": "iotcop:invalid-purl", "value": "not a purl at all"} in part["properties"]
