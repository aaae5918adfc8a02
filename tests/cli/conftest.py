"""CLI tests share tests/fixtures (clitools, fwimages)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
