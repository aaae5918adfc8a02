"""Firmware checks on file permissions (guideline 6; EN 303 645 5.6-7 least privilege)."""

from __future__ import annotations

import posixpath
import stat
from collections.abc import Iterator

from iotcop.checks.registry import check, spec_of
from iotcop.errors import CannotAssess
from iotcop.firmware.elf import ElfFiles
from iotcop.firmware.filesystem import Entry
from iotcop.firmware.permissions import FileModes, group_by_dir
from iotcop.model import Evidence, EvidenceKind, Finding, Location, Severity

# Programs that need root to do their one job (change a password, open a raw socket, mount) and are
# written for it: setuid is their normal state, still worth a line in the report.
EXPECTED_SETUID = frozenset({"passwd", "su", "sudo", "ping", "ping6", "mount", "umount", "newgrp", "chsh", "chfn",
                             "gpasswd", "crontab", "pkexec", "fusermount", "fusermount3", "traceroute", "traceroute6"})
APPLET_HOST = 20  # symlinks naming one binary: a multi-call binary (BusyBox, toybox)
SHOWN = 8  # paths named in one finding


def _mode(e: Entry) -> str:
    return f"{stat.filemode(e.mode)} {e.uid}:{e.gid} {e.path}"


def _names(entries: list[Entry]) -> str:
    names = [posixpath.basename(e.path) for e in entries[:SHOWN]]
    return ", ".join(names) + (f" and {len(entries) - SHOWN} more" if len(entries) > SHOWN else "")


@check(
    id="fw.permissions.world-writable",
    title="Files or directories are writable by every user",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.MEDIUM,
    remediation="Remove write permission for others (chmod o-w) in the image build; shared scratch directories "
                "need the sticky bit (chmod +t).",
)
def world_writable(modes: FileModes) -> Iterator[Finding]:
    """Anything every local user or compromised service can write lets it plant code or change settings
    that a privileged process later trusts: a world-writable program or boot script is a privilege
    escalation. Sticky directories (such as /tmp) and the public device nodes (/dev/null, ...) are fine;
    directories mounted over at boot (/tmp, /var/run) are not judged."""
    for directory, entries in group_by_dir(list(modes.world_writable)).items():
        runnable = [e for e in entries if e.is_file and (e.mode & 0o111 or "/init.d/" in e.path or "/rc." in e.path)]
        kinds = "executable or boot file" if runnable else "entry"
        plural = (kinds[:-1] + "ies" if kinds.endswith("y") else kinds + "s") if len(entries) > 1 else kinds
        yield spec_of(world_writable).finding(
            message=f"{len(entries)} world-writable {plural} in {directory}: {_names(entries)}.",
            severity=Severity.HIGH if runnable else Severity.MEDIUM,
            location=Location.in_image(entries[0].path),
            evidence=Evidence.of("\n".join(_mode(e) for e in entries[:SHOWN]), "file modes recorded in the image"))


@check(
    id="fw.permissions.setuid-binary",
    title="Programs run with root privileges whoever starts them (setuid/setgid root)",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.MEDIUM,
    remediation="Drop the setuid bit wherever the device has no local unprivileged users who need the program; "
                "never make a multi-call binary such as BusyBox setuid (use FEATURE_SUID with a busybox.conf, "
                "or a separate small setuid program).",
)
def setuid_binary(modes: FileModes, elf: ElfFiles) -> Iterator[Finding]:
    """A setuid-root program turns any flaw in it into root for whoever can run it. BusyBox set setuid root
    is the worst case: every applet, shells included, starts as root unless BusyBox was built with
    FEATURE_SUID to drop privileges. Setuid scripts are listed for review: Linux ignores the bit on them."""
    for e in sorted(modes.privileged, key=lambda e: e.path):
        owner_known = modes.owners_recorded
        if owner_known and not ((e.setuid and e.uid == 0) or (e.setgid and e.gid == 0)):
            continue  # setuid to an unprivileged user is privilege separation, not escalation
        name, links = posixpath.basename(e.path), modes.link_counts.get(e.path, 0)
        info = elf.get(e.path)
        bits = "setuid" if e.setuid else "setgid"
        if name in ("busybox", "toybox") or links >= APPLET_HOST:
            what, severity = f"a multi-call binary with {links} applet links: every applet runs as root", \
                Severity.HIGH
        elif info is None and any(u.startswith(e.path + ":") for u in elf.unparsed):
            what, severity = "an ELF program that could not be parsed", Severity.MEDIUM
        elif info is None:
            what, severity = "not an ELF program (a script: the kernel ignores the bit)", Severity.INFO
        elif name in EXPECTED_SETUID:
            what, severity = "a program that needs root for its one task", Severity.LOW
        else:
            what, severity = f"an ELF program ({info.machine})", Severity.MEDIUM
        owner = "root" if owner_known else "owner not recorded by the image format"
        yield spec_of(setuid_binary).finding(
            message=f"{e.path} is {bits} ({owner}): {what}.",
            severity=severity, location=Location.in_image(e.path),
            evidence=Evidence.of(_mode(e), "file mode recorded in the image"))


@check(
    id="fw.permissions.unprivileged-owner",
    title="System files are owned by an unprivileged user",
    kind=EvidenceKind.FIRMWARE,
    severity=Severity.MEDIUM,
    remediation="Make root own programs, libraries and configuration under /bin, /sbin, /lib, /usr and /etc "
                "(fakeroot or the build system's device table), so that a service account cannot rewrite them.",
)
def unprivileged_owner(modes: FileModes) -> Iterator[Finding]:
    """The owner of a file can rewrite it: a program, library or configuration file owned by a service
    account lets a flaw in that service replace what root later runs. Images built without fakeroot
    often ship every file owned by the build user's uid."""
    if not modes.owners_recorded:
        raise CannotAssess("the image format (or an unpacked directory) does not record file owners, so "
                           "ownership cannot be judged")
    for directory, entries in group_by_dir(list(modes.foreign_owned)).items():
        owners = sorted({e.uid for e in entries})
        yield spec_of(unprivileged_owner).finding(
            message=f"{len(entries)} system file(s) in {directory} owned by uid {', '.join(map(str, owners))}: "
                    f"{_names(entries)}.",
            location=Location.in_image(entries[0].path),
            evidence=Evidence.of("\n".join(_mode(e) for e in entries[:SHOWN]), "file owners recorded in the image"))
