"""Benchmark: iotcop's ELF analysis (``parse_elf``) against Debian's ``checksec`` on the same files, in one run.

Usage: ``.venv/bin/python bench/components.py [--max-files 300] [--repeat 3] [--checksec-mode dir|file]
[--tmp DIR]``

The files: up to ``--max-files`` real x86-64 executables and shared libraries of this machine (``/usr/bin``
and ``/usr/lib/x86_64-linux-gnu``, 4 KiB to 4 MiB, no links: bench/extract.py's ``_elf_sources``, sampled
evenly over the sorted list) plus every ELF file of Debian's foreign (armhf, mipsel, arm64) packages in
build/debs (scripts/fetch-foreign-binaries.sh), unpacked with ``dpkg-deb -x``. All are copied into one
flat temporary directory, and both tools read those copies.

- iotcop: in this process, one pass reading every file and calling ``iotcop.firmware.elf.parse_elf`` (the
  whole ELF fact, hardening flags included, as the content pass does). LIEF's import is paid once, before
  the timed passes, and printed separately (with the ratio it would give if counted).
- checksec: ``checksec --format=json --dir=STAGING``, one process over the directory (the default: its
  fastest way over many files, 15-30 % faster here than a process per file), or with ``--checksec-mode file``
  ``checksec --format=json --file=PATH`` per file, one after the other. Both tools run on one core.

An untimed iotcop pass first (imports, page cache), then ``--repeat`` timed rounds, the tools taking turns;
the median wall time counts, CPU time (user + system) is printed too. Then the ratio (issue 6's target:
iotcop at least 10x faster) and how many files' flags (RELRO, canary, NX, PIE, RPATH, RUNPATH, symbols,
FORTIFY_SOURCE) agree, with every disagreement listed. It exits 0 whatever the figures; 1 when checksec
fails; 2 when checksec (or readelf) is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import extract as common  # bench/extract.py: the ELF sources of this machine and the measuring helpers

from iotcop.firmware.elf import parse_elf
from iotcop.firmware.hardening import Hardening

DEBS = common.REPO / "build" / "debs"
MIN_SPEEDUP = 10.0
FLAGS = ("relro", "canary", "nx", "pie", "rpath", "runpath", "symbols", "fortify_source")
Flags = dict[str, str]


@dataclass
class Timing:
    name: str
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    failed: str = ""

    def median(self) -> float:
        return statistics.median(self.walls)


# ---------------------------------------------------------------- the files

def _foreign(work: Path) -> list[tuple[str, Path]]:
    """(label, file) for every ELF regular file of the .debs in build/debs."""
    debs = sorted(DEBS.glob("*.deb"))
    if not debs or not shutil.which("dpkg-deb"):
        return []
    found = []
    for deb in debs:
        tree = work / deb.stem
        tree.mkdir(parents=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tree)], check=True, capture_output=True)
        for path in sorted(p for p in tree.rglob("*") if p.is_file() and not p.is_symlink()):
            with open(path, "rb") as fh:
                if fh.read(4) == b"\x7fELF":
                    arch = deb.stem.rsplit("_", 1)[-1]
                    found.append((f"{arch}:{deb.name.split('_', 1)[0]}:/{path.relative_to(tree)}", path))
    return found


def stage(work: Path, max_files: int) -> tuple[dict[Path, str], int, int]:
    """Copy the files into ``work/elf``: (staged file -> its origin, host files, foreign files)."""
    host = common._elf_sources()
    step = max(1, len(host) / max_files) if max_files else 1
    host = [host[int(i * step)] for i in range(min(max_files, len(host)))]
    foreign = _foreign(work / "debs")
    out = work / "elf"
    out.mkdir()
    staged: dict[Path, str] = {}
    for index, (label, source) in enumerate([(str(p), p) for p in host] + foreign):
        target = out / f"{index:04d}-{re.sub(r'[^A-Za-z0-9._+-]', '_', source.name)}"
        shutil.copyfile(source, target)
        staged[target] = label
    shutil.rmtree(work / "debs", ignore_errors=True)
    return staged, len(host), len(foreign)


# ---------------------------------------------------------------- the two tools

def _yes(value: object) -> str:
    return "yes" if value else "no"


def iotcop_pass(files: list[Path]) -> tuple[dict[Path, Flags | None], float, float]:
    """One pass of parse_elf over the files: (flags per file (None: did not parse), wall s, CPU s)."""
    flags: dict[Path, Flags | None] = {}
    wall, cpu = time.perf_counter(), time.process_time()
    for path in files:
        info = parse_elf(str(path), path.read_bytes())
        flags[path] = None if info is None else _flags_of(info.hardening)
    return flags, time.perf_counter() - wall, time.process_time() - cpu


def _flags_of(h: Hardening) -> Flags:
    return {"relro": h.relro, "canary": _yes(h.canary), "nx": _yes(h.nx), "pie": h.pie, "rpath": _yes(h.rpath),
            "runpath": _yes(h.runpath), "symbols": _yes(h.symbols), "fortify_source": _yes(h.fortify)}


def _startup() -> float:
    """Seconds a fresh interpreter takes to import iotcop's ELF module and LIEF (parse_elf imports it lazily)."""
    code = ("import time;t=time.perf_counter();from iotcop.firmware.elf import parse_elf;parse_elf('x',b'');"
            "print(time.perf_counter()-t)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout)


def checksec_run(checksec: str, mode: str, folder: Path, files: list[Path]) -> tuple[dict[Path, Flags], float, float]:
    """checksec over the staged files: (flags per file, wall s, CPU s of its process trees)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    records: dict[str, dict[str, str]] = {}
    commands = ([[checksec, "--format=json", f"--dir={folder}"]] if mode == "dir"
                else [[checksec, "--format=json", f"--file={path}"] for path in files])
    for command in commands:
        done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)}: exit code {done.returncode}: {done.stderr[-400:]}")
        records.update({k: v for k, v in json.loads(done.stdout).items() if k != "dir"})
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {Path(k): {f: v[f] for f in FLAGS} for k, v in records.items()}, wall, cpu


# ---------------------------------------------------------------- reporting

def _versions(checksec: str) -> str:
    import lief

    found = subprocess.run([checksec, "--version"], capture_output=True, text=True).stdout.split(",")[0]
    readelf = subprocess.run(["readelf", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "unknown CPU")
    return f"{os.cpu_count()} CPUs ({model}); {found.strip()}; {readelf}; LIEF {getattr(lief, '__version__', '?')}"


def _agreement(staged: dict[Path, str], ours: dict[Path, Flags | None], theirs: dict[Path, Flags]) -> None:
    agree, per_flag, lines = 0, Counter[str](), []
    for path, origin in staged.items():
        mine, other = ours.get(path), theirs.get(path)
        if mine is None or other is None:
            lines.append(f"  {origin}: {'iotcop did not parse it' if mine is None else 'checksec gave no record'}")
            continue
        differ = [f for f in FLAGS if mine[f] != other[f]]
        agree += not differ
        per_flag.update(differ)
        if differ:
            lines.append(f"  {origin}: " + ", ".join(f"{f} iotcop {mine[f]} / checksec {other[f]}" for f in differ))
    print(f"\nflags agree on {agree} of {len(staged)} files (all of {', '.join(FLAGS)})")
    if per_flag:
        print("disagreements per flag: " + ", ".join(f"{f} {n}" for f, n in sorted(per_flag.items())))
    for line in lines:
        print(line)


def _report(iotcop: Timing, checksec: Timing, count: int, startup: float) -> None:
    print(f"\n{'tool':<40}{'median s':>9}  {'runs s':<26}{'cpu s':>7}{'ms/file':>9}{'files/s':>9}")
    for t in (iotcop, checksec):
        if t.failed:
            print(f"{t.name:<40} FAILED {t.failed}")
            continue
        runs = " ".join(f"{w:.3f}" for w in t.walls)
        print(f"{t.name:<40}{t.median():>9.3f}  {runs:<26}{statistics.median(t.cpus):>7.2f}"
              f"{t.median() / count * 1000:>9.2f}{count / t.median():>9.0f}")
    if iotcop.failed or checksec.failed:
        return
    speedup = checksec.median() / iotcop.median()
    cpu = statistics.median(checksec.cpus) / max(statistics.median(iotcop.cpus), 1e-9)
    verdict = "target met" if speedup >= MIN_SPEEDUP else "target MISSED"
    print(f"\niotcop is {speedup:.1f}x faster than checksec (wall; target >= {MIN_SPEEDUP:g}x: {verdict}); "
          f"{cpu:.1f}x in CPU time")
    print(f"iotcop start-up (importing LIEF and iotcop.firmware.elf, once per process): {startup:.3f} s; "
          f"counted in: {checksec.median() / (iotcop.median() + startup):.1f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-files", type=int, default=300, help="host ELF files at most (plus the .debs')")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per tool (the median counts)")
    parser.add_argument("--checksec-mode", choices=("dir", "file"), default="dir",
                        help="one checksec --dir over all files (default) or one checksec --file per file")
    parser.add_argument("--tmp", type=Path, default=None, help="where the files are copied (default: system tmp)")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.max_files < 0:
        parser.error("--repeat must be at least 1 and --max-files not negative")
    checksec = shutil.which("checksec")
    if checksec is None or not shutil.which("readelf"):
        print("missing: checksec or readelf (apt-get install checksec binutils)", file=sys.stderr)
        return 2
    startup = _startup()
    busy_before, own_before, began = common._busy_seconds(), common._own_cpu_seconds(), time.monotonic()
    with tempfile.TemporaryDirectory(prefix="iotcop-bench-elf-", dir=args.tmp) as name:
        tmp = Path(name).resolve()  # checksec --dir names files by the resolved directory
        staged, hosts, foreign = stage(tmp, args.max_files)
        files = list(staged)
        print(f"# bench/components: {_versions(checksec)}")
        print(f"files: {len(files)} ELF ({hosts} of this machine's x86-64, {foreign} Debian armhf/mipsel/arm64), "
              f"{sum(p.stat().st_size for p in files) / 1e6:.1f} MB, copied to {common._file_system(tmp)}; "
              f"repeat {args.repeat}, median wall time")
        ours, _, _ = iotcop_pass(files)  # untimed: page cache, LIEF's lazy state
        iotcop = Timing("iotcop parse_elf (in-process)")
        mode = "--dir=DIR" if args.checksec_mode == "dir" else "--file=PATH per file"
        other = Timing(f"checksec --format=json {mode}")
        theirs: dict[Path, Flags] = {}
        for round_ in range(args.repeat):
            for tool in (iotcop, other) if round_ % 2 == 0 else (other, iotcop):
                if tool is iotcop:
                    ours, wall, cpu = iotcop_pass(files)
                elif not other.failed:
                    try:
                        theirs, wall, cpu = checksec_run(checksec, args.checksec_mode, tmp / "elf", files)
                    except (RuntimeError, ValueError) as error:
                        other.failed = str(error)
                        continue
                else:
                    continue
                tool.walls.append(wall)
                tool.cpus.append(cpu)
        _report(iotcop, other, len(files), startup)
        if not other.failed:
            _agreement(staged, ours, theirs)
    own = common._own_cpu_seconds() - own_before
    busy = max(0.0, common._busy_seconds() - busy_before - own) / (time.monotonic() - began)
    print(f"\nother work on this machine during the run: {busy:.2f} of {os.cpu_count()} CPUs on average")
    return 1 if other.failed else 0


if __name__ == "__main__":
    sys.exit(main())
