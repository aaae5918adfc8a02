"""The update path of a firmware, read statically during the content pass: which update agents it ships
(OpenWrt sysupgrade and opkg, swupdate, RAUC, Mender, vendor OTA scripts and binaries), where updates are
downloaded from, and whether the image is checked for authenticity before it is flashed.

Shell scripts are split into simple commands (``shell.py``), so a tool counts only in command position:
``md5sum`` in a comment or an ``echo`` is no integrity step, and a script that downloads a configuration
file but never writes flash is no update path. A signature check (usign/signify ``-V``, ``openssl dgst
-verify``, ``openssl smime/cms -verify``, ``gpg --verify``, ``gpgv``, ``swupdate -k``, ``rauc install``)
proves authenticity; an md5/sha/crc comparison with a downloaded value proves integrity only. Agent
configuration (mender.conf, RAUC system.conf, swupdate.cfg, opkg.conf) says whether signatures are
required and by which key; ``result(root)`` looks each key up in the FileSystem view. Boot images (FIT,
U-Boot) found among the files are read by ``fit.py``, shell scripts by ``updatescript.py``. Everything is
bounded and never raises.
"""

from __future__ import annotations

import configparser
import json
import posixpath
import re
from dataclasses import dataclass, field, replace
from typing import TypeVar

from iotcop.firmware.content import Blob, FileKind, is_documentation
from iotcop.firmware.elf import ElfFiles
from iotcop.firmware.filesystem import FileSystem
from iotcop.firmware.fit import FDT_MAGIC, UIMAGE_MAGIC, BootImages, boot_images, merge_boot
from iotcop.firmware.updatescript import Download, Step, UpdateScript, download_of, script_steps

__all__ = ["BootImages", "Download", "Step", "UpdateAgent", "UpdateFacts", "UpdateScanner", "UpdateScript",
           "Verifier", "download_of", "script_steps"]

MAX_BYTES = 16 * 1024 * 1024  # a FIT kernel image; scripts and configurations are far smaller
MAX_TEXT = 1024 * 1024
MAX_ITEMS = 500
AGENTS = {"sysupgrade": "sysupgrade", "opkg": "opkg", "swupdate": "swupdate", "rauc": "rauc", "mender": "mender",
          "mender-update": "mender", "fwupd": "fwupd", "fwupdmgr": "fwupd", "hawkbit-client": "hawkbit"}
BIN_DIRS = ("/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/", "/usr/libexec/", "/usr/local/bin/", "/usr/local/sbin/")
KEY_DIRS = ("/etc/opkg/keys/", "/usr/share/keys/", "/etc/rauc/", "/etc/swupdate/", "/etc/mender/", "/etc/keys/")
KEY_SUFFIXES = (".pem", ".pub", ".crt", ".cer", ".der", ".gpg", ".asc", ".key", ".kbx")
_OTA_NAME = re.compile(r"(?i)(^|[_-])(ota|fw_?up(date|grade)|firmware_?(update|upgrade)|upgrade|auto_?update|"
                       r"cloud_?upgrade|update_?(client|agent|d))($|[_.-])")
_BOOT_NAME = re.compile(r"(?i)(u-?boot|fitimage|\.itb$|\.fit$|uimage|uenv)")
_ELF_VERIFY = frozenset({"RSA_verify", "EVP_DigestVerifyFinal", "EVP_VerifyFinal", "EVP_PKEY_verify",
                         "EVP_DigestVerify", "ECDSA_verify", "mbedtls_pk_verify", "mbedtls_rsa_pkcs1_verify",
                         "wc_RsaSSL_Verify", "wc_SignatureVerify", "ed25519_verify", "gpgme_op_verify"})
