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
from sheetgen.core.columns import ALL_COLUMNS
from sheetgen.core.intermediates import intermediates
from sheetgen.core.tolerance import DEFAULT_TOL, FLOOR, relative_error
from sheetgen.core.xlsx import Book, Sheet, address
from sheetgen.verify.prove import identify, proof
from sheetgen.verify.prove.diagnose import diagnose, diagnose_formula
from sheetgen.verify.prove.forms import label_of
from sheetgen.verify.prove.proof import Unproven
from sheetgen.verify.read.dataflow import FIXED, TableData, dependencies_for, equations_for, held, read_table
from sheetgen.verify.read.tables import UPDATED, Table, assign_spare


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
    wrong_cells: list[Finding] = field(default_factory=list)  # the first wrong cell of every wrong column
    unproven: list[Unproven] = field(default_factory=list)  # right only at the sheet's numbers
    identified: list[tuple[str, str, str]] = field(default_factory=list)  # (header, column letter, quantity)
    network_difference: str | None = None  # what differs from the 2-2-2 network, when that explains it
    incomplete: str | None = None  # why nothing (or no update) is computed
    proven_forms: int = 0  # distinct formulas proven at random worlds
    unmapped: list[str] = field(default_factory=list)  # formulas the proof could not read
    input_cells: dict[tuple, str] = field(default_factory=dict)  # (sheet, row, col) -> η, i1, w1, ...
    biases: str = "none"  # the network variant the table was checked as (dataflow.network_biases)


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
        row = {k: ctx[k][r] for k in (*FIXED, *oracle.WEIGHTS, *oracle.BIASES) if k in ctx}
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
    for key in held(data.biases):  # inputs, targets and fixed biases: the same in every row
        if key in found:
            # Constants: a sheet may write them in the first row only; later blanks mean "the same".
            ctx[key] = _forward_fill(found[key])
            first = anchor.get(key, ctx[key][0])
            expected[key] = np.concatenate(([first], ctx[key][:-1]))
        else:
            ctx[key] = np.full(n, table.params.get(key, 0.0))  # a bias without a column: its labelled cell
    updated, _ = oracle.free_values(data.biases)
    for key in updated:
        ctx[key] = found[key] if key in found else np.full(n, table.params.get(key, 0.0))
    for key, equation in equations_for(data.biases).items():
        with np.errstate(all="ignore"):
            value = np.asarray(equation(ctx), dtype=np.float64) * np.ones(n)
        expected[key] = value
        ctx[key] = np.where(np.isnan(found[key]), value, found[key]) if key in found else value


def _expect_weights(data: TableData, eta: float | None, anchor: dict[str, float]) -> None:
    ctx, expected = data.context, data.expected
    for w, g in zip(*oracle.free_values(data.biases), strict=True):  # the weights, and trained biases
        if w not in data.found and w not in oracle.WEIGHTS:
            continue  # a trained bias given only as a labelled cell: nothing to check row by row
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
    dependencies = dependencies_for(data.biases)
    inherited = {k: np.zeros(n, dtype=bool) for k in dependencies}

    def tainted(key: str, row: int) -> bool:
        return bool(shows[key][row] if key in shows else False) or bool(inherited[key][row])

    for row in range(n):
        for key, (same_row, above) in dependencies.items():  # column order: dependencies come first
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


# Report order: the column table's (biases included), then the updated-weight columns.
_ORDER = {c.key: i for i, c in enumerate(ALL_COLUMNS)} | {
    UPDATED + w: len(ALL_COLUMNS) + i for i, w in enumerate(oracle.WEIGHTS + oracle.BIASES)
}


def reading_order(finding: Finding) -> tuple[int, int]:
    """Where a finding comes in the table: its sheet row, then its column's place in the report."""
    return finding.row, _ORDER.get(finding.key, len(_ORDER))


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


def _finding(
    sheet: Sheet, data: TableData, cell: tuple[int, int, str], eta, tol, formula_of, known_etas, fix
):
    """The report of the first wrong cell, with the mistake that explains it when one does."""
    index, _, key = cell
    table = data.table
    row, col = table.rows[index], table.columns[key]
    formula = formula_of(row, col) if formula_of else sheet.formula(row, col)
    diagnosis = diagnose(data, key, index, eta, tol, formula, known_etas=known_etas)
    if diagnosis is None and formula and fix is not None:
        diagnosis = fix(row, col, key) or "no one-edit change makes its formula right"
    return Finding(
        sheet=table.sheet,
        address=address(row, col),
        key=key,
        label=table.headers[key],
        expected=float(data.expected[key][index]),
        found=data.raw[key][index],
        formula=formula,
        diagnosis=diagnosis,
        row=row,
    )


