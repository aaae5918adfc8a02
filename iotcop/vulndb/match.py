"""Matching components against the store: CPE criteria (exact versions and ranges) and OSV package ranges.

Versions are compared with ``univers``: OpensslVersion for OpenSSL (1.0.1 < 1.0.1a < 1.0.1f < 1.0.1g < 1.0.2),
GenericVersion for other CPE products, the ecosystem's own scheme for OSV (PyPI, Maven, npm, Debian, ...). A
version that does not parse is never called vulnerable by a range. CPE names are split with the ``cpe`` package
(``nvd.split_cpe``). Only criteria with ``vulnerable: true`` match; the platform side of NVD's AND
configurations ("running on/with") is judged against the other components (``configs``); a distribution package
is judged by its distribution's records when the database has them (``distro``). A match found not to apply
keeps its reason in ``not_affected``: it is reported as such, never silently dropped.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from packageurl import PackageURL
from univers import versions as uv
from univers.debian import characters_order as debian_order

from iotcop.model import Component
from iotcop.vulndb import distro
from iotcop.vulndb.configs import ABSENT, Platforms, inventory_of
from iotcop.vulndb.nvd import split_cpe

ALIASES_FILE = Path(__file__).parent.parent / "knowledge" / "data" / "cpe-aliases.yaml"
OSV_SCHEMES: dict[str, type[uv.Version]] = {
    "PyPI": uv.PypiVersion, "Maven": uv.MavenVersion, "npm": uv.SemverVersion, "Debian": uv.DebianVersion,
    "Ubuntu": uv.DebianVersion, "Alpine": uv.AlpineLinuxVersion, "Go": uv.GolangVersion, "crates.io": uv.SemverVersion,
    "NuGet": uv.NugetVersion, "RubyGems": uv.RubygemsVersion, "Packagist": uv.ComposerVersion}
PRERELEASE = re.compile(r"[-_.~]?(alpha|beta|pre|rc)")
PURL_ECOSYSTEMS = {"pypi": "PyPI", "maven": "Maven", "npm": "npm", "deb": "Debian", "apk": "Alpine",
                   "golang": "Go", "cargo": "crates.io", "nuget": "NuGet", "gem": "RubyGems", "composer": "Packagist"}


@dataclass(frozen=True)
class VulnMatch:
    component: str  # "openssl 1.0.1f"
    vuln_id: str  # CVE-... or an OSV id
    source: str  # "nvd" or "osv"
    cvss_score: float | None
    cvss_version: str | None
    cvss_vector: str | None
    severity: str | None
    kev: bool
    kev_added: str | None
    criterion: str  # the CPE criteria string or the OSV package and range
    reason: str  # "openssl 1.0.1f in [1.0.1, 1.0.1g)"
    aliases: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # what else bears on it: the platform it needs, the distribution's backports
    not_affected: str | None = None  # why the version match does not apply here (then reported, not a flaw)


@dataclass(frozen=True)
class Aliases:
    by_name: dict[str, tuple[tuple[str, str], ...]]
    by_cpe: dict[tuple[str, str], tuple[tuple[str, str], ...]]

    def pairs(self) -> list[tuple[str, str, str, str]]:
        return sorted((v, p, av, ap) for (v, p), others in self.by_cpe.items() for av, ap in others)


@lru_cache(maxsize=1)
def load_aliases(path: Path = ALIASES_FILE) -> Aliases:
    by_name: dict[str, tuple[tuple[str, str], ...]] = {}
    by_cpe: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {}
    for group in yaml.safe_load(path.read_text()):
        cpes = tuple(tuple(c.lower().split(":", 1)) for c in group["cpes"])
        for name in group["names"]:
            by_name[name.lower()] = cpes
        for c in cpes:
            by_cpe[c] = cpes
    return Aliases(by_name, by_cpe)


def parse_version(scheme: type[uv.Version] | None, text: str) -> uv.Version | None:
    return _parse(scheme.__name__ if scheme else "", text)


@lru_cache(maxsize=500_000)
def _parse(scheme_name: str, text: str) -> uv.Version | None:
    try:
        if not scheme_name:  # generic upstream versions: Debian's ordering, pre-releases sorted before release
            return uv.DebianVersion(PRERELEASE.sub(r"~\1", text.lower()))
        return getattr(uv, scheme_name)(text)  # type: ignore[no-any-return]
    except Exception:  # univers raises InvalidVersion, ValueError, TypeError... on odd strings
        return None


_DIGITS = re.compile(r"(\D*)(\d*)")


def _debian_part_key(part: str) -> tuple[tuple[tuple[int, ...], int], ...]:
    """A tuple that sorts as Debian's algorithm orders ``part`` (upstream or revision): (non-digit run as
    character weights ended by the end-of-part weight, number) pairs, then an end pair. Later pairs always
    start with a non-digit, so the end pair decides against them as Debian's end-of-string does."""
    end = debian_order[""]
    pairs = [((*(debian_order.get(c, 1000) for c in text), end), int(digits or 0))
             for text, digits in _DIGITS.findall(part) if text or digits]
    return (*(pairs or [((end,), 0)]), ((end,), 0))  # an empty part is as a zero: revision "" equals "0"


