"""Everything gathered from a firmware image, once, for the checks to read."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from iotcop.errors import ImageError
from iotcop.firmware.accounts import Accounts, collect_accounts
from iotcop.firmware.cache import cached_extract
from iotcop.firmware.content import PassStats, scan_content
from iotcop.firmware.credstores import CredentialStores, collect_credential_stores
from iotcop.firmware.elf import ElfFiles, ElfScanner
from iotcop.firmware.extract import Extraction, Limits, extract
from iotcop.firmware.filesystem import FileSystem
from iotcop.firmware.identify import Platform, platform, rtos_of
from iotcop.firmware.keys import KeyMaterial, KeyScanner
from iotcop.firmware.permissions import FileModes, collect_file_modes
from iotcop.firmware.secrets import Secrets, SecretScanner
from iotcop.firmware.serviceconf import ServiceConfig, collect_service_config
from iotcop.firmware.services import BootServices, collect_boot_services
from iotcop.firmware.webinput import WebHandlers, WebHandlerScanner
from iotcop.knowledge.credentials import default_credentials
from iotcop.model import FileSystemInfo


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
    stores: CredentialStores = field(default_factory=CredentialStores)
    services: ServiceConfig = field(default_factory=ServiceConfig)
    elf: ElfFiles = field(default_factory=ElfFiles)
    modes: FileModes = field(default_factory=FileModes)
    keys: KeyMaterial = field(default_factory=KeyMaterial)
    web: WebHandlers = field(default_factory=WebHandlers)
    secrets: Secrets = field(default_factory=Secrets)
    content: PassStats | None = None  # what the one content pass read
    platforms: dict[str, Platform] = field(default_factory=dict)  # file system label → OS and CPU
    rtos: str | None = None  # the RTOS a blob without a Linux file system names

    def filesystem_info(self) -> tuple[FileSystemInfo, ...]:
        out = []
        for fs in self.extraction.filesystems:
            p = self.platforms.get(fs.label)
            out.append(FileSystemInfo(label=fs.label, root=fs is self.root, entries=len(fs),
                                      os=p.os_flavour if p else None, os_version=p.os_version if p else None,
                                      arch=p.arch if p else None, bits=p.bits if p else None,
                                      endianness=p.endianness if p else None))
        return tuple(out)

    def facts(self) -> dict[type, object]:
        """The facts checks read, by type (empty without a root file system)."""
        if self.root is None:
            return {}
        return {Accounts: self.accounts, BootServices: self.boot, CredentialStores: self.stores, ElfFiles: self.elf,
                FileModes: self.modes, KeyMaterial: self.keys, WebHandlers: self.web,
                ServiceConfig: self.services, Secrets: self.secrets}

    def close(self) -> None:
        self.extraction.close()

    @property
    def no_root_reason(self) -> str:
        failed = [f"{s.format} at 0x{s.offset:x}: {s.message}"
                  for s in self.extraction.steps if s.outcome != "extracted"]
        failed += [f"{fs.label} was extracted but does not look like a Linux root (fewer than two of /etc, /bin, "
                   "/lib, /sbin, /usr)" for fs in self.extraction.filesystems]
        detail = "; ".join(failed + self.extraction.notes) or "nothing recognisable in the image"
        if self.rtos:  # not a failure of extraction: there is no Linux to look into
            return (f"the image is a {self.rtos} firmware blob, not a Linux file system: its accounts and "
                    f"services cannot be read this way ({detail})")
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


def collect_firmware(image: Path, limits: Limits | None = None, use_cache: bool = True) -> FirmwareFacts:
    identity = identify(image)
    limits = limits or Limits()
    if use_cache and identity.sha256 is not None:
        extraction = cached_extract(image, identity.sha256, limits)
    else:
        extraction = extract(image, limits)
    root = extraction.root
    facts = FirmwareFacts(identity, extraction, root)
    facts.platforms = {fs.label: platform(fs) for fs in extraction.filesystems}
    if root is not None:
        facts.accounts = collect_accounts(root)
        facts.boot = collect_boot_services(root)
        facts.services = collect_service_config(root, facts.boot)
        facts.stores = collect_credential_stores(root)
        facts.modes = collect_file_modes(root)
        elf, keys, web = ElfScanner(), KeyScanner(), WebHandlerScanner()
        secrets = SecretScanner(default_credentials().passwords())
        facts.content = scan_content(root, [elf, keys, web, secrets])
        facts.elf, facts.keys, facts.web, facts.secrets = elf.result(), keys.result(), web.result(), secrets.result()
    elif image.is_file():
        facts.rtos = rtos_of(image)
    return facts
