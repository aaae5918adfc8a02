"""Component signatures: how iotcop recognises software that embedded Linux products ship, and how each
component is named for vulnerability matching (CPE 2.3) and in an SBOM (package URL).

The table is data (``data/components.yaml``), validated by pydantic on load. Each entry gives a canonical
name, its CPE vendor and product with the source of that mapping (``verified`` says whether it was checked
against a second public source), the package names it has in package databases (dpkg, opkg), file names
that show it is present, and version rules. A version rule is a regex applied to one "line" at a time:

- ``strings``: a printable string of an ELF file's read-only data (``ElfInfo.strings``);
- ``content``: a line (a run of printable characters) of a file's bytes, for files named by ``files``
  (JavaScript libraries, kernel and boot-loader images, kernel modules' ``.modinfo``);
- ``name`` / ``path``: a file's base name / full path inside the image.

A ``keyword`` is a literal the matching line contains: lines are only looked at around its occurrences, so
a table of many rules costs a few substring searches per binary. ``marker`` is a literal that must occur in
the same file, ``near`` how many strings away from it the version may lie (for programs that print
``"hostapd v%s"`` with the version in a separate constant). Every rule carries examples and look-alikes,
which the tests run through this same engine.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from packageurl import PackageURL
from pydantic import BaseModel, ConfigDict, Field, model_validator

DATA = Path(__file__).parent / "data" / "components.yaml"
MAX_OCCURRENCES = 256  # lines looked at per keyword and file: keywords are specific, banners come early
MAX_LINE = 300  # characters either side of a keyword that can belong to its line
MAX_LINES = 20_000  # lines tried by a rule without a keyword (restricted to named files)

Source = Literal["strings", "content", "name", "path"]
Confidence = Literal["high", "medium", "low"]
_PRINTABLE = frozenset(chr(c) for c in range(0x20, 0x7F)) | {"\t"}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Example(_Model):
    """A file as a rule sees it: its path and its lines (ELF strings, text lines). ``version`` is what the
    rule must find, None for a look-alike that must give nothing."""

    path: str = "/usr/bin/program"
    lines: tuple[str, ...] = ()
    version: str | None = None


class VersionRule(_Model):
    regex: str
    source: Source = "strings"
    keyword: str | None = None
    marker: str | None = None
    near: int | None = Field(default=None, ge=1, le=20)
    files: tuple[str, ...] = ()  # base-name globs the rule is restricted to
    join: bool = False  # the version is all groups joined by '.', leading zeros dropped (libxml2's 20914)
    confidence: Literal["high", "medium"] = "medium"
    examples: tuple[Example, ...] = Field(min_length=1)
    lookalikes: tuple[Example, ...] = ()

    @model_validator(mode="after")
    def _bounded(self) -> VersionRule:
        if self.source in ("strings", "content") and not (self.keyword or self.marker or self.files):
            raise ValueError("a strings/content rule needs a keyword, a marker or files (else it runs on everything)")
        if self.source == "content" and not (self.files and (self.keyword or self.marker)):
            raise ValueError("a content rule names the files it reads and a keyword")
        if self.near is not None and (self.marker is None or self.source != "strings"):
            raise ValueError("near needs a marker and applies to ELF strings")
        return self


class Cpe(_Model):
    part: Literal["a", "o", "h"] = "a"
    vendor: str = Field(pattern=r"^[a-z0-9][a-z0-9_.\-]*$")
    product: str = Field(pattern=r"^[a-z0-9][a-z0-9_.\-]*$")


class Signature(_Model):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.+\-]*$")
    title: str
    cpe: Cpe | None
    cpe_aliases: tuple[str, ...] = ()  # other vendor:product pairs NVD has used for the same software
    cpe_source: str = Field(min_length=8)
    cpe_version: str | None = None  # regex splitting a version into CPE version and update ('9.2p1' → 9.2, p1)
    verified: bool
    purl_type: Literal["generic", "npm"] = "generic"
    packages: tuple[str, ...] = ()  # package names in dpkg/opkg databases (globs)
    package_version: str | None = None  # regex whose group 1 is the upstream part of a package version
    files: tuple[str, ...] = ()  # base-name globs: the component is present (low confidence, no version)
    os_ids: tuple[str, ...] = ()  # os-release ID / DISTRIB_ID values naming this OS
    versions: tuple[VersionRule, ...] = ()

    @model_validator(mode="after")
    def _identifiable(self) -> Signature:
        if not (self.packages or self.files or self.os_ids or self.versions):
            raise ValueError(f"{self.name}: no way to identify it")
        return self


@dataclass(frozen=True)
class Match:
    version: str
    evidence: str


@dataclass(frozen=True)
class Rule:
    """A compiled version rule of one component."""

    component: str
    source: Source
    regex: re.Pattern[str]
    keyword: str | None
    marker: str | None
    near: int | None
    files: re.Pattern[str] | None
    join: bool
    confidence: Confidence

    def applies_to(self, path: str) -> bool:
        return self.files is None or self.files.match(posixpath.basename(path)) is not None

    def search(self, path: str, lines: Sequence[str], text: str | None = None) -> Match | None:
        """The version this rule finds in one file (``lines``; ``text``: the same lines as one string,
        for content, the decoded bytes), or None."""
        if not self.applies_to(path):
            return None
        if self.source in ("name", "path"):
            return self._match(posixpath.basename(path) if self.source == "name" else path)
        text = "\n".join(lines) if text is None else text
        if self.marker is not None and self.marker not in text:
            return None
        if self.near is not None:
            return self._near(lines)
        if self.keyword is not None:
            return next(filter(None, (self._match(line) for line in _lines_with(text, self.keyword))), None)
        candidates = lines if lines else text.splitlines()
        return next(filter(None, (self._match(line) for line in candidates[:MAX_LINES])), None)

    def _near(self, lines: Sequence[str]) -> Match | None:
        assert self.marker is not None and self.near is not None
        spots = [i for i, line in enumerate(lines[:MAX_LINES]) if self.marker in line][:MAX_OCCURRENCES]
        for i in spots:
            for j in range(max(0, i - self.near), min(len(lines), i + self.near + 1)):
                if j != i and (found := self._match(lines[j])):
                    return found
        return None

    def _match(self, line: str) -> Match | None:
        m = self.regex.search(line)
        if m is None:
            return None
        version = ".".join(str(int(g)) for g in m.groups()) if self.join else m.group(1)
        return Match(version, line.strip()[:200])


def _lines_with(text: str, keyword: str) -> list[str]:
    """The lines (runs of printable characters) around the first occurrences of ``keyword``."""
    out: list[str] = []
    start = 0
    while len(out) < MAX_OCCURRENCES and (pos := text.find(keyword, start)) >= 0:
        begin = pos
        while begin > 0 and pos - begin < MAX_LINE and text[begin - 1] in _PRINTABLE:
            begin -= 1
        end = pos + len(keyword)
        while end < len(text) and end - pos < MAX_LINE and text[end] in _PRINTABLE:
            end += 1
        out.append(text[begin:end])
        start = pos + len(keyword)
    return out


def _globs(patterns: Sequence[str]) -> re.Pattern[str] | None:
    return re.compile("|".join(fnmatch.translate(p) for p in patterns)) if patterns else None


class ComponentTable:
    """The shipped signatures (a knowledge type collectors and checks can read); lookups are precomputed."""

    def __init__(self, signatures: tuple[Signature, ...]) -> None:
        self.signatures = signatures
        self._by_name = {s.name: s for s in signatures}
        self._compiled = {s.name: tuple(_compile(s.name, r) for r in s.versions) for s in signatures}
        self._rules = {source: tuple(r for s in signatures for r in self._compiled[s.name] if r.source == source)
                       for source in ("strings", "content", "name", "path")}
        self._packages = tuple((p, s) for s in signatures if (p := _globs(s.packages)) is not None)
        self._presence = tuple((p, s) for s in signatures if (p := _globs(s.files)) is not None)

    def get(self, name: str) -> Signature | None:
        return self._by_name.get(name)

    def rules(self, source: Source) -> tuple[Rule, ...]:
        return self._rules[source]

    def rules_of(self, name: str) -> tuple[Rule, ...]:
        """The compiled rules of one component, in the order of its ``versions``."""
        return self._compiled[name]

    def by_package(self, package: str) -> tuple[Signature, ...]:
        """The components a package of a dpkg/opkg database is (``wpad`` is both hostapd and wpa_supplicant)."""
        return tuple(s for p, s in self._packages if p.match(package.lower()))

    def present(self, path: str) -> tuple[Signature, ...]:
        """Components whose file names ``path`` has."""
        name = posixpath.basename(path)
        return tuple(s for p, s in self._presence if p.match(name))

    def by_os_id(self, os_id: str) -> Signature | None:
        return next((s for s in self.signatures if os_id.lower() in s.os_ids), None)


def _compile(component: str, rule: VersionRule) -> Rule:
    return Rule(component, rule.source, re.compile(rule.regex), rule.keyword, rule.marker, rule.near,
                _globs(rule.files), rule.join, rule.confidence)


def cpe_name(signature: Signature, version: str | None) -> str | None:
    """The CPE 2.3 formatted string of a component at a version; None without a version (a CPE with
    any version would match every CVE of the product) or without a CPE."""
    if signature.cpe is None or not version:
        return None
    update = "*"
    if signature.cpe_version and (m := re.fullmatch(signature.cpe_version, version)):
        version, update = m.group(1), m.group(2)
    c = signature.cpe
    return f"cpe:2.3:{c.part}:{c.vendor}:{c.product}:{_escape(version)}:{_escape(update)}:*:*:*:*:*:*"


def _escape(value: str) -> str:
    """CPE 2.3 formatted-string quoting: anything but letters, digits, '_', '-' and '.' is escaped."""
    if value == "*":
        return value
    return "".join(c if c.isalnum() or c in "_-." else "\\" + c for c in value.lower())


def generic_purl(signature: Signature, version: str | None) -> str:
    return str(PackageURL(type=signature.purl_type, name=signature.name, version=version or None).to_string())


def parse_table(text: str) -> ComponentTable:
    """The table from its YAML text; raises ``ValueError`` on a malformed entry or regex."""
    raw = yaml.safe_load(text)
    if not isinstance(raw, list):
        raise ValueError("the component table must be a list")
    signatures = tuple(Signature.model_validate(item) for item in raw)
    names = [s.name for s in signatures]
    if len(names) != len(set(names)):
        raise ValueError("component names must be unique")
    for signature in signatures:
        for rule in signature.versions:
            try:
                compiled = _compile(signature.name, rule)
            except re.error as exc:
                raise ValueError(f"{signature.name}: bad regex {rule.regex!r}: {exc}") from exc
            if compiled.regex.groups < 1:
                raise ValueError(f"{signature.name}: {rule.regex!r} has no version group")
        for pattern in (signature.cpe_version, signature.package_version):
            if pattern is not None:
                re.compile(pattern)
    return ComponentTable(signatures)


@cache
def component_table() -> ComponentTable:
    return parse_table(DATA.read_text())
