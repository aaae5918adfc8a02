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
U-Boot) found among the files are read by ``fit.py``. Everything is bounded and never raises.
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
from iotcop.firmware.shell import assign, expand, logical_lines, raw_commands, unwrapped

__all__ = ["BootImages", "Download", "Step", "UpdateAgent", "UpdateFacts", "UpdateScanner", "UpdateScript",
           "Verifier"]

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


# --- shell scripts: downloads, flash writes, signature and integrity steps -----------------------------

MAX_WORDS = 64
MAX_STEPS = 100  # of each kind, per script
DOWNLOADERS = {"wget": "http", "wget-ssl": "http", "curl": "http", "uclient-fetch": "http", "tftp": "tftp",
               "atftp": "tftp", "ftpget": "ftp", "curl-ssl": "http"}
FLASHERS = {"mtd", "sysupgrade", "flashcp", "nandwrite", "ubiupdatevol", "dd", "fw_setenv", "mender", "swupdate",
            "mender-update"}
SIGNERS = {"usign", "signify", "signify-openbsd", "gpg", "gpg2", "gpgv", "gpgv2", "openssl", "swupdate"}
HASHERS = {"md5sum", "sha1sum", "sha256sum", "sha512sum", "cksum", "crc32", "md5", "openssl"}
PLAIN = ("http", "ftp", "tftp")
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_HOUSEKEEPING = {"bootcount", "bootlimit", "bootdelay", "ethaddr", "ipaddr", "serverip", "-s", "--script"}
_SUBST = re.compile(r"\$\(([^()]{1,1000})\)|`([^`]{1,1000})`")  # command substitutions run commands too


@dataclass(frozen=True)
class Download:
    path: str  # the file that downloads (script, configuration, binary)
    line: int | None
    tool: str  # wget, curl, tftp, opkg, mender, binary string
    url: str
    scheme: str  # http, https, ftp, tftp, ... or 'unknown' (a variable not known statically)
    insecure: bool = False  # TLS certificate verification switched off
    raw_line: str = ""

    @property
    def plain(self) -> bool:
        return self.scheme in PLAIN


@dataclass(frozen=True)
class Step:
    """One command of an update script: a flash write, a signature check or an integrity check."""

    tool: str
    line: int
    raw_line: str
    key: str | None = None  # the verifying key or keyring a signature check names


@dataclass(frozen=True)
class UpdateScript:
    path: str
    flashes: tuple[Step, ...] = ()
    downloads: tuple[Download, ...] = ()
    signatures: tuple[Step, ...] = ()
    integrity: tuple[Step, ...] = ()
    agents: tuple[Step, ...] = ()  # update agents it starts (rauc, mender, swupdate), which verify by config
    calls: tuple[str, ...] = ()  # absolute paths of programs it runs (helper scripts)
    verified_by: str = ""  # where its signature check is, when not in the script itself

    @property
    def is_update(self) -> bool:
        """It writes an image to flash (setting a boot variable counts only after a download)."""
        return any(f.tool != "fw_setenv" for f in self.flashes) or bool(self.flashes and self.downloads) \
            or bool(self.agents)

    @property
    def verified(self) -> bool:
        return bool(self.signatures or self.verified_by)


def download_of(path: str, line: int | None, tool: str, url: str, raw_line: str = "") -> Download:
    scheme = url.split("://", 1)[0].lower() if _URL.match(url) else "unknown"
    if "$" in scheme:
        scheme = "unknown"
    return Download(path, line, tool, url, scheme, raw_line=raw_line or url)


