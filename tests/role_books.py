"""Hand-made books whose cells are what they compute, not what their labels or values suggest (issue 21).

Each is a right (or a deliberately typed-in) 2-2-2 sheet written by probe_books' table writer, with
saved values computed by tests/formula_eval.py from the book's own formulas; what differs is how
it is labelled or laid out, the way real course workbooks are:
  * η labelled with a look-alike glyph, or not labelled at all, on a sheet whose i2 has η's value;
  * inputs repeated on every row, typed or as constant formulas (=0.5), initial weights as =0.15;
  * the t2 column headed "i2" (a label another column has too);
  * one computed cell typed as a number among formulas;
  * a Google Sheets export: empty <row/> elements after the last cell;
  * a formula missing its closing parenthesis (LibreOffice closes it).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from probe_books import ERA, HEADERS, ORDER, WEIGHTS, Where, _mistaken, write_222, write_table

INPUT_KEYS = ("i1", "i2", "t1", "t2")


def write_eta_labelled(path, label: str, eta: float = 0.1, params: dict = ERA) -> Where:
    """A right sheet whose η cell (B1, beside `label`) has the value of i2 (0.1 in ERA)."""
    return write_table(
        path,
        ORDER,
        HEADERS,
        params,
        _mistaken(),
        givens=INPUT_KEYS,
        labelled={"eta": (label, eta)},
        eta_above=False,
    )


def write_inputs_on_every_row(path, typed: bool, params: dict = ERA, constant_weights: bool = False) -> Where:
    """Inputs repeated on every row: typed numbers, or constant formulas (=0.5) when not `typed`;
    `constant_weights` writes the first row's weights as constant formulas (=0.15) too."""

    def formulas(R, r):
        f = _mistaken()(R, r)
        f.update({k: repr(float(params[k])) for k in INPUT_KEYS})
        return f

    def edit(cells, where: Where):
        header_row = where.first_row - 1
        column = {cells[(header_row, col)]: col for (row, col) in cells if row == header_row}
        for (row, col), content in list(cells.items()):
            if row < where.first_row or not isinstance(content, (str, int, float)):
                continue
            key = next((k for k, c in column.items() if c == col), None)
            key = next((k for k in ORDER if HEADERS[k] == key), None)
            if key in INPUT_KEYS:
                cells[(row, col)] = float(params[key]) if typed else f"={float(params[key])!r}"
            elif key in WEIGHTS and row == where.first_row and constant_weights:
                cells[(row, col)] = f"={float(params[key])!r}"

    return write_table(path, ORDER, HEADERS, params, formulas, givens=(), edit=edit)


def write_t2_headed_i2(path, params: dict) -> Where:
    """A right sheet whose t2 column is headed "i2", as its i2 column is."""
    return write_222(path, params, headers={"t2": "i2"})


def write_h1_typed_in_first_row(path, params: dict = ERA) -> tuple[Where, float]:
    """A right sheet with h1 of the first row typed as its value (0.0275 in ERA); formulas elsewhere."""
    value = params["w1"] * params["i1"] + params["w2"] * params["i2"]

    def edit(cells, where: Where):
        cells[(where.first_row, _column(where, "h1"))] = round(value, 12)

    return write_222(path, params, edit=edit), value


def _column(where: Where, key: str) -> int:
    from openpyxl.utils import column_index_from_string

    return column_index_from_string(where.letters[key])


def rewrite_sheet_xml(path: Path, change) -> None:
    """Rewrite the first worksheet's XML of a book in place: change(xml text) -> new text."""
    path = Path(path)
    with zipfile.ZipFile(path) as source:
        parts = [(info, source.read(info.filename)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info, data in parts:
            if info.filename == "xl/worksheets/sheet1.xml":
                data = change(data.decode("utf-8")).encode("utf-8")
            target.writestr(info, data)


def pad_with_empty_rows(path: Path, count: int = 300) -> None:
    """Append `count` empty <row/> elements after the last row, as a Google Sheets export does."""

    def change(xml: str) -> str:
        last = max(int(n) for n in re.findall(r'<row r="(\d+)"', xml))
        empty = "".join(f'<row r="{last + n}" ht="15.75" customHeight="1"/>' for n in range(1, count + 1))
        return xml.replace("</sheetData>", empty + "</sheetData>", 1)

    rewrite_sheet_xml(path, change)


def drop_closing_parenthesis(path: Path, cell: str) -> str:
    """Remove the last ')' of one cell's formula (its saved value stays); returns the new formula."""
    found = {}

    def change(xml: str) -> str:
        pattern = re.compile(rf'(<c r="{cell}"[^>]*><f>)([^<]*)\)(</f>)')
        match = pattern.search(xml)
        assert match, f"no formula ending in ')' at {cell}"
        found["formula"] = "=" + match.group(2)
        return xml[: match.start()] + match.group(1) + match.group(2) + match.group(3) + xml[match.end() :]

    rewrite_sheet_xml(path, change)
    return found["formula"]
