"""Build time of other networks against the course's default book (issue 23: a 2-3-2 book of 6 LRs x 100
iterations within 2x the default's time).

Each case is a fresh `python -m sheetgen build` process (imports included); the cases run interleaved,
round after round, so that a change of load on a shared machine hits them alike; the best and median
of --repeat rounds are reported, and the ratio of bests to the default. --baseline DIR also times the
default book built by another checkout's code (PYTHONPATH=DIR), e.g. the code before the spec.

    python benchmarks/spec_build.py [--repeat 7] [--baseline /path/to/other/checkout]
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

ROOT = Path(__file__).resolve().parent.parent
LRS = ["--lr-list", "0.1,0.2,0.5,0.8,1,2", "--iterations", "100"]
CASES = {  # name -> extra arguments
    "default 2-2-2": [],
    "2-3-2": ["--network", "2-3-2"],
    "xor 2-2-1, 4 samples": ["--template", "xor"],
    "2-3-3-2 tanh, biases": ["--network", "2-3-3-2", "--activation", "tanh", "--biases", "trained"],
    "3-4-3 softmax": ["--network", "3-4-3", "--output-activation", "softmax", "--loss", "cross-entropy"],
}
TARGET = ("2-3-2", 2.0)


def time_build(argv: list[str], out: Path, pythonpath: Path) -> float:
    command = [sys.executable, "-m", "sheetgen", "build", *argv, *LRS, "-o", str(out)]
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env, cwd=pythonpath)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="rounds; the best and the median are reported")
    parser.add_argument(
        "--baseline", type=Path, default=None, help="another checkout whose default book to time too"
    )
    args = parser.parse_args()
    cases = {name: (argv, ROOT) for name, argv in CASES.items()}
    if args.baseline:
        cases = {"default, baseline code": ([], args.baseline.resolve())} | cases
    print(
        f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; 6 LRs x 100 iterations"
    )
    times: dict[str, list[float]] = {name: [] for name in cases}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.xlsx"
        for _ in range(args.repeat):
            for name, (argv, code) in cases.items():
                times[name].append(time_build(argv, out, code))
    base = min(times["default 2-2-2"])
    print(f"{'case':<26}{'best s':>8}{'median s':>10}{'best / default':>16}")
    for name, values in times.items():
        print(f"{name:<26}{min(values):>8.3f}{statistics.median(values):>10.3f}{min(values) / base:>16.2f}")
    name, limit = TARGET
    ratio = min(times[name]) / min(times.get("default, baseline code", times["default 2-2-2"]))
    print(
        f"target: {name} within {limit:g}x the default "
        f"({'baseline code' if args.baseline else 'this code'}): "
        f"{ratio:.2f}x, {'met' if ratio <= limit else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
