"""A table's cells as arrays, and how each quantity of a row is computed from the others.

Both the checker (checks.py) and the diagnosis of a wrong cell (diagnose.py) read a table through
this module: EQUATIONS compute a quantity from the same row's cells, DEPENDENCIES say which cells
(of the same row, of the row above) each quantity reads. Both come from the column table's
formula templates, compiled by sheetgen.core.columns.compile_template.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sheetgen.core import columns, oracle
from sheetgen.core.columns import COLUMNS
from sheetgen.core.xlsx import Sheet
from sheetgen.verify.tables import UPDATED, Table

FIXED = oracle.INPUTS  # i1, i2, t1, t2: the same in every row

# The quantities computed within a row (everything but the iteration, inputs and weights).
EQUATIONS = {
    c.key: columns.compile_template(c.formula)
    for c in COLUMNS
    if c.formula and c.key not in FIXED and c.key not in oracle.WEIGHTS
}


def _dependencies() -> dict[str, tuple[list[str], list[str]]]:
    """key -> (same-row keys it reads, row-above keys it reads), from the column table."""
    deps: dict[str, tuple[list[str], list[str]]] = {}
    for column in COLUMNS:
        if column.key in FIXED:
            deps[column.key] = ([], [column.key])
        elif column.key in oracle.WEIGHTS:
            deps[column.key] = ([], [column.key, "dE_dw" + column.key[1:]])
        elif column.key in EQUATIONS:
            deps[column.key] = ([k for kind, k in columns.placeholders(column.formula) if kind is None], [])
    for w, g in zip(oracle.WEIGHTS, oracle.GRADIENTS, strict=True):
        deps[UPDATED + w] = ([w, g], [])
    return deps


DEPENDENCIES = _dependencies()


@dataclass
class TableData:
    """A table's cells as arrays: raw values, numbers (NaN for anything else) and the context."""

    table: Table
    raw: dict[str, list]
    found: dict[str, np.ndarray]
    context: dict[str, np.ndarray] = field(default_factory=dict)
    expected: dict[str, np.ndarray] = field(default_factory=dict)


def read_table(sheet: Sheet, table: Table) -> TableData:
    raw, found = {}, {}
    for key, col in table.columns.items():
        column = [sheet.values.get((row, col)) for row in table.rows]
        raw[key] = column
        found[key] = np.array([v if isinstance(v, float) else math.nan for v in column], dtype=np.float64)
    return TableData(table, raw, found)
