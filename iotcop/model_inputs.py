"""What an assessment records about its inputs: the extraction log, file systems, hardening, components, and the
live device's services and connections (part of the public interface; re-exported by ``iotcop.model``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from iotcop.model_base import Frozen


class ExtractionStep(Frozen):
    """One layer of the firmware as found and unpacked (the extraction log)."""

    format: str
    offset: int = Field(default=0, description="Offset in the file of the layer above (0 for the image).")
    size: int = 0
    depth: int = Field(default=0, description="0 for the image itself, 1 for what it contains, ...")
    container: str = Field(default="", description="The unpacked file this layer was found in ('' for the image).")
    tool: str
    outcome: Literal["extracted", "failed", "skipped", "limit"]
    entropy: float | None = Field(default=None, description="Bits per byte, for unidentified regions.")
    message: str = ""


class FileSystemInfo(Frozen):
    """One file system found in the image, and what it is."""

    label: str = Field(description="Where it came from: format and offset, e.g. 'squashfs_v4_le@0x120200'.")
    root: bool = Field(description="Whether this is the Linux root file system the firmware checks read.")
    entries: int
    os: str | None = Field(default=None, description="OpenWrt, Buildroot, Yocto/Poky, Debian-based, Android, ...")
    os_version: str | None = None
    arch: str | None = Field(default=None, description="CPU architecture from the ELF headers (mips, arm, ...).")
    bits: int | None = None
    endianness: Literal["little", "big"] | None = None


class HardeningSummary(Frozen):
    """Exploit mitigations over the image's ELF programs and shared libraries (kernel modules and other
    relocatable objects left out), each counted as checksec decides it."""

    binaries: int = Field(description="ELF programs and shared libraries analysed.")
    executables: int = Field(description="Of them, executables (the rest are shared libraries).")
    unparsed: int = Field(description="ELF files that did not parse (not counted above).")
    nx: int = Field(description="With a non-executable stack.")
    pie: int = Field(description="Executables that are position-independent.")
    relro_full: int
    relro_partial: int
    canary: int = Field(description="Referencing the stack protector (__stack_chk_fail and friends).")
    fortify: int = Field(description="Calling FORTIFY_SOURCE's checked functions (__*_chk).")
    rpath: int = Field(description="With an RPATH or RUNPATH.")
    stripped: int = Field(description="Without a .symtab section.")


class Component(Frozen):
    """A software component the product ships, identified from the image, with how sure iotcop is."""

    name: str = Field(description="Canonical lower-case name: 'openssl', 'busybox', 'linux', ...")
    version: str | None = None
    confidence: Literal["high", "medium", "low"] = Field(
        description="high: a package database or an exact version banner; medium: a version string matched "
                    "by a signature; low: a name without a version (a file name).")
    source: str = Field(description="How it was identified: 'opkg status', 'dpkg status', 'version string', ...")
    locations: tuple[str, ...] = Field(default=(), description="Paths inside the image where the evidence is.")
    evidence: str = Field(default="", max_length=500, description="The string or line that identified it.")
    purl: str | None = Field(default=None, description="Package URL (pkg:generic/openssl@1.0.1f, ...).")
    cpe: str | None = Field(default=None, description="CPE 2.3 name for vulnerability matching.")


class NetworkService(Frozen):
    """A service found listening on the live device, and what it is."""

    host: str
    port: int = Field(ge=0, le=65535)
    transport: Literal["tcp", "udp"]
    name: str = Field(description="What speaks there: 'ssh', 'telnet', 'http', 'https', 'mqtt', 'snmp', ... or "
                                  "'unknown'.")
    product: str | None = Field(default=None, description="Software named by its banner: 'dropbear', 'lighttpd'.")
    version: str | None = None
    tls: bool = False
    banner: str = Field(default="", max_length=500, description="The first bytes it sent (printable, cut).")
    method: str = Field(default="", description="How it was identified: 'banner', 'TLS handshake', 'nmap -sV'.")


class Connection(Frozen):
    """One connection (or UDP exchange) iotcop made to the device: the audit log of a live assessment.
    Times make a device assessment non-deterministic by nature; they are relative to its start."""

    host: str
    port: int = Field(ge=0, le=65535)
    transport: Literal["tcp", "udp"]
    probe: str = Field(description="Which part of iotcop made it: 'discovery', 'telnet', 'credentials', ...")
    at: float = Field(ge=0, description="Seconds after the assessment started.")
    seconds: float = Field(ge=0)
    outcome: str = Field(description="'ok', 'refused', 'timeout', 'reset', or the error.")
