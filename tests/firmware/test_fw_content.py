"""The one content pass: classification, one read per file, bounds, and documentation paths."""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fwimages import write_tree
from hypothesis import given
from hypothesis import strategies as st

from iotcop.firmware.content import Blob, FileKind, classify, is_documentation, scan_content
from iotcop.firmware.filesystem import FileSystem


@dataclass
class Recorder:
    max_bytes: int
    kinds: frozenset[FileKind]
    fed: list[Blob] = field(default_factory=list)

    def wants(self, path: str, kind: FileKind, language: str | None, head: bytes) -> bool:
        return kind in self.kinds

    def feed(self, blob: Blob) -> None:
        self.fed.append(blob)


@pytest.mark.parametrize(("path", "head", "kind", "language"), [
    ("/bin/x", b"\x7fELF\x01\x01\x01", FileKind.ELF, None),
    ("/www/cgi-bin/a", b"#!/bin/sh\necho", FileKind.SCRIPT, "sh"),
    ("/usr/bin/b", b"#!/usr/bin/env lua5.1\n", FileKind.SCRIPT, "lua"),
    ("/usr/bin/c", b"#! /usr/bin/php-cgi\n", FileKind.SCRIPT, "php"),
    ("/www/index.php", b"<html><?php echo 1; ?>", FileKind.SCRIPT, "php"),
    ("/usr/lib/lua/luci/controller/admin.lua", b"module('x')", FileKind.SCRIPT, "lua"),
    ("/etc/config/network", b"config interface 'lan'\n", FileKind.TEXT, None),
    ("/etc/logo.png", b"\x89PNG\r\n\x1a\n\0\0", FileKind.BINARY, None),
])
def test_classify(path: str, head: bytes, kind: FileKind, language: str | None) -> None:
    assert classify(path, head) == (kind, language)


@pytest.mark.parametrize(("path", "doc"), [
    ("/usr/share/doc/curl/README", True),
    ("/usr/share/man/man1/curl.1.gz", True),
    ("/etc/lighttpd/lighttpd.conf.example", True),
    ("/usr/lib/python3/test/test_ssl.py", True),
    ("/usr/share/examples/httpd.conf", True),
    ("/etc/mosquitto/mosquitto.conf.example", True),
    ("/etc/templates/wifi.tmpl", False),  # rendered into a live configuration at boot
    ("/etc/config/network", False),
    ("/etc/shadow", False),
    ("/www/cgi-bin/login.cgi", False),
    ("/www/cgi-bin/test.cgi", False),  # a vendor's test CGI is live code
    ("/www/doc/apply.cgi", False),
    ("/usr/bin/test", False),
    ("/lib/libcrypto.so.1", False),  # not a man page section
    ("/usr/sbin/testd", False),
])
def test_documentation_paths(path: str, doc: bool) -> None:
    assert is_documentation(path) is doc


def test_each_file_is_opened_once_and_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_tree(tmp_path / "root", files={"/etc/big.conf": "a=1\n" * 10_000, "/www/x.cgi": "#!/bin/sh\n",
                                                "/etc/empty": ""})
    fs = FileSystem.scan(root)
    text_small = Recorder(100, frozenset({FileKind.TEXT}))
    text_large = Recorder(1 << 20, frozenset({FileKind.TEXT, FileKind.SCRIPT}))
    nobody = Recorder(1 << 20, frozenset())
    opened: list[str] = []
    real_open = builtins.open

    def counting_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting_open)
    stats = scan_content(fs, [text_small, text_large, nobody])
    monkeypatch.undo()
    assert sorted(opened) == sorted({str(root / p) for p in ("bin/busybox", "etc/big.conf", "www/x.cgi")})
    assert [(b.path, len(b.data), b.truncated) for b in text_small.fed] == [("/etc/big.conf", 100, True)]
    assert [(b.path, len(b.data), b.kind) for b in text_large.fed] == [
        ("/etc/big.conf", 40_000, FileKind.TEXT), ("/www/x.cgi", 10, FileKind.SCRIPT)]
    assert not nobody.fed
    assert (stats.files, stats.read, stats.bytes_read) == (3, 2, 40_010)  # the empty file is not offered


@given(st.binary(max_size=600), st.text(max_size=40))
def test_classify_never_raises(head: bytes, name: str) -> None:
    kind, _ = classify("/" + name, head)
    assert kind in FileKind


