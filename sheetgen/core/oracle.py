"""The numpy oracle: the 2-2-2 sigmoid network of the course sheet, in float64.

Everything the workbook computes is computed here too, independently of any
spreadsheet engine, so that the writer can cache true values in each formula
cell and the verifier can say what every cell ought to hold.

Notation (the course's): inputs i1, i2; targets t1, t2; weights w1..w8, no biases.

    h1 = w1*i1 + w2*i2        a_h1 = sigmoid(h1)
    h2 = w3*i1 + w4*i2        a_h2 = sigmoid(h2)
    o1 = w5*a_h1 + w6*a_h2    a_o1 = sigmoid(o1)
    o2 = w7*a_h1 + w8*a_h2    a_o2 = sigmoid(o2)
    E1 = 1/2 (t1 - a_o1)^2    E2 = 1/2 (t2 - a_o2)^2    E_total = E1 + E2

and the update, applied to all eight weights at once from the same row:
    w <- w - eta * dE_total/dw
"""

from __future__ import annotations

import numpy as np

WEIGHTS = tuple(f"w{k}" for k in range(1, 9))
GRADIENTS = tuple(f"dE_dw{k}" for k in range(1, 9))
INPUTS = ("i1", "i2", "t1", "t2")


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def evaluate(i1, i2, t1, t2, w1, w2, w3, w4, w5, w6, w7, w8) -> dict:
    """Forward pass and the eight gradients for one row (or arrays of rows).

    Returns a dict keyed by the column keys of sheetgen.columns; arguments may be
    floats or numpy arrays of equal shape (so a whole column is one call).
    """
    h1 = w1 * i1 + w2 * i2
    a_h1 = sigmoid(h1)
    h2 = w3 * i1 + w4 * i2
    a_h2 = sigmoid(h2)
    o1 = w5 * a_h1 + w6 * a_h2
    a_o1 = sigmoid(o1)
    o2 = w7 * a_h1 + w8 * a_h2
    a_o2 = sigmoid(o2)
    E1 = 0.5 * (t1 - a_o1) ** 2
    E2 = 0.5 * (t2 - a_o2) ** 2

    # Chain rule, output layer: dE/do = dE/da_o * da_o/do.
    delta_o1 = (a_o1 - t1) * a_o1 * (1 - a_o1)
    delta_o2 = (a_o2 - t2) * a_o2 * (1 - a_o2)
    # Hidden layer: each hidden activation feeds both outputs.
    dE_da_h1 = delta_o1 * w5 + delta_o2 * w7
    dE_da_h2 = delta_o1 * w6 + delta_o2 * w8
    delta_h1 = dE_da_h1 * a_h1 * (1 - a_h1)
    delta_h2 = dE_da_h2 * a_h2 * (1 - a_h2)

    return {
        "t1": t1,
        "t2": t2,
        "i1": i1,
        "i2": i2,
        "w1": w1,
        "w2": w2,
        "w3": w3,
        "w4": w4,
        "h1": h1,
        "a_h1": a_h1,
        "h2": h2,
        "a_h2": a_h2,
        "w5": w5,
        "w6": w6,
        "w7": w7,
        "w8": w8,
        "o1": o1,
        "a_o1": a_o1,
        "o2": o2,
        "a_o2": a_o2,
        "E1": E1,
        "E2": E2,
        "E_total": E1 + E2,
        "dE_dw1": delta_h1 * i1,
        "dE_dw2": delta_h1 * i2,
        "dE_dw3": delta_h2 * i1,
        "dE_dw4": delta_h2 * i2,
        "dE_dw5": delta_o1 * a_h1,
        "dE_dw6": delta_o1 * a_h2,
        "dE_dw7": delta_o2 * a_h1,
        "dE_dw8": delta_o2 * a_h2,
    }


def step(row: dict, eta: float) -> dict:
    """The next row's weights: w <- w - eta * dE/dw, all eight from this row."""
    return {w: row[w] - eta * row[g] for w, g in zip(WEIGHTS, GRADIENTS, strict=True)}


def train(params: dict, eta: float, iterations: int) -> dict:
    """Rows for iterations 0..iterations (that many weight updates).

    `params` holds i1, i2, t1, t2 and the initial w1..w8. Returns a dict of
    float64 arrays of length iterations + 1, keyed like `evaluate`, plus
    "iteration".
    """
    fixed = {k: float(params[k]) for k in INPUTS}
    weights = {w: float(params[w]) for w in WEIGHTS}
    table: dict[str, np.ndarray] = {}
    for n in range(iterations + 1):
        row = evaluate(**fixed, **weights)
        # Filled in place, column by column: a dict per row would cost ten times the memory.
        for key, value in row.items():
            if n == 0:
                table[key] = np.empty(iterations + 1, dtype=np.float64)
            table[key][n] = value
        weights = step(row, eta)
    table["iteration"] = np.arange(iterations + 1)
    return table
