"""Formats of cloud and API credentials, as a typed table with the source of each format.

The table is data (``data/token-formats.yaml``), validated by pydantic on load. Why not Yelp's
detect-secrets: its ``RegexBasedDetector.analyze_string`` is a plain regex loop, but the plugins are meant
to be driven through ``analyze_line``, which reads the process-wide ``get_settings()`` singleton (and the
``aws`` plugin imports ``requests`` for online verification); its denylists carry no source per pattern,
have no boundaries (an ``AKIA...`` inside a base64 blob matches) and know none of the IoT platform formats
(Tuya, Alibaba IoT, Azure IoT Hub). A small sourced table with our own boundaries is simpler to trust.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

DATA = Path(__file__).parent / "data" / "token-formats.yaml"
# A token never touches a longer run of base64 or word characters: "AIza..." found by chance inside a
# base64 blob, a hash or an identifier is not a key.
_BEFORE = r"(?<![A-Za-z0-9+/_-])"
_AFTER = r"(?![A-Za-z0-9+/=_-])"


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9-]+$")
    name: str
    pattern: str
    source: str = Field(min_length=8)
    keywords: tuple[str, ...] = Field(min_length=1)
    bounded: bool = True
    min_entropy: float = 3.0
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class TokenFormat:
    """One credential format: a regex (group 1, if any, is the secret), its name and its source."""

    id: str
    name: str
    regex: re.Pattern[str]
    source: str
    keywords: tuple[str, ...]
    min_entropy: float
    examples: frozenset[str]

    def finditer(self, text: str, lowered: str | None = None) -> Iterator[TokenMatch]:
        """Matches in ``text`` (``lowered``: ``text.lower()``, if the caller already has it), documented
        examples and low-entropy look-alikes left out."""
        low = text.lower() if lowered is None else lowered
        if not any(k in low for k in self.keywords):
            return
        for m in self.regex.finditer(text):
            group = 1 if self.regex.groups else 0
            value = m.group(group)
            if self.is_example(value) or entropy(value) < self.min_entropy:
                continue
            yield TokenMatch(self, value, m.start(group), m.end(group))

    def is_example(self, value: str) -> bool:
        return value in self.examples or "EXAMPLE" in value


@dataclass(frozen=True)
class TokenMatch:
    format: TokenFormat
    value: str
    start: int
    end: int


@dataclass(frozen=True)
class TokenFormats:
    """The shipped table of token formats (a knowledge type checks can read)."""

    formats: tuple[TokenFormat, ...]

    def scan(self, text: str) -> list[TokenMatch]:
        """Every token of every format in ``text``, in order of position."""
        lowered = text.lower()
        found = [m for f in self.formats for m in f.finditer(text, lowered)]
        return sorted(found, key=lambda m: (m.start, m.format.id))

    def get(self, format_id: str) -> TokenFormat:
        return next(f for f in self.formats if f.id == format_id)


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    if not value:
        return 0.0
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def parse_formats(text: str) -> TokenFormats:
    """The table from its YAML text; raises ``ValueError`` on a malformed entry or regex."""
    raw = yaml.safe_load(text)
    if not isinstance(raw, list):
        raise ValueError("the token-format table must be a list")
    formats = []
    for item in raw:
        entry = _Entry.model_validate(item)
        pattern = f"{_BEFORE}(?:{entry.pattern}){_AFTER}" if entry.bounded else entry.pattern
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"token format {entry.id}: bad pattern: {exc}") from exc
        if regex.groups > 1:
            raise ValueError(f"token format {entry.id}: at most one group (the secret)")
        formats.append(TokenFormat(entry.id, entry.name, regex, entry.source,
                                   tuple(k.lower() for k in entry.keywords), entry.min_entropy,
                                   frozenset(entry.examples)))
    ids = [f.id for f in formats]
    if len(ids) != len(set(ids)):
        raise ValueError("token format ids must be unique")
    return TokenFormats(tuple(formats))


@cache
def token_formats() -> TokenFormats:
    return parse_formats(DATA.read_text())
