"""Training on tiny synthetic data: a few steps lower the loss; resume gives bit-identical weights."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from test_mnist_data import write_mnist

from mnist_trainer import checkpoint, report
from mnist_trainer.augment import AffineAugment
from mnist_trainer.data import load_mnist
from mnist_trainer.errors import UserError
from mnist_trainer.model import build_model
from mnist_trainer.train import Interrupted, RunConfig, Trainer, recalibrate_batchnorm, to_input

CPU = torch.device("cpu")
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mnist")
    write_mnist(folder, n_train=256, n_test=128)
    return load_mnist(folder, CPU)


def config(**overrides) -> RunConfig:
    values = dict(
        model="tiny", epochs=2, batch_size=64, lr=0.05, weight_decay=5e-5, seed=3, channels_last=False
    )
    values.update(overrides)
    return RunConfig(**values)


def test_a_few_steps_lower_the_loss(synthetic):
    torch.manual_seed(0)
    model = build_model("base")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x, y = to_input(synthetic.train_images[:32], torch.contiguous_format), synthetic.train_labels[:32]
    model.train()  # batch statistics: after 15 steps BatchNorm's running averages still lag behind
    losses = []
    for _ in range(15):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        after = F.cross_entropy(model(x), y).item()
    assert losses[0] > 2.0  # starts near ln(10) = 2.3
    assert after < 0.5 * losses[0]  # and learns the 10 synthetic classes


def test_augmentation_is_small_and_seeded():
    images = torch.zeros(4, 1, 28, 28)
    images[:, :, 10:18, 10:18] = 1.0
    augment = AffineAugment(degrees=8, scale=0.06, shift=2)
    a = augment(images, torch.Generator().manual_seed(1))
    b = augment(images, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and not torch.equal(a, images)
    # mass is roughly preserved (zoom <= 6 % changes the area by <= 13 %) and stays inside [0, 1]
    assert a.min() >= 0 and a.max() <= 1
    assert torch.allclose(a.sum(dim=(1, 2, 3)), images.sum(dim=(1, 2, 3)), rtol=0.15)
    assert torch.equal(AffineAugment(0, 0, 0)(images, torch.Generator().manual_seed(1)), images)


@pytest.fixture
def no_plots(monkeypatch):
    """The loop's tests skip curves.png and misclassified.png (matplotlib would double their time)."""
    monkeypatch.setattr(report, "plot_curves", lambda *args: None)
    monkeypatch.setattr(report, "plot_misclassified", lambda *args: None)


def run_straight(data, run_dir):
    run_dir.mkdir()
    trainer = Trainer(config(), data, CPU, run_dir, quiet=True)
    trainer.train()
    return trainer.model.state_dict(), trainer.history


@pytest.mark.parametrize("stop_at_call", [2, 4], ids=["mid-epoch", "epoch-boundary"])
def test_resume_is_bit_identical(synthetic, tmp_path, monkeypatch, no_plots, stop_at_call):
    """2 epochs straight == interrupted by Ctrl-C (SIGINT) inside epoch 1 (or at its end) and resumed."""
    straight_weights, straight_history = run_straight(synthetic, tmp_path / "straight")

    run_dir = tmp_path / "interrupted"
    run_dir.mkdir()
    trainer = Trainer(config(), synthetic, CPU, run_dir, quiet=True)
    calls = {"n": 0}
    real_augment = trainer.augment

    def augment_then_ctrl_c(images, generator):
        calls["n"] += 1
        if calls["n"] == stop_at_call:  # a real SIGINT, delivered while batch `stop_at_call` is running
            os.kill(os.getpid(), signal.SIGINT)
        return real_augment(images, generator)

    trainer.augment = augment_then_ctrl_c
    with pytest.raises(Interrupted, match=f"SIGINT.*--resume {run_dir}") as stop:
        trainer.train()
    assert stop.value.exit_status == 130
    state = checkpoint.load_checkpoint(run_dir)
    assert (state.epoch, state.batch) == ((0, 2) if stop_at_call == 2 else (1, 0))

    # a fresh process would start from a different global RNG state: scramble it to prove it is restored
    torch.manual_seed(12345)
    resumed = Trainer(RunConfig(**state.config), synthetic, CPU, run_dir, resume_state=state, quiet=True)
    resumed.train()
    resumed_weights = resumed.model.state_dict()
    assert straight_weights.keys() == resumed_weights.keys()
    for key in straight_weights:
        assert torch.equal(straight_weights[key], resumed_weights[key]), key
    assert [e["test_accuracy"] for e in resumed.history] == [e["test_accuracy"] for e in straight_history]
    assert [e["train_loss"] for e in resumed.history] == [e["train_loss"] for e in straight_history]