_ELF_FLASH = re.compile(r"mtd write|/dev/mtd|sysupgrade|flashcp|nandwrite|mtd_write|/dev/mmcblk")
_ELF_URL = re.compile(r"\b(?:https?|ftp|tftp)://[\w.:@%/~+?=&#-]{3,200}")
T = TypeVar("T")
_UPDATE_URL = re.compile(r"(?i)fw|firmware|upgrade|update|ota|\.bin\b|\.img\b|\.trx\b")


@dataclass(frozen=True)
class UpdateAgent:
    kind: str  # sysupgrade, opkg, swupdate, rauc, mender, fwupd, vendor-script, vendor-binary
    path: str
    detail: str = ""


@dataclass(frozen=True)
class Verifier:
    """A signature check configured for an update path, and its key: ``key_present`` is None when the
    key's location cannot be known statically (a variable, a key given at run time)."""

    agent: str
    path: str
    line: int | None
    raw_line: str
    enabled: bool
    key: str | None = None
    key_present: bool | None = None


@dataclass(frozen=True)
class UpdateFacts:
    agents: tuple[UpdateAgent, ...] = ()
    scripts: tuple[UpdateScript, ...] = ()  # scripts that write flash (update paths)
    downloads: tuple[Download, ...] = ()  # of update scripts, agent configurations and update binaries
    verifiers: tuple[Verifier, ...] = ()
    unverified_binaries: tuple[UpdateAgent, ...] = ()  # update binaries with no visible signature check
    boot: BootImages = field(default_factory=BootImages)
    examined: int = 0
    notes: tuple[str, ...] = ()

    @property
    def found(self) -> bool:
        return bool(self.agents or self.scripts)


@dataclass
class UpdateScanner:
    """Scanner of the content pass; ``result(root, elf, boot)`` gives the ``UpdateFacts``."""

    max_bytes: int = MAX_BYTES
    examined: int = 0
    agents: list[UpdateAgent] = field(default_factory=list)
    scripts: list[UpdateScript] = field(default_factory=list)
    downloads: list[Download] = field(default_factory=list)
    verifiers: list[Verifier] = field(default_factory=list)
    key_files: list[str] = field(default_factory=list)
    boots: list[BootImages] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def wants(self, path: str, kind: FileKind, language: str | None, head: bytes) -> bool:
        name = posixpath.basename(path)
        if path.startswith(KEY_DIRS) or name.endswith(KEY_SUFFIXES) or "keyring" in name:
            _add(self.key_files, path)
        if is_documentation(path):
            return False
        if path.startswith(BIN_DIRS) and name in AGENTS:
            _add(self.agents, UpdateAgent(AGENTS[name], path))
        if head.startswith((FDT_MAGIC, UIMAGE_MAGIC)) or (_BOOT_NAME.search(name) and kind is not FileKind.SCRIPT):
            return True
        if kind is FileKind.ELF:
            return False  # update binaries are judged from their ELF facts (``result``)
        if kind is FileKind.SCRIPT:
            return language == "sh"
        return _config_kind(path) is not None

    def feed(self, blob: Blob) -> None:
        self.examined += 1
        head = blob.data[:4]
        if head in (FDT_MAGIC, UIMAGE_MAGIC) or (_BOOT_NAME.search(posixpath.basename(blob.path))
                                                 and blob.kind is not FileKind.SCRIPT):
            self.boots.append(boot_images(blob.data, blob.path))
            return
        text = blob.data[:MAX_TEXT].decode("utf-8", errors="replace")
        if blob.kind is FileKind.SCRIPT:
            steps = script_steps(blob.path, text)
            if steps.flashes or steps.signatures or steps.agents:
                _add(self.scripts, steps)
            return
        config = _config_kind(blob.path)
        if config is not None:
            _CONFIGS[config](self, blob.path, text)

    def result(self, root: FileSystem | None = None, elf: ElfFiles | None = None,
               boot: BootImages | None = None) -> UpdateFacts:
        agents = list(self.agents)
        paths = [s for s in self.scripts if s.is_update]
        configured = {v.agent for v in self.verifiers if v.enabled and v.key}
        scripts = [_settle(s, self.scripts, configured) for s in paths]
        for s in scripts:
            agents.append(UpdateAgent("vendor-script", s.path, f"writes flash with {s.flashes[0].tool}"
                                      if s.flashes else "starts an update agent"))
        downloads = [d for s in scripts for d in s.downloads] + list(self.downloads)
        verifiers = [_with_key(v, root, self.key_files) for v in
                     [*self.verifiers, *(v for s in scripts for v in _script_verifiers(s))]]
        binaries, unverified = _binaries(elf, downloads)
        boots = merge_boot(*self.boots, *([boot] if boot else []))
        return UpdateFacts(_unique([*agents, *binaries]), tuple(scripts), _unique(downloads), _unique(verifiers),
                           tuple(unverified), boots, self.examined, tuple(self.notes))


