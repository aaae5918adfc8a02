"""Everything gathered from a firmware image, once, for the checks to read."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

from iotcop.errors import ImageError
from iotcop.firmware.accounts import Accounts, collect_accounts
from iotcop.firmware.busybox import BusyBoxApplets, BusyBoxScanner
from iotcop.firmware.cache import cached_extract
from iotcop.firmware.components import Components, ComponentScanner, collect_components
from iotcop.firmware.content import PassStats, scan_content
from iotcop.firmware.credstores import CredentialStores, collect_credential_stores
from iotcop.firmware.elf import ElfFiles, ElfScanner
from iotcop.firmware.extract import Extraction, Limits, extract
from iotcop.firmware.filesystem import FileSystem
from iotcop.firmware.fit import MAX_IMAGE as BOOT_SEARCH_BYTES
from iotcop.firmware.fit import BootImages, boot_images
from iotcop.firmware.identify import Platform, platform, read_head, rtos_of
from iotcop.firmware.kernel import MAX_IMAGE_BYTES as KERNEL_SEARCH_BYTES
from iotcop.firmware.kernel import KernelFacts, KernelScanner, collect_kernel, with_kernel
from iotcop.firmware.keys import KeyMaterial, KeyScanner
from iotcop.firmware.permissions import FileModes, collect_file_modes
from iotcop.firmware.secrets import Secrets, SecretScanner
from iotcop.firmware.serviceconf import ServiceConfig, collect_service_config
from iotcop.firmware.services import BootServices, collect_boot_services
from iotcop.firmware.update import UpdateFacts, UpdateScanner
from iotcop.firmware.webinput import WebHandlers, WebHandlerScanner
from iotcop.knowledge.credentials import default_credentials
from iotcop.model import FileSystemInfo, HardeningSummary

T = TypeVar("T")


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
    components: Components = field(default_factory=Components)
    kernel: KernelFacts = field(default_factory=KernelFacts)
    busybox: BusyBoxApplets = field(default_factory=BusyBoxApplets)
    update: UpdateFacts = field(default_factory=UpdateFacts)
    content: PassStats | None = None  # what the one content pass read
    failures: dict[type, str] = field(default_factory=dict)  # facts whose collector raised: left out, noted
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
        """The facts checks read, by type (empty without a root file system). Facts whose collector failed
        are left out: the checks that read them say they could not be collected."""
        if self.root is None:
            return {}
        every: dict[type, object] = {
            Accounts: self.accounts, BootServices: self.boot, CredentialStores: self.stores, ElfFiles: self.elf,
            FileModes: self.modes, KeyMaterial: self.keys, WebHandlers: self.web, ServiceConfig: self.services,
            Secrets: self.secrets, Components: self.components, KernelFacts: self.kernel, UpdateFacts: self.update,
            BusyBoxApplets: self.busybox}
        return {kind: value for kind, value in every.items() if kind not in self.failures}

    @property
    def notes(self) -> list[str]:
        """Problems met while collecting, for the assessment."""
        out = [f"collecting {kind.__name__} failed ({why}): the checks reading it are inconclusive"
               for kind, why in self.failures.items()]
        if self.content is not None:
            out += list(self.content.skipped)
        return (out + list(self.services.notes) + list(self.components.notes) + list(self.kernel.notes)
                + list(self.update.notes))

    def hardening_summary(self) -> HardeningSummary | None:
        chosen = [f.hardening for f in self.elf.files if f.hardening.pie != "rel"]
        if not chosen and not self.elf.unparsed:
            return None
        return HardeningSummary(
            binaries=len(chosen), executables=sum(h.executable for h in chosen), unparsed=len(self.elf.unparsed),
            nx=sum(h.nx for h in chosen), pie=sum(h.pie == "yes" for h in chosen),
            relro_full=sum(h.relro == "full" for h in chosen), relro_partial=sum(h.relro == "partial" for h in chosen),
            canary=sum(h.canary for h in chosen), fortify=sum(h.fortify for h in chosen),
            rpath=sum(bool(h.rpath or h.runpath) for h in chosen), stripped=sum(not h.symbols for h in chosen))

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
    facts = FirmwareFacts(identity, extraction, extraction.root)
    try:
        facts.platforms = {fs.label: platform(fs) for fs in extraction.filesystems}
        if facts.root is not None:
            _collect(facts, facts.root, image)
        elif image.is_file():
            facts.rtos = rtos_of(image)
    except BaseException:  # Ctrl-C or a bug: the extraction is not left behind
        facts.close()
        raise
    return facts


def _collect(facts: FirmwareFacts, root: FileSystem, image: Path) -> None:
    """Every collector once; one that raises leaves its facts out (with the error in ``failures``)."""

    def guarded(kind: type, collector: Callable[[], T], default: T) -> T:
        try:
            return collector()
        except Exception as exc:  # hostile input a parser did not foresee, or a bug: never the whole run
            facts.failures[kind] = f"{type(exc).__name__}: {exc}"
            return default

    facts.accounts = guarded(Accounts, partial(collect_accounts, root), Accounts())
    facts.boot = guarded(BootServices, partial(collect_boot_services, root), BootServices())
    facts.services = guarded(ServiceConfig, partial(collect_service_config, root, facts.boot), ServiceConfig())
    facts.stores = guarded(CredentialStores, partial(collect_credential_stores, root), CredentialStores())
    facts.modes = guarded(FileModes, partial(collect_file_modes, root), FileModes())
    elf, keys, web, found = ElfScanner(), KeyScanner(), WebHandlerScanner(), ComponentScanner()
    kernel, update, busybox = KernelScanner(), UpdateScanner(), BusyBoxScanner.for_tree(root)
    secrets = SecretScanner(default_credentials().passwords())
    facts.content = scan_content(root, [elf, keys, web, secrets, found, kernel, update, busybox])
    for kind, scanner in ((ElfFiles, elf), (KeyMaterial, keys), (WebHandlers, web), (Secrets, secrets),
                          (Components, found), (KernelFacts, kernel), (UpdateFacts, update),
                          (BusyBoxApplets, busybox)):
        if (why := facts.content.failed.get(type(scanner).__name__)) is not None:
            facts.failures[kind] = why
    facts.elf = guarded(ElfFiles, elf.result, ElfFiles())
    facts.keys = guarded(KeyMaterial, keys.result, KeyMaterial())
    facts.web = guarded(WebHandlers, web.result, WebHandlers())
    facts.secrets = guarded(Secrets, secrets.result, Secrets())
    facts.busybox = guarded(BusyBoxApplets, busybox.result, BusyBoxApplets())
    facts.components = guarded(Components, partial(collect_components, root, facts.elf, found.result()), Components())
    # the image's own bytes, outside the root file system: kernel, U-Boot and its environment, FIT images
    head = read_head(image, KERNEL_SEARCH_BYTES)  # read once for the kernel and the boot-image searches
    facts.kernel = guarded(KernelFacts, partial(collect_kernel, head, facts.extraction, kernel.result()),
                           KernelFacts())
    facts.components = with_kernel(facts.components, facts.kernel)
    boot = BootImages() if head is None else guarded(
        UpdateFacts, partial(boot_images, head[:BOOT_SEARCH_BYTES], f"image:{image.name}"), BootImages())
    facts.update = guarded(UpdateFacts, partial(update.result, root, facts.elf, boot), UpdateFacts())
