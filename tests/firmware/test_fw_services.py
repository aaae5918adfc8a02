"""What a firmware starts at boot (iotcop.firmware.services): inittab, init scripts, inetd, procd, systemd.

Each positive case says which file and line start telnetd; the look-alikes name it without starting it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fwimages import write_tree
from hypothesis import given, settings
from hypothesis import strategies as st

from iotcop.firmware.filesystem import FileSystem
from iotcop.firmware.services import BootServices, collect_boot_services, simple_commands

TELNETD = ("telnetd", "utelnetd", "in.telnetd")


def boot_of(root: Path, files: dict[str, str], links: dict[str, str] | None = None) -> BootServices:
    return collect_boot_services(FileSystem.scan(write_tree(root, files=files, links=links)))


def started(boot: BootServices, *programs: str) -> set[tuple[str, str, int, str]]:
    return {(c.program, c.path, c.line, c.via) for c in boot.started(*programs)}


def test_inittab_actions(tmp_path: Path) -> None:
    inittab = ("# ::respawn:/usr/sbin/telnetd -F\n"
               "::sysinit:/etc/init.d/rcS\n"
               "ttyS0::respawn:/sbin/getty -L ttyS0 115200 vt100\n"
               "::askfirst:-/bin/sh\n"
               "::once:/usr/sbin/telnetd -l /bin/login\n"
               "::shutdown:/usr/sbin/telnetd\n"  # runs at shutdown: not a boot service
               "::ctrlaltdel:/sbin/reboot\n"
               "not an inittab line\n")
    boot = boot_of(tmp_path, {"/etc/inittab": inittab, "/etc/init.d/rcS": "#!/bin/sh\nmount -a\n"})
    assert started(boot, "getty", "sh", "telnetd", "reboot", "rcS", "mount") == {
        ("rcS", "/etc/inittab", 2, "inittab"),
        ("getty", "/etc/inittab", 3, "inittab"),
        ("sh", "/etc/inittab", 4, "inittab"),
        ("telnetd", "/etc/inittab", 5, "inittab"),
        ("mount", "/etc/init.d/rcS", 2, "init script"),  # followed from the sysinit line
    }
    assert boot.sources == ("/etc/inittab", "/etc/init.d/rcS")


LOOK_ALIKES = """#!/bin/sh
# the old build ran "telnetd -l /bin/sh" here; kept in this comment only
echo "telnetd"
echo starting telnetd >/dev/console
killall telnetd 2>/dev/null
TELNETD=/usr/sbin/telnetd
[ -x /usr/sbin/telnetd ] && echo present
grep -q telnetd /etc/inetd.conf
start-stop-daemon -K -x /usr/sbin/telnetd
start-stop-daemon --stop --exec /usr/sbin/telnetd
case "$1" in telnetd) echo matched ;; esac
sed -i '/telnetd/d' /etc/inittab
"""


def test_look_alikes_are_not_reported(tmp_path: Path) -> None:
    boot = boot_of(tmp_path, {
        "/etc/inittab": "::sysinit:/etc/init.d/rcS\n",
        "/etc/init.d/rcS": LOOK_ALIKES,
        "/etc/inetd.conf": "#telnet stream tcp nowait root /usr/sbin/telnetd telnetd\n",
        "/usr/share/doc/telnetd.service": "[Service]\nExecStart=/usr/sbin/telnetd -F\n",  # not wanted by any target
    })
    assert started(boot, *TELNETD) == set()
    programs = {c.program for c in boot.commands}
    assert {"echo", "killall", "[", "grep", "sed", "case"} <= programs
    assert boot.sources == ("/etc/inittab", "/etc/init.d/rcS", "/etc/inetd.conf")


def test_positives_in_init_scripts(tmp_path: Path) -> None:
    rcs = ("#!/bin/sh\n"
           "mount -t proc proc /proc\n"
           "/etc/init.d/S50services start\n"
           "/usr/sbin/telnetd -l /bin/login &\n")
    services = ("#!/bin/sh\n"
                "busybox telnetd -p 2323\n"
                "start-stop-daemon -S -b -x /usr/sbin/telnetd -- -F\n"
                "start-stop-daemon --start --exec=/usr/sbin/utelnetd\n"
                "if [ -f /etc/debug ]; then nohup /sbin/in.telnetd & fi\n"
                "PATH=/bin telnetd; echo done\n")
    boot = boot_of(tmp_path, {"/etc/inittab": "::sysinit:/etc/init.d/rcS\n", "/etc/init.d/rcS": rcs,
                              "/etc/init.d/S50services": services})
    assert started(boot, *TELNETD) == {
        ("telnetd", "/etc/init.d/rcS", 4, "init script"),
        ("telnetd", "/etc/init.d/S50services", 2, "init script"),
        ("telnetd", "/etc/init.d/S50services", 3, "init script"),
        ("utelnetd", "/etc/init.d/S50services", 4, "init script"),
        ("in.telnetd", "/etc/init.d/S50services", 5, "init script"),
        ("telnetd", "/etc/init.d/S50services", 6, "init script"),
    }


def test_a_script_found_by_its_rc_name_and_followed_once(tmp_path: Path) -> None:
    """rcS.d/S* scripts run without inittab; a script calling itself is read once."""
    boot = boot_of(tmp_path, {"/etc/rcS.d/S10loop": "#!/bin/sh\n/etc/rcS.d/S10loop\nutelnetd -d\n"})
    assert started(boot, *TELNETD) == {("utelnetd", "/etc/rcS.d/S10loop", 3, "init script")}
    assert boot.sources == ("/etc/rcS.d/S10loop",)


def test_procd_service_enabled_by_an_rc_link(tmp_path: Path) -> None:
    telnet = ("#!/bin/sh /etc/rc.common\n"
              "START=50\n"
              "USE_PROCD=1\n"
              "start_service() {\n"
              "\tprocd_open_instance\n"
              "\tprocd_set_param command /usr/sbin/telnetd -F -l /bin/login.sh\n"
              "\tprocd_close_instance\n"
              "}\n")
    boot = boot_of(tmp_path, {"/etc/init.d/telnet": telnet}, links={"/etc/rc.d/S50telnet": "../init.d/telnet"})
    assert started(boot, *TELNETD) == {("telnetd", "/etc/init.d/telnet", 6, "init script")}


def test_procd_service_not_enabled_is_not_started(tmp_path: Path) -> None:
    telnet = "#!/bin/sh /etc/rc.common\nstart_service() {\n\tprocd_set_param command /usr/sbin/telnetd -F\n}\n"
    boot = boot_of(tmp_path, {"/etc/init.d/telnet": telnet})  # no /etc/rc.d/S??telnet link
    assert started(boot, *TELNETD) == set()


def test_inetd(tmp_path: Path) -> None:
    conf = ("# internet services\n"
            "telnet  stream  tcp  nowait  root  /usr/sbin/telnetd  telnetd -i\n"
            "ftp stream tcp nowait root /usr/sbin/ftpd ftpd\n"
            "2323 stream tcp nowait root /usr/sbin/tcpd in.telnetd\n"
            "#telnet stream tcp nowait root /usr/sbin/utelnetd utelnetd\n")
    boot = boot_of(tmp_path, {"/etc/inetd.conf": conf})
    assert started(boot, *TELNETD, "ftpd") == {
        ("telnetd", "/etc/inetd.conf", 2, "inetd"),
        ("ftpd", "/etc/inetd.conf", 3, "inetd"),
        ("in.telnetd", "/etc/inetd.conf", 4, "inetd"),  # behind the tcpd wrapper
    }


def test_systemd_wants_link(tmp_path: Path) -> None:
    unit = "[Unit]\nDescription=telnet\n\n[Service]\nExecStart=-/usr/sbin/telnetd -F -l /bin/login\n"
    boot = boot_of(tmp_path, {"/lib/systemd/system/telnetd.service": unit,
                              "/lib/systemd/system/debug-shell.service": "[Service]\nExecStart=/usr/sbin/telnetd\n"},
                   links={"/etc/systemd/system/multi-user.target.wants/telnetd.service":
                          "/lib/systemd/system/telnetd.service"})
    assert started(boot, *TELNETD) == {("telnetd", "/lib/systemd/system/telnetd.service", 5, "systemd")}


def test_the_example_camera(tmp_path: Path) -> None:
    from fwimages import EXAMPLE_CAMERA

    boot = collect_boot_services(FileSystem.scan(EXAMPLE_CAMERA))
    assert started(boot, *TELNETD) == {("telnetd", "/etc/init.d/rcS", 8, "init script")}
    assert ("httpd", "/etc/init.d/S50network", 3, "init script") in started(boot, "httpd")


@pytest.mark.parametrize(("line", "argvs"), [
    ("a; b && c || d | e &", [["a"], ["b"], ["c"], ["d"], ["e"]]),
    ("X=1 Y=2 exec nice /bin/x -f  # c", [["/bin/x", "-f"]]),
    ("echo 'a # b' \"c;d\"", [["echo", "a # b", "c;d"]]),
    ("echo \"unbalanced", [["echo", "\"unbalanced"]]),
    ("", []),
    ("# only a comment", []),
])
def test_simple_commands(line: str, argvs: list[list[str]]) -> None:
    assert simple_commands(line) == argvs


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet=st.sampled_from(list("\"'\\;&|()#{}$`!= \tab\n")))))
def test_simple_commands_never_raises(line: str) -> None:
    for argv in simple_commands(line):
        assert argv and all(isinstance(a, str) for a in argv)


# --- variables, continued lines, here-documents, launchers --------------------------------------------------


def args_of(boot: BootServices, program: str) -> set[tuple[str, int, tuple[str, ...]]]:
    return {(c.path, c.line, c.args) for c in boot.started(program)}


def test_buildroot_dropbear_with_its_default_file(tmp_path: Path) -> None:
    """Buildroot's S50dropbear: '. /etc/default/dropbear', DROPBEAR_ARGS extended in start(), and a
    start-stop-daemon command continued over two lines."""
    from serviceconfigs import BUILDROOT_INITTAB, BUILDROOT_RCS, BUILDROOT_S50DROPBEAR

    boot = boot_of(tmp_path, {"/etc/inittab": BUILDROOT_INITTAB, "/etc/init.d/rcS": BUILDROOT_RCS,
                              "/etc/init.d/S50dropbear": BUILDROOT_S50DROPBEAR,
                              "/etc/default/dropbear": 'DROPBEAR_ARGS="-s -g"\n'})
    assert args_of(boot, "dropbear") == {("/etc/init.d/S50dropbear", 15, ("-s", "-g", "-R"))}
    getty_line = BUILDROOT_INITTAB.splitlines().index("ttyS0::respawn:/sbin/getty -L  ttyS0 115200 vt100 "
                                                      "# GENERIC_SERIAL")
    assert started(boot, "getty") == {("getty", "/etc/inittab", getty_line + 1, "inittab")}
    assert [c.console for c in boot.started("getty")] == ["ttyS0"]
    assert "/etc/init.d/S50dropbear" in boot.sources  # found by rcS's 'for i in /etc/init.d/S??*'


def test_variables(tmp_path: Path) -> None:
    script = ("#!/bin/sh\n"
              "PROG=/usr/sbin/telnetd\n"
              "export PORT=2323\n"
              "$PROG -p $PORT\n"
              "${DAEMON:-/usr/sbin/utelnetd} -d\n"
              "OPTS=\"-l /bin/sh -F\"\n"
              "/usr/sbin/in.telnetd $OPTS\n"
              "$UNKNOWN -x\n")
    boot = boot_of(tmp_path, {"/etc/init.d/rcS": script})
    assert args_of(boot, "telnetd") == {("/etc/init.d/rcS", 4, ("-p", "2323"))}
    assert args_of(boot, "utelnetd") == {("/etc/init.d/rcS", 5, ("-d",))}
    assert args_of(boot, "in.telnetd") == {("/etc/init.d/rcS", 7, ("-l", "/bin/sh", "-F"))}
    assert started(boot, "$UNKNOWN") == {("$UNKNOWN", "/etc/init.d/rcS", 8, "init script")}  # left as written


def test_here_documents_and_functions_start_nothing(tmp_path: Path) -> None:
    script = ("#!/bin/sh\n"
              "cat > /etc/inetd.conf <<EOF\n"
              "telnet stream tcp nowait root /usr/sbin/telnetd telnetd\n"
              "EOF\n"
              "cat <<-'END' >/tmp/x\n"
              "\t/usr/sbin/telnetd -l /bin/sh\n"
              "\tEND\n"
              "telnetd() { echo no; }\n"
              "echo \"a << b\" && /usr/sbin/utelnetd\n")
    boot = boot_of(tmp_path, {"/etc/init.d/rcS": script})
    assert started(boot, *TELNETD) == {("utelnetd", "/etc/init.d/rcS", 9, "init script")}


def test_launchers(tmp_path: Path) -> None:
    script = ("#!/bin/sh\n"
              "service_start /usr/sbin/uhttpd -f -p 80\n"
              "service_stop /usr/sbin/telnetd\n"
              "start_daemon -p /run/x.pid /usr/sbin/vsftpd /etc/vsftpd.conf\n"
              "tcpsvd -vE 0.0.0.0 21 ftpd -w /srv/ftp &\n"
              "udpsvd -v -c 10 0 69 tftpd -c /srv/tftp &\n"
              "start-stop-daemon --start --background --exec /usr/sbin/mosquitto -- -c /etc/mosquitto.conf\n")
    boot = boot_of(tmp_path, {"/etc/init.d/rcS": script})
    assert args_of(boot, "uhttpd") == {("/etc/init.d/rcS", 2, ("-f", "-p", "80"))}
    assert started(boot, "telnetd") == set()
    assert args_of(boot, "vsftpd") == {("/etc/init.d/rcS", 4, ("/etc/vsftpd.conf",))}
    assert [(c.program, c.listen, c.args) for c in boot.started("ftpd", "tftpd")] == [
        ("ftpd", "0.0.0.0:21", ("-w", "/srv/ftp")), ("tftpd", "0:69", ("-c", "/srv/tftp"))]
    assert args_of(boot, "mosquitto") == {("/etc/init.d/rcS", 7, ("-c", "/etc/mosquitto.conf"))}


# --- xinetd and cron ------------------------------------------------------------------------------------------

XINETD_CONF = """# Simple configuration file for xinetd
defaults
{
\tinstances       = 60
\tlog_type        = SYSLOG authpriv
\tdisabled        = rsh
}

