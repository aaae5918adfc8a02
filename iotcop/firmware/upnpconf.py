"""The UPnP Internet Gateway Device (miniupnpd, linux-igd's upnpd): whether port mapping is switched on, and
whether clients may map ports for other hosts (secure mode off), from OpenWrt's /etc/config/upnpd (both its
1.x options ``enable_upnp``/``secure_mode`` and 2.x ``enabled_protocols``/``allow_third_party_mapping``) or
from miniupnpd.conf.
"""

from __future__ import annotations

import posixpath

from iotcop.firmware.services import BootCommand, BootServices
from iotcop.firmware.servicetypes import ConfigFiles, Endpoint, Flag, Source, UpnpIgd, instances
from iotcop.firmware.uci import UciSection, parse_uci

MAX_LINES = 20_000


def upnp_igds(boot: BootServices, files: ConfigFiles) -> list[UpnpIgd]:
    out = []
    for command, program in instances(boot, "miniupnpd", "upnpd"):
        text = files.read("/etc/config/upnpd")
        package = parse_uci(text or "", "/etc/config/upnpd")
        if package.of_type("upnpd"):
            out.append(_upnp_uci(package.of_type("upnpd")[0], package.of_type("internal_network"), command, program))
            continue
        args = command.args if command else ()
        config = next((args[i + 1] for i, a in enumerate(args[:-1]) if a == "-f"), "/etc/miniupnpd.conf")
        pairs: dict[str, list[tuple[str, Source | None]]] = {}
        for number, raw in enumerate((files.read(config) or "").splitlines()[:MAX_LINES], 1):
            key, sep, value = raw.split("#", 1)[0].strip().partition("=")
            if sep:
                pairs.setdefault(key.strip(), []).append((value.strip(), Source(config, number, raw.strip())))
        upnp = pairs.get("enable_upnp", [("yes", None)])[0]
        secure = pairs.get("secure_mode", [])
        out.append(UpnpIgd(
            name=command.program if command else posixpath.basename(program), kind="upnp", started=command,
            program=program, configs=(config,) if pairs else (), external=pairs.get("ext_ifname", [("", None)])[0][0],
            endpoints=tuple(Endpoint(v, 1900, source=w, transport="udp") for v, w in pairs.get("listening_ip", [])),
            enabled=Flag(upnp[0] == "yes", upnp[1], "" if upnp[1] else "enable_upnp is not set (default yes)"),
            secure_mode=Flag(secure[0][0] == "yes", secure[0][1]) if secure else
            Flag(None, why="secure_mode is not set (its default depends on the miniupnpd version)")))
    return out


def _upnp_uci(section: UciSection, networks: list[UciSection], command: BootCommand | None, program: str) -> UpnpIgd:
    path = "/etc/config/upnpd"

    def where(name: str) -> Source | None:
        v = section.get(name)
        return Source(path, v.line, f"option {name} '{v.value}'") if v else None

    enabled = section.flag("enabled", True)
    protocols = section.value("enabled_protocols", "all") or "all"
    igd = section.flag("enable_upnp", True) and ("all" in protocols or "upnp" in protocols)
    secure = not section.flag("allow_third_party_mapping", False) and section.flag("secure_mode", True)
    internal = [n.value("interface", "") or "" for n in networks] + [section.value("internal_iface", "") or ""]
    return UpnpIgd(
        name="miniupnpd", kind="upnp", started=command if enabled else None, program=program, configs=(path,),
        switch=where("enabled"),
        notes=() if enabled else (f"disabled in {path} (option enabled '0')",),
        external=section.value("external_iface", "") or section.value("ext_ifname", "") or "",
        endpoints=tuple(Endpoint(i, 1900, transport="udp") for i in internal if i),
        enabled=Flag(igd, where("enable_upnp") or where("enabled_protocols"), "" if where("enable_upnp") or
                     where("enabled_protocols") else "UPnP IGD is on by default when the service runs"),
        secure_mode=Flag(secure, where("allow_third_party_mapping") or where("secure_mode"),
                         "" if where("allow_third_party_mapping") or where("secure_mode") else "OpenWrt's default"))
