"""Check an iteration table cell by cell against the oracle's equations.

Every cell is judged from the cells it depends on, as the sheet itself holds them: a_h1 must be
sigmoid of the h1 in the sheet, the next row's w1 must be w1 − η·∂E/∂w1 of the row above, and
so on down the column table (sheetgen.columns, whose formula templates spell out the oracle's
equations). An error therefore shows up where it is made and nowhere downstream, and the first
wrong cell, in row order and then in dependency order, is where the sheet first goes wrong.
Because every earlier cell agrees with the oracle, the expected value of that cell is the
oracle's value for that row. A quantity without a column is computed from the oracle's
equations so that the cells after it can still be judged; it is reported as missing.

Tolerance: sheetgen.core.tolerance (relative, with an absolute floor for values below 1e-3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sheetgen.core import oracle
from sheetgen.core.columns import COLUMNS
from sheetgen.core.tolerance import DEFAULT_TOL, relative_error
from sheetgen.core.xlsx import Sheet, address
from sheetgen.verify.dataflow import DEPENDENCIES, EQUATIONS, FIXED, TableData, read_table
from sheetgen.verify.diagnose import diagnose
from sheetgen.verify.tables import UPDATED, Table


@dataclass
class Finding:
    sheet: str
    address: str
    key: str
    label: str
    expected: float
    found: object
    formula: str | None
    diagnosis: str | None
    row: int = 0

    def describe_found(self) -> str:
        if isinstance(self.found, float):
            return f"{self.found:.12g}"
        return "empty" if self.found in (None, "") else str(self.found)


@dataclass
class TableCheck:
    table: Table
    rows: int
    verified: bool
    max_rel_error: float
    first_wrong: Finding | None = None
    wrong_columns: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unchecked: int = 0  # blank cells in present columns
    eta: float | None = None
    eta_note: str = ""
    notes: list[str] = field(default_factory=list)


class Unverifiable(Exception):
    """The table lacks what any check needs (its weights or inputs)."""


def infer_eta(data: TableData) -> tuple[float, int] | None:
    """η from the first two consecutive rows whose weights changed: median of (w − w_next)/∂E/∂w.

    The gradients come from the oracle, not from the sheet's own gradient columns, so a
    wrong gradient column cannot bend the estimate; the median ignores one odd weight.
    """
    ctx = data.context
    n = len(data.table.rows)
    for r in range(n - 1):
        row = {k: ctx[k][r] for k in (*FIXED, *oracle.WEIGHTS)}
        if any(math.isnan(v) for v in row.values()):
            continue
        grads = oracle.evaluate(**row)
        estimates = [
            (ctx[w][r] - data.found[w][r + 1]) / grads[g]
            for w, g in zip(oracle.WEIGHTS, oracle.GRADIENTS, strict=True)
            if abs(grads[g]) > 1e-12 and not math.isnan(data.found[w][r + 1])
        ]
        if estimates and abs(float(np.median(estimates))) > 0:
            eta = float(np.median(estimates))
            nice = float(f"{eta:.6g}")
            return (nice if abs(nice - eta) <= 1e-9 * abs(eta) else eta), r
    return None


def _forward_fill(values: np.ndarray) -> np.ndarray:
    index = np.where(np.isnan(values), 0, np.arange(len(values)))
    return values[np.maximum.accumulate(index)]


def _fill_context(data: TableData, anchor: dict[str, float]) -> None:
    """Context = the sheet's own numbers; missing or non-numeric cells replaced by what they should be."""
    table, found, ctx, expected = data.table, data.found, data.context, data.expected
    n = len(table.rows)
    for key in FIXED:
        if key in found:
            # Constants: a sheet may write them in the first row only; later blanks mean "the same".
            ctx[key] = _forward_fill(found[key])
            first = anchor.get(key, ctx[key][0])
            expected[key] = np.concatenate(([first], ctx[key][:-1]))
        else:
            ctx[key] = np.full(n, table.params[key])
    for key in oracle.WEIGHTS:
        ctx[key] = found[key]
    for key, equation in EQUATIONS.items():
        with np.errstate(all="ignore"):
            value = np.asarray(equation(ctx), dtype=np.float64) * np.ones(n)
        expected[key] = value
        ctx[key] = np.where(np.isnan(found[key]), value, found[key]) if key in found else value


def _expect_weights(data: TableData, eta: float | None, anchor: dict[str, float]) -> None:
    ctx, expected = data.context, data.expected
    for w, g in zip(oracle.WEIGHTS, oracle.GRADIENTS, strict=True):
        if UPDATED + w in data.found:  # the row's own updated weight, shown beside its gradient
            expected[UPDATED + w] = ctx[w] - eta * ctx[g] if eta is not None else np.full(len(ctx[w]), np.nan)
        first = anchor.get(w, ctx[w][0])
        if eta is None:
            later = np.full(len(ctx[w]) - 1, np.nan)  # no η: updates cannot be checked
        else:
            later = ctx[w][:-1] - eta * ctx[g][:-1]
        expected[w] = np.concatenate(([first], later))


