"""Context filter: does a version match apply to THIS build of the component?

A BusyBox CVE lives in one applet (``knowledge/data/vuln-context.yaml``): a BusyBox whose compiled-in applet
table lacks every applet the flaw needs is not affected. A Linux CVE lives in code a configuration option builds:
a kernel whose configuration (found in the image) enables none of the options is not affected. The verdict is

- ``affected``: the evidence shows the code is there (applet in the table, or linked; option set);
- ``not-affected``: the evidence shows it is not, with the reason ("applet udhcpc is not compiled into
  /bin/busybox ..."): the match is then reported as not affected, never silently dropped;
- ``unknown``: no rule for the CVE, or no evidence to judge (no applet table, no kernel config): the match stays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from iotcop.firmware.busybox import BusyBoxApplets
from iotcop.knowledge.vulncontext import AppletRule, KernelRule, VulnContext, vuln_context
from iotcop.model import Component
from iotcop.vulndb.match import VulnMatch

AFFECTED, NOT_AFFECTED, UNKNOWN = "affected", "not-affected", "unknown"
KERNEL_NAMES = frozenset({"linux", "linux-kernel", "kernel"})


class KernelConfigLike(Protocol):
    """``iotcop.firmware.kernel.KernelConfig``: options "CONFIG_X" -> "y" | "m" | value (unset: no key)."""

    @property
    def options(self) -> Mapping[str, str]: ...

    @property
    def source(self) -> str: ...


class KernelFactsLike(Protocol):
    """``iotcop.firmware.kernel.KernelFacts`` (only its ``config`` is read)."""

    @property
    def config(self) -> KernelConfigLike | None: ...


@dataclass(frozen=True)
class Context:
    """The facts a match is judged against; None: not collected (every verdict that needs it is unknown)."""

    busybox: BusyBoxApplets | None = None
    kernel: KernelFactsLike | None = None
    table: VulnContext = field(default_factory=vuln_context)


@dataclass(frozen=True)
class Verdict:
    state: str  # AFFECTED, NOT_AFFECTED or UNKNOWN
    reason: str  # "" when there is no rule for the vulnerability


def judge(match: VulnMatch, component: Component, context: Context) -> Verdict:
    ids = (match.vuln_id, *match.aliases)
    if component.name == "busybox":
        arule = next((a for i in ids if (a := context.table.applets(i)) is not None), None)
        if arule is not None:
            return _busybox(arule, component, context.busybox)
    if component.name in KERNEL_NAMES:
        krule = next((k for i in ids if (k := context.table.kernel(i)) is not None), None)
        if krule is not None:
            return _kernel(krule, context.kernel)
    return Verdict(UNKNOWN, "")


def _names(applets: tuple[str, ...]) -> str:
    return f"applet {applets[0]} is not" if len(applets) == 1 else f"none of the applets {', '.join(applets)} is"


def _busybox(rule: AppletRule, component: Component, facts: BusyBoxApplets | None) -> Verdict:
    binaries = facts.at(component.locations) if facts is not None else ()
    if not binaries:
        return Verdict(UNKNOWN, f"the flaw is in {'/'.join(rule.applets)}; no BusyBox binary was read to tell "
                                "whether it is compiled in")
    unknown = []
    for b in binaries:
        present = sorted(set(rule.applets) & b.applets)
        if present:
            return Verdict(AFFECTED, f"applet {present[0]} is compiled into {b.path} ({rule.why})")
        linked = [p for a in rule.applets for p in b.linked(a)]
        if linked and not b.table_found:
            return Verdict(AFFECTED, f"{linked[0]} links to {b.path}, whose applet table could not be read "
                                     f"({rule.why})")
        if not b.table_found:
            unknown.append(b.path)
    if unknown:
        return Verdict(UNKNOWN, f"no applet table found in {', '.join(unknown)} and no link named "
                                f"{'/'.join(rule.applets)}: cannot tell whether the flawed code is there")
    where = ", ".join(f"{b.path} ({len(b.applets)} applets in its table)" for b in binaries)
    return Verdict(NOT_AFFECTED, f"{_names(rule.applets)} compiled into {where}; the flaw is in "
                                 f"{'/'.join(rule.applets)}: {rule.why}")


def _kernel(rule: KernelRule, facts: KernelFactsLike | None) -> Verdict:
    config = facts.config if facts is not None else None
    if config is None:
        return Verdict(UNKNOWN, f"the flaw needs {' or '.join(rule.options)}; no kernel configuration was found "
                                "in the image to tell")
    enabled = [f"{o}={config.options[o]}" for o in rule.options if config.options.get(o, "n") != "n"]
    if enabled:
        return Verdict(AFFECTED, f"{enabled[0]} in the kernel configuration ({config.source}): {rule.why}")
    names = rule.options[0] if len(rule.options) == 1 else f"none of {', '.join(rule.options)}"
    return Verdict(NOT_AFFECTED, f"{names} is not set in the kernel configuration ({config.source}); the flaw "
                                 f"is in code it builds: {rule.why}")


def apply(matches: list[VulnMatch], components: tuple[Component, ...], context: Context) -> list[VulnMatch]:
    """The matches with each context verdict recorded: not affected in ``not_affected``, affected or unknown with
    its reason in ``notes``. A match already found not to apply is left as it is."""
    by_label = {f"{c.name} {c.version}": c for c in components if c.version}
    out = []
    for m in matches:
        component = by_label.get(m.component)
        if m.not_affected is not None or component is None:
            out.append(m)
            continue
        verdict = judge(m, component, context)
        if verdict.state == NOT_AFFECTED:
            out.append(replace(m, not_affected=verdict.reason))
        elif verdict.reason:
            out.append(replace(m, notes=(*m.notes, verdict.reason)))
        else:
            out.append(m)
    return out
