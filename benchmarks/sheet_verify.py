"""Benchmark `sheetgen verify`: one book of 6 x 100, one of 1 x 10,000, and a class of 100 books.

    python benchmarks/sheet_verify.py [--books 100] [--skip-big] [--jobs N] [--one-job]

Prints, in one run:
  * wall time of `sheetgen verify BOOK` (a fresh process, LibreOffice start included) for a
    6 x 100 book (target <= 6 s) and a 1 x 10,000 book;
  * the batch: LibreOffice alone recalculating N books of 6 x 100 in one soffice run (the floor),
    then `sheetgen verify --jobs J` on the same N books (J soffice processes, and for N >= 2J as many
    worker processes reading and judging; the formula proof included), and their ratio (target
    <= 0.75 with the default J, the number of cores);
    with --one-job also `--jobs 1` (target <= 1.5).
Speed targets are checked here, never in the tests. Share of the CPU matters: the load average
is printed alongside.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sheetgen.build.params import load_template
from sheetgen.build.writer import write_workbook
from sheetgen.office import recalc

LRS = [0.1, 0.2, 0.5, 0.8, 1.0, 2.0]


def timed_cli(*args: str) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "sheetgen", "verify", *args], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"verify failed ({done.returncode}): {done.stdout[-500:]} {done.stderr[-500:]}")
    lines = done.stdout.strip().splitlines()
    return elapsed, lines[-1] if "workbook(s):" in lines[-1] else lines[0].split(": ", 1)[1]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--books", type=int, default=100, help="books in the batch")
    parser.add_argument("--skip-big", action="store_true", help="skip the 1 x 10,000 book")
    parser.add_argument("--jobs", type=int, default=recalc.default_jobs(), help="verify --jobs for the batch")
    parser.add_argument("--one-job", action="store_true", help="also time the batch with --jobs 1")
    args = parser.parse_args()
    _, params = load_template("era-v1")
    print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; LibreOffice: {recalc.find_soffice()}; "
        f"cores: {os.cpu_count()}; load average: {load()}"
    )
    with tempfile.TemporaryDirectory(prefix="sheetgen-bench-") as work:
        work = Path(work)
        small = work / "six_by_100.xlsx"
        write_workbook(small, params, LRS, 100)
        seconds, line = timed_cli(str(small))
        print(f"verify 6 x 100 (CLI, LibreOffice start included): {seconds:.2f} s   [{line}]")
        if not args.skip_big:
            big = work / "one_by_10000.xlsx"
            write_workbook(big, params, [0.5], 10_000)
            seconds, line = timed_cli(str(big))
            print(f"verify 1 x 10,000 (CLI, LibreOffice start included): {seconds:.2f} s   [{line}]")
        folder = work / "class"
        folder.mkdir()
        for n in range(args.books):  # a class: everyone starts from slightly different weights
            write_workbook(
                folder / f"student{n:03d}.xlsx", params | {"w1": params["w1"] + n * 1e-3}, LRS, 100
            )
        books = sorted(folder.glob("*.xlsx"))
        print(f"batch of {len(books)} books of 6 x 100, load average before: {load()}")
        start = time.perf_counter()
        recalc.recalculate(books, work / "lo-only")
        floor = time.perf_counter() - start
        print(f"  LibreOffice alone, one batch: {floor:.1f} s ({floor / len(books):.2f} s per book)")
        runs = [(args.jobs, 0.75)] + ([(1, 1.5)] if args.one_job and args.jobs != 1 else [])
        for jobs, target in runs:
            seconds, line = timed_cli(str(folder), "--jobs", str(jobs))
            print(
                f"  sheetgen verify --jobs {jobs}, same books: {seconds:.1f} s "
                f"({seconds / len(books):.2f} s/book)  [{line}]"
            )
            print(
                f"  ratio verify --jobs {jobs} / LibreOffice alone: {seconds / floor:.2f} "
                f"(target <= {target}); load: {load()}"
            )


if __name__ == "__main__":
    main()
