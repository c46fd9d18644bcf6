"""The numpy oracle: the 2-2-2 sigmoid network of the course sheet, in float64.

Everything the workbook computes is computed here too, independently of any
spreadsheet engine, so that the writer can cache true values in each formula
cell and the verifier can say what every cell ought to hold.

Notation (the course's): inputs i1, i2; targets t1, t2; weights w1..w8; and, as in Mazur's
"A Step by Step Backpropagation Example", one bias per layer: b1 into both hidden sums, b2 into
both output sums (0 for the course's network, which has none).

    h1 = w1*i1 + w2*i2 + b1        a_h1 = sigmoid(h1)
    h2 = w3*i1 + w4*i2 + b1        a_h2 = sigmoid(h2)
    o1 = w5*a_h1 + w6*a_h2 + b2    a_o1 = sigmoid(o1)
    o2 = w7*a_h1 + w8*a_h2 + b2    a_o2 = sigmoid(o2)
    E1 = 1/2 (t1 - a_o1)^2    E2 = 1/2 (t2 - a_o2)^2    E_total = E1 + E2

and the update, applied to all eight weights at once from the same row:
    w <- w - eta * dE_total/dw
A bias shared by two units collects both units' error signals: dE/db1 = delta_h1 + delta_h2,
dE/db2 = delta_o1 + delta_o2. Biases are held fixed (Mazur's post) or trained like the weights.
"""

from __future__ import annotations

import numpy as np

WEIGHTS = tuple(f"w{k}" for k in range(1, 9))
GRADIENTS = tuple(f"dE_dw{k}" for k in range(1, 9))
INPUTS = ("i1", "i2", "t1", "t2")
BIASES = ("b1", "b2")
BIAS_GRADIENTS = ("dE_db1", "dE_db2")
# How a network treats its biases: it has none (the course's sheet), they stay at their initial
# values (Mazur's post), or they are updated by gradient descent like the weights.
BIAS_MODES = ("none", "fixed", "trained")


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def evaluate(i1, i2, t1, t2, w1, w2, w3, w4, w5, w6, w7, w8, b1=0.0, b2=0.0) -> dict:
    """Forward pass and the gradients of the weights and biases for one row (or arrays of rows).

    Returns a dict keyed by the column keys of sheetgen.core.columns; arguments may be
    floats or numpy arrays of equal shape (so a whole column is one call). b1, b2 are free
    values like the weights; without biases they are 0 and their gradients go unused.
    """
    h1 = w1 * i1 + w2 * i2 + b1
    a_h1 = sigmoid(h1)
    h2 = w3 * i1 + w4 * i2 + b1
    a_h2 = sigmoid(h2)
    o1 = w5 * a_h1 + w6 * a_h2 + b2
    a_o1 = sigmoid(o1)
    o2 = w7 * a_h1 + w8 * a_h2 + b2
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
        # Shaped like the other quantities (b1, b2 default to scalars when a whole column is evaluated).
        "b1": b1 + np.zeros_like(h1),
        "b2": b2 + np.zeros_like(h1),
        # A bias shared by two units: the sum of both units' error signals.
        "dE_db1": delta_h1 + delta_h2,
        "dE_db2": delta_o1 + delta_o2,
    }


def free_values(biases: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The values gradient descent updates under a bias mode, and their gradients' keys."""
    if biases not in BIAS_MODES:
        raise ValueError(f"biases must be one of {', '.join(BIAS_MODES)}, not {biases!r}")
    if biases == "trained":
        return WEIGHTS + BIASES, GRADIENTS + BIAS_GRADIENTS
    return WEIGHTS, GRADIENTS


def step(row: dict, eta: float, biases: str = "none") -> dict:
    """The next row's free values: w <- w - eta * dE/dw, all from this row (and b1, b2 if trained)."""
    names, gradients = free_values(biases)
    return {v: row[v] - eta * row[g] for v, g in zip(names, gradients, strict=True)}


def train(params: dict, eta: float, iterations: int, biases: str = "none") -> dict:
    """Rows for iterations 0..iterations (that many weight updates).

    `params` holds i1, i2, t1, t2, the initial w1..w8 and, unless biases is "none", b1 and b2
    (missing ones are 0). Returns a dict of float64 arrays of length iterations + 1, keyed like
    `evaluate`, plus "iteration".
    """
    fixed = {k: float(params[k]) for k in INPUTS}
    free = {w: float(params[w]) for w in WEIGHTS}
    if biases != "none":
        free |= {b: float(params.get(b, 0.0)) for b in BIASES}
    table: dict[str, np.ndarray] = {}
    for n in range(iterations + 1):
        row = evaluate(**fixed, **free)
        # Filled in place, column by column: a dict per row would cost ten times the memory.
        for key, value in row.items():
            if n == 0:
                table[key] = np.empty(iterations + 1, dtype=np.float64)
            table[key][n] = value
        free |= step(row, eta, biases)
    table["iteration"] = np.arange(iterations + 1)
    return table