@lru_cache(maxsize=500_000)
def _generic_key(text: str) -> tuple[Any, ...] | None:
    """The sort key of a generic version, computed once per distinct string (bounds repeat across rows):
    comparing keys is a native tuple comparison, not univers' character-by-character loop."""
    parsed = _parse("", text)
    if parsed is None:
        return None
    v = parsed.value
    return int(v.epoch), _debian_part_key(str(v.upstream)), _debian_part_key(str(v.revision or ""))


def compare(scheme: type[uv.Version] | None, a: str, b: str) -> int | None:
    """-1/0/1 for a against b; falls back to the generic scheme for both; None when either does not parse."""
    if scheme is None:
        ka, kb = _generic_key(a), _generic_key(b)
        return None if ka is None or kb is None else -1 if ka < kb else 1 if kb < ka else 0
    for s in (scheme, None):
        va, vb = parse_version(s, a), parse_version(s, b)
        if va is not None and vb is not None:
            try:
                return -1 if va < vb else 1 if vb < va else 0
            except Exception:  # incomparable parts inside univers
                continue
    return None


def cpe_scheme(product: str) -> type[uv.Version] | None:
    """OpensslVersion for OpenSSL; None (generic: Debian's algorithm, numeric segments, so 2.9 < 2.78, and
    alpha/beta/rc before the release) for everything else. GenericVersion was tried and orders 1.36 < 1.4."""
    return uv.OpensslVersion if product == "openssl" else None


def in_range(version: str, row: sqlite3.Row, scheme: type[uv.Version] | None) -> str | None:
    """Why ``version`` satisfies the criterion row, or None."""
    if row["version_exact"] is not None:
        exact = row["version_exact"]
        same = version.lower() == exact or compare(scheme, version, exact) == 0
        return f"= {exact} (exact version criterion)" if same else None
    bounds = [(row["start_incl"], "[", (0, 1)), (row["start_excl"], "(", (1,)),
              (row["end_incl"], "]", (-1, 0)), (row["end_excl"], ")", (-1,))]
    if all(b is None for b, _, _ in bounds):
        return "every version (criterion without version or range)"
    for bound, _, wanted in bounds:
        if bound is not None and compare(scheme, version, bound) not in wanted:
            return None
    low = row["start_incl"] or row["start_excl"]
    high = row["end_incl"] or row["end_excl"]
    left = ("[" if row["start_incl"] else "(") + (low or "-inf")
    right = (high or "+inf") + ("]" if row["end_incl"] else ")")
    return f"in {left}, {right}"


def component_keys(comp: Component, aliases: Aliases) -> tuple[set[tuple[str | None, str]], str | None, str]:
    """The (vendor, product) keys to look up (vendor None: any vendor), the version, and its CPE update."""
    keys: set[tuple[str | None, str]] = set()
    version, update = comp.version, "*"
    parts = split_cpe(comp.cpe) if comp.cpe else None
    if parts is not None:
        _, vendor, product, cpe_version, update = parts
        keys.add((vendor, product))
        keys.update(aliases.by_cpe.get((vendor, product), ()))
        if version is None and cpe_version not in ("*", "-"):
            version = cpe_version
    name = comp.name.lower()
    if name in aliases.by_name:
        keys.update(aliases.by_name[name])
    elif parts is None:
        keys.add((None, name))  # no CPE and no alias: the product name under any vendor
    if version is not None and update not in ("*", "-", ""):
        version = f"{version}-{update}"
    return keys, version, update


