"""fw.input.* through the runner, on facts from one content pass (ElfScanner + WebHandlerScanner) over root
file systems holding scripts modelled on router and camera firmware and CGIs built by cross compilers. Every
test says which handlers and lines were flagged, and which look-alikes were not."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from cgi_binaries import CAMERA_NETWORK_PHP, DIAG_CGI, LUCI_NETDIAG, SCRIPTS, UPGRADE_CGI, build_cgis, line_of
from fwimages import write_tree

from iotcop.checks.fw.input import command_injection, format_string
from iotcop.checks.registry import CheckFunc, spec_of
from iotcop.firmware.content import scan_content
from iotcop.firmware.elf import ElfFiles, ElfScanner
from iotcop.firmware.filesystem import FileSystem
from iotcop.firmware.webinput import WebHandlers, WebHandlerScanner
from iotcop.model import CheckRun, Finding, RunStatus, Severity
from iotcop.runner import run_checks

NETDIAG = "/usr/lib/lua/luci/controller/admin/netdiag.lua"
HOSTNAME_CBI = "/usr/lib/lua/luci/model/cbi/admin_system/hostname.lua"
LOOK_ALIKES = {p: SCRIPTS[p] for p in ("/www/cgi-bin/status.cgi", "/usr/lib/lua/luci/controller/admin/tools.lua",
                                       "/var/www/setup/system.php", "/etc/init.d/firewall", "/usr/sbin/apply.sh",
                                       "/usr/share/doc/haserl/examples/run.cgi", "/www/index.html")}


def facts(root: Path, files: Mapping[str, str | bytes]) -> dict[type, object]:
    elf, web = ElfScanner(), WebHandlerScanner()
    scan_content(FileSystem.scan(write_tree(root, files=files)), [elf, web])
    return {ElfFiles: elf.result(), WebHandlers: web.result()}


def run(func: CheckFunc, bag: dict[type, object]) -> tuple[CheckRun, list[Finding]]:
    result = run_checks([spec_of(func)], bag, {})
    [check_run] = result.runs
    return check_run, list(result.findings)


def flagged(findings: list[Finding]) -> set[tuple[str, int | None, Severity]]:
    return {(f.location.path, f.location.line, f.severity) for f in findings}


def image(arch: str) -> dict[str, str | bytes]:
    cgis = build_cgis(arch)
    return {**SCRIPTS,
            "/www/cgi-bin/ping.cgi": cgis["ping.cgi"],
            "/www/cgi-bin/ping-safe.cgi": cgis["ping-safe.cgi"],
            "/www/cgi-bin/reboot.cgi": cgis["reboot.cgi"],
            "/www/cgi-bin/lookup.cgi": cgis["lookup.cgi"],
            "/usr/bin/pingtool": cgis["ping.cgi"],  # the vulnerable program, but not run by a web server
            "/bin/webs": cgis["webs"],  # a GoAhead-style server, which also imports websGetVar
            "/usr/sbin/formd": cgis["webs"],  # the same, by another name: a handler by its websGetVar import
            "/lib/libwebs.so": cgis["libwebs.so"]}


@pytest.fixture(scope="module", params=["mipsel", "armel"])
def full(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[type, object]:
    return facts(tmp_path_factory.mktemp(f"full-{request.param}"), image(request.param))


# ---------------------------------------------------------------- command injection


def test_command_injection(full: dict[type, object]) -> None:
    run_, findings = run(command_injection, full)
    assert run_.status is RunStatus.COMPLETED
    high = Severity.HIGH
    assert flagged(findings) == {
        ("/www/cgi-bin/diag.cgi", line_of(DIAG_CGI, "eval $(echo"), high),
        ("/www/cgi-bin/diag.cgi", line_of(DIAG_CGI, 'eval "$cmd'), high),
        ("/www/cgi-bin/upgrade.cgi", line_of(UPGRADE_CGI, "sh -c"), high),
        ("/www/cgi-bin/wireless", 7, high),
        (NETDIAG, line_of(LUCI_NETDIAG, "luci.util.exec("), high),
        (NETDIAG, line_of(LUCI_NETDIAG, "luci.sys.exec(cmd"), high),
        (HOSTNAME_CBI, 7, high),
        ("/var/www/setup/network.php", line_of(CAMERA_NETWORK_PHP, "exec(\"ping"), high),
        ("/var/www/setup/network.php", line_of(CAMERA_NETWORK_PHP, "shell_exec("), high),
        ("/www/cgi-bin/ping.cgi", None, Severity.MEDIUM),  # request input + system + 'ping -c 1 %s'
        ("/bin/webs", None, Severity.MEDIUM),  # a server + doSystem + 'nslookup %s ...'
        ("/usr/sbin/formd", None, Severity.MEDIUM),  # websGetVar + doSystem + 'nslookup %s ...'
        ("/www/cgi-bin/reboot.cgi", None, Severity.INFO),  # request input + system, no template
        ("/www/cgi-bin/lookup.cgi", None, Severity.MEDIUM),  # execl("/bin/sh", ...) + 'nslookup %s'
    }  # not: ping-safe.cgi (execv, no shell), /usr/bin/pingtool, libwebs.so, status.cgi, tools.lua, system.php,
    #    the init script, apply.sh, the haserl example in /usr/share/doc


def test_script_finding_names_the_flow(full: dict[type, object]) -> None:
    _, findings = run(command_injection, full)
    wol = next(f for f in findings if f.location.line == line_of(LUCI_NETDIAG, "luci.sys.exec(cmd"))
    src, cmd = line_of(LUCI_NETDIAG, "local iface"), line_of(LUCI_NETDIAG, "local cmd")
    assert wol.message == (
        f"In {NETDIAG} (a LuCI controller), request input formvalue(\"iface\") (line {src}) reaches luci.sys.exec "
        f"at line {src + 2} through iface (line {src}), cmd (line {cmd}) with no validation on the way: a crafted "
        "request runs its own shell commands.")
    assert wol.evidence.excerpt.splitlines()[0] == f"{src:>5} source formvalue(\"iface\"): " \
                                                   'local iface = luci.http.formvalue("iface")'
    assert wol.evidence.excerpt.splitlines()[-1].endswith('luci.http.write(luci.sys.exec(cmd .. " 2>&1"))')


def test_elf_findings_name_templates_and_imports(full: dict[type, object]) -> None:
    _, findings = run(command_injection, full)
    by_path = {f.location.path: f for f in findings if f.location.line is None}
    ping = by_path["/www/cgi-bin/ping.cgi"]
    assert "getenv with 'QUERY_STRING'" in ping.message and "imports system" in ping.message
    assert "'ping -c 1 %s'" in ping.message and "For review" in ping.message
    assert ping.evidence.excerpt == ("request input: getenv with 'QUERY_STRING'\nshell sinks: system\n"
                                     "template: 'ping -c 1 %s'")
    webs = by_path["/bin/webs"]
    assert webs.message.startswith("/bin/webs is a compiled web handler (a web server program) that reads request "
                                   "input (the requests it parses itself, websGetVar (GoAhead web server)), imports "
                                   "doSystem and holds command templates with %s ('nslookup %s > /tmp/nslookup.txt "
                                   "2>&1')")
    assert "(imports websGetVar) that reads request input (websGetVar" in by_path["/usr/sbin/formd"].message
    assert "holds no command template" in by_path["/www/cgi-bin/reboot.cgi"].message
    lookup = by_path["/www/cgi-bin/lookup.cgi"]
    assert "imports execl with '/bin/sh'" in lookup.message and "'nslookup %s'" in lookup.message


def test_safe_look_alikes_only(tmp_path: Path) -> None:
    cgis = build_cgis("mipsel")
    bag = facts(tmp_path, {**LOOK_ALIKES, "/www/cgi-bin/ping-safe.cgi": cgis["ping-safe.cgi"]})
    assert run(command_injection, bag) == (CheckRun(check_id="fw.input.command-injection",
                                                    status=RunStatus.COMPLETED), [])


# ---------------------------------------------------------------- format string


def test_format_string(full: dict[type, object]) -> None:
    run_, findings = run(format_string, full)
    assert run_.status is RunStatus.COMPLETED
    assert flagged(findings) == {
        ("/www/cgi-bin/upgrade.cgi", line_of(UPGRADE_CGI, "printf"), Severity.MEDIUM),
        (NETDIAG, line_of(LUCI_NETDIAG, "string.format(banner"), Severity.MEDIUM),
        ("/var/www/setup/network.php", line_of(CAMERA_NETWORK_PHP, 'printf("<h1>'), Severity.MEDIUM),
    }  # not: printf '%s\n' "$QUERY_STRING" (status.cgi), string.format("%s: %d", name, n) (tools.lua),
    #    printf("<p>%s</p>", $name) (system.php)


def test_format_string_clean_scripts(tmp_path: Path) -> None:
    assert run(format_string, facts(tmp_path, LOOK_ALIKES)) == (
        CheckRun(check_id="fw.input.format-string", status=RunStatus.COMPLETED), [])


def test_format_string_of_compiled_handlers_is_not_judged(tmp_path: Path) -> None:
    cgis = build_cgis("armel")
    run_, findings = run(format_string, facts(tmp_path, {**LOOK_ALIKES, "/www/cgi-bin/ping.cgi": cgis["ping.cgi"]}))
    assert run_.status is RunStatus.INCONCLUSIVE and findings == []
    assert run_.reason == ("no request input was seen used as a format string in the traced scripts, but 1 "
                           "handler(s) cannot be judged: /www/cgi-bin/ping.cgi (compiled)")


# ---------------------------------------------------------------- nothing to look at is not clean


@pytest.mark.parametrize("func", [command_injection, format_string])
def test_no_web_handlers_is_not_applicable(func: CheckFunc, tmp_path: Path) -> None:
    files = {p: LOOK_ALIKES[p] for p in ("/etc/init.d/firewall", "/usr/sbin/apply.sh", "/www/index.html")}
    run_, findings = run(func, facts(tmp_path, files))
    assert run_.status is RunStatus.NOT_APPLICABLE and findings == []
    assert run_.reason.startswith("no web handlers were found")


def test_a_web_server_program_is_judged_as_a_handler(tmp_path: Path) -> None:
    cgis = build_cgis("mipsel")
    files: dict[str, str | bytes] = {"/usr/sbin/goahead": cgis["ping-safe.cgi"], "/www/index.html": "<p>hi</p>\n"}
    assert run(command_injection, facts(tmp_path / "a", files))[0].status is RunStatus.COMPLETED  # execv only
    run_, findings = run(format_string, facts(tmp_path / "b", files))
    assert run_.status is RunStatus.INCONCLUSIVE and findings == []
    assert run_.reason.endswith("cannot be judged: /usr/sbin/goahead (compiled)")

    # a general-purpose server only hands requests to CGI programs: not a handler itself (not even its
    # 'ping -c 1 %s' lookalike strings)
    files = {"/usr/sbin/lighttpd": cgis["ping.cgi"], "/www/index.html": "<p>hi</p>\n"}
    assert run(command_injection, facts(tmp_path / "d", files))[0].status is RunStatus.NOT_APPLICABLE

    _, findings = run(command_injection, facts(tmp_path / "c", {"/usr/sbin/boa": cgis["ping.cgi"]}))
    assert flagged(findings) == {("/usr/sbin/boa", None, Severity.MEDIUM)}
    assert findings[0].message.startswith(
        "/usr/sbin/boa is a compiled web handler (a web server program) that reads request input (the requests "
        "it parses itself, getenv with 'QUERY_STRING'), imports system and holds command templates with %s "
        "('ping -c 1 %s')")

    broken = b"\x7fELF\x01\x01\x01" + b"\xff" * 60
    run_, findings = run(command_injection, facts(tmp_path / "d", {"/usr/sbin/httpd": broken}))
    assert run_.status is RunStatus.INCONCLUSIVE and findings == []
    assert run_.reason.endswith("could not be traced completely: /usr/sbin/httpd (not a valid ELF file)")


def test_untraced_handlers_make_a_clean_result_inconclusive(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {"/www/cgi-bin/stats.py": SCRIPTS["/www/cgi-bin/stats.py"],
                                     "/www/cgi-bin/broken.cgi": b"\x7fELF\x01\x01\x01" + b"\xff" * 60}
    run_, findings = run(command_injection, facts(tmp_path, {**LOOK_ALIKES, **files}))
    assert run_.status is RunStatus.INCONCLUSIVE and findings == []
    assert run_.reason == ("no request input was seen reaching a shell, but 2 handler(s) could not be traced "
                           "completely: /www/cgi-bin/stats.py (python scripts are not traced), "
                           "/www/cgi-bin/broken.cgi (not a valid ELF file)")
    # a finding elsewhere stands on its own
    run_, findings = run(command_injection, facts(tmp_path / "b", {**files, "/www/cgi-bin/diag.cgi": DIAG_CGI}))
    assert run_.status is RunStatus.COMPLETED and {f.location.path for f in findings} == {"/www/cgi-bin/diag.cgi"}


def test_missing_elf_facts_are_inconclusive(tmp_path: Path) -> None:
    bag = facts(tmp_path, {"/www/cgi-bin/diag.cgi": DIAG_CGI})
    del bag[ElfFiles]
    run_, _ = run(command_injection, bag)
    assert (run_.status, run_.reason) == (RunStatus.INCONCLUSIVE, "the ElfFiles facts were not collected")
