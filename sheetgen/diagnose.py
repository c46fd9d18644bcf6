"""Explain a wrong cell by the known mistake that reproduces its value.

Each candidate mistake is an alternative computation of the cell from the same row's cells
(the sheet's own values): the column's equation with one quantity read in place of another
(a_h1 for a_h2, w5/w7 for w6/w8, a_o1 for a_o2, ...), with a reference into the row above or
below, another column's value, the update with the wrong sign or another η, the opposite sign
or a factor of two. The first candidate whose value matches the value found (within the
check's tolerance, and different from the right value) is the diagnosis. The formula text is
never parsed: values decide, so the diagnosis holds for any way of writing the formula.
"""

from __future__ import annotations

import math

import numpy as np

from sheetgen import columns, oracle
from sheetgen.checks import EQUATIONS, TableData, close
from sheetgen.columns import BY_KEY

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
)
_OUTPUT_WEIGHT_SWAPS = ({"w5": "w6", "w7": "w8"}, {"w6": "w5", "w8": "w7"})
_DERIVATIVE = {
    "a_h1": "a_h1·(1−a_h1)",
    "a_h2": "a_h2·(1−a_h2)",
    "a_o1": "a_o1·(1−a_o1)",
    "a_o2": "a_o2·(1−a_o2)",
}


def _confusable(key: str) -> list[str]:
    return [other for family in _FAMILIES if key in family for other in family if other != key]


def _label(data: TableData, key: str) -> str:
    return data.table.headers.get(key, BY_KEY[key].label)


def _row(data: TableData, index: int) -> dict[str, float]:
    return {key: float(values[index]) for key, values in data.context.items()}


def _candidates(data: TableData, key: str, index: int, eta: float | None, known_etas):
    """(description, value) pairs for the mistakes that could have produced the cell at `index`."""
    ctx, n = data.context, len(data.table.rows)
    rows = data.table.rows
    here = _row(data, index)
    label = _label(data, key)
    for other in data.context:
        if other != key and other not in oracle.INPUTS:
            yield f"holds {_label(data, other)}'s value: overwritten by another quantity", here[other]
    for shift, where in ((-1, "above"), (1, "below")):
        if 0 <= index + shift < n:
            yield (
                f"holds {label} of the row {where} (row {rows[index + shift]}): a reference to the wrong row",
                float(ctx[key][index + shift]),
            )
    if key in oracle.WEIGHTS and index > 0 and eta is not None:
        yield from _update_candidates(data, key, index, eta, known_etas)
        return
    equation = EQUATIONS.get(key)
    if equation is None:
        return
    uses = {name for kind, name in columns.placeholders(BY_KEY[key].formula) if kind is None}
    for swap in _OUTPUT_WEIGHT_SWAPS:
        if set(swap) <= uses:
            wrong, right = "/".join(swap.values()), "/".join(swap)
            yield (
                f"uses the wrong output weights: {wrong} in place of {right}",
                equation(here | {old: here[new] for old, new in swap.items()}),
            )
    for used in sorted(uses):
        for other in _confusable(used):
            value = equation(here | {used: here[other]})
            if key.startswith("dE_dw") and used in _DERIVATIVE and other in _DERIVATIVE:
                yield f"uses {_DERIVATIVE[other]} in place of {_DERIVATIVE[used]}", value
            else:
                yield f"uses {_label(data, other)} in place of {_label(data, used)}", value
    for shift, where in ((-1, "above"), (1, "below")):
        if 0 <= index + shift < n:
            there = _row(data, index + shift)
            for used in sorted(uses):
                yield (
                    f"reads {_label(data, used)} from the row {where} (row {rows[index + shift]}): "
                    "a reference to the wrong row",
                    equation(here | {used: there[used]}),
                )
    right = float(data.expected[key][index])
    yield (
        "has the wrong sign (t − a instead of a − t?)" if key.startswith("dE_dw") else "has the wrong sign",
        -right,
    )
    yield "is twice the right value (the ½ missing?)", 2 * right
    yield "is half the right value", right / 2


def _update_candidates(data: TableData, key: str, index: int, eta: float, known_etas):
    ctx = data.context
    grad = "dE_dw" + key[1:]
    before, slope = float(ctx[key][index - 1]), float(ctx[grad][index - 1])
    yield (
        f"adds η·{_label(data, grad)} instead of subtracting it (update with the wrong sign)",
        before + eta * slope,
    )
    for other in oracle.GRADIENTS:
        if other != grad:
            yield (
                f"is updated with {_label(data, other)} in place of {_label(data, grad)}",
                before - eta * float(ctx[other][index - 1]),
            )
    if index > 1:
        yield (
            f"is updated with {_label(data, grad)} from two rows above: a reference to the wrong row",
            before - eta * float(ctx[grad][index - 2]),
        )
    found = data.found[key][index]
    if slope and not math.isnan(found):
        used = (before - found) / slope
        nice = float(f"{used:.3g}")
        plausible = any(abs(used - k) <= 1e-9 * abs(k) for k in known_etas) or abs(used - nice) <= 1e-9 * abs(
            nice
        )
        if plausible and used > 0 and abs(used - eta) > 1e-9 * eta:
            yield f"update uses η = {nice:g}, not the table's η = {eta:g}", before - nice * slope


def diagnose(
    data: TableData, key: str, index: int, eta: float | None, tol: float, formula: str | None, known_etas=()
) -> str | None:
    """A one-line explanation of the wrong cell (key, row index), or None when no known mistake fits."""
    raw = data.raw[key][index]
    if isinstance(raw, bool) or (isinstance(raw, str) and raw != ""):
        shown = str(raw).upper() if isinstance(raw, bool) else raw
        return f"the cell shows {shown!s} instead of a number" + (
            " (an error in its formula)" if formula else ""
        )
    found = data.found[key][index]
    right = float(data.expected[key][index])
    if math.isnan(found) or math.isnan(right):
        return None
    with np.errstate(all="ignore"):
        for description, value in _candidates(data, key, index, eta, known_etas):
            value = float(value)
            if math.isfinite(value) and close(found, value, tol) and not close(value, right, tol):
                return description
    return None
