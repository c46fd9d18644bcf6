"""Independent references for Mazur's network (a bias per layer): torch autograd, float64.

Shares no code with sheetgen.core.oracle: torch differentiates E_total itself, biases included.
"""

from __future__ import annotations

WEIGHT_KEYS = tuple(f"w{k}" for k in range(1, 9))


def torch_with_biases(i1, i2, t1, t2, weights, b1, b2) -> dict:
    """Mazur's network by torch autograd, float64: b1 added into both hidden sums, b2 into both outputs.

    Returns E_total, the activations, the gradients of w1..w8, b1, b2 and, for tolerances where a
    sum of terms may cancel, each gradient's scale: the sum of the absolute values of its terms,
    from autograd's gradients of the output sums (δ_o1, δ_o2).
    """
    import torch

    w = torch.tensor([float(x) for x in weights], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([float(b1), float(b2)], dtype=torch.float64, requires_grad=True)
    x = torch.tensor([i1, i2], dtype=torch.float64)
    t = torch.tensor([t1, t2], dtype=torch.float64)
    net_h = w[:4].reshape(2, 2) @ x + b[0]
    a_h = torch.sigmoid(net_h)
    net_o = w[4:].reshape(2, 2) @ a_h + b[1]
    net_o.retain_grad()
    a_o = torch.sigmoid(net_o)
    loss = 0.5 * ((t - a_o) ** 2).sum()
    loss.backward()
    d_o = net_o.grad.tolist()
    ah = a_h.tolist()
    # δ_h of hidden unit k = (δ_o1·w_o1k + δ_o2·w_o2k)·a_hk(1 − a_hk): the two paths may cancel.
    path = [
        (abs(d_o[0] * weights[4 + k]) + abs(d_o[1] * weights[6 + k])) * ah[k] * (1 - ah[k]) for k in (0, 1)
    ]
    scales = {f"dE_dw{2 * k + j + 1}": path[k] * abs((i1, i2)[j]) for k in (0, 1) for j in (0, 1)}
    return {
        "E_total": loss.item(),
        "a_h1": ah[0],
        "a_h2": ah[1],
        "a_o1": a_o[0].item(),
        "a_o2": a_o[1].item(),
        **{f"dE_dw{k + 1}": g for k, g in enumerate(w.grad.tolist())},
        "dE_db1": b.grad[0].item(),
        "dE_db2": b.grad[1].item(),
        "scale": scales | {"dE_db1": path[0] + path[1], "dE_db2": abs(d_o[0]) + abs(d_o[1])},
    }


def torch_train_with_biases(params: dict, eta: float, iterations: int, trained: bool) -> list[dict]:
    """Gradient descent by torch autograd on Mazur's network; biases updated only when `trained`."""
    weights = [float(params[k]) for k in WEIGHT_KEYS]
    b1, b2 = float(params["b1"]), float(params["b2"])
    fixed = (params["i1"], params["i2"], params["t1"], params["t2"])
    rows = []
    for n in range(iterations + 1):
        row = torch_with_biases(*fixed, weights, b1, b2)
        rows.append(
            {"iteration": n, **dict(zip(WEIGHT_KEYS, weights, strict=True)), "b1": b1, "b2": b2, **row}
        )
        weights = [w - eta * row[f"dE_dw{k + 1}"] for k, w in enumerate(weights)]
        if trained:
            b1, b2 = b1 - eta * row["dE_db1"], b2 - eta * row["dE_db2"]
    return rows
