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


def close(key: str, a: float, b: float, rel: float = 1e-12) -> bool:
    """Equal to `rel` relative error; a weight may also differ by 1e-15 absolutely.

    A weight that changes sign is, near zero, the difference of two nearly equal numbers
    (w − η·∂E/∂w), so its relative error there is noise; the weights are O(0.1) elsewhere.
    """
    floor = 1e-15 if key in WEIGHT_KEYS else 0.0
    return abs(a - b) <= max(rel * max(abs(a), abs(b)), floor)
