"""How long `python -m mnist_trainer` takes to answer --help and to refuse a bad flag or missing data.

    python benchmarks/mnist_cli_startup.py [--runs 7] [--repo CHECKOUT]   # CHECKOUT: e.g. an older commit's

Each command runs --runs times in a fresh interpreter; prints the median and best wall time, the CPU
time (user + system: what a busy machine does not distort) and the peak memory (max RSS). The target
is under 1.5 s for --help and a bad flag: they must not wait for torch to load (issue 11).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

COMMANDS = {
    "--help": ["--help"],
    "bad flag (--lr nan)": ["--lr", "nan"],
    "missing --data-dir": ["--data-dir", "no-such-folder"],
}


def measure(argv: list[str], cwd: str) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in MB) of one `python -m mnist_trainer argv` run."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "mnist_trainer", *argv],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, _, usage = os.wait4(child.pid, 0)  # this child's own resource usage
    wall = time.perf_counter() - started
    child.returncode = 0  # reaped above; keep Popen from waiting again
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024  # ru_maxrss: KB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--repo", default=str(REPO), help="the checkout whose mnist_trainer is timed")
    args = parser.parse_args()
    os.environ["PYTHONPATH"] = args.repo
    machine = f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
    print(f"python -m mnist_trainer from {args.repo}, {args.runs} runs each, {machine}")
    with tempfile.TemporaryDirectory() as cwd:
        for label, argv in COMMANDS.items():
            runs = [measure(argv, cwd) for _ in range(args.runs)]
            walls, cpus = [r[0] for r in runs], [r[1] for r in runs]
            print(
                f"{label:<22} wall median {statistics.median(walls):.2f} s, best {min(walls):.2f} s; "
                f"CPU median {statistics.median(cpus):.2f} s; peak RSS {max(r[2] for r in runs)} MB"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
