"""Privacy notices and user guides as a vendor publishes them (HTML pages, PDFs made by WeasyPrint), in complete,
incomplete and look-alike variants, and a harness running the privacy/guidance checks through
``assess_documents`` whether or not the lead has wired them in yet."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

import iotcop.api
from iotcop.catalogue import load_catalogue
from iotcop.checks.doc import guidance, privacy
from iotcop.checks.registry import REGISTRY, CheckFunc, Registry
from iotcop.documents.facts import DocumentSources, VendorDocuments
from iotcop.documents.privacy import GuidanceFacts, PrivacyFacts, collect_guidance, collect_privacy
from iotcop.model import Assessment, Outcome
from iotcop.runner import RunResult, run_checks

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)

PRIVACY_CHECKS: tuple[CheckFunc, ...] = (privacy.missing, privacy.incomplete, privacy.consent_undocumented,
                                         privacy.no_consent_withdrawal, privacy.no_telemetry_information)
GUIDANCE_CHECKS: tuple[CheckFunc, ...] = (guidance.no_instructions, guidance.no_factory_reset,
                                          guidance.no_service_data_deletion, guidance.no_confirmation,
                                          guidance.no_secure_setup_guide, guidance.no_setup_check_guide,
                                          guidance.no_change_instructions)
#: requirement → (evidenced_by, refuted_by): the catalogue wiring proposed to the lead
WIRING: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "6-1": (("doc.privacy.missing", "doc.privacy.incomplete"), ()),
    "6-2": ((), ("doc.privacy.consent-undocumented",)),
    "6-3": ((), ("doc.privacy.no-consent-withdrawal",)),
    "6-5": (("doc.privacy.no-telemetry-information",), ()),
    "5.11-1": ((), ("doc.deletion.no-factory-reset",)),
    "5.11-2": ((), ("doc.deletion.no-service-data-deletion",)),
    "5.11-3": (("doc.deletion.no-instructions",), ()),
    "5.11-4": ((), ("doc.deletion.no-confirmation",)),
    "5.12-2": (("doc.setup.no-secure-setup-guide",), ()),
    "5.12-3": (("doc.setup.no-setup-check-guide",), ()),
    "5.1-4": ((), ("doc.credentials.no-change-instructions",)),
}


def html(title: str, *blocks: str) -> bytes:
    return (f"<!doctype html><html><head><title>{title}</title><style>body{{font:12px serif}}</style>"
            f"<script>var share='third parties sell data';</script></head><body>"
            + "".join(blocks) + "</body></html>").encode()


PRIVACY_COMPLETE = html(
    "Privacy notice",
    "<h1>Acme Home Camera privacy notice</h1>",
    "<h2>Who we are</h2><p>Acme Devices Ltd, registered office 1 High Street, Leeds LS1 1AA, is the controller "
    "responsible for your personal data.</p>",
    "<h2>What we collect</h2><ul><li>We collect your name, e-mail address and the Wi-Fi network name when you set "
    "up the camera.</li><li>We store video recordings you choose to save in the cloud.</li></ul>",
    "<h2>Why</h2><p>We use your personal data to provide the live view and cloud recording service, and to send "
    "you security notices.</p>",
    "<p>The legal basis for optional analytics is your consent, which the app asks for with an opt-in switch; "
    "you can withdraw your consent at any time in Settings &gt; Privacy.</p>",
    "<h2>Telemetry</h2><p>The camera sends diagnostic data (firmware version, uptime, error codes) to Acme to "
    "detect faults and improve reliability.</p>",
    "<h2>Sharing</h2><p>We do not sell your personal data. We share it only with our hosting provider, Example "
    "Cloud B.V., which processes it on our behalf.</p>",
    "<h2>Retention</h2><p>We keep recordings for 30 days and delete your account data within 90 days after you "
    "close your account.</p>",
    "<h2>Deleting your data</h2><p>Open the Acme app, go to Account &gt; Delete account to remove your account and "
    "all recordings from our servers. You will receive an e-mail confirming that your data has been deleted.</p>",
)

PRIVACY_INCOMPLETE = html(
    "Privacy",
    "<h1>Privacy</h1>",
    "<p>Your privacy matters to us. We collect your e-mail address when you register.</p>",
    "<p>By using the camera you consent to the processing of your data.</p>",
    "<p>We use analytics.</p>",
)

#: words of a privacy notice without its substance: a page footer and a product page
LOOKALIKE = html(
    "Acme Home Camera",
    "<h1>Acme Home Camera</h1><p>The camera records video in 1080p and stores it on a microSD card.</p>",
    "<p>Share on social media with the Share button.</p><p>Third-party trademarks are the property of their "
    "owners.</p><p>The game controller is sold separately.</p><p>Make sure the bracket is securely mounted before "
    "installing the camera.</p><p>Reset the Wi-Fi settings from the menu.</p>",
)

GUIDE_COMPLETE = html(
    "Acme Home Camera user guide",
    "<h1>User guide</h1>",
    "<h2>Setting up your camera securely</h2><ol><li>Connect the camera to a WPA2 or WPA3 Wi-Fi network.</li>"
    "<li>Change the default password in the app under Settings &gt; Device password.</li>"
    "<li>Turn on automatic updates.</li></ol>",
    "<h2>Checking your security settings</h2><p>In the app, Settings &gt; Security status shows whether "
    "two-factor authentication is on and whether the firmware is up to date; check it after set-up.</p>",
    "<h2>Factory reset</h2><p>Press and hold the reset button for 10 seconds until the light flashes red. This "
    "erases all settings, recordings and Wi-Fi credentials from the camera.</p>",
    "<h2>Deleting your data</h2><ol><li>Open the Acme app.</li><li>Tap Account, then Delete my data.</li></ol>",
    "<p>Deleting your account in the app also removes your recordings from our cloud servers.</p>",
    "<p>A confirmation message is shown when the deletion is complete.</p>",
)

GUIDE_INCOMPLETE = html(
    "Quick start",
    "<h1>Quick start</h1><p>Make sure the bracket is securely mounted before installing the camera.</p>",
    "<p>Download the app and follow the instructions on screen.</p>",
    "<p>The device password cannot be changed.</p><p>Factory reset is not supported on this model.</p>",
)


def pdf(tmp_path: Path, name: str, content: bytes) -> Path:
    weasyprint = pytest.importorskip("weasyprint")
    out = tmp_path / name
    weasyprint.HTML(string=content.decode()).write_pdf(out)
    return out


def _wired_catalogue(tmp: Path, known: list[str]) -> object:
    source = Path(iotcop.catalogue.__file__).parent / "data"
    for path in source.glob("*.yaml"):
        data = yaml.safe_load(path.read_text())
        if data["framework"]["id"] == "en303645":
            for req in data["requirements"]:
                evidenced, refuted = WIRING.get(req["id"], ((), ()))
                wired = set(evidenced) | set(refuted)
                req["planned"] = [c for c in req.get("planned", []) if c not in wired]
                req["evidenced_by"] = list(dict.fromkeys([*req.get("evidenced_by", []), *evidenced]))
                req["refuted_by"] = list(dict.fromkeys([*req.get("refuted_by", []), *refuted]))
        (tmp / path.name).write_text(yaml.safe_dump(data, sort_keys=False))
    return load_catalogue(tmp, known_checks=known)


def assess(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, documents: tuple[tuple[str, str], ...],
           ca: Path | None = None) -> Assessment:
    """``assess_documents`` with the privacy and guidance checks and facts in, until the lead wires them."""
    mine = [f for f in (*PRIVACY_CHECKS, *GUIDANCE_CHECKS) if f.spec.id not in REGISTRY]  # type: ignore[attr-defined]
    registry = Registry([*(s.func for s in REGISTRY), *mine])
    real: Callable[..., RunResult] = run_checks

    def run(_: object, bag: dict[type, object], unavailable: dict[object, object]) -> RunResult:
        docs = bag[VendorDocuments]
        assert isinstance(docs, VendorDocuments)
        bag = {PrivacyFacts: collect_privacy(docs), GuidanceFacts: collect_guidance(docs), **bag}
        return real(registry, bag, unavailable)

    monkeypatch.setattr(iotcop.api, "run_checks", run)
    data = tmp_path / "catalogue"
    data.mkdir(exist_ok=True)
    catalogue = _wired_catalogue(data, registry.ids())
    return iotcop.api.assess_documents(DocumentSources(documents=documents, ca_bundle=ca),
                                       catalogue=catalogue, clock=lambda: NOW)  # type: ignore[arg-type]


def flagged(a: Assessment, prefix: str = "doc.") -> dict[str, list[tuple[str, int | None]]]:
    out: dict[str, list[tuple[str, int | None]]] = {}
    for f in a.findings:
        if f.check_id.startswith(prefix):
            out.setdefault(f.check_id, []).append((f.severity.value, f.location.line))
    return out


def outcome(a: Assessment, requirement: str, framework: str = "en303645") -> Outcome:
    return a.verdict(framework, requirement).outcome


def status(a: Assessment, check_id: str) -> str:
    return next(r.status.value for r in a.check_runs if r.check_id == check_id)
