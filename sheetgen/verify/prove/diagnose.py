"""Explain a wrong cell: by the known mistake that reproduces its value, else by its formula.

Two layers. A cell whose value is wrong is first explained by values (below); when no known
mistake reproduces the value, or the cell is wrong only away from the sheet's numbers (the proof
found it), diagnose_formula names the smallest edit that makes its formula right (fixes.py).

Each candidate mistake is an alternative computation of the cell from the same row's cells
(the sheet's own values): the column's equation with one quantity read in place of another
(a_h1 for a_h2, w5/w7 for w6/w8, a_o1 for a_o2, ...), with a reference into the row above or
below, another column's value, the update with the wrong sign or another η, the opposite sign
or a factor of two. A candidate explains the cell when its value matches the value found
(within the check's tolerance) and differs from the right value: values decide.

Several candidates can match the same number (with t1 = t2, "E2 computed from a_o1" and "E2
holds E1" are one value), so the formula text breaks ties: a candidate whose cell references
appear in the formula (or, for "holds another column", a formula that is just a reference to
that column, or a typed value) is preferred over one the formula contradicts.
"""

from __future__ import annotations

import math

import numpy as np

from sheetgen.core import columns, formula, oracle
from sheetgen.core.columns import columns_for
from sheetgen.core.tolerance import close
from sheetgen.core.xlsx import address
from sheetgen.verify.read.dataflow import TableData, dependencies_for, equations_for
from sheetgen.verify.read.tables import UPDATED


def _columns(biases: str) -> dict:
    """The column table of the network variant a table is checked against, by key."""
    return {column.key: column for column in columns_for(biases)}


# Quantities that are easily confused with each other.
_FAMILIES = (
    oracle.WEIGHTS,
    ("h1", "h2"),
    ("a_h1", "a_h2"),
    ("o1", "o2"),
    ("a_o1", "a_o2"),
    ("t1", "t2"),
    ("i1", "i2"),
    ("E1", "E2"),
    ("h1", "a_h1"),
    ("h2", "a_h2"),
    ("o1", "a_o1"),
    ("o2", "a_o2"),
    oracle.BIASES,
)
_OUTPUT_WEIGHT_SWAPS = ({"w5": "w6", "w7": "w8"}, {"w6": "w5", "w8": "w7"})
_DERIVATIVE = {k: f"{k}·(1−{k})" for k in ("a_h1", "a_h2", "a_o1", "a_o2")}
# Factors of each gradient that a chain rule written out by hand may lose.
_FACTORS = {  # key -> ((quantity, True: its derivative q·(1−q) / False: q itself), ...)
    **{f"dE_dw{k}": (("a_h1", True), ("i1" if k == 1 else "i2", False)) for k in (1, 2)},
    **{f"dE_dw{k}": (("a_h2", True), ("i1" if k == 3 else "i2", False)) for k in (3, 4)},
    **{f"dE_dw{k}": (("a_o1", True), ("a_h1" if k == 5 else "a_h2", False)) for k in (5, 6)},
    **{f"dE_dw{k}": (("a_o2", True), ("a_h1" if k == 7 else "a_h2", False)) for k in (7, 8)},
}


def _confusable(key: str) -> list[str]:
    return [other for family in _FAMILIES if key in family for other in family if other != key]


def _row(data: TableData, index: int) -> dict[str, float]:
    return {key: float(values[index]) for key, values in data.context.items()}


def _cells_read(text: str | None) -> set[str]:
    """The addresses ('B6') of the cells of its own sheet a formula reads; empty when it cannot be read."""
    if not text:
        return set()
    try:
        refs = formula.references(formula.parse(text))
    except (formula.FormulaError, formula.Unsupported):
        return set()
    return {address(ref.row, ref.col) for ref in refs if ref.sheet is None}


