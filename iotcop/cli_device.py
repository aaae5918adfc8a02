"""``iotcop assess device``: the live device, within the scope the user names."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from iotcop.cli_common import FORMAT, Format, err, handles_errors, nullcontext
from iotcop.cli_report import FORMATS_HELP, finish, report_formats
from iotcop.device.options import DeviceOptions, load_credentials, with_ports
from iotcop.errors import UsageError


@handles_errors
def assess_device_cmd(
    targets: list[str] = typer.Argument(None, help="Hosts, addresses or CIDR ranges: the only ones contacted."),
    scope: Path | None = typer.Option(None, "--scope", help="A file of targets, one per line ('!' excludes)."),
    ports: str | None = typer.Option(None, "--ports", "-p", help="TCP ports, e.g. 22,80,8000-8100 (default: "
                                     "the ports IoT products expose)."),
    all_ports: bool = typer.Option(False, "--all-ports", help="Scan every TCP port (1-65535)."),
    credentials: Path | None = typer.Option(None, "--credentials", help="'user:password' lines to try instead of "
                                            "the shipped lists (Mirai and vendor defaults)."),
    bruteforce: int = typer.Option(20, "--bruteforce-attempts", min=0, max=200, help="Failed logins per service to "
                                   "measure brute-force protection (0 skips it)."),
    no_input: bool = typer.Option(False, "--no-input-probes", help="Skip the input-handling probes."),
    destructive: bool = typer.Option(False, "--destructive", help="Also run probes that change the device's state "
                                     "(UPnP AddPortMapping, then DeletePortMapping)."),
    no_nmap: bool = typer.Option(False, "--no-nmap", help="Use iotcop's own scanner even when nmap is installed."),
    rate: float = typer.Option(100.0, "--rate", min=1.0, help="New connections per second, at most."),
    concurrency: int = typer.Option(16, "--concurrency", min=1, max=256, help="Connections open at once."),
    timeout: float = typer.Option(3.0, "--timeout", min=0.1, help="Seconds per connection or exchange."),
    firmware: Path | None = typer.Option(None, "--firmware", help="The same product's firmware image: one "
                                         "assessment of both."),
    declaration: Path | None = typer.Option(None, "--declaration", "-d", help="The manufacturer's declaration."),
    output: Path = typer.Option(Path("out"), "--output", "-o", help="Directory for assessment.json."),
    reports: str = typer.Option("json", "--report", "-r", help=FORMATS_HELP + " Written to OUTPUT."),
    fmt: Format = FORMAT,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
) -> None:
    """Assess a live device: ports, services, default credentials, brute-force protection, TLS/SSH quality,
    web and IoT protocols, input handling. Every connection is recorded in the assessment."""
    from iotcop.api import assess_device
    from iotcop.catalogue import load_catalogue
    from iotcop.declaration import load_declaration
    from iotcop.device.net import NetLimits
    from iotcop.firmware.facts import collect_firmware

    if not targets and scope is None:
        raise UsageError("name the device: a host, an address or a CIDR range (or --scope FILE)")
    options = with_ports(DeviceOptions(limits=NetLimits(concurrency, rate, timeout), bruteforce_attempts=bruteforce,
                                       destructive=destructive, input_probes=not no_input, use_nmap=not no_nmap,
                                       credentials=load_credentials(credentials) if credentials else ()),
                         ports, all_ports)
    chosen = report_formats(reports)
    catalogue = load_catalogue()
    decl = load_declaration(declaration, catalogue) if declaration else None
    show = not quiet and fmt is Format.TABLE
    facts = collect_firmware(firmware) if firmware else None
    try:
        with err.status("assessing the device …", spinner="dots") if show else nullcontext() as status:
            def phase(name: str) -> None:
                if status is not None:
                    status.update(f"assessing {escape(', '.join(targets or [str(scope)]))}: {name} …")

            assessment = assess_device(list(targets or []), decl, scope_file=scope, options=options,
                                       firmware=facts, catalogue=catalogue, on_phase=phase)
    finally:
        if facts is not None:
            facts.close()
    finish(assessment, catalogue, chosen, output, fmt, quiet, "net.")
