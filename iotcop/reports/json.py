"""The assessment as JSON (the public interface) and its JSON Schema (``iotcop schema``)."""

from __future__ import annotations

import json
from typing import Any

from iotcop.model import ASSESSMENT_SCHEMA_VERSION, Assessment


def render_json(assessment: Assessment) -> bytes:
    """Deterministic bytes: keys in model order, lists as sorted by the producer, UTF-8, final newline."""
    data = assessment.model_dump(mode="json")
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()


def assessment_schema() -> dict[str, Any]:
    schema = Assessment.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://iotcop.invalid/schema/assessment-{ASSESSMENT_SCHEMA_VERSION}.json"
    schema["title"] = f"iotcop assessment (schema version {ASSESSMENT_SCHEMA_VERSION})"
    return schema


def load_assessment(data: bytes) -> Assessment:
    return Assessment.model_validate_json(data)
