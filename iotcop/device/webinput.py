"""Input handling on the device's web parameters (EN 303 645 5.13-1; resilience 5.9): bounded probes of the
form fields and query parameters found by the HTTP probe, each group bracketed by a liveness check.

Groups, per parameter: command-injection canaries detected by echo (``;echo iotcop$((6*7))`` answered with
``iotcop42``, which the request itself never contains) and by timing (``;sleep 3`` against the baseline, twice),
an oversized value and format strings. A device that stops answering after a group crashed (connections
refused) or hung (timeouts): probing that service stops there. Unless ``options.destructive``, only GET
parameters and login forms are probed (a POST form may store settings or change a password: listed as skipped),
and forms or links that look like reboot, reset, upgrade or delete are left alone."""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit

from iotcop.device.http import HttpFacts, WebService
from iotcop.device.net import Network
from iotcop.device.options import DeviceOptions, Discovered
from iotcop.device.webclient import HttpResponse, Target, request

CANARY = "iotcop42"
ECHO = ("{};echo iotcop$((6*7))", "{}|echo iotcop$((6*7))", "{}$(echo iotcop$((6*7)))", "{}`echo iotcop$((6*7))`",
        "{}\necho iotcop$((6*7))")
SLEEP = ("{};sleep 3", "{}$(sleep 3)")
SLEEP_SECONDS = 3.0
OVERSIZED = "{}" + "A" * 8192
FORMAT = "{}" + "%s%n%x%p" * 8
DESTRUCTIVE = re.compile(r"reboot|restart|reset|factory|upgrade|firmware|flash|delete|erase|format|restore|logout",
                         re.I)
MAX_PARAMS = 12  # per service


@dataclass(frozen=True)
class Parameter:
    path: str  # the form's action or the link's path
    method: str  # GET or POST
    values: tuple[tuple[str, str], ...]  # every field with its original value
    name: str  # the one probed


@dataclass(frozen=True)
class ProbeResult:
    where: str  # host:port
    parameter: Parameter
    group: str  # 'command injection (echo)', 'command injection (timing)', 'oversized value', 'format string'
    outcome: str  # 'handled', 'injection', 'crash', 'hang'
    evidence: str = ""  # the payload and what came back


@dataclass(frozen=True)
class InputFacts:
    probed: tuple[ProbeResult, ...] = ()  # every group run ('handled' included: the evidence of testing)
    parameters: int = 0  # parameters probed
    services: tuple[str, ...] = ()  # host:port of the web services considered
    skipped: tuple[str, ...] = ()  # destructive forms left alone, services not reachable
    notes: tuple[str, ...] = field(default=())

    def failures(self, *outcomes: str) -> list[ProbeResult]:
        return [p for p in self.probed if p.outcome in outcomes]


def parameters(service: WebService, destructive: bool = False) -> tuple[list[Parameter], list[str]]:
    """The parameters to probe (forms first, then links with query strings) and the forms left alone."""
    found: list[Parameter] = []
    skipped: list[str] = []
    seen: set[tuple[str, str]] = set()
    candidates: list[tuple[str, str, tuple[tuple[str, str], ...], bool]] = []  # (path, method, values, login)
    for page in service.pages:
        for form in page.forms:
            values = tuple((n, v) for n, t, v in form.fields if t not in ("submit",))
            candidates.append((form.action, form.method, values, form.is_login))
        for link in page.links:
            parts = urlsplit(link)
            if parts.query:
                candidates.append((parts.path, "GET", tuple(parse_qsl(parts.query, keep_blank_values=True)), False))
    for path, method, values, login in candidates:
        if not destructive and DESTRUCTIVE.search(path + " " + " ".join(n for n, _ in values)):
            skipped.append(f"{service.where}{path}: looks destructive (reboot/reset/upgrade/delete)")
            continue
        if not destructive and method == "POST" and not login:
            skipped.append(f"{service.where}{path}: a POST form that is not a login form (it may store settings or "
                           "change a password): probed only with the destructive option")
            continue
        for name, _ in values:
            if (path, name) not in seen and len(found) < MAX_PARAMS:
                seen.add((path, name))
                found.append(Parameter(path.split("?")[0], method, values, name))
    return found, list(dict.fromkeys(skipped))


