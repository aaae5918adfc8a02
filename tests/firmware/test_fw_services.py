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