def _add(items: list[T], item: T) -> None:
    if len(items) < MAX_ITEMS:
        items.append(item)


def _unique(items: list[T]) -> tuple[T, ...]:
    return tuple(dict.fromkeys(items))


def _settle(script: UpdateScript, all_scripts: list[UpdateScript], configured: set[str]) -> UpdateScript:
    """A script verifies when it runs a signature check itself, in a script it calls, or through an agent
    whose configuration requires signatures."""
    if script.signatures:
        return script
    by_path = {s.path: s for s in all_scripts}
    for call in script.calls:
        if (called := by_path.get(call)) is not None and called.signatures:
            return replace(script, verified_by=f"{called.path}:{called.signatures[0].line}")
    for agent in script.agents:
        if agent.tool in configured:
            return replace(script, verified_by=f"the {agent.tool} configuration")
    return script


def _script_verifiers(script: UpdateScript) -> list[Verifier]:
    return [Verifier(s.tool, script.path, s.line, s.raw_line, True, s.key) for s in script.signatures]


def _with_key(v: Verifier, root: FileSystem | None, key_files: list[str]) -> Verifier:
    if not v.enabled or not v.key or "$" in v.key or v.key_present is not None:
        return v
    key = v.key if v.key.startswith("/") else posixpath.join(posixpath.dirname(v.path), v.key)
    if root is not None:
        entry = root.resolve(key)
        present = entry is not None and ((entry.is_file and entry.size > 0) or
                                          (entry.is_dir and bool(root.glob(entry.path.rstrip("/") + "/?*"))))
    else:
        present = any(k == key or k.startswith(key.rstrip("/") + "/") for k in key_files)
    return replace(v, key=key, key_present=present)


def _binaries(elf: ElfFiles | None, downloads: list[Download]) -> tuple[list[UpdateAgent], list[UpdateAgent]]:
    """Update binaries: named like an OTA client and holding flash-writing strings or update URLs."""
    agents, unverified = [], []
    for info in (elf.files if elf else ())[:20_000]:
        if not _OTA_NAME.search(posixpath.basename(info.path)) or not info.path.startswith(BIN_DIRS):
            continue
        urls = [m.group(0) for s in info.strings for m in _ELF_URL.finditer(s) if _UPDATE_URL.search(m.group(0))]
        flash = next((s for s in info.strings if _ELF_FLASH.search(s)), None)
        if flash is None and not urls:
            continue
        verify = sorted(info.imports & _ELF_VERIFY) or [s for s in info.strings if "-verify" in s or "usign" in s]
        agent = UpdateAgent("vendor-binary", info.path, f"writes flash ({flash!r})" if flash else "downloads updates")
        agents.append(agent)
        downloads.extend(download_of(info.path, None, "binary string", u) for u in urls[:20])
        if not verify and info.imports:  # a static binary imports nothing: no conclusion
            unverified.append(agent)
    return agents, unverified


