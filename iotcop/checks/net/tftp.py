"""Live checks on TFTP services (EN 303 645 5.5-4, 5.6-2)."""

from __future__ import annotations

from collections.abc import Iterator

from iotcop.checks.registry import check, spec_of
from iotcop.device.tftp import TftpFacts
from iotcop.errors import CannotAssess, NotApplicable
from iotcop.model import Evidence, EvidenceKind, Finding, Location, Severity

TECHNIQUE = "TFTP read request (RRQ, octet) per well-known file name; first block only, then aborted"


@check(id="net.tftp.readable", title="Files readable over TFTP without authentication", kind=EvidenceKind.NETWORK,
       severity=Severity.HIGH,
       remediation="Disable the TFTP server in the shipped configuration (TFTP has no authentication); if it is "
                   "needed for provisioning, enable it only for that step and serve no configuration files.")
def readable(tftp: TftpFacts) -> Iterator[Finding]:
    """TFTP has no authentication at all: a file it serves is readable by anyone on the network. Configuration
    files read this way disclose passwords, keys and the network layout."""
    spec = spec_of(readable)
    if not tftp.services:
        raise NotApplicable("; ".join(tftp.reasons) or "no TFTP service was found")
    for s in tftp.services:
        files = [r for r in s.reads if r.readable]
        if not files:
            continue
        shown = ", ".join(f"{r.name} ({r.size} bytes in the first block)" for r in files)
        anything = (" It also served a random name that cannot exist, so it hands out data for any name."
                    if s.serves_anything else "")
        yield spec.finding(message=f"The TFTP service at {s.where}/udp sent data for {len(files)} well-known file "
                                   f"name(s) without any authentication: {shown}.{anything}",
                           location=Location(kind="network", path=s.where),
                           evidence=Evidence.of(f"RRQ {shown}", TECHNIQUE))
    silent = [s for s in tftp.services if not s.answered]
    if len(silent) == len(tftp.services):
        raise CannotAssess("; ".join(f"{s.where}: {s.error or 'no answer to any read request'}" for s in silent))
