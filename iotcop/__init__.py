"""iotcop: a repeatable, evidence-based security baseline for consumer IoT products.

The public API (``__all__`` is exact and tested): assess an input, get an ``Assessment``, render it.
Names load on first use (PEP 562), so that ``import iotcop`` and the command line start fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from iotcop._version import __version__

if TYPE_CHECKING:
    from iotcop.api import assess_firmware
    from iotcop.catalogue import Catalogue, load_catalogue
    from iotcop.declaration import Declaration, load_declaration
    from iotcop.errors import (
        CannotAssess,
        CatalogueError,
        DeclarationError,
        ImageError,
        InputError,
        IotcopError,
        NotApplicable,
        UsageError,
    )
    from iotcop.model import Assessment, CheckRun, EvidenceKind, Finding, Outcome, Severity, Verdict
    from iotcop.reports.json import assessment_schema, render_json

_WHERE = {
    "assess_firmware": "iotcop.api",
    "Catalogue": "iotcop.catalogue", "load_catalogue": "iotcop.catalogue",
    "Declaration": "iotcop.declaration", "load_declaration": "iotcop.declaration",
    **dict.fromkeys(("CannotAssess", "CatalogueError", "DeclarationError", "ImageError", "InputError",
                     "IotcopError", "NotApplicable", "UsageError"), "iotcop.errors"),
    **dict.fromkeys(("Assessment", "CheckRun", "EvidenceKind", "Finding", "Outcome", "Severity", "Verdict"),
                    "iotcop.model"),
    "assessment_schema": "iotcop.reports.json", "render_json": "iotcop.reports.json",
}

__all__ = [
    "Assessment",
    "CannotAssess",
    "Catalogue",
    "CatalogueError",
    "CheckRun",
    "Declaration",
    "DeclarationError",
    "EvidenceKind",
    "Finding",
    "ImageError",
    "InputError",
    "IotcopError",
    "NotApplicable",
    "Outcome",
    "Severity",
    "UsageError",
    "Verdict",
    "__version__",
    "assess_firmware",
    "assessment_schema",
    "load_catalogue",
    "load_declaration",
    "render_json",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'iotcop' has no attribute {name!r}")
