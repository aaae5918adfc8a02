"""The public operations: assess an input (an image, the vendor's documents, the live device, or all of them
as one product) and get one ``Assessment`` back.

Each kind of evidence is gathered into an ``Evidence`` bag (facts by type, plus what the assessment reports
about the input: extraction log, components, services, audit log); the bags of one product are merged and
judged once, so a product assessment is one set of check runs and one verdict per requirement.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iotcop._version import __version__
from iotcop.catalogue import Catalogue, load_catalogue
from iotcop.checks.registry import REGISTRY
from iotcop.declaration import Declaration
from iotcop.device.assess import DeviceFacts, gather_device, services_of
from iotcop.device.options import DeviceOptions, load_credentials, with_ports
from iotcop.device.scope import make_scope
from iotcop.documents.facts import DocumentSources, VendorDocuments, collect_documents
from iotcop.documents.privacy import GuidanceFacts, PrivacyFacts, collect_guidance, collect_privacy
from iotcop.documents.statement import StatementFacts, collect_statement
from iotcop.documents.support import SupportPeriodFacts, collect_support_period
from iotcop.evaluation import evaluate, summarise
from iotcop.firmware.extract import Limits
from iotcop.firmware.facts import FirmwareFacts, collect_firmware
from iotcop.knowledge.credentials import DefaultCredentials, default_credentials
from iotcop.knowledge.eol import EndOfLife, end_of_life
from iotcop.knowledge.tokens import TokenFormats, token_formats
from iotcop.model import NEEDS, Assessment, AssessmentTime, CheckRun, EvidenceKind, RunStatus, Target, ToolInfo
from iotcop.product import Product
from iotcop.runner import RunResult, Unavailable, run_checks
from iotcop.vulndb.context import Context
from iotcop.vulndb.facts import Vulnerabilities, collect_vulnerabilities

Clock = Callable[[], dt.datetime]
Adjust = Callable[[RunResult], RunResult]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Evidence:
    """What one kind of input contributed: facts for the checks, fields for the assessment, notes."""

    kind: EvidenceKind
    facts: dict[type, object] = field(default_factory=dict)
    unusable: str = ""  # why this input gave no usable facts (its checks become INCONCLUSIVE with it)
    fields: dict[str, Any] = field(default_factory=dict)  # Assessment fields: extraction, components, services...
    notes: list[str] = field(default_factory=list)
    adjust: list[Adjust] = field(default_factory=list)  # run-result corrections (partial extraction)


def assess_firmware(
    image: Path,
    declaration: Declaration | None = None,
    *,
    limits: Limits | None = None,
    use_cache: bool = True,
    catalogue: Catalogue | None = None,
    clock: Clock = _now,
) -> Assessment:
    """Assess a firmware image (file or unpacked directory), optionally with the manufacturer's declaration.

    Raises ``ImageError`` only when the image cannot be opened at all; content that cannot be analysed
    gives INCONCLUSIVE verdicts with the reason.
    """
    catalogue = catalogue or load_catalogue()
    now = clock()
    facts = collect_firmware(image, limits, use_cache=use_cache)
    try:
        evidence = firmware_evidence(facts, now)
        target = Target(kind="firmware", name=facts.identity.name, sha256=facts.identity.sha256,
                        size=facts.identity.size)
        return judge([evidence], declaration, catalogue, now, target)
    finally:
        facts.close()


def firmware_evidence(facts: FirmwareFacts, now: dt.datetime) -> Evidence:
    evidence = Evidence(EvidenceKind.FIRMWARE, facts.facts())
    if facts.root is None:
        evidence.unusable = facts.no_root_reason
    else:  # the one lookup in the local vulnerability database
        context = Context(busybox=facts.busybox, kernel=facts.kernel)  # what rules a version match out
        evidence.facts[Vulnerabilities] = collect_vulnerabilities(facts.components.components, now, context=context)
    evidence.fields = {"extraction": tuple(facts.extraction.steps), "filesystems": facts.filesystem_info(),
                       "hardening": facts.hardening_summary(), "components": facts.components.components}
    evidence.notes = ([facts.no_root_reason] if facts.root is None else []) + [
        *facts.extraction.notes, *facts.accounts.problems, *facts.notes]
    evidence.adjust.append(lambda result: _partial_extraction(result, facts))
    return evidence


def _partial_extraction(result: RunResult, facts: FirmwareFacts) -> RunResult:
    """A limit that stopped extraction leaves the file system incomplete: what the checks found there is
    true, but 'found nothing' is no evidence, so a clean firmware run becomes INCONCLUSIVE."""
    limits = [f"{s.format} at 0x{s.offset:x}: {s.message}" for s in facts.extraction.steps if s.outcome == "limit"]
    if not limits or facts.root is None:
        return result
    reason = "extraction stopped at a limit, so the file system may be incomplete (" + "; ".join(limits) + ")"
    runs = tuple(
        CheckRun(check_id=r.check_id, status=RunStatus.INCONCLUSIVE, reason=reason)
        if r.check_id.startswith("fw.") and r.status is RunStatus.COMPLETED and r.finding_count == 0 else r
        for r in result.runs)
    return RunResult(runs, result.findings)


def assess_documents(
    sources: DocumentSources,
    declaration: Declaration | None = None,
    *,
    catalogue: Catalogue | None = None,
    clock: Clock = _now,
) -> Assessment:
    """Assess the vendor's published documents (security.txt, disclosure policy, documents by role),
    optionally with the declaration. Contacts only the sites and URLs in ``sources``; a fetch that fails is a
    reason, not an error."""
    catalogue = catalogue or load_catalogue()
    now = clock()
    name = (sources.sites or sources.policies or tuple(s for _, s in sources.documents)
            or (str(sources.security_txt),))[0]
    return judge([document_evidence(sources)], declaration, catalogue, now, Target(kind="product", name=name))


def document_evidence(sources: DocumentSources) -> Evidence:
    docs = collect_documents(sources)
    notes = [*docs.not_fetched, *(f"{r.url}: {r.error}" for r in docs.requests if r.error)]
    notes += [f"{d.role} document {d.source}: {d.error}" for d in docs.documents if d.error]
    return Evidence(EvidenceKind.DOCUMENT, {VendorDocuments: docs, **_document_facts(docs)}, notes=notes)


def _document_facts(docs: VendorDocuments) -> dict[type, object]:
    """Facts read from the documents by role: support period, PSTI statement, privacy information, guidance."""
    return {SupportPeriodFacts: collect_support_period(docs), StatementFacts: collect_statement(docs),
            PrivacyFacts: collect_privacy(docs), GuidanceFacts: collect_guidance(docs)}


def judge(gathered: list[Evidence], declaration: Declaration | None, catalogue: Catalogue, now: dt.datetime,
          target: Target) -> Assessment:
    """Run every check on the merged evidence and evaluate the catalogue: one assessment."""
    bag: dict[type, object] = {Catalogue: catalogue, DefaultCredentials: default_credentials(),
                               AssessmentTime: AssessmentTime(at=now), TokenFormats: token_formats(),
                               EndOfLife: end_of_life()}
    unavailable = {kind: Unavailable(RunStatus.NOT_RUN, NEEDS[kind]) for kind in EvidenceKind}
    inputs: list[EvidenceKind] = []
    fields: dict[str, Any] = {}
    notes: list[str] = []
    for evidence in gathered:
        bag.update(evidence.facts)
        unavailable.pop(evidence.kind, None)
        if evidence.unusable:
            unavailable[evidence.kind] = Unavailable(RunStatus.INCONCLUSIVE, evidence.unusable)
        inputs.append(evidence.kind)
        fields.update(evidence.fields)
        notes.extend(evidence.notes)
    if declaration is not None:
        bag[Declaration] = declaration
        unavailable.pop(EvidenceKind.DECLARATION, None)
        inputs.append(EvidenceKind.DECLARATION)
    result = run_checks(REGISTRY, bag, unavailable)
    for evidence in gathered:
        for adjust in evidence.adjust:
            result = adjust(result)
    verdicts = evaluate(catalogue, result.runs, result.findings, declaration)
    product = declaration.product if declaration else None
    if product is not None:
        target = target.model_copy(update={"product": product.name, "version": product.firmware_version})
    return Assessment(
        tool=ToolInfo(version=__version__), target=target,
        generated_at=now.astimezone(dt.UTC).isoformat(timespec="seconds"),
        inputs=tuple(dict.fromkeys(inputs)), catalogues=catalogue.refs(), notes=tuple(notes),
        check_runs=result.runs, findings=result.findings, verdicts=verdicts,
        summary=summarise(catalogue, verdicts), **fields)


def assess_device(
    targets: list[str],
    declaration: Declaration | None = None,
    *,
    scope_file: Path | None = None,
    options: DeviceOptions | None = None,
    firmware: FirmwareFacts | None = None,
    catalogue: Catalogue | None = None,
    clock: Clock = _now,
    on_phase: Callable[[str], None] | None = None,
) -> Assessment:
    """Assess the live device at ``targets`` (hosts, addresses, CIDR ranges; ``scope_file`` adds lines).
    Nothing outside the scope is contacted; the assessment carries the audit log of every connection. With
    ``firmware`` (facts of the same product's image) the two are judged together, as one assessment."""
    catalogue = catalogue or load_catalogue()
    scope = make_scope(targets, scope_file)
    now = clock()
    gathered = [device_evidence(asyncio.run(gather_device(scope, options or DeviceOptions(), on_phase)))]
    target = Target(kind="device", name=", ".join(targets) or scope.describe())
    if firmware is not None:
        gathered.insert(0, firmware_evidence(firmware, now))
        target = Target(kind="product", name=f"{firmware.identity.name} + {target.name}",
                        sha256=firmware.identity.sha256, size=firmware.identity.size)
    return judge(gathered, declaration, catalogue, now, target)


def device_evidence(device: DeviceFacts) -> Evidence:
    return Evidence(EvidenceKind.NETWORK, dict(device.facts), notes=list(device.notes),
                    fields={"services": services_of(device.found), "connections": device.connections})


def assess_product(
    product: Product,
    *,
    catalogue: Catalogue | None = None,
    clock: Clock = _now,
    use_cache: bool = True,
    limits: Limits | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> Assessment:
    """Everything a product file names, judged as one assessment: the firmware image, the live device (only
    its targets are contacted), the vendor's documents and the manufacturer's declaration."""
    from iotcop.declaration import load_declaration

    catalogue = catalogue or load_catalogue()
    spec = product.spec
    declaration = load_declaration(product.path(spec.declaration), catalogue) if spec.declaration else None
    now = clock()
    gathered: list[Evidence] = []
    facts = collect_firmware(product.path(spec.firmware), limits, use_cache=use_cache) if spec.firmware else None
    try:
        if facts is not None:
            gathered.append(firmware_evidence(facts, now))
        if spec.documents is not None:
            docs = spec.documents
            sites = (docs.site,) if isinstance(docs.site, str) else tuple(docs.site)
            roles = tuple((role, value if value.lower().startswith(("http://", "https://"))
                           else str(product.path(value)))
                          for role in ("support", "statement", "privacy", "guidance") for value in getattr(docs, role))
            gathered.append(document_evidence(DocumentSources(
                sites, tuple(p if p.lower().startswith(("http://", "https://")) else str(product.path(p))
                             for p in docs.policy),
                product.path(docs.security_txt) if docs.security_txt else None,
                product.path(docs.ca_bundle) if docs.ca_bundle else None, roles)))
        if spec.device is not None:
            dev = spec.device
            options = with_ports(DeviceOptions(
                bruteforce_attempts=dev.bruteforce_attempts, destructive=dev.destructive, input_probes=dev.input_probes,
                credentials=load_credentials(product.path(dev.credentials)) if dev.credentials else ()),
                dev.ports, dev.all_ports)
            scope = make_scope(dev.targets, product.path(dev.scope) if dev.scope else None)
            gathered.append(device_evidence(asyncio.run(gather_device(scope, options, on_phase))))
        target = Target(kind="product", name=product.name,
                        version=spec.product.version if spec.product else None,
                        sha256=facts.identity.sha256 if facts else None, size=facts.identity.size if facts else None)
        assessment = judge(gathered, declaration, catalogue, now, target)
    finally:
        if facts is not None:
            facts.close()
    if spec.product and spec.product.version and assessment.target.version != spec.product.version:
        assessment = assessment.model_copy(update={"target": assessment.target.model_copy(
            update={"version": spec.product.version})})
    return assessment
