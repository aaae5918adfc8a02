"""Shared set-up: the artefact builders of tests/fixtures/fwimages.py, importable as ``fwimages``."""

from __future__ import annotations

import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
if str(FIXTURES) not in sys.path:
    sys.path.insert(0, str(FIXTURES))
