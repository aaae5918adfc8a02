"""Downloading feeds: each URL to a temporary file (size-bounded, with a timeout), then one atomic import.

The default URLs are NVD's 2.0 "recent" and "modified" feeds; ``$IOTCOP_VULNDB_FEEDS`` (space-separated URLs)
or explicit URLs replace them. Only http and https URLs are fetched (urllib, stdlib).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from iotcop.errors import InputError, UsageError
from iotcop.vulndb import ImportReport, VulnDB

DEFAULT_FEEDS = (
    "https://nvd.nist.gov/feeds/json/cve/2.0/nvdcve-2.0-modified.json.gz",
    "https://nvd.nist.gov/feeds/json/cve/2.0/nvdcve-2.0-recent.json.gz",
)
MAX_DOWNLOAD_BYTES = 512 << 20


def feed_urls() -> tuple[str, ...]:
    env = os.environ.get("IOTCOP_VULNDB_FEEDS", "").split()
    return tuple(env) or DEFAULT_FEEDS


def download(url: str, dest: Path, timeout: float = 60.0) -> None:
    if urlsplit(url).scheme not in ("http", "https"):
        raise UsageError(f"{url}: only http and https feed URLs are fetched")
    request = urllib.request.Request(url, headers={"User-Agent": "iotcop-vulndb"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp, dest.open("wb") as fh:
            copied = 0
            while chunk := resp.read(1 << 20):
                copied += len(chunk)
                if copied > MAX_DOWNLOAD_BYTES:
                    raise InputError(f"{url}: larger than {MAX_DOWNLOAD_BYTES} bytes, refused")
                fh.write(chunk)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise InputError(f"cannot download {url}: {getattr(exc, 'reason', exc)}") from exc


def update(db: VulnDB, urls: Sequence[str] | None = None, timeout: float = 60.0) -> ImportReport:
    """Download every feed, then import them all in one transaction (nothing is written if one fails)."""
    tmp = Path(tempfile.mkdtemp(prefix="iotcop-vulndb-"))
    try:
        paths = []
        for index, url in enumerate(urls or feed_urls()):
            name = Path(urlsplit(url).path).name or f"feed-{index}.json"
            dest = tmp / f"{index:03d}-{name}"
            download(url, dest, timeout)
            paths.append(dest)
        return db.import_files(paths)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