def script_steps(path: str, text: str) -> UpdateScript:
    env: dict[str, str] = {}
    found: dict[str, list[object]] = {"flashes": [], "downloads": [], "signatures": [], "integrity": [],
                                      "agents": [], "calls": []}
    for number, line in logical_lines(text):
        if len(line) > 8192 or line.lstrip().startswith("#"):
            continue
        for tokens in [t for part in [line, *_substitutions(line)] for t in raw_commands(part)]:
            if assign(tokens, env):
                continue
            argv = unwrapped([w for t in tokens for w in expand(t, env)][:MAX_WORDS])
            if argv:
                for kind, item in _classify(path, number, line.strip(), argv):
                    if len(found[kind]) < MAX_STEPS and item not in found[kind]:  # '$(...)' is read twice
                        found[kind].append(item)
    return UpdateScript(path, *(tuple(found[k]) for k in ("flashes", "downloads", "signatures", "integrity",
                                                            "agents", "calls")))  # type: ignore[arg-type]


def _substitutions(line: str) -> list[str]:
    return [m.group(1) or m.group(2) for m in _SUBST.finditer(line)][:8]


def _classify(path: str, number: int, raw: str, argv: list[str]) -> list[tuple[str, object]]:
    prog, args = posixpath.basename(argv[0]), argv[1:]
    out: list[tuple[str, object]] = []
    if argv[0].startswith("/") and prog not in {*DOWNLOADERS, *FLASHERS, *SIGNERS, *HASHERS}:
        out.append(("calls", argv[0]))
    if prog in DOWNLOADERS:
        out.append(("downloads", _download(path, number, raw, prog, args)))
    if (prog == "swupdate" and args) or (prog == "rauc" and args[:1] == ["install"]):
        out.append(("agents", Step(prog, number, raw)))  # an agent: it verifies as it is configured
    if prog in SIGNERS and (signature := _signature(prog, args)) is not None:
        out.append(("signatures", Step(prog, number, raw, signature or None)))
    elif prog in HASHERS and (prog != "openssl" or (args and args[0] in ("md5", "sha1", "sha256", "dgst"))):
        out.append(("integrity", Step(prog, number, raw)))
    if _writes_flash(prog, args):
        out.append(("agents" if prog in ("mender", "mender-update") else "flashes", Step(prog, number, raw)))
    return out


def _download(path: str, number: int, raw: str, prog: str, args: list[str]) -> Download:
    url = next((a for a in args if _URL.match(a)), None)
    if url is None:
        host = next((a for a in args if not a.startswith("-")), "")
        download = Download(path, number, prog, host, DOWNLOADERS[prog] if prog in ("tftp", "atftp", "ftpget")
                            else "unknown", raw_line=raw)
    else:
        download = download_of(path, number, prog, url, raw)
    insecure = "--no-check-certificate" in args or "--insecure" in args or \
        (prog.startswith("curl") and any(re.fullmatch(r"-[a-zA-Z]*k[a-zA-Z]*", a) for a in args))
    return replace(download, insecure=insecure)


def _signature(prog: str, args: list[str]) -> str | None:
    """The key a signature check names ('' when none is named), or None if the command checks nothing."""
    def after(*options: str) -> str:
        return next((args[i + 1] for i, a in enumerate(args[:-1]) if a in options), "")

    if prog in ("usign", "signify", "signify-openbsd"):
        return after("-p", "-P") if "-V" in args else None
    if prog.startswith("gpgv"):
        return after("--keyring")
    if prog.startswith("gpg"):
        return after("--keyring") if "--verify" in args else None
    if prog == "openssl":
        if not args or "-verify" not in args:
            return None
        if args[0] in ("smime", "cms"):
            return after("-CAfile", "-certfile", "-CApath")
        return after("-verify") if args[0] == "dgst" else after("-inkey") if args[0] in ("pkeyutl", "rsautl") \
            else None
    if prog == "swupdate":
        return after("-k") or None
    return None


def _writes_flash(prog: str, args: list[str]) -> bool:
    if prog == "mtd":
        return "write" in args
    if prog == "dd":
        return any(a.startswith("of=/dev/") for a in args)
    if prog in ("mender", "mender-update"):
        return args[:1] == ["install"] or "-install" in args or "--install" in args
    if prog == "fw_setenv":  # switching the boot slot after a download is an update; a counter is not
        return bool(args) and args[0] not in _HOUSEKEEPING
    return prog in FLASHERS and prog != "swupdate"
