"""Configuration of the services an image starts (iotcop.firmware.serviceconf and its parsers): SSH, web,
MQTT, SNMP and UPnP servers, on the configuration files Debian, OpenWrt and Buildroot ship."""

from __future__ import annotations

from pathlib import Path

import serviceconfigs as cfg
from fwimages import write_tree
from hypothesis import given, settings
from hypothesis import strategies as st

from iotcop.firmware.filesystem import FileSystem
from iotcop.firmware.lanconf import parse_mosquitto, parse_snmpd
from iotcop.firmware.serviceconf import ConfigFiles, Endpoint, Scope, ServiceConfig, collect_service_config
from iotcop.firmware.services import collect_boot_services
from iotcop.firmware.servicetypes import split_hostport
from iotcop.firmware.sshconf import parse_dropbear_args, parse_sshd_config
from iotcop.firmware.webconf import parse_lighttpd, parse_nginx

SYSTEMD_WANTS = "/etc/systemd/system/multi-user.target.wants/"


def config_of(root: Path, files: dict[str, str], links: dict[str, str] | None = None) -> ServiceConfig:
    fs = FileSystem.scan(write_tree(root, files=files, links=links))
    return collect_service_config(fs, collect_boot_services(fs))


def line_of(text: str, snippet: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if snippet in line)


def ends(endpoints: tuple[Endpoint, ...] | list[Endpoint]) -> set[tuple[str, int | None, bool]]:
    return {(e.address, e.port, e.tls) for e in endpoints}


# --- SSH ------------------------------------------------------------------------------------------------------


def debian_ssh(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"/etc/ssh/sshd_config": cfg.DEBIAN_SSHD_CONFIG, "/lib/systemd/system/ssh.service": cfg.DEBIAN_SSH_SERVICE,
            "/usr/sbin/sshd": "\x7fELF", **(extra or {})}


SSH_LINK = {SYSTEMD_WANTS + "ssh.service": "/lib/systemd/system/ssh.service"}


def test_debian_sshd_defaults(tmp_path: Path) -> None:
    [ssh] = config_of(tmp_path, debian_ssh(), SSH_LINK).ssh
    assert (ssh.name, ssh.started.path if ssh.started else None) == ("openssh", "/lib/systemd/system/ssh.service")
    assert (ssh.password_login.on, ssh.password_login.source) == (True, None)  # '#PasswordAuthentication yes'
    assert ssh.password_login.why == "OpenSSH's default: PasswordAuthentication yes"
    assert (ssh.root_password_login.on, ssh.empty_passwords.on) == (False, False)  # prohibit-password by default
    assert ends(ssh.endpoints) == {("0.0.0.0", 22, False), ("::", 22, False)}
    assert ssh.notes == ("/etc/ssh/sshd_config:12: 'Include /etc/ssh/sshd_config.d/*.conf' was not followed; "
                         "settings in those files are not known (sshd reads them where the Include stands)",)


def test_sshd_first_value_wins_and_match_blocks(tmp_path: Path) -> None:
    text = ("PermitRootLogin yes\nPermitRootLogin no\nPasswordAuthentication no\nListenAddress 192.168.1.1\n"
            "ListenAddress [::1]:2222\nPort 22\nPort 2200\n"
            "Match Address 10.0.0.0/8\n\tPasswordAuthentication yes\n\tPermitEmptyPasswords yes\nMatch all\n")
    [ssh] = config_of(tmp_path, debian_ssh({"/etc/ssh/sshd_config": text}), SSH_LINK).ssh
    assert (ssh.password_login.on, ssh.password_login.source.line) == (False, 3)  # type: ignore[union-attr]
    assert [(s.line, s.excerpt) for s in ssh.password_login.conditional] == [
        (9, "Match Address 10.0.0.0/8: PasswordAuthentication yes")]
    assert ssh.root_password_login.on is False  # passwords are off, whatever PermitRootLogin says
    assert [s.line for s in ssh.empty_passwords.conditional] == [10]
    assert ends(ssh.endpoints) == {("192.168.1.1", 22, False), ("192.168.1.1", 2200, False), ("::1", 2222, False)}


