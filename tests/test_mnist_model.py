"""Each preset's constraints: parameter bound, BatchNorm, Dropout, global average pooling, receptive field."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mnist_trainer.model import MNIST_MEAN, MNIST_STD, PRESETS, build_model, count_parameters
from mnist_trainer.summary import format_summary, summary_rows

BOUNDS = {"base": 19_999, "small": 8_000, "tiny": 4_000}


def expected_parameters(widths: tuple[int, ...]) -> int:
    """By hand: bias-free convs (cin*cout*k*k) + BatchNorm (2 per channel) + the final FC (c*10 + 10)."""
    c1, c2, ct, c3, c4, c5, c6 = widths
    convs = [(1, c1, 3), (c1, c2, 3), (c2, ct, 1), (ct, c3, 3), (c3, c4, 3), (c4, c5, 3), (c5, c6, 3)]
    return sum(cin * cout * k * k + 2 * cout for cin, cout, k in convs) + c6 * 10 + 10


def test_every_preset_has_a_bound():
    assert set(PRESETS) == set(BOUNDS)


@pytest.mark.parametrize("name", list(PRESETS))
def test_parameter_count_and_bound(name):
    model = build_model(name)
    assert count_parameters(model) == expected_parameters(PRESETS[name].widths)
    assert count_parameters(model) <= BOUNDS[name]


@pytest.mark.parametrize("name", list(PRESETS))
def test_batchnorm_dropout_and_global_average_pooling(name):
    modules = list(build_model(name).modules())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in modules) == 7  # after every convolution
    dropouts = [m for m in modules if isinstance(m, nn.Dropout)]
    assert dropouts and all(0 < m.p <= 0.1 for m in dropouts)
    assert any(isinstance(m, nn.AdaptiveAvgPool2d) and m.output_size in (1, (1, 1)) for m in modules)
    # no big dense layer: the only Linear maps the pooled channels to the 10 classes
    linears = [m for m in modules if isinstance(m, nn.Linear)]
    assert len(linears) == 1 and linears[0].out_features == 10 and linears[0].in_features <= 32


@pytest.mark.parametrize("name", list(PRESETS))
def test_receptive_field_covers_the_digit(name):
    rows = {r["layer"]: r for r in summary_rows(build_model(name))}
    # by hand: a 3x3 conv adds 2 pixels before the 2x2 pool (which adds 1), and 2 * 2 after it
    assert rows["conv2"]["rf"] == 5 and rows["pool"]["rf"] == 6 and rows["conv6"]["rf"] == 6 + 4 * 4 == 22
    assert rows["conv6"]["rf"] >= 20  # MNIST digits are size-normalised to a 20x20 box
    assert rows["conv6"]["shape"] == (PRESETS[name].widths[-1], 4, 4)
    assert rows["fc"]["shape"] == (10,)


def test_summary_total_matches_parameter_count():
    model = build_model("base")
    text = format_summary(model, "base")
    assert f"{count_parameters(model):,}" in text.splitlines()[-1]
    layers = {line.split()[0] for line in text.splitlines()[2:]}
    assert {"normalize", "conv1", "pool", "trans", "gap", "fc"} <= layers


def test_normalisation_lives_inside_the_model():
    model = build_model("tiny")
    x = torch.rand(3, 1, 28, 28)
    assert torch.allclose(model.normalize(x), (x - MNIST_MEAN) / MNIST_STD)
    assert model.eval()(x).shape == (3, 10)