includedir /etc/xinetd.d
"""
XINETD_TELNET = """# default: on
service telnet
{
\tflags\t\t= REUSE
\tsocket_type\t= stream
\twait\t\t= no
\tuser\t\t= root
\tserver\t\t= /usr/sbin/in.telnetd
\tserver_args\t= -h
\tlog_on_failure\t+= USERID
\tdisable\t\t= no
}
"""
XINETD_TFTP = """service tftp
{
\tsocket_type\t\t= dgram
\tprotocol\t\t= udp
\twait\t\t\t= yes
\tuser\t\t\t= root
\tserver\t\t\t= /usr/sbin/in.tftpd
\tserver_args\t\t= -s /var/lib/tftpboot
\tdisable\t\t\t= yes
}
"""


def test_xinetd(tmp_path: Path) -> None:
    boot = boot_of(tmp_path, {
        "/etc/xinetd.conf": XINETD_CONF,
        "/etc/xinetd.d/telnet": XINETD_TELNET,
        "/etc/xinetd.d/tftp": XINETD_TFTP,  # disable = yes
        "/etc/xinetd.d/rsh": "service shell\n{\n\tserver = /usr/sbin/in.rshd\n}\n",  # not named rsh: still on
        "/etc/xinetd.d/rlogin": "service rsh\n{\n\tserver = /usr/sbin/in.rlogind\n}\n",  # 'disabled = rsh'
        "/etc/xinetd.d/ftp.rpmsave": "service ftp\n{\n\tserver = /usr/sbin/vsftpd\n}\n",  # skipped by xinetd
        "/etc/xinetd.d/echo": "service echo\n{\n\ttype = INTERNAL\n\tid = echo-stream\n}\n",
        "/etc/xinetd.d/debug": "service debug\n{\n\tport = 2323\n\tbind = 127.0.0.1\n\tserver = /bin/sh\n"
                               "\tserver_args = -i\n}\n",
    })
    commands = {(c.program, c.path, c.line, c.via, c.args, c.listen) for c in boot.commands}
    assert commands == {
        ("in.telnetd", "/etc/xinetd.d/telnet", 8, "xinetd", ("-h",), "telnet"),
        ("in.rshd", "/etc/xinetd.d/rsh", 3, "xinetd", (), "shell"),
        ("sh", "/etc/xinetd.d/debug", 5, "xinetd", ("-i",), "127.0.0.1:2323"),
    }


CRONTAB = """# /etc/crontab: system-wide crontab
SHELL=/bin/sh
PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin

