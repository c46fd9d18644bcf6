"""The model summary printed at the start of a run: layer, output shape, parameters, receptive field."""

from __future__ import annotations

import torch
from torch import nn


def _kernel_stride(module: nn.Module) -> tuple[int, int] | None:
    """(kernel, stride) along one axis for the layers that grow the receptive field; None for the rest."""
    if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        k, s = module.kernel_size, module.stride
        k = k[0] if isinstance(k, tuple) else k
        s = s[0] if isinstance(s, tuple) else s
        return k, s
    return None


def summary_rows(model: nn.Sequential, input_size: int = 28) -> list[dict]:
    """One row per top-level layer, with the receptive field (in input pixels) of one output unit.

    The receptive field grows by (kernel - 1) x jump at each convolution or pooling, and the jump
    (input pixels between neighbouring outputs) multiplies by the stride. After global average
    pooling every output sees the whole input.
    """
    rows, rf, jump = [], 1, 1
    device = next(model.parameters()).device
    x = torch.zeros(1, 1, input_size, input_size, device=device)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for name, layer in model.named_children():
            x = layer(x)
            for module in layer.modules():
                ks = _kernel_stride(module)
                if ks:
                    rf += (ks[0] - 1) * jump
                    jump *= ks[1]
                if isinstance(module, nn.AdaptiveAvgPool2d):
                    rf = input_size
            params = sum(p.numel() for p in layer.parameters() if p.requires_grad)
            rows.append(
                {
                    "layer": name,
                    "kind": _describe(layer),
                    "shape": tuple(x.shape[1:]),
                    "params": params,
                    "rf": rf,
                }
            )
    model.train(was_training)
    return rows


def _describe(layer: nn.Module) -> str:
    parts = []
    for module in layer.modules() if isinstance(layer, nn.Sequential) else [layer]:
        if isinstance(module, nn.Conv2d):
            depthwise = module.groups > 1 and module.groups == module.in_channels
            parts.append(f"{'dw' if depthwise else 'conv'}{module.kernel_size[0]}x{module.kernel_size[1]}")
        elif isinstance(module, nn.BatchNorm2d):
            parts.append("BN")
        elif isinstance(module, nn.ReLU):
            parts.append("ReLU")
        elif isinstance(module, nn.Dropout):
            parts.append(f"Dropout({module.p:g})")
        elif isinstance(module, nn.MaxPool2d):
            parts.append("MaxPool2x2")
        elif isinstance(module, nn.AdaptiveAvgPool2d):
            parts.append("GAP")
        elif isinstance(module, nn.Linear):
            parts.append("FC")
        elif not isinstance(module, (nn.Sequential, nn.Flatten)):
            parts.append(type(module).__name__)
    return "-".join(parts)


def format_summary(model: nn.Sequential, title: str) -> str:
    rows = summary_rows(model)
    lines = [f"Model: {title}", f"{'layer':<10} {'blocks':<36} {'output shape':<14} {'params':>7} {'RF':>4}"]
    for r in rows:
        shape = "x".join(str(d) for d in r["shape"])
        lines.append(f"{r['layer']:<10} {r['kind']:<36} {shape:<14} {r['params']:>7,} {r['rf']:>4}")
    total = sum(r["params"] for r in rows)
    lines.append(f"{'total':<10} {'':<36} {'':<14} {total:>7,}   trainable parameters")
    return "\n".join(lines)


def print_summary(model: nn.Sequential, title: str) -> None:
    print(format_summary(model, title), flush=True)