def test_sshd_command_line_options_win(tmp_path: Path) -> None:
    options = "-D -f /etc/ssh/device_sshd -o PermitRootLogin=yes -p 2022"
    service = cfg.DEBIAN_SSH_SERVICE.replace("-D $SSHD_OPTS", options)
    [ssh] = config_of(tmp_path, debian_ssh({"/lib/systemd/system/ssh.service": service,
                                            "/etc/ssh/device_sshd": "PermitRootLogin no\n"}), SSH_LINK).ssh
    assert ssh.configs == ("/etc/ssh/device_sshd",)
    assert ssh.root_password_login.on is True
    assert ssh.root_password_login.source.path == "/lib/systemd/system/ssh.service"  # type: ignore[union-attr]
    assert ends(ssh.endpoints) == {("0.0.0.0", 2022, False), ("::", 2022, False)}


def test_dropbear_flags() -> None:
    assert parse_dropbear_args(["-F", "-s", "-g"]).no_passwords
    grouped = parse_dropbear_args(["-sgwB", "-p", "127.0.0.1:2222", "-p2200", "-P", "/var/run/d.pid", "-r",
                                   "/etc/dropbear/key"])
    assert (grouped.no_passwords, grouped.no_root_passwords, grouped.no_root, grouped.blank_passwords) == (
        True, True, True, True)
    assert grouped.listen == ["127.0.0.1:2222", "2200"]
    value_first = parse_dropbear_args(["-pgs"])  # '-p' takes 'gs' as its value: no -g, no -s
    assert (value_first.listen, value_first.no_passwords) == (["gs"], False)
    assert parse_dropbear_args(["$DROPBEAR_ARGS"]).unresolved == ["$DROPBEAR_ARGS"]


def test_buildroot_dropbear(tmp_path: Path) -> None:
    files = {"/etc/inittab": cfg.BUILDROOT_INITTAB, "/etc/init.d/rcS": cfg.BUILDROOT_RCS,
             "/etc/init.d/S50dropbear": cfg.BUILDROOT_S50DROPBEAR, "/usr/sbin/dropbear": "\x7fELF"}
    [plain] = config_of(tmp_path / "plain", files).ssh
    assert (plain.password_login.on, plain.root_password_login.on) == (True, True)
    assert plain.password_login.source is not None and plain.password_login.source.line == 15
    assert ends(plain.endpoints) == {("", 22, False)}
    [hardened] = config_of(tmp_path / "hardened", {**files, "/etc/default/dropbear": "DROPBEAR_ARGS='-s -g'\n"}).ssh
    assert (hardened.password_login.on, hardened.root_password_login.on) == (False, False)


def openwrt_dropbear(config: str = cfg.OPENWRT_DROPBEAR_CONFIG) -> tuple[dict[str, str], dict[str, str]]:
    return ({"/etc/init.d/dropbear": cfg.OPENWRT_DROPBEAR_INIT, "/etc/config/dropbear": config,
             "/usr/sbin/dropbear": "\x7fELF"}, {"/etc/rc.d/S19dropbear": "../init.d/dropbear"})


def test_openwrt_dropbear_defaults(tmp_path: Path) -> None:
    [ssh] = config_of(tmp_path, *openwrt_dropbear()).ssh
    assert ssh.started is not None
    assert ssh.started.line == line_of(cfg.OPENWRT_DROPBEAR_INIT, 'procd_set_param command "$PROG"')
    assert (ssh.password_login.on, ssh.password_login.source.excerpt) == (True, "option PasswordAuth '1'")  # type: ignore[union-attr]
    assert (ssh.root_password_login.on, ssh.root_password_login.source.line) == (True, 5)  # type: ignore[union-attr]
    assert ends(ssh.endpoints) == {("", 22, False)}


def test_openwrt_dropbear_hardened_and_disabled(tmp_path: Path) -> None:
    text = ("config dropbear\n\toption PasswordAuth 'off'\n\toption RootPasswordAuth 'off'\n\toption Port '2222'\n"
            "\toption Interface 'lan'\n"
            "config dropbear\n\toption enable '0'\n\toption Port '22'\n")
    hardened, disabled = config_of(tmp_path, *openwrt_dropbear(text)).ssh
    assert (hardened.password_login.on, hardened.root_password_login.on) == (False, False)
    assert ends(hardened.endpoints) == {("lan", 2222, False)} and hardened.endpoints[0].scope is Scope.SPECIFIC
    assert disabled.started is None and disabled.notes == ("instance disabled in /etc/config/dropbear "
                                                           "(option enable '0')",)


