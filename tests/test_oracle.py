"""The numpy oracle against torch autograd and against the matrix form of backpropagation."""

from __future__ import annotations

import numpy as np
import pytest
from backprop_reference import (
    agree,
    matrix_row,
    matrix_train,
    relative_error,
    row_scales,
    torch_loss_and_gradients,
    torch_train,
    train_scales,
)

from sheetgen.build.params import load_template
from sheetgen.core import oracle

RNG = np.random.default_rng(20261122)


def _random_points(n: int):
    """Inputs in [-2, 2], targets in [0, 1], weights in [-3, 3]: well beyond the course's values."""
    for _ in range(n):
        i1, i2 = RNG.uniform(-2, 2, 2)
        t1, t2 = RNG.uniform(0, 1, 2)
        yield float(i1), float(i2), float(t1), float(t2), [float(w) for w in RNG.uniform(-3, 3, 8)]


@pytest.mark.parametrize("point", list(_random_points(300)))
def test_all_eight_gradients_equal_torch_autograd(point):
    i1, i2, t1, t2, weights = point
    row = oracle.evaluate(i1, i2, t1, t2, *weights)
    loss, grads = torch_loss_and_gradients(i1, i2, t1, t2, weights)
    scales = row_scales(matrix_row(i1, i2, t1, t2, *weights))
    assert agree(row["E_total"], loss, scales["E_total"])
    for k, expected in enumerate(grads, start=1):
        assert agree(row[f"dE_dw{k}"], expected, scales[f"dE_dw{k}"]), f"dE/dw{k}"


def test_the_common_w3_w4_mistake_is_caught():
    """Hand-made sheets often use a_h1·(1 − a_h1) in ∂E/∂w3, ∂E/∂w4; torch must disagree with that."""
    _, params = load_template("era-v1")
    row = oracle.evaluate(**params)
    _, grads = torch_loss_and_gradients(
        params["i1"], params["i2"], params["t1"], params["t2"], [params[f"w{k}"] for k in range(1, 9)]
    )
    wrong_w3 = row["dE_dw3"] / (row["a_h2"] * (1 - row["a_h2"])) * row["a_h1"] * (1 - row["a_h1"])
    assert relative_error(wrong_w3, grads[2]) > 1e-6
    assert agree(row["dE_dw3"], grads[2], row_scales(params)["dE_dw3"])


def test_evaluate_on_arrays_equals_evaluate_on_each_row():
    points = list(_random_points(50))
    columns = [
        np.array(values)
        for values in zip(*[(i1, i2, t1, t2, *w) for i1, i2, t1, t2, w in points], strict=True)
    ]
    table = oracle.evaluate(*columns)
    for n, (i1, i2, t1, t2, weights) in enumerate(points):
        row = oracle.evaluate(i1, i2, t1, t2, *weights)
        for key, value in row.items():
            assert table[key][n] == value, key


@pytest.mark.parametrize("template", ["era-v1", "eva8"])
@pytest.mark.parametrize("eta", [0.1, 2.0])
def test_train_equals_torch_gradient_descent(template, eta):
    _, params = load_template(template)
    table = oracle.train(params, eta, 200)
    scales = train_scales(matrix_train(params, eta, 200), eta)
    for row in torch_train(params, eta, 200):
        n = row["iteration"]
        assert table["iteration"][n] == n
        for key in ("E_total", *oracle.WEIGHTS, *oracle.GRADIENTS):
            assert agree(table[key][n], row[key], scales[n][key]), (n, key, table[key][n], row[key])


@pytest.mark.parametrize("ulps", [-2, 1, 3])
def test_a_sigmoid_off_in_its_last_bits_still_agrees_near_convergence(monkeypatch, ulps):
    """exp differs by an ulp between CPUs (AVX2 vs AVX-512 libm paths); late in training ½(t − a)² is then
    off by 1e-11 relatively, which a fixed relative 1e-12 called a failure. The conditioned rule must not."""
    exact = oracle.sigmoid

    def off_by_ulps(x):
        value = exact(x)
        for _ in range(abs(ulps)):
            value = np.nextafter(value, np.inf if ulps > 0 else -np.inf)
        return value

    monkeypatch.setattr(oracle, "sigmoid", off_by_ulps)
    _, params = load_template("era-v1")
    table = oracle.train(params, 2.0, 200)
    assert table["E_total"][-1] < 1e-9  # converged: the loss is a cancelled difference squared
    scales = train_scales(matrix_train(params, 2.0, 200), 2.0)
    for row in torch_train(params, 2.0, 200):
        n = row["iteration"]
        for key in ("E_total", *oracle.WEIGHTS, *oracle.GRADIENTS):
            assert agree(table[key][n], row[key], scales[n][key]), (n, key)


def test_the_conditioned_rule_still_catches_a_wrong_value():
    """A relative 1e-9 slip in a_o1, far below any fixed tolerance a spreadsheet checker would show, fails."""
    _, params = load_template("era-v1")
    row = matrix_row(*(params[k] for k in ("i1", "i2", "t1", "t2", *oracle.WEIGHTS)))
    scales = row_scales(row)
    slipped = 0.5 * (row["t1"] - row["a_o1"] * (1 + 1e-9)) ** 2
    assert agree(row["E1"], row["E1"], scales["E1"])
    assert not agree(slipped, row["E1"], scales["E1"])


def test_every_column_of_train_equals_the_matrix_form():
    _, params = load_template("eva8")
    table = oracle.train(params, 0.5, 300)
    rows = matrix_train(params, 0.5, 300)
    for row, scales in zip(rows, train_scales(rows, 0.5), strict=True):
        for key, value in row.items():
            assert agree(table[key][row["iteration"]], value, scales[key]), (row["iteration"], key)


def test_update_uses_the_gradients_of_the_same_row():
    _, params = load_template("era-v1")
    eta = 0.8
    table = oracle.train(params, eta, 50)
    for w, g in zip(oracle.WEIGHTS, oracle.GRADIENTS, strict=True):
        np.testing.assert_array_equal(table[w][1:], table[w][:-1] - eta * table[g][:-1])
    assert table[oracle.WEIGHTS[0]][0] == params["w1"]


@pytest.mark.parametrize("start", ["era-v1", "eva8", "random-1", "random-2", "random-3"])
def test_loss_falls_at_every_step_for_a_small_learning_rate(start):
    if start.startswith("random"):
        i1, i2, t1, t2, weights = next(_random_points(1))
        params = {"i1": i1, "i2": i2, "t1": t1, "t2": t2, **dict(zip(oracle.WEIGHTS, weights, strict=True))}
    else:
        _, params = load_template(start)
    losses = oracle.train(params, 0.05, 1000)["E_total"]
    assert np.all(np.diff(losses) < 0)
    assert losses[-1] < losses[0]
