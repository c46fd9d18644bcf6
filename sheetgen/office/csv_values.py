"""Read LibreOffice's CSV export of a recalculated book (recalc.VALUES_FILTER) back as an xlsx.Book.

Writing and reading an .xlsx is the dearest part of a recalculation we only need the values of,
so a batch asks LibreOffice for one CSV per sheet and this module puts the values back on the
original's grid. The CSV is trusted only where it cannot be misread, else `read` returns None and
the caller asks LibreOffice for an .xlsx of that book instead:
  * every sheet of the original has its file, STEM-SHEET.csv, by its exact name (a sheet name
    LibreOffice had to change, or could not use as a file name, has none; "a%20b" is written as
    "a b", so of two sheets "a b" and "a%20b" one has none);
  * text is quoted (token 7 of the filter), so "0.5" typed as text stays text and an unquoted
    field is a number, TRUE or FALSE, or a percentage; anything else unquoted is a value LibreOffice
    wrote in a format of its own (a date a formula returned), and such a book is not trusted;
  * a cell typed in (no formula) keeps its type: text the file holds as a number means LibreOffice
    wrote it in a way of its own (a locale's "0,5"), and the book is not trusted;
  * a quoted error text (#DIV/0!, Err:502) in a formula cell is that formula's error, as the
    .xlsx would say, and so in a cell the file stores as an error; else it is text. A formula's
    empty text ("") is a formula without value, as the .xlsx reader has it.
Numbers carry LibreOffice's 15 significant digits, 5e-16 relative, far inside every tolerance
(core/tolerance.py). The formulas, charts and properties are the original's: the CSV has none.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from sheetgen.core.cells import EMPTY, FALSE, NUMBER, OBJECT, TRUE, CellValues, extent
from sheetgen.core.xlsx import MAX_CELLS, Book, ErrorValue, Sheet

MAX_BYTES = 32 * MAX_CELLS  # a cell's number takes ~18 characters; the reader's own cell limit holds too

# One field and what ends it: a quoted field ("" is a quote inside it), or an unquoted one.
_FIELD = re.compile(r'(?:"((?:[^"]|"")*)"|([^,"\r\n]*))(,|\r?\n|$)')
_ERROR = re.compile(r"#(?:NULL!|DIV/0!|VALUE!|REF!|NAME\?|NUM!|N/A|GETTING_DATA)|Err:\d{3}")


# Functions whose results LibreOffice formats as dates or times by itself, whatever the cell's own
# format: their books are asked for as .xlsx at once (values_will_do), not tried as CSV in vain.
DATED = re.compile(
    rb"(?<![\w.])(?:_xlfn\.)?(?:DATE|DATEVALUE|TODAY|NOW|TIME|TIMEVALUE|EDATE|EOMONTH|WORKDAY(?:\.INTL)?)\s*\(",
    re.IGNORECASE,
)


def dated(book: Book) -> bool:
    """Whether a formula of the book calls a function LibreOffice gives a date or time format."""
    for sheet in book.sheets:
        if sheet.formulas.any_text_matches(DATED):
            return True
        if any(DATED.search(text.encode("utf-8")) for text, _ in sheet.shared.values()):
            return True
    return False


class Untrusted(Exception):
    """The CSV cannot be read back without guessing."""


def csv_path(stem: Path, sheet: str) -> Path:
    """Where LibreOffice writes sheet `sheet` of the book converted as `stem`."""
    return stem.parent / f"{stem.name}-{sheet}.csv"


def sheet_area(sheet: Sheet) -> int:
    """Fields in the rectangle from A1 to the sheet's last cell: what LibreOffice's CSV of it holds."""
    last_row, last_col = extent(np.concatenate([sheet.values.packed(), sheet.formulas.packed()]))
    return last_row * last_col


def _number(field: str) -> float:
    if field.endswith("%"):  # a percentage a formula's result was given automatically (=A1*5%)
        return float(field[:-1]) / 100
    return float(field)


def _read_sheet(text: str, original: Sheet) -> CellValues:
    values = CellValues()
    formulas, saved = original.formulas, original.values
    row, col, position = 1, 1, 0
    while True:
        match = _FIELD.match(text, position)
        if match is None:  # a quote inside an unquoted field, or text after a closing quote
            raise Untrusted(f"{original.name}: malformed CSV at row {row}, column {col}")
        position = match.end()
        quoted, plain, end = match.groups()
        if quoted is not None:
            field = quoted.replace('""', '"')
            if not field and (row, col) in formulas:
                values.add(row, col, EMPTY)  # ="" comes back from an .xlsx as a formula without value
            elif _ERROR.fullmatch(field) and (
                (row, col) in formulas or isinstance(saved.get((row, col)), ErrorValue)
            ):
                values.add(row, col, OBJECT, obj=ErrorValue(field))
            elif (row, col) in formulas or isinstance(saved.get((row, col)), str):
                values.add(row, col, OBJECT, obj=field)
            else:  # a typed number come back as text: written in a way of its own (a locale's "0,5")
                raise Untrusted(
                    f"{original.name}: the number at row {row}, column {col} came back as {field!r}"
                )
        elif plain == "TRUE" or plain == "FALSE":
            values.add(row, col, TRUE if plain == "TRUE" else FALSE)
        elif plain:
            try:
                values.add(row, col, NUMBER, _number(plain))
            except ValueError:
                raise Untrusted(f"{original.name}: {plain!r} at row {row}, column {col}") from None
        if not end:
            break
        if end == ",":
            col += 1
        else:
            row, col = row + 1, 1
    values.finish()
    if len(values) > MAX_CELLS:
        raise Untrusted(f"{original.name}: more than {MAX_CELLS:,} cells")
    return values


def read(stem: Path, original: Book) -> Book | None:
    """The recalculated values of `original`, from the CSV files LibreOffice wrote as `stem`; None
    when they cannot be read back without guessing (see the module's docstring)."""
    sheets, total = [], 0
    try:
        # Names as written, compared exactly: on a case-insensitive disk "A" and "a" are one file.
        written = {entry.name for entry in os.scandir(stem.parent) if entry.name.startswith(stem.name + "-")}
        for sheet in original.sheets:
            path = csv_path(stem, sheet.name)
            if path.name not in written:  # LibreOffice writes every sheet, chart sheets and empty ones too
                return None
            total += path.stat().st_size
            if total > MAX_BYTES:
                return None
            text = path.read_text(encoding="utf-8")
            sheets.append(
                Sheet(
                    sheet.name,
                    values=_read_sheet(text, sheet),
                    formulas=sheet.formulas,
                    shared=sheet.shared,
                    charts=sheet.charts,
                )
            )
    except (Untrusted, UnicodeDecodeError, OSError):
        return None
    return Book(original.path, sheets, dict(original.properties), names=dict(original.names))