def test_dropbear_not_enabled_by_rc_link_is_present_only(tmp_path: Path) -> None:
    files, _ = openwrt_dropbear()
    [ssh] = config_of(tmp_path, files).ssh
    assert (ssh.started, ssh.program) == (None, "/usr/sbin/dropbear")


# --- web servers -----------------------------------------------------------------------------------------------

LIGHTTPD_LINK = {SYSTEMD_WANTS + "lighttpd.service": "/lib/systemd/system/lighttpd.service"}


def debian_lighttpd(**enabled: str) -> dict[str, str]:
    return {"/etc/lighttpd/lighttpd.conf": cfg.DEBIAN_LIGHTTPD_CONF, "/usr/sbin/lighttpd": "\x7fELF",
            "/lib/systemd/system/lighttpd.service": cfg.DEBIAN_LIGHTTPD_SERVICE,
            **{f"/etc/lighttpd/conf-enabled/{name}.conf": text for name, text in enabled.items()}}


def test_debian_lighttpd_plain(tmp_path: Path) -> None:
    [web] = config_of(tmp_path, debian_lighttpd(), LIGHTTPD_LINK).web
    assert web.name == "lighttpd" and web.configs == ("/etc/lighttpd/lighttpd.conf",)
    assert ends(web.endpoints) == {("", 80, False)}
    assert web.endpoints[0].source.line == 14  # type: ignore[union-attr]  # server.port = 80
    assert web.endpoints[0].redirect is None and web.auth.on is None
    assert any("use-ipv6.pl" in n for n in web.notes)


def test_debian_lighttpd_with_ssl_and_redirect(tmp_path: Path) -> None:
    [ssl_only] = config_of(tmp_path / "a", debian_lighttpd(**{"10-ssl": cfg.DEBIAN_LIGHTTPD_SSL}), LIGHTTPD_LINK).web
    assert ends(ssl_only.endpoints) == {("", 80, False), ("0.0.0.0", 443, True)}
    [redirected] = config_of(tmp_path / "b", debian_lighttpd(**{"10-ssl": cfg.DEBIAN_LIGHTTPD_SSL,
                                                                "20-redirect": cfg.LIGHTTPD_REDIRECT}),
                             LIGHTTPD_LINK).web
    plain = [e for e in redirected.endpoints if not e.tls]
    assert [(e.redirect.path, e.redirect.line) for e in plain if e.redirect] == [
        ("/etc/lighttpd/conf-enabled/20-redirect.conf", 2)]


def test_lighttpd_global_ssl_bind_and_auth() -> None:
    files = ConfigFiles.of({})
    text = ('server.bind = "127.0.0.1"\nserver.port = 8080\n$SERVER["socket"] == "[::]:8443" {\n'
            '  ssl.engine = "enable"\n  url.redirect = ( "" => "https://x/" )\n}\nauth.require = ( "/" => ( "method" '
            '=> "basic" ) )\n# server.port = 81\n')
    state = parse_lighttpd(text, "/etc/lighttpd.conf", files)
    assert ends(state.endpoints) == {("127.0.0.1", 8080, False), ("::", 8443, True)}
    assert state.auth is not None and state.auth.line == 7
    assert parse_lighttpd('ssl.engine = "enable"\n', "/x").endpoints[0].port == 443


