"""The device test bed: the service starters of tests/devices/svc_*.py and tests/fixtures/ are importable."""

from __future__ import annotations

import sys
from pathlib import Path

for _path in (Path(__file__).resolve().parent, Path(__file__).resolve().parents[1] / "fixtures"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