def _config_kind(path: str) -> str | None:
    name = posixpath.basename(path)
    if path == "/etc/opkg.conf" or (path.startswith("/etc/opkg/") and name.endswith(".conf")):
        return "opkg"
    if name == "mender.conf" and path.startswith(("/etc/mender/", "/var/lib/mender/", "/data/mender/")):
        return "mender"
    if path == "/etc/rauc/system.conf":
        return "rauc"
    if name in ("swupdate.cfg", "swupdate.conf") or path.startswith("/etc/default/swupdate"):
        return "swupdate"
    return None


def _line_of(text: str, needle: str) -> tuple[int | None, str]:
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number, line.strip()
    return None, ""


def _opkg(s: UpdateScanner, path: str, text: str) -> None:
    _add(s.agents, UpdateAgent("opkg", path, "package feeds"))
    check: tuple[int, str] | None = None
    for number, line in enumerate(text.splitlines()[:5000], 1):
        words = line.split("#", 1)[0].split()
        if words[:2] == ["option", "check_signature"] and (len(words) < 3 or words[2] not in ("0", "false")):
            check = (number, line.strip())
        elif words and words[0].startswith("src") and len(words) >= 3:
            _add(s.downloads, download_of(path, number, "opkg", words[2], line.strip()))
    if check is not None:
        _add(s.verifiers, Verifier("opkg", path, check[0], check[1], True, "/etc/opkg/keys"))
    elif path == "/etc/opkg.conf":
        _add(s.verifiers, Verifier("opkg", path, None, "no 'option check_signature'", False))


def _mender(s: UpdateScanner, path: str, text: str) -> None:
    _add(s.agents, UpdateAgent("mender", path, "Mender client configuration"))
    try:
        conf = json.loads(text)
    except ValueError:
        s.notes.append(f"{path}: not valid JSON; the Mender configuration could not be read")
        return
    if not isinstance(conf, dict):
        return
    for server in [conf.get("ServerURL")] + [x.get("ServerURL") for x in conf.get("Servers") or []
                                             if isinstance(x, dict)]:
        if isinstance(server, str):
            line, raw = _line_of(text, server)
            download = download_of(path, line, "mender", server, raw)
            _add(s.downloads, replace(download, insecure=conf.get("SkipVerify") is True))
    keys = conf.get("ArtifactVerifyKeys") or [conf.get("ArtifactVerifyKey")]
    keys = [k for k in keys if isinstance(k, str) and k] if isinstance(keys, list) else []
    for key in keys[:20]:
        line, raw = _line_of(text, key)
        _add(s.verifiers, Verifier("mender", path, line, raw, True, key))
    if not keys:
        _add(s.verifiers, Verifier("mender", path, None, "no ArtifactVerifyKey", False))


def _rauc(s: UpdateScanner, path: str, text: str) -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        s.notes.append(f"{path}: could not be parsed ({type(exc).__name__})")
        return
    formats = parser.get("system", "bundle-formats", fallback="")
    _add(s.agents, UpdateAgent("rauc", path, f"bundle formats: {formats}" if formats else "RAUC system"))
    key = parser.get("keyring", "path", fallback=None) or parser.get("keyring", "directory", fallback=None)
    line, raw = _line_of(text, key) if key else (None, "[keyring] without path or directory")
    # RAUC refuses unsigned bundles: the signature check is always on, with the keyring as its trust root
    _add(s.verifiers, Verifier("rauc", path, line, raw, True, key, None if key else False))


def _swupdate(s: UpdateScanner, path: str, text: str) -> None:
    match = re.search(r"public-key-file\s*=\s*\"([^\"]+)\"|(?:^|\s)-k\s+(\S+)", text, re.M)
    if match is not None:
        key = (match.group(1) or match.group(2)).strip("'\"")
        line, raw = _line_of(text, key)
        _add(s.verifiers, Verifier("swupdate", path, line, raw, True, key))


_CONFIGS = {"opkg": _opkg, "mender": _mender, "rauc": _rauc, "swupdate": _swupdate}