def test_nginx_debian_default_and_tls_site(tmp_path: Path) -> None:
    base = {"/etc/nginx/nginx.conf": cfg.DEBIAN_NGINX_CONF, "/usr/sbin/nginx": "\x7fELF",
            "/etc/nginx/sites-available/default": cfg.DEBIAN_NGINX_DEFAULT_SITE,
            "/etc/init.d/S50nginx": "#!/bin/sh\nstart-stop-daemon -S -x /usr/sbin/nginx -- -c /etc/nginx/nginx.conf\n"}
    link = {"/etc/nginx/sites-enabled/default": "../sites-available/default"}
    [web] = config_of(tmp_path / "a", base, link).web
    assert ends(web.endpoints) == {("", 80, False), ("::", 80, False)}
    assert [e.source.path for e in web.endpoints] == ["/etc/nginx/sites-enabled/default"] * 2  # type: ignore[union-attr]
    [tls] = config_of(tmp_path / "b", {**base, "/etc/nginx/sites-available/default": cfg.NGINX_TLS_SITE}, link).web
    assert ends(tls.endpoints) == {("", 80, False), ("::", 80, False), ("", 443, True), ("::", 443, True)}
    assert all(e.redirect is not None for e in tls.endpoints if not e.tls)
    assert tls.auth.on is True


def openwrt_uhttpd(config: str) -> tuple[dict[str, str], dict[str, str]]:
    return ({"/etc/init.d/uhttpd": cfg.OPENWRT_UHTTPD_INIT, "/etc/config/uhttpd": config,
             "/usr/sbin/uhttpd": "\x7fELF"}, {"/etc/rc.d/S50uhttpd": "../init.d/uhttpd"})


def test_uhttpd(tmp_path: Path) -> None:
    [default] = config_of(tmp_path / "a", *openwrt_uhttpd(cfg.OPENWRT_UHTTPD_CONFIG)).web
    assert ends(default.endpoints) == {("0.0.0.0", 80, False), ("::", 80, False), ("0.0.0.0", 443, True),
                                       ("::", 443, True)}
    assert {e.redirect.excerpt for e in default.endpoints if e.redirect} == {"option redirect_https '1'"}
    no_redirect = cfg.OPENWRT_UHTTPD_CONFIG.replace("option redirect_https\t1", "option redirect_https\t0")
    [plain] = config_of(tmp_path / "b", *openwrt_uhttpd(no_redirect)).web
    assert all(e.redirect is None for e in plain.endpoints)


def test_small_web_servers(tmp_path: Path) -> None:
    script = ("#!/bin/sh\n"
              "httpd -p 127.0.0.1:8080 -h /www -c /etc/httpd.conf\n"
              "/usr/sbin/boa -c /etc/boa\n"
              "mini_httpd -S -E /etc/mini_httpd.pem -p 443 -d /www\n"
              "thttpd -C /etc/thttpd.conf\n")
    config = config_of(tmp_path, {"/etc/init.d/rcS": script, "/etc/httpd.conf": "A:*\n/cgi-bin:admin:admin\n",
                                  "/etc/boa/boa.conf": "Port 8000\nListen 192.168.0.1\nUser nobody\n",
                                  "/etc/thttpd.conf": "# thttpd\nport=8081\ndir=/www\n"})
    assert {(w.name, e.address, e.port, e.tls) for w in config.web for e in w.endpoints} == {
        ("httpd", "127.0.0.1", 8080, False), ("boa", "192.168.0.1", 8000, False),
        ("mini_httpd", "", 443, True), ("thttpd", "", 8081, False)}
    [busybox] = [w for w in config.web if w.name == "httpd"]
    assert busybox.auth.on is True and busybox.auth.source.excerpt == "/cgi-bin:…"  # type: ignore[union-attr]


# --- MQTT, SNMP, UPnP -------------------------------------------------------------------------------------------

MOSQUITTO_LINK = {SYSTEMD_WANTS + "mosquitto.service": "/lib/systemd/system/mosquitto.service"}


def debian_mosquitto(**extra: str) -> dict[str, str]:
    return {"/etc/mosquitto/mosquitto.conf": cfg.DEBIAN_MOSQUITTO_CONF, "/usr/sbin/mosquitto": "\x7fELF",
            "/lib/systemd/system/mosquitto.service": cfg.DEBIAN_MOSQUITTO_SERVICE, **extra}


