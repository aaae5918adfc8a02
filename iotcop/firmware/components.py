"""Software components in a root file system, for the SBOM and vulnerability matching.

Evidence comes from four places, none of which walks the tree or reads a file a second time:

- the content pass (``ComponentScanner``): file names and paths of every regular file (``libuClibc-0.9.33.2.so``,
  ``/lib/modules/5.10.176/``), and the content of the few files whose version is not in an ELF string table:
  JavaScript libraries (jQuery banners), kernel and boot-loader images, kernel modules' ``vermagic``;
- the ELF facts (``ElfFiles``): version banners in the read-only strings of programs and libraries. The
  libraries a program needs tell which banners are not its own: a program that loads libcrypto.so.3 and
  says "OpenSSL 3.0.16" quotes the header it was compiled with, it holds no copy of OpenSSL;
- package databases, read through the FileSystem view: dpkg's ``/var/lib/dpkg/status``, opkg's
  ``/usr/lib/opkg/status`` (OpenWrt), ``/var/lib/opkg/status`` (Yocto) and ``/usr/lib/opkg/info/*.control``;
- ``/etc/openwrt_release`` and ``/etc/os-release`` for the operating system itself.

One component per (name, version). A package database outranks what strings say of the same name: a
version string agreeing with it, or the only version it lists, adds its file to the package's locations.
A name without a version (a file name) joins the one version found, if there is exactly one.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from packageurl import PackageURL

from iotcop.firmware.content import Blob, FileKind, is_documentation
from iotcop.firmware.elf import ElfFiles
from iotcop.firmware.filesystem import FileSystem
from iotcop.knowledge.components import (
    ComponentTable,
    Confidence,
    Signature,
    component_table,
    cpe_name,
    generic_purl,
)
from iotcop.model import Component

MAX_CONTENT = 32 * 1024 * 1024  # a kernel image larger than this is not an embedded product's
MAX_DB_BYTES = 8 * 1024 * 1024
MAX_PACKAGES = 20_000
MAX_CONTROL_FILES = 5_000
MAX_CONTROL_BYTES = 64 * 1024
MAX_LOCATIONS = 64
_FIELDS = frozenset({"Package", "Version", "Status", "Architecture"})
_PACKAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._-]{0,127}$")
_VERSION = re.compile(r"^[A-Za-z0-9.+~:_-]{1,100}$")
_REPACK = re.compile(r"[+~.](?:dfsg|ds|repack)\d*.*$")
_OPKG_DBS = ("/usr/lib/opkg/status", "/var/lib/opkg/status")
_OPKG_INFO = ("/usr/lib/opkg/info", "/var/lib/opkg/info")
_RANK = {"high": 0, "medium": 1, "low": 2}


@dataclass(frozen=True)
class Hit:
    """One piece of evidence that a component (at a version, if known) is in the image."""

    component: str
    version: str | None
    confidence: Confidence
    source: str
    path: str
    evidence: str
    purl: str | None = None  # package databases name the package itself

    @property
    def from_package(self) -> bool:
        return self.source.endswith(" status") or self.source.endswith(" control file")


@dataclass(frozen=True)
class ComponentEvidence:
    """What the content pass found (``ComponentScanner.result()``)."""

    hits: tuple[Hit, ...] = ()


@dataclass(frozen=True)
class Components:
    """Facts: the components identified, sorted by name, version and first location."""

    components: tuple[Component, ...] = ()
    notes: tuple[str, ...] = ()

    def named(self, name: str) -> tuple[Component, ...]:
        return tuple(c for c in self.components if c.name == name)


@cache
def _prefilters(table: ComponentTable) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """One regex for every file name that any name, path or presence rule could match, and one for the
    files a content rule reads: most files are dismissed with two regex matches."""
    names = [r.regex.pattern for r in table.rules("name")]
    names += [p.pattern for s in table.signatures for p in ([_glob(s.files)] if s.files else [])]
    content = [r.files.pattern for r in table.rules("content") if r.files is not None]
    paths = [r.regex.pattern for r in table.rules("path")]
    return (re.compile("|".join(f"(?:{p})" for p in names + [f".*?{q.lstrip('^')}" for q in paths])),
            re.compile("|".join(f"(?:{p})" for p in content)))


def _glob(patterns: Iterable[str]) -> re.Pattern[str]:
    return re.compile("|".join(fnmatch.translate(p) for p in patterns))


@dataclass
class ComponentScanner:
    """Content-pass scanner: file names of every file, and the content of the files a content rule names."""

    max_bytes: int = MAX_CONTENT
    hits: list[Hit] = field(default_factory=list)

    def wants(self, path: str, kind: FileKind, language: str | None, head: bytes) -> bool:
        if is_documentation(path):
            return False  # a copy of jquery.js in /usr/share/doc is not what the device serves
        table = component_table()
        named, read = _prefilters(table)
        name = posixpath.basename(path)
        if named.match(name) or named.match(path):
            program = kind in (FileKind.ELF, FileKind.BINARY)  # /etc/init.d/mosquitto is no mosquitto
            for signature in table.present(path) if program else ():
                self.hits.append(Hit(signature.name, None, "low", "file name", path, name))
            for rule in (*table.rules("name"), *table.rules("path")):
                if (rule.source == "path" or program) and (found := rule.search(path, ())):
                    source = "file name" if rule.source == "name" else "path"
                    self.hits.append(Hit(rule.component, found.version, rule.confidence, source, path, found.evidence))
        return read.match(name) is not None

    def feed(self, blob: Blob) -> None:
        text = blob.data.decode("latin-1")
        seen: set[str] = set()
        for rule in component_table().rules("content"):
            if rule.component not in seen and (found := rule.search(blob.path, (), text)):
                seen.add(rule.component)
                self.hits.append(Hit(rule.component, found.version, rule.confidence, "version string in file",
                                     blob.path, found.evidence))

    def result(self) -> ComponentEvidence:
        return ComponentEvidence(tuple(self.hits))


def collect_components(fs: FileSystem, elves: ElfFiles, evidence: ComponentEvidence) -> Components:
    """Every component the image shows, merged (see the module's docstring)."""
    table = component_table()
    notes: list[str] = []
    os_id, os_hits = _os_release(fs, table)
    packages = _packages(fs, table, os_id, notes)
    found = [*evidence.hits, *_elf_hits(elves, table), *os_hits]
    return Components(_merge(table, found, packages), tuple(notes))


def _elf_hits(elves: ElfFiles, table: ComponentTable) -> list[Hit]:
    out = []
    for info in elves.files:
        # a program that loads a component's shared library holds that library's version only as the
        # header constant it was compiled with (hostapd prints "OpenSSL 3.0.16" and loads libcrypto.so.3);
        # a file of the component itself is its own evidence (glibc's libc.so.6 loads ld-linux-armhf.so.3)
        own = {s.name for s in table.present(info.path)}
        seen = {s.name for lib in info.libraries for s in table.present(lib)} - own
        text = "\n".join(info.strings)
        for rule in table.rules("strings"):
            if rule.component not in seen and (found := rule.search(info.path, info.strings, text)):
                seen.add(rule.component)
                out.append(Hit(rule.component, found.version, rule.confidence, "version string", info.path,
                               found.evidence))
    return out


def upstream_version(version: str, flavour: str, pattern: str | None = None) -> str:
    """The upstream part of a package version: '1:1.35.0-4+deb12u1' → '1.35.0', '3.6.1+dfsg+~3.5.14-1' →
    '3.6.1' (Debian); '1.1.1w-1' → '1.1.1w', '2023-06-25-34a8a74d-2' → '2023-06-25-34a8a74d' (opkg)."""
    v = re.sub(r"^\d+:", "", version.strip())
    if pattern and (m := re.match(pattern, v)):
        return m.group(1)
    if flavour == "deb" and "-" in v:
        v = v.rsplit("-", 1)[0]
    elif flavour == "opkg" and (m := re.fullmatch(r"(.+)-\d+(?:\.\d+)?", v)):
        v = m.group(1)
    if "+really" in v:
        v = v.split("+really", 1)[1]
    return _REPACK.sub("", v) or version


def parse_status(text: str, limit: int = MAX_PACKAGES) -> list[dict[str, str]]:
    """Stanzas of a dpkg/opkg status or control file (only the fields iotcop reads), at most ``limit``."""
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        if len(stanzas) >= limit:
            break
        if not line.strip():
            if current:
                stanzas.append(current)
                current = {}
        elif line[0] not in " \t":  # continuation lines (Description, Conffiles) carry nothing read here
            key, sep, value = line.partition(":")
            if sep and key in _FIELDS:
                current[key] = value.strip()[:200]
    if current and len(stanzas) < limit:
        stanzas.append(current)
    return stanzas


def installed(stanza: dict[str, str], needs_status: bool) -> tuple[str, str | None, str | None] | None:
    """(package, version, architecture) of an installed package, or None (removed, config files only,
    or malformed). A control file has no Status: being there is being installed."""
    name, version = stanza.get("Package", ""), stanza.get("Version")
    status = stanza.get("Status", "").split()
    if not _PACKAGE_NAME.match(name) or (needs_status and (not status or status[-1] != "installed")):
        return None
    if version is not None and not _VERSION.match(version):
        version = None
    arch = stanza.get("Architecture")
    return name, version, arch if arch and _PACKAGE_NAME.match(arch) else None


def _packages(fs: FileSystem, table: ComponentTable, os_id: str | None, notes: list[str]) -> list[Hit]:
    out: list[Hit] = []
    done: set[str] = set()
    sources = [("/var/lib/dpkg/status", "deb", True), *((p, "opkg", True) for p in _OPKG_DBS)]
    for directory in _OPKG_INFO:
        if (entry := fs.resolve(directory)) is not None and entry.is_dir:
            controls = fs.glob(f"{entry.path}/*.control")
            if len(controls) > MAX_CONTROL_FILES:
                notes.append(f"{directory}: more than {MAX_CONTROL_FILES} control files; the rest were not read")
            sources += [(e.path, "opkg", False) for e in controls[:MAX_CONTROL_FILES]]
    for path, flavour, needs_status in sources:
        entry = fs.resolve(path)
        if entry is None or not entry.is_file:
            continue
        limit = MAX_DB_BYTES if needs_status else MAX_CONTROL_BYTES
        if entry.size > limit:
            notes.append(f"{path}: larger than {limit >> 10} KiB; only its start was read")
        text = _read(fs, path, limit, notes)
        for stanza in parse_status(text, MAX_PACKAGES - len(done)):
            package = installed(stanza, needs_status)
            if package is None or package[0] in done:
                continue
            done.add(package[0])
            out += _package_hits(table, package, flavour, path, os_id)
    if len(done) >= MAX_PACKAGES:
        notes.append(f"more than {MAX_PACKAGES} installed packages; the rest were not read")
    return out


def _package_hits(table: ComponentTable, package: tuple[str, str | None, str | None], flavour: str, path: str,
                  os_id: str | None) -> list[Hit]:
    name, version, arch = package
    qualifiers = {"arch": arch} if arch else None
    if flavour == "deb":
        purl = PackageURL("deb", os_id or "debian", name.lower(), version, qualifiers).to_string()
    else:
        purl = PackageURL("generic", os_id, name.lower(), version, qualifiers).to_string()
    source = f"{'dpkg' if flavour == 'deb' else 'opkg'} {'status' if path.endswith('status') else 'control file'}"
    evidence = f"Package: {name}, Version: {version}" if version else f"Package: {name}"
    signatures = table.by_package(name) or (None,)
    return [Hit(s.name if s else name.lower(),
                upstream_version(version, flavour, s.package_version if s else None) if version else None,
                "high", source, path, evidence, purl) for s in signatures]


def _os_release(fs: FileSystem, table: ComponentTable) -> tuple[str | None, list[Hit]]:
    """The OS id (for package URLs) and the OS as a component, from the release files."""
    os_id, hits = None, []
    os_release = "/etc/os-release" if fs.resolve("/etc/os-release") else "/usr/lib/os-release"
    for path, id_key, version_key in (("/etc/openwrt_release", "DISTRIB_ID", "DISTRIB_RELEASE"),
                                      (os_release, "ID", "VERSION_ID")):
        fields = _release_fields(_read(fs, path, 65536, []))
        ident = fields.get(id_key, "").lower()
        if not ident:
            continue
        os_id = os_id or ident
        version = fields.get(version_key) or None
        if (signature := table.by_os_id(ident)) is not None:
            hits.append(Hit(signature.name, version, "high", path.rsplit("/", 1)[1], path,
                            f"{id_key}={fields[id_key]} {version_key}={version or ''}".strip()))
    return os_id, hits


def _read(fs: FileSystem, path: str, limit: int, notes: list[str]) -> str:
    try:
        return fs.read_text(path, limit) or ""
    except OSError as exc:
        notes.append(f"{path}: cannot read ({exc.strerror})")
        return ""


def _release_fields(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines()[:200]:
        key, sep, value = line.partition("=")
        value = value.strip().strip("'\"")
        if sep and re.fullmatch(r"[A-Z_]{1,40}", key.strip()) and re.fullmatch(r"[\w.+~ -]{1,64}", value):
            out[key.strip()] = value
    return out


def _merge(table: ComponentTable, found: list[Hit], packages: list[Hit]) -> tuple[Component, ...]:
    groups: dict[str, dict[str | None, list[Hit]]] = {}
    for hit in packages:
        groups.setdefault(hit.component, {}).setdefault(hit.version, []).append(hit)
    for hit in sorted((h for h in found if h.version), key=lambda h: (h.path, h.component)):
        entries = groups.setdefault(hit.component, {})
        listed = {h.version for hs in entries.values() for h in hs if h.from_package}
        target = hit.version if hit.version in entries or len(listed) != 1 else next(iter(listed))
        entries.setdefault(target, []).append(hit)
    for hit in (h for h in found if not h.version):
        entries = groups.setdefault(hit.component, {})
        versions = [v for v in entries if v is not None]
        entries.setdefault(versions[0] if len(versions) == 1 else None, []).append(hit)
    out = [_component(table.get(name), name, version, hits)
           for name, entries in groups.items() for version, hits in entries.items()]
    return tuple(sorted(out, key=lambda c: (c.name, c.version or "", c.locations[:1])))


def _component(signature: Signature | None, name: str, version: str | None, hits: list[Hit]) -> Component:
    best = min(hits, key=lambda h: (not h.from_package, _RANK[h.confidence], h.path))
    locations = sorted({h.path for h in hits})[:MAX_LOCATIONS]
    purl = best.purl or (generic_purl(signature, version) if signature else None)
    return Component(name=name, version=version, confidence=best.confidence, source=best.source,
                     locations=tuple(locations), evidence=best.evidence[:500], purl=purl,
                     cpe=cpe_name(signature, version) if signature else None)
