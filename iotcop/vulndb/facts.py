"""The known vulnerabilities of an image's components, looked up once in the local database (a collector:
the I/O happens here, the check only reads the result). Each match is judged against the image's context
(``context``: BusyBox applets, kernel configuration; ``distro``/``configs`` inside the matcher): those found not
to apply are kept apart in ``not_affected``, with the reason, for the report to show."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from iotcop.errors import InputError
from iotcop.model import Component
from iotcop.vulndb import VulnDB
from iotcop.vulndb.context import Context, apply
from iotcop.vulndb.match import VulnMatch


@dataclass(frozen=True)
class Vulnerabilities:
    """Facts: the matches, or why the database could not be used (``unavailable``, then no matches)."""

    matches: tuple[VulnMatch, ...] = ()
    unavailable: str | None = "no vulnerability lookup was made"
    database: str = ""
    unversioned: tuple[str, ...] = ()  # components without a version: they cannot be matched
    not_affected: tuple[VulnMatch, ...] = ()  # version matches the context rules out (``not_affected`` says why)


def collect_vulnerabilities(components: tuple[Component, ...], now: dt.datetime,
                            path: Path | None = None, context: Context | None = None) -> Vulnerabilities:
    unversioned = tuple(sorted({c.name for c in components if not c.version}))
    try:
        db = VulnDB.open(path)
        found = db.match([c for c in components if c.version], now, include_not_affected=True)
        judged = apply(found, components, context or Context())
    except InputError as exc:  # missing, empty, stale or unreadable: the reason is the verdict's reason
        return Vulnerabilities(unavailable=getattr(exc, "reason", None) or str(exc), unversioned=unversioned)
    except Exception as exc:  # a bug or a version string no parser foresaw: the lookup, not the assessment, fails
        return Vulnerabilities(unavailable=f"matching failed ({type(exc).__name__}: {exc})", unversioned=unversioned)
    return Vulnerabilities(tuple(m for m in judged if m.not_affected is None), None, str(db.path), unversioned,
                           tuple(m for m in judged if m.not_affected is not None))
