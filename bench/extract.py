"""Benchmark: ``iotcop extract`` against ``unsquashfs`` and ``binwalk -e`` on the same images, in one run.

Usage: ``.venv/bin/python bench/extract.py [--size-mb 16] [--repeat 3] [--tmp DIR] [--rebuild]``

Two cases, each image built once and cached under ``build/bench/`` (keyed by its parameters):
  plain   a SquashFS (xz) root file system of about ``--size-mb`` MB, made by ``mksquashfs``;
  carved  the same SquashFS after a 2 MiB random "kernel": a concatenation that must be carved.
          ``unsquashfs -o OFFSET`` is told the offset, so it is a lower bound, not a competitor.

Each tool runs once untimed (its process tree's memory is sampled, its output is inventoried and
checked), then ``--repeat`` timed runs, the tools taking turns; the median wall time counts. The report
states the ratios and whether the targets are met (issue 4: at most 1.5x unsquashfs on a plain image,
faster than binwalk, under 500 MB). It exits 0 whatever the figures; 1 when a tool fails to run or
iotcop's regular files differ from unsquashfs's; 2 when a tool is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "build" / "bench"
IOTCOP = REPO / ".venv" / "bin" / "iotcop"
BUILDER_VERSION = 1  # bump when the tree the builder makes changes: the cache key includes it
KERNEL_BYTES = 2 * 1024 * 1024
MARKER = "etc/iotcop-bench-root"  # finds the root file system in any tool's output
MAX_RATIO_UNSQUASHFS, MAX_RATIO_BINWALK, MAX_PEAK_MB = 1.5, 1.0, 500
SAMPLE_SECONDS = 0.02
# Runs a command in a fresh child and reports its wall time, the CPU time of all its descendants and the
# largest RSS among them (getrusage(RUSAGE_CHILDREN) after wait: the maximum over processes, not a sum).
# CPU time is the figure to read when other work competes for the machine and makes wall times noisy.
WRAPPER = ("import json,resource,subprocess,sys,time\n"
           "t=time.perf_counter();rc=subprocess.call(sys.argv[2:],stdin=subprocess.DEVNULL,"
           "stdout=subprocess.DEVNULL,stderr=open(sys.argv[1],'wb'))\n"
           "w=time.perf_counter()-t;u=resource.getrusage(resource.RUSAGE_CHILDREN)\n"
           "print(json.dumps([rc,w,u.ru_utime+u.ru_stime,u.ru_maxrss]))")


# ---------------------------------------------------------------- building the images

def _elf_sources() -> list[Path]:
    """Real x86-64 executables and shared libraries of this machine (4 KiB .. 4 MiB, no links)."""
    found = []
    for folder, pattern in (("/usr/bin", "*"), ("/usr/lib/x86_64-linux-gnu", "*.so*")):
        for path in sorted(Path(folder).glob(pattern)):
            try:
                if path.is_symlink() or not path.is_file() or not 4096 <= path.stat().st_size <= 4 << 20:
                    continue
                with open(path, "rb") as fh:
                    if fh.read(4) == b"\x7fELF":
                        found.append(path)
            except OSError:
                continue
    return found


_WORD_TEXT = ("option interface lan wan proto static dhcp ipaddr netmask gateway dns enabled disabled config "
         "wireless device radio channel ssid encryption psk2 key firewall zone input output forward accept "
         "reject drop network uhttpd listen_http listen_https home cert timeout log level server port user "
         "admin root password hostname timezone ntp pool system kernel module firmware version release")
WORDS = tuple(_WORD_TEXT.split())


def _text(rng: random.Random, size: int, script: bool = False) -> bytes:
    lines = ["#!/bin/sh /etc/rc.common" if script else "# generated configuration"]
    while sum(len(line) + 1 for line in lines) < size:
        words = rng.choices(WORDS, k=rng.randint(2, 6))
        lines.append(("\t" * rng.randint(0, 2)) + " ".join(words) + f" '{rng.randint(0, 65535)}'")
    return ("\n".join(lines) + "\n").encode()[:size]


def _semi_random(rng: random.Random, size: int) -> bytes:
    """Tables, images and calibration data: random runs between zero runs and repeated records."""
    out = bytearray()
    while len(out) < size:
        kind = rng.random()
        n = rng.randint(64, 4096)
        out += rng.randbytes(n) if kind < 0.5 else bytes(n) if kind < 0.7 else rng.randbytes(16) * (n // 16)
    return bytes(out[:size])


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)


def build_tree(root: Path, scale: float, seed: int = 4) -> None:
    """A rootfs with the mix of a router's: real binaries and libraries with soname links, busybox
    applet links (relative and absolute), init scripts, configs, a web UI, kernel modules, firmware
    blobs (random: encrypted or compressed), data files, empty files and directories."""
    rng = random.Random(seed)
    mb = 1024 * 1024
    for d in ("dev", "proc", "sys", "tmp", "var/run", "var/log", "mnt", "overlay", "root"):
        (root / d).mkdir(parents=True, exist_ok=True)
    elves = _elf_sources()
    rng.shuffle(elves)
    budget, placed = int(36 * mb * scale), 0
    busybox = root / "bin" / "busybox"
    for index, src in enumerate(elves):
        if placed >= budget:
            break
        if ".so" in src.name:
            base = src.name.split(".so")[0] + ".so"
            folder = root / ("lib" if index % 3 else "usr/lib")
            real, soname = f"{base}.{index % 4}.{index % 7}.0", folder / f"{base}.{index % 4}"
            _write(folder / real, src.read_bytes(), 0o755)
            if not soname.is_symlink():
                soname.symlink_to(real)
        elif index % 9 == 0:
            _write(root / f"lib/modules/5.10.161/kernel/drivers/m{index}/{src.name}.ko", src.read_bytes())
        else:
            folder = ("bin", "sbin", "usr/bin", "usr/sbin", "usr/libexec")[index % 5]
            _write(root / folder / src.name, src.read_bytes(), 0o755)
            if not busybox.exists():
                _write(busybox, src.read_bytes(), 0o755)
        placed += src.stat().st_size
    for i, word in enumerate(sorted(set(WORDS))):
        for folder in ("bin", "sbin", "usr/bin", "usr/sbin"):
            link = root / folder / f"{word}{i}"
            if not link.exists() and not link.is_symlink():
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to("/bin/busybox" if i % 2 else os.path.relpath(busybox, link.parent))
    for i in range(int(400 * scale)):
        _write(root / f"etc/config{i % 7}/{rng.choice(WORDS)}{i}.conf", _text(rng, rng.randint(100, 12000)))
    for i in range(int(60 * scale)):
        _write(root / f"etc/init.d/S{i:02d}{rng.choice(WORDS)}", _text(rng, rng.randint(300, 6000), True), 0o755)
    for i in range(int(250 * scale)):
        ext = ("html", "js", "css", "lua", "json")[i % 5]
        _write(root / f"www/{('cgi-bin', 'luci-static', 'view', 'i18n')[i % 4]}/p{i}.{ext}",
               _text(rng, rng.randint(200, 40000)))
    for i in range(int(24 * scale)):
        _write(root / f"lib/firmware/chip{i}.fw", rng.randbytes(rng.randint(16 * 1024, 300 * 1024)))
    for i in range(int(80 * scale)):
        _write(root / f"usr/share/data/{rng.choice(WORDS)}{i}.dat", _semi_random(rng, rng.randint(4096, 120000)))
    for i in range(20):
        _write(root / f"etc/empty/e{i}", b"")
    _write(root / "etc/passwd", b"root:x:0:0:root:/root:/bin/ash\nnobody:*:65534:65534:nobody:/var:/bin/false\n")
    _write(root / "etc/shadow", b"root::19000:0:99999:7:::\n", 0o600)
    _write(root / MARKER, b"iotcop benchmark root file system\n")
    (root / "etc/localtime").symlink_to("/usr/share/zoneinfo/UTC")


def _manifest(root: Path) -> dict[str, int]:
    """Regular files of a tree: relative path -> size (symlinks and special files left out)."""
    out: dict[str, int] = {}
    for folder, _dirs, names in os.walk(root):
        for name in names:
            st = os.lstat(os.path.join(folder, name))
            if (st.st_mode & 0o170000) == 0o100000:
                out[os.path.relpath(os.path.join(folder, name), root)] = st.st_size
    return out


def build_images(size_mb: float, rebuild: bool) -> tuple[Path, Path, dict[str, object]]:
    """(plain image, carved image, info): cached in build/bench/ by size and builder version."""
    key = CACHE / f"rootfs-xz-{size_mb:g}mb-v{BUILDER_VERSION}"
    plain, carved, info_file = key / "rootfs.sqfs", key / "kernel+rootfs.bin", key / "info.json"
    if info_file.exists() and not rebuild:
        return plain, carved, json.loads(info_file.read_text())
    shutil.rmtree(key, ignore_errors=True)
    key.mkdir(parents=True)
    target, scale = size_mb * 1024 * 1024, size_mb / 16
    with tempfile.TemporaryDirectory(prefix="iotcop-bench-tree-") as tmp:
        for attempt in range(4):  # the mix compresses differently per machine: scale to hit the size
            tree = Path(tmp) / f"rootfs{attempt}"
            build_tree(tree, scale)
            plain.unlink(missing_ok=True)
            started = time.perf_counter()
            subprocess.run(["mksquashfs", str(tree), str(plain), "-comp", "xz", "-noappend", "-all-root",
                            "-no-progress", "-quiet"], check=True, stdout=subprocess.DEVNULL)
            built = plain.stat().st_size
            print(f"built {plain.name}: {built / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s "
                  f"(scale {scale:.2f})", file=sys.stderr)
            if abs(built / target - 1) <= 0.08 or attempt == 3:
                break
            scale *= target / built
            shutil.rmtree(tree)
        manifest = _manifest(tree)
    kernel = random.Random(7).randbytes(KERNEL_BYTES)
    with open(carved, "wb") as fh:
        fh.write(kernel)
        fh.write(plain.read_bytes())
    for path in (key, plain, carved):
        path.chmod(0o755 if path.is_dir() else 0o644)  # iotcop's unprivileged extractors read them
    info: dict[str, object] = {"size": plain.stat().st_size, "files": len(manifest),
                               "bytes": sum(manifest.values()), "manifest": manifest}
    info_file.write_text(json.dumps(info, sort_keys=True))
    return plain, carved, info


# ---------------------------------------------------------------- running and measuring

@dataclass
class Tool:
    name: str
    argv: list[str]  # with {image} and {out}
    env: dict[str, str | None] = field(default_factory=dict)  # None: removed from the environment
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)  # user + system seconds of the whole tree
    max_rss_kb: int = 0  # largest single process, over all runs
    tree_kb: int = 0  # sampled PSS sum over the process tree, untimed run
    files: int = 0
    links: int = 0
    manifest: dict[str, int] | None = None  # regular files of the root file system found in its output
    failed: str = ""

    def environment(self) -> dict[str, str]:
        merged = {**os.environ, **self.env}
        return {k: v for k, v in merged.items() if v is not None}

    def command(self, image: Path, out: Path) -> list[str]:
        return [a.replace("{image}", str(image)).replace("{out}", str(out)) for a in self.argv]


def _tree_memory_kb(root_pid: int) -> int:
    """Memory of ``root_pid`` and all its descendants (new sessions included), from /proc: the sum of
    their PSS (shared pages divided among their users: forked workers are not counted twice), or of
    their RSS where PSS cannot be read."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)], rss[int(entry)] = int(fields[1]), int(fields[21]) * page_kb
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += _pss_kb(pid) or rss.get(pid, 0)
        stack.extend(child for child, parent in parents.items() if parent == pid)
    return total


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            return next((int(line.split()[1]) for line in fh if line.startswith(b"Pss:")), 0)
    except (OSError, ValueError):
        return 0


