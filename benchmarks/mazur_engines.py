"""Mazur's example in two spreadsheet engines: build it, recalculate it in LibreOffice and in Gnumeric,
and compare with the figures the post prints and with the oracle.

    python benchmarks/mazur_engines.py [--iterations 10000] [--biases fixed]

Runs `sheetgen build --template mazur --lr-list 0.5 --iterations N` in a fresh process, then
recalculates the book in both engines (nothing cached survives: every value printed is the
engine's own), and prints, for each engine: E_total before the first update, the eight weights
after it, E_total after N updates (and after N − 1: the post's 0.0000351085 is that one, see
docs/mazur.md), the worst relative error of any table cell against the oracle, and the time.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import openpyxl

from sheetgen.build.params import read_template
from sheetgen.core import oracle
from sheetgen.core.columns import columns_for
from sheetgen.core.tolerance import relative_error
from sheetgen.office import gnumeric
from sheetgen.office.recalc import recalculate

# As printed in "A Step by Step Backpropagation Example" (the hidden step uses the old w5..w8).
POST_BEFORE = {"E_total": 0.298371109}
POST_AFTER = {
    "w1": 0.149780716,
    "w2": 0.19956143,
    "w3": 0.24975114,
    "w4": 0.29950229,
    "w5": 0.35891648,
    "w6": 0.408666186,
    "w7": 0.511301270,
    "w8": 0.561370121,
}
POST_AFTER_10000 = 0.0000351085
INDEPENDENT_10000 = 3.510187783e-05  # an independent float64 loop (issue 13)


def read_table(path: Path, sheet_name: str, biases: str) -> dict[str, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sheet = openpyxl.load_workbook(path, data_only=True, read_only=True)[sheet_name]
    rows = sheet.iter_rows(values_only=True)
    by_label = {c.label: c.key for c in columns_for(biases)}
    for row in rows:
        if row and row[0] == "Iteration":
            columns = {by_label[v]: i for i, v in enumerate(row) if v in by_label}
            break
    values: dict[str, list] = {key: [] for key in columns}
    for row in rows:
        if not row or row[0] is None:
            break
        for key, i in columns.items():
            values[key].append(row[i])
    return {key: np.array(v, dtype=np.float64) for key, v in values.items()}


def report(engine: str, table: dict, truth: dict, seconds: float, iterations: int) -> None:
    worst = max(float(np.max(relative_error(table[k], truth[k]))) for k in table if k != "iteration")
    print(f"\n{engine} ({seconds:.1f} s to recalculate)")
    print(f"  E_total before the first update: {table['E_total'][0]:.9f}   (post: {POST_BEFORE['E_total']})")
    for key, printed in POST_AFTER.items():
        print(f"  {key} after it: {table[key][1]:.9f}   (post: {printed})")
    print(f"  E_total after {iterations} updates: {table['E_total'][-1]:.9e}")
    if iterations == 10_000:
        print(f"      (independent float64 loop: {INDEPENDENT_10000:.9e})")
        print(f"  E_total after 9999 updates: {table['E_total'][-2]:.9e}   (post prints {POST_AFTER_10000})")
    print(f"  worst relative error of any table cell against the oracle: {worst:.2e}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=10_000)
    parser.add_argument("--biases", default="fixed", choices=oracle.BIAS_MODES)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mazur-"))
    book = work / "mazur.xlsx"
    command = [sys.executable, "-m", "sheetgen", "build", "--template", "mazur", "--lr-list", "0.5"]
    command += ["--iterations", str(args.iterations), "--biases", args.biases, "-o", str(book)]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    print(f"built in {time.perf_counter() - start:.1f} s: {' '.join(command[1:])}")

    truth = oracle.train(read_template("mazur").params, 0.5, args.iterations, args.biases)
    start = time.perf_counter()
    by_gnumeric = gnumeric.recalculate(book, work / "gnumeric.xlsx")
    report(
        "Gnumeric",
        read_table(by_gnumeric, "LR 0.5", args.biases),
        truth,
        time.perf_counter() - start,
        args.iterations,
    )
    start = time.perf_counter()
    (by_libreoffice,) = recalculate([book], work / "libreoffice")
    seconds = time.perf_counter() - start
    report("LibreOffice", read_table(by_libreoffice, "LR 0.5", args.biases), truth, seconds, args.iterations)
    return 0


if __name__ == "__main__":
    sys.exit(main())
