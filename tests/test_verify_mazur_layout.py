"""sheetgen verify reads the layout of Mazur's post: one iteration per sheet, as labelled cells."""

from __future__ import annotations

import mazur_layout
import openpyxl

from sheetgen.core import xlsx
from sheetgen.office.recalc import recalculate
from sheetgen.verify import command as verify
from sheetgen.verify.report import verdicts as report


def _judge(path):
    book = xlsx.read_book(path)
    return verify.judge(path, book, book, "cached", 1e-9)


def test_a_right_walkthrough_is_verified_with_every_formula_proven(tmp_path):
    path = tmp_path / "mazur.xlsx"
    mazur_layout.write(path, sheets=3)
    result = _judge(path)
    assert result.verdict == report.VERIFIED, report.details(result)
    (check,) = result.tables
    assert check.rows == 3 and check.biases == "fixed" and check.eta == 0.5
    assert check.proven_forms > 30  # the sums, activations, errors, gradients, updates and the carried inputs
    assert "'Iteration 1', 'Iteration 2', 'Iteration 3'" in check.notes[-1]


def test_a_mistake_is_named_by_its_sheet_and_cell_with_its_own_formula(tmp_path):
    path = tmp_path / "mistake.xlsx"
    where = mazur_layout.write(path, sheets=2, mistake={"o1": "{w5}*{a_h1}+{w6}*{a_h2}+{b1}"})
    result = _judge(path)
    assert result.verdict == report.WRONG, report.details(result)
    first = result.first_wrong
    assert (first.sheet, first.address) == where[(0, "o1")]
    assert first.formula.endswith("+" + where[(0, "b1")][1])  # the sheet's own formula, not a rewritten one
    assert "uses b1 in place of b2" in first.diagnosis
    assert result.network_difference is None


def test_a_weight_carried_from_the_wrong_cell_is_found_on_the_later_sheet(soffice, tmp_path):
    """Sheet 2 reads w6 from sheet 1's w7+ cell: wrong on sheet 2, and named there."""
    path = tmp_path / "carried.xlsx"
    where = mazur_layout.write(path, sheets=2)
    sheet2, w6_cell = where[(1, "w6")]
    book = openpyxl.load_workbook(path)
    book[sheet2][w6_cell] = f"='Iteration 1'!{where[(0, 'new_w7')][1]}"
    book.save(path)  # formulas only: LibreOffice computes the values
    (recalculated,) = recalculate([path], tmp_path / "out")
    result = verify.judge(path, xlsx.read_book(path), xlsx.read_book(recalculated), "libreoffice", 1e-9)
    assert result.verdict == report.WRONG, report.details(result)
    assert (result.first_wrong.sheet, result.first_wrong.address) == (sheet2, w6_cell)
    assert result.first_wrong.key == "w6"
