"""The column table of any spec, computed as a sheet computes it, equals the oracle's table.

Each row's formulas are compiled by the one formula parser (core/formula.py) and evaluated in column
order, the first row reading the Inputs values and later rows the row above, exactly as the cells
do; online rows read their sample from the samples table (INDEX of the Sample column).
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from sheetgen.core import oracle
from sheetgen.core.columns import columns_for, compile_template, spec_columns
from sheetgen.core.spec import NetworkSpec, SpecError

_INDEX = re.compile(r"INDEX\(\{table:(\w+)\},\{sample\}\)")


def sheet_table(spec, params, eta, iterations):
    """Every column's values, row by row, computed from the formulas."""
    columns = spec_columns(spec)
    env_params = {f"param:{k}": v for k, v in params.items()}
    if spec.samples is not None:
        for s, (x, t) in enumerate(spec.samples, start=1):
            env_params |= {
                f"param:{n}_s{s}": v for n, v in zip(spec.inputs + spec.targets, x + t, strict=True)
            }
    rows = []
    for n in range(iterations + 1):
        env = {"eta": eta} | env_params
        if rows:
            env |= {f"prev:{k}": v for k, v in rows[-1].items()}
        row = {}
        for c in columns:
            template = c.next_formula if (rows and c.next_formula) else c.formula
            if template is None:
                value = float(n)
            elif match := _INDEX.fullmatch(template):
                x, t = spec.samples[int(row["sample"]) - 1]
                value = dict(zip(spec.inputs + spec.targets, x + t, strict=True))[match.group(1)]
            else:
                value = float(compile_template(template)(env))
            row[c.key] = env[c.key] = value
        rows.append(row)
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


def _cases():
    rng = np.random.default_rng(7)
    grid = itertools.product(
        [(1, 1, 1), (2, 1), (2, 2, 1), (2, 3, 2), (3, 4, 3), (2, 3, 3, 2)],
        ("sigmoid", "tanh", "relu", "linear"),
        [
            ("sigmoid", "half-squared"),
            ("sigmoid", "cross-entropy"),
            ("linear", "squared"),
            ("softmax", "cross-entropy"),
        ],
        [("none", "layer"), ("trained", "layer"), ("trained", "unit"), ("fixed", "unit")],
        [(False, "full"), (True, "full"), (True, "online")],
    )
    for sizes, act, (out, loss), (biases, per), (with_samples, batch) in grid:
        if rng.uniform() > 0.25:  # a quarter of the grid, the same quarter every run
            continue
        samples = None
        if with_samples:
            samples = tuple(
                (tuple(rng.uniform(-1, 1, sizes[0]).round(3)), tuple(rng.uniform(0, 1, sizes[-1]).round(3)))
                for _ in range(3)
            )
        try:
            spec = NetworkSpec(sizes, act, out, loss, biases, per, samples, batch)
        except SpecError:
            continue
        params = {w: float(rng.uniform(-1, 1)) for w in spec.weights + spec.bias_names}
        params |= {i: float(rng.uniform(-1, 1)) for i in spec.inputs} | {t: 0.3 for t in spec.targets}
        yield spec, params


CASES = list(_cases())


@pytest.mark.parametrize("spec,params", CASES, ids=[s.describe() for s, _ in CASES])
def test_formulas_compute_the_oracle(spec, params):
    expected = oracle.train_spec(spec, params, 0.3, 3)
    got = sheet_table(spec, params, 0.3, 3)
    assert set(got) <= set(expected)
    for key, values in got.items():
        scale = max(1.0, float(np.abs(expected[key]).max()))
        assert np.abs(values - expected[key]).max() <= 1e-12 * scale, key


def test_course_tables_are_the_default_specs():
    for biases in ("none", "fixed", "trained"):
        assert columns_for(biases) == spec_columns(NetworkSpec(biases=biases))
    labels = [c.label for c in columns_for("none")]
    assert labels[:9] == ["Iteration", "t1", "t2", "i1", "i2", "w1", "w2", "w3", "w4"]
    assert labels[-8:] == [f"∂E/∂w{k}" for k in range(1, 9)]


def test_a_second_hidden_layer_and_samples_get_delta_columns():
    spec = NetworkSpec((2, 3, 3, 2), samples=(((0, 1), (1, 0)), ((1, 0), (0, 1))))
    keys = [c.key for c in spec_columns(spec)]
    assert "delta_g3_s2" in keys and "delta_h1_s1" in keys and "a_g1_s1" in keys
    grad = next(c for c in spec_columns(spec) if c.key == "dE_dw1")
    assert grad.formula == "({delta_h1_s1}*{i1_s1}+{delta_h1_s2}*{i1_s2})/2"