def test_debian_mosquitto_2_is_local_only(tmp_path: Path) -> None:
    [broker] = config_of(tmp_path, debian_mosquitto(**{"/var/lib/dpkg/status": cfg.DPKG_STATUS_MOSQUITTO}),
                         MOSQUITTO_LINK).mqtt
    assert (broker.version, broker.version_source) == ("2.0.11-1.2+deb12u1", "/var/lib/dpkg/status")
    [listener] = broker.listeners
    assert (listener.endpoint.address, listener.endpoint.port, listener.endpoint.scope) == (
        "127.0.0.1", 1883, Scope.LOOPBACK)
    assert listener.anonymous.on is True and "local-only" in listener.anonymous.why


def test_mosquitto_without_version_depends_on_it(tmp_path: Path) -> None:
    [broker] = config_of(tmp_path, debian_mosquitto(), MOSQUITTO_LINK).mqtt
    [listener] = broker.listeners
    assert (listener.anonymous.on, listener.version_dependent, broker.version) == (None, True, None)
    assert "depends on the mosquitto version" in broker.notes[0]


def test_mosquitto_listeners(tmp_path: Path) -> None:
    local = ("listener 1883 0.0.0.0\nallow_anonymous true\n"
             "listener 8883\ncertfile /etc/mosquitto/certs/server.crt\nkeyfile /etc/mosquitto/certs/server.key\n")
    [broker] = config_of(tmp_path, debian_mosquitto(**{"/etc/mosquitto/conf.d/local.conf": local,
                                                       "/var/lib/dpkg/status": cfg.DPKG_STATUS_MOSQUITTO}),
                         MOSQUITTO_LINK).mqtt
    assert [(lst.endpoint.address, lst.endpoint.port, lst.endpoint.tls, lst.anonymous.on) for lst in
            broker.listeners] == [("0.0.0.0", 1883, False, True), ("", 8883, True, True)]  # a global setting
    assert broker.listeners[0].anonymous.source.path == "/etc/mosquitto/conf.d/local.conf"  # type: ignore[union-attr]


def test_mosquitto_defaults_by_version() -> None:
    conf = parse_mosquitto("per_listener_settings true\nlistener 1883\npassword_file /etc/m/pw\nlistener 1884\n",
                           "/etc/m.conf")
    assert conf.per_listener and conf.listeners[0].secured is not None and conf.listeners[1].secured is None
    from iotcop.firmware.lanconf import _listener

    assert [_listener(s, conf, "2").anonymous.on for s in conf.listeners] == [False, False]
    assert [_listener(s, conf, "1").anonymous.on for s in conf.listeners] == [False, True]
    assert [_listener(s, conf, "").anonymous.on for s in conf.listeners] == [False, None]


def test_debian_snmpd_is_loopback_only(tmp_path: Path) -> None:
    files = {"/etc/snmp/snmpd.conf": cfg.DEBIAN_SNMPD_CONF, "/usr/sbin/snmpd": "\x7fELF",
             "/etc/init.d/S59snmpd": "#!/bin/sh\nstart-stop-daemon -S -x /usr/sbin/snmpd -- -Lsd -p /run/snmpd.pid\n"}
    [agent] = config_of(tmp_path, files).snmp
    assert [(c.name, c.write, c.allowed_from, c.source.line) for c in agent.communities] == [
        ("public", False, "default", line_of(cfg.DEBIAN_SNMPD_CONF, "rocommunity  public")),
        ("public", False, "default", line_of(cfg.DEBIAN_SNMPD_CONF, "rocommunity6 public"))]
    assert {(e.address, e.port, e.scope) for e in agent.endpoints} == {("127.0.0.1", 161, Scope.LOOPBACK),
                                                                       ("::1", 161, Scope.LOOPBACK)}


def test_snmpd_com2sec_and_random_communities() -> None:
    text = ("com2sec readonly default s3cr3t-K9x\ncom2sec readwrite 10.0.0.0/8 private\n"
            "group RO v2c readonly\ngroup RW v2c readwrite\n"
            "access RO \"\" any noauth exact all none none\naccess RW \"\" any noauth exact all all none\n"
            "rwcommunity -V all public 127.0.0.1\nagentaddress udp:161,tcp:192.168.1.1:1161\n")
    communities, listen = parse_snmpd(text, "/etc/snmp/snmpd.conf")
    assert [(c.name, c.write, c.allowed_from) for c in communities] == [
        ("public", True, "127.0.0.1"), ("s3cr3t-K9x", False, "default"), ("private", True, "10.0.0.0/8")]
    assert communities[0].local_only and [a for a, _ in listen] == ["udp:161,tcp:192.168.1.1:1161"]


