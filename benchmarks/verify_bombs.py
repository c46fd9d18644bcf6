"""Peak memory and time of `sheetgen verify --engine cached` on XML bombs (issue 14, item 1).

    python benchmarks/verify_bombs.py [--megabytes 260] [--kinds shared-strings,row-junk,...]
                                      [--source DIR] [--also BOOK.xlsx ...]

Generates each bomb (tests/xlsx_bombs.py) in a temporary folder, runs verify in a fresh process
and prints its exit status, wall time and peak resident memory (getrusage of the child, so the
generator's own memory is not counted). --source runs another checkout's sheetgen (e.g. a git
worktree of an older commit) for before/after figures; --also measures any other workbooks.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from xlsx_bombs import KINDS, write_bomb  # noqa: E402

_MEASURE = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
    "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss; "
    "print(p.returncode, f'{time.perf_counter() - t:.2f}', rss // 1024, repr(p.stderr.strip()[:150]))"
)


def measure(book: Path, source: Path, engine: str = "cached") -> str:
    """'status seconds peak-MiB stderr' of one verify run, in a wrapper whose only child is verify."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    command = [sys.executable, "-m", "sheetgen", "verify", "--engine", engine, str(book)]
    done = subprocess.run([sys.executable, "-c", _MEASURE, *command], capture_output=True, text=True, env=env)
    return done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=int, default=260)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--source", type=Path, default=REPO)
    parser.add_argument("--engine", default="cached")
    parser.add_argument("--also", nargs="*", default=[])
    args = parser.parse_args()
    print(f"source {args.source}; peak RSS of the verify process (ru_maxrss of its wrapper's children)")
    print("| input | file MiB | exit | seconds | peak MiB | stderr |")
    print("|---|---:|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as work:
        books = []
        for kind in args.kinds.split(","):
            path = Path(work) / f"{kind}.xlsx"
            started = time.perf_counter()
            write_bomb(path, kind, args.megabytes)
            print(f"<!-- {kind}: generated in {time.perf_counter() - started:.1f} s -->", file=sys.stderr)
            books.append((f"{kind} bomb, ~{args.megabytes} MB of XML", path))
        books += [(Path(p).name, Path(p)) for p in args.also]
        for label, path in books:
            status, seconds, peak, stderr = measure(path, args.source, args.engine).split(" ", 3)
            size = path.stat().st_size / (1 << 20)
            print(f"| {label} | {size:.0f} | {status} | {seconds} | {peak} | {stderr} |", flush=True)


if __name__ == "__main__":
    main()
