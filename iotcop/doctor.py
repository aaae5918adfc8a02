"""What iotcop needs on the machine: every external program and Python library, found or missing.

``TOOLS`` is the one list of external programs iotcop calls; ``scripts/debian-packages.txt`` must
install each one's package (a test holds the two together).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path


@dataclass(frozen=True)
class Tool:
    program: str
    package: str  # the Debian package (source 'debian') or PyPI distribution (source 'python') providing it
    purpose: str
    version_args: tuple[str, ...] = ("--version",)
    required: bool = True
    source: str = "debian"


_TESTS = "tests and benchmarks only"
TOOLS: tuple[Tool, ...] = (
    Tool("unsquashfs", "squashfs-tools", "extract whole-image SquashFS file systems", ("-version",)),
    Tool("setpriv", "util-linux", "run extractors without root privileges", ("--version",)),
    Tool("7z", "p7zip-full", "unblob: 7z, CAB, ISO and other archives", ()),
    Tool("fsck.cramfs", "util-linux", "CramFS file systems (in place of unblob's 7z)", ("--version",)),
    Tool("debugfs", "e2fsprogs", "unblob: ext2/3/4 file systems", ("-V",)),
    Tool("fsck.erofs", "erofs-utils", "unblob: EROFS file systems", ("-V",)),
    Tool("lz4", "lz4", "unblob: LZ4 streams", ("--version",)),
    Tool("zstd", "zstd", "unblob: Zstandard streams", ("--version",)),
    Tool("lzop", "lzop", "unblob: LZO streams", ("--version",)),
    Tool("lziprecover", "lziprecover", "unblob: lzip streams", ("--version",)),
    Tool("unar", "unar", "unblob: RAR, StuffIt and other archives", ("-v",)),
    Tool("simg2img", "android-sdk-libsparse-utils", "unblob: Android sparse images", ()),
    Tool("partclone.restore", "partclone", "unblob: partclone images", ("-v",)),
    Tool("jefferson", "jefferson", "unblob: JFFS2 file systems", ("--help",), source="python"),
    Tool("ubireader_extract_files", "ubi-reader", "unblob: UBIFS (GPL, run as a separate program)",
         ("--help",), source="python"),
    Tool("ubireader_extract_images", "ubi-reader", "unblob: UBI volumes (GPL, run as a separate program)",
         ("--help",), source="python"),
    Tool("mksquashfs", "squashfs-tools", f"build the bundled example; {_TESTS}", ("-version",)),
    Tool("mkfs.jffs2", "mtd-utils", _TESTS, ("--version",), required=False),
    Tool("ubinize", "mtd-utils", _TESTS, ("--version",), required=False),
    Tool("mke2fs", "e2fsprogs", _TESTS, ("-V",), required=False),
    Tool("mkimage", "u-boot-tools", _TESTS, ("-V",), required=False),
    Tool("cpio", "cpio", _TESTS, ("--version",), required=False),
    Tool("zip", "zip", _TESTS, ("-v",), required=False),
    Tool("binwalk", "binwalk", "baseline of the extraction benchmark (bench/)", ("--help",), required=False),
    Tool("openssl", "openssl", "make password hashes, keys and certificates for test fixtures", ("version",),
         required=False),
    Tool("mipsel-linux-gnu-gcc", "gcc-mipsel-linux-gnu", "compile MIPS test programs (CGIs, logins)",
         required=False),
    Tool("arm-linux-gnueabi-gcc", "gcc-arm-linux-gnueabi", "compile ARM test programs", required=False),
    Tool("arm-linux-gnueabihf-gcc", "gcc-arm-linux-gnueabihf", "compile armhf test programs (hardening)",
         required=False),
    Tool("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu", "compile aarch64 test programs (hardening)",
         required=False),
    Tool("checksec", "checksec", "reference for the ELF hardening tests and bench/components", ("--version",),
         required=False),
    Tool("llvm-objcopy", "llvm", "strip section headers as OpenWrt's sstrip does (hardening tests)",
         ("--version",), required=False),
    Tool("dropbearkey", "dropbear-bin", "make Dropbear host keys for test fixtures", ("-h",), required=False),
    Tool("ssh-keygen", "openssh-client", "make OpenSSH keys for test fixtures", ("-V",), required=False),
    Tool("htpasswd", "apache2-utils", "make htpasswd stores for test fixtures", ("-h",), required=False),
    Tool("mosquitto_passwd", "mosquitto", "make Mosquitto password files for test fixtures", (),
         required=False),
    Tool("dpkg-deb", "dpkg", "unpack Debian's foreign-architecture packages for tests", ("--version",),
         required=False),
    Tool("dtc", "device-tree-compiler", "mkimage's device-tree compiler: signed FIT images for tests", ("-v",),
         required=False),
    Tool("chromium", "chromium", "open the HTML report headless and screenshot it (tests)", ("--version",),
         required=False),
    Tool("pdftoppm", "poppler-utils", "turn PDF reports into PNG pages (tests)", ("-v",), required=False),
    Tool("pdftotext", "poppler-utils", "read the text of PDF reports (tests)", ("-v",), required=False),
    Tool("nmap", "nmap", "live device: TCP port discovery (connect scan, XML output); an asyncio scanner otherwise",
         ("--version",), required=False),
    Tool("ssh-audit", "ssh-audit", "live device: SSH algorithms and host keys (JSON output)", ("-h",),
         required=False),
    Tool("sslyze", "sslyze", "live device: TLS versions, cipher suites and certificates (JSON output; AGPL, run "
         "as a program from .venv-tools)", ("--help",), required=False, source="tools"),
    Tool("busybox", "busybox", "the simulated devices' telnetd and httpd (tests)", ("--help",), required=False),
    Tool("lighttpd", "lighttpd", "the simulated devices' web server (tests)", ("-v",), required=False),
    Tool("snmpd", "snmpd", "the simulated devices' SNMP agent (tests)", ("-v",), required=False),
    Tool("sshd", "openssh-server", "the hardened simulated device's SSH server (tests)", ("-V",), required=False),
)

LIBRARIES: tuple[str, ...] = ("pydantic", "PyYAML", "typer", "rich", "unblob", "lz4", "zstandard", "python-magic",
                               "lief", "cryptography", "libpass", "cyclonedx-python-lib", "univers", "Jinja2",
                               "weasyprint", "sectxt", "pypdf", "rfc8785", "cairosvg")


def tools_bin() -> Path:
    """Where the separately installed tools live (``scripts/setup.sh``: .venv-tools beside the checkout), or
    ``$IOTCOP_TOOLS_BIN``."""
    import os

    given = os.environ.get("IOTCOP_TOOLS_BIN")
    return Path(given) if given else Path(__file__).resolve().parents[1] / ".venv-tools" / "bin"


def find_program(tool: Tool) -> str | None:
    """Python tools live beside the interpreter (the venv's bin), which need not be on PATH; programs iotcop
    must not import (licence) live in their own environment (``tools_bin``)."""
    if tool.source == "tools":
        candidate = tools_bin() / tool.program
        return str(candidate) if candidate.is_file() else shutil.which(tool.program)
    if tool.source == "python":
        candidate = Path(sys.executable).parent / tool.program
        if candidate.is_file():
            return str(candidate)
    return shutil.which(tool.program)


@dataclass(frozen=True)
class Status:
    name: str
    kind: str  # program | library
    found: bool
    version: str
    detail: str  # path, or what provides it
    purpose: str
    required: bool


def _version_of(path: str, args: tuple[str, ...]) -> str:
    try:
        proc = subprocess.run([path, *args], capture_output=True, text=True, timeout=10, check=False,
                              errors="replace", stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (proc.stdout or proc.stderr).strip()
    match = re.search(r"\d+(?:\.\d+)+[\w.+~-]*", text)
    return match.group(0) if match else "installed"  # some tools print no version, only their usage


def diagnose() -> list[Status]:
    out = []
    for tool in TOOLS:
        path = find_program(tool)
        version = _version_of(path, tool.version_args) if path else ""
        install = {"debian": "apt-get install", "tools": "scripts/setup.sh installs"}.get(
            tool.source, ".venv/bin/pip install")
        detail = path or f"missing: {install} {tool.package}"
        out.append(Status(tool.program, "program", path is not None, version, detail, tool.purpose, tool.required))
    for lib in LIBRARIES:
        try:
            version, found = metadata.version(lib), True
        except metadata.PackageNotFoundError:
            version, found = "", False
        out.append(Status(lib, "library", found, version, "python package" if found else f"missing: pip install {lib}",
                          "", True))
    out.append(_crypt_status())
    out.append(_pango_status())
    out.append(Status("sasquatch", "program", True, "built in", "iotcop.firmware.squashfs",
                      "unblob's SquashFS extractor, replaced by iotcop's own reader (Debian has no sasquatch)", True))
    return out


def _pango_status() -> Status:
    """WeasyPrint (PDF reports) needs Pango from Debian (libpango-1.0-0, libpangoft2-1.0-0): it is found only
    when WeasyPrint's import, which loads it, succeeds."""
    purpose = "text layout for PDF reports (WeasyPrint)"
    try:
        import weasyprint  # type: ignore[import-untyped]  # noqa: F401  (loads Pango through cffi)
    except (ImportError, OSError) as exc:
        return Status("pango", "library", False, "", f"missing: apt-get install libpango-1.0-0 libpangoft2-1.0-0 "
                      f"({exc})", purpose, False)
    return Status("pango", "library", True, "", "loaded by WeasyPrint", purpose, False)


_SHA512_OF_X = "$6$salt$wZU8LXJfJJqoagopbB7RuK6JEotEMZ0CQDy0phpPAuLMYQFcmf6L6BdAbs/Q7w7o1qsZ9pFqFVY4yuUSWgaYt1"


def _crypt_status() -> Status:
    """Password verification uses libc's crypt(3) (libxcrypt on Debian) through Python's crypt module."""
    try:
        from iotcop.knowledge.credentials import matches

        ok = matches("x", _SHA512_OF_X)
    except Exception:
        ok = False
    return Status("crypt(3)", "library", ok, "libxcrypt" if ok else "", "libc crypt via Python",
                  "verify password hashes (DES, MD5, SHA-crypt, yescrypt)", True)
