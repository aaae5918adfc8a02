"""The update collector (update.py) and the boot-image reader (fit.py) on real artefacts: FIT images signed
by mkimage, U-Boot control DTBs made by dtc, legacy uImages, OTA clients compiled for MIPS, and shell
scripts; plus property tests: hostile bytes never raise."""

from __future__ import annotations

from pathlib import Path

import pytest
import updateimages
from fwimages import write_tree
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iotcop.firmware.content import Blob, FileKind, scan_content
from iotcop.firmware.elf import ElfScanner
from iotcop.firmware.filesystem import Entry, FileSystem
from iotcop.firmware.fit import FDT_MAGIC, boot_images, boot_of_image, parse_fdt
from iotcop.firmware.update import UpdateScanner, script_steps


@pytest.fixture(scope="module")
def boot(tmp_path_factory: pytest.TempPathFactory) -> updateimages.BootArtefacts:
    return updateimages.build_boot(tmp_path_factory.getbasetemp() / "update-artefacts" / "boot")


def test_signed_fit_and_required_key(boot: updateimages.BootArtefacts) -> None:
    [fit] = boot_images(boot["signed.itb"], "signed.itb").fits
    assert fit.signatures == (("/configurations/conf-1/signature-1", "sha256,rsa2048", "dev"),)
    assert fit.images == ("kernel-1",) and fit.hashes == ("sha256",)
    [key] = boot_images(boot["u-boot.dtb"], "u-boot.dtb").keys
    assert (key.name, key.algo, key.required, key.bits) == ("dev", "sha256,rsa2048", "conf", 2048)
    assert boot_images(boot["plain.dtb"], "plain.dtb") .keys == ()


def test_unsigned_fit_and_uimage(boot: updateimages.BootArtefacts) -> None:
    [fit] = boot_images(boot["unsigned.itb"], "x").fits
    assert not fit.signed and fit.unsigned_signatures == ()
    [hint] = boot_images(boot["uImage"], "x").hints
    assert hint.kind == "legacy-uimage" and "'Linux-5.15'" in hint.detail


def test_image_file_is_searched_at_any_offset(boot: updateimages.BootArtefacts, tmp_path: Path) -> None:
    image = tmp_path / "flash.bin"
    image.write_bytes(updateimages.uboot_blob(verify_off=False) + b"\xff" * 1000 + boot["uImage"]
                      + b"\xff" * 333 + boot["signed.itb"])
    found = boot_of_image(image)
    assert [f.offset for f in found.fits] == [len(updateimages.uboot_blob(False)) + 1000 + len(boot["uImage"]) + 333]
    assert {h.kind for h in found.hints} == {"uboot", "legacy-uimage"}
    assert boot_of_image(tmp_path).fits == ()  # a directory: nothing


def test_script_steps_follow_variables_substitutions_and_ignore_comments() -> None:
    steps = script_steps("/s", "#!/bin/sh\n# md5sum first\nU=tftp://10.0.0.1/fw.bin\ncurl -o /tmp/f $U\n"
                               'echo "sha256sum later"\nX=$(sha256sum /tmp/f)\nmtd write /tmp/f linux\n')
    assert [(d.scheme, d.line) for d in steps.downloads] == [("tftp", 4)]
    assert [s.tool for s in steps.integrity] == ["sha256sum"] and steps.signatures == ()
    assert [f.line for f in steps.flashes] == [7] and steps.is_update and not steps.verified
    config_only = script_steps("/c", "#!/bin/sh\nwget http://x/cfg.json\nfw_setenv bootcount 0\n")
    assert not config_only.is_update


def test_helper_script_and_agent_configuration_verify(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "r", {
        "/usr/sbin/upgrade.sh": "#!/bin/sh\nwget -O /tmp/u.raucb https://x/u.raucb\n/usr/sbin/check.sh /tmp/f\n"
                                "mtd write /tmp/f firmware\nrauc install /tmp/u.raucb\n",
        "/usr/sbin/check.sh": "#!/bin/sh\nsignify -V -p /etc/keys/fw.pub -m \"$1\"\n",
        "/etc/rauc/system.conf": "[keyring]\npath=/etc/rauc/missing.pem\n",
    })
    fs = FileSystem.scan(root)
    scanner = UpdateScanner()
    scan_content(fs, [scanner])
    facts = scanner.result(fs)
    [script] = facts.scripts
    assert script.verified_by == "/usr/sbin/check.sh:2"
    assert {(v.agent, v.key, v.key_present) for v in facts.verifiers} == {("rauc", "/etc/rauc/missing.pem", False)}


def test_ota_binaries_from_elf_facts(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "r", {
        "/usr/sbin/fw_upgrade": updateimages.ota_binary(tmp_path / "elf", verifies=False),
        "/usr/sbin/ota_client": updateimages.ota_binary(tmp_path / "elf", verifies=True),
        "/usr/sbin/otherd": updateimages.ota_binary(tmp_path / "elf", verifies=False),  # not named as an updater
    })
    fs = FileSystem.scan(root)
    elf, scanner = ElfScanner(), UpdateScanner()
    scan_content(fs, [elf, scanner])
    facts = scanner.result(fs, elf.result())
    assert {a.path for a in facts.agents if a.kind == "vendor-binary"} == {"/usr/sbin/fw_upgrade",
                                                                          "/usr/sbin/ota_client"}
    assert [a.path for a in facts.unverified_binaries] == ["/usr/sbin/fw_upgrade"]
    assert {(d.path, d.scheme) for d in facts.downloads} == {("/usr/sbin/fw_upgrade", "http"),
                                                            ("/usr/sbin/ota_client", "http")}


def _blob(path: str, data: bytes, kind: FileKind = FileKind.TEXT) -> Blob:
    return Blob(Entry(path, 0o100644, len(data), 0, 0), kind, "sh" if kind is FileKind.SCRIPT else None, data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048), st.integers(min_value=0, max_value=64))
def test_fdt_parser_never_raises(data: bytes, cut: int) -> None:
    header = FDT_MAGIC + len(data).to_bytes(4, "big") + data
    parse_fdt(header[: len(header) - cut])
    boot_images(data + header, "fuzz")


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=1024))
def test_mutated_fit_never_raises(noise: bytes) -> None:
    # flip bytes of a real signed FIT (built once, outside hypothesis's timing)
    data = bytearray(_SIGNED)
    for i, b in enumerate(noise[:64]):
        data[(i * 97 + b) % len(data)] ^= b
    boot_images(bytes(data), "mutated")


_SIGNED = b""


@pytest.fixture(scope="module", autouse=True)
def _signed(boot: updateimages.BootArtefacts) -> None:
    global _SIGNED
    _SIGNED = boot["signed.itb"]


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=600))
def test_script_and_config_parsers_never_raise(text: str) -> None:
    script_steps("/x.sh", text)
    scanner = UpdateScanner()
    for path in ("/etc/opkg.conf", "/etc/mender/mender.conf", "/etc/rauc/system.conf", "/etc/swupdate.cfg"):
        scanner.feed(_blob(path, text.encode(errors="replace")))
    scanner.feed(_blob("/usr/sbin/x.sh", text.encode(errors="replace"), FileKind.SCRIPT))
    scanner.result()
