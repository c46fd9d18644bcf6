"""Each preset's constraints: parameter bound, BatchNorm, Dropout, global average pooling, receptive field."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_mnist_data import write_mnist
from torch import nn

import mnist_trainer
from mnist_trainer.model import MNIST_MEAN, MNIST_STD, PRESETS, build_model, count_parameters
from mnist_trainer.summary import format_summary, summary_rows

REPO = Path(__file__).resolve().parent.parent
BOUNDS = {"base": 19_999, "small": 8_000, "tiny": 4_000, "micro": 3_000}


def expected_parameters(widths: tuple[int, ...], separable: bool) -> int:
    """By hand: bias-free convs (cin*cout*k*k) + BatchNorm (2 per channel) + the final FC (c*10 + 10).

    A separable 3x3 block (conv2..conv6 when the preset says so) is a depthwise 3x3 (9 per input
    channel) and a 1x1 (cin*cout); a transition width of 0 means no transition.
    """
    c1, c2, ct, c3, c4, c5, c6 = widths
    total = (1 * c1 * 9 + 2 * c1) + c6 * 10 + 10
    if ct:
        total += c2 * ct + 2 * ct
    for cin, cout in [(c1, c2), (ct or c2, c3), (c3, c4), (c4, c5), (c5, c6)]:
        total += (9 * cin + cin * cout if separable else 9 * cin * cout) + 2 * cout
    return total


def test_hand_count_of_the_tiny_preset():
    # conv1 1->8 full 3x3; separable 8->16, 16->20, 20->24, 24->28, 28->28; FC 28 -> 10: written out
    assert PRESETS["tiny"].widths == (8, 16, 0, 20, 24, 28, 28)
    by_hand = (
        (9 * 8 + 16)
        + (8 * 9 + 8 * 16 + 32)
        + (16 * 9 + 16 * 20 + 40)
        + (20 * 9 + 20 * 24 + 48)
        + (24 * 9 + 24 * 28 + 56)
        + (28 * 9 + 28 * 28 + 56)
        + (28 * 10 + 10)
    )
    assert count_parameters(build_model("tiny")) == by_hand == 3_858


def test_hand_count_of_the_micro_preset():
    # conv1 1->8 full 3x3; separable 8->16, 16->18, 18->20, 20->22, 22->22; FC 22 -> 10: each term is
    # depthwise 9*cin + pointwise cin*cout + BatchNorm 2*cout, written out from the layer shapes
    assert PRESETS["micro"].widths == (8, 16, 0, 18, 20, 22, 22)
    by_hand = (
        (9 * 8 + 2 * 8)
        + (9 * 8 + 8 * 16 + 2 * 16)
        + (9 * 16 + 16 * 18 + 2 * 18)
        + (9 * 18 + 18 * 20 + 2 * 20)
        + (9 * 20 + 20 * 22 + 2 * 22)
        + (9 * 22 + 22 * 22 + 2 * 22)
        + (22 * 10 + 10)
    )
    assert by_hand == 2_970 <= 3_000
    assert count_parameters(build_model("micro")) == by_hand
    # and the same from the tensors themselves, without the code's counter
    assert sum(p.numel() for p in build_model("micro").parameters()) == by_hand


def test_micro_recipe_stays_within_issue_16():
    micro, tiny = PRESETS["micro"], PRESETS["tiny"]
    assert micro.separable and tiny.epochs < micro.epochs <= 19  # issue 16: at most 19 epochs
    assert micro.bn_recalibration > 0 and 0 < micro.dropout <= 0.1
    # tiny's very light augmentation; the screening changed only lr, batch size and epochs
    assert (micro.degrees, micro.scale, micro.shift) == (tiny.degrees, tiny.scale, tiny.shift)


def test_micro_runs_from_the_command_line_with_its_own_recipe(tmp_path):
    """`--model micro` (2 epochs on synthetic files): its summary, recipe and a loadable micro model.pt."""
    data_dir, run_dir = tmp_path / "mnist", tmp_path / "run"
    write_mnist(data_dir, n_train=200, n_test=100)
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mnist_trainer",
            "--model",
            "micro",
            "--epochs",
            "2",
            "--data-dir",
            str(data_dir),
        ]
        + ["--device", "cpu", "--out", str(run_dir)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Model: micro" in out and "(2,970 parameters)" in out
    micro = PRESETS["micro"]
    assert f"batch {micro.batch_size}, peak lr {micro.lr}," in out  # the preset's recipe, not base's
    assert "BatchNorm statistics are recomputed" in out
    conv6 = next(line for line in out.splitlines() if line.startswith("conv6"))
    assert conv6.split()[-2:] == ["726", "22"]  # 9*22 + 22*22 + 2*22 parameters; receptive field 22
    assert out.count("Test set: Average loss:") == 2
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["params"] == 2_970 and metrics["model"] == "micro" and len(metrics["epochs"]) == 2
    model = mnist_trainer.load_model(run_dir / "model.pt")
    assert sum(p.numel() for p in model.parameters()) == 2_970
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 10)


def test_every_preset_help_survives_argparse_formatting():
    # argparse %-formats help strings: a bare "%" in a preset's help would crash --help
    from mnist_trainer.cli import make_parser

    text = " ".join(make_parser().format_help().split())
    for preset in PRESETS.values():
        assert " ".join(preset.help.split()) in text


def test_every_preset_has_a_bound():
    assert set(PRESETS) == set(BOUNDS)


@pytest.mark.parametrize("name", list(PRESETS))
def test_parameter_count_and_bound(name):
    model = build_model(name)
    assert count_parameters(model) == expected_parameters(PRESETS[name].widths, PRESETS[name].separable)
    assert count_parameters(model) <= BOUNDS[name]


@pytest.mark.parametrize("name", list(PRESETS))
def test_batchnorm_dropout_and_global_average_pooling(name):
    model = build_model(name)
    modules = list(model.modules())
    blocks = [b for b in model.children() if any(isinstance(m, nn.Conv2d) for m in b.modules())]
    assert len(blocks) == (7 if PRESETS[name].widths[2] else 6)
    # every convolution block ends its convolutions in BatchNorm (separable: after the 1x1)
    for block in blocks:
        kinds = [type(m) for m in block]
        assert nn.BatchNorm2d in kinds and kinds.index(nn.BatchNorm2d) == kinds.index(nn.ReLU) - 1
        assert all(isinstance(m, nn.Conv2d) for m in list(block)[: kinds.index(nn.BatchNorm2d)])
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


@pytest.mark.parametrize("name", [n for n in PRESETS if PRESETS[n].separable])
def test_separable_presets_are_separable_after_conv1(name):
    model = build_model(name)
    for name in ("conv2", "conv3", "conv4", "conv5", "conv6"):
        depthwise, pointwise = list(getattr(model, name))[:2]
        assert depthwise.groups == depthwise.in_channels == depthwise.out_channels
        assert depthwise.kernel_size == (3, 3)
        assert pointwise.kernel_size == (1, 1) and pointwise.groups == 1
    assert model.conv1[0].groups == 1 and not hasattr(model, "trans")
    assert "dw3x3-conv1x1-BN-ReLU" in format_summary(model, name)


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
