"""Live checks on SSH services (EN 303 645 5.1-3, 5.5-1, 5.1-4)."""

from __future__ import annotations

from collections.abc import Iterator

from iotcop.checks.registry import check, spec_of
from iotcop.device.ssh import SshFacts, SshService
from iotcop.errors import CannotAssess, NotApplicable
from iotcop.model import Evidence, EvidenceKind, Finding, Location, Severity


def _services(ssh: SshFacts) -> tuple[SshService, ...]:
    if not ssh.services:
        raise NotApplicable("no SSH service was found listening")
    return ssh.services


def _where(s: SshService) -> str:
    return f"{s.service.host}:{s.service.port}"


@check(id="net.ssh.weak-algorithm", title="SSH server offers weak algorithms", kind=EvidenceKind.NETWORK,
       severity=Severity.MEDIUM,
       remediation="Offer only modern algorithms: curve25519/sntrup kex, ed25519 or rsa-sha2 host keys, "
                   "chacha20-poly1305 or AES-GCM/CTR ciphers, SHA-2 (EtM) MACs; drop SHA-1, MD5, CBC, DSA.")
def weak_algorithm(ssh: SshFacts) -> Iterator[Finding]:
    """SHA-1 and MD5 based algorithms, CBC-mode and RC4/3DES ciphers and DSA keys let a network attacker
    downgrade or break the protection of the session: best-practice cryptography is required."""
    spec = spec_of(weak_algorithm)
    services = _services(ssh)
    unjudged = []
    found = False
    for s in services:
        if s.algorithms is None:
            unjudged.append(s)
            continue
        weak = s.algorithms.weak()
        if weak:
            found = True
            listed = ", ".join(f"{kind} {alg}" for kind, alg in weak)
            yield spec.finding(message=f"The SSH server at {_where(s)} ({s.algorithms.banner}) offers {len(weak)} "
                                       f"weak algorithm(s): {listed}.",
                               location=Location(kind="network", path=_where(s)),
                               evidence=Evidence.of(f"{_where(s)} {s.algorithms.banner}: {listed}",
                                                    "ssh-audit -j (algorithms offered in KEXINIT)"))
    if not found and unjudged:
        raise CannotAssess("; ".join(f"{_where(s)}: {s.audit_error or s.reason}" for s in unjudged))


@check(id="net.ssh.password-authentication", title="SSH server accepts password logins",
       kind=EvidenceKind.NETWORK, severity=Severity.INFO,
       remediation="Use public-key authentication only (sshd: PasswordAuthentication no, "
                   "KbdInteractiveAuthentication no; dropbear: -s).")
def password_authentication(ssh: SshFacts) -> Iterator[Finding]:
    """Password logins on SSH are what guessing attacks and default-credential botnets target; keys are
    not guessable. Best practice for remote maintenance is key-only authentication."""
    spec = spec_of(password_authentication)
    services = _services(ssh)
    for s in services:
        if s.password_auth:
            yield spec.finding(message=f"The SSH server at {_where(s)} offers password authentication: "
                                       f"{s.methods_evidence}.",
                               location=Location(kind="network", path=_where(s)),
                               evidence=Evidence.of(f"{_where(s)}: {s.methods_evidence}",
                                                    "OpenSSH client with PreferredAuthentications=none"))
    if not any(s.password_auth for s in services):
        unclear = [s for s in services if s.password_auth is None]
        if unclear:
            raise CannotAssess("; ".join(f"{_where(s)}: {s.reason}" for s in unclear))