def _sampled_run(tool: Tool, image: Path, out: Path, err: Path) -> int:
    with open(err, "wb") as errors:
        proc = subprocess.Popen(tool.command(image, out), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=errors, env=tool.environment())
        while proc.poll() is None:
            tool.tree_kb = max(tool.tree_kb, _tree_memory_kb(proc.pid))
            time.sleep(SAMPLE_SECONDS)
    return proc.returncode


def _timed_run(tool: Tool, image: Path, out: Path, err: Path) -> int:
    done = subprocess.run([sys.executable, "-c", WRAPPER, str(err), *tool.command(image, out)],
                          capture_output=True, text=True, check=True, env=tool.environment())
    rc, wall, cpu, rss_kb = json.loads(done.stdout)
    tool.walls.append(wall)
    tool.cpus.append(cpu)
    tool.max_rss_kb = max(tool.max_rss_kb, rss_kb)
    return int(rc)


def _find_root(out: Path) -> Path | None:
    for folder, dirs, names in os.walk(out):
        dirs.sort()
        if Path(folder).name == "etc" and MARKER.split("/")[1] in names:
            return Path(folder).parent
    return None


def _inventory(tool: Tool, out: Path) -> None:
    tool.files = tool.links = 0
    for folder, _dirs, names in os.walk(out):
        for name in names:
            mode = os.lstat(os.path.join(folder, name)).st_mode & 0o170000
            tool.files += mode == 0o100000
            tool.links += mode == 0o120000
    root = _find_root(out)
    tool.manifest = _manifest(root) if root else None


