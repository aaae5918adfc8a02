"""SSH: algorithms (``ssh-audit -j``), the authentication methods offered, and an ``Authenticator``.

Both ssh-audit (MIT) and the OpenSSH client (BSD) run as external programs: no copyleft SSH library is
linked (asyncssh is EPL-2.0/GPL-2.0, paramiko LGPL-2.1). The client is isolated from the user's set-up
(``-F /dev/null``, no agent, no keys, no known_hosts) and given the password through ``SSH_ASKPASS``
from the environment of a throw-away helper, never on a command line.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from iotcop.device.loginfacts import ServiceLogin, judge_logins
from iotcop.device.logins import Attempt, Result
from iotcop.device.net import Network
from iotcop.device.options import DeviceOptions, Discovered
from iotcop.model import NetworkService

#: Algorithms no longer fit for use (SHA-1, MD5, CBC, RC4, DES/3DES, small or fixed weak DH groups, DSA).
WEAK = {
    "kex": re.compile(r"^(diffie-hellman-group(1|14)-sha1|diffie-hellman-group-exchange-sha1|rsa1024-sha1|"
                      r"gss-.*sha1.*)$"),
    "key": re.compile(r"^(ssh-dss|ssh-rsa|ssh-rsa-cert-v01@openssh.com|ssh-dss-cert-v01@openssh.com)$"),
    "enc": re.compile(r"(-cbc$|^arcfour|^rijndael-cbc|^blowfish|^cast128|^3des|^des|^none$)"),
    "mac": re.compile(r"(^hmac-md5|^hmac-sha1|^umac-64(?!-etm)|^hmac-ripemd|-96$|^none$)"),
}
KINDS = {"kex": "key exchange", "key": "host key", "enc": "cipher", "mac": "MAC"}
SSH_OPTIONS = ("-F", "/dev/null", "-T", "-a", "-x", "-o", "StrictHostKeyChecking=no", "-o",
               "UserKnownHostsFile=/dev/null", "-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
               "-o", "PubkeyAuthentication=no", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
               "-o", "GSSAPIAuthentication=no", "-o", "ControlMaster=no", "-o", "ControlPath=none")


@dataclass(frozen=True)
class SshAlgorithms:
    banner: str = ""
    kex: tuple[str, ...] = ()
    key: tuple[str, ...] = ()
    enc: tuple[str, ...] = ()
    mac: tuple[str, ...] = ()

    def weak(self) -> list[tuple[str, str]]:
        """(kind, algorithm) for each weak algorithm offered."""
        return [(KINDS[k], a) for k in KINDS for a in getattr(self, k) if WEAK[k].search(a)]


def parse_audit(text: str) -> SshAlgorithms | None:
    """ssh-audit's JSON (never raises on malformed input: None)."""
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None

    def names(key: str) -> tuple[str, ...]:
        items = doc.get(key)
        out = [i.get("algorithm") if isinstance(i, Mapping) else i for i in items] if isinstance(items, list) else []
        return tuple(str(a)[:100] for a in out if isinstance(a, str))

    banner = doc.get("banner")
    raw = banner.get("raw", "") if isinstance(banner, Mapping) else ""
    return SshAlgorithms(str(raw)[:200], names("kex"), names("key"), names("enc"), names("mac"))


@dataclass(frozen=True)
class SshService:
    service: NetworkService
    algorithms: SshAlgorithms | None = None
    audit_error: str = ""
    methods: tuple[str, ...] | None = None  # the authentication methods offered (None: not learnt)
    methods_evidence: str = ""
    reason: str = ""

    @property
    def password_auth(self) -> bool | None:
        if self.methods is None:
            return None
        return "password" in self.methods or "keyboard-interactive" in self.methods


@dataclass(frozen=True)
class SshFacts:
    services: tuple[SshService, ...] = field(default=())
    logins: tuple[ServiceLogin, ...] = field(default=())
    tools: tuple[str, ...] = ()  # missing tools


async def run(argv: list[str], timeout: float, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """(exit code, stdout, stderr); -1 and the reason on timeout or when it cannot start."""
    try:
        proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL, env=env,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                                                    start_new_session=True)
    except OSError as exc:
        return -1, "", f"could not start {argv[0]}: {exc}"
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return -1, "", f"{argv[0]} timed out after {timeout:g} s"
    return proc.returncode or 0, out[:1 << 20].decode("utf-8", "replace"), err[:65536].decode("utf-8", "replace")


async def audit(net: Network, svc: NetworkService) -> tuple[SshAlgorithms | None, str]:
    net.check(svc.host)
    start = time.monotonic()
    wait = max(1, round(net.limits.timeout))
    code, out, err = await run(["ssh-audit", "-j", "-n", "-t", str(wait), "-p", str(svc.port), svc.host], wait * 3)
    parsed = parse_audit(out)
    outcome = "ok" if parsed else (err.strip() or out.strip() or f"exit {code}")[:200]
    net.tool_run(svc.host, svc.port, "ssh-audit", time.monotonic() - start, outcome)
    return parsed, "" if parsed else f"ssh-audit gave no result: {outcome}"