def test_checkpoint_and_model_load_with_weights_only(synthetic, tmp_path, no_plots):
    weights, _ = run_straight(synthetic, tmp_path / "run")
    for name in ("checkpoint.pt", "model.pt"):
        assert isinstance(torch.load(tmp_path / "run" / name, weights_only=True), dict)
    model = checkpoint.load_model(tmp_path / "run" / "model.pt")
    assert not model.training
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())


SIGTERM_AT_BATCH_2 = """
import os, signal, sys
from mnist_trainer import cli, train

real_augment, calls = train.AffineAugment.__call__, []


def augment_then_sigterm(self, images, generator):
    calls.append(1)
    if len(calls) == 2:  # a real SIGTERM, delivered while batch 2 of epoch 1 is running
        os.kill(os.getpid(), signal.SIGTERM)
    return real_augment(self, images, generator)


train.AffineAugment.__call__ = augment_then_sigterm
sys.exit(cli.main(sys.argv[1:]))
"""


def test_sigterm_saves_a_checkpoint_and_resume_is_bit_identical(tmp_path):
    """Issue 14 item 4: SIGTERM (kill, schedulers) in epoch 1 wrote no checkpoint, so --resume failed."""
    write_mnist(tmp_path / "data", n_train=256, n_test=128)
    argv = ["--data-dir", str(tmp_path / "data"), "--model", "tiny", "--epochs", "2", "--batch-size", "64"]
    argv += ["--seed", "3", "--device", "cpu"]

    def mnist_trainer(*args, script=None):
        command = [sys.executable, "-c", script] if script else [sys.executable, "-m", "mnist_trainer"]
        return subprocess.run(command + list(args), cwd=REPO, capture_output=True, text=True, timeout=300)

    straight = mnist_trainer(*argv, "--out", str(tmp_path / "straight"))
    assert straight.returncode == 0, straight.stderr
    run_dir = tmp_path / "stopped"
    stopped = mnist_trainer(*argv, "--out", str(run_dir), script=SIGTERM_AT_BATCH_2)
    assert stopped.returncode == 143, stopped.stderr  # 128 + 15, as for Ctrl-C's 130 = 128 + 2
    assert "Traceback" not in stopped.stderr
    assert stopped.stderr.strip().splitlines()[-1] == (
        f"python -m mnist_trainer: interrupted (SIGTERM): checkpoint saved after epoch 0 batch 2; "
        f"continue with: python -m mnist_trainer --resume {run_dir}"
    )
    resumed = mnist_trainer("--resume", str(run_dir), "--data-dir", str(tmp_path / "data"))
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout and "after epoch 0 batch 2" in resumed.stdout

    expected = torch.load(tmp_path / "straight" / "model.pt", weights_only=True)["state_dict"]
    actual = torch.load(run_dir / "model.pt", weights_only=True)["state_dict"]
    assert expected.keys() == actual.keys()
    assert all(torch.equal(expected[k], actual[k]) for k in expected), "weights differ"
    without_time = [
        [{k: v for k, v in e.items() if k != "seconds"} for e in json.loads(path.read_text())["epochs"]]
        for path in (tmp_path / "straight" / "metrics.json", run_dir / "metrics.json")
    ]
    assert without_time[0] == without_time[1] and len(without_time[0]) == 2


