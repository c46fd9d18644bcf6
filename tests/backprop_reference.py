"""Independent references for the tests: torch autograd, and the network in matrix form.

Neither shares code with sheetgen.oracle: torch differentiates E_total itself, and the
matrix form writes backpropagation as δ_o = (a_o − t)⊙a_o⊙(1 − a_o), ∂E/∂W2 = δ_o a_hᵀ,
δ_h = (W2ᵀ δ_o)⊙a_h⊙(1 − a_h), ∂E/∂W1 = δ_h iᵀ, in plain Python floats.
"""

from __future__ import annotations

import math

WEIGHT_KEYS = tuple(f"w{k}" for k in range(1, 9))


def torch_loss_and_gradients(i1, i2, t1, t2, weights):
    """E_total and its eight gradients by torch autograd, float64."""
    import torch

    w = torch.tensor([float(x) for x in weights], dtype=torch.float64, requires_grad=True)
    x = torch.tensor([i1, i2], dtype=torch.float64)
    t = torch.tensor([t1, t2], dtype=torch.float64)
    a_h = torch.sigmoid(w[:4].reshape(2, 2) @ x)
    a_o = torch.sigmoid(w[4:].reshape(2, 2) @ a_h)
    loss = 0.5 * ((t - a_o) ** 2).sum()
    loss.backward()
    return loss.item(), w.grad.tolist()


def torch_train(params: dict, eta: float, iterations: int) -> list[dict]:
    """Gradient descent by torch autograd: one dict per iteration with E_total, the weights and gradients."""
    weights = [float(params[k]) for k in WEIGHT_KEYS]
    rows = []
    for n in range(iterations + 1):
        fixed = (params["i1"], params["i2"], params["t1"], params["t2"])
        loss, grads = torch_loss_and_gradients(*fixed, weights)
        rows.append(
            {
                "iteration": n,
                "E_total": loss,
                **dict(zip(WEIGHT_KEYS, weights, strict=True)),
                **{f"dE_dw{k + 1}": g for k, g in enumerate(grads)},
            }
        )
        weights = [w - eta * g for w, g in zip(weights, grads, strict=True)]
    return rows