class Matcher:
    """Matches components against one open database; caches the rows of each key it looked up. ``inventory``
    (every component of the image) decides the platform side of NVD's AND configurations."""

    def __init__(self, conn: sqlite3.Connection, inventory: Sequence[Component] = ()) -> None:
        self.conn = conn
        conn.row_factory = sqlite3.Row
        self.aliases = self._aliases()
        self._rows: dict[tuple[str | None, str], list[sqlite3.Row]] = {}
        keys = [component_keys(c, self.aliases)[:2] for c in inventory]
        self.platforms = Platforms(conn, inventory_of(keys),
                                   lambda version, row: in_range(version, row, cpe_scheme(row["product"])))
        self.release = distro.os_release(inventory)

    def _aliases(self) -> Aliases:
        base = load_aliases()
        by_cpe = {k: set(v) for k, v in base.by_cpe.items()}
        for v, p, av, ap in self.conn.execute("SELECT * FROM aliases"):
            by_cpe.setdefault((v, p), {(v, p)}).add((av, ap))
        return Aliases(base.by_name, {k: tuple(sorted(v)) for k, v in by_cpe.items()})

    def rows(self, key: tuple[str | None, str]) -> list[sqlite3.Row]:
        if key not in self._rows:
            sql = ("SELECT m.*, n.config_operator, c.cvss_score, c.cvss_version, c.cvss_vector, c.severity, c.kev, "
                   "c.kev_added FROM cpe_match m JOIN cve c ON c.id = m.cve_id LEFT JOIN cve_node n ON "
                   "n.cve_id = m.cve_id AND n.config = m.config AND n.node = m.node WHERE m.vulnerable = 1 AND ")
            if key[0] is None:
                self._rows[key] = self.conn.execute(sql + "m.product = ?", (key[1],)).fetchall()
            else:
                self._rows[key] = self.conn.execute(sql + "m.vendor = ? AND m.product = ?", key).fetchall()
        return self._rows[key]

    def match(self, comp: Component) -> list[VulnMatch]:
        keys, version, _ = component_keys(comp, self.aliases)
        if version is None:
            return []
        label = f"{comp.name} {version}"
        found: dict[str, VulnMatch] = {}
        for key in sorted(keys, key=lambda k: (k[0] or "", k[1])):
            for row in self.rows(key):
                previous = found.get(row["cve_id"])
                if previous is not None and previous.not_affected is None:
                    continue
                why = in_range(version, row, cpe_scheme(row["product"]))
                if why is None:
                    continue
                m = VulnMatch(label, row["cve_id"], "nvd", row["cvss_score"], row["cvss_version"], row["cvss_vector"],
                              row["severity"], bool(row["kev"]), row["kev_added"], row["criteria"], f"{label} {why}")
                if (platform := self.platforms.judge(row)) is not None:
                    m = replace(m, **({"not_affected": f"NVD lists it {platform.text}"} if platform.state == ABSENT
                                      else {"notes": (f"NVD lists it {platform.text}",)}))
                found[row["cve_id"]] = m
        for m in self.match_osv(comp, label):
            if not set(m.aliases) & set(found):
                found.setdefault(m.vuln_id, m)
        return sorted(self.distribution(comp, found), key=lambda m: m.vuln_id)

    def distribution(self, comp: Component, found: dict[str, VulnMatch]) -> list[VulnMatch]:
        """The matches of a distribution package, judged by the distribution's records where there are some."""
        pkg = distro.distro_package(comp, self.release)
        if pkg is None:
            return list(found.values())
        judged = distro.verdicts(self.conn, pkg, lambda v, listed, ranges: osv_affected(
            v, listed, ranges, uv.DebianVersion))
        out = []
        for m in found.values():
            verdict = judged.get(m.vuln_id) or next((judged[a] for a in m.aliases if a in judged), None)
            if m.source == "osv" and m.vuln_id in {v.record for v in judged.values()}:
                out.append(m)  # the distribution's own record
            elif verdict is not None and not verdict.affected:
                out.append(replace(m, not_affected=verdict.text))
            elif verdict is not None:
                out.append(replace(m, notes=(*m.notes, verdict.text)))
            elif distro.patched(pkg, comp.version):
                out.append(replace(m, notes=(*m.notes, distro.backport_note(pkg))))
            else:
                out.append(m)
        return out

    def match_osv(self, comp: Component, label: str) -> list[VulnMatch]:
        try:
            purl = PackageURL.from_string(comp.purl) if comp.purl else None
        except ValueError:
            return []
        if purl is None or purl.type not in PURL_ECOSYSTEMS or not (purl.version or comp.version):
            return []
        ecosystem = PURL_ECOSYSTEMS[purl.type]
        name = f"{purl.namespace}:{purl.name}" if purl.type == "maven" and purl.namespace else purl.name
        version = str(purl.version or comp.version)
        scheme = OSV_SCHEMES.get(ecosystem)
        out = []
        sql, params = "SELECT * FROM osv WHERE ecosystem = ? AND name = ?", [ecosystem, name]
        if ecosystem == "Debian":  # a Debian record judges only its own release's packages
            pkg = distro.distro_package(comp, self.release)
            if pkg is None or pkg.release is None:
                return []
            sql, params = sql + " AND release = ?", [*params, pkg.release]
        for row in self.conn.execute(sql, params):
            why = osv_affected(version, json.loads(row["versions"]), json.loads(row["ranges"]), scheme)
            if why is not None:
                out.append(VulnMatch(label, row["id"], "osv", None, None, row["severity_vector"], None, False, None,
                                     f"{ecosystem}/{name} {row['ranges']}", f"{label} {why}",
                                     tuple(sorted({*json.loads(row["aliases"]), *json.loads(row["upstream"])}))))
        return out


def osv_affected(version: str, listed: list[str], ranges: list[dict[str, Any]],
                 scheme: type[uv.Version] | None) -> str | None:
    if version in listed:
        return "is listed among the affected versions"
    for r in ranges:
        if r.get("type") == "GIT":
            continue
        affected, why = False, ""
        events = [(k, v) for e in r.get("events", []) for k, v in e.items()]
        for kind, bound in events:  # OSV: introduced/fixed pairs in order; "0" introduces from the start
            c = -1 if bound == "0" else compare(scheme, bound, version)
            if c is None:
                continue
            if kind == "introduced" and c <= 0:
                affected, why = True, f"introduced in {bound}"
            elif (kind in ("fixed", "limit") and c <= 0) or (kind == "last_affected" and c < 0):
                affected = False
            elif kind in ("fixed", "last_affected") and affected:
                return f"in range {why}, {kind.replace('_', ' ')} {bound}"
        if affected:
            return f"in range {why}, not fixed"
    return None
