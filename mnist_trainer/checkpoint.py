"""model.pt and checkpoint.pt: plain tensors and dicts only, so torch.load(..., weights_only=True) works.

model.pt holds the preset name and the state_dict (not a pickled module): load_model() rebuilds the
preset and loads the weights. checkpoint.pt holds everything a bit-identical resume needs: model,
optimizer and scheduler state, the run's generator (shuffling, augmentation) and the global RNG
states (dropout), the position inside the epoch, the running sums, and the metrics so far.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import torch
from torch import nn

from mnist_trainer.errors import UserError, atomic_output
from mnist_trainer.model import PRESETS, build_model

MODEL_FORMAT = "mnist_trainer.model/1"
CHECKPOINT_FORMAT = "mnist_trainer.checkpoint/1"


def save_atomic(obj: dict, path: Path) -> None:
    with atomic_output(path) as tmp:
        torch.save(obj, tmp)


def _load(path: Path, what: str) -> dict:
    if not path.is_file():
        raise UserError(f"no {what} at '{path}'")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise UserError(f"'{path}' is not a readable {what} ({first_line[:120]})") from None
    if not isinstance(obj, dict):
        raise UserError(f"'{path}' is not a {what} written by mnist_trainer")
    return obj


def save_model(model: nn.Module, preset: str, path: Path) -> None:
    state = {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}
    save_atomic({"format": MODEL_FORMAT, "preset": preset, "state_dict": state}, path)


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the saved preset with its weights, in eval mode (input: N x 1 x 28 x 28 in [0, 1])."""
    obj = _load(Path(path), "mnist_trainer model (model.pt)")
    if obj.get("format") != MODEL_FORMAT or obj.get("preset") not in PRESETS:
        raise UserError(f"'{path}' is not a model.pt written by mnist_trainer (format {obj.get('format')!r})")
    model = build_model(obj["preset"])
    model.load_state_dict(obj["state_dict"])
    return model.to(device).eval()


def load_checkpoint(run_dir: Path) -> dict:
    path = run_dir / "checkpoint.pt"
    if not run_dir.is_dir():
        raise UserError(f"cannot resume: '{run_dir}' is not a directory; give the RUN_DIR of an earlier run")
    if not path.is_file():
        raise UserError(
            f"cannot resume: '{run_dir}' has no checkpoint.pt; give the RUN_DIR of an earlier run"
        )
    ckpt = _load(path, "checkpoint")
    needed = {"format", "config", "model", "optimizer", "scheduler", "epoch", "batch", "history"}
    if ckpt.get("format") != CHECKPOINT_FORMAT or not needed <= ckpt.keys():
        raise UserError(
            f"cannot resume: '{path}' is not a checkpoint of this version of mnist_trainer "
            f"(format {ckpt.get('format')!r}); start a new run instead"
        )
    if ckpt["config"].get("model") not in PRESETS:
        raise UserError(f"cannot resume: '{path}' names an unknown model {ckpt['config'].get('model')!r}")
    return ckpt