17 *\t* * *\troot    cd / && run-parts --report /etc/cron.hourly
@reboot         root    /usr/sbin/telnetd -l /bin/sh
#@reboot        root    /usr/sbin/utelnetd
*/5 * * * * root echo "telnetd" > /dev/null
0 4 * * * root /usr/bin/backup.sh 100\\%full % /usr/sbin/in.telnetd
"""


def test_cron(tmp_path: Path) -> None:
    boot = boot_of(tmp_path, {
        "/etc/crontab": CRONTAB,
        "/etc/crontabs/root": "# busybox crond: no user column\n*/10 * * * * /usr/sbin/utelnetd -p 2323\n",
        "/var/spool/cron/crontabs/admin": "@reboot nc -ll -p 4444 -e /bin/sh\n",
        "/etc/cron.d/debug": "* * * * * root\n",  # no command: not an entry
        "/usr/bin/backup.sh": "#!/bin/sh\ntar czf /tmp/b.tgz /etc\n",
    })
    assert {(c.program, c.path, c.line, c.via) for c in boot.started(*TELNETD, "nc", "run-parts", "tar")} == {
        ("run-parts", "/etc/crontab", 5, "cron 17 * * * *"),
        ("telnetd", "/etc/crontab", 6, "cron @reboot"),
        ("utelnetd", "/etc/crontabs/root", 2, "cron */10 * * * *"),
        ("nc", "/var/spool/cron/crontabs/admin", 1, "cron @reboot"),
        ("tar", "/usr/bin/backup.sh", 2, "init script"),  # the script a cron job runs is read too
    }
    [backup] = boot.started("backup.sh")
    assert backup.args == ("100%full",)  # '\%' is a percent sign; the first bare '%' ends the command


# --- consoles, installed programs ------------------------------------------------------------------------------


def test_openwrt_console_login_script(tmp_path: Path) -> None:
    from serviceconfigs import OPENWRT_INITTAB, OPENWRT_LOGIN_SH

    boot = boot_of(tmp_path, {"/etc/inittab": OPENWRT_INITTAB, "/usr/libexec/login.sh": OPENWRT_LOGIN_SH,
                              "/etc/init.d/rcS": "#!/bin/sh\n/bin/sh /etc/rc.common boot\n"})
    assert {(c.program, c.path, c.line, c.console) for c in boot.started("ash", "login", "login.sh", "sh")} == {
        ("login.sh", "/etc/inittab", 3, "console"),
        ("ash", "/usr/libexec/login.sh", 3, "console"),  # a session on the console: followed from askconsole
        ("login", "/usr/libexec/login.sh", 5, "console"),
        ("sh", "/etc/init.d/rcS", 2, ""),  # sysinit scripts are not console sessions
    }


def test_systemd_serial_getty_instance(tmp_path: Path) -> None:
    unit = ("[Service]\nExecStart=-/sbin/agetty -o '-p -- \\\\u' --keep-baud 115200,57600,38400,9600 %I $TERM\n"
            "Type=idle\n")
    boot = boot_of(tmp_path, {"/lib/systemd/system/serial-getty@.service": unit},
                   links={"/etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service":
                          "/lib/systemd/system/serial-getty@.service"})
    [getty] = boot.started("agetty")
    assert (getty.console, getty.args[-2:], getty.line) == ("ttyS0", ("ttyS0", "$TERM"), 2)


def test_installed_programs(tmp_path: Path) -> None:
    root = write_tree(tmp_path, files={"/usr/sbin/ftpd": b"\x7fELF", "/usr/bin/gdbserver": b"\x7fELF",
                                       "/usr/share/doc/gdbserver/README": "gdbserver docs",
                                       "/usr/share/doc/examples/bin/adbd": "an example"},
                      links={"/usr/sbin/tftpd": "../../bin/busybox", "/sbin/init": "../bin/busybox"})
    boot = collect_boot_services(FileSystem.scan(root))
    assert boot.installed_as("ftpd", "tftpd", "gdbserver", "adbd", "README") == [
        "/usr/bin/gdbserver", "/usr/sbin/ftpd", "/usr/sbin/tftpd"]
    assert boot.init == "/bin/busybox"
    assert boot.sources == ()


# --- hostile input -------------------------------------------------------------------------------------------

_SHELLISH = st.text(alphabet=st.sampled_from(list("\"'\\;&|()#{}$`!= \tab\n<-EOF%*@:/{}")))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), _SHELLISH))
def test_table_parsers_never_raise(text: str) -> None:
    from iotcop.firmware import bootsources

    bootsources.parse_inetd(text)
    for user_field in (True, False):
        for entry in bootsources.parse_crontab(text, user_field):
            assert entry.argv and entry.line >= 1
    services, _ = bootsources.parse_xinetd(text)
    defaults = next((s for s in services if s.name == "defaults"), None)
    for service in services:
        bootsources.xinetd_disabled(service, defaults)
        bootsources.xinetd_entry(service)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), _SHELLISH), st.dictionaries(st.sampled_from(["A", "B", "PROG"]), _SHELLISH))
def test_shell_reading_never_raises(text: str, env: dict[str, str]) -> None:
    from iotcop.firmware.shell import assign, expand, logical_lines, raw_commands

    for number, line in logical_lines(text):
        assert number >= 1
        for tokens in raw_commands(line):
            assign(tokens, env)
            for token in tokens:
                assert all(len(w) <= 2 * 4096 + len(token) for w in expand(token, env))


def test_expansion_is_bounded() -> None:
    from iotcop.firmware.shell import assign, expand

    env: dict[str, str] = {}
    for _ in range(40):  # doubling 40 times would need a terabyte
        assign(['A=x$A$A'], env)
    assert len(env["A"]) <= 4096
    assert len(expand("$A" * 1000, env)[0]) <= 2 * 4096 + 2000
