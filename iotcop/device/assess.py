"""One live assessment: discovery, the protocol probes, the credential phase, input handling last.

Phases run in this order because each one's traffic may disturb the next: the probes that only look go
first (together: the Network bounds concurrency and rate), logins and the brute-force series next, and the
input probes, which may crash the device, last and alone. ``on_phase`` is told each phase as it starts (the
CLI shows it as progress). Nothing here raises for a device that misbehaves: every probe records its reasons,
and a family whose probe raises anyway is given facts that carry the reason (its checks say INCONCLUSIVE; the
reason is also in ``DeviceFacts.notes``) while the other families keep their results.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from iotcop.device.coap import NAMES as COAP_NAMES
from iotcop.device.coap import CoapFacts, CoapService, probe_coap
from iotcop.device.discovery import discover
from iotcop.device.frames import PROTOCOLS as FRAME_PROTOCOLS
from iotcop.device.frames import FrameFacts, probe_frames
from iotcop.device.ftp import FtpFacts, FtpService, probe_ftp
from iotcop.device.http import HttpFacts, WebService, probe_http
from iotcop.device.loginfacts import LoginFacts, ServiceLogin, judge_logins
from iotcop.device.mqtt import NAMES as MQTT_NAMES
from iotcop.device.mqtt import TLS_PORT as MQTT_TLS_PORT
from iotcop.device.mqtt import MqttAuthenticator, MqttFacts, MqttService, probe_mqtt
from iotcop.device.net import Network
from iotcop.device.options import DeviceOptions, Discovered
from iotcop.device.rtsp import NAMES as RTSP_NAMES
from iotcop.device.rtsp import RtspAuthenticator, RtspFacts, RtspService, probe_rtsp
from iotcop.device.scope import Scope
from iotcop.device.snmp import NAMES as SNMP_NAMES
from iotcop.device.snmp import SnmpFacts, SnmpService, probe_snmp
from iotcop.device.ssh import SshFacts, SshService, probe_ssh
from iotcop.device.telnet import TelnetFacts, TelnetService, probe_telnet
from iotcop.device.tftp import NAMES as TFTP_NAMES
from iotcop.device.tftp import TftpFacts, TftpService, probe_tftp
from iotcop.device.tls import TlsFacts, TlsService, probe_tls, tls_services
from iotcop.device.upnp import NAMES as UPNP_NAMES
from iotcop.device.upnp import UpnpDevice, UpnpFacts, probe_upnp
from iotcop.device.webinput import InputFacts, probe_input
from iotcop.model import Connection, NetworkService

PHASES = ("discovery", "protocols", "logins", "input handling")
T = TypeVar("T")


@dataclass
class DeviceFacts:
    """Everything the live assessment observed, and its audit log."""

    found: Discovered
    facts: dict[type, object] = field(default_factory=dict)
    connections: tuple[Connection, ...] = ()
    notes: list[str] = field(default_factory=list)


async def _mqtt_rtsp_logins(net: Network, mqtt: MqttFacts, rtsp: RtspFacts, found: Discovered,
                            options: DeviceOptions) -> list[ServiceLogin]:
    """MQTT and RTSP services that ask for credentials get the defaults and the brute-force series; those that
    let anyone in are 'unauthenticated' (their own checks report it)."""
    by_port = {(s.host, s.port): s for s in found.services}
    jobs = []
    for m in mqtt.services:
        svc = by_port.get((m.host, m.port))
        if svc is None:
            continue
        if m.anonymous:
            jobs.append(_done(ServiceLogin(svc, "mqtt", unauthenticated=f"CONNACK {m.return_code} without "
                                                                       "credentials")))
        elif m.return_code is not None:
            jobs.append(judge_logins(MqttAuthenticator(net, m.host, m.port, m.tls), svc, "mqtt", options))
    for r in rtsp.services:
        svc = by_port.get((r.host, r.port))
        if svc is None:
            continue
        if r.unauthenticated:
            jobs.append(_done(ServiceLogin(svc, "rtsp", unauthenticated=f"DESCRIBE {r.url} answered 200")))
        elif r.challenges:
            jobs.append(judge_logins(RtspAuthenticator(net, r.host, r.port, r.url), svc, "rtsp", options))
    return list(await asyncio.gather(*jobs))


async def _done(value: ServiceLogin) -> ServiceLogin:
    return value


def _not_tried(mqtt: MqttFacts, rtsp: RtspFacts, found: Discovered, why: str) -> list[ServiceLogin]:
    """The MQTT and RTSP logins that were to be judged, each 'not tried' for ``why``."""
    by_port = {(s.host, s.port): s for s in found.services}
    points = [("mqtt", m.host, m.port) for m in mqtt.services if not m.anonymous and m.return_code is not None]
    points += [("rtsp", r.host, r.port) for r in rtsp.services if not r.unauthenticated and r.challenges]
    return [ServiceLogin(by_port[(h, p)], proto, not_tried=why) for proto, h, p in points if (h, p) in by_port]


async def _guarded(family: str, probe: Awaitable[T], failed: Callable[[str], T], notes: list[str]) -> T:
    """The probe's facts; when an exception escapes it (a bug, a device that broke a parser), that family's
    facts built by ``failed`` from the reason, which is also noted: the other families keep their results."""
    try:
        return await probe
    except Exception as exc:  # any escaped error is this family's, and is reported as such
        reason = f"the {family} probe failed: {type(exc).__name__}: {exc}"[:300]
        notes.append(reason)
        return failed(reason)


def _points(found: Discovered, *names: str) -> list[tuple[str, int]]:
    return list(dict.fromkeys((s.host, s.port) for s in found.of(*names)))


def _web(found: Discovered) -> list[NetworkService]:
    return [s for s in found.services if s.transport == "tcp" and s.name in ("http", "https")]


def _failed(found: Discovered) -> dict[str, Callable[[str], object]]:
    """Per family: its facts when its probe failed with ``reason``. Every service it should have judged is kept,
    with the reason, so its checks say INCONCLUSIVE (NOT_APPLICABLE only when there was nothing to probe)."""

    def logins(protocol: str, services: list[NetworkService], why: str) -> tuple[ServiceLogin, ...]:
        return tuple(ServiceLogin(s, protocol, not_tried=why) for s in services)

    def mqtt_facts(why: str) -> MqttFacts:
        return MqttFacts(tuple(MqttService(s.host, s.port, s.tls or s.port == MQTT_TLS_PORT or s.name == "mqtts",
                                           error=why) for s in found.of(*MQTT_NAMES)), (why,))

    def telnet(why: str) -> TelnetFacts:
        return TelnetFacts(tuple(TelnetService(s, "unreachable", reason=why) for s in found.of("telnet")),
                           logins("telnet", found.of("telnet"), why))

    return {
        "telnet": telnet,
        "ssh": lambda why: SshFacts(tuple(SshService(s, reason=why) for s in found.of("ssh")),
                                    logins("ssh", found.of("ssh"), why)),
        "ftp": lambda why: FtpFacts(tuple(FtpService(s, reason=why) for s in found.of("ftp")),
                                    logins("ftp", found.of("ftp"), why)),
        "web": lambda why: HttpFacts(tuple(WebService(s, s.tls or s.name == "https", reason=why)
                                           for s in _web(found)), (why,)),
        "TLS": lambda why: TlsFacts(tuple(TlsService(s, reason=why) for s in tls_services(found)), notes=(why,)),
        "MQTT": mqtt_facts,
        "RTSP": lambda why: RtspFacts(tuple(RtspService(h, p, error=why) for h, p in _points(found, *RTSP_NAMES)),
                                      (why,)),
        "SNMP": lambda why: SnmpFacts(tuple(SnmpService(h, p, error=why) for h, p in _points(found, *SNMP_NAMES)),
                                      (why,)),
        "UPnP": lambda why: UpnpFacts(tuple(UpnpDevice(h, p, error=why) for h, p in _points(found, *UPNP_NAMES)),
                                      (why,)),
        "CoAP": lambda why: CoapFacts(tuple(CoapService(h, p, error=why) for h, p in _points(found, *COAP_NAMES)),
                                      (why,)),
        "TFTP": lambda why: TftpFacts(tuple(TftpService(h, p, error=why) for h, p in _points(found, *TFTP_NAMES)),
                                      (why,)),
    }


async def gather_device(scope: Scope, options: DeviceOptions,
                        on_phase: Callable[[str], None] | None = None) -> DeviceFacts:
    """Run every phase against the scope; the facts for the checks and the audit log."""
    tell = on_phase or (lambda _phase: None)
    net = Network(scope, options.limits)
    tell("discovery")
    found = await discover(net, scope, options)
    found = replace(found, names=tuple((str(ip), name) for name, ips in scope.names.items() for ip in ips))
    tell("protocols")
    notes = list(found.notes)
    failed = _failed(found)

    def guard(family: str, probe: Awaitable[T]) -> Awaitable[T]:
        return _guarded(family, probe, failed[family], notes)  # type: ignore[arg-type]

    (telnet, ssh, ftp, web, tls, mqtt), (rtsp, snmp, upnp, coap, tftp) = await asyncio.gather(
        asyncio.gather(guard("telnet", probe_telnet(net, found, options)), guard("ssh", probe_ssh(net, found, options)),
                       guard("ftp", probe_ftp(net, found, options)), guard("web", probe_http(net, found, options)),
                       guard("TLS", probe_tls(net, found, options)), guard("MQTT", probe_mqtt(net, found, options))),
        asyncio.gather(guard("RTSP", probe_rtsp(net, found, options)), guard("SNMP", probe_snmp(net, found, options)),
                       guard("UPnP", probe_upnp(net, found, options)), guard("CoAP", probe_coap(net, found, options)),
                       guard("TFTP", probe_tftp(net, found, options))))
    tell("logins")
    more = await _guarded("MQTT/RTSP login", _mqtt_rtsp_logins(net, mqtt, rtsp, found, options),
                          lambda why: list(_not_tried(mqtt, rtsp, found, why)), notes)
    logins = LoginFacts.merge(telnet.logins, ssh.logins, ftp.logins, web.logins, more)
    tell("input handling")
    inputs = frames = None
    if options.input_probes:
        inputs = await _guarded("input handling", probe_input(net, found, options, web),
                                lambda why: InputFacts(services=tuple(s.where for s in web.services), skipped=(why,),
                                                       notes=(why,)), notes)
        frames = await _guarded(
            "malformed frames", probe_frames(net, found, options),
            lambda why: FrameFacts(services=tuple(f"{s.host}:{s.port}" for s in found.services
                                                  if s.name in FRAME_PROTOCOLS), skipped=(why,), notes=(why,)),
            notes)
    facts: dict[type, object] = {
        Discovered: found, TelnetFacts: telnet, SshFacts: ssh, FtpFacts: ftp, HttpFacts: web, TlsFacts: tls,
        MqttFacts: mqtt, RtspFacts: rtsp, SnmpFacts: snmp, UpnpFacts: upnp, CoapFacts: coap, TftpFacts: tftp,
        LoginFacts: logins}
    if inputs is not None:
        facts[InputFacts] = inputs
    if frames is not None:
        facts[FrameFacts] = frames
    return DeviceFacts(found, facts, tuple(net.log), notes)


def services_of(found: Discovered) -> tuple[NetworkService, ...]:
    return tuple(sorted(found.services, key=lambda s: (s.host, s.transport, s.port)))
