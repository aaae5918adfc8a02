"""Firmware checks on the update path and boot integrity (guidelines 3 and 7; EN 303 645 5.3-1, 5.3-2, 5.3-7,
5.3-9, 5.3-10, 5.7-1).

What static evidence cannot settle is INCONCLUSIVE, naming the declaration field that would: an update
path iotcop cannot see (a web upload handled inside a binary) is not a device without updates.
"""

from __future__ import annotations

from collections.abc import Iterator

from iotcop.checks.registry import check, spec_of
from iotcop.errors import CannotAssess
from iotcop.firmware.update import UpdateFacts, UpdateScript
from iotcop.model import Evidence, EvidenceKind, Finding, Location, Severity

_SEEN = ("no update agent (sysupgrade, opkg, swupdate, RAUC, Mender, fwupd), no script that writes flash and no "
         "update binary was found in the image")


def _require_mechanism(update: UpdateFacts, field: str) -> None:
    if not update.found:
        raise CannotAssess(f"{_SEEN}; the update path may live where static analysis cannot follow it "
                           f"(declaration field {field} would settle it)")


@check(
    id="fw.update.mechanism",
    title="Update mechanism found in the firmware",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.INFO,
    remediation="No action: this lists the update paths iotcop found, for review.",
)
def mechanism(update: UpdateFacts) -> Iterator[Finding]:
    """EN 303 645 5.3-1 and 5.3-2 ask for a secure update mechanism. This observation lists each update
    agent, update script and update binary found, so a reviewer can see which paths the other update checks
    judged."""
    _require_mechanism(update, "ixit.update_mechanisms[].name")
    for agent in update.agents:
        detail = f" ({agent.detail})" if agent.detail else ""
        yield spec_of(mechanism).finding(
            message=f"Update mechanism {agent.kind} at {agent.path}{detail}.",
            location=Location.in_image(agent.path),
            evidence=Evidence.of(f"{agent.kind}: {agent.path}{detail}", "update agents, scripts and binaries"))


@check(
    id="fw.update.plain-download",
    title="Updates are downloaded without transport protection",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.HIGH,
    remediation="Fetch updates over HTTPS with certificate verification (no curl -k, wget "
                "--no-check-certificate or Mender SkipVerify), and verify the image's signature as well.",
)
def plain_download(update: UpdateFacts) -> Iterator[Finding]:
    """An update fetched over HTTP, FTP or TFTP, or over HTTPS with certificate verification switched off,
    can be read and replaced by anyone on the path (EN 303 645 5.3-7, 5.3-10). Only downloads of update
    paths count: a script that fetches a configuration file and never writes flash is not judged."""
    found = False
    for d in update.downloads:
        if d.scheme == "https" and not d.insecure:
            found = True
        if not (d.plain or d.insecure):
            continue
        found = True
        why = (f"the {d.scheme.upper()} scheme has no encryption or server authentication" if d.plain
               else f"TLS certificate verification is switched off ({d.tool})")
        if d.plain and d.insecure:
            why += " (and TLS certificate verification is switched off)"
        signed = [v for v in update.verifiers if v.enabled and (v.path == d.path or v.agent == d.tool)]
        note = " A signature check is configured, so the content is authenticated, but not confidential." \
            if signed else ""
        yield spec_of(plain_download).finding(
            message=f"{d.path} fetches {d.url!r} with {d.tool}: {why}.{note}",
            severity=Severity.LOW if signed else Severity.HIGH,
            location=Location.in_image(d.path, line=d.line),
            evidence=Evidence.of(d.raw_line, "shell commands and update agent configuration"))
    if not found:
        if update.downloads:
            raise CannotAssess("the update downloads found name their server in variables set at run time "
                               "(declaration field ixit.update_mechanisms[].transport would settle it)")
        _require_mechanism(update, "ixit.update_mechanisms[].transport")
        raise CannotAssess("an update mechanism was found but no download of it (the transport is chosen at "
                           "run time or inside a binary); declaration field ixit.update_mechanisms[].transport "
                           "would settle it")


def _why_unverified(script: UpdateScript) -> str:
    flash = script.flashes[0] if script.flashes else script.agents[0]
    fetched = f"downloads it with {script.downloads[0].tool} and " if script.downloads else ""
    if script.integrity:
        step = script.integrity[0]
        return (f"{fetched}writes flash with {flash.tool} (line {flash.line}) after only an integrity check "
                f"({step.tool}, line {step.line}): a checksum shipped next to the image proves it arrived intact, "
                "not who made it, so it is NOT an authenticity check")
    return (f"{fetched}writes flash with {flash.tool} (line {flash.line}) and runs no signature check "
            "(usign/signify -V, openssl ... -verify, gpg --verify) in the script or the scripts it calls")