def test_openwrt_snmpd(tmp_path: Path) -> None:
    files = {"/etc/init.d/snmpd": cfg.OPENWRT_SNMPD_INIT, "/etc/config/snmpd": cfg.OPENWRT_SNMPD_CONFIG,
             "/usr/sbin/snmpd": "\x7fELF"}
    [agent] = config_of(tmp_path, files, {"/etc/rc.d/S50snmpd": "../init.d/snmpd"}).snmp
    assert [(c.name, c.write, c.allowed_from, c.source.line) for c in agent.communities] == [
        ("public", False, "default", 7), ("private", True, "localhost", 12)]
    assert ends(agent.endpoints) == {("", 161, False)}


def openwrt_upnp(config: str) -> tuple[dict[str, str], dict[str, str]]:
    return ({"/etc/init.d/miniupnpd": cfg.OPENWRT_MINIUPNPD_INIT, "/etc/config/upnpd": config,
             "/usr/sbin/miniupnpd": "\x7fELF"}, {"/etc/rc.d/S95miniupnpd": "../init.d/miniupnpd"})


def test_openwrt_upnpd(tmp_path: Path) -> None:
    [default] = config_of(tmp_path / "a", *openwrt_upnp(cfg.OPENWRT_UPNPD_CONFIG)).upnp
    assert default.started is None and default.notes == ("disabled in /etc/config/upnpd (option enabled '0')",)
    on = cfg.OPENWRT_UPNPD_CONFIG.replace("option enabled                    '0'", "option enabled '1'")
    [enabled] = config_of(tmp_path / "b", *openwrt_upnp(on)).upnp
    assert enabled.started is not None and (enabled.enabled.on, enabled.secure_mode.on) == (True, True)
    assert ends(enabled.endpoints) == {("lan", 1900, False)}
    third = on.replace("allow_third_party_mapping  '0'", "allow_third_party_mapping  '1'")
    [insecure] = config_of(tmp_path / "c", *openwrt_upnp(third)).upnp
    assert insecure.secure_mode.on is False and insecure.secure_mode.source.line == 7  # type: ignore[union-attr]


def test_miniupnpd_conf(tmp_path: Path) -> None:
    conf = "ext_ifname=eth1\nlistening_ip=br0\nport=0\nenable_upnp=yes\nsecure_mode=no\n"
    [igd] = config_of(tmp_path, {"/etc/init.d/S80upnp": "#!/bin/sh\nminiupnpd -f /etc/miniupnpd.conf\n",
                                 "/etc/miniupnpd.conf": conf}).upnp
    assert (igd.external, igd.enabled.on, igd.secure_mode.on, igd.secure_mode.source.line) == (  # type: ignore[union-attr]
        "eth1", True, False, 5)


def test_console_login(tmp_path: Path) -> None:
    assert config_of(tmp_path / "a", {"/etc/config/system": cfg.OPENWRT_SYSTEM_CONFIG}).console_login.on is False  # type: ignore[union-attr]
    on = cfg.OPENWRT_SYSTEM_CONFIG.replace("ttylogin '0'", "ttylogin '1'")
    assert config_of(tmp_path / "b", {"/etc/config/system": on}).console_login.on is True  # type: ignore[union-attr]
    assert config_of(tmp_path / "c", {}).console_login is None


def test_include_loops_are_bounded() -> None:
    files = ConfigFiles.of({"/etc/lighttpd/a.conf": 'include "a.conf"\nserver.port = 81\n'})
    state = parse_lighttpd('include "a.conf"\n', "/etc/lighttpd/lighttpd.conf", files)
    assert state.endpoints[0].port == 81 and len(files.read_paths) <= ConfigFiles.MAX_FILES
    nginx = ConfigFiles.of({"/etc/nginx/x.conf": "include x.conf;\n"})
    assert parse_nginx("http { include x.conf; }", "/etc/nginx/nginx.conf", nginx).endpoints == []


