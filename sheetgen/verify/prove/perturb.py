"""Check by LibreOffice what the proof cannot read: recalculate a copy with other inputs.

A formula the proof cannot map to quantities (an unknown function, a reference to something
that is no quantity) is still a formula: changing the table's inputs (η, i1, i2, t1, t2, the
initial weights) to random values in a copy and letting LibreOffice recalculate it checks the
formula away from the sheet's own numbers, where t1 = t2 or a typed-in η no longer hide anything.
Every value of the perturbed copy is checked as usual; the result settles what the proof left open.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sheetgen.core import xlsx
from sheetgen.core.errors import UserError, scratch
from sheetgen.office import recalc
from sheetgen.verify.prove import checks
from sheetgen.verify.prove.worlds import ETA, with_gradient
from sheetgen.verify.read import tables

SEED = 20240612


def _values(names: set[str]) -> dict[str, float]:
    """A random value per input: η in [0.1, 1], weights in [−1, 1], inputs and targets distinct in (0, 1)."""
    rng = np.random.default_rng(SEED)
    graded = set(with_gradient())
    values = {}
    for name in sorted(names):
        if name == ETA:
            values[name] = float(rng.uniform(0.1, 1.0))
        elif name in graded:
            values[name] = float(rng.uniform(-1.0, 1.0))
        else:
            values[name] = float(rng.uniform(0.05, 0.95))
    return values


def _write_copy(source: Path, target: Path, edits: dict[tuple, float]) -> None:
    import openpyxl

    book = openpyxl.load_workbook(source)
    for (sheet, row, col), value in edits.items():
        if sheet in book.sheetnames:
            book[sheet].cell(row=row, column=col, value=value)
    book.save(target)


def settle(result, source: Path, tol: float) -> None:
    """Check the tables whose formulas the proof left unread at perturbed inputs, with LibreOffice.

    Their "not proven" entries go when every value is right there; a wrong one becomes the table's
    first wrong cell, its diagnosis saying at which inputs it shows.
    """
    open_tables = [t for t in result.tables if any(u.kind == "unproven" for u in t.unproven)]
    if not open_tables or recalc.find_soffice() is None or source.suffix.lower() not in (".xlsx", ".xlsm"):
        return
    cells = {cell: name for t in open_tables for cell, name in t.input_cells.items()}
    values = _values(set(cells.values()))
    edits = {cell: values[name] for cell, name in cells.items()}
    with scratch("perturb") as work:
        copy = Path(work) / ("perturbed" + source.suffix.lower())
        try:
            _write_copy(source, copy, edits)
            (output,) = recalc.recalculate([copy], Path(work) / "out")
            perturbed = xlsx.read_book(output)
        except (UserError, OSError, ValueError, KeyError) as error:
            result.notes.append(
                f"the perturbed recalculation failed ({error}): unread formulas stay unproven"
            )
            return
    found = {(t.sheet, t.header_row): t for t in tables.find_all(perturbed)}
    shown = ", ".join(f"{name} = {value:.3g}" for name, value in sorted(values.items()))
    for check in open_tables:
        table = found.get((check.table.sheet, check.table.header_row))
        if table is None:
            continue
        try:
            again = checks.check_table(perturbed.sheet(table.sheet), table, tol=tol)
        except checks.Unverifiable:
            continue
        check.unproven = [u for u in check.unproven if u.kind != "unproven"]
        unread, check.unmapped = check.unmapped, []
        if again.first_wrong is None:
            check.notes.append(
                f"{len(unread)} column(s) with formulas the proof could not read ({'; '.join(unread)}) "
                f"checked by LibreOffice with other inputs ({shown}): every value right"
            )
            check.verified = not check.wrong_cells and not check.unproven
            continue
        # A column already wrong at the sheet's own numbers keeps that finding: only the others are
        # wrong just with the inputs changed, and their expected and found values are the changed ones.
        own = {f.key for f in check.wrong_cells}
        shows = [f for f in again.wrong_cells if f.key not in own]
        for finding in shows:
            finding.diagnosis = (
                f"{finding.diagnosis or 'no known mistake fits'}; its value is right at the sheet's own "
                f"numbers, wrong with the inputs changed to {shown} (the expected and found values here)"
            )
        check.wrong_cells = shows + check.wrong_cells
        firsts = [
            f
            for f in (check.first_wrong, again.first_wrong)
            if f is not None and (f in shows or f.key in own)
        ]
        check.first_wrong = min(firsts, key=checks.reading_order, default=again.first_wrong)
        check.wrong_columns = list(dict.fromkeys(again.wrong_columns + check.wrong_columns))
        check.verified = False
