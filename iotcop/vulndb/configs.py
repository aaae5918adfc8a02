"""NVD AND configurations: a vulnerable node counts only together with the other nodes of its configuration.

NVD writes "firmware X is vulnerable when it runs on hardware Y" (and "application X running on/with
operating system Y") as one configuration with operator AND: a node of vulnerable criteria and a node of platform
criteria (``vulnerable: false``). A match on the vulnerable node is kept only when every other node is

- found: a component of the image satisfies one of its criteria (product and version range);
- unknowable: hardware (``cpe:2.3:h:``) cannot be seen in a firmware image, nor a negated node judged: assumed
  present, and the match says so;

and is reported as not affected, with the platform named, when a node is absent: no component of the image
satisfies any of its operating system or application criteria.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

FOUND, UNKNOWABLE, ABSENT = "found", "unknowable", "absent"

# (version, row) -> why the version satisfies the row, or None; the matcher's in_range with its scheme
RangeTest = Callable[[str, sqlite3.Row], str | None]


@dataclass(frozen=True)
class Platform:
    state: str  # FOUND, UNKNOWABLE or ABSENT
    text: str  # what the message says about it


class Platforms:
    """Judges the other nodes of a matched row's AND configuration against the image's inventory."""

    def __init__(self, conn: sqlite3.Connection, inventory: dict[tuple[str | None, str], list[str]],
                 satisfies: RangeTest) -> None:
        self.conn = conn
        self.inventory = inventory  # (vendor or None, product) -> versions the image has
        self.satisfies = satisfies
        self._cache: dict[tuple[str, int, int], Platform | None] = {}

    def judge(self, row: sqlite3.Row) -> Platform | None:
        """None when the row's configuration is not an AND configuration (or has no other node)."""
        if row["config_operator"] != "AND":
            return None
        key = (row["cve_id"], row["config"], row["node"])
        if key not in self._cache:
            self._cache[key] = self._judge(*key)
        return self._cache[key]

    def _judge(self, cve: str, config: int, node: int) -> Platform | None:
        nodes = self.conn.execute("SELECT node, operator, negate FROM cve_node WHERE cve_id = ? AND config = ? "
                                  "AND node != ? ORDER BY node", (cve, config, node)).fetchall()
        if not nodes:
            return None
        verdicts = [self._node(cve, config, n["node"], n["operator"], bool(n["negate"])) for n in nodes]
        for state in (ABSENT, UNKNOWABLE):
            if any(v.state == state for v in verdicts):
                return Platform(state, "; ".join(v.text for v in verdicts if v.state == state))
        return Platform(FOUND, "; ".join(v.text for v in verdicts))

    def _node(self, cve: str, config: int, node: int, operator: str, negate: bool) -> Platform:
        rows = self.conn.execute("SELECT * FROM cpe_match WHERE cve_id = ? AND config = ? AND node = ? "
                                 "ORDER BY criteria", (cve, config, node)).fetchall()
        criteria = ", ".join(r["criteria"] for r in rows[:3]) + (" ..." if len(rows) > 3 else "")
        if negate or not rows:
            return Platform(UNKNOWABLE, f"a negated or empty platform node ({criteria or 'no criteria'}) "
                                        "is not judged: assumed to apply")
        states = [self._row(r) for r in rows]
        found = [s for s in states if s.state == FOUND]
        if operator == "OR" and found:
            return found[0]
        if operator == "AND" and all(s.state == FOUND for s in states):
            return Platform(FOUND, "; ".join(s.text for s in states))
        if any(s.state == UNKNOWABLE for s in states):
            return Platform(UNKNOWABLE, f"together with {criteria}, which a firmware image cannot show "
                                        "(hardware): assumed present")
        return Platform(ABSENT, f"only together with {criteria}, which is not among the image's components")

    def _row(self, row: sqlite3.Row) -> Platform:
        if row["part"] == "h":
            return Platform(UNKNOWABLE, row["criteria"])
        versions = self.inventory.get((row["vendor"], row["product"]), []) + self.inventory.get(
            (None, row["product"]), [])
        for version in versions:
            if self.satisfies(version, row) is not None:
                return Platform(FOUND, f"together with {row['criteria']}, found in the image "
                                       f"({row['product']} {version})")
        return Platform(ABSENT, row["criteria"])


def inventory_of(keys: Sequence[tuple[set[tuple[str | None, str]], str | None]]
                 ) -> dict[tuple[str | None, str], list[str]]:
    """(vendor, product) -> versions, from each component's lookup keys and version."""
    out: dict[tuple[str | None, str], list[str]] = {}
    for component_keys, version in keys:
        if version is None:
            continue
        for key in component_keys:
            out.setdefault(key, []).append(version)
    return out
