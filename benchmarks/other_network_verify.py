"""Benchmark `sheetgen verify` on big books of other networks, read from their formulas alone.

    python benchmarks/other_network_verify.py [--tree PATH] [--engine cached|libreoffice] [--repeat N]

Builds three books of 6 LR sheets x 100 iterations with this checkout's `sheetgen build`: a 2-3-1 tanh
net with one sample, a 2-3-1 XOR net (4 samples, full batch, a bias per unit), both with their recorded
spec removed (so verify reads the network from the formula graph), and the course's own book (whose
time must not change). Then times `sheetgen verify BOOK` in a fresh process whose PYTHONPATH is
`--tree` (default: this checkout; give another checkout, e.g. the integration branch, for the
"before" figure). Prints wall and CPU seconds (the best of --repeat runs) and the verdict; the load
average is printed alongside, as the CPU may be shared.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOKS = {
    "2-3-1 tanh, 1 sample (stripped)": ["--network", "2-3-1", "--activation", "tanh", "--biases", "trained"],
    "2-3-1 XOR, 4 samples full batch (stripped)": [
        "--network",
        "2-3-1",
        "--samples",
        "xor",
        "--biases",
        "trained",
        "--bias-per",
        "unit",
    ],
    "course 2-2-2 (as built)": [],
}


def strip_spec(source: Path, target: Path) -> None:
    """A copy without the recorded spec and generator: only its formulas say what network it is."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "docProps/custom.xml":
                data = re.sub(
                    rb'<property[^>]*name="(network|generator)".*?</property>', b"", data, flags=re.S
                )
            zout.writestr(item, data)


def timed(tree: Path, book: Path, engine: str) -> tuple[float, float, str]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "sheetgen", "verify", "--engine", engine, str(book)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tree,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    verdict = (
        done.stdout.strip().splitlines()[0].split(": ")[1] if done.stdout.strip() else done.stderr[-200:]
    )
    return wall, cpu, verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout whose sheetgen verify is timed")
    parser.add_argument("--engine", default="cached", choices=("cached", "libreoffice"))
    parser.add_argument("--repeat", type=int, default=1, help="runs per book; the best is printed")
    args = parser.parse_args()
    print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; verify from {args.tree}; "
        f"engine {args.engine}; load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    with tempfile.TemporaryDirectory(prefix="sheetgen-bench-") as work:
        for name, flags in BOOKS.items():
            built = Path(work) / "built.xlsx"
            subprocess.run(
                [sys.executable, "-m", "sheetgen", "build", *flags, "-o", str(built)],
                check=True,
                capture_output=True,
                env=dict(os.environ, PYTHONPATH=str(ROOT)),
            )
            book = Path(work) / f"book{len(name)}.xlsx"
            if "stripped" in name:
                strip_spec(built, book)
            else:
                built.rename(book)
            runs = [timed(args.tree, book, args.engine) for _ in range(args.repeat)]
            wall, cpu, verdict = min(runs)
            print(f"{name:45} wall {wall:6.1f} s  cpu {cpu:6.1f} s  {verdict[:60]}", flush=True)


if __name__ == "__main__":
    main()
