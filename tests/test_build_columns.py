"""The column table's formula templates, evaluated in Python, against the oracle."""

from __future__ import annotations

import numpy as np
import pytest
from backprop_reference import agree, row_scales

from sheetgen.core import oracle
from sheetgen.core.columns import COLUMNS, compile_template

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
        weight_scales = None
        if not first_row:  # w − η·∂E/∂w cancels when the weight nears zero
            weight_scales = {
                w: abs(previous[w]) + abs(eta * previous[g])
                for w, g in zip(oracle.WEIGHTS, oracle.GRADIENTS, strict=True)
            }
        scales = row_scales({**inputs, **weights}, weight_scales)
        # The cells a template may read: this row's (filled in as we go), the row above's, the inputs', η.
        cells: dict[str, float] = {"eta": eta}
        cells |= {f"param:{key}": float(value) for key, value in params.items()}
        cells |= {f"prev:{key}": float(value) for key, value in previous.items()}
        row: dict[str, float] = {}
        for column in COLUMNS[1:]:
            template = column.formula if first_row or column.next_formula is None else column.next_formula
            row[column.key] = cells[column.key] = float(compile_template(template)(cells))
            assert agree(row[column.key], float(expected[column.key]), scales[column.key]), column.label
