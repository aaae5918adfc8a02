"""The offline vulnerability database: NVD CVE JSON 2.0 and OSV records in SQLite, matched against components.

::

    db = VulnDB.open(default_path())       # nothing is created until the first import
    db.import_files([Path("nvdcve-2.0-2024.json.gz")])
    db.status(now)                          # DBStatus: state "missing" | "empty" | "stale" | "ok", and why
    db.match(components, now)               # list[VulnMatch]; raises VulnDBUnavailable when missing/empty/stale

A check turns ``VulnDBUnavailable`` into ``CannotAssess(exc.reason)`` (INCONCLUSIVE): an absent or out-of-date
database must never read as "no known vulnerabilities".
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from iotcop.errors import InputError
from iotcop.model import Component
from iotcop.vulndb import store
from iotcop.vulndb.match import Matcher, VulnMatch, load_aliases

__all__ = ["DEFAULT_MAX_AGE_DAYS", "DBStatus", "ImportReport", "VulnDB", "VulnDBUnavailable", "VulnMatch",
           "default_path"]

DEFAULT_MAX_AGE_DAYS = 30


class VulnDBUnavailable(InputError):
    """The database is missing, empty or stale: matching cannot say "no known vulnerabilities"."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class ImportReport:
    files: tuple[str, ...]
    cves: int
    cpe_rows: int
    osv_records: int
    skipped: int  # malformed records, counted and left out


@dataclass(frozen=True)
class DBStatus:
    path: str
    state: str  # "missing", "empty", "stale" or "ok"
    reason: str
    schema_version: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    feeds: tuple[dict[str, object], ...] = ()
    newest_record: str | None = None
    last_import: str | None = None


def default_path() -> Path:
    env = os.environ.get("IOTCOP_VULNDB")
    return Path(env) if env else Path.home() / ".cache" / "iotcop" / "vulndb.sqlite"


def _parse_time(text: str) -> datetime | None:
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


class VulnDB:
    def __init__(self, path: Path, max_age_days: int = DEFAULT_MAX_AGE_DAYS) -> None:
        self.path = path
        self.max_age = timedelta(days=max_age_days)

    @classmethod
    def open(cls, path: Path | None = None, max_age_days: int = DEFAULT_MAX_AGE_DAYS) -> VulnDB:
        return cls(path or default_path(), max_age_days)

    def import_files(self, paths: Iterable[Path], now: datetime | None = None) -> ImportReport:
        """Parse every file (refusing any that is not a feed), then write them all in one transaction."""
        feeds = [store.read_feed(p) for p in paths]
        conn = store.connect(self.path)
        try:
            store.seed_aliases(conn, load_aliases().pairs())
            store.write_feeds(conn, feeds, (now or datetime.now(UTC)).isoformat(timespec="seconds"))
        finally:
            conn.close()
        return ImportReport(files=tuple(f.name for f in feeds), cves=sum(len(f.cves) for f in feeds),
                            cpe_rows=sum(len(c.matches) for f in feeds for c in f.cves),
                            osv_records=sum(f.records for f in feeds if f.kind == "osv"),
                            skipped=sum(f.skipped for f in feeds))

    def status(self, now: datetime | None = None) -> DBStatus:
        if not self.path.is_file():
            return DBStatus(str(self.path), "missing", f"no vulnerability database at {self.path}: run "
                            "`iotcop vulndb import FILE...` or `iotcop vulndb update`")
        conn = store.open_readonly(self.path)
        try:
            counts = {t: int(store.scalar(conn, f"SELECT count(*) FROM {t}")) for t in ("cve", "cpe_match", "osv")}
            counts["kev"] = int(store.scalar(conn, "SELECT count(*) FROM cve WHERE kev = 1"))
            newest = max(filter(None, [store.scalar(conn, "SELECT max(modified) FROM cve"),
                                       store.scalar(conn, "SELECT max(modified) FROM osv")]), default=None)
            feeds = tuple({"name": n, "kind": k, "records": r, "skipped": s, "imported_at": t}
                          for n, k, r, s, t in conn.execute("SELECT * FROM feeds ORDER BY name"))
            last = store.scalar(conn, "SELECT value FROM meta WHERE key = 'last_import'")
        finally:
            conn.close()
        base = {"path": str(self.path), "schema_version": store.SCHEMA_VERSION, "counts": counts, "feeds": feeds,
                "newest_record": newest, "last_import": last}
        if counts["cve"] + counts["osv"] == 0:
            return DBStatus(state="empty", reason=f"the vulnerability database {self.path} holds no records",
                            **base)
        stamp = _parse_time(newest or "")
        now = now or datetime.now(UTC)
        if stamp is None or now - stamp > self.max_age:
            reason = (f"the vulnerability database is stale: its newest record is from {newest}, older than "
                      f"{self.max_age.days} days: run `iotcop vulndb update`")
            return DBStatus(state="stale", reason=reason, **base)
        return DBStatus(state="ok", reason=f"newest record {newest}", **base)

    def match(self, components: Sequence[Component], now: datetime | None = None,
              allow_stale: bool = False, include_not_affected: bool = False) -> list[VulnMatch]:
        """Known vulnerabilities of the components, sorted by component then id; with ``include_not_affected``
        also the version matches found not to apply (``VulnMatch.not_affected`` says why).

        Raises ``VulnDBUnavailable`` (reason for INCONCLUSIVE) when the database is missing, empty or, unless
        ``allow_stale``, stale."""
        status = self.status(now)
        if status.state in ("missing", "empty") or (status.state == "stale" and not allow_stale):
            raise VulnDBUnavailable(status.reason)
        conn = store.open_readonly(self.path)
        try:
            matcher = Matcher(conn, components)
            return [m for comp in components for m in matcher.match(comp)
                    if include_not_affected or m.not_affected is None]
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path}: vulnerability database unreadable ({exc})") from exc
        finally:
            conn.close()
