"""Benchmark: the full ``iotcop assess firmware`` against ``unsquashfs`` alone, on the same image, in one run.

Usage: ``.venv/bin/python bench/assess_firmware.py [--size-mb 16] [--repeat 3] [--tmp DIR] [--rebuild]``

The image is bench/extract.py's router root file system (a SquashFS (xz) of about ``--size-mb`` MB with a
few hundred real ELF executables and libraries, init scripts, configuration, a web UI, kernel modules and
firmware blobs), built once and cached under build/bench/. ``iotcop assess firmware --no-cache`` extracts
it, makes the one content pass (ELF facts, keys, secrets, web handlers), runs every check and writes the
assessment; ``unsquashfs`` only unpacks. Issue 5's target: at most 3x the ``unsquashfs`` time on 2 cores.
It exits 0 whatever the figures; 1 when a tool fails; 2 when a tool is missing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import extract as common  # bench/extract.py: the image builder and the measuring helpers

MAX_RATIO = 3.0


def _report(tools: list[common.Tool], summary: dict[str, object]) -> None:
    print(f"\n{'tool':<26}{'median s':>9}  {'runs s':<22}{'cpu s':>7}{'max proc MB':>12}{'tree PSS MB':>12}")
    for t in tools:
        if t.failed:
            print(f"{t.name:<26} FAILED {t.failed}")
            continue
        runs = " ".join(f"{w:.2f}" for w in t.walls)
        print(f"{t.name:<26}{statistics.median(t.walls):>9.2f}  {runs:<22}{statistics.median(t.cpus):>7.2f}"
              f"{t.max_rss_kb / 1024:>12.0f}{t.tree_kb / 1024:>12.0f}")
    if not any(t.failed for t in tools):
        common._ratio_line("unsquashfs", tools[0], tools[1], MAX_RATIO)
    print(f"assessment: {json.dumps(summary)}")


def _summary(out: Path) -> dict[str, object]:
    data = json.loads((out / "assessment.json").read_text())
    runs = data["check_runs"]
    return {"checks": len(runs), "completed": sum(r["status"] == "completed" for r in runs),
            "findings": len(data["findings"]), "notes": len(data["notes"])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=float, default=16.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--tmp", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.size_mb <= 0:
        parser.error("--repeat must be at least 1 and --size-mb positive")
    missing = [t for t in ("mksquashfs", "unsquashfs", "setpriv") if not shutil.which(t)]
    if missing or not common.IOTCOP.exists():
        print(f"missing: {', '.join(missing) or common.IOTCOP} (run `make setup`)", file=sys.stderr)
        return 2
    plain, _carved, info = common.build_images(args.size_mb, args.rebuild)
    print(f"# bench/assess_firmware: {common._machine()}")
    print(f"image: {plain.stat().st_size / 1e6:.1f} MB SquashFS (xz), {info['files']} regular files, "
          f"{int(str(info['bytes'])) / 1e6:.1f} MB unpacked; repeat {args.repeat}, median wall time")
    with tempfile.TemporaryDirectory(prefix="iotcop-bench-", dir=args.tmp) as tmp:
        base = Path(tmp)
        base.chmod(0o755)  # iotcop runs its extractors as nobody: they must reach the output directory
        iotcop = common.Tool("iotcop assess firmware",
                             [str(common.IOTCOP), "assess", "firmware", "{image}", "-o", "{out}", "--no-cache",
                              "--quiet", "--format", "json"],
                             env={"TMPDIR": str(base)})
        unsquashfs = common.Tool("unsquashfs", ["unsquashfs", "-no-progress", "-d", "{out}", "{image}"])
        tools = [iotcop, unsquashfs]
        summary: dict[str, object] = {}
        for round_ in range(args.repeat + 1):
            for tool in tools[round_ % 2:] + tools[:round_ % 2]:
                if tool.failed:
                    continue
                out, err = base / f"out-{tool.name.split()[0]}", base / "stderr.txt"
                run = common._sampled_run if round_ == 0 else common._timed_run
                rc = run(tool, plain, out, err)
                if rc not in (0, 1):  # assess exits 1 when a mandatory requirement fails: that is a result
                    tool.failed = f"exit code {rc}: {err.read_text(errors='replace').strip()[-400:]}"
                elif tool is iotcop and round_ == 0:
                    summary = _summary(out)
                subprocess.run(["rm", "-rf", str(out)], check=True)
        _report(tools, summary)
    return 1 if any(t.failed for t in tools) else 0


if __name__ == "__main__":
    sys.exit(main())