def test_resume_on_another_device_type_is_refused(synthetic, tmp_path, no_plots):
    run_straight(synthetic, tmp_path / "run")
    state = checkpoint.load_checkpoint(tmp_path / "run")
    assert state.device_type == "cpu"
    state.device_type = "cuda"
    with pytest.raises(UserError, match="checkpoint was made on cuda.*--device cuda"):
        Trainer(RunConfig(**state.config), synthetic, CPU, tmp_path / "run", resume_state=state)


def test_batchnorm_recalibration_uses_the_population_statistics(synthetic):
    torch.manual_seed(0)
    model = build_model("tiny")
    model.conv1[1].running_mean.fill_(5.0)  # stale running averages, to be replaced
    images = torch.cat([synthetic.train_images] * 8)[:2000]  # two full batches of EVAL_BATCH = 1000
    recalibrate_batchnorm(model, images, count=2000)
    # by hand: conv1's BatchNorm sees conv1 applied to the normalised pixels
    with torch.no_grad():
        features = model.conv1[0](model.normalize(to_input(images, torch.contiguous_format)))
    per_channel = features.transpose(0, 1).reshape(features.shape[1], -1)
    assert torch.allclose(model.conv1[1].running_mean, per_channel.mean(1), atol=1e-5)
    # two equal batches: the average of their unbiased variances (what BatchNorm keeps)
    halves = per_channel.reshape(features.shape[1], 2, -1)
    assert torch.allclose(model.conv1[1].running_var, halves.var(2).mean(1), rtol=1e-4)
    # the model is back in eval mode with its usual momentum, and dropout was off throughout
    assert not model.training and all(
        m.momentum == 0.1 for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)
    )


def test_recalibration_is_deterministic_and_leaves_the_weights_alone(synthetic):
    torch.manual_seed(1)
    model = build_model("tiny")
    weights = {k: v.clone() for k, v in model.state_dict().items() if "running" not in k and "num_b" not in k}
    recalibrate_batchnorm(model, synthetic.train_images, count=200)
    first = {k: v.clone() for k, v in model.state_dict().items()}
    recalibrate_batchnorm(model, synthetic.train_images, count=200)
    assert all(torch.equal(first[k], v) for k, v in model.state_dict().items())  # dropout did not draw
    assert all(torch.equal(weights[k], model.state_dict()[k]) for k in weights)


@pytest.mark.parametrize(
    "damage,message",
    [
        (lambda good: good[: len(good) // 2], "is corrupt or not a mnist_trainer model"),
        (lambda good: b"", "is corrupt or not a mnist_trainer model (model.pt) (the file is empty)"),
    ],
    ids=["truncated", "empty"],
)
def test_load_model_on_a_damaged_file_raises_a_clear_error(tmp_path, damage, message):
    """Issue 14 item 10: a truncated model.pt gave torch's zip-reader message, cut at 120 characters."""
    path = tmp_path / "model.pt"
    checkpoint.save_model(build_model("tiny"), "tiny", path)
    assert isinstance(checkpoint.load_model(path), torch.nn.Module)  # intact, it loads
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(UserError) as error:
        checkpoint.load_model(path)
    assert message in str(error.value) and "\n" not in str(error.value)
    assert "PytorchStreamReader" not in str(error.value)


def test_load_model_with_weights_of_another_shape_raises_a_clear_error(tmp_path):
    weights = build_model("small").state_dict()  # saved under the name of another preset
    torch.save(
        {"format": checkpoint.MODEL_FORMAT, "preset": "tiny", "state_dict": weights}, tmp_path / "m.pt"
    )
    with pytest.raises(UserError, match="m.pt' is damaged: its weights do not fit the 'tiny' preset"):
        checkpoint.load_model(tmp_path / "m.pt")
