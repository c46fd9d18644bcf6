"""A network sheet with a cell that shows an error (#DIV/0!, or Err:522 for a circular reference):
the first wrong cell is where the error starts, not the first cell that inherits it."""

from __future__ import annotations

import xlsxwriter

from sheetgen.verify import command as verify
from sheetgen.verify.report import verdicts as report


def _book(path, w1_formula):
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("S")
    sheet.write_row(0, 0, ["x1", "x2", "w1", "w2", "net", "out"])
    sheet.write_row(1, 0, [0.5, 0.2])
    sheet.write_formula("C2", w1_formula)
    sheet.write(1, 3, 0.3)
    sheet.write_formula("E2", "=C2*A2+D2*B2")
    sheet.write_formula("F2", "=1/(1+EXP(-E2))")
    book.close()
    return path


def test_the_cell_an_error_starts_from_is_named(tmp_path, soffice):
    circular = _book(tmp_path / "circular.xlsx", "=F2*0.1")
    divided = _book(tmp_path / "divided.xlsx", "=1/0")
    right = _book(tmp_path / "right.xlsx", "=0.1")
    results = verify.verify_books([circular, divided, right], "libreoffice", 1e-9)
    for result, words in zip(results[:2], ("circular reference", "#DIV/0!"), strict=True):
        assert result.verdict == report.INCOMPLETE, report.one_line(result)
        reason = result.tables[0].incomplete
        assert "wrong from 'S'!C2" in reason and words in reason, reason
        assert "a forward pass" in reason
    # The same sheet with a number in C2 is a right forward pass (σ(0.1·0.5 + 0.3·0.2)).
    assert results[2].verdict == report.INCOMPLETE
    assert results[2].tables[0].incomplete.endswith("all of it right"), report.one_line(results[2])
