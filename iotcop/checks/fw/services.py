"""Firmware checks on the services started at boot and their configuration (guideline 6; EN 303 645 5.6-x,
5.5-1, 5.1-x). A daemon started at boot is a finding of the check's severity; one installed but never started
is an INFO observation ("present but not started at boot"), which never fails a requirement."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

from iotcop.checks.registry import CheckSpec, check, spec_of
from iotcop.errors import CannotAssess, NotApplicable
from iotcop.firmware.serviceconf import (
    Flag,
    Scope,
    Service,
    ServiceConfig,
    Source,
    bind_shells,
    console_sessions,
    endpoint_list,
    exposed_listeners,
    listening_everywhere,
    plain_http,
    present_only,
)
from iotcop.firmware.services import BootCommand, BootServices
from iotcop.model import Evidence, EvidenceKind, Finding, Location, Severity

TELNET_DAEMONS = ("telnetd", "utelnetd", "in.telnetd")
FTP_DAEMONS = ("ftpd", "in.ftpd", "vsftpd", "proftpd", "pure-ftpd", "bftpd", "uftpd")
TFTP_DAEMONS = ("tftpd", "in.tftpd", "atftpd", "tftpd-hpa", "opentftpd")
RLOGIN_DAEMONS = ("rlogind", "in.rlogind", "rshd", "in.rshd", "rexecd", "in.rexecd")
DEBUG_DAEMONS = ("adbd", "gdbserver", "lldb-server", "frida-server", "tcf-agent")
DEFAULT_COMMUNITIES = ("public", "private")  # the SNMPv1/v2c defaults of net-snmp's examples and most agents
S = TypeVar("S", bound=Service)
NO_BOOT = "no inittab, init script, inetd or systemd configuration found in the image"


def _why(flag: Flag) -> str:
    return f" ({flag.why})" if flag.why else ""


def _started(spec: CheckSpec, command: BootCommand, detail: str = "", severity: Severity | None = None) -> Finding:
    listen = f", accepting connections on {command.listen}" if command.listen else ""
    return spec.finding(message=f"{command.program} is started at boot by {command.path} ({command.via}){listen}."
                        + (f" {detail}" if detail else ""), severity=severity or spec.severity,
                        location=Location.in_image(command.path, line=command.line),
                        evidence=Evidence.of(command.raw_line, f"parsed {command.via} commands"))


def _daemons(spec: CheckSpec, boot: BootServices, programs: Sequence[str]) -> Iterator[Finding]:
    """Findings for started daemons, and INFO ones for those installed but never started."""
    if not boot.sources:
        raise CannotAssess(NO_BOOT)
    yield from (_started(spec, c) for c in boot.started(*programs))
    for path in present_only(boot, programs):
        yield spec.finding(severity=Severity.INFO, location=Location.in_image(path),
                           message=f"{path} is present but not started at boot: no inittab line, init script, "
                                   "inetd/xinetd entry, cron job or systemd unit starts it.",
                           evidence=Evidence.of(path, "programs installed in bin directories"))


def _subjects(services: Sequence[S], boot: BootServices, what: str) -> Sequence[S]:
    if not services:
        raise NotApplicable(f"no {what} in the image")
    if not boot.sources and all(s.started is None for s in services):
        raise CannotAssess(f"{NO_BOOT}: whether the {what} is started cannot be told")
    return services


def _service(spec: CheckSpec, service: Service, message: str, where: Source | None = None,
             severity: Severity | None = None) -> Finding:
    """A finding about a configured service; INFO when the service is not started at boot."""
    where = where or service.where
    if service.started is None:
        severity, message = Severity.INFO, f"{message} It is present but not started at boot."
    return spec.finding(message=message, location=Location.in_image(where.path, line=where.line),
                        severity=severity or spec.severity,
                        evidence=Evidence.of(where.excerpt or where.path, "parsed service configuration"))


@check(
    id="fw.services.telnet-enabled",
    title="A telnet server is started at boot",
    kind=EvidenceKind.FIRMWARE, severity=Severity.HIGH,
    remediation="Remove telnetd from the boot path; offer SSH with keys or per-device credentials if needed.",
)
def telnet_enabled(boot: BootServices) -> Iterator[Finding]:
    """Telnet sends the login password in clear text and is the first door the Mirai family tries;
    a consumer device has no use for it in normal operation (on any port)."""
    yield from _daemons(spec_of(telnet_enabled), boot, TELNET_DAEMONS)


@check(
    id="fw.services.ftp-enabled",
    title="An FTP server is started at boot",
    kind=EvidenceKind.FIRMWARE, severity=Severity.MEDIUM,
    remediation="Remove the FTP server from the boot path; transfer files over HTTPS or SFTP if needed.",
)
def ftp_enabled(boot: BootServices) -> Iterator[Finding]:
    """FTP carries user names, passwords and files in clear text; a service not needed for the device's
    intended use widens its attack surface (5.6-5)."""
    yield from _daemons(spec_of(ftp_enabled), boot, FTP_DAEMONS)


@check(
    id="fw.services.tftp-enabled",
    title="A TFTP server is started at boot",
    kind=EvidenceKind.FIRMWARE, severity=Severity.MEDIUM,
    remediation="Run no TFTP server in normal operation; if recovery needs one, start it only in that mode.",
)
def tftp_enabled(boot: BootServices) -> Iterator[Finding]:
    """TFTP has no authentication at all: anyone who can reach it reads (and often writes) the files it
    serves."""
    spec = spec_of(tftp_enabled)
    yield from _daemons(spec, boot, TFTP_DAEMONS)
    for command in boot.started("dnsmasq"):
        if any(a == "--enable-tftp" or a.startswith("--enable-tftp=") for a in command.args):
            yield _started(spec, command, "dnsmasq is given --enable-tftp: it serves files over TFTP.")


@check(
    id="fw.services.rlogin-enabled",
    title="An rlogin, rsh or rexec server is started at boot",
    kind=EvidenceKind.FIRMWARE, severity=Severity.HIGH,
    remediation="Remove the r-services (rlogind, rshd, rexecd); use SSH.",
)
def rlogin_enabled(boot: BootServices) -> Iterator[Finding]:
    """The BSD r-services send passwords in clear text or trust the client's address and user name, which
    anyone on the network can forge."""
    yield from _daemons(spec_of(rlogin_enabled), boot, RLOGIN_DAEMONS)


@check(
    id="fw.services.debug-daemon",
    title="A debug daemon or a network shell is started at boot",
    kind=EvidenceKind.FIRMWARE, severity=Severity.HIGH,
    remediation="Remove debug agents (adbd, gdbserver, ...) and shells bound to ports from production firmware.",
)
def debug_daemon(boot: BootServices) -> Iterator[Finding]:
    """A debug agent lets whoever reaches it read and change the memory of processes, and a shell bound to a
    port (``nc -l -e /bin/sh``) hands out a root shell without a password; neither belongs in a product."""
    spec = spec_of(debug_daemon)
    yield from _daemons(spec, boot, DEBUG_DAEMONS)
    for command, why in bind_shells(boot):
        yield _started(spec, command, f"It is a network shell: {why}, with no password.", severity=Severity.CRITICAL)


@check(
    id="fw.services.serial-console",
    title="A console gives a shell without a password",
    kind=EvidenceKind.FIRMWARE, severity=Severity.HIGH,
    remediation="Ask for a password on every console (getty with /bin/login, OpenWrt system.ttylogin '1'), or "
                "disable the serial console in production builds.",
)
def serial_console(boot: BootServices, config: ServiceConfig) -> Iterator[Finding]:
    """Whoever connects to the serial port (a few pins on the board) or a console gets a root shell without
    authenticating: a physically accessible debug interface left enabled (5.6-4)."""
    sessions = console_sessions(boot, config.console_login)
    if not boot.sources and not sessions:
        raise CannotAssess(NO_BOOT)
    for session in sessions:
        kind = "serial console" if session.serial else "terminal"
        yield spec_of(serial_console).finding(
            message=f"The {kind} {session.terminal} gives a shell without a password: {session.why} "
                    f"({session.path}{f':{session.line}' if session.line else ''}).",
            location=Location.in_image(session.path, line=session.line),
            evidence=Evidence.of(session.excerpt, "parsed inittab, its scripts and systemd getty units"))


def _flags(spec: CheckSpec, service: Service, checks: Sequence[tuple[Flag, str, Severity]]) -> Iterator[Finding]:
    """The first flag that is on gives a finding; one that is off but turned on by a Match block gives one."""
    for flag, what, severity in checks:
        if flag.on:
            yield _service(spec, service, f"{service.describe()}: {what}{_why(flag)}.", flag.source, severity)
            return
        for where in flag.conditional:
            yield _service(spec, service, f"{service.describe()}: {what} for the clients of a Match block.",
                           where, severity)


@check(
    id="fw.services.ssh-password-login",
    title="The SSH server accepts password logins",
    kind=EvidenceKind.FIRMWARE, severity=Severity.MEDIUM,
    remediation="Disable password logins (PasswordAuthentication no; dropbear -s, OpenWrt PasswordAuth '0'), at "
                "least for root (PermitRootLogin prohibit-password; dropbear -g), and use keys.",
)
def ssh_password_login(boot: BootServices, config: ServiceConfig) -> Iterator[Finding]:
    """Password logins over SSH can be guessed from the network; for root, a single guessed password gives
    the whole device, and an account with an empty password needs no guess at all (5.1-1, 5.1-5)."""
    spec = spec_of(ssh_password_login)
    for server in _subjects(config.ssh, boot, "SSH server (OpenSSH, dropbear)"):
        yield from _flags(spec, server, [
            (server.empty_passwords, "accounts with an empty password can log in", Severity.HIGH),
            (server.root_password_login, "root can log in with a password", Severity.MEDIUM),
            (server.password_login, "password logins are enabled", Severity.LOW)])


@check(
    id="fw.services.http-admin-plaintext",
    title="A web server started at boot serves plain HTTP without HTTPS",
    kind=EvidenceKind.FIRMWARE, severity=Severity.MEDIUM,
    remediation="Serve the web interface over HTTPS only, and redirect plain HTTP to it (uhttpd redirect_https "
                "'1', lighttpd url.redirect, nginx return 301 https://...).",
)
def http_admin_plaintext(boot: BootServices, config: ServiceConfig) -> Iterator[Finding]:
    """A web interface on plain HTTP sends its login and every setting in clear text to anyone on the path;
    HTTPS that is offered but not enforced leaves the plain door open (5.5-1, 5.1-3)."""
    spec = spec_of(http_admin_plaintext)
    servers = _subjects(config.web, boot, "web server")
    if all(not s.endpoints for s in servers):
        raise CannotAssess(f"the configuration of {', '.join(s.name for s in servers)} is not read by iotcop")
    for server in servers:
        plain, secure = plain_http(server)
        if not plain:
            continue
        message = f"{server.describe()} serves plain HTTP on {endpoint_list(plain)}"
        if secure:
            message += f"; HTTPS is offered on {', '.join(map(str, secure))} but plain HTTP is not redirected to it."
        else:
            message += " and offers no HTTPS: logins to its web interface cross the network in clear text."
        yield _service(spec, server, message, plain[0].source, Severity.LOW if secure else None)


@check(
    id="fw.services.mqtt-anonymous",
    title="The MQTT broker accepts clients without credentials",
    kind=EvidenceKind.FIRMWARE, severity=Severity.HIGH,
    remediation="Set allow_anonymous false with a password_file or client certificates on every listener.",
)
def mqtt_anonymous(boot: BootServices, config: ServiceConfig) -> Iterator[Finding]:
    """An MQTT broker that lets anyone connect without a user name lets them read every message (sensor
    data, commands) and publish commands to the device."""
    spec = spec_of(mqtt_anonymous)
    for broker in _subjects(config.mqtt, boot, "MQTT broker (mosquitto)"):
        for listener in exposed_listeners(broker):
            anonymous = listener.anonymous
            if anonymous.on is not False:
                yield _service(spec, broker, f"{broker.describe()} {'accepts' if anonymous.on else 'may accept'} "
                               f"anonymous clients on {listener.endpoint}{_why(anonymous)}.",
                               anonymous.source or listener.endpoint.source, None if anonymous.on else Severity.LOW)


@check(
    id="fw.services.mqtt-plaintext",
    title="The MQTT broker listens without TLS",
    kind=EvidenceKind.FIRMWARE, severity=Severity.MEDIUM,
    remediation="Configure certfile and keyfile (TLS, port 8883) on every listener reachable from the network.",
)
def mqtt_plaintext(boot: BootServices, config: ServiceConfig) -> Iterator[Finding]:
    """Plain MQTT sends user names, passwords and every message in clear text (5.5-1)."""
    spec = spec_of(mqtt_plaintext)
    for broker in _subjects(config.mqtt, boot, "MQTT broker (mosquitto)"):
        for listener in (lst for lst in exposed_listeners(broker) if not lst.endpoint.tls):
            note = _why(listener.anonymous) if listener.version_dependent else ""
            yield _service(spec, broker, f"{broker.describe()} listens on {listener.endpoint} without TLS{note}.",
                           listener.endpoint.source, Severity.LOW if listener.version_dependent else None)


@check(
    id="fw.services.snmp-default-community",
    title="The SNMP agent uses a default community",
    kind=EvidenceKind.FIRMWARE, severity=Severity.HIGH,
    remediation="Remove the public/private communities; use SNMPv3 users with authentication and privacy.",
)
def snmp_default_community(boot: BootServices, config: ServiceConfig) -> Iterator[Finding]:
    """The 'public' and 'private' communities are the first values anyone tries: they disclose the device's
    configuration (5.6-2) and, when writable, let anyone change it."""
    spec = spec_of(snmp_default_community)
    for agent in _subjects(config.snmp, boot, "SNMP agent"):
        for community in agent.communities:
            if community.name.lower() not in DEFAULT_COMMUNITIES:
                continue
            local = community.local_only or all(e.scope is Scope.LOOPBACK for e in agent.endpoints)
            access = "read-write" if community.write else "read-only" if community.write is False else "read"
            message = (f"{agent.describe()} has the default {access} community {community.name!r}, usable from "
                       f"{'this device only' if local else community.allowed_from}.")
            severity = Severity.INFO if local else None if community.write is not False else Severity.MEDIUM
            yield _service(spec, agent, message, community.source, severity)


@check(
    id="fw.services.upnp-igd-enabled",
    title="A UPnP Internet Gateway Device is enabled",
    kind=EvidenceKind.FIRMWARE, severity=Severity.MEDIUM,
    remediation="Ship UPnP IGD disabled (OpenWrt upnpd enabled '0'), or at least in secure mode so that a "
                "client can only map ports to itself.",
)
def upnp_igd_enabled(boot: BootServices, config: ServiceConfig) -> Iterator[Finding]:
    """UPnP IGD lets any program on the local network open ports in the router's firewall, without
    authentication; without secure mode it can open them towards other hosts too (5.6-1)."""
    spec = spec_of(upnp_igd_enabled)
    for igd in _subjects(config.upnp, boot, "UPnP IGD server (miniupnpd)"):
        if igd.enabled.on is False and igd.started is not None:
            continue
        secure = igd.secure_mode
        mode = ("secure mode is off: clients may map ports to other hosts" if secure.on is False else
                "secure mode is on" if secure.on else secure.why)
        yield _service(spec, igd, f"{igd.describe()} offers UPnP port mapping ({mode}).",
                       igd.switch or igd.enabled.source, Severity.HIGH if secure.on is False else None)


@check(
    id="fw.services.listens-all-interfaces",
    title="A service started at boot listens on all interfaces",
    kind=EvidenceKind.FIRMWARE, severity=Severity.INFO,
    remediation="Bind each service where it is needed (the LAN, or loopback for local clients), not to 0.0.0.0.",
)
def listens_all_interfaces(boot: BootServices, config: ServiceConfig) -> Iterator[Finding]:
    """A service bound to every interface is reachable from every network the device joins (WAN, guest,
    VPN), not only where it is used (5.6-1). Whether an interface is used cannot be told from the image, so
    each is an observation for review (INFO): a live scan of the device's networks settles it."""
    if not boot.sources:
        raise CannotAssess(NO_BOOT)
    for item in listening_everywhere(boot, config):
        yield spec_of(listens_all_interfaces).finding(
            message=f"{item.service} listens on all interfaces ({item.endpoint.transport} {item.endpoint}).",
            location=Location.in_image(item.where.path, line=item.where.line),
            evidence=Evidence.of(item.where.excerpt or item.where.path, "parsed service configuration"))
