"""Check declaration and the one explicit list of all checks.

``@check(...)`` attaches a ``CheckSpec`` to a function and registers nothing: the checks that exist are
exactly those named in ``_ALL`` below (sslyze's ``scan_commands.py`` idea), so importing a module never
changes what runs. The runner fills a check's parameters from their annotated types.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from iotcop.errors import UsageError
from iotcop.model import EvidenceKind, Finding, Severity

CheckFunc = Callable[..., Iterable[Finding]]
F = TypeVar("F", bound=CheckFunc)

_ID_PREFIX = {
    EvidenceKind.FIRMWARE: "fw.",
    EvidenceKind.NETWORK: "net.",
    EvidenceKind.DOCUMENT: "doc.",
    EvidenceKind.DECLARATION: "decl.",
}


@dataclass(frozen=True)
class CheckSpec:
    """What a check is, apart from what it does: the user-facing metadata."""

    id: str
    title: str
    kind: EvidenceKind
    severity: Severity
    remediation: str
    rationale: str
    func: CheckFunc

    @property
    def reads(self) -> dict[str, type]:
        """Parameter name → the fact or knowledge type the check reads."""
        hints = typing.get_type_hints(self.func)
        return {name: hints[name] for name in inspect.signature(self.func).parameters}

    def finding(self, **fields: Any) -> Finding:
        """A finding of this check, with its id, title, severity and remediation filled in."""
        values = {"check_id": self.id, "title": self.title, "severity": self.severity,
                  "remediation": self.remediation, **fields}
        return Finding(**values)


def check(*, id: str, title: str, kind: EvidenceKind, severity: Severity, remediation: str) -> Callable[[F], F]:
    """Declare a check. Its docstring is its rationale; its function name is the last segment of its id."""

    def wrap(func: F) -> F:
        if not id.startswith(_ID_PREFIX[kind]):
            raise ValueError(f"{id}: a {kind} check id starts with {_ID_PREFIX[kind]!r}")
        if func.__name__ != id.rsplit(".", 1)[1].replace("-", "_"):
            raise ValueError(f"{id}: the function must be named after the last segment of its id")
        # paragraphs of the docstring, each on one line: the text is shown to users, not to Python
        doc = "\n\n".join(" ".join(p.split()) for p in inspect.cleandoc(func.__doc__ or "").split("\n\n"))
        if not doc:
            raise ValueError(f"{id}: a check's docstring is its rationale; write one")
        spec = CheckSpec(id=id, title=title, kind=kind, severity=severity, remediation=remediation,
                         rationale=doc, func=func)
        func.spec = spec  # type: ignore[attr-defined]
        return func

    return wrap


def spec_of(func: CheckFunc) -> CheckSpec:
    spec = getattr(func, "spec", None)
    if not isinstance(spec, CheckSpec):
        raise TypeError(f"{func!r} is not decorated with @check")
    return spec


class Registry:
    """An ordered, duplicate-free set of check specs."""

    def __init__(self, funcs: Iterable[CheckFunc]) -> None:
        self._specs: dict[str, CheckSpec] = {}
        for func in funcs:
            spec = spec_of(func)
            if spec.id in self._specs:
                raise ValueError(f"check id {spec.id} registered twice")
            self._specs[spec.id] = spec

    def __iter__(self) -> Iterator[CheckSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def __contains__(self, check_id: object) -> bool:
        return check_id in self._specs

    def ids(self) -> list[str]:
        return list(self._specs)

    def get(self, check_id: str) -> CheckSpec:
        try:
            return self._specs[check_id]
        except KeyError:
            raise UsageError(f"no check {check_id!r}") from None


def _all_checks() -> tuple[CheckFunc, ...]:
    from iotcop.checks.decl import consistency, ics
    from iotcop.checks.doc import disclosure, guidance, privacy, securitytxt, statement, support
    from iotcop.checks.fw import binaries, components, credentials, keys, permissions, secrets, services, update
    from iotcop.checks.fw import input as web_input
    from iotcop.checks.net import coap, ftp, mqtt, rtsp, snmp, ssh, telnet, tftp, tls, upnp
    from iotcop.checks.net import credentials as net_credentials
    from iotcop.checks.net import http as net_http
    from iotcop.checks.net import input as net_input

    return (
        credentials.empty_password,
        credentials.default_password,
        credentials.weak_hash,
        credentials.plaintext_password,
        credentials.shared_hash,
        credentials.extra_root_account,
        credentials.static_password_hash,
        services.telnet_enabled,
        services.ftp_enabled,
        services.tftp_enabled,
        services.rlogin_enabled,
        services.debug_daemon,
        services.serial_console,
        services.ssh_password_login,
        services.http_admin_plaintext,
        services.mqtt_anonymous,
        services.mqtt_plaintext,
        services.snmp_default_community,
        services.upnp_igd_enabled,
        services.listens_all_interfaces,
        secrets.hardcoded_credential,
        secrets.cloud_token,
        secrets.binary_credential,
        keys.private_key,
        keys.shared_host_key,
        keys.weak_key,
        keys.expired_certificate,
        keys.weak_certificate_signature,
        keys.self_signed_certificate,
        web_input.command_injection,
        web_input.format_string,
        components.known_vulnerability,
        components.end_of_life,
        binaries.no_nx,
        binaries.no_pie,
        binaries.no_relro,
        binaries.no_canary,
        binaries.dangerous_import,
        permissions.world_writable,
        permissions.setuid_binary,
        permissions.unprivileged_owner,
        update.mechanism,
        update.plain_download,
        update.unverified_image,
        update.missing_verification_key,
        update.no_secure_boot,
        securitytxt.missing,
        securitytxt.not_https,
        securitytxt.no_contact,
        securitytxt.expired,
        securitytxt.invalid,
        disclosure.no_policy,
        disclosure.no_timelines,
        support.missing,
        support.vague,
        support.expired,
        support.differs_from_declaration,
        support.outlives_components,
        support.no_non_updatable_rationale,
        statement.missing_element,
        statement.no_support_period,
        statement.contradiction,
        privacy.missing,
        privacy.incomplete,
        privacy.consent_undocumented,
        privacy.no_consent_withdrawal,
        privacy.no_telemetry_information,
        guidance.no_instructions,
        guidance.no_factory_reset,
        guidance.no_service_data_deletion,
        guidance.no_confirmation,
        guidance.no_secure_setup_guide,
        guidance.no_setup_check_guide,
        guidance.no_change_instructions,
        telnet.open, telnet.no_authentication,
        ssh.weak_algorithm, ssh.password_authentication,
        ftp.anonymous_login, ftp.plaintext_login,
        net_credentials.default_login, net_credentials.no_authentication, net_credentials.brute_force_unprotected,
        net_http.admin_plaintext, net_http.no_https_redirect, net_http.basic_auth_plaintext,
        net_http.unauthenticated_admin, net_http.directory_listing, net_http.default_page,
        net_http.missing_security_headers,
        tls.weak_protocol, tls.weak_cipher, tls.self_signed, tls.expired_certificate, tls.weak_key,
        tls.hostname_mismatch, tls.mozilla_intermediate,
        net_input.command_injection, net_input.crash, net_input.device_hang, net_input.malformed_frame,
        mqtt.plaintext, mqtt.anonymous,
        rtsp.unauthenticated, rtsp.basic_auth,
        snmp.default_community, snmp.no_v3,
        upnp.igd_exposed, upnp.port_mapping_allowed,
        coap.unauthenticated,
        tftp.readable,
        ics.missing_justification,
        consistency.contradiction,
    )


def __getattr__(name: str) -> Registry:
    """``REGISTRY``, built on first use (PEP 562): a check module imported on its own imports this module
    for ``@check``, and building the registry then would import that module again half-initialised."""
    if name == "REGISTRY":
        registry = Registry(_all_checks())
        globals()["REGISTRY"] = registry
        return registry
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