class _Evidence:
    """What the formula text should show if a candidate is the mistake made."""

    def __init__(self, data: TableData, formula: str | None):
        self.data = data
        self.formula = formula
        self.refs = _cells_read(formula)

    def cell(self, key: str, index: int) -> str | None:
        table = self.data.table
        if key not in table.columns or not 0 <= index < len(table.rows):
            return None
        return address(table.rows[index], table.columns[key])

    def score(self, evidence) -> int:
        """2 the formula supports the candidate, 1 it cannot tell, 0 it contradicts it."""
        if evidence is None:
            return 1
        kind, wanted, unwanted = evidence
        if kind == "plain":  # the whole value is another cell's: a reference to it, or a typed number
            target = self.cell(*wanted)
            if self.formula is None:
                return 2
            if target is None:
                return 1
            return 2 if self.refs == {target} else 0
        needed = [self.cell(k, i) for k, i in wanted]
        avoided = [self.cell(k, i) for k, i in unwanted]
        if self.formula is None or any(c is None for c in needed):
            return 1
        if all(c in self.refs for c in needed) and not any(c in self.refs for c in avoided if c):
            return 2
        return 0


def _candidates(data: TableData, key: str, index: int, eta: float | None, known_etas):
    """(description, value, evidence) for the mistakes that could have produced the cell at `index`."""
    if key.startswith(UPDATED):
        if eta is not None:
            yield from _update_candidates(
                data, key.removeprefix(UPDATED), index, eta, known_etas, same_row=True
            )
        return
    yield from _copied_candidates(data, key, index)
    updated, _ = oracle.free_values(data.biases)
    if key in updated and index > 0 and eta is not None:
        yield from _update_candidates(data, key, index, eta, known_etas)
        return
    if key in oracle.BIASES and index > 0 and eta is not None:
        yield from _fixed_bias_updated(data, key, index, eta)
    equation = equations_for(data.biases).get(key)
    if equation is None:
        return
    uses = {name for kind, name in columns.placeholders(_columns(data.biases)[key].formula) if kind is None}
    yield from _bias_left_out(data, key, index, equation, uses)
    yield from _confusion_candidates(data, key, index, equation, uses)
    yield from _neighbour_row_candidates(data, index, equation, uses)
    yield from _arithmetic_candidates(data, key, index)


def _copied_candidates(data: TableData, key: str, index: int):
    """The whole value is another cell's: another quantity of the row, or this one of the row above/below."""
    ctx, rows, n = data.context, data.table.rows, len(data.table.rows)
    here = _row(data, index)
    for other in ctx:
        if other != key and other not in oracle.INPUTS:
            yield (
                f"holds {data.table.label(other)}'s value: overwritten by another quantity",
                here[other],
                ("plain", (other, index), ()),
            )
    for shift, where in ((-1, "above"), (1, "below")):
        if 0 <= index + shift < n:
            what = (
                "is not updated: it repeats the row above"
                if key in oracle.WEIGHTS and shift == -1
                else f"holds {data.table.label(key)} of the row {where} (row {rows[index + shift]}): "
                "a reference to the wrong row"
            )
            yield what, float(ctx[key][index + shift]), ("plain", (key, index + shift), ())


def _confusion_candidates(data: TableData, key: str, index: int, equation, uses: set[str]):
    """The column's equation with one quantity read in place of a similar one (a_h1 for a_h2, ...)."""
    here = _row(data, index)
    for swap in _OUTPUT_WEIGHT_SWAPS:
        if set(swap) <= uses:
            wrong, right = "/".join(swap.values()), "/".join(swap)
            yield (
                f"uses the wrong output weights: {wrong} in place of {right}",
                equation(here | {old: here[new] for old, new in swap.items()}),
                ("refs", [(new, index) for new in swap.values()], [(old, index) for old in swap]),
            )
    for used in sorted(uses):
        for other in _confusable(used):
            value = equation(here | {used: here[other]})
            evidence = ("refs", [(other, index)], [(used, index)])
            if key.startswith("dE_dw") and used in _DERIVATIVE and other in _DERIVATIVE:
                yield f"uses {_DERIVATIVE[other]} in place of {_DERIVATIVE[used]}", value, evidence
            else:
                yield (
                    f"uses {data.table.label(other)} in place of {data.table.label(used)}",
                    value,
                    evidence,
                )