def test_split_hostport() -> None:
    assert [split_hostport(s, 80) for s in ("0.0.0.0:8080", "[::]:443", "*:81", ":82", "83", "::1", "localhost",
                                            "[::1]", "host:notaport", "99999")] == [
        ("0.0.0.0", 8080), ("::", 443), ("*", 81), ("", 82), ("", 83), ("::1", 80), ("localhost", 80), ("::1", 80),
        ("host", 80), ("", 80)]


# --- hostile input: every parser takes any text --------------------------------------------------------------

_CONFIGISH = st.text(alphabet=st.sampled_from(list("\"'\\#{}()[]$=:;,. \t\nabclistenport0123456789-+*/~")))
_TEXT = st.one_of(st.text(), _CONFIGISH)


@settings(max_examples=250, deadline=None)
@given(_TEXT)
def test_parsers_never_raise(text: str) -> None:
    files = ConfigFiles.of({"/etc/x/inc.conf": text, "/etc/x/y.conf": text})
    parse_sshd_config(text, "/etc/ssh/sshd_config")
    parse_dropbear_args(text.split())
    for state in (parse_lighttpd(text, "/etc/x/lighttpd.conf", files), parse_nginx(text, "/etc/x/nginx.conf", files)):
        assert all(e.port is None or 0 < e.port < 65536 for e in state.endpoints)
    parse_mosquitto(text, "/etc/x/mosquitto.conf", files)
    parse_snmpd(text, "/etc/snmp/snmpd.conf")
    split_hostport(text, 80)


@settings(max_examples=60, deadline=None)
@given(_TEXT)
def test_collection_never_raises(text: str) -> None:
    """Every collector on one hostile text put in each configuration file and boot script they read."""
    from iotcop.firmware.serviceconf import gather
    from iotcop.firmware.services import BootCommand, BootServices

    paths = ["/etc/ssh/sshd_config", "/etc/config/dropbear", "/etc/config/uhttpd", "/etc/lighttpd/lighttpd.conf",
             "/etc/nginx/nginx.conf", "/etc/httpd.conf", "/etc/boa/boa.conf", "/etc/mosquitto/mosquitto.conf",
             "/etc/config/snmpd", "/etc/snmp/snmpd.conf", "/etc/config/upnpd", "/etc/miniupnpd.conf",
             "/etc/config/system", "/var/lib/dpkg/status"]
    programs = ["sshd", "dropbear", "uhttpd", "lighttpd", "nginx", "httpd", "boa", "mini_httpd", "thttpd",
                "mosquitto", "snmpd", "mini_snmpd", "miniupnpd"]
    commands = tuple(BootCommand(p, (p, *text.split()[:8]), "/etc/init.d/rcS", 1, "init script", text[:80],
                                 tuple(text.split()[:8])) for p in programs)
    boot = BootServices(commands, ("/etc/init.d/rcS",), ())
    config = gather(ConfigFiles.of(dict.fromkeys(paths, text)), boot)
    assert len(config.services()) >= len(programs) - 3  # the UCI instances may be none


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["sh", "getty", "agetty", "login", "nc", "socat", "ash", "telnetd"]),
       st.lists(st.one_of(st.sampled_from(["-l", "-e", "-c", "-a", "-f", "-n", "--autologin", "/bin/sh", "ttyS0",
                                           "TCP-LISTEN:1", "EXEC:/bin/sh", "--login", "-ll", "-lp"]), st.text()),
                max_size=8),
       st.sampled_from(["", "console", "ttyS0", "T0"]), st.sampled_from(["", "0.0.0.0:23", "x:y:z", ":"]))
def test_boot_command_judgements_never_raise(program: str, args: list[str], console: str, listen: str) -> None:
    from iotcop.firmware.serviceconf import bind_shells, console_sessions, listening_everywhere
    from iotcop.firmware.services import BootCommand, BootServices

    command = BootCommand(program, (program, *args), "/etc/inittab", 1, "inittab", "x", tuple(args), listen, console)
    boot = BootServices((command,), ("/etc/inittab",), (), "/bin/busybox")
    for session in console_sessions(boot, None):
        assert session.why
    bind_shells(boot)
    listening_everywhere(boot, ServiceConfig())
