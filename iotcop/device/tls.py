"""TLS quality of the device's TLS services, measured by sslyze run as a program (AGPL-3.0: never imported).

One sslyze run covers every TLS service (``--json_out FILE --mozilla_config=intermediate``): the JSON gives
protocol versions, accepted cipher suites and the certificate; the compliance section sslyze prints against
Mozilla's intermediate profile is read from its console output (sslyze skips that check when the JSON goes
to stdout, hence the file). Each target is recorded with ``Network.tool_run``; the scope is checked first.
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iotcop.device.net import Network
from iotcop.device.options import DeviceOptions, Discovered
from iotcop.model import NetworkService

PROTOCOLS = (("ssl_2_0", "SSL 2.0"), ("ssl_3_0", "SSL 3.0"), ("tls_1_0", "TLS 1.0"), ("tls_1_1", "TLS 1.1"),
             ("tls_1_2", "TLS 1.2"), ("tls_1_3", "TLS 1.3"))
OBSOLETE = ("SSL 2.0", "SSL 3.0", "TLS 1.0", "TLS 1.1")
WEAK_CIPHER = re.compile(r"NULL|EXPORT|anon|RC4|RC2|_DES_|DES40|3DES|IDEA|MD5", re.I)
TIMEOUT = 120.0


@dataclass(frozen=True)
class Certificate:
    subject: str
    issuer: str
    not_before: str  # ISO 8601, UTC
    not_after: str
    key_algorithm: str  # 'RSA', 'EC', ...
    key_size: int
    signature_hash: str  # 'sha256', 'sha1', 'md5', ...
    fingerprint_sha256: str  # base64, as sslyze prints it
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    trusted: bool = False  # validated against one of sslyze's public trust stores

    @property
    def self_signed(self) -> bool:
        return self.subject == self.issuer

    def names(self) -> tuple[str, ...]:
        cn = re.findall(r"CN=([^,]+)", self.subject)
        return self.dns_names + self.ip_addresses + tuple(cn)


@dataclass(frozen=True)
class TlsService:
    service: NetworkService
    reason: str = ""  # why it could not be judged ('' when sslyze scanned it)
    protocols: tuple[str, ...] = ()  # supported: 'TLS 1.2', ...
    ciphers: tuple[tuple[str, str, int], ...] = ()  # accepted (protocol, cipher suite, key bits)
    certificate: Certificate | None = None
    compliant: bool | None = None  # against Mozilla's intermediate profile, as sslyze judged (None: not judged)
    compliance: tuple[tuple[str, str], ...] = ()  # (criterion, sslyze's description) of each failure

    @property
    def where(self) -> str:
        return f"{self.service.host}:{self.service.port}"

    def weak_ciphers(self) -> list[tuple[str, str, int]]:
        return [c for c in self.ciphers if WEAK_CIPHER.search(c[1]) or 0 < c[2] < 128]


@dataclass(frozen=True)
class TlsFacts:
    services: tuple[TlsService, ...] = ()
    tool: str = ""  # 'sslyze 6.3.1'
    notes: tuple[str, ...] = field(default=())


def server_string(service: NetworkService) -> str:
    """``host:port`` as sslyze's command line takes it (an IPv6 address in brackets)."""
    return f"[{service.host}]:{service.port}" if ":" in service.host else f"{service.host}:{service.port}"


def tls_services(found: Discovered) -> list[NetworkService]:
    return [s for s in found.services if s.transport == "tcp" and (s.tls or s.name == "https")]


def _text(node: Any, *keys: str) -> str:
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return str(node) if node is not None else ""


def parse_certificate(info: Any) -> Certificate | None:
    """The leaf of the first certificate deployment in sslyze's ``certificate_info`` result."""
    try:
        deployment = info["certificate_deployments"][0]
        leaf = deployment["received_certificate_chain"][0]
    except (KeyError, IndexError, TypeError):
        return None
    if not isinstance(leaf, dict) or not isinstance(deployment, dict):
        return None
    key = leaf.get("public_key") or {}
    san = leaf.get("subject_alternative_name") or {}
    algorithm = str(key.get("algorithm", "")).replace("PublicKey", "") if isinstance(key, dict) else ""
    size = key.get("key_size") if isinstance(key, dict) else None
    validations = deployment.get("path_validation_results") or []
    return Certificate(
        subject=_text(leaf, "subject", "rfc4514_string"), issuer=_text(leaf, "issuer", "rfc4514_string"),
        not_before=str(leaf.get("not_valid_before", "")), not_after=str(leaf.get("not_valid_after", "")),
        key_algorithm=algorithm, key_size=size if isinstance(size, int) else 0,
        signature_hash=_text(leaf, "signature_hash_algorithm", "name"),
        fingerprint_sha256=str(leaf.get("fingerprint_sha256", "")),
        dns_names=tuple(str(n) for n in (san.get("dns_names") or []) if isinstance(san, dict)),
        ip_addresses=tuple(str(n) for n in (san.get("ip_addresses") or []) if isinstance(san, dict)),
        trusted=any(isinstance(v, dict) and v.get("was_validation_successful") for v in validations))


def parse_compliance(console: str) -> dict[str, tuple[bool, tuple[tuple[str, str], ...]]]:
    """``host:port`` → (compliant, failures) from sslyze's 'COMPLIANCE AGAINST TLS CONFIGURATION' section."""
    out: dict[str, tuple[bool, tuple[tuple[str, str], ...]]] = {}
    section = console.split("COMPLIANCE AGAINST TLS CONFIGURATION", 1)
    current: str | None = None
    issues: list[tuple[str, str]] = []
    for line in (section[1] if len(section) == 2 else "").splitlines():
        head = re.match(r"\s*(\S+:\d+): (OK - Compliant|FAILED - Not compliant|ERROR)", line)
        if head:
            if current is not None:
                out[current] = (False, tuple(issues))
            current, issues = None, []
            if head.group(2).startswith("OK"):
                out[head.group(1)] = (True, ())
            elif head.group(2).startswith("FAILED"):
                current = head.group(1)
            continue
        item = re.match(r"\s+\* (\w+): (.*)", line)
        if item and current is not None:
            issues.append((item.group(1), item.group(2)[:500]))
    if current is not None:
        out[current] = (False, tuple(issues))
    return out


