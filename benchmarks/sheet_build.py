"""Whole-process build times of `python -m sheetgen build`, as a user sees them.

Targets (issue 2): 6 LR x 100 iterations in at most 1 s; 1 x 10,000 in at most 20 s,
growing linearly. Each case runs in a fresh process (imports included), best of --repeat.
The 1-LR series at 2,500 / 5,000 / 10,000 / 20,000 iterations shows the growth: the
time per 1,000 rows should stay flat.

    python benchmarks/sheet_build.py [--repeat 3] [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = [  # (learning rates, iterations, target seconds or None)
    ("0.1,0.2,0.5,0.8,1,2", 100, 1.0),
    ("0.1,0.2,0.5,0.8,1,2", 1000, None),
    ("1", 2500, None),
    ("1", 5000, None),
    ("1", 10000, 20.0),
    ("1", 20000, None),
]


def time_build(lrs: str, iterations: int, out: Path) -> float:
    command = [
        sys.executable,
        "-m",
        "sheetgen",
        "build",
        "--lr-list",
        lrs,
        "--iterations",
        str(iterations),
        "-o",
        str(out),
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the best is reported")
    parser.add_argument("--quick", action="store_true", help="only the two targeted cases")
    args = parser.parse_args()
    cases = [c for c in CASES if c[2] is not None] if args.quick else CASES

    print(
        f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(f"{'case':<16}{'rows':>8}{'best s':>9}{'median s':>10}{'s/1k rows':>11}{'MB':>7}  target")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.xlsx"
        for lrs, iterations, target in cases:
            n_lrs = len(lrs.split(","))
            times = [time_build(lrs, iterations, out) for _ in range(args.repeat)]
            best, rows = min(times), n_lrs * (iterations + 1)
            verdict = "" if target is None else f"<= {target:g} s: {'met' if best <= target else 'MISSED'}"
            print(
                f"{f'{n_lrs} x {iterations:,}':<16}{rows:>8,}{best:>9.2f}{statistics.median(times):>10.2f}"
                f"{1000 * best / rows:>11.3f}{out.stat().st_size / 1e6:>7.1f}  {verdict}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
