"""The public operations: assess an input and get one ``Assessment`` back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from iotcop._version import __version__
from iotcop.catalogue import Catalogue, load_catalogue
from iotcop.checks.registry import REGISTRY
from iotcop.declaration import Declaration
from iotcop.documents.facts import DocumentSources, VendorDocuments, collect_documents
from iotcop.evaluation import evaluate, summarise
from iotcop.firmware.extract import Limits
from iotcop.firmware.facts import FirmwareFacts, collect_firmware
from iotcop.knowledge.credentials import DefaultCredentials, default_credentials
from iotcop.knowledge.eol import EndOfLife, end_of_life
from iotcop.knowledge.tokens import TokenFormats, token_formats
from iotcop.model import NEEDS, Assessment, AssessmentTime, CheckRun, EvidenceKind, RunStatus, Target, ToolInfo
from iotcop.runner import RunResult, Unavailable, run_checks
from iotcop.vulndb.context import Context
from iotcop.vulndb.facts import Vulnerabilities, collect_vulnerabilities

Clock = Callable[[], dt.datetime]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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
    facts = collect_firmware(image, limits, use_cache=use_cache)
    try:
        return _assess(facts, declaration, catalogue, clock)
    finally:
        facts.close()


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


def _assess(facts: FirmwareFacts, declaration: Declaration | None, catalogue: Catalogue, clock: Clock) -> Assessment:
    now = clock()
    bag: dict[type, object] = {Catalogue: catalogue, DefaultCredentials: default_credentials(),
                               AssessmentTime: AssessmentTime(at=now), TokenFormats: token_formats(),
                               EndOfLife: end_of_life()}
    unavailable = {
        EvidenceKind.NETWORK: Unavailable(RunStatus.NOT_RUN, NEEDS[EvidenceKind.NETWORK]),
        EvidenceKind.DOCUMENT: Unavailable(RunStatus.NOT_RUN, NEEDS[EvidenceKind.DOCUMENT]),
    }
    inputs = [EvidenceKind.FIRMWARE]
    if facts.root is None:
        unavailable[EvidenceKind.FIRMWARE] = Unavailable(RunStatus.INCONCLUSIVE, facts.no_root_reason)
    bag.update(facts.facts())
    if facts.root is not None:  # the one lookup in the local vulnerability database
        context = Context(busybox=facts.busybox, kernel=facts.kernel)  # what rules a version match out
        bag[Vulnerabilities] = collect_vulnerabilities(facts.components.components, now, context=context)
    if declaration is None:
        unavailable[EvidenceKind.DECLARATION] = Unavailable(RunStatus.NOT_RUN, NEEDS[EvidenceKind.DECLARATION])
    else:
        bag[Declaration] = declaration
        inputs.append(EvidenceKind.DECLARATION)
    result = _partial_extraction(run_checks(REGISTRY, bag, unavailable), facts)
    verdicts = evaluate(catalogue, result.runs, result.findings, declaration)
    product = declaration.product if declaration else None
    notes = [*facts.extraction.notes, *facts.accounts.problems, *facts.notes]
    if facts.root is None:
        notes.insert(0, facts.no_root_reason)
    return Assessment(
        tool=ToolInfo(version=__version__),
        target=Target(kind="firmware", name=facts.identity.name, sha256=facts.identity.sha256,
                      size=facts.identity.size, product=product.name if product else None,
                      version=product.firmware_version if product else None),
        generated_at=now.astimezone(dt.UTC).isoformat(timespec="seconds"),
        inputs=tuple(inputs),
        catalogues=catalogue.refs(),
        extraction=tuple(facts.extraction.steps),
        filesystems=facts.filesystem_info(),
        hardening=facts.hardening_summary(),
        components=facts.components.components,
        notes=tuple(notes),
        check_runs=result.runs,
        findings=result.findings,
        verdicts=verdicts,
        summary=summarise(catalogue, verdicts),
    )


def assess_documents(
    sources: DocumentSources,
    declaration: Declaration | None = None,
    *,
    catalogue: Catalogue | None = None,
    clock: Clock = _now,
) -> Assessment:
    """Assess the vendor's published documents (security.txt, disclosure policy), optionally with the
    declaration. Contacts only the sites and URLs in ``sources``; a fetch that fails is a reason, not an error."""
    catalogue = catalogue or load_catalogue()
    now = clock()
    docs = collect_documents(sources)
    bag: dict[type, object] = {Catalogue: catalogue, AssessmentTime: AssessmentTime(at=now), VendorDocuments: docs}
    unavailable = {kind: Unavailable(RunStatus.NOT_RUN, NEEDS[kind])
                   for kind in (EvidenceKind.FIRMWARE, EvidenceKind.NETWORK)}
    inputs = [EvidenceKind.DOCUMENT]
    if declaration is None:
        unavailable[EvidenceKind.DECLARATION] = Unavailable(RunStatus.NOT_RUN, NEEDS[EvidenceKind.DECLARATION])
    else:
        bag[Declaration] = declaration
        inputs.append(EvidenceKind.DECLARATION)
    result = run_checks(REGISTRY, bag, unavailable)
    verdicts = evaluate(catalogue, result.runs, result.findings, declaration)
    product = declaration.product if declaration else None
    name = (sources.sites or sources.policies or (str(sources.security_txt),))[0]
    notes = [*docs.not_fetched, *(f"{r.url}: {r.error}" for r in docs.requests if r.error)]
    return Assessment(
        tool=ToolInfo(version=__version__),
        target=Target(kind="product", name=name, product=product.name if product else None,
                      version=product.firmware_version if product else None),
        generated_at=now.astimezone(dt.UTC).isoformat(timespec="seconds"),
        inputs=tuple(inputs),
        catalogues=catalogue.refs(),
        notes=tuple(notes),
        check_runs=result.runs,
        findings=result.findings,
        verdicts=verdicts,
        summary=summarise(catalogue, verdicts),
    )