DENIED = re.compile(r"Permission denied \(([\w,@.-]+)\)")


async def auth_methods(net: Network, svc: NetworkService) -> tuple[tuple[str, ...] | None, str]:
    user = "iotcop-probe"
    argv = ["ssh", *SSH_OPTIONS, "-o", "BatchMode=yes", "-o", "PreferredAuthentications=none", "-o",
            f"ConnectTimeout={max(1, round(net.limits.timeout))}", "-p", str(svc.port), "-l", user, "--", svc.host,
            "exit"]
    async with net.connection(svc.host, svc.port, "ssh auth methods") as attempt:
        code, _, err = await run(argv, net.limits.timeout * 2, _clean_env())
        attempt.outcome = "ok" if code != -1 else err[:100]
    found = DENIED.search(err)
    if not found:
        return None, (err.strip() or f"exit {code}")[:200]
    return tuple(found.group(1).split(",")), found.group(0)


def _clean_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tempfile.gettempdir()}


class SshAuthenticator:
    """One OpenSSH client run per attempt; the password comes from an askpass helper's environment."""

    def __init__(self, net: Network, service: NetworkService, askpass: Path) -> None:
        self.net, self.svc, self.askpass = net, service, askpass
        self.service = f"ssh {service.host}:{service.port}"

    async def attempt(self, user: str, password: str) -> Attempt:
        start = time.monotonic()
        if user.startswith("-") or any(c in user for c in "\r\n\0@"):
            return Attempt(Result.ERROR, 0.0, "user name not usable with ssh")
        env = {**_clean_env(), "SSH_ASKPASS": str(self.askpass), "SSH_ASKPASS_REQUIRE": "force",
               "DISPLAY": ":0", "IOTCOP_SSH_PASSWORD": password}
        argv = ["ssh", *SSH_OPTIONS, "-o", "BatchMode=no", "-o", "NumberOfPasswordPrompts=1", "-o",
                "PreferredAuthentications=password,keyboard-interactive", "-o",
                f"ConnectTimeout={max(1, round(self.net.limits.timeout))}", "-p", str(self.svc.port), "-l", user,
                "--", self.svc.host, "exit"]
        async with self.net.connection(self.svc.host, self.svc.port, "credentials") as conn:
            code, _, err = await run(argv, self.net.limits.timeout * 2, env)
            conn.outcome = "ok" if code != -1 else err[:100]
        seconds, detail = time.monotonic() - start, err.strip()[:200]
        if code not in (255, -1):
            return Attempt(Result.ACCEPTED, seconds, f"logged in (remote exit {code})")
        if "Permission denied" in err:
            return Attempt(Result.REJECTED, seconds, detail)
        if re.search(r"too many|locked", err, re.I):
            return Attempt(Result.LOCKED, seconds, detail)
        if re.search(r"refused|closed|reset|Connection timed out", err):
            return Attempt(Result.DISCONNECTED, seconds, detail)
        return Attempt(Result.ERROR, seconds, detail or f"exit {code}")


def make_askpass(directory: Path) -> Path:
    path = directory / "askpass"
    path.write_text('#!/bin/sh\nprintf "%s\\n" "$IOTCOP_SSH_PASSWORD"\n', encoding="ascii")
    path.chmod(stat.S_IRWXU)
    return path


async def inspect(net: Network, svc: NetworkService) -> SshService:
    try:
        algorithms, audit_error = await audit(net, svc)
        methods, evidence = await auth_methods(net, svc)
    except OSError as exc:
        return SshService(svc, reason=f"could not connect: {exc}")
    return SshService(svc, algorithms, audit_error, methods, evidence if methods else "",
                      "" if methods else f"the authentication methods were not learnt: {evidence}")


async def probe_ssh(net: Network, found: Discovered, options: DeviceOptions) -> SshFacts:
    """ssh-audit and the offered methods per SSH service; default passwords where password login is offered."""
    missing = tuple(t for t in ("ssh-audit", "ssh") if shutil.which(t) is None)
    services: list[SshService] = []
    logins: list[ServiceLogin] = []
    with tempfile.TemporaryDirectory(prefix="iotcop-ssh-") as tmp:
        askpass = make_askpass(Path(tmp))
        for svc in found.of("ssh"):
            if missing:
                services.append(SshService(svc, reason=f"not installed: {', '.join(missing)}"))
                logins.append(ServiceLogin(svc, "ssh", not_tried=f"not installed: {', '.join(missing)}"))
                continue
            seen = await inspect(net, svc)
            services.append(seen)
            if seen.password_auth:
                logins.append(await judge_logins(SshAuthenticator(net, svc, askpass), svc, "ssh", options))
            elif seen.methods is not None:
                why = f"no password login offered ({seen.methods_evidence})"
                logins.append(ServiceLogin(svc, "ssh", not_tried=why, password_login=False))
            else:
                logins.append(ServiceLogin(svc, "ssh", not_tried=seen.reason))
    return SshFacts(tuple(services), tuple(logins), missing)