@check(
    id="fw.update.unverified-image",
    title="An update path installs images without checking their authenticity",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.HIGH,
    remediation="Sign update images and verify the signature against a public key shipped in the firmware "
                "before writing flash (usign/signify, openssl dgst -verify, RAUC, swupdate -k, Mender "
                "ArtifactVerifyKey, opkg check_signature). A checksum alone is not enough.",
)
def unverified_image(update: UpdateFacts) -> Iterator[Finding]:
    """Whoever can hand the device an image (the network path, a phishing page, a local attacker) can
    install their own firmware if the update path checks no signature (EN 303 645 5.3-9, 5.3-10). An MD5,
    SHA or CRC compared with a value downloaded alongside proves integrity only, and counts as unverified."""
    _require_mechanism(update, "ixit.update_mechanisms[].signed")
    judged = False
    for script in update.scripts:
        judged = True
        if script.verified:
            continue
        flash = script.flashes[0] if script.flashes else script.agents[0]
        yield spec_of(unverified_image).finding(
            message=f"{script.path} {_why_unverified(script)}.",
            location=Location.in_image(script.path, line=flash.line),
            evidence=Evidence.of(flash.raw_line, "shell commands of the update script"))
    for v in update.verifiers:
        judged = True
        if not v.enabled:
            yield spec_of(unverified_image).finding(
                message=f"{v.agent} is configured in {v.path} without signature verification ({v.raw_line}): "
                        "it installs what it is given.",
                location=Location.in_image(v.path, line=v.line),
                evidence=Evidence.of(v.raw_line, f"parsed {v.path}"))
    for agent in update.unverified_binaries:
        yield spec_of(unverified_image).finding(
            message=f"Update binary {agent.path} {agent.detail} but imports no signature-verification function "
                    "(RSA_verify, EVP_DigestVerifyFinal, mbedtls_pk_verify, ...) and names no verify command.",
            severity=Severity.MEDIUM, location=Location.in_image(agent.path),
            evidence=Evidence.of(agent.detail, "imports and strings of the ELF file"))
    if not judged and not update.unverified_binaries:
        raise CannotAssess("update agents were found but none whose verification can be read statically "
                           "(declaration field ixit.update_mechanisms[].signed would settle it)")


@check(
    id="fw.update.missing-verification-key",
    title="Update signature checking is configured but its key is not in the image",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.HIGH,
    remediation="Ship the public key (or keyring) the update verification names, at the path it names.",
)
def missing_verification_key(update: UpdateFacts) -> Iterator[Finding]:
    """A signature check whose public key is absent either fails every update or, often, is skipped by the
    script around it: either way the update is not verified through a trust anchor (EN 303 645 5.3-9)."""
    checking = [v for v in update.verifiers if v.enabled]
    if not checking:
        raise CannotAssess("no update signature verification was found in the image, so there is no key to "
                           "look for (declaration field ixit.update_mechanisms[].signed would settle it)")
    known = [v for v in checking if v.key_present is not None]
    for v in known:
        if not v.key_present:
            yield spec_of(missing_verification_key).finding(
                message=f"{v.agent} in {v.path} verifies updates with {v.key or 'a keyring'}, which is not in "
                        "the image (or is empty).",
                location=Location.in_image(v.path, line=v.line),
                evidence=Evidence.of(v.raw_line, "key path looked up in the image"))
    if not known:
        raise CannotAssess("the update signature checks name their keys in variables set at run time")


@check(
    id="fw.update.no-secure-boot",
    title="The boot chain does not verify the software it starts",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.MEDIUM,
    remediation="Sign the FIT image (mkimage -k) and build U-Boot with FIT signature verification and the "
                "public key marked required in its control DTB; do not set verify=n.",
)
def no_secure_boot(update: UpdateFacts) -> Iterator[Finding]:
    """Secure boot (EN 303 645 5.7-1) lets only signed software start. A kernel in a legacy uImage (CRC32
    only) or an unsigned FIT image boots whatever is written to flash. A signed FIT is enforced only when
    U-Boot holds the key as 'required'; where that cannot be seen, the finding is an INFO hint."""
    boot = update.boot
    if not (boot.fits or boot.keys or boot.hints):
        raise CannotAssess("no boot loader, FIT image or kernel image header was found, so secure boot cannot "
                           "be judged statically (declaration field ics.5.7-1 would settle it)")
    spec = spec_of(no_secure_boot)
    required = [k for k in boot.keys if k.required]
    for fit in boot.fits:
        where = Location.in_image(fit.source, offset=fit.offset)
        if not fit.signed:
            declared = f"; signature nodes without a value: {', '.join(fit.unsigned_signatures)}" \
                if fit.unsigned_signatures else ""
            yield spec.finding(message=f"FIT image in {fit.source} at 0x{fit.offset:x} is not signed (hashes only: "
                                       f"{', '.join(fit.hashes) or 'none'}{declared}): any kernel written to flash "
                                       "boots.", location=where,
                               evidence=Evidence.of(f"images: {', '.join(fit.images)}", "parsed the FIT device tree"))
        elif not required:
            path, algo, key = fit.signatures[0]
            yield spec.finding(message=f"FIT image in {fit.source} is signed ({path}, {algo}, key {key!r}), but no "
                                       "U-Boot control DTB marking the key 'required' was found: enforcement "
                                       "cannot be seen.", severity=Severity.INFO, location=where,
                               evidence=Evidence.of(f"{path}: algo={algo} key-name-hint={key}",
                                                    "parsed the FIT device tree"))
    for hint in boot.hints:
        where = Location.in_image(hint.source, offset=hint.offset)
        if hint.kind in ("legacy-uimage", "verify-off"):
            yield spec.finding(message=f"{hint.detail} ({hint.source} at 0x{hint.offset:x}).", location=where,
                               evidence=Evidence.of(hint.detail, "boot image headers and U-Boot environment"))
        elif hint.kind == "uboot" and not required:
            support = any(h.kind == "fit-signature-support" and h.source == hint.source for h in boot.hints)
            state = ("names FIT signature verification but holds no key marked required" if support
                     else "shows no sign of FIT signature verification and holds no required key")
            yield spec.finding(message=f"{hint.detail} in {hint.source} {state}.", severity=Severity.INFO,
                               location=where, evidence=Evidence.of(hint.detail, "strings of the U-Boot binary"))
