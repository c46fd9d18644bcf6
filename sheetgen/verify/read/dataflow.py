"""A table's cells as arrays, and how each quantity of a row is computed from the others.

Both the checker (checks.py) and the diagnosis of a wrong cell (diagnose.py) read a table through
this module: EQUATIONS compute a quantity from the same row's cells, DEPENDENCIES say which cells
(of the same row, of the row above) each quantity reads. Both come from the column table's
formula templates, compiled by sheetgen.core.columns.compile_template.

A table's network variant (biases none / fixed / trained, see network_biases) picks its column
table: h1 adds b1 when the table has a bias; trained biases are updated like weights, fixed ones
stay as the row above has them. EQUATIONS and DEPENDENCIES are those of the course's network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from sheetgen.core import columns, oracle
from sheetgen.core.columns import columns_for
from sheetgen.core.xlsx import Sheet
from sheetgen.verify.read.tables import UPDATED, Table

FIXED = oracle.INPUTS  # i1, i2, t1, t2: the same in every row


def held(biases: str) -> tuple[str, ...]:
    """The row-independent values of a variant: the inputs, and biases held fixed."""
    return FIXED + (oracle.BIASES if biases == "fixed" else ())


@cache
def equations_for(biases: str) -> dict:
    """The quantities computed within a row (everything but the iteration, inputs, weights, biases)."""
    updated, _ = oracle.free_values(biases)
    return {
        c.key: columns.compile_template(c.formula)
        for c in columns_for(biases)
        if c.formula and c.key not in held(biases) and c.key not in updated
    }


@cache
def dependencies_for(biases: str) -> dict[str, tuple[list[str], list[str]]]:
    """key -> (same-row keys it reads, row-above keys it reads), from the variant's column table."""
    updated, gradients = oracle.free_values(biases)
    gradient_of = dict(zip(updated, gradients, strict=True))
    equations = equations_for(biases)
    deps: dict[str, tuple[list[str], list[str]]] = {}
    for column in columns_for(biases):
        if column.key in held(biases):
            deps[column.key] = ([], [column.key])
        elif column.key in gradient_of:
            deps[column.key] = ([], [column.key, gradient_of[column.key]])
        elif column.key in equations:
            deps[column.key] = ([k for kind, k in columns.placeholders(column.formula) if kind is None], [])
    for w, g in gradient_of.items():
        deps[UPDATED + w] = ([w, g], [])
    return deps


# The course's network (no biases).
EQUATIONS = equations_for("none")
DEPENDENCIES = dependencies_for("none")


def network_biases(table: Table) -> str:
    """A table's bias mode: "none" without b1/b2 (columns or labelled cells), "trained" with a ∂E/∂b
    column, else "fixed" (the rule the proof's network_of follows too)."""
    present = set(table.columns) | set(table.params)
    if not present & set(oracle.BIASES):
        return "none"
    return "trained" if present & set(oracle.BIAS_GRADIENTS) else "fixed"


@dataclass
class TableData:
    """A table's cells as arrays: raw values, numbers (NaN for anything else) and the context."""

    table: Table
    raw: dict[str, list]
    found: dict[str, np.ndarray]
    context: dict[str, np.ndarray] = field(default_factory=dict)
    expected: dict[str, np.ndarray] = field(default_factory=dict)
    biases: str = "none"  # the table's network variant (network_biases)


def read_table(sheet: Sheet, table: Table) -> TableData:
    raw, found = {}, {}
    for key, col in table.columns.items():
        column = [sheet.values.get((row, col)) for row in table.rows]
        raw[key] = column
        found[key] = np.array([v if isinstance(v, float) else math.nan for v in column], dtype=np.float64)
    return TableData(table, raw, found, biases=network_biases(table))