def run_case(tools: list[Tool], image: Path, repeat: int, tmp: Path) -> None:
    for round_ in range(repeat + 1):  # round 0: untimed, memory sampled, outputs inventoried
        order = tools[round_ % len(tools):] + tools[:round_ % len(tools)]
        for tool in order:
            if tool.failed:
                continue
            out, err = tmp / f"out-{tool.name.split()[0]}", tmp / "stderr.txt"
            if tool.name.startswith("binwalk"):
                out.mkdir()
            rc = _sampled_run(tool, image, out, err) if round_ == 0 else _timed_run(tool, image, out, err)
            if rc != 0:
                tool.failed = f"exit code {rc}: {err.read_text(errors='replace').strip()[-400:]}"
            elif round_ == 0:
                _inventory(tool, out)
            subprocess.run(["rm", "-rf", str(out)], check=True)


# ---------------------------------------------------------------- reporting

def _report(title: str, tools: list[Tool], iotcop: Tool, baseline: Tool, expected: dict[str, int]) -> bool:
    """Print the table, ratios and targets; True when iotcop's files match the baseline's."""
    print(f"\n## {title}\n")
    print(f"{'tool':<24}{'median s':>9}  {'runs s':<22}{'cpu s':>6}{'max proc MB':>12}{'tree PSS MB':>12}"
          f"{'files':>7}{'links':>7}")
    for t in tools:
        if t.failed:
            print(f"{t.name:<24} FAILED {t.failed}")
            continue
        runs = " ".join(f"{w:.2f}" for w in t.walls)
        print(f"{t.name:<24}{statistics.median(t.walls):>9.2f}  {runs:<22}{statistics.median(t.cpus):>6.2f}"
              f"{t.max_rss_kb / 1024:>12.0f}"
              f"{t.tree_kb / 1024:>12.0f}{t.files:>7}{t.links:>7}")
    ok = iotcop.manifest is not None and iotcop.manifest == baseline.manifest
    if iotcop.failed or baseline.failed:
        return False
    base = baseline.manifest or {}
    print(f"\n{baseline.name} regular files equal to the source tree: {'yes' if base == expected else 'NO'}")
    print(f"iotcop regular files equal to {baseline.name}'s (path and size): {'yes' if ok else 'NO'}")
    if not ok and iotcop.manifest is not None:
        missing, extra = sorted(base.keys() - iotcop.manifest.keys()), sorted(iotcop.manifest.keys() - base.keys())
        wrong = sorted(k for k in base.keys() & iotcop.manifest.keys() if base[k] != iotcop.manifest[k])
        print(f"  missing {len(missing)} {missing[:5]}, extra {len(extra)} {extra[:5]}, size differs "
              f"{len(wrong)} {wrong[:5]}")
    for other in tools:
        if other is not iotcop and other is not baseline and other.manifest is not None and not other.failed:
            print(f"{other.name} regular files equal too: {'yes' if other.manifest == base else 'NO'}")
    return ok


