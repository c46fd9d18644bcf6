"""python -m mnist_trainer: one-line errors with exit status 2, and an end-to-end run on synthetic files."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from test_mnist_data import idx_bytes, write_mnist

import mnist_trainer
from mnist_trainer import checkpoint, cli, launch, model

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mnist")
    arrays = write_mnist(folder, n_train=256, n_test=128, gz=True)
    return folder, arrays


def one_line_error(capsys, argv) -> str:
    try:
        status = cli.main(argv)
    except SystemExit as stop:  # argparse refuses unknown flags and malformed numbers itself
        status = stop.code
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(err) == 1 and err[0].startswith("python -m mnist_trainer: error: "), err
    return err[0]


def test_missing_data_dir(capsys, tmp_path):
    line = one_line_error(capsys, ["--data-dir", str(tmp_path / "none"), "--out", str(tmp_path / "run")])
    assert "train-images-idx3-ubyte" in line and "--data-dir" in line and "--download" in line
    assert not (tmp_path / "run").exists()  # a failed start leaves no empty run folder


@pytest.mark.parametrize(
    "flag,value,expected",
    [
        ("--epochs", "0", "a whole number from 1 to"),
        ("--epochs", "-3", "a whole number from 1 to"),
        ("--epochs", "1.5", "a whole number from 1 to"),
        ("--batch-size", "0", "a whole number from 1 to"),
        ("--batch-size", "99999999999999999999", "a whole number from 1 to 2147483647"),
        ("--lr", "inf", "a finite number > 0"),
        ("--lr", "nan", "a finite number > 0"),
        ("--lr", "1e999", "a finite number > 0"),  # parses as inf
        ("--lr", "-0.1", "a finite number > 0"),
        ("--lr", "0", "a finite number > 0"),
        ("--weight-decay", "nan", "a finite number >= 0"),
        ("--weight-decay", "-inf", "a finite number >= 0"),  # given as --weight-decay=-inf
        ("--weight-decay", "-1e-4", "a finite number >= 0"),
        ("--seed", "99999999999999999999999", "a seed from 0 to 18446744073709551615"),
        ("--seed", "-1", "a seed from 0 to 18446744073709551615"),
        ("--seed", "0.5", "a seed from 0 to 18446744073709551615"),
    ],
)
def test_invalid_numbers_are_refused_at_parse_time(capsys, tmp_path, data_dir, flag, value, expected):
    """Issue 14 items 2 and 3: nan/inf trained to a loss of nan; a huge seed crashed, leaving RUN_DIR."""
    argv = [
        "--data-dir",
        str(data_dir[0]),
        "--model",
        "tiny",
        "--epochs",
        "2",
        "--out",
        str(tmp_path / "run"),
    ]
    line = one_line_error(capsys, argv + [f"{flag}={value}"])  # '=': argparse takes "-inf" for a flag
    assert f"argument {flag}: expected {expected}" in line and value in line
    assert not (tmp_path / "run").exists()  # refused before anything was created


def test_the_largest_seed_is_accepted_by_torch():
    torch.Generator().manual_seed(cli.MAX_SEED)  # the range the refusal states is torch's own
    with pytest.raises((RuntimeError, ValueError)):
        torch.Generator().manual_seed(cli.MAX_SEED + 1)
    assert cli.seed_number(str(cli.MAX_SEED)) == 2**64 - 1


def test_unknown_model_is_a_usage_error(capsys):
    assert "invalid choice: 'huge'" in one_line_error(capsys, ["--model", "huge"])


def test_cli_and_model_share_one_preset_table():
    assert cli.PRESETS is model.PRESETS and cli.DEFAULT_MODEL == model.DEFAULT_MODEL


IMPORT_CHECK = """
import sys
from mnist_trainer import cli
try:
    cli.main(sys.argv[1:])
except SystemExit:
    pass
print(sorted({m.split(".")[0] for m in sys.modules} & {"torch", "matplotlib", "torchvision"}))
"""


@pytest.mark.parametrize("argv", [["--help"], ["--bogus"], ["--lr", "nan"], ["--model", "huge"]])
def test_help_and_usage_errors_do_not_import_torch(argv):
    """--help took 3 s and 666 MB when torch and matplotlib loaded before the arguments were parsed."""
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_CHECK, *argv], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr


def test_python_m_help_does_not_import_torch():
    """The real entry point (package __init__, __main__) too: -X importtime lists every module imported."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mnist_trainer", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "--resume RUN_DIR" in done.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert "mnist_trainer.cli" in imported
    assert not {m for m in imported if m.split(".")[0] in ("torch", "matplotlib")}


def test_cuda_requested_without_cuda(capsys, monkeypatch, tmp_path, data_dir):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    argv = ["--device", "cuda", "--data-dir", str(data_dir[0]), "--out", str(tmp_path / "run")]
    assert "CUDA is not available" in one_line_error(capsys, argv)
    assert not (tmp_path / "run").exists()


def test_auto_device_falls_back_to_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert launch.resolve_device("auto") == torch.device("cpu")


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


