"""The annotated copy of a workbook that is not verified: what to mark, what to say, where it goes.

Each wrong cell (the first wrong cell of every wrong column) is filled red and carries a comment
(expected, found, formula, diagnosis); cells holding typed values or typed-in constants where
formulas belong are filled amber, the first of each range with a comment; a first sheet
"Feedback" lists all of it with links to the cells. The copy is made by workbook_edit, which keeps
every other part of the student's file as it was (charts, images, formatting, their own comments).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from sheetgen.verify.report import workbook_edit
from sheetgen.verify.report.workbook_edit import CellMark, NewSheet

WRONG_FILL = "FFFF7C80"  # light red: a wrong value
UNPROVEN_FILL = "FFFFD966"  # amber: a value or constant where a formula belongs
FEEDBACK = "Feedback"
CONVERTED = {".ods", ".xls"}  # annotated through LibreOffice's .xlsx conversion


FEEDBACK_TITLE = "Feedback from sheetgen verify"  # A1 of the sheet feedback_sheet writes


def without_feedback(book):
    """The book less the Feedback sheet an annotated copy carries: a student who mends the copy and
    hands it in again is judged on their own sheets (the Feedback sheet's cell addresses, "H7", are
    no labels of theirs)."""
    kept = [
        sheet
        for sheet in book.sheets
        if not (sheet.name.startswith(FEEDBACK) and sheet.values.get((1, 1)) == FEEDBACK_TITLE)
    ]
    if len(kept) == len(book.sheets):
        return book
    return dataclasses.replace(book, sheets=kept)


def verdict_text(verdict: str) -> str:
    """'right_only_at_its_numbers' -> 'RIGHT ONLY AT ITS NUMBERS'."""
    return str(verdict).replace("_", " ").upper()


def wrong_cells(table) -> list:
    """Every wrong cell of a table the report names (first_wrong first), one per wrong column."""
    cells = list(getattr(table, "wrong_cells", None) or [])
    first = getattr(table, "first_wrong", None)
    if first is not None and all(c.address != first.address or c.sheet != first.sheet for c in cells):
        cells.insert(0, first)
    return cells


def unproven(table) -> list:
    return list(getattr(table, "unproven", None) or [])


def _number(value):
    return value if isinstance(value, float) else None


def _found_text(finding) -> str:
    describe = getattr(finding, "describe_found", None)
    return describe() if describe else str(finding.found)


def wrong_comment(finding) -> str:
    formula = f"formula: ={finding.formula}" if finding.formula else "a typed value, no formula"
    diagnosis = finding.diagnosis or "no known mistake fits"
    return (
        f"sheetgen verify: wrong value in {finding.label}\n"
        f"expected: {finding.expected:.12g}\nfound: {_found_text(finding)}\n{formula}\ndiagnosis: {diagnosis}"
    )


def unproven_kind(item) -> str:
    if getattr(item, "kind", "") == "constant":
        return "a constant typed into a formula"
    return "values typed where formulas belong"


def unproven_comment(item) -> str:
    return f"sheetgen verify: {unproven_kind(item)} ({item.label})\n{item.message}"


def marks(result) -> list[CellMark]:
    """The cells to fill and comment on: wrong cells red, unproven ranges amber (wrong wins)."""
    found: dict[tuple[str, int, int], CellMark] = {}
    for table in result.tables:
        for item in unproven(table):
            try:
                cells = workbook_edit.cells_of(item.cells)
            except ValueError:
                continue
            for n, (row, col) in enumerate(cells):
                comment = unproven_comment(item) if n == 0 else None
                found.setdefault(
                    (item.sheet, row, col), CellMark(item.sheet, row, col, UNPROVEN_FILL, comment)
                )
    for table in result.tables:
        for finding in wrong_cells(table):
            row, col = workbook_edit.cell_of(finding.address)
            key = (finding.sheet, row, col)
            comment = wrong_comment(finding)
            if key in found and found[key].comment:
                comment += "\n\n" + found[key].comment
            found[key] = CellMark(finding.sheet, row, col, WRONG_FILL, comment)
    return list(found.values())


def _link(sheet: str, cell: str) -> str:
    return "'" + sheet.replace("'", "''") + "'!" + cell.split(":")[0].replace("$", "")


def feedback_sheet(result, name: str) -> NewSheet:
    """The first sheet of the copy: the verdict, every marked cell with a link to it, problems, notes."""
    verdict = verdict_text(result.verdict)
    rows: list[list[object]] = [
        [FEEDBACK_TITLE],
        ["Workbook", name],
        ["Verdict", verdict],
        [
            "Colours",
            "red: a wrong value (its comment says what was expected, what was found and the likely mistake); "
            "amber: values or constants typed where a formula belongs",
        ],
        [],
        ["What", "Sheet", "Cell", "Quantity", "Expected", "Found", "Formula", "Diagnosis"],
    ]
    links = {}
    for table in result.tables:
        for finding in wrong_cells(table):
            links[(len(rows) + 1, 3)] = _link(finding.sheet, finding.address)
            rows.append(
                [
                    "wrong value",
                    finding.sheet,
                    finding.address,
                    finding.label,
                    finding.expected,
                    _number(finding.found) if _number(finding.found) is not None else _found_text(finding),
                    ("=" + finding.formula) if finding.formula else "(typed value)",
                    finding.diagnosis or "no known mistake fits",
                ]
            )
        for item in unproven(table):
            links[(len(rows) + 1, 3)] = _link(item.sheet, item.cells)
            constant = getattr(item, "constant", None)
            rows.append(
                [unproven_kind(item), item.sheet, item.cells, item.label, None, constant, None, item.message]
            )
    if len(rows) == 6:
        rows.append(["(no single cell to point at: see below)"])
    extra = [("problem", p) for p in result.problems]
    if result.error:
        extra.insert(0, ("why not checked", result.error))
    difference = getattr(result, "network_difference", None)
    if difference:
        extra.append(("different network", difference))
    for table in result.tables:

        def where(table=table) -> str:  # Mazur's layout spans sheets ("place"); its virtual sheet is no sheet
            return getattr(table, "place", None) or f"'{table.table.sheet}'!{table.table.address}"

        for kind, why in (("different network", "network_difference"), ("incomplete", "incomplete")):
            text = getattr(table, why, None)
            if text and text != difference:
                extra.append((kind, f"{where()}: {text}"))
        if table.eta_note:
            extra.append(("η", f"{where()}: {table.eta_note}"))
        if table.missing:
            extra.append(("missing columns", ", ".join(table.missing)))
    extra.extend(("note", n) for n in result.notes)
    if extra:
        rows.append([])
        rows.extend([kind, text] for kind, text in extra)
    return NewSheet(
        FEEDBACK,
        rows,
        widths=[30, 14, 12, 16, 18, 18, 40, 60],
        bold_rows={1, 6},
        wrap_columns={7, 8},  # formula and diagnosis; longer notes in column B spill over the empty cells
        links=links,
    )


def copy_name(relative: Path) -> Path:
    """The annotated copy's path under the output folder: the same name; LibreOffice's formats + .xlsx."""
    if relative.suffix.lower() in CONVERTED:
        return relative.with_name(relative.name + ".xlsx")
    return relative


def write_copy(result, source: Path, outdir: Path, relative: Path, original: Path) -> Path:
    """Write the annotated copy of `source` (`original` itself, or LibreOffice's .xlsx of it).

    Raises workbook_edit.EditError (or a UserError for a file that is not a workbook); an UNREADABLE
    book is never opened here (its parts may be what made it unreadable: a bomb, broken XML).
    """
    if result.verdict == "unreadable":  # nothing was read that could be marked: its XML is not touched
        raise workbook_edit.EditError("an unreadable book gets no annotated copy")
    target = Path(outdir) / copy_name(relative)
    if os.path.realpath(target) == os.path.realpath(original):
        raise workbook_edit.EditError(
            "the annotated copy would overwrite the original: choose another folder"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    workbook_edit.annotate(source, target, marks(result), feedback_sheet(result, str(relative)))
    return target
