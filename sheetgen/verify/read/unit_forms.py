"""Activations that probing one cell against one variable cannot see (read/computed_network.py asks).

- A *softmax* output reads the whole layer's sums: a_j = e^{z_j} / Σ_i e^{z_i}, written in one formula
  (EXP(z1)/(EXP(z1)+EXP(z2))), over cells of EXP(z) (e1/SUM(e1:e3)), or with the largest z subtracted
  first (EXP(z1−MAX(z1:z3))), each probed as a function of the sums it reaches.
- An activation *no spec has* (leaky ReLU, softplus, ELU, …) is a one-variable function of a unit's
  sum that a next layer reads as it would an activation; it is named for the report by its shape, so
  the verdict says what differs (DIFFERENT NETWORK) rather than calling right arithmetic wrong.
"""

from __future__ import annotations

import numpy as np

from sheetgen.core import formula
from sheetgen.verify.read.cell_graph import CellGraph, Key

MAX_LAYER = 8  # units a softmax may span (a spec's cap on a layer)
_PROBE = np.random.default_rng(29).uniform(-2.0, 2.0, (MAX_LAYER, 6))


def _softmax_index(run, leaves: list[Key]) -> int | None:
    """j when run(leaves) = e^{z_j} / Σ e^{z_i} at random points, else None."""
    n = len(leaves)
    z = _PROBE[:n]
    with np.errstate(all="ignore"):
        try:
            got = np.broadcast_to(np.asarray(run(dict(zip(leaves, z, strict=True))), dtype=float), (6,))
        except (formula.Unsupported, KeyError, TypeError, ValueError):
            return None
        e = np.exp(z - z.max(axis=0))
        shares = e / e.sum(axis=0)
    for j in range(n):
        if np.allclose(got, shares[j], rtol=1e-9, atol=1e-12):
            return j
    return None


def softmax_cells(graph: CellGraph, sums: set[Key], shape_of, skip: set[Key]) -> dict[Key, tuple[Key, tuple]]:
    """{cell: (the sum z_j it is the share of, every sum of its layer)} for each softmax output cell.

    A column of cells holding one formula is probed once: its first cell reaching only sums decides."""
    found: dict[Key, tuple[Key, tuple]] = {}
    verdict: dict[tuple, bool] = {}
    for key in graph.trees:
        if key in skip or key in sums:
            continue
        direct = graph.direct(key)
        if not 1 <= len(direct) <= 2 * MAX_LAYER + 1:
            continue
        shape = shape_of(key)
        if verdict.get(shape) is False:
            continue
        try:
            run, leaves = graph.evaluator(key, lambda k: k in sums)
        except formula.Unsupported:
            verdict[shape] = False
            continue
        if not 2 <= len(leaves) <= MAX_LAYER or not all(leaf in sums for leaf in leaves):
            verdict[shape] = False
            continue
        j = _softmax_index(run, leaves)
        if j is None:
            verdict[shape] = False
            continue
        verdict[shape] = True
        found[key] = (leaves[j], tuple(leaves))
    return found


def foreign_activation(run, var: Key) -> str | None:
    """What a one-variable nonlinear function is, when no spec has it: 'leaky ReLU (slope 0.01 below 0)',
    'softplus', or 'an activation of its own'; None for an affine function (no activation at all)."""
    xs = np.array([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0])
    with np.errstate(all="ignore"):
        try:
            y = np.broadcast_to(np.asarray(run({var: xs}), dtype=float), xs.shape)
        except (formula.Unsupported, KeyError, TypeError, ValueError):
            return None
    if not np.all(np.isfinite(y)):
        return None
    slopes = np.diff(y) / np.diff(xs)
    if np.allclose(slopes, slopes[0], rtol=1e-9, atol=1e-12):
        return None  # affine: a scaled copy, not an activation
    below, above = y[:3] / xs[:3], y[3:] / xs[3:]
    if np.allclose(above, 1, rtol=1e-9) and np.allclose(below, below[0], rtol=1e-9):
        return f"leaky ReLU (slope {below[0]:g} below 0)"
    if np.allclose(y, np.log1p(np.exp(xs)), rtol=1e-9):
        return "softplus"
    if np.allclose(above, 1, rtol=1e-9) and np.allclose(
        y[:3], np.expm1(xs[:3]) * (y[0] / np.expm1(-2.0)), rtol=1e-9
    ):
        return "ELU"
    if np.allclose(y, xs / (1 + np.exp(-xs)), rtol=1e-9):
        return "swish (x·σ(x))"
    return "an activation of its own"