class _Prober:
    def __init__(self, net: Network, target: Target) -> None:
        self.net, self.target = net, target
        self.down = ""

    async def send(self, param: Parameter, value: str, timeout: float | None = None) -> HttpResponse:
        fields = urlencode([(n, value if n == param.name else v) for n, v in param.values])
        if param.method == "POST":
            return await request(self.net, self.target, param.path, method="POST", body=fields.encode(),
                                 headers={"Content-Type": "application/x-www-form-urlencoded"}, probe="input",
                                 timeout=timeout)
        return await request(self.net, self.target, f"{param.path}?{fields}", probe="input", timeout=timeout)

    async def alive(self) -> str:
        """'' when the device answers ``GET /``; else 'crash' (refused/reset) or 'hang' (timeouts)."""
        verdict = ""
        for attempt in range(3):
            try:
                await request(self.net, self.target, "/", probe="input (liveness)")
                return ""
            except (TimeoutError, ValueError):  # HttpError; UnicodeError
                verdict = "hang"
            except (OSError, ssl.SSLError):
                verdict = "crash"
            if attempt < 2:
                await asyncio.sleep(0.5)
        return verdict

    async def group(self, param: Parameter, group: str, payloads: list[str],
                    baseline: HttpResponse) -> ProbeResult:
        where = self.target.where
        evidence = ""
        outcome = "handled"
        for payload in payloads:
            try:
                if group.endswith("(timing)"):
                    outcome, evidence = await self._timed(param, payload, baseline)
                else:
                    response = await self.send(param, payload)
                    if group.endswith("(echo)") and CANARY in response.text and CANARY not in baseline.text:
                        line = next((ln for ln in response.text.splitlines() if CANARY in ln), CANARY)
                        outcome, evidence = "injection", f"sent {payload!r}; the answer contains {line.strip()!r}"
            except (OSError, TimeoutError, ValueError, ssl.SSLError) as exc:
                evidence = f"sent {payload[:60]!r}...: {type(exc).__name__}: {exc}"[:300]
            if outcome != "handled":
                break
        after = await self.alive()
        if after:
            self.down = after
            return ProbeResult(where, param, group, after, (evidence or f"sent {payloads[-1][:60]!r}")
                               + f"; afterwards GET / failed ({'refused' if after == 'crash' else 'timed out'})")
        return ProbeResult(where, param, group, outcome, evidence)

    async def _timed(self, param: Parameter, payload: str, baseline: HttpResponse) -> tuple[str, str]:
        limit = baseline.seconds + SLEEP_SECONDS + max(2.0, self.net.limits.timeout)
        delays = []
        for _ in range(2):
            started = time.monotonic()
            await self.send(param, payload, timeout=limit)
            delays.append(time.monotonic() - started)
            if delays[-1] < baseline.seconds + SLEEP_SECONDS - 0.5:
                return "handled", ""
        return "injection", (f"sent {payload!r}: answered after {delays[0]:.1f} s and {delays[1]:.1f} s, "
                             f"against {baseline.seconds:.2f} s for the original value")


async def probe_service(net: Network, service: WebService, options: DeviceOptions) -> InputFacts:
    target = Target(service.service.host, service.service.port, service.tls)
    params, skipped = parameters(service, options.destructive)
    prober = _Prober(net, target)
    results: list[ProbeResult] = []
    probed = 0
    for param in params:
        if prober.down:
            break
        original = dict(param.values).get(param.name, "")
        if await prober.alive():
            skipped.append(f"{target.where}: not answering before probing {param.path} {param.name}")
            break
        try:
            baseline = await prober.send(param, original)
        except (OSError, TimeoutError, ValueError, ssl.SSLError) as exc:
            skipped.append(f"{target.where}{param.path} {param.name}: the original value failed ({exc})"[:200])
            continue
        probed += 1
        for group, payloads in (("command injection (echo)", ECHO), ("command injection (timing)", SLEEP),
                                ("oversized value", (OVERSIZED,)), ("format string", (FORMAT,))):
            if group == "command injection (timing)" and any(
                    r.parameter == param and r.outcome == "injection" for r in results):
                continue
            results.append(await prober.group(param, group, [p.format(original) for p in payloads], baseline))
            if prober.down:
                break
    return InputFacts(tuple(results), probed, (target.where,), tuple(skipped))


async def probe_input(net: Network, found: Discovered, options: DeviceOptions,
                      web: HttpFacts | None = None) -> InputFacts:
    """Input probes on the parameters ``web`` (the HTTP probe's facts) found; never raises."""
    if not options.input_probes:
        return InputFacts(notes=("input probes were turned off",))
    if web is None:
        from iotcop.device.http import probe_http

        web = await probe_http(net, found, DeviceOptions(credentials=options.credentials, credential_limit=0,
                                                         bruteforce_attempts=0))
    parts: list[InputFacts] = []
    for service in web.services:
        if service.reason:
            parts.append(InputFacts(services=(service.where,), skipped=(f"{service.where}: {service.reason}",)))
            continue
        try:
            parts.append(await probe_service(net, service, options))
        except Exception as exc:
            parts.append(InputFacts(services=(service.where,),
                                    skipped=(f"{service.where}: probe failed: {type(exc).__name__}: {exc}"[:300],)))
    return InputFacts(tuple(r for p in parts for r in p.probed), sum(p.parameters for p in parts),
                      tuple(s for p in parts for s in p.services), tuple(s for p in parts for s in p.skipped))
