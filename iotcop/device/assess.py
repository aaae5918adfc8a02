"""One live assessment: discovery, the protocol probes, the credential phase, input handling last.

Phases run in this order because each one's traffic may disturb the next: the probes that only look go
first (together: the Network bounds concurrency and rate), logins and the brute-force series next, and the
input probes, which may crash the device, last and alone. ``on_phase`` is told each phase as it starts (the
CLI shows it as progress). Nothing here raises for a device that misbehaves: every probe records its reasons.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from iotcop.device.coap import CoapFacts, probe_coap
from iotcop.device.discovery import discover
from iotcop.device.ftp import FtpFacts, probe_ftp
from iotcop.device.http import HttpFacts, probe_http
from iotcop.device.loginfacts import LoginFacts, ServiceLogin, judge_logins
from iotcop.device.mqtt import MqttAuthenticator, MqttFacts, probe_mqtt
from iotcop.device.net import Network
from iotcop.device.options import DeviceOptions, Discovered
from iotcop.device.rtsp import RtspAuthenticator, RtspFacts, probe_rtsp
from iotcop.device.scope import Scope
from iotcop.device.snmp import SnmpFacts, probe_snmp
from iotcop.device.ssh import SshFacts, probe_ssh
from iotcop.device.telnet import TelnetFacts, probe_telnet
from iotcop.device.tftp import TftpFacts, probe_tftp
from iotcop.device.tls import TlsFacts, probe_tls
from iotcop.device.upnp import UpnpFacts, probe_upnp
from iotcop.device.webinput import InputFacts, probe_input
from iotcop.model import Connection, NetworkService

PHASES = ("discovery", "protocols", "logins", "input handling")


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


async def gather_device(scope: Scope, options: DeviceOptions,
                        on_phase: Callable[[str], None] | None = None) -> DeviceFacts:
    """Run every phase against the scope; the facts for the checks and the audit log."""
    tell = on_phase or (lambda _phase: None)
    net = Network(scope, options.limits)
    tell("discovery")
    found = await discover(net, scope, options)
    tell("protocols")
    (telnet, ssh, ftp, web, tls, mqtt), (rtsp, snmp, upnp, coap, tftp) = await asyncio.gather(
        asyncio.gather(probe_telnet(net, found, options), probe_ssh(net, found, options),
                       probe_ftp(net, found, options), probe_http(net, found, options),
                       probe_tls(net, found, options), probe_mqtt(net, found, options)),
        asyncio.gather(probe_rtsp(net, found, options), probe_snmp(net, found, options),
                       probe_upnp(net, found, options), probe_coap(net, found, options),
                       probe_tftp(net, found, options)))
    tell("logins")
    more = await _mqtt_rtsp_logins(net, mqtt, rtsp, found, options)
    logins = LoginFacts.merge(telnet.logins, ssh.logins, ftp.logins, web.logins, more)
    tell("input handling")
    inputs = await probe_input(net, found, options, web) if options.input_probes else None
    facts: dict[type, object] = {
        Discovered: found, TelnetFacts: telnet, SshFacts: ssh, FtpFacts: ftp, HttpFacts: web, TlsFacts: tls,
        MqttFacts: mqtt, RtspFacts: rtsp, SnmpFacts: snmp, UpnpFacts: upnp, CoapFacts: coap, TftpFacts: tftp,
        LoginFacts: logins}
    if inputs is not None:
        facts[InputFacts] = inputs
    return DeviceFacts(found, facts, tuple(net.log), list(found.notes))


def services_of(found: Discovered) -> tuple[NetworkService, ...]:
    return tuple(sorted(found.services, key=lambda s: (s.host, s.transport, s.port)))