class Exploding:
    """A scanner with a bug: it raises on the second file it is fed."""

    max_bytes = 1 << 20

    def __init__(self) -> None:
        self.fed: list[str] = []

    def wants(self, path: str, kind: FileKind, language: str | None, head: bytes) -> bool:
        return True

    def feed(self, blob: Blob) -> None:
        self.fed.append(blob.path)
        if len(self.fed) == 2:
            raise ValueError("unforeseen input")


def test_a_failing_scanner_is_dropped_and_the_others_go_on(tmp_path: Path) -> None:
    fs = FileSystem.scan(write_tree(tmp_path / "r", files={"/a": "1", "/b": "2", "/c": "3"}, skeleton=False))
    bad, good = Exploding(), Recorder(1 << 20, frozenset(FileKind))
    stats = scan_content(fs, [bad, good])
    assert bad.fed == ["/a", "/b"] and [b.path for b in good.fed] == ["/a", "/b", "/c"]
    assert stats.failed == {"Exploding": "ValueError on /b: unforeseen input"}


def test_a_hostile_elf_is_recorded_unparsed_not_raised(tmp_path: Path) -> None:
    """An interpreter path that is not UTF-8 made LIEF's binding raise; the assessment must go on."""
    from iotcop.api import assess_firmware

    data = bytearray(Path("/bin/true").read_bytes())
    start = data.find(b"/lib")
    data[start + 3] = 0xFF
    root = write_tree(tmp_path / "r", files={"/bin/evil": bytes(data), "/etc/passwd": "root:*:0:0::/:/bin/sh\n"})
    assessment = assess_firmware(root)
    assert not any("collecting" in n for n in assessment.notes)
    from iotcop.firmware.facts import collect_firmware

    facts = collect_firmware(root)
    try:
        assert [u.split(":")[0] for u in facts.elf.unparsed] == ["/bin/evil"]
    finally:
        facts.close()


def test_a_failing_collector_makes_its_checks_inconclusive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import iotcop.firmware.facts as facts_module
    from iotcop.api import assess_firmware
    from iotcop.model import RunStatus

    def broken(fs: FileSystem) -> None:
        raise RuntimeError("a parser bug")

    monkeypatch.setattr(facts_module, "collect_credential_stores", broken)
    root = write_tree(tmp_path / "r", files={"/etc/passwd": "root:*:0:0::/:/bin/sh\n"})
    assessment = assess_firmware(root, use_cache=False)
    runs = {r.check_id: r for r in assessment.check_runs}
    assert runs["fw.credentials.plaintext-password"].status is RunStatus.INCONCLUSIVE
    assert runs["fw.credentials.plaintext-password"].reason == "the CredentialStores facts were not collected"
    assert runs["fw.credentials.extra-root-account"].status is RunStatus.COMPLETED  # other facts unharmed
    assert any(n.startswith("collecting CredentialStores failed (RuntimeError: a parser bug)")
               for n in assessment.notes)


def test_the_parallel_pass_gives_the_facts_of_one_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Forked workers scan runs of consecutive paths; merged in path order, the facts are identical."""
    import iotcop.firmware.content as content
    from iotcop.firmware.elf import ElfScanner
    from iotcop.firmware.keys import KeyScanner
    from iotcop.firmware.secrets import SecretScanner
    from iotcop.firmware.webinput import WebHandlerScanner

    monkeypatch.setattr(content, "PARALLEL_BYTES", 0)
    files: dict[str, str | bytes] = {f"/www/cgi-bin/c{i}.cgi": "#!/bin/sh\nx=$QUERY_STRING\neval \"ls $x\"\n"
                                     for i in range(30)}
    files |= {f"/etc/app{i}.conf": f"password=Unique-{i}-Pass!\n" for i in range(30)}
    files |= {f"/usr/bin/tool{i}": Path("/bin/true").read_bytes() for i in range(6)}
    files["/etc/ssl/private/k.pem"] = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"
    fs = FileSystem.scan(write_tree(tmp_path / "r", files=files))

    def facts(workers: int) -> tuple[object, ...]:
        scanners = (ElfScanner(), KeyScanner(), WebHandlerScanner(), SecretScanner(["admin"]))
        stats = scan_content(fs, list(scanners), workers=workers)
        return (stats.files, stats.read, stats.bytes_read, *(s.result() for s in scanners))

    one, two, three = facts(1), facts(2), facts(3)
    assert one == two == three
    assert len(one[5].flows) == 30 and len(one[6].candidates) == 30  # the runs really held the work