def _incomplete(sheet: Sheet, table: Table) -> str | None:
    """Why a table cannot show backpropagation at work: one row only, or nothing computed."""
    computed = [
        c for k, c in table.columns.items() if k not in FIXED and k not in oracle.WEIGHTS and k != "iteration"
    ]
    filled = any(sheet.values.get((row, col)) not in (None, "") for row in table.rows for col in computed)
    if not filled:
        return "nothing is computed yet: the table holds its inputs and initial weights only"
    if len(table.rows) < 2:
        return "a single row: no weight update is ever computed"
    return None


_LOSS_KEYS = ("E1", "E2", "E_total")


def _loss_without_half(data: TableData, wrong_keys: list[str], tol: float) -> bool:
    """Every wrong column twice its value, the loss among them: E = (t − a)², gradients 2×."""
    if not wrong_keys or not set(wrong_keys) & set(_LOSS_KEYS):
        return False
    for key in wrong_keys:
        if key not in _LOSS_KEYS and not key.startswith("dE_d"):
            return False
        found, expected = data.found[key], data.expected[key]
        checkable = ~np.isnan(found) & ~np.isnan(expected)
        with np.errstate(all="ignore"):
            if not checkable.any() or np.any(relative_error(found[checkable], 2 * expected[checkable]) > tol):
                return False
    return True


# What a bug in the proof may raise on a book nobody foresaw; it must not cost the value check.
_PROOF_FAILURES = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    ArithmeticError,
    RecursionError,
    AttributeError,
)


def check_table(
    sheet: Sheet,
    table: Table,
    *,
    tol: float = DEFAULT_TOL,
    anchor: dict[str, float] | None = None,
    formula_of=None,
    known_etas: tuple[float, ...] = (),
    book: Book | None = None,
    header_cells: set | None = None,
    relabelled: bool = False,
) -> TableCheck:
    """Judge every cell of `table`; `anchor` holds the parameter block row 0 must equal (built books).

    formula_of(row, col) gives a cell's formula text for the report (default: this sheet's).
    `book` (the workbook as saved, with its formulas) adds the proof that each formula computes its
    quantity for any inputs (verify/proof.py), and identifies unlabelled columns by their formulas.
    """
    anchor = anchor or {}
    if not table.spare:  # else the formulas first say which shared-label column is which input
        _require_inputs(table)
    started = failed = None
    if book is not None:
        try:
            started = proof.start(book, table, header_cells or set(), identify=identify.identify_columns)
        except _PROOF_FAILURES as error:  # a book nobody foresaw: its values are still checked
            failed = error
    assign_spare(table, sheet)
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
        biases=data.biases,
    )
    fix = None
    proven = None
    if started is not None:
        reader, prover, proven = started
        try:
            proof.finish(reader, prover, proven, eta)
            failures = proven.failures if not relabelled else []
            swapped = identify.swapped_inputs(reader, prover, failures) if failures else None
        except _PROOF_FAILURES as error:
            failed, proven, swapped = error, None, None
        if swapped:  # labels swapped between input columns: read them as the formulas do, and again
            _read_swapped(sheet, table, swapped)
            return check_table(
                sheet,
                table,
                tol=tol,
                anchor=anchor,
                formula_of=formula_of,
                known_etas=known_etas,
                book=book,
                header_cells=header_cells,
                relabelled=True,
            )

        def fix(row, col, key, reader=reader, prover=prover):
            try:
                return diagnose_formula(reader, prover, row, col, key)
            except _PROOF_FAILURES:
                return None

    if failed is not None:
        result.unproven.append(
            Unproven(
                table.sheet,
                table.address,
                "the table",
                "unproven",
                None,
                None,
                f"the formula proof failed on '{table.sheet}'!{table.address} "
                f"({type(failed).__name__}: {failed}); values checked only: please report this file",
            )
        )

    wrong_keys = list(verdicts.wrong_keys)
    cells = sorted(verdicts.first_wrong_cells)
    by_key = {key: (index, order, key) for index, order, key in cells}
    findings = {
        key: _finding(sheet, data, cell, eta, tol, formula_of, known_etas, fix)
        for key, cell in by_key.items()
    }
    if proven is not None:
        _add_proof(result, proven, data, findings, by_key, wrong_keys, sheet, formula_of, fix)
    order = sorted(by_key.values())
    result.wrong_cells = [findings[key] for _, _, key in order]
    result.first_wrong = result.wrong_cells[0] if result.wrong_cells else None
    result.wrong_columns = [findings[k].label for _, _, k in order]
    result.verified = not result.wrong_cells and not result.unproven
    result.notes[:0] = table.notes
    result.incomplete = _incomplete(sheet, table)
    if _loss_without_half(data, wrong_keys, tol):
        result.network_difference = (
            "the loss without ½: E computed as (t − a)² and every gradient 2× the course's "
            "(right for that loss; sheetgen verifies E = ½(t − a)²)"
        )
    return result


