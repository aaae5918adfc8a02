"""Firmware checks on how web handlers treat request input (guideline 13; EN 303 645 5.13-1).

Scripts are judged on the flows ``WebHandlers`` traced in them. Compiled handlers (CGI programs, web server
programs, whose pages may be built in, and programs using a request API such as GoAhead's ``websGetVar``) are
judged from ``ElfFiles`` without disassembly: a program that reads request input, imports a function that
hands a string to a shell and holds a command template with ``%s`` ("ping -c 1 %s") is reported for review;
whether request data reaches the template is only visible at the call sites. A program whose only way to run
commands is ``execv``-style (an argument vector, no "/bin/sh") cannot have a shell parse its input and is not
reported.

Format strings of compiled handlers are not judged. The defect is a printf-family call whose format argument
is not a constant, which only the call site shows; an import of printf and read-only strings with %s are in
nearly every C program, so a rule on imports and strings would flag every CGI that prints and prove none.
Compiled handlers therefore leave a clean fw.input.format-string result inconclusive rather than clean.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from iotcop.checks.registry import CheckFunc, check, spec_of
from iotcop.errors import CannotAssess, NotApplicable
from iotcop.firmware.elf import ElfFiles, ElfInfo
from iotcop.firmware.webinput import Flow, WebHandlers
from iotcop.model import Evidence, EvidenceKind, Finding, Location, Severity

#: Functions of web frameworks that return a request parameter, and where each comes from.
REQUEST_APIS = {
    "websGetVar": "GoAhead web server",
    "httpGetEnv": "TP-Link httpd",
    "cgiGetValue": "libcgi",
    "cgiFormString": "cgic",
    "cgiFormStringNoNewlines": "cgic",
    "cgiFormStringMultiple": "cgic",
    "req_get_cstream_var": "Realtek SDK boa",
}
CGI_VARIABLES = frozenset({"QUERY_STRING", "CONTENT_LENGTH", "HTTP_COOKIE", "REQUEST_URI", "PATH_INFO"})
#: Functions that run a command line (through /bin/sh -c), and where each comes from.
SHELL_SINKS = {
    "system": "libc",
    "popen": "libc",
    "doSystem": "Ralink/MediaTek SDK",
    "doSystemCmd": "Tenda libcommon",
    "CsteSystem": "TOTOLINK libcscommon",
}
EXEC_SINKS = ("execl", "execlp", "execle", "execv", "execvp", "execve", "execvpe")  # a shell only with /bin/sh
MAX_SHOWN = 8
_FORMAT_S = re.compile(r"%[-#0 +]*\d*(?:\.\d+)?s")
_COMMAND = (r"(?:[\w.-]*/)*(?:ping6?|traceroute6?|nslookup|arping|ifconfig|ip|route|ip6?tables|iwconfig|iwpriv|iwlist|"
            r"brctl|echo|cat|cp|mv|rm|mkdir|chmod|touch|ln|kill|killall|wget|curl|tftp|ftpget|ftpput|nvram|uci|mtd|dd|"
            r"tar|sh|insmod|udhcpc|ntpclient|date|hostname|sed|grep|awk|logger|openssl|wl|mount|umount|telnetd|passwd|"
            r"chpasswd|smbpasswd|reboot|sleep|flash|cfm)\s")
_COMMAND_HEAD = re.compile(r"^\s*" + _COMMAND)
_SHELL_SYNTAX = re.compile(r"2>&1|>\s*/dev/null|\s\|\s|&&|`|;\s*" + _COMMAND)


SERVER_INPUT = "the requests it parses itself"


@dataclass(frozen=True)
class _Compiled:
    """What the imports and strings of one compiled handler show."""

    path: str
    why: str
    inputs: tuple[str, ...]
    sinks: tuple[str, ...]
    templates: tuple[str, ...]


def _compiled(info: ElfInfo, why: str, server: bool = False) -> _Compiled:
    imports = {name.split("@", 1)[0] for name in info.imports}
    strings = set(info.strings)
    inputs = [SERVER_INPUT] if server else []
    inputs += [f"{name} ({REQUEST_APIS[name]})" for name in sorted(imports & REQUEST_APIS.keys())]
    if "getenv" in imports:
        inputs += [f"getenv with {name!r}" for name in sorted(CGI_VARIABLES & strings)]
    sinks = [name for name in SHELL_SINKS if name in imports]
    if "/bin/sh" in strings:
        sinks += [f"{name} with '/bin/sh'" for name in EXEC_SINKS if name in imports]
    templates = [s for s in info.strings if _FORMAT_S.search(s) and (_COMMAND_HEAD.match(s) or _SHELL_SYNTAX.search(s))]
    return _Compiled(info.path, why, tuple(inputs), tuple(sinks), tuple(dict.fromkeys(templates)))


def _compiled_handlers(web: WebHandlers, elves: ElfFiles) -> tuple[list[_Compiled], list[str]]:
    """Compiled handlers (placed where a server runs them, web server programs, which may have handlers
    built in, and programs importing a request API), and those whose ELF facts are missing (not parsed)."""
    by_path = {info.path: info for info in elves.files}
    found, missing = [], []
    named = [(h.path, h.why, False) for h in web.elf()]
    named += [(path, "a web server program", True) for path in web.servers if path not in {h.path for h in web.elf()}]
    for path, why, server in named:
        info = by_path.pop(path, None)
        if info is None:
            missing.append(path)
        else:
            found.append(_compiled(info, why, server))
    for info in by_path.values():
        apis = sorted({name.split("@", 1)[0] for name in info.imports} & REQUEST_APIS.keys())
        if apis:
            found.append(_compiled(info, f"imports {', '.join(apis)}"))
    return sorted(found, key=lambda c: c.path), missing


def _require_handlers(web: WebHandlers, compiled: list[_Compiled], missing: list[str]) -> None:
    if web.scripts() or compiled or missing:
        return
    raise NotApplicable("no web handlers were found: no script or program in a cgi-bin directory or web root, no "
                        "LuCI controller, PHP page or script reading request input, and no web server program")


def _untraced(web: WebHandlers, missing: list[str]) -> list[str]:
    cut = [f"{h.path} ({h.limit})" for h in web.scripts() if h.limit]
    return cut + [f"{path} (not a valid ELF file)" for path in missing]


def _shown(items: tuple[str, ...] | list[str]) -> str:
    more = f" and {len(items) - MAX_SHOWN} more" if len(items) > MAX_SHOWN else ""
    return ", ".join(items[:MAX_SHOWN]) + more


def _flow_finding(flow: Flow, web: WebHandlers, func: CheckFunc, effect: str) -> Finding:
    why = next((h.why for h in web.handlers if h.path == flow.path), "a web handler")
    source = flow.steps[0]
    via = [f"{s.what} (line {s.line})" for s in flow.steps[1:-1]]
    message = (f"In {flow.path} ({why}), request input {flow.source} (line {source.line}) reaches {flow.sink} at "
               f"line {flow.line}{' through ' + ', '.join(via) if via else ''} with no validation on the way: "
               f"{effect}.")
    return spec_of(func).finding(
        message=message, location=Location.in_image(flow.path, line=flow.line),
        evidence=Evidence.of(flow.excerpt(), "intra-file taint tracking: request source, assignments, sink"))


@check(
    id="fw.input.command-injection",
    title="Request input of a web handler reaches a shell without validation",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.HIGH,
    remediation="Validate each request parameter against an allowlist (e.g. an IP address or host name pattern) "
                "before use, and run programs with an argument vector (execv, luci.sys.process.exec, "
                "proc_open with an array) instead of a shell; quote with escapeshellarg/shellquote where a "
                "shell cannot be avoided.",
)
def command_injection(web: WebHandlers, elves: ElfFiles) -> Iterator[Finding]:
    """A web handler that puts request parameters into a shell command line (eval, sh -c, system(),
    os.execute, popen, backticks) lets anyone who can send it a request run commands on the device, usually
    as root: input from a network interface is not validated (EN 303 645 5.13-1). Script findings show the
    traced flow line by line. Compiled CGIs are judged without disassembly, so their findings are for review:
    a program that reads CGI request input (getenv of QUERY_STRING and friends, a request API), imports a
    shell-running function and holds command templates with %s (MEDIUM); a web server program that parses
    requests itself with the same imports and templates, or a handler without templates (INFO, an
    observation: whether request data reaches the template is not evident)."""
    compiled, missing = _compiled_handlers(web, elves)
    _require_handlers(web, compiled, missing)
    found = [_flow_finding(flow, web, command_injection, "a crafted request runs its own PHP code"
                           if flow.sink.startswith("eval (PHP") else "a crafted request runs its own shell commands")
             for flow in web.of_kind("command")]
    for program in compiled:
        if not program.inputs or not program.sinks:
            continue
        explicit = [i for i in program.inputs if i != SERVER_INPUT]
        severity = Severity.MEDIUM if program.templates and explicit else Severity.INFO
        templates = (f"holds command templates with %s ({_shown([repr(t) for t in program.templates])}): if request "
                     "data is formatted into one, the request chooses the shell command"
                     if program.templates else "holds no command template with %s, so no flow is evident")
        found.append(spec_of(command_injection).finding(
            severity=severity,
            message=f"{program.path} is a compiled web handler ({program.why}) that reads request input "
                    f"({_shown(program.inputs)}), imports {_shown(program.sinks)} and {templates}. For review: "
                    "the call sites decide (disassembly).",
            location=Location.in_image(program.path),
            evidence=Evidence.of("\n".join([f"request input: {', '.join(program.inputs)}",
                                            f"shell sinks: {', '.join(program.sinks)}",
                                            *[f"template: {t!r}" for t in program.templates[:20]]]),
                                 "ELF imports and read-only strings (no disassembly)"),
        ))
    if not found and (untraced := _untraced(web, missing)):
        raise CannotAssess(f"no request input was seen reaching a shell, but {len(untraced)} handler(s) could not "
                           f"be traced completely: {_shown(untraced)}")
    yield from found


@check(
    id="fw.input.format-string",
    title="Request input of a web handler is used as a format string",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.MEDIUM,
    remediation="Never pass request data as the format argument: write printf '%s' \"$x\", printf('%s', $x), "
                "string.format('%s', x).",
)
def format_string(web: WebHandlers, elves: ElfFiles) -> Iterator[Finding]:
    """Request data used as the format of printf, sprintf or string.format lets a request insert conversion
    specifiers: at best a crash or garbled output, in PHP a read of other arguments, and in C memory
    disclosure or corruption. Input is not validated (EN 303 645 5.13-1). Only scripts are traced: whether a
    compiled handler passes a non-constant format needs its call sites (disassembly), so compiled handlers
    make a clean result inconclusive rather than clean."""
    compiled, missing = _compiled_handlers(web, elves)
    _require_handlers(web, compiled, missing)
    found = [_flow_finding(flow, web, format_string, "a request can insert its own conversion specifiers")
             for flow in web.of_kind("format")]
    untraced = _untraced(web, missing) + [f"{c.path} (compiled)" for c in compiled]
    if not found and untraced:
        raise CannotAssess(f"no request input was seen used as a format string in the traced scripts, but "
                           f"{len(untraced)} handler(s) cannot be judged: {_shown(untraced)}")
    yield from found
