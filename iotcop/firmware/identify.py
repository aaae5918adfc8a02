"""What a file system or blob is: OS flavour, CPU architecture and endianness, file types.

Architecture comes from the ELF headers of the binaries in /bin, /sbin and /lib (the ELF identification
bytes and e_machine, System V ABI), counted so that one stray foreign binary does not decide. The OS
flavour comes from the marker files each build system leaves (/etc/openwrt_release, Buildroot's
/etc/os-release, Poky's os-release or /etc/build, dpkg's status, Android's build.prop); a name in a
banner or a text file is no marker. A blob with no Linux file system is searched for the names RTOS
kernels leave in their images.
"""

from __future__ import annotations

import re
import struct
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from iotcop.firmware.filesystem import FileSystem
from iotcop.firmware.tree import entropy

# e_machine values (System V ABI, ELF specification; Linux include/uapi/linux/elf-em.h)
MACHINES = {2: "sparc", 3: "x86", 8: "mips", 20: "powerpc", 21: "powerpc64", 40: "arm", 42: "superh",
            43: "sparcv9", 62: "x86_64", 83: "avr", 94: "xtensa", 183: "aarch64", 243: "riscv", 258: "loongarch",
            92: "openrisc", 164: "hexagon", 189: "microblaze", 105: "msp430", 46: "h8300", 106: "blackfin",
            252: "csky", 195: "arc", 93: "arc-compact"}
BINARY_DIRS = ("/bin", "/sbin", "/usr/bin", "/usr/sbin", "/lib", "/usr/lib")
MAX_ELF_SAMPLES = 200
RTOS_MARKERS = (
    (b"FreeRTOS", "FreeRTOS"), (b"ThreadX", "ThreadX"), (b"VxWorks", "VxWorks"), (b"Zephyr", "Zephyr"),
    (b"eCos", "eCos"), (b"uC/OS", "uC/OS"), (b"NuttX", "NuttX"), (b"RT-Thread", "RT-Thread"),
    (b"ESP-IDF", "ESP-IDF (FreeRTOS)"), (b"mbed OS", "Mbed OS"), (b"LiteOS", "LiteOS"),
)


@dataclass(frozen=True)
class ElfIdent:
    arch: str
    bits: int
    endianness: str  # little | big


@dataclass(frozen=True)
class Platform:
    """Facts about one root file system."""

    os_flavour: str
    os_version: str | None
    arch: str | None
    bits: int | None
    endianness: str | None
    elf_count: int


def elf_ident(header: bytes) -> ElfIdent | None:
    """Architecture of an ELF file from its first 20 bytes; None when it is not ELF."""
    if len(header) < 20 or header[:4] != b"\x7fELF" or header[4] not in (1, 2) or header[5] not in (1, 2):
        return None
    endian = "<" if header[5] == 1 else ">"
    (machine,) = struct.unpack_from(endian + "H", header, 18)
    return ElfIdent(MACHINES.get(machine, f"e_machine {machine}"), 32 if header[4] == 1 else 64,
                    "little" if header[5] == 1 else "big")


def platform(fs: FileSystem) -> Platform:
    counts: Counter[ElfIdent] = Counter()
    samples = 0
    for entry in sorted(fs.files(), key=lambda e: e.path):
        if not entry.path.startswith(BINARY_DIRS) or entry.size < 64:
            continue
        ident = elf_ident(fs.read_bytes(entry.path, 20) or b"")
        if ident is not None:
            counts[ident] += 1
        samples += 1
        if samples >= MAX_ELF_SAMPLES:
            break
    flavour, version = os_flavour(fs)
    top = counts.most_common(1)[0][0] if counts else None
    return Platform(flavour, version, top.arch if top else None, top.bits if top else None,
                    top.endianness if top else None, sum(counts.values()))


def _release_fields(text: str) -> dict[str, str]:
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip().strip("'\"")
    return fields


def os_flavour(fs: FileSystem) -> tuple[str, str | None]:
    """('OpenWrt', '23.05.2'), ('Buildroot', '2023.02'), ... or ('Linux (unidentified)', None)."""
    if (text := fs.read_text("/etc/openwrt_release", 65536)) is not None:
        fields = _release_fields(text)
        return "OpenWrt", fields.get("DISTRIB_RELEASE")
    if fs.resolve("/system/build.prop") or fs.resolve("/build.prop"):
        text = fs.read_text("/system/build.prop", 65536) or fs.read_text("/build.prop", 65536) or ""
        return "Android", _release_fields(text).get("ro.build.version.release")
    os_release = fs.read_text("/etc/os-release", 65536) or fs.read_text("/usr/lib/os-release", 65536)
    if os_release is not None:
        fields = _release_fields(os_release)
        ident = fields.get("ID", "").lower()
        if ident == "buildroot":
            return "Buildroot", fields.get("VERSION_ID")
        if ident in ("poky", "yocto") or "poky" in fields.get("NAME", "").lower():
            return "Yocto/Poky", fields.get("VERSION_ID")
        if ident in ("debian", "ubuntu", "raspbian") or "debian" in fields.get("ID_LIKE", ""):
            return f"Debian-based ({fields.get('NAME', ident)})", fields.get("VERSION_ID")
        if ident == "openwrt":
            return "OpenWrt", fields.get("VERSION_ID")
        if fields.get("NAME"):
            return fields["NAME"], fields.get("VERSION_ID")
    if fs.resolve("/var/lib/dpkg/status"):
        return "Debian-based", (fs.read_text("/etc/debian_version", 256) or "").strip() or None
    if fs.resolve("/etc/build") and "poky" in (fs.read_text("/etc/build", 65536) or "").lower():
        return "Yocto/Poky", None
    return "Linux (unidentified)", None


def rtos_of(image: Path, limit: int = 64 * 1024 * 1024) -> str | None:
    """The RTOS an image names, for a blob with no Linux file system (bounded read)."""
    with open(image, "rb") as fh:
        data = fh.read(limit)
    if entropy(data[: 8 * 1024 * 1024]) > 7.9:
        return None  # encrypted or compressed as a whole: a name found in it would be chance, not a string
    for marker, name in RTOS_MARKERS:  # a name, not a fragment of a longer word
        if re.search(rb"(?<![A-Za-z0-9])" + re.escape(marker) + rb"(?![A-Za-z0-9])", data):
            return name
    return None


@cache
def _magic() -> object | None:
    try:
        import magic

        return magic.Magic()
    except (ImportError, OSError):  # libmagic missing: file types are reported as unknown
        return None


def file_type(fs: FileSystem, path: str) -> str:
    """libmagic's description of a file's first 64 KiB (the same database as file(1))."""
    data = fs.read_bytes(path, 65536)
    if data is None:
        return "not a regular file"
    checker = _magic()
    if checker is None:
        return "unknown (libmagic is not available)"
    return str(checker.from_buffer(data))  # type: ignore[attr-defined]


def read_head(image: Path | None, limit: int) -> bytes | None:
    """The first ``limit`` bytes of an image file, read once for the searches outside the file systems
    (kernel, U-Boot, FIT images); None for a directory or an unreadable file."""
    if image is None or not image.is_file():
        return None
    try:
        with open(image, "rb") as fh:
            return fh.read(limit)
    except OSError:
        return None
