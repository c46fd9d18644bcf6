"""An independent torch implementation of any network spec, read through the notation alone.

It shares no code with sheetgen's oracle: the layers are torch matrices, the weights are taken from
the names w1..wK by the numbering rule (layer by layer, within a layer by destination unit, then
source unit), the biases from b1, b2.. (one per layer) or b_h1.., b_o1.. (one per unit), and the
loss is differentiated by autograd.
"""

from __future__ import annotations

import torch

ACTIVATIONS = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "linear": lambda z: z,
}


def _unit_names(sizes):
    prefixes = ["h", "g"][: len(sizes) - 2] + ["o"]
    return [[f"{p}{u}" for u in range(1, n + 1)] for p, n in zip(prefixes, sizes[1:], strict=False)]


def sample_loss(spec, tensors, x, t):
    """One sample's loss (a torch scalar) for the parameter tensors of `parameters`."""
    a = x
    n_layers = len(spec.sizes) - 1
    for layer in range(n_layers):
        z = tensors["W"][layer] @ a
        if spec.biases != "none":
            z = z + tensors["B"][layer]
        if layer < n_layers - 1:
            a = ACTIVATIONS[spec.activation](z)
    if spec.loss == "cross-entropy":
        if spec.output_activation == "softmax":
            return -(t * torch.log_softmax(z, 0)).sum()
        a = torch.sigmoid(z)  # binary cross-entropy of the output's value, as its definition reads
        return -(t * torch.log(a) + (1 - t) * torch.log(1 - a)).sum()
    out = z if spec.output_activation == "linear" else torch.sigmoid(z)
    squared = ((t - out) ** 2).sum()
    return 0.5 * squared if spec.loss == "half-squared" else squared


def parameters(spec, values: dict, dtype):
    """Leaf tensors W (per layer, out x in) and B (per layer: one value, or one per unit) from names."""
    W, B, number = [], [], 1
    for layer, (n_in, n_out) in enumerate(zip(spec.sizes, spec.sizes[1:], strict=False)):
        names = [[f"w{number + u * n_in + s}" for s in range(n_in)] for u in range(n_out)]
        number += n_in * n_out
        W.append(torch.tensor([[values[w] for w in row] for row in names], dtype=dtype, requires_grad=True))
        if spec.bias_per == "layer":
            B.append(torch.tensor(values.get(f"b{layer + 1}", 0.0), dtype=dtype, requires_grad=True))
        else:
            units = _unit_names(spec.sizes)[layer]
            B.append(
                torch.tensor([values.get(f"b_{u}", 0.0) for u in units], dtype=dtype, requires_grad=True)
            )
    return {"W": W, "B": B}


def named_gradients(spec, tensors) -> dict:
    """dE_dw1.., dE_db1 / dE_db_h1.. from the tensors' .grad."""
    grads, number = {}, 1
    for layer, (n_in, n_out) in enumerate(zip(spec.sizes, spec.sizes[1:], strict=False)):
        g = tensors["W"][layer].grad.reshape(-1).tolist()
        for k, value in enumerate(g):
            grads[f"dE_dw{number + k}"] = value
        number += n_in * n_out
        if spec.biases == "trained":
            gb = tensors["B"][layer].grad
            if spec.bias_per == "layer":
                grads[f"dE_db{layer + 1}"] = gb.item()
            else:
                for u, value in zip(_unit_names(spec.sizes)[layer], gb.reshape(-1).tolist(), strict=True):
                    grads[f"dE_db_{u}"] = value
    return grads


def row_samples(spec, params: dict, n: int):
    """The (inputs, targets) pairs row n trains on: one, every sample (full batch), or sample n mod S."""
    if spec.samples is None:
        x = [params[f"i{k}"] for k in range(1, spec.sizes[0] + 1)]
        t = [params[f"t{k}"] for k in range(1, spec.sizes[-1] + 1)]
        return [(x, t)]
    if spec.batch == "full":
        return [(list(x), list(t)) for x, t in spec.samples]
    x, t = spec.samples[n % len(spec.samples)]
    return [(list(x), list(t))]


def train(spec, params: dict, eta: float, iterations: int, dtype=torch.float64) -> list[dict]:
    """Gradient descent by autograd: per row E_total, the free values and their gradients."""
    values = dict(params)
    rows = []
    for n in range(iterations + 1):
        tensors = parameters(spec, values, dtype)
        pairs = row_samples(spec, params, n)
        loss = sum(
            sample_loss(spec, tensors, torch.tensor(x, dtype=dtype), torch.tensor(t, dtype=dtype))
            for x, t in pairs
        ) / len(pairs)
        loss.backward()
        grads = named_gradients(spec, tensors)
        rows.append({"E_total": loss.item(), **grads})
        for key, g in grads.items():
            name = key.removeprefix("dE_d")
            values[name] = values.get(name, 0.0) - eta * g
    return rows
