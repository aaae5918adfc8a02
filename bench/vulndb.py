"""Benchmark: matching 500 components against a vulnerability database of 250,000 CPE match rows (issue 6's
target: under 2 s).

Usage: ``.venv/bin/python bench/vulndb.py [--rows 250000] [--components 500] [--repeat 3]``

The database is generated in a temporary directory: 5,000 products (vendor{i}:product{i}) with 50 criteria each
(a mix of exact versions and start/end ranges, like NVD's), plus the fixture feed. The components: 500 products
drawn from those, each with a version and a CPE, and a tenth without a CPE (name lookup through the product
index). Each round opens the database afresh (``VulnDB.match`` opens, reads, closes) so no row cache carries
over; the median wall time counts. It exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from iotcop.model import Component
from iotcop.vulndb import VulnDB
from iotcop.vulndb.match import _generic_key, _parse
from iotcop.vulndb.nvd import split_cpe

FEED = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "feeds" / "nvd-iot-sample.json"
NOW = datetime(2025, 5, 1, tzinfo=UTC)


def generate(path: Path, rows: int, per_product: int) -> int:
    VulnDB.open(path).import_files([FEED], now=NOW)
    rng = random.Random(6)
    products = rows // per_product
    with sqlite3.connect(path) as conn:
        cves, matches = [], []
        for i in range(rows):
            p = i // per_product
            cve = f"CVE-2024-{i:06d}"
            cves.append((cve, "2025-04-01T00:00:00", "2025-04-20T00:00:00", "generated", "3.1", 7.5,
                         "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", "HIGH", 0, None, "bench"))
            major, minor = rng.randint(0, 5), rng.randint(0, 40)
            if rng.random() < 0.4:
                row = (f"{major}.{minor}.{rng.randint(0, 9)}", None, None, None, None)
            else:
                row = (None, f"{major}.{minor}", None, None, f"{major}.{minor + rng.randint(1, 5)}")
            matches.append((cve, "a", f"vendor{p}", f"product{p}", *row, 1,
                            f"cpe:2.3:a:vendor{p}:product{p}:*:*:*:*:*:*:*:*"))
        conn.executemany("INSERT INTO cve VALUES (?,?,?,?,?,?,?,?,?,?,?)", cves)
        conn.executemany("INSERT INTO cpe_match (cve_id, part, vendor, product, version_exact, start_incl, start_excl, "
                         "end_incl, end_excl, vulnerable, criteria) VALUES (?,?,?,?,?,?,?,?,?,?,?)", matches)
    return products


def components(count: int, products: int) -> list[Component]:
    rng = random.Random(7)
    out = []
    for n, p in enumerate(rng.sample(range(products), count)):
        version = f"{rng.randint(0, 5)}.{rng.randint(0, 40)}.{rng.randint(0, 9)}"
        cpe = None if n % 10 == 0 else f"cpe:2.3:a:vendor{p}:product{p}:{version}:*:*:*:*:*:*:*"
        out.append(Component(name=f"product{p}", version=version, confidence="high", source="bench", cpe=cpe))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=250_000)
    parser.add_argument("--components", type=int, default=500)
    parser.add_argument("--per-product", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="iotcop-bench-vulndb-") as tmp:
        path = Path(tmp) / "v.sqlite"
        start = time.perf_counter()
        products = generate(path, args.rows, args.per_product)
        print(f"generated {args.rows:,} CPE match rows over {products:,} products in "
              f"{time.perf_counter() - start:.1f} s ({path.stat().st_size / 1e6:.0f} MB)")
        comps = components(args.components, products)
        db = VulnDB.open(path)
        times, found = [], 0
        for _ in range(args.repeat):
            for cache in (_parse, _generic_key, split_cpe):  # cold caches each round, as in a fresh process
                cache.cache_clear()
            start = time.perf_counter()
            found = len(db.match(comps, NOW))
            times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(f"matched {len(comps)} components: {found} matches; median {median:.3f} s over {args.repeat} rounds "
          f"({', '.join(f'{t:.3f}' for t in times)}); target < 2 s: {'met' if median < 2 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