def _inherited_errors(data: TableData) -> dict[str, np.ndarray]:
    """For each key, the rows where a cell it reads (directly or not) shows an error or text.

    Rows are walked in order because errors travel down through the weight updates; this runs
    only when the table holds such cells at all.
    """
    shows = {
        k: np.isnan(data.found[k]) & np.array([v not in (None, "") for v in data.raw[k]]) for k in data.found
    }
    n = len(data.table.rows)
    if not any(mask.any() for mask in shows.values()):
        return {}
    inherited = {k: np.zeros(n, dtype=bool) for k in DEPENDENCIES}

    def tainted(key: str, row: int) -> bool:
        return bool(shows[key][row] if key in shows else False) or bool(inherited[key][row])

    for row in range(n):
        for key, (same_row, above) in DEPENDENCIES.items():  # COLUMNS order: dependencies come first
            inherited[key][row] = any(tainted(d, row) for d in same_row) or (
                row > 0 and any(tainted(d, row - 1) for d in above)
            )
    return inherited


def _require_inputs(table: Table) -> None:
    missing = [k for k in (*oracle.WEIGHTS, *FIXED) if k not in table.columns and k not in table.params]
    if missing:
        raise Unverifiable(
            f"'{table.sheet}' table at {table.address} has no column or labelled cell for "
            + ", ".join(missing)
        )


def _choose_eta(data: TableData) -> tuple[float | None, str]:
    """The table's η (labelled in the sheet, else inferred from its weights) and a note saying which."""
    table = data.table
    if table.eta is not None:
        return table.eta, f"η = {table.eta:g} from {table.eta_source}"
    if len(table.rows) < 2:
        return None, ""
    inferred = infer_eta(data)
    if inferred is None:
        return None, "η not found and not inferable: weight updates not checked"
    eta, r = inferred
    rows = f"{table.rows[r]},{table.rows[r + 1]}"
    note = f"η inferred from rows {rows} as {eta:.10g} (no cell labelled η / eta / lr)"
    return eta, note


# Report order: the column table's, then the updated-weight columns.
_ORDER = {c.key: i for i, c in enumerate(COLUMNS)} | {
    UPDATED + w: len(COLUMNS) + i for i, w in enumerate(oracle.WEIGHTS)
}


@dataclass
class _Verdicts:
    """What the cell-by-cell comparison of a table found."""

    first_wrong_cells: list[tuple[int, int, str]] = field(default_factory=list)  # (row index, order, key)
    wrong_keys: list[str] = field(default_factory=list)
    unchecked: int = 0
    worst: float = 0.0


def _judge_cells(data: TableData, tol: float) -> _Verdicts:
    """Compare every present column with its expected values; note each column's first wrong row."""
    verdicts = _Verdicts()
    inherited = _inherited_errors(data)
    present = sorted((k for k in data.table.columns if k != "iteration"), key=_ORDER.get)
    for key in present:
        found, expect = data.found[key], data.expected[key]
        blank = np.array([v is None or v == "" for v in data.raw[key]])
        # An error shown because a cell it reads shows one is not this cell's mistake.
        nonnumeric = np.isnan(found) & ~blank & ~inherited.get(key, False)
        checkable = ~np.isnan(found) & ~np.isnan(expect)
        with np.errstate(all="ignore"):
            rel = relative_error(found, expect)
        wrong = (checkable & (rel > tol)) | nonnumeric
        verdicts.unchecked += int(blank.sum())
        if checkable.any():
            verdicts.worst = max(verdicts.worst, float(np.max(rel[checkable])))
        if wrong.any():
            verdicts.wrong_keys.append(key)
            verdicts.first_wrong_cells.append((int(np.argmax(wrong)), _ORDER[key], key))
    return verdicts


def _finding(sheet: Sheet, data: TableData, cell: tuple[int, int, str], eta, tol, formula_of, known_etas):
    """The report of the first wrong cell, with the mistake that explains it when one does."""
    index, _, key = cell
    table = data.table
    row, col = table.rows[index], table.columns[key]
    formula = formula_of(row, col) if formula_of else sheet.formula(row, col)
    return Finding(
        sheet=table.sheet,
        address=address(row, col),
        key=key,
        label=table.headers[key],
        expected=float(data.expected[key][index]),
        found=data.raw[key][index],
        formula=formula,
        diagnosis=diagnose(data, key, index, eta, tol, formula, known_etas=known_etas),
        row=row,
    )


def check_table(
    sheet: Sheet,
    table: Table,
    *,
    tol: float = DEFAULT_TOL,
    anchor: dict[str, float] | None = None,
    formula_of=None,
    known_etas: tuple[float, ...] = (),
) -> TableCheck:
    """Judge every cell of `table`; `anchor` holds the parameter block row 0 must equal (built books).

    formula_of(row, col) gives a cell's formula text for the report (default: this sheet's).
    """
    anchor = anchor or {}
    _require_inputs(table)
    data = read_table(sheet, table)
    _fill_context(data, anchor)
    eta, eta_note = _choose_eta(data)
    _expect_weights(data, eta, anchor)
    verdicts = _judge_cells(data, tol)
    result = TableCheck(
        table,
        len(table.rows),
        not verdicts.first_wrong_cells,
        verdicts.worst,
        eta=eta,
        eta_note=eta_note,
        unchecked=verdicts.unchecked,
        missing=table.missing(),
    )
    result.wrong_columns = [table.headers[k] for k in verdicts.wrong_keys]
    if verdicts.first_wrong_cells:
        first = min(verdicts.first_wrong_cells)
        result.first_wrong = _finding(sheet, data, first, eta, tol, formula_of, known_etas)
    return result