def _ratio_line(label: str, iotcop: Tool, other: Tool, limit: float | None, strict: bool = False) -> None:
    if iotcop.failed or other.failed:
        return
    ratio = statistics.median(iotcop.walls) / statistics.median(other.walls)
    cpu = statistics.median(iotcop.cpus) / max(statistics.median(other.cpus), 1e-9)
    verdict = "" if limit is None else (
        "  target met" if (ratio < limit if strict else ratio <= limit) else "  target MISSED")
    bound = "" if limit is None else f" (target {'<' if strict else '<='} {limit:g})"
    print(f"iotcop / {label}: {ratio:.2f}x wall{bound}{verdict}; {cpu:.2f}x CPU time")


def _machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    versions = [subprocess.run(c, capture_output=True, text=True).stdout.strip().splitlines()[:1]
                for c in (["unsquashfs", "-version"], [str(IOTCOP), "--version"])]
    return f"{os.cpu_count()} CPUs ({model}); " + "; ".join(v[0] for v in versions if v)


def _busy_seconds() -> float:
    """CPU time the whole machine has spent busy since boot (all CPUs, from /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    busy = sum(fields[:8]) - idle  # user nice system idle iowait irq softirq steal (guest is in user)
    return busy / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    """CPU time of this process and every tool it ran (all of them were waited for)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def _file_system(path: Path) -> str:
    """'/tmp (ext4)': where the outputs go matters: a disk adds system time and noise, a tmpfs none."""
    found = subprocess.run(["df", "--output=fstype", str(path)], capture_output=True, text=True).stdout.split()
    return f"{path} ({found[-1] if found else 'unknown file system'})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=float, default=16.0, help="compressed size of the SquashFS (MB)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per tool (the median counts)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached images")
    parser.add_argument("--tmp", type=Path, default=None,
                        help="where the tools write (default: the system's temporary directory); "
                             "a tmpfs such as /dev/shm takes the disk out of the figures")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.size_mb <= 0:
        parser.error("--repeat must be at least 1 and --size-mb positive")
    missing = [t for t in ("mksquashfs", "unsquashfs", "binwalk", "setpriv") if not shutil.which(t)]
    if missing or not IOTCOP.exists():
        print(f"missing: {', '.join(missing) or IOTCOP} (run `make setup`)", file=sys.stderr)
        return 2
    plain, carved, info = build_images(args.size_mb, args.rebuild)
    expected = info["manifest"]
    assert isinstance(expected, dict)
    print(f"# bench/extract: {_machine()}")
    print(f"image: {plain.stat().st_size / 1e6:.1f} MB SquashFS (xz), {info['files']} regular files, "
          f"{int(info['bytes']) / 1e6:.1f} MB unpacked; repeat {args.repeat}, median wall time")
    print(f"output written to: {_file_system(args.tmp or Path(tempfile.gettempdir()))}")
    busy_before, own_before, started = _busy_seconds(), _own_cpu_seconds(), time.monotonic()
    as_root = ["--run-as=root"] if os.geteuid() == 0 else []  # binwalk 2.3.3 refuses root without it
    ok = True
    with tempfile.TemporaryDirectory(prefix="iotcop-bench-", dir=args.tmp) as tmp:
        base = Path(tmp)
        base.chmod(0o755)  # iotcop runs its extractors as nobody: they must reach the output directory
        for title, image, offset in ((f"plain SquashFS: {plain.name}", plain, 0),
                                     (f"carved: {KERNEL_BYTES} random bytes + the SquashFS", carved, KERNEL_BYTES)):
            cache_dir = base / "iotcop-cache"
            iotcop = Tool("iotcop extract", [str(IOTCOP), "extract", "{image}", "-o", "{out}", "--quiet"],
                          env={"IOTCOP_CACHE_DIR": str(cache_dir), "TMPDIR": str(base),  # its work area too
                               # as installed, iotcop's modules are byte-compiled like binwalk's and unblob's:
                               # let the untimed run write the .pyc files a development checkout may lack
                               "PYTHONDONTWRITEBYTECODE": None})
            unsq = Tool("unsquashfs" + (f" -o {offset}" if offset else ""),
                        ["unsquashfs", "-no-progress", *(["-o", str(offset)] if offset else []), "-d", "{out}",
                         "{image}"])
            binwalk = Tool("binwalk -e", ["binwalk", "-e", "-q", *as_root, "-C", "{out}", "{image}"])
            tools = [iotcop, unsq, binwalk]
            run_case(tools, image, args.repeat, base)
            shutil.rmtree(cache_dir, ignore_errors=True)
            ok &= _report(title, tools, iotcop, unsq, expected)
            _ratio_line(unsq.name, iotcop, unsq, MAX_RATIO_UNSQUASHFS if not offset else None)
            _ratio_line("binwalk -e", iotcop, binwalk, MAX_RATIO_BINWALK, strict=True)
            if not iotcop.failed:
                peak = max(iotcop.tree_kb, iotcop.max_rss_kb) / 1024
                print(f"iotcop peak memory: {peak:.0f} MB (target < {MAX_PEAK_MB} MB)"
                      f"  target {'met' if peak < MAX_PEAK_MB else 'MISSED'}")
            ok &= not any(t.failed for t in tools)
    own = _own_cpu_seconds() - own_before
    other = max(0.0, _busy_seconds() - busy_before - own) / (time.monotonic() - started)
    print(f"\nother work on this machine during the run: {other:.2f} of {os.cpu_count()} CPUs on average")
    if other > 0.2:
        print("warning: other work competed with the tools: wall times are noisy, compare CPU times or run again")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
