"""Everything gathered from a firmware image, once, for the checks to read."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from iotcop.errors import ImageError
from iotcop.firmware.accounts import Accounts, collect_accounts
from iotcop.firmware.extract import Extraction, Limits, extract
from iotcop.firmware.filesystem import FileSystem
from iotcop.firmware.services import BootServices, collect_boot_services


@dataclass(frozen=True)
class ImageIdentity:
    name: str
    sha256: str | None
    size: int | None


@dataclass
class FirmwareFacts:
    """The facts of one image. ``root`` is None when no Linux root file system was found."""

    identity: ImageIdentity
    extraction: Extraction
    root: FileSystem | None
    accounts: Accounts = field(default_factory=Accounts)
    boot: BootServices = field(default_factory=BootServices)

    def close(self) -> None:
        self.extraction.close()

    @property
    def no_root_reason(self) -> str:
        failed = [f"{s.format} at 0x{s.offset:x}: {s.message}"
                  for s in self.extraction.steps if s.outcome != "extracted"]
        failed += [f"{fs.label} was extracted but does not look like a Linux root (fewer than two of /etc, /bin, "
                   "/lib, /sbin, /usr)" for fs in self.extraction.filesystems]
        detail = "; ".join(failed + self.extraction.notes) or "nothing recognisable in the image"
        return f"no Linux root file system was extracted ({detail})"


def identify(image: Path) -> ImageIdentity:
    """Name, sha256 and size of an image file (a directory has no single digest)."""
    if not image.exists():
        raise ImageError(f"{image}: no such file or directory")
    if image.is_dir():
        return ImageIdentity(image.name, None, None)
    if not image.is_file():  # a FIFO or a device such as /dev/zero would be read for ever
        raise ImageError(f"{image}: not a regular file or a directory")
    digest = hashlib.sha256()
    try:
        with open(image, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise ImageError(f"{image}: cannot read: {exc.strerror}") from exc
    size = image.stat().st_size
    if size == 0:
        raise ImageError(f"{image}: the file is empty")
    return ImageIdentity(image.name, digest.hexdigest(), size)


def collect_firmware(image: Path, limits: Limits | None = None) -> FirmwareFacts:
    identity = identify(image)
    extraction = extract(image, limits)
    root = extraction.root
    facts = FirmwareFacts(identity, extraction, root)
    if root is not None:
        facts.accounts = collect_accounts(root)
        facts.boot = collect_boot_services(root)
    return facts