def _neighbour_row_candidates(data: TableData, index: int, equation, uses: set[str]):
    """The column's equation reading some of its inputs from the row above or below."""
    rows, n = data.table.rows, len(data.table.rows)
    here = _row(data, index)
    for shift, where in ((-1, "above"), (1, "below")):
        if not 0 <= index + shift < n:
            continue
        there = _row(data, index + shift)
        for used in sorted(uses):
            yield (
                f"reads {data.table.label(used)} from the row {where} (row {rows[index + shift]}) "
                "instead of its own row",
                equation(here | {used: there[used]}),
                ("refs", [(used, index + shift)], [(used, index)]),
            )
        weights = sorted(uses & set(oracle.WEIGHTS))
        if len(weights) > 1:  # e.g. the hidden gradients computed with the already updated w5..w8
            yield (
                f"uses the weights {'/'.join(weights)} of the row {where} (row {rows[index + shift]}): "
                + ("the updated weights" if shift == 1 else "the previous weights"),
                equation(here | {w: there[w] for w in weights}),
                ("refs", [(w, index + shift) for w in weights], []),
            )


def _bias_left_out(data: TableData, key: str, index: int, equation, uses):
    """A sum (h1, h2, o1, o2) computed without its bias: the network's b read as 0."""
    here = _row(data, index)
    for bias in sorted(uses & set(oracle.BIASES)):
        yield (
            f"leaves out the bias {data.table.label(bias)} (computed as if the network had none)",
            equation(here | {bias: 0.0}),
            ("refs", [], [(bias, index)]),
        )


def _fixed_bias_updated(data: TableData, key: str, index: int, eta: float):
    """A bias the sheet holds fixed (no ∂E/∂b column) that was updated all the same."""
    gradient = "dE_d" + key
    above = _row(data, index - 1)
    slope = float(equations_for("trained")[gradient](above))
    yield (
        f"is updated ({key} − η·∂E/∂{key}) although this sheet holds its biases fixed "
        f"(it has no ∂E/∂{key} column): {key} should stay {above[key]:.9g}",
        above[key] - eta * slope,
        None,
    )


def _arithmetic_candidates(data: TableData, key: str, index: int):
    """The right value bent by a slip of algebra: σ(−x), a lost chain-rule factor, a sign, a ½."""
    here = _row(data, index)
    right = float(data.expected[key][index])
    if key in _DERIVATIVE:  # an activation: σ(−x) = 1 − σ(x)
        net = key.removeprefix("a_")
        yield (
            f"is 1 − the right value: σ(−{net}) computed (the minus in EXP(−{net}) missing?)",
            1 - right,
            None,
        )
    for factor, derivative in _FACTORS.get(key, ()):
        size = here[factor] * (1 - here[factor]) if derivative else here[factor]
        what = _DERIVATIVE[factor] if derivative else data.table.label(factor)
        if size:
            yield f"is missing the factor {what}", right / size, None
    sign = "has the wrong sign (t − a instead of a − t?)" if key.startswith("dE_dw") else "has the wrong sign"
    yield sign, -right, None
    yield "is twice the right value (the ½ missing?)", 2 * right, None
    yield "is half the right value", right / 2, None