def _sigma(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def matrix_row(i1, i2, t1, t2, w1, w2, w3, w4, w5, w6, w7, w8) -> dict:
    """Every quantity of one table row, by the matrix form of backpropagation."""
    x, t = (i1, i2), (t1, t2)
    W1, W2 = ((w1, w2), (w3, w4)), ((w5, w6), (w7, w8))
    h = [sum(W1[j][k] * x[k] for k in range(2)) for j in range(2)]
    a_h = [_sigma(v) for v in h]
    o = [sum(W2[j][k] * a_h[k] for k in range(2)) for j in range(2)]
    a_o = [_sigma(v) for v in o]
    errors = [0.5 * (t[j] - a_o[j]) ** 2 for j in range(2)]
    delta_o = [(a_o[j] - t[j]) * a_o[j] * (1 - a_o[j]) for j in range(2)]
    delta_h = [sum(W2[j][k] * delta_o[j] for j in range(2)) * a_h[k] * (1 - a_h[k]) for k in range(2)]
    grad_W1 = [[delta_h[j] * x[k] for k in range(2)] for j in range(2)]
    grad_W2 = [[delta_o[j] * a_h[k] for k in range(2)] for j in range(2)]
    grads = [g for row in grad_W1 + grad_W2 for g in row]
    return {
        "i1": i1,
        "i2": i2,
        "t1": t1,
        "t2": t2,
        "w1": w1,
        "w2": w2,
        "w3": w3,
        "w4": w4,
        "w5": w5,
        "w6": w6,
        "w7": w7,
        "w8": w8,
        "h1": h[0],
        "h2": h[1],
        "a_h1": a_h[0],
        "a_h2": a_h[1],
        "o1": o[0],
        "o2": o[1],
        "a_o1": a_o[0],
        "a_o2": a_o[1],
        "E1": errors[0],
        "E2": errors[1],
        "E_total": errors[0] + errors[1],
        **{f"dE_dw{k + 1}": g for k, g in enumerate(grads)},
    }


def matrix_train(params: dict, eta: float, iterations: int) -> list[dict]:
    """Gradient descent in the matrix form: one full row (every column of the sheet) per iteration."""
    weights = [float(params[k]) for k in WEIGHT_KEYS]
    fixed = [float(params[k]) for k in ("i1", "i2", "t1", "t2")]
    rows = []
    for n in range(iterations + 1):
        row = matrix_row(*fixed, *weights)
        row["iteration"] = n
        rows.append(row)
        weights = [w - eta * row[f"dE_dw{k + 1}"] for k, w in enumerate(weights)]
    return rows


def relative_error(a: float, b: float) -> float:
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else abs(a - b) / scale


# Relative precision each independently computed value is trusted to, measured on the scale of the numbers
# it was computed from (not on its own size): about 4500 units in the last place, room for the few ulps by
# which libm/SIMD exp differs between CPUs (AMD AVX2, Intel AVX-512), compounded over a few hundred steps.
REL = 1e-12


class _Bounded:
    """A value with the scale of its rounding error: first-order propagation with absolute values.

    A difference of nearly equal numbers keeps the scale of the numbers, not of the difference:
    a − t late in training is 1e-5 while its error is an ulp of a ≈ 1e-16, so ½(t − a)² is known
    only to about 2·ulp(a)/|t − a| relatively. Comparing it at a fixed relative 1e-12 fails by chance
    on CPUs whose exp differs in the last bit.
    """

    def __init__(self, value: float, scale: float):
        self.value, self.scale = value, scale

    def __add__(self, other):
        other = _lift(other)
        return _Bounded(self.value + other.value, self.scale + other.scale)

    def __sub__(self, other):
        other = _lift(other)
        return _Bounded(self.value - other.value, self.scale + other.scale)

    def __rsub__(self, other):
        return _lift(other) - self

    def __mul__(self, other):
        other = _lift(other)
        return _Bounded(
            self.value * other.value, abs(other.value) * self.scale + abs(self.value) * other.scale
        )

    __rmul__ = __mul__

    def sigmoid(self):
        s = _sigma(self.value)
        return _Bounded(s, s * (1 - s) * self.scale + abs(s))


def _lift(x) -> _Bounded:
    return x if isinstance(x, _Bounded) else _Bounded(float(x), abs(float(x)))


def row_scales(row: dict, weight_scales: dict | None = None) -> dict:
    """Each quantity's error scale S: two correct computations of it agree to about REL·S.

    `row` holds the inputs and weights (e.g. a matrix_row); `weight_scales` the weights' own error
    scales (default |w|). The network is recomputed on _Bounded numbers in the matrix form's order.
    """
    weight_scales = weight_scales or {}
    x = [_lift(row["i1"]), _lift(row["i2"])]
    t = [_lift(row["t1"]), _lift(row["t2"])]
    w = [_Bounded(float(row[k]), weight_scales.get(k, abs(float(row[k])))) for k in WEIGHT_KEYS]
    W1, W2 = ((w[0], w[1]), (w[2], w[3])), ((w[4], w[5]), (w[6], w[7]))
    h = [W1[j][0] * x[0] + W1[j][1] * x[1] for j in range(2)]
    a_h = [v.sigmoid() for v in h]
    o = [W2[j][0] * a_h[0] + W2[j][1] * a_h[1] for j in range(2)]
    a_o = [v.sigmoid() for v in o]
    errors = [0.5 * (t[j] - a_o[j]) * (t[j] - a_o[j]) for j in range(2)]
    delta_o = [(a_o[j] - t[j]) * a_o[j] * (1 - a_o[j]) for j in range(2)]
    delta_h = [(W2[0][k] * delta_o[0] + W2[1][k] * delta_o[1]) * a_h[k] * (1 - a_h[k]) for k in range(2)]
    grads = [delta_h[j] * x[k] for j in range(2) for k in range(2)] + [
        delta_o[j] * a_h[k] for j in range(2) for k in range(2)
    ]
    bounded = {
        **{k: v for k, v in zip(("i1", "i2", "t1", "t2"), x + t, strict=True)},
        **dict(zip(WEIGHT_KEYS, w, strict=True)),
        **{"h1": h[0], "h2": h[1], "a_h1": a_h[0], "a_h2": a_h[1], "o1": o[0], "o2": o[1]},
        **{
            "a_o1": a_o[0],
            "a_o2": a_o[1],
            "E1": errors[0],
            "E2": errors[1],
            "E_total": errors[0] + errors[1],
        },
        **{f"dE_dw{k + 1}": g for k, g in enumerate(grads)},
    }
    return {key: b.scale for key, b in bounded.items()} | {"iteration": 0.0}


def train_scales(rows: list[dict], eta: float) -> list[dict]:
    """row_scales along a trajectory (rows as matrix_train gives them).

    A weight w − η·∂E/∂w that nears zero cancels: its scale is |w| + |η·∂E/∂w| of the row above.
    Errors carried from earlier steps are not compounded here (gradient descent contracts near a
    minimum); REL's headroom covers them.
    """
    scales, previous = [], None
    for row in rows:
        weight_scales = None
        if previous is not None:
            weight_scales = {
                k: abs(previous[k]) + abs(eta * previous[f"dE_dw{n}"]) for n, k in enumerate(WEIGHT_KEYS, 1)
            }
        scales.append(row_scales(row, weight_scales))
        previous = row
    return scales


def agree(found: float, expected: float, scale: float, rel: float = REL) -> bool:
    """Whether two computations of one quantity agree to `rel` of its error scale (see row_scales)."""
    return abs(found - expected) <= rel * scale
