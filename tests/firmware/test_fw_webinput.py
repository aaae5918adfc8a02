"""WebHandlerScanner: which files are web handlers, and the flows traced in them (source, each assignment,
sink, with lines), on scripts modelled on router and camera firmware and on CGIs built by cross compilers.
Look-alikes (validated input, input only echoed or passed as an argument, scripts that are no handlers)
are asserted not to be reported."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from cgi_binaries import (
    CAMERA_NETWORK_PHP,
    DIAG_CGI,
    LUCI_HOSTNAME_CBI,
    LUCI_NETDIAG,
    SCRIPTS,
    UPGRADE_CGI,
    WIRELESS_HASERL,
    build_cgis,
    line_of,
)
from fwimages import write_tree
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iotcop.firmware.content import Blob, classify, scan_content
from iotcop.firmware.elf import ElfFiles, ElfScanner
from iotcop.firmware.filesystem import Entry, FileSystem
from iotcop.firmware.webinput import MAX_LINES, Flow, WebHandlers, WebHandlerScanner, place_of, trace

NETDIAG = "/usr/lib/lua/luci/controller/admin/netdiag.lua"
HOSTNAME = "/usr/lib/lua/luci/model/cbi/admin_system/hostname.lua"


def scan(root: Path, files: dict[str, str | bytes]) -> WebHandlers:
    scanner = WebHandlerScanner()
    scan_content(FileSystem.scan(write_tree(root, files=files)), [scanner])
    return scanner.result()


def shape(flow: Flow) -> tuple[str, str, str, str, tuple[int, ...]]:
    return flow.path, flow.kind, flow.sink, flow.source, tuple(s.line for s in flow.steps)


def flows_of(language: str, text: str) -> set[tuple[str, str, str, tuple[int, ...]]]:
    return {shape(f)[1:] for f in trace("/x", language, text.splitlines()).flows}


@pytest.fixture(scope="module")
def scripts(tmp_path_factory: pytest.TempPathFactory) -> WebHandlers:
    return scan(tmp_path_factory.mktemp("scripts"), dict(SCRIPTS))


# ---------------------------------------------------------------- which files are handlers


def test_handlers_are_found_by_place_language_and_request_reads(scripts: WebHandlers) -> None:
    assert {(h.path, h.language, h.why) for h in scripts.handlers} == {
        ("/www/cgi-bin/diag.cgi", "sh", "in a cgi-bin directory"),
        ("/www/cgi-bin/upgrade.cgi", "sh", "in a cgi-bin directory"),
        ("/www/cgi-bin/status.cgi", "sh", "in a cgi-bin directory"),
        ("/www/cgi-bin/wireless", "sh", "a haserl CGI script"),
        (NETDIAG, "lua", "a LuCI controller"),
        ("/usr/lib/lua/luci/controller/admin/tools.lua", "lua", "a LuCI controller"),
        (HOSTNAME, "lua", "a LuCI model"),
        ("/var/www/setup/network.php", "php", "under a web root (/var/www)"),
        ("/var/www/setup/system.php", "php", "under a web root (/var/www)"),
        ("/www/cgi-bin/stats.py", "python", "in a cgi-bin directory"),
    }  # not: /etc/init.d/firewall, /usr/sbin/apply.sh (no request input), the haserl example in /usr/share/doc,
    #    /www/index.html and the browser's /www/js/app.js
    assert [(h.path, h.limit) for h in scripts.handlers if h.limit] == [
        ("/www/cgi-bin/stats.py", "python scripts are not traced")]
    assert scripts.servers == ()


def test_scripts_outside_web_places_are_handlers_when_they_read_a_request(tmp_path: Path) -> None:
    web = scan(tmp_path, {
        "/usr/libexec/query.sh": "#!/bin/sh\nv=$QUERY_STRING\n",
        "/usr/bin/form": "#!/bin/sh\n. /lib/functions.sh\necho $FORM_name\n",
        "/usr/share/ui/ping.lua": "local h = luci.http.formvalue('h')\n",
        "/opt/ui/index.php": "<?php echo 'hi'; ?>\n",  # every PHP page is served by something
        "/opt/ui/lib.inc": "<?php function x($a) { return $_GET[$a]; } ?>\n",
        "/etc/profile": "#!/bin/sh\nexport PATH=/bin\n[ -n \"$HTTP_PROXY\" ] && echo proxy\n",  # no request
        "/usr/sbin/helper.lua": "os.execute('reboot')\n",
        "/usr/lib/python3/site-packages/web/app.py": "import os\nos.system('true')\n",  # 'web', but a library
        "/www/cgi-bin/upload.pl": "#!/usr/bin/perl\nprint 'ok';\n",
    })
    assert {(h.path, h.why) for h in web.handlers} == {
        ("/usr/libexec/query.sh", "reads request input ($QUERY_STRING)"),
        ("/usr/bin/form", "reads request input ($FORM_n)"),
        ("/usr/share/ui/ping.lua", "reads request input (.formvalue()"),
        ("/opt/ui/index.php", "a PHP page"),
        ("/opt/ui/lib.inc", "a PHP page"),
        ("/www/cgi-bin/upload.pl", "in a cgi-bin directory"),
    }


def test_line_numbers_count_newlines_only(tmp_path: Path) -> None:
    web = scan(tmp_path, {"/www/cgi-bin/a.cgi": '#!/bin/sh\r\n\x0cecho \x1c\u2028\r\neval "$FORM_a"\r\n'})
    assert [shape(f) for f in web.flows] == [("/www/cgi-bin/a.cgi", "command", "eval", "$FORM_a", (3, 3))]


@pytest.mark.parametrize(("path", "why"), [
    ("/www/cgi-bin/luci", "in a cgi-bin directory"),
    ("/usr/www/cgi-bin/sub/x", "in a cgi-bin directory"),
    ("/home/httpd/goform/set", "under a web root (/home/httpd)"),
    ("/htdocs/web/getcfg.php", "under a web root (/htdocs)"),
    ("/usr/sbin/setup.cgi", "named *.cgi"),
    ("/usr/lib/lua/luci/controller/x.lua", "a LuCI controller"),
    ("/usr/lib/lua/luci/model/cbi/x.lua", "a LuCI model"),
    ("/usr/lib/lua/luci/view/x.htm", None),
    ("/usr/bin/wwwtool", None),
    ("/etc/cgi-bin.conf", None),
])
def test_place_of(path: str, why: str | None) -> None:
    assert place_of(path) == why


# ---------------------------------------------------------------- flows in realistic scripts


def test_flows_in_the_image(scripts: WebHandlers) -> None:
    diag, up, wifi = "/www/cgi-bin/diag.cgi", "/www/cgi-bin/upgrade.cgi", "/www/cgi-bin/wireless"
    php = "/var/www/setup/network.php"
    eval_query = line_of(DIAG_CGI, "eval $(echo")
    host, cmd, run = line_of(DIAG_CGI, "host=$("), line_of(DIAG_CGI, 'cmd="ping'), line_of(DIAG_CGI, 'eval "$cmd')
    read, url = line_of(UPGRADE_CGI, "read -n"), line_of(UPGRADE_CGI, "url=")
    wget, status = line_of(UPGRADE_CGI, "sh -c"), line_of(UPGRADE_CGI, "printf")
    ssid = line_of(WIRELESS_HASERL, "sh -c")
    ping, wol_if, wol_cmd, wol = (line_of(LUCI_NETDIAG, "function diag_ping"), line_of(LUCI_NETDIAG, "local iface"),
                                  line_of(LUCI_NETDIAG, "local cmd"), line_of(LUCI_NETDIAG, "luci.sys.exec(cmd"))
    banner, write = line_of(LUCI_NETDIAG, "local banner"), line_of(LUCI_NETDIAG, "string.format(banner")
    cbi = line_of(LUCI_HOSTNAME_CBI, "function o.write")
    target, server, ntp = (line_of(CAMERA_NETWORK_PHP, "$target ="), line_of(CAMERA_NETWORK_PHP, "$server ="),
                           line_of(CAMERA_NETWORK_PHP, "$cmd ="))
    title = line_of(CAMERA_NETWORK_PHP, "$title =")
    assert {shape(f) for f in scripts.flows} == {
        (diag, "command", "eval", "$QUERY_STRING", (eval_query, eval_query)),
        (diag, "command", "eval", "$QUERY_STRING", (host, host, cmd, run)),
        (up, "command", "sh -c", "request body (read)", (read, read, url, wget)),
        (up, "format", "printf format", "request body (read)", (read, read, url, status)),
        (wifi, "command", "sh -c", "$FORM_ssid", (ssid, ssid)),
        (NETDIAG, "command", "luci.util.exec", 'URL path of call("diag_ping")', (ping, ping, ping + 2)),
        (NETDIAG, "command", "luci.sys.exec", 'formvalue("iface")', (wol_if, wol_if, wol_cmd, wol)),
        (NETDIAG, "format", "string.format", 'formvalue("banner")', (banner, banner, write)),
        (HOSTNAME, "command", "luci.sys.call", "CBI form value", (cbi, cbi, cbi + 2)),
        (php, "command", "exec", "$_POST['target']", (target, target, target + 2)),
        (php, "command", "shell_exec", "$_GET['server']", (server, server, ntp, ntp + 1)),
        (php, "format", "printf", "$_GET['title']", (title, title, title + 1)),
    }
    # nothing from the look-alikes: status.cgi, tools.lua, system.php; nor from diag_nslookup, whose address is
    # validated in diag_command, nor from 'traceroute -m 10 $host' (an argument, not a command line)
    flow = next(f for f in scripts.flows if f.sink == "shell_exec")
    assert flow.excerpt().splitlines() == [
        f"{server:>5} source $_GET['server']: $server = trim($_GET['server']);",
        f"{server:>5} assign server: $server = trim($_GET['server']);",
        f'{ntp:>5} assign cmd: $cmd = "/usr/sbin/ntpdate -u $server";',
        f"{ntp + 1:>5} sink   shell_exec: $out = shell_exec($cmd);"]


# ---------------------------------------------------------------- sanitisers, guards and sinks, one by one


@pytest.mark.parametrize(("language", "code", "expected"), [
    # shell: sanitisers and guards stop the taint
    ("sh", 'x=$((FORM_n + 1))\neval "sleep $x"', set()),
    ("sh", "x=$(echo \"$FORM_ip\" | tr -cd '0-9.')\neval \"ping $x\"", set()),
    ("sh", "x=$(expr match \"$FORM_n\" '[0-9]*')\neval \"sleep $x\"", set()),
    ("sh", "expr \"$FORM_n\" : '[0-9]*$' >/dev/null || exit\neval \"sleep $FORM_n\"", set()),
    ("sh", "echo \"$FORM_n\" | tr -cd 0-9 >/tmp/n\neval \"sleep $FORM_n\"",  # tr filtered a copy, not the value
     {("command", "eval", "$FORM_n", (2, 2))}),
    ("sh", "x=$(echo \"$FORM_ip\" | sed 's/[^0-9.]//g')\neval \"ping $x\"", set()),
    ("sh", "echo \"$FORM_ip\" | grep -qE '^[0-9.]+$' || exit 1\neval \"ping $FORM_ip\"", set()),
    ("sh", "[[ $FORM_ip =~ ^[0-9.]+$ ]] || exit 1\neval \"ping $FORM_ip\"", set()),
    ("sh", 'case "$FORM_m" in\n a|b) ;;\n *) exit ;;\nesac\neval "run $FORM_m"', set()),
    ("sh", "FORM_ip=127.0.0.1\neval \"ping $FORM_ip\"", set()),  # overwritten with a constant
    ("sh", "eval 'ping \"$FORM_ip\"'", set()),  # eval expands it inside double quotes
    ("sh", 'eval "ping \\$FORM_ip"', set()),
    ("sh", 'ping -c 1 $FORM_ip\nlogger "$FORM_ip"\necho "$FORM_ip"', set()),  # arguments
    ("sh", "printf '%s' \"$FORM_x\"\nprintf -- \"%s\" \"$FORM_x\"", set()),
    ("sh", '# eval "$FORM_x"\necho "# eval $FORM_x"', set()),
    # shell: sinks
    ("sh", 'a="$FORM_x"\nb="pre-$a"\neval "$b"', {("command", "eval", "$FORM_x", (1, 1, 2, 3))}),
    ("sh", 'r=$(sh -c "ls $GET_dir")', {("command", "sh -c", "$GET_dir", (1, 1))}),
    ("sh", '/bin/busybox ash -ec "ls $HTTP_COOKIE"', {("command", "sh -c", "$HTTP_COOKIE", (1, 1))}),
    ("sh", 'echo "reboot $POST_x" | /bin/sh', {("command", "piped into sh", "$POST_x", (1, 1))}),
    ("sh", '. "/tmp/$FORM_f.conf"', {("command", "source", "$FORM_f", (1, 1))}),
    ("sh", "if [ 1 ]; then $FORM_cmd -v; fi", {("command", "command name", "$FORM_cmd", (1, 1))}),
    ("sh", 'for p in $QUERY_STRING; do\n  eval "$p"\ndone', {("command", "eval", "$QUERY_STRING", (1, 1, 2))}),
    ("sh", 'x=`echo $REQUEST_URI`; eval "$x"', {("command", "eval", "$REQUEST_URI", (1, 1, 1))}),
    ("sh", 'printf "$FORM_msg\\n"', {("format", "printf format", "$FORM_msg", (1, 1))}),
    ("sh", 'B=$(cat)\n[ "$REQUEST_METHOD" = POST ] && eval "$B"', {("command", "eval", "request body", (1, 1, 2))}),
    ("sh", "read line\neval \"$line\"", set()),  # no CGI variables: not the request body
    # Lua
    ("lua", 'local n = tonumber(luci.http.formvalue("n"))\nos.execute("sleep " .. n)', set()),
    ("lua", 'local h = luci.http.formvalue("h")\nif not h:match("^[%w%.]+$") then return end\n'
            'os.execute("ping " .. h)', set()),
    ("lua", 'local h = luci.http.formvalue("h")\nif h:match("%w+") then os.execute("ping " .. h) end',
     {("command", "os.execute", 'formvalue("h")', (1, 1, 2))}),  # not anchored: no guard
    ("lua", 'local h = luci.http.formvalue("h")\nif luci.ip.new(h) then io.popen("ping " .. h) end', set()),
    ("lua", 'local h = http.formvalue("h")\nif datatypes.ipaddr(h) then luci.sys.call("ping " .. h) end', set()),
    ("lua", 'local h = luci.http.formvalue("h")\nnixio.exec("/bin/ping", h)', set()),  # argv: only the program
    ("lua", 'local h = luci.http.formvalue("h")\nlocal s = "ping " .. luci.util.shellquote(h)\nos.execute(s)',
     set()),
    ("lua", 'local h = luci.http.formvalue("h")\nio.popen("ping " .. h)',
     {("command", "io.popen", 'formvalue("h")', (1, 1, 2))}),
    ("lua", 'local q = os.getenv("QUERY_STRING")\nnixio.exec(q)',
     {("command", "nixio.exec", 'getenv("QUERY_STRING")', (1, 1, 2))}),
    ("lua", 'local body = luci.http.content()\nluci.util.exec("x " .. body)',
     {("command", "luci.util.exec", "http.content()", (1, 1, 2))}),
    ("lua", 'local f = luci.http.formvalue("f")\nlocal s = f:format(1)', {("format", "f:format", 'formvalue("f")',
                                                                           (1, 1, 2))}),
    ("lua", 'local f = luci.http.formvalue("f")\nlocal s = ("%s"):format(f)\n-- os.execute(f)', set()),
    ("lua", 'local f = luci.http.formvalue("f")\n--[[\nos.execute(f)\n]]\nlocal s = [[\nos.execute(f)\n]]', set()),
    ("lua", 'local keep = (luci.http.formvalue("keep") == "1") and "" or "-n"\n'  # a comparison is a boolean
            'luci.sys.call("/sbin/sysupgrade %s %q" % { keep, "/tmp/firmware.img" })', set()),
    # PHP
    ("php", '<?php $h = $_GET["h"]; system("ping " . escapeshellarg($h)); ?>', set()),
    ("php", '<?php system(escapeshellcmd("ping " . $_GET["h"])); ?>', set()),
    ("php", '<?php $n = intval($_GET["n"]); system("sleep $n"); ?>', set()),
    ("php", '<?php $n = (int) $_REQUEST["n"]; exec("sleep " . $n); ?>', set()),
    ("php", '<?php $ip = filter_var($_GET["ip"], FILTER_VALIDATE_IP); system("ping $ip"); ?>', set()),
    ("php", '<?php $ip = filter_var($_GET["ip"], FILTER_UNSAFE_RAW); system("ping $ip"); ?>',
     {("command", "system", "$_GET['ip']", (1, 1, 1))}),
    ("php", "<?php if (!preg_match('/^[0-9.]+$/', $_GET['ip'])) exit;\nsystem('ping ' . $_GET['ip']); ?>", set()),
    ("php", "<?php $c = preg_replace('/[^a-z]/', '', $_GET['c']); passthru(\"$c\"); ?>", set()),
    ("php", "<?php $c = preg_replace('/a/', 'b', $_GET['c']); passthru(\"$c\"); ?>",
     {("command", "passthru", "$_GET['c']", (1, 1, 1))}),
    ("php", '<?php $v = ($_GET["m"] === "on") ? "1" : "0"; system("set $v"); ?>', set()),
    ("php", '<?php $v = $_GET["m"] == "on" ? $_GET["x"] : "0"; system("set $v"); ?>',
     {("command", "system", "$_GET['x']", (1, 1, 1))}),
    ("php", '<?php $h = $_COOKIE["h"];\n$p = popen("ping $h", "r");', {("command", "popen", "$_COOKIE['h']",
                                                                          (1, 1, 2))}),
    ("php", "<?php $c = $HTTP_GET_VARS['c']; $o = `$c`;", {("command", "backticks", "$HTTP_GET_VARS['c']",
                                                            (1, 1, 1))}),
    ("php", '<?php $b = file_get_contents("php://input"); eval($b);',
     {("command", "eval (PHP code)", "php://input", (1, 1, 1))}),
    ("php", '<?php foreach ($_POST as $k => $v) {\n  proc_open("set $k=$v", $d, $p);\n}',
     {("command", "proc_open", "$_POST", (1, 1, 2))}),
    ("php", '<?php $s = "x";\n$s .= $_SERVER["QUERY_STRING"];\nshell_exec($s);',
     {("command", "shell_exec", "$_SERVER['QUERY_STRING']", (2, 2, 3))}),
    ("php", '<?php $f = $_GET["f"]; fprintf($fh, $f); vsprintf("%s", array($f));',
     {("format", "fprintf", "$_GET['f']", (1, 1, 1))}),
    ("php", "<?php $c = $_GET['c']; $pdo->exec($c); Foo::system($c); curl_exec($c);\n"
            "function exec($x) { return $x; }\n/* system($c); */ # passthru($c);\n$s = 'system($c)';", set()),
])
def test_tracker(language: str, code: str, expected: set[tuple[str, str, str, tuple[int, ...]]]) -> None:
    assert flows_of(language, code) == expected


def test_haserl_with_lua_shell_is_traced_as_lua(tmp_path: Path) -> None:
    page = '#!/usr/bin/haserl --shell=lua\n<% os.execute("ping " .. FORM.host) %>\n<% local h = ENV.x %>\n'
    web = scan(tmp_path, {"/www/ping.lua.cgi": page})
    assert [(h.path, h.language, h.why) for h in web.handlers] == [("/www/ping.lua.cgi", "lua", "a haserl CGI script")]


# ---------------------------------------------------------------- ELF CGIs in the same one pass


@pytest.mark.parametrize("arch", ["mipsel", "armel"])
def test_one_pass_with_elf_facts(arch: str, tmp_path: Path) -> None:
    cgis = build_cgis(arch)
    root = write_tree(tmp_path, files={
        "/www/cgi-bin/ping.cgi": cgis["ping.cgi"],
        "/www/cgi-bin/ping-safe.cgi": cgis["ping-safe.cgi"],
        "/www/cgi-bin/reboot.cgi": cgis["reboot.cgi"],
        "/usr/bin/pingtool": cgis["ping.cgi"],  # the same program, not where a web server runs it
        "/bin/webs": cgis["webs"],
        "/lib/libwebs.so": cgis["libwebs.so"],
        "/www/cgi-bin/diag.cgi": DIAG_CGI,
    })
    elf, web = ElfScanner(), WebHandlerScanner()
    stats = scan_content(FileSystem.scan(root), [elf, web])
    facts, handlers = elf.result(), web.result()
    assert isinstance(facts, ElfFiles)
    assert [(h.path, h.language) for h in handlers.elf()] == [
        ("/www/cgi-bin/ping-safe.cgi", "elf"), ("/www/cgi-bin/ping.cgi", "elf"), ("/www/cgi-bin/reboot.cgi", "elf")]
    assert handlers.servers == ("/bin/webs",)
    assert [h.path for h in handlers.scripts()] == ["/www/cgi-bin/diag.cgi"]
    ping = facts.get("/www/cgi-bin/ping.cgi")
    assert ping is not None and ping.machine == {"mipsel": "MIPS", "armel": "ARM"}[arch]
    assert {"getenv", "system"} <= ping.imports and "ping -c 1 %s" in ping.strings
    assert stats.read == stats.files  # every file read once, by both scanners together


# ---------------------------------------------------------------- hostile input: bounded, never raises

_CODE = st.text(alphabet=st.sampled_from(list("$(){}[]\"'`\\|;&#-=.:%^ \t\nabcxFORM_QUERYSTINGevalsystempopen")),
                max_size=400)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(language=st.sampled_from(["sh", "lua", "php"]), text=st.one_of(st.text(max_size=300), _CODE))
def test_tracker_never_raises(language: str, text: str) -> None:
    result = trace("/x", language, text.splitlines())
    assert all(f.steps and f.steps[-1].role == "sink" for f in result.flows)


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=2000), name=st.sampled_from(["/www/cgi-bin/a.cgi", "/www/x.php", "/x.lua", "/y"]))
def test_scanner_never_raises_on_bytes(data: bytes, name: str) -> None:
    head = b"#!/bin/sh\n" + data
    kind, language = classify(name, head)
    scanner = WebHandlerScanner()
    if scanner.wants(name, kind, language, head):
        scanner.feed(Blob(Entry(name, 0o100755, len(head), 0, 0), kind, language, head))
    scanner.result()


@pytest.mark.parametrize("language", ["sh", "lua", "php"])
def test_pathological_lines_are_bounded_in_time(language: str) -> None:
    lines = [
        "$(" * 3000, "'^" * 3000, "grep " + "'^x" * 1500, '"' + "\\" * 5000, "a=" + "${" * 3000,
        "eval " + "$FORM_x " * 2000, "x = " + "(" * 4000, "foreach (" + "$a as " * 1000,
        "sh" + " -c" * 2000, "--[[" * 1000, "/*" * 2000, "local a" + ", b" * 2000 + " = 1",
        "if echo \"$FORM_x\" | grep" + " -q" * 1500 + " '^", "$x" + "[1]" * 2000 + " = 1",
    ]
    start = time.monotonic()
    trace("/x", language, lines * 3)
    assert time.monotonic() - start < 5


def test_many_lines_and_flows_are_capped(tmp_path: Path) -> None:
    body = "#!/bin/sh\n" + 'eval "$FORM_a"\n' * 300 + "".join(f"v{i}=$FORM_x\n" for i in range(2100))
    web = scan(tmp_path / "a", {"/www/cgi-bin/big.cgi": body + "echo\n" * MAX_LINES})
    [handler] = web.handlers
    assert handler.limit == f"traced to line {MAX_LINES}; more than 100 flows; more than 2000 tainted variables"
    assert len(web.flows) == 100
    long_chain = "#!/bin/sh\nv0=$FORM_x\n" + "".join(f"v{i + 1}=$v{i}\n" for i in range(40)) + 'eval "$v40"\n'
    [flow] = scan(tmp_path / "b", {"/www/cgi-bin/chain.cgi": long_chain}).flows
    assert len(flow.steps) == 12  # the source, the last ten assignments, the sink
    assert flow.steps[0].what == "$FORM_x" and flow.steps[1].what == "v31" and flow.steps[-1].line == 43