def _update_candidates(data: TableData, key: str, index: int, eta: float, known_etas, same_row: bool = False):
    """Mistakes in w − η·∂E/∂w: for a weight, from the row above; for an updated-weight column, its row."""
    ctx = data.context
    source = index if same_row else index - 1
    shown = UPDATED + key if same_row else key
    updated, gradients = oracle.free_values(data.biases)
    grad = dict(zip(updated, gradients, strict=True))[key]
    before, slope = float(ctx[key][source]), float(ctx[grad][source])
    yield (
        f"adds η·{data.table.label(grad)} instead of subtracting it (update with the wrong sign)",
        before + eta * slope,
        None,
    )
    for other in gradients:
        if other != grad:
            yield (
                f"is updated with {data.table.label(other)} in place of {data.table.label(grad)}",
                before - eta * float(ctx[other][source]),
                ("refs", [(other, source)], [(grad, source)]),
            )
    if source > 0:
        yield (
            f"is updated with {data.table.label(grad)} of the row above its weight: "
            "a reference to the wrong row",
            before - eta * float(ctx[grad][source - 1]),
            ("refs", [(grad, source - 1)], []),
        )
    found = data.found[shown][index]
    if slope and not math.isnan(found):
        used = (before - found) / slope
        nice = float(f"{used:.3g}")
        plausible = any(abs(used - k) <= 1e-9 * abs(k) for k in known_etas) or abs(used - nice) <= 1e-9 * abs(
            nice
        )
        if plausible and used > 0 and abs(used - eta) > 1e-9 * eta:
            yield f"update uses η = {nice:g}, not the table's η = {eta:g}", before - nice * slope, None


def _dependents(key: str, biases: str = "none") -> list[str]:
    """The quantities of a row computed, directly or not, from `key` in the same row."""
    found: list[str] = []
    for other, (same_row, _) in dependencies_for(biases).items():  # in column order: one pass suffices
        if key in same_row or any(d in found for d in same_row):
            found.append(other)
    return found


def _circular(data: TableData, key: str, index: int, formula: str | None) -> str | None:
    """A cell that reads, in its own row, a quantity computed from it: a circular reference."""
    if not formula:
        return None
    evidence = _Evidence(data, formula)
    for other in _dependents(key, data.biases):
        cell = evidence.cell(other, index)
        if cell and cell in evidence.refs:
            return (
                f"reads {data.table.label(other)} of its own row ({cell}), which is computed from this cell: "
                "a circular reference (the row above was meant?)"
            )
    return None


def diagnose(
    data: TableData, key: str, index: int, eta: float | None, tol: float, formula: str | None, known_etas=()
) -> str | None:
    """A one-line explanation of the wrong cell (key, row index), or None when no known mistake fits."""
    raw = data.raw[key][index]
    if isinstance(raw, bool) or (isinstance(raw, str) and raw != ""):
        circular = _circular(data, key, index, formula)
        if circular:
            return circular
        shown = str(raw).upper() if isinstance(raw, bool) else raw
        return f"the cell shows {shown!s} instead of a number" + (
            " (an error in its formula)" if formula else ""
        )
    found = data.found[key][index]
    right = float(data.expected[key][index])
    if math.isnan(found) or math.isnan(right):
        return None
    evidence = _Evidence(data, formula)
    best, best_score = None, -1
    with np.errstate(all="ignore"):
        for description, value, support in _candidates(data, key, index, eta, known_etas):
            value = float(value)
            if math.isfinite(value) and close(found, value, tol) and not close(value, right, tol):
                score = evidence.score(support)
                if score > best_score:
                    best, best_score = description, score
                if score == 2:
                    break
    return best


def diagnose_formula(reader, prover, row: int, col: int, key: str) -> str | None:
    """The smallest edit that makes the formula in (row, col) compute `key`, in words (verify/fixes.py)."""
    from sheetgen.verify.prove.fixes import smallest_fix
    from sheetgen.verify.prove.forms import Unmapped

    index = reader.index.get(row)
    try:
        tree = reader.form(row, col)
    except (Unmapped, formula.FormulaError, formula.Unsupported):
        return None
    return smallest_fix(prover, tree, key, index == 0, reader.table)
