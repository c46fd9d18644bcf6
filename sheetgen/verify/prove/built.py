"""Extra checks for workbooks written by `sheetgen build` (custom property generator = "sheetgen ...").

Such a book promises more than a hand-made one: every computed cell is a live formula, the
values cached in the file are what a spreadsheet computes (viewers that never recalculate
show them), each LR sheet and the Summary carry their charts, and every table starts from
the parameter block on the Inputs sheet.
"""

from __future__ import annotations

import math

import numpy as np

from sheetgen.core.cells import NUMBER, unpack
from sheetgen.core.layout import INPUTS_SHEET, SUMMARY_SHEET, is_lr_sheet
from sheetgen.core.oracle import BIASES, INPUTS, WEIGHTS
from sheetgen.core.tolerance import close
from sheetgen.core.xlsx import Book, address
from sheetgen.verify.read.tables import LABELS, Table, normalize


def is_built(book: Book) -> bool:
    return book.properties.get("generator", "").startswith("sheetgen")


def parameter_block(book: Book) -> dict[str, float]:
    """i1, i2, t1, t2, w1..w8 (b1, b2) from the Inputs sheet: a label cell with its value on the right."""
    sheet = book.sheet(INPUTS_SHEET)
    if sheet is None:
        return {}
    wanted, found = set(INPUTS) | set(WEIGHTS) | set(BIASES), {}
    for (row, col), value in sheet.values.text_items():
        if isinstance(value, str) and LABELS.get(normalize(value)) in wanted:
            number = sheet.values.get((row, col + 1))
            if isinstance(number, float):
                found.setdefault(LABELS[normalize(value)], number)
    return found


def unfilled_exercise(book: Book) -> tuple[str, int, str] | None:
    """A student's copy (`sheetgen build --exercise`) not yet filled in: (sheet, its header row, the first
    empty cell), else None.

    Its LR tables (headed Iteration in column A) have cells left empty under their headers; a copy
    with any still empty is incomplete, not wrong."""
    if "exercise" not in book.properties:
        return None
    for sheet in book.sheets:
        if not is_lr_sheet(sheet.name):
            continue
        header = next((r for (r, c), v in sheet.values.text_items() if c == 1 and v == "Iteration"), None)
        if header is None:
            continue
        width = 1
        while isinstance(sheet.values.get((header, width + 1)), str):
            width += 1
        row = header + 1
        while isinstance(sheet.values.get((row, 1)), float):
            for col in range(2, width + 1):
                if sheet.values.get((row, col)) in (None, "") and sheet.formula(row, col) is None:
                    return sheet.name, header, address(row, col)
            row += 1
    return None


def formulas_everywhere(original: Book, tables: list[Table]) -> str | None:
    """The first computed table cell that holds a typed number instead of a formula."""
    for table in tables:
        sheet = original.sheet(table.sheet)
        for key, col in table.columns.items():
            if key == "iteration":
                continue
            for row in table.rows:
                if (row, col) not in sheet.formulas:
                    return (
                        f"'{table.sheet}'!{address(row, col)} ({table.headers[key]}) holds a typed value, "
                        "not a formula"
                    )
    return None


def cached_values_match(original: Book, recalculated: Book, tol: float) -> str | None:
    """The first formula cell whose value saved in the file differs from LibreOffice's recalculation."""
    for sheet in original.sheets:
        fresh = recalculated.sheet(sheet.name)
        if fresh is None:
            return f"sheet '{sheet.name}' is missing after recalculation"
        cells = sheet.formulas.packed()
        saved_kinds, saved_numbers = sheet.values.lookup(cells)
        kinds, numbers = fresh.values.lookup(cells)
        both = (saved_kinds == NUMBER) & (kinds == NUMBER) & np.isfinite(numbers)
        agree = both & close(saved_numbers, numbers, tol)  # at once; the rest one by one, in order
        for packed in cells[~agree].tolist():
            cell = unpack(packed)
            saved, computed = sheet.values.get(cell), fresh.values.get(cell)
            if isinstance(saved, float) and isinstance(computed, float):
                if math.isfinite(computed) and close(saved, computed, tol):
                    continue
            elif saved == computed or saved is None:
                # No saved value: the program that saved it (openpyxl, a script) never calculated,
                # which no sheet is wrong for; LibreOffice's values are the ones judged.
                continue
            return (
                f"'{sheet.name}'!{address(*cell)}: the saved value {saved!r} differs from the recalculated "
                f"{computed!r}"
            )
    return None


def charts_present(original: Book) -> str | None:
    """Each LR sheet and the Summary need at least one chart."""
    expected = [s for s in original.sheets if is_lr_sheet(s.name) or s.name == SUMMARY_SHEET]
    lacking = [s.name for s in expected if s.charts < 1]
    if not any(s.name == SUMMARY_SHEET for s in expected):
        return "no Summary sheet"
    if lacking:
        return "no chart on sheet " + ", ".join(f"'{name}'" for name in lacking)
    return None


def check_built(original: Book, recalculated: Book | None, tables: list[Table], tol: float) -> list[str]:
    """A built book's broken promises (empty when all hold); `recalculated` None skips the cache check."""
    problems = [formulas_everywhere(original, tables), charts_present(original)]
    if recalculated is not None:
        problems.append(cached_values_match(original, recalculated, tol))
    return [p for p in problems if p]
