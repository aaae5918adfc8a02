"""Document tests share a vendor site on loopback (HTTPS with a trustme CA, and plain HTTP)."""

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))

from vendorsite import VendorSite


@pytest.fixture(scope="session")
def vendor_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VendorSite]:
    site = VendorSite(tmp_path_factory.mktemp("vendorsite"))
    yield site
    site.close()
