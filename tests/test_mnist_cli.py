"""python -m mnist_trainer: one-line errors with exit status 2, and an end-to-end run on synthetic files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from test_mnist_data import write_mnist

import mnist_trainer
from mnist_trainer import cli

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mnist")
    arrays = write_mnist(folder, n_train=256, n_test=128, gz=True)
    return folder, arrays


def one_line_error(capsys, argv) -> str:
    status = cli.main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(err) == 1 and err[0].startswith("python -m mnist_trainer: error: "), err
    return err[0]


def test_missing_data_dir(capsys, tmp_path):
    line = one_line_error(capsys, ["--data-dir", str(tmp_path / "none"), "--out", str(tmp_path / "run")])
    assert "train-images-idx3-ubyte" in line and "--data-dir" in line and "--download" in line
    assert not (tmp_path / "run").exists()  # a failed start leaves no empty run folder


@pytest.mark.parametrize("flag,value", [("--epochs", "0"), ("--epochs", "-3"), ("--batch-size", "0")])
def test_non_positive_numbers(capsys, tmp_path, flag, value):
    line = one_line_error(capsys, [flag, value, "--out", str(tmp_path / "run")])
    assert f"{flag} must be a positive integer, got {value}" in line
    assert not (tmp_path / "run").exists()  # refused before anything was created


def test_unknown_model_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--model", "huge"])
    assert stop.value.code == 2
    assert "invalid choice: 'huge'" in capsys.readouterr().err


def test_cuda_requested_without_cuda(capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert "CUDA is not available" in one_line_error(capsys, ["--device", "cuda"])


def test_auto_device_falls_back_to_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert cli.resolve_device("auto") == torch.device("cpu")


def test_unwritable_output_directory(capsys, tmp_path, data_dir):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    line = one_line_error(capsys, ["--data-dir", str(data_dir[0]), "--out", str(blocker / "run")])
    assert "cannot create output directory" in line and "is a file" in line


def test_download_failure_offline(capsys, tmp_path, monkeypatch):
    import torchvision.datasets

    def offline(*args, **kwargs):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nTried https://..., got: URLError")

    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    line = one_line_error(capsys, ["--download", "--data-dir", str(tmp_path), "--out", str(tmp_path / "run")])
    assert "--download failed (Error downloading train-images-idx3-ubyte.gz:)" in line
    assert "--data-dir" in line


def test_resume_errors(capsys, tmp_path):
    assert "is not a directory" in one_line_error(capsys, ["--resume", str(tmp_path / "missing")])
    assert "has no checkpoint.pt" in one_line_error(capsys, ["--resume", str(tmp_path)])
    (tmp_path / "checkpoint.pt").write_bytes(b"garbage, not a zip file")
    assert "not a readable checkpoint" in one_line_error(capsys, ["--resume", str(tmp_path)])
    torch.save({"format": "something else", "weights": torch.zeros(2)}, tmp_path / "checkpoint.pt")
    assert "not a checkpoint of this version" in one_line_error(capsys, ["--resume", str(tmp_path)])


def test_end_to_end_run_outputs_and_independent_reevaluation(tmp_path, data_dir):
    folder, arrays = data_dir
    run_dir = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "mnist_trainer",
        "--data-dir",
        str(folder),
        "--model",
        "tiny",
        "--epochs",
        "2",
        "--batch-size",
        "64",
        "--seed",
        "1",
        "--out",
        str(run_dir),
    ]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    test_lines = re.findall(
        r"Test set: Average loss: (\d+\.\d{4}), Accuracy: (\d+)/128 \((\d+\.\d{2})%\)", done.stdout
    )
    assert len(test_lines) == 2
    assert "receptive" not in done.stderr and "Model: tiny" in done.stdout and "total" in done.stdout
    assert "Traceback" not in done.stderr

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics) >= {"params", "device", "seed", "epochs"}
    assert (metrics["device"], metrics["seed"]) == ("cpu", 1)
    fields = ["epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr", "seconds"]
    assert [list(e) for e in metrics["epochs"]] == [fields, fields]
    csv_lines = (run_dir / "metrics.csv").read_text().splitlines()
    assert csv_lines[0] == ",".join(fields) and len(csv_lines) == 3
    for epoch, (loss, correct, percent) in zip(metrics["epochs"], test_lines, strict=True):
        assert epoch["test_accuracy"] == pytest.approx(100 * int(correct) / 128)
        assert f"{epoch['test_accuracy']:.2f}" == percent and f"{epoch['test_loss']:.4f}" == loss
        assert 0 <= epoch["train_accuracy"] <= 100 and epoch["seconds"] > 0 and epoch["lr"] > 0
    for name in ("curves.png", "misclassified.png"):
        assert (run_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(run_dir.glob(".*.tmp"))  # every write was renamed into place

    # independent re-evaluation of model.pt: arrays as written (not the trainer's loader), other batch size
    model = mnist_trainer.load_model(run_dir / "model.pt")
    assert metrics["params"] == sum(p.numel() for p in model.parameters()) <= 4000
    images = torch.from_numpy(arrays["t10k-images-idx3-ubyte"]).float().div(255).unsqueeze(1)
    labels = torch.from_numpy(arrays["t10k-labels-idx1-ubyte"].astype(np.int64))
    with torch.no_grad():
        predicted = torch.cat([model(images[i : i + 50]).argmax(1) for i in range(0, 128, 50)])
    assert 100 * (predicted == labels).sum().item() / 128 == metrics["epochs"][-1]["test_accuracy"]

    # a finished run refuses to be overwritten, and --resume with other settings is refused
    again = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "already holds a run" in again.stderr and "Traceback" not in again.stderr
    # the run is tiny, seed 1: naming the defaults of a new run (--model base, --seed 0) conflicts too
    for flag, value in (
        ("--epochs", "5"),
        ("--model", "small"),
        ("--seed", "7"),
        ("--model", "base"),
        ("--seed", "0"),
    ):
        assert cli.main(["--resume", str(run_dir), flag, value, "--data-dir", str(folder)]) == 2
