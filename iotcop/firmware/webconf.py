"""Web servers and where they listen, in plain HTTP or HTTPS: lighttpd, nginx, OpenWrt's uhttpd, busybox
httpd, boa, mini_httpd and thttpd. A plain endpoint may answer with a redirect to HTTPS (uhttpd
``redirect_https``, a lighttpd ``url.redirect``, an nginx ``return 301 https://...``). lighttpd and nginx
``include`` files are followed (bounded); lighttpd's ``include_shell`` is never run, only noted.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from iotcop.firmware.services import BootCommand, BootServices
from iotcop.firmware.servicetypes import (
    ConfigFiles,
    Endpoint,
    Flag,
    Source,
    WebServer,
    instances,
    option_values,
    port_of,
    source_of,
    split_hostport,
)
from iotcop.firmware.uci import parse_uci

MAX_INCLUDE_DEPTH = 8
MAX_LINES = 20_000
_CONDITION = re.compile(r'^(?:else\s*)?\$(\w+)\["([^"]*)"\]\s*(==|!=|=~|!~|=\^|=\$)\s*"([^"]*)"')
_ASSIGN = re.compile(r"^([A-Za-z][\w.-]*)\s*(\+=|:=|=)\s*(.*)$", re.S)
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


@dataclass
class _Listening:
    endpoints: list[Endpoint] = field(default_factory=list)
    redirect: Source | None = None  # applies to every plain endpoint
    auth: Source | None = None
    notes: list[str] = field(default_factory=list)


def _statements(text: str) -> list[tuple[int, str]]:
    """lighttpd statements: comments removed, values in parentheses joined, braces as statements of their own."""
    out: list[tuple[int, str]] = []
    current, start, depth, quote, line = "", 1, 0, False, 1
    chars = iter(text[: 2 * 1024 * 1024])
    for c in chars:
        if quote:
            current += c
            if c == "\\":
                current += next(chars, "")
            quote = c != '"'
            line += c == "\n"
            continue
        if c == "#":  # a comment runs to the end of the line (or of the file)
            for _ in iter(lambda: next(chars, "\n"), "\n"):
                pass
            c = "\n"
        if c == '"':
            quote = True
        depth += (c == "(") - (c == ")")
        if c in "{}" or (c == "\n" and depth <= 0):
            if current.strip():
                out.append((start, current.strip()))
            if c in "{}":
                out.append((line, c))
            current, start, depth = "", line + (c == "\n"), max(depth, 0)
        else:
            current += " " if c == "\n" else c
        line += c == "\n"
        if len(out) > MAX_LINES:
            break
    if current.strip():
        out.append((start, current.strip()))
    return out


def parse_lighttpd(text: str, path: str, files: ConfigFiles | None = None, depth: int = 0) -> _Listening:
    """Where lighttpd listens: server.port/server.bind, each ``$SERVER["socket"]`` block, ssl.engine."""
    state = _Listening()
    main: dict[str, tuple[str, Source]] = {}
    sockets: list[tuple[str, Source, dict[str, tuple[str, Source]]]] = []
    _lighttpd_walk(text, path, files, depth, (state, main, sockets))
    global_tls = main.get("ssl.engine", ("", None))[0] == "enable"
    port = port_of(main["server.port"][0]) if "server.port" in main else None
    bind = main.get("server.bind", ("", None))
    if not bind[0].startswith("/"):  # a path is a unix socket: not on the network
        where = main.get("server.port", bind)[1] if "server.port" in main or bind[1] else None
        state.endpoints.append(Endpoint(bind[0], port or (443 if global_tls else 80), global_tls, where))
    for spec, where, values in sockets:
        tls = values.get("ssl.engine", main.get("ssl.engine", ("", where)))[0] == "enable"
        host, number = split_hostport(spec, None)
        redirect = values.get("url.redirect")
        state.endpoints.append(Endpoint(host, number, tls, where,
                                        redirect[1] if redirect and "https://" in redirect[0] else None))
    return state


def _lighttpd_walk(text: str, path: str, files: ConfigFiles | None, depth: int,
                   into: tuple[_Listening, dict[str, tuple[str, Source]], list[tuple[str, Source, dict[
                       str, tuple[str, Source]]]]]) -> None:
    state, main, sockets = into
    stack: list[dict[str, tuple[str, Source]] | None] = []  # None: a condition other than a socket
    pending: dict[str, tuple[str, Source]] | None = None
    for number, statement in _statements(text):
        where = Source(path, number, statement[:200])
        if statement == "{":
            stack.append(pending)
            pending = None
        elif statement == "}":
            stack = stack[:-1]
        elif (cond := _CONDITION.match(statement)) is not None:
            pending = None
            if cond.group(1) == "SERVER" and cond.group(2) == "socket" and cond.group(3) == "==":
                pending = {}
                sockets.append((cond.group(4), where, pending))
        elif statement.startswith(("include ", "include\t")) and files is not None and depth < MAX_INCLUDE_DEPTH:
            for name in _QUOTED.findall(statement)[:1]:
                pattern = posixpath.join(posixpath.dirname(path), name)
                for included in files.glob(pattern) if any(ch in name for ch in "*?[") else [pattern]:
                    _lighttpd_walk(files.read(included) or "", included, files, depth + 1, into)
        elif statement.startswith("include_shell"):
            state.notes.append(f"{path}:{number}: {statement[:120]} is a command run at start; its output "
                               "(for Debian's use-ipv6.pl: an IPv6 listener on the same port) was not read")
        elif (assign := _ASSIGN.match(statement)) is not None:
            key, value = assign.group(1), " ".join(_QUOTED.findall(assign.group(3))) or assign.group(3).strip()
            socket = next((s for s in reversed(stack) if s is not None), None)
            if key == "auth.require":
                state.auth = state.auth or where
            elif key == "url.redirect" and "https://" in value and socket is None:
                state.redirect = state.redirect or where
            (socket if socket is not None else main if not stack else {}).setdefault(key, (value, where))


def parse_nginx(text: str, path: str, files: ConfigFiles | None = None) -> _Listening:
    """Each ``server`` block of the http context: its ``listen`` lines (``ssl`` or not), and whether it
    answers with a redirect to https."""
    state = _Listening()
    stack: list[str] = []
    directive: list[tuple[str, int]] = []
    server: dict[str, list[tuple[list[str], Source]]] = {}
    for word, line, origin in _nginx_words(text, path, files, 0):
        if word == "{":
            stack.append(directive[0][0] if directive else "")
            if stack == ["http", "server"] or stack == ["server"]:
                server = {}
            directive = []
        elif word == "}":
            if stack[-1:] == ["server"] and "stream" not in stack:
                _nginx_server(server, state)
            stack, directive = stack[:-1], []
        elif word == ";":
            if directive and "server" in stack:
                args = [w for w, _ in directive]
                where = Source(origin, directive[0][1], " ".join(args)[:200])
                server.setdefault(args[0], []).append((args[1:], where))
            directive = []
        else:
            directive.append((word, line))
    return state


def _nginx_server(server: dict[str, list[tuple[list[str], Source]]], state: _Listening) -> None:
    redirects = [w for key in ("return", "rewrite") for args, w in server.get(key, [])
                 if any(a.startswith("https://") for a in args)]
    ssl_on = any(args[:1] == ["on"] for args, _ in server.get("ssl", []))
    if any(args[:1] not in (["off"], ["Off"]) for key in ("auth_basic", "auth_request") for args, _ in
           server.get(key, [])):
        state.auth = state.auth or server.get("auth_basic", server.get("auth_request", []))[0][1]
    for args, where in server.get("listen", []) or [(["80"], None)]:  # type: ignore[list-item]
        if not args or args[0].startswith("unix:"):
            continue
        host, port = split_hostport(args[0], 80)
        tls = ssl_on or "ssl" in args[1:]
        state.endpoints.append(Endpoint(host, port, tls, where, None if tls or not redirects else redirects[0]))


def _nginx_words(text: str, path: str, files: ConfigFiles | None, depth: int) -> list[tuple[str, int, str]]:
    """Words, ';', '{' and '}' of an nginx file with their line, ``include`` files spliced in."""
    out: list[tuple[str, int, str]] = []
    for number, raw in enumerate(text.splitlines()[:MAX_LINES], 1):
        line = re.sub(r"(^|\s)#.*$", "", raw)
        for token in re.findall(r'"[^"]*"|\'[^\']*\'|[;{}]|[^\s;{}]+', line):
            out.append((token.strip("\"'"), number, path))
    spliced: list[tuple[str, int, str]] = []
    for i, item in enumerate(out):
        if item[0] == ";" and i >= 2 and out[i - 2][0] == "include" and files is not None and depth < MAX_INCLUDE_DEPTH:
            spliced = spliced[:-2]
            name = out[i - 1][0]
            pattern = name if name.startswith("/") else posixpath.join(posixpath.dirname(path), name)
            for included in files.glob(pattern) if any(ch in name for ch in "*?[") else [pattern]:
                spliced += _nginx_words(files.read(included) or "", included, files, depth + 1)
            continue
        spliced.append(item)
    return spliced


def _web(name: str, command: BootCommand | None, program: str, state: _Listening,
         configs: tuple[str, ...] = ()) -> WebServer:
    endpoints = tuple(e if e.tls or e.redirect or state.redirect is None
                      else Endpoint(e.address, e.port, e.tls, e.source, state.redirect) for e in state.endpoints)
    auth = Flag(True, state.auth) if state.auth else Flag(None, why="no authentication configured in the server "
                                                                   "(the application may have its own login)")
    return WebServer(name=name, kind="http", started=command, program=program, configs=configs,
                     endpoints=endpoints, notes=tuple(state.notes), auth=auth)


def web_servers(boot: BootServices, files: ConfigFiles) -> list[WebServer]:
    out: list[WebServer] = []
    for command, program in instances(boot, "lighttpd"):
        config = (option_values(command.args, "-f") if command else [])[:1] or ["/etc/lighttpd/lighttpd.conf"]
        state = parse_lighttpd(files.read(config[0]) or "", config[0], files)
        out.append(_web("lighttpd", command, program, state, tuple(config)))
    for command, program in instances(boot, "nginx"):
        config = (option_values(command.args, "-c") if command else [])[:1] or ["/etc/nginx/nginx.conf"]
        out.append(_web("nginx", command, program, parse_nginx(files.read(config[0]) or "", config[0], files),
                        tuple(config)))
    out += [_uhttpd(command, program, files) for command, program in instances(boot, "uhttpd")]
    for command, program in instances(boot, "httpd"):
        out.append(_busybox_httpd(command, program, files))
    for name in ("boa", "mini_httpd", "thttpd"):
        out += [_small_server(name, command, program, files) for command, program in instances(boot, name)]
    return out


def _uhttpd(command: BootCommand | None, program: str, files: ConfigFiles) -> WebServer:
    text = files.read("/etc/config/uhttpd")
    state = _Listening()
    if text is None:  # started with its flags: -p plain, -s TLS, -q redirect
        where = source_of(command) if command else None
        args = command.args if command else ()
        listen = [(p, False) for p in option_values(args, "-p")] + [(s, True) for s in option_values(args, "-s")]
        for spec, tls in listen:
            state.endpoints.append(Endpoint(*split_hostport(spec, None), tls=tls, source=where))
        state.redirect = where if "-q" in args else None
        return _web("uhttpd", command, program, state)
    for section in parse_uci(text, "/etc/config/uhttpd").of_type("uhttpd"):
        for key, tls in (("listen_http", False), ("listen_https", True)):
            for item in section.get_list(key) or ([v] if (v := section.get(key)) else []):
                if not item.value.strip():
                    continue
                where = Source("/etc/config/uhttpd", item.line, f"{item.kind} {key} '{item.value}'")
                state.endpoints.append(Endpoint(*split_hostport(item.value, None), tls=tls, source=where))
        redirect = section.get("redirect_https")
        if redirect and section.flag("redirect_https", False) and any(e.tls for e in state.endpoints):
            state.redirect = Source("/etc/config/uhttpd", redirect.line, f"option redirect_https '{redirect.value}'")
    return _web("uhttpd", command, program, state, ("/etc/config/uhttpd",))


def _busybox_httpd(command: BootCommand | None, program: str, files: ConfigFiles) -> WebServer:
    args = command.args if command else ()
    where = source_of(command) if command else None
    if "-k" in args or any(p.endswith(".conf") for p in option_values(args, "-f")):
        state = _Listening(notes=["Apache httpd (started with -k or -f): its configuration is not read"])
        return _web("apache-httpd", command, program, state)
    config = option_values(args, "-c")[:1] or ["/etc/httpd.conf"]
    text = files.read(config[0]) or ""
    state = _Listening([Endpoint(*split_hostport(p, 80), source=where) for p in option_values(args, "-p")[:1]]
                       or [Endpoint("", 80)])
    if not option_values(args, "-p"):  # vendors' own 'httpd' programs (TP-Link's) serve on 80 too
        state.notes.append("httpd is started without -p: port 80 assumed (busybox httpd's default)")
    for number, raw in enumerate(text.splitlines()[:MAX_LINES], 1):
        if raw.startswith("/") and raw.count(":") >= 2:  # '/adm:admin:setup': basic auth below /adm
            state.auth = state.auth or Source(config[0], number, raw.split(":", 1)[0] + ":…")
    return _web("httpd", command, program, state, tuple(config) if text else ())


def _small_server(name: str, command: BootCommand | None, program: str, files: ConfigFiles) -> WebServer:
    """boa (boa.conf Port/Listen), mini_httpd and thttpd (-p, -h, -S, and -C with port=/host=/ssl lines)."""
    args = command.args if command else ()
    where = source_of(command) if command else None
    if name == "boa":
        directory = option_values(args, "-c")[:1]
        candidates = [posixpath.join(directory[0], "boa.conf")] if directory else ["/etc/boa/boa.conf", "/etc/boa.conf"]
        config = next((c for c in candidates if files.read(c) is not None), "")
        pairs = _pairs(files.read(config) or "", config, " ") if config else {}
        port, host, tls = pairs.get("Port"), pairs.get("Listen"), False
    else:
        config = (option_values(args, "-C")[:1] or [""])[0]
        pairs = _pairs(files.read(config) or "", config, "=") if config else {}
        cli_port, cli_host = option_values(args, "-p")[:1], option_values(args, "-h")[:1]
        port = (cli_port[0], where) if cli_port else pairs.get("port")
        host = (cli_host[0], where) if cli_host else pairs.get("host")
        tls = name == "mini_httpd" and ("-S" in args or "ssl" in pairs)
    default = 443 if tls else 80
    endpoint = Endpoint(host[0] if host else "", (port_of(port[0]) if port else None) or default, tls,
                        (port or host or ("", where))[1])
    return _web(name, command, program, _Listening([endpoint]), (config,) if config else ())


def _pairs(text: str, path: str, separator: str) -> dict[str, tuple[str, Source | None]]:
    out: dict[str, tuple[str, Source | None]] = {}
    for number, raw in enumerate(text.splitlines()[:MAX_LINES], 1):
        line = raw.split("#", 1)[0].strip()
        key, _, value = line.partition(separator) if separator in line else (line, "", "")
        if key.strip():
            out.setdefault(key.strip(), (value.strip(), Source(path, number, raw.strip())))
    return out
