"""Distribution packages: a dpkg or opkg package (1.0.1e-2+deb7u5, 1.2.3-r4) may carry fixes its upstream version
does not show. For a Debian package the distribution's own OSV records (DSA-, DLA-, DEBIAN-CVE-, ecosystem
``Debian:12``, fixed versions in Debian's scheme) judge it when the database has them: such a record wins over
NVD's upstream range. Without one, an upstream match on a distribution package says the fix may be backported.

The Debian release comes from the package URL's ``distro`` qualifier, else from a ``+debNuM`` revision, else from
the image's ``/etc/os-release`` (the ``debian`` component's version).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from packageurl import PackageURL

from iotcop.model import Component

_DEB_REVISION = re.compile(r"[+~]deb(\d+)u\d+")
_RELEASE = re.compile(r"(\d+)")
PACKAGE_SOURCES = ("dpkg status", "opkg status", "opkg control file")
# (version, listed versions, ranges) -> why affected, or None: match.osv_affected with Debian's version scheme
AffectedTest = Callable[[str, list[str], list[dict[str, Any]]], str | None]


@dataclass(frozen=True)
class DistroPackage:
    ecosystem: str  # "Debian"
    release: str | None  # "12"; None when unknown
    names: tuple[str, ...]  # the package name and iotcop's component name (Debian records name source packages)
    version: str  # the full distribution version, "1.0.1e-2+deb7u4"


@dataclass(frozen=True)
class DistroVerdict:
    record: str  # DSA-2896-1
    affected: bool
    text: str


def os_release(components: Sequence[Component]) -> str | None:
    """The Debian release of the image (major version of the ``debian`` component), if identified."""
    for c in components:
        if c.name == "debian" and c.version and (m := _RELEASE.match(c.version)):
            return m.group(1)
    return None


def distro_package(comp: Component, release: str | None) -> DistroPackage | None:
    """The distribution package behind a component: Debian (from dpkg), or another packager (release None)."""
    if comp.source not in PACKAGE_SOURCES or not comp.purl:
        return None
    try:
        purl = PackageURL.from_string(comp.purl)
    except ValueError:
        return None
    if not purl.version:
        return None
    names = tuple(dict.fromkeys((purl.name, comp.name)))
    if purl.type != "deb" or (purl.namespace or "debian") != "debian":
        return DistroPackage(str(purl.namespace or purl.type), None, names, purl.version)
    distro = str((purl.qualifiers or {}).get("distro", "")) if isinstance(purl.qualifiers, dict) else ""
    found = _RELEASE.search(distro) or _DEB_REVISION.search(purl.version)
    return DistroPackage("Debian", found.group(1) if found else release, names, purl.version)


def patched(pkg: DistroPackage, upstream: str | None) -> bool:
    """Whether the distribution version says more than the upstream one (a revision that may carry fixes)."""
    return upstream is None or re.sub(r"^\d+:", "", pkg.version) != upstream


def verdicts(conn: sqlite3.Connection, pkg: DistroPackage,
             affected: AffectedTest) -> dict[str, DistroVerdict]:
    """CVE id -> what the distribution's records say of this package version (affected if any record says so)."""
    if pkg.ecosystem != "Debian" or pkg.release is None:
        return {}
    marks = ",".join("?" * len(pkg.names))
    rows = conn.execute(f"SELECT * FROM osv WHERE ecosystem = 'Debian' AND release = ? AND name IN ({marks}) "
                        "ORDER BY id", (pkg.release, *pkg.names)).fetchall()
    out: dict[str, DistroVerdict] = {}
    for row in rows:
        ranges = json.loads(row["ranges"])
        why = affected(pkg.version, json.loads(row["versions"]), ranges)
        fixed = sorted({v for r in ranges for e in r.get("events", []) for k, v in e.items() if k == "fixed"})
        where = f"{row['id']} (Debian {pkg.release}, package {row['name']})"
        if why is not None:
            verdict = DistroVerdict(row["id"], True, f"confirmed by {where}: {pkg.version} {why}")
        else:
            fix = f"fixed in {', '.join(fixed)}" if fixed else "not listing it as affected"
            verdict = DistroVerdict(row["id"], False, f"{where} says {pkg.version} is not affected ({fix}); the "
                                                      "distribution's record wins over the upstream range")
        for cve in json.loads(row["upstream"]) or [row["id"]]:
            if cve not in out or (verdict.affected and not out[cve].affected):
                out[cve] = verdict
    return out


def backport_note(pkg: DistroPackage) -> str:
    where = f"Debian {pkg.release}" if pkg.ecosystem == "Debian" and pkg.release else pkg.ecosystem
    return (f"the installed package is {pkg.version} from {where}: the distribution may have backported the fix "
            "(the database holds no distribution record for it)")

