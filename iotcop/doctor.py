"""What iotcop needs on the machine: every external program and Python library, found or missing.

``TOOLS`` is the one list of external programs iotcop calls; ``scripts/debian-packages.txt`` must
install each one's package (a test holds the two together).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from importlib import metadata


@dataclass(frozen=True)
class Tool:
    program: str
    package: str  # the Debian package that provides it
    purpose: str
    version_args: tuple[str, ...] = ("--version",)
    required: bool = True


TOOLS: tuple[Tool, ...] = (
    Tool("unsquashfs", "squashfs-tools", "extract SquashFS root file systems", ("-version",)),
    Tool("mksquashfs", "squashfs-tools", "build the bundled example and test images", ("-version",)),
    Tool("setpriv", "util-linux", "run extractors without root privileges", ("--version",)),
    Tool("openssl", "openssl", "make password hashes for test fixtures", ("version",), required=False),
)

LIBRARIES: tuple[str, ...] = ("pydantic", "PyYAML", "typer", "rich")


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
    return match.group(0) if match else (text.splitlines()[0][:40] if text else "unknown")


def diagnose() -> list[Status]:
    out = []
    for tool in TOOLS:
        path = shutil.which(tool.program)
        version = _version_of(path, tool.version_args) if path else ""
        detail = path or f"missing: apt-get install {tool.package}"
        out.append(Status(tool.program, "program", path is not None, version, detail, tool.purpose, tool.required))
    for lib in LIBRARIES:
        try:
            version, found = metadata.version(lib), True
        except metadata.PackageNotFoundError:
            version, found = "", False
        out.append(Status(lib, "library", found, version, "python package" if found else f"missing: pip install {lib}",
                          "", True))
    out.append(_crypt_status())
    return out


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
