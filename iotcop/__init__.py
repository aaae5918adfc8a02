"""iotcop: a repeatable, evidence-based security baseline for consumer IoT products.

The public API (``__all__`` is exact and tested): assess an input, get an ``Assessment``, render it.
"""

from iotcop._version import __version__
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
from iotcop.model import (
    Assessment,
    CheckRun,
    EvidenceKind,
    Finding,
    Outcome,
    Severity,
    Verdict,
)
from iotcop.reports.json import assessment_schema, render_json

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