def test_resume_errors(capsys, tmp_path, data_dir):
    assert "is not a directory" in one_line_error(capsys, ["--resume", str(tmp_path / "missing")])
    assert "has no checkpoint.pt" in one_line_error(capsys, ["--resume", str(tmp_path)])
    torch.save({"format": "something else", "weights": torch.zeros(2)}, tmp_path / "checkpoint.pt")
    line = one_line_error(capsys, ["--resume", str(tmp_path), "--data-dir", str(data_dir[0])])
    assert "not a checkpoint of this version" in line


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, data_dir):
    """A 1-epoch tiny run on the synthetic files, made once; tests copy it before they change it."""
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    argv = ["--data-dir", str(data_dir[0]), "--model", "tiny", "--epochs", "1", "--batch-size", "64"]
    assert cli.main(argv + ["--seed", "1", "--out", str(run_dir)]) == 0
    return run_dir


def copy_of(run_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run_dir, tmp_path / "run"))


def files_of(folder: Path) -> dict:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}


@pytest.mark.parametrize(
    "damage,reason",
    [
        (lambda good: b"garbage, not a zip file", "truncated, or not a file saved by torch"),
        (lambda good: good[: len(good) // 2], "truncated, or not a file saved by torch"),
        (lambda good: b"", "the file is empty"),
    ],
    ids=["garbage", "truncated", "empty"],
)
def test_corrupt_checkpoint_is_one_line_of_our_own(capsys, tmp_path, finished_run, data_dir, damage, reason):
    """Issue 14 item 10: torch's 'Weights only load failed ... In PyTorch 2.6 ...' advice reached users."""
    run = copy_of(finished_run, tmp_path)
    (run / "checkpoint.pt").write_bytes(damage((run / "checkpoint.pt").read_bytes()))
    before = files_of(run)
    line = one_line_error(capsys, ["--resume", str(run), "--data-dir", str(data_dir[0])])
    assert f"'{run / 'checkpoint.pt'}' is corrupt or not a checkpoint ({reason})" in line
    assert "PyTorch" not in line and "weights_only" not in line and "Weights only" not in line
    assert files_of(run) == before


def test_checkpoint_with_foreign_objects_is_refused(capsys, tmp_path, data_dir):
    torch.save({"format": "mnist_trainer.checkpoint/2", "config": Fraction(1, 3)}, tmp_path / "checkpoint.pt")
    line = one_line_error(capsys, ["--resume", str(tmp_path), "--data-dir", str(data_dir[0])])
    assert "is corrupt or not a checkpoint (it holds more than tensors and plain data)" in line


def test_checkpoint_records_the_data_it_was_trained_on(finished_run, data_dir):
    """The md5s of the four uncompressed files, computed here from the arrays that were written."""
    state = checkpoint.load_checkpoint(finished_run)
    expected = {}
    for name, array in data_dir[1].items():
        raw = idx_bytes(array)
        expected[name] = (len(raw), hashlib.md5(raw).hexdigest())
    assert state.data == expected


def test_resume_on_other_data_is_refused_and_changes_nothing(capsys, tmp_path, finished_run, data_dir):
    """Issue 14 item 5: a finished run resumed on other files was accepted and rewrote misclassified.png."""
    other = tmp_path / "other"
    shutil.copytree(data_dir[0], other)
    labels = data_dir[1]["t10k-labels-idx1-ubyte"]
    (other / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes((labels + 1) % 10)))
    run = copy_of(finished_run, tmp_path)
    before = files_of(run)
    line = one_line_error(capsys, ["--resume", str(run), "--data-dir", str(other)])
    assert f"'{other}' holds other data than the run in '{run}': t10k-labels-idx1-ubyte differs" in line
    assert "give the run's own --data-dir" in line
    assert files_of(run) == before  # misclassified.png and the rest untouched


def test_resume_on_the_same_data_in_another_form_is_accepted(capsys, tmp_path, finished_run, data_dir):
    """Uncompressed copies of the same files in another folder are the same data."""
    raw_copy = tmp_path / "raw"
    write_mnist(raw_copy, n_train=256, n_test=128, gz=False)  # the fixture's arrays (same seed), not gzipped
    run = copy_of(finished_run, tmp_path)
    assert cli.main(["--resume", str(run), "--data-dir", str(raw_copy)]) == 0
    assert "already finished all 1 epochs" in capsys.readouterr().out


def test_stale_temporaries_are_removed_at_resume(tmp_path, finished_run, data_dir):
    """Issue 14 item 6: a kill -9 between a checkpoint's write and rename left a full-size temporary."""
    run = copy_of(finished_run, tmp_path)
    stale = [run / ".checkpoint.pt.k3j9x0q2.tmp", run / ".model.pt.abcdefgh.tmp"]
    shutil.copy(run / "checkpoint.pt", stale[0])
    shutil.copy(run / "model.pt", stale[1])
    own = run / ".my-notes.tmp"  # not a name atomic_output makes: left alone
    own.write_text("mine")
    assert cli.main(["--resume", str(run), "--data-dir", str(data_dir[0])]) == 0
    assert not any(path.exists() for path in stale) and own.read_text() == "mine"


def test_stale_temporaries_are_removed_at_a_new_start(tmp_path, data_dir):
    """A kill -9 during the first checkpoint's rename leaves no checkpoint.pt: the folder is started again."""
    run = tmp_path / "run"
    run.mkdir()
    stale = run / ".checkpoint.pt.zz9x0q2a.tmp"
    stale.write_bytes(b"\0" * 100_000)
    argv = ["--data-dir", str(data_dir[0]), "--model", "tiny", "--epochs", "1", "--out", str(run)]
    assert cli.main(argv) == 0
    assert not stale.exists() and (run / "checkpoint.pt").is_file()


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
