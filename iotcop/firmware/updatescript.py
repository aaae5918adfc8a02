"""Shell scripts of an update path, split into simple commands (``shell.py``): the downloads they make, the
flash writes, the signature checks (with the key each names), the integrity checks, the update agents they start
and the helper programs they call. A tool counts only in command position: ``md5sum`` in a comment or an ``echo``
is no integrity step. Bounded, and never raises.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, replace

from iotcop.firmware.shell import assign, expand, logical_lines, raw_commands, unwrapped

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
