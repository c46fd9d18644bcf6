"""The column table's formula templates, evaluated in Python, against the oracle."""

from __future__ import annotations

import numpy as np
import pytest
from backprop_reference import relative_error

from sheetgen.core import oracle
from sheetgen.core.columns import COLUMNS, evaluate_template

RNG = np.random.default_rng(7)


def _random_rows(n):
    for _ in range(n):
        inputs = dict(zip(("i1", "i2", "t1", "t2"), RNG.uniform([-2, -2, 0, 0], [2, 2, 1, 1]), strict=True))
        previous = oracle.evaluate(**inputs, **dict(zip(oracle.WEIGHTS, RNG.uniform(-3, 3, 8), strict=True)))
        yield inputs, previous, float(RNG.uniform(0.01, 3))


@pytest.mark.parametrize("inputs, previous, eta", list(_random_rows(100)))
def test_every_template_equals_the_oracle(inputs, previous, eta):
    """Build one row from the templates: first-row weights from the inputs, later ones from the row above."""
    for first_row in (True, False):
        params = {**inputs, **{w: float(RNG.uniform(-3, 3)) for w in oracle.WEIGHTS}}
        weights = params if first_row else oracle.step(previous, eta)
        expected = oracle.evaluate(**inputs, **{w: weights[w] for w in oracle.WEIGHTS})
        row: dict[str, float] = {}

        def resolve(kind, key, row=row, params=params):
            if key == "eta":
                return eta
            return {"param": params, "prev": previous}.get(kind, row)[key]

        for column in COLUMNS[1:]:
            template = column.formula if first_row or column.next_formula is None else column.next_formula
            row[column.key] = evaluate_template(template, resolve)
            assert relative_error(row[column.key], float(expected[column.key])) < 1e-12, column.label
