"""The CNN presets, all in one file: one plain, documented architecture family of different widths.

Every preset has the same shape (the "why" of each block, and its receptive field RF in input pixels):

    input 1x28x28, pixels in [0, 1]; Normalize (MNIST mean/std) lives inside the model  RF 1
    conv1  3x3 -> 26x26   edges and strokes                                             RF 3
    conv2  3x3 -> 24x24   stroke pieces; the only other layer at full resolution        RF 5
    pool   2x2 -> 12x12   halves the resolution once, so every later layer is cheap     RF 6
    trans  1x1 -> 12x12   transition: mixes and narrows channels right after the pool   RF 6
    conv3  3x3 -> 10x10   parts of digits (loops, bars)                                  RF 10
    conv4  3x3 -> 8x8                                                                    RF 14
    conv5  3x3 -> 6x6                                                                    RF 18
    conv6  3x3 -> 4x4     whole-digit features: RF 22 covers the 20x20 digit box         RF 22
    gap    global average pooling -> C values; no large dense layer
    fc     C -> 10 logits

Each 3x3 convolution is Conv (no bias: BatchNorm follows) -> BatchNorm -> ReLU; the convolutions after
the pool also get Dropout (element-wise, small p). Dropout at full resolution is left out on purpose:
on the CPU, drawing a mask for 24x24 maps cost as much as the convolutions themselves (measured), and
the augmentation already regularises there. Widths grow with depth, most parameters sit at <= 12x12
where they are cheap to compute. The presets differ in widths and dropout (see PRESETS), and `tiny`
and `micro` make conv2..conv6 depthwise-separable (a 3x3 filter per channel, then a 1x1 that mixes
the channels): 9*cin + cin*cout weights instead of 9*cin*cout, so 4,000 parameters buy about twice
the width. conv1 stays a full convolution (with one input channel there is nothing to separate),
and each separable block ends in its own 1x1 mixing layer, so `tiny` and `micro` drop the 1x1
transition (width 0). `micro` is `tiny` narrowed to at most 3,000 parameters, trained longer.
"""

from __future__ import annotations

import torch
from torch import nn

from mnist_trainer.presets import DEFAULT_MODEL, PRESETS, Preset  # noqa: F401 (the table, re-exported)

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


class Normalize(nn.Module):
    """Standardise [0, 1] pixels with the MNIST training-set mean and std, so users feed plain pixels."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - MNIST_MEAN) / MNIST_STD


def conv_block(cin: int, cout: int, kernel: int, dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def separable_block(cin: int, cout: int, dropout: float) -> nn.Sequential:
    """Depthwise 3x3 (one filter per input channel) then a 1x1 that mixes the channels, BN, ReLU.

    No BatchNorm or ReLU between the two convolutions: the pair acts as one factorised 3x3 convolution.
    """
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cin, 3, groups=cin, bias=False),  # depthwise: 9 * cin
        nn.Conv2d(cin, cout, 1, bias=False),  # pointwise: cin * cout
        nn.BatchNorm2d(cout),
        nn.ReLU(),
    ]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class MnistNet(nn.Sequential):
    """Normalize, conv1, conv2, pool, trans, conv3..conv6, gap, fc (see the module docstring)."""

    def __init__(self, preset: Preset):
        c1, c2, ct, c3, c4, c5, c6 = preset.widths
        p = preset.dropout
        super().__init__()
        self.preset = preset.name
        self.add_module("normalize", Normalize())

        def conv3x3(cin: int, cout: int, dropout: float) -> nn.Sequential:
            if preset.separable:
                return separable_block(cin, cout, dropout)
            return conv_block(cin, cout, 3, dropout)

        self.add_module("conv1", conv_block(1, c1, 3, 0.0))
        self.add_module("conv2", conv3x3(c1, c2, 0.0))
        self.add_module("pool", nn.MaxPool2d(2))
        if ct:
            self.add_module("trans", conv_block(c2, ct, 1, 0.0))
        self.add_module("conv3", conv3x3(ct or c2, c3, p))
        self.add_module("conv4", conv3x3(c3, c4, p))
        self.add_module("conv5", conv3x3(c4, c5, p))
        self.add_module("conv6", conv3x3(c5, c6, 0.0))
        self.add_module("gap", nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()))
        self.add_module("fc", nn.Linear(c6, 10))


def build_model(name: str = DEFAULT_MODEL) -> MnistNet:
    return MnistNet(PRESETS[name])


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