def parse_result(service: NetworkService, result: Any,
                 compliance: dict[str, tuple[bool, tuple[tuple[str, str], ...]]]) -> TlsService:
    """One server's entry of sslyze's ``server_scan_results``."""
    if not isinstance(result, dict) or result.get("connectivity_status") != "COMPLETED":
        trace = _text(result, "connectivity_error_trace") if isinstance(result, dict) else ""
        return TlsService(service, reason=f"sslyze could not connect: {trace[:200] or 'no result'}")
    scans = result.get("scan_result") or {}
    failed = _failed_commands(scans)
    protocols: list[str] = []
    ciphers: list[tuple[str, str, int]] = []
    for key, label in PROTOCOLS:
        entry = scans.get(f"{key}_cipher_suites") if isinstance(scans, dict) else None
        res = entry.get("result") if isinstance(entry, dict) else None
        if not isinstance(res, dict) or not res.get("is_tls_version_supported"):
            continue
        protocols.append(label)
        for accepted in res.get("accepted_cipher_suites") or []:
            suite = accepted.get("cipher_suite", {}) if isinstance(accepted, dict) else {}
            bits = suite.get("key_size", 0)
            ciphers.append((label, str(suite.get("name", "")), bits if isinstance(bits, int) else 0))
    info = scans.get("certificate_info") if isinstance(scans, dict) else None
    certificate = parse_certificate(info.get("result")) if isinstance(info, dict) else None
    judged = compliance.get(f"{service.host}:{service.port}") or compliance.get(server_string(service))
    return TlsService(service, reason="; ".join(failed)[:500], protocols=tuple(protocols), ciphers=tuple(ciphers),
                      certificate=certificate, compliant=judged[0] if judged else None,
                      compliance=judged[1] if judged else ())


def _failed_commands(scans: Any) -> list[str]:
    """The scan commands read here whose status is not COMPLETED (an ERROR is not 'protocol not supported')."""
    failed = []
    for key in [f"{k}_cipher_suites" for k, _ in PROTOCOLS] + ["certificate_info"]:
        entry = scans.get(key) if isinstance(scans, dict) else None
        status = entry.get("status") if isinstance(entry, dict) else None
        if status != "COMPLETED":
            why = _text(entry, "error_reason") if isinstance(entry, dict) else ""
            failed.append(f"sslyze {key}: {str(status or 'no result')[:40]}" + (f" ({why[:80]})" if why else ""))
    return failed


def parse_sslyze(services: list[NetworkService], document: str, console: str) -> list[TlsService]:
    """Every service's facts from sslyze's JSON document and console output (malformed input: reasons)."""
    try:
        data = json.loads(document)
        results = data.get("server_scan_results") or [] if isinstance(data, dict) else []
    except (ValueError, RecursionError):
        return [TlsService(s, reason="sslyze wrote no readable JSON") for s in services]
    compliance = parse_compliance(console)
    by_place: dict[tuple[str, int], Any] = {}
    for res in results if isinstance(results, list) else []:
        loc = res.get("server_location") if isinstance(res, dict) else None
        if isinstance(loc, dict):
            by_place[(str(loc.get("ip_address") or loc.get("hostname")), int(loc.get("port") or 0))] = res
    return [parse_result(s, by_place.get((s.host, s.port)), compliance) for s in services]


async def probe_tls(net: Network, found: Discovered, options: DeviceOptions,
                    sslyze: str | None = None) -> TlsFacts:
    """sslyze against every TLS service ``found`` lists; never raises (failures are each service's reason)."""
    services = tls_services(found)
    if not services:
        return TlsFacts()
    program = sslyze or _find_sslyze()
    if program is None:
        return TlsFacts(tuple(TlsService(s, reason="sslyze is not installed (scripts/setup.sh)") for s in services))
    for s in services:
        net.check(s.host)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="iotcop-sslyze-") as tmp:
        out = Path(tmp) / "sslyze.json"
        args = [program, f"--json_out={out}", "--mozilla_config=intermediate",
                *(server_string(s) for s in services)]
        console, failure = await _run(args)
        document = out.read_text(encoding="utf-8", errors="replace") if out.is_file() else ""
    seconds = time.monotonic() - started
    facts = parse_sslyze(services, document, console) if document else [
        TlsService(s, reason=f"sslyze failed: {failure or 'no output'}") for s in services]
    for fact in facts:
        net.tool_run(fact.service.host, fact.service.port, "tls (sslyze)", seconds, fact.reason or "ok")
    return TlsFacts(tuple(facts), tool=_version(document))


def _find_sslyze() -> str | None:
    from iotcop.doctor import tools_bin

    candidate = tools_bin() / "sslyze"
    return str(candidate) if candidate.is_file() else None


async def _run(args: list[str]) -> tuple[str, str]:
    try:
        proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
    except OSError as exc:
        return "", str(exc)
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return "", f"sslyze took longer than {TIMEOUT:.0f} s"
    return stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace")[-300:]


def _version(document: str) -> str:
    match = re.search(r'"sslyze_version"\s*:\s*"([^"]{1,40})"', document)
    return f"sslyze {match.group(1)}" if match else "sslyze"
