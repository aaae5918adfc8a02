"""Suite-wide: extractions are cached in a directory of this test session, never in the user's cache, and
the vulnerability database is this session's (absent unless a test builds one), never the user's."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def _private_extraction_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    cache = tmp_path_factory.mktemp("iotcop-cache")
    old = os.environ.get("IOTCOP_CACHE_DIR")
    os.environ["IOTCOP_CACHE_DIR"] = str(cache)  # also inherited by the CLI subprocesses tests start
    yield cache
    if old is None:
        os.environ.pop("IOTCOP_CACHE_DIR", None)
    else:
        os.environ["IOTCOP_CACHE_DIR"] = old


@pytest.fixture(scope="session", autouse=True)
def _private_vulnerability_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("iotcop-vulndb") / "vulndb.sqlite"
    old = os.environ.get("IOTCOP_VULNDB")
    os.environ["IOTCOP_VULNDB"] = str(path)
    yield path
    if old is None:
        os.environ.pop("IOTCOP_VULNDB", None)
    else:
        os.environ["IOTCOP_VULNDB"] = old