def _read_swapped(sheet: Sheet, table: Table, swapped: dict[int, str]) -> None:
    """Give the input columns the quantities the formulas read them as, noting each label that differs."""
    for col, key in swapped.items():
        header = sheet.values.get((table.header_row, col))
        header = header.strip() if isinstance(header, str) else ""
        table.notes.append(
            f"column {address(table.header_row, col).rstrip('0123456789')} is headed {header!r}, but the "
            f"formulas reading it use it as {key}: read as {key}"
        )
    moved = {key: col for col, key in swapped.items()}
    for key in moved:
        table.columns.pop(key, None)
    table.columns.update(moved)
    table.headers.update({key: key for key in moved})


def _add_proof(result, proven, data, findings, by_key, wrong_keys, sheet, formula_of, fix) -> None:
    """Fold the proof into the value check: failing formulas are wrong cells, unproven ones noted."""
    table = data.table
    result.unproven = proven.unproven
    result.input_cells = proven.input_cells
    result.notes.extend(proven.notes)
    result.identified = proven.identified
    result.proven_forms = proven.forms
    result.unmapped = [
        f"'{table.sheet}'!{address(c.row, c.col)} ({table.headers.get(c.key, c.key)}): {c.outcome.detail}"
        for c in proven.unmapped
    ]
    for failure in proven.failures:
        key = failure.key
        if key in by_key and by_key[key][0] <= failure.index:
            continue  # its values already go wrong at or before this row
        if key not in table.columns:  # an intermediate column (δ_o1, ...): no value check of its own
            header = sheet.values.get((table.header_row, failure.col))
            label = header.strip() if isinstance(header, str) else label_of(f"{key}@0", table)
        else:
            label = table.headers[key]
        words = fix(failure.row, failure.col, key) if fix else None
        found = sheet.values.get((failure.row, failure.col))
        expected = _expected_at(data, key, failure.index)
        where = _where_it_differs(failure, data, key, found)
        by_key[key] = (failure.index, _ORDER.get(key, len(_ORDER)), key)
        if key not in wrong_keys:
            wrong_keys.append(key)
        findings[key] = Finding(
            sheet=table.sheet,
            address=address(failure.row, failure.col),
            key=key,
            label=label,
            expected=expected,
            found=found,
            formula=formula_of(failure.row, failure.col) if formula_of else failure.text,
            diagnosis=f"{words or 'no one-edit change makes the formula right'}; {where}",
            row=failure.row,
        )


def _expected_at(data: TableData, key: str, index: int) -> float:
    """What the cell ought to hold at the sheet's numbers, an intermediate (δ_o1, ...) included."""
    if key in data.expected:
        return float(data.expected[key][index])
    row = {name: values[index] for name, values in data.context.items()}
    try:
        return float(intermediates(row)[key])
    except KeyError:
        return math.nan


def _where_it_differs(failure, data: TableData, key: str, found) -> str:
    """Where a wrong formula shows: at the sheet's numbers when it does, else at a random world."""
    outcome = failure.outcome
    point = ", ".join(f"{name} = {value:.3g}" for name, value in outcome.point.items())
    elsewhere = f"with {point} it computes {outcome.computed:.6g} where {outcome.expected:.6g} is right"
    expected = _expected_at(data, key, failure.index)
    if (
        isinstance(found, float)
        and not math.isnan(expected)
        and abs(found - expected) <= 1e-9 * max(abs(expected), FLOOR)
    ):
        return f"at the sheet's numbers both are {expected:.6g}; {elsewhere}"
    return elsewhere
