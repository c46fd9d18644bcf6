"""`sheetgen build` and `--template mazur` (and the other course books) write the same Inputs, Summary and
LR-sheet cells as before the network spec, formula for formula.

tests/golden/main-*.json.gz were written once from the code before issue 23 (main at 898546a), by
building each book with --iterations 3 and dumping every non-empty cell of every sheet but Equations
(formulas as text, typed values as they are) with openpyxl. Nothing in them comes from the code
under test.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

GOLDEN = Path(__file__).parent / "golden"
BUILDS = {
    "default": [],
    "mazur": ["--template", "mazur"],
    "trained": ["--biases", "trained", "--set", "b1=0.3", "--set", "b2=-0.2"],
    "eva8": ["--template", "eva8", "--lr-list", "0.5,1"],
}


def cells(path: Path) -> dict:
    book = openpyxl.load_workbook(path)
    out = {}
    for sheet in book.worksheets:
        if sheet.title == "Equations":
            continue
        out[sheet.title] = {
            c.coordinate: c.value if isinstance(c.value, int | float | str) else str(c.value)
            for row in sheet.iter_rows()
            for c in row
            if c.value is not None
        }
    return out


@pytest.mark.parametrize("name", sorted(BUILDS))
def test_course_books_are_cell_for_cell_as_before(name, tmp_path):
    path = tmp_path / f"{name}.xlsx"
    subprocess.run(
        [sys.executable, "-m", "sheetgen", "build", *BUILDS[name], "--iterations", "3", "-o", str(path)],
        check=True,
        capture_output=True,
    )
    with gzip.open(GOLDEN / f"main-{name}.json.gz", "rt") as f:
        expected = json.load(f)
    got = cells(path)
    assert sorted(got) == sorted(expected)
    for sheet, want in expected.items():
        differ = {k: (got[sheet].get(k), v) for k, v in want.items() if got[sheet].get(k) != v}
        extra = set(got[sheet]) - set(want)
        assert not differ and not extra, f"{sheet}: {list(differ.items())[:3]} extra {sorted(extra)[:5]}"
