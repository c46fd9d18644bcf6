"""model.pt and checkpoint.pt: their formats, written and read (and checked) here only.

Both hold plain tensors and dicts only, so torch.load(..., weights_only=True) works.

model.pt holds the preset name and the state_dict (not a pickled module): load_model() rebuilds the
preset and loads the weights. checkpoint.pt holds everything a bit-identical resume needs (the fields
of Checkpoint): model, optimizer and scheduler state, the run's generator (shuffling, augmentation)
and the global RNG states (dropout), the position inside the epoch, the running sums, the metrics so
far, and the identity of the data it was trained on (so a resume on other files is refused).
"""

from __future__ import annotations

import io
import os
import warnings
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path

import torch
from torch import nn

from mnist_trainer.errors import UserError, atomic_output
from mnist_trainer.model import PRESETS, build_model

MODEL_FORMAT = "mnist_trainer.model/1"
# 2 added "data" (the training files' sizes and md5s); a version-1 checkpoint still resumes, unchecked
CHECKPOINT_FORMAT = "mnist_trainer.checkpoint/2"
READABLE_CHECKPOINTS = ("mnist_trainer.checkpoint/1", CHECKPOINT_FORMAT)


@dataclass
class Checkpoint:
    """A run stopped at a batch boundary: what checkpoint.pt holds besides its format tag."""

    config: dict  # the fields of train.RunConfig
    device_type: str  # RNG states only fit a device of the same type
    model: dict
    optimizer: dict
    scheduler: dict
    rng: dict
    epoch: int  # completed epochs
    batch: int  # completed batches of the current epoch
    perm: torch.Tensor | None  # this epoch's shuffling order (None at an epoch boundary)
    sums: dict  # running loss, correct, seen, seconds of the current epoch
    history: list  # one dict of metrics per completed epoch
    data: dict | None  # data.MnistSplits.identity; None in a version-1 checkpoint
    data_dir: str | None = None  # the data folder, absolute (--resume's default); None in older ones


def save_atomic(obj: dict, path: Path) -> None:
    """torch.save into memory (a checkpoint is under a few MB), then the bytes to the file: a full disk
    is then Python's OSError (one line), not torch's "unexpected pos" RuntimeError."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_output(path) as tmp:
        tmp.write_bytes(buffer.getbuffer())


def _why_unreadable(path: Path) -> str:
    """A short reason for a file torch.load refused (torch's own message is a page of advice)."""
    if path.stat().st_size == 0:
        return "the file is empty"
    if not zipfile.is_zipfile(path):
        return "truncated, or not a file saved by torch"
    return "it holds more than tensors and plain data"


def _load(path: Path, what: str) -> dict:
    if not path.is_file():
        raise UserError(f"no {what} at '{path}'")
    try:
        # torch warns (two lines of advice) before refusing a raw pickle; our one line says it all
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # whatever torch.load trips over, the file is not one we wrote
        raise UserError(f"'{path}' is corrupt or not a {what} ({_why_unreadable(path)})") from None
    if not isinstance(obj, dict):
        raise UserError(f"'{path}' is not a {what} written by mnist_trainer")
    return obj


def save_model(model: nn.Module, preset: str, path: Path) -> None:
    state = {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}
    save_atomic({"format": MODEL_FORMAT, "preset": preset, "state_dict": state}, path)


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the saved preset with its weights, in eval mode (input: N x 1 x 28 x 28 in [0, 1]).

    A missing, truncated or foreign file raises UserError with a one-line message.
    """
    obj = _load(Path(path), "mnist_trainer model (model.pt)")
    if obj.get("format") != MODEL_FORMAT or obj.get("preset") not in PRESETS:
        raise UserError(f"'{path}' is not a model.pt written by mnist_trainer (format {obj.get('format')!r})")
    model = build_model(obj["preset"])
    try:
        model.load_state_dict(obj["state_dict"])
    except (RuntimeError, TypeError, AttributeError):
        raise UserError(
            f"'{path}' is damaged: its weights do not fit the {obj['preset']!r} preset's layers"
        ) from None
    return model.to(device).eval()


def save_checkpoint(state: Checkpoint, run_dir: Path) -> None:
    obj = {f.name: getattr(state, f.name) for f in fields(Checkpoint)}
    save_atomic({"format": CHECKPOINT_FORMAT, **obj}, run_dir / "checkpoint.pt")


def load_checkpoint(run_dir: Path) -> Checkpoint:
    path = run_dir / "checkpoint.pt"
    try:
        obj = _load(path, "checkpoint")
    except UserError as error:
        raise UserError(f"cannot resume: {error}; start a new run with another --out") from None
    needed = {f.name for f in fields(Checkpoint)} - {"data", "data_dir"}
    if obj.get("format") not in READABLE_CHECKPOINTS or not needed <= obj.keys():
        raise UserError(
            f"cannot resume: '{path}' is not a checkpoint of this version of mnist_trainer "
            f"(format {obj.get('format')!r}); start a new run instead"
        )
    state = Checkpoint(**{f.name: obj.get(f.name) for f in fields(Checkpoint)})
    well_formed = (
        isinstance(state.config, dict)
        and all(isinstance(getattr(state, f), int) for f in ("epoch", "batch"))
        and isinstance(state.history, list)
        and isinstance(state.sums, dict)
        and (state.data is None or isinstance(state.data, dict))
        and (state.data_dir is None or isinstance(state.data_dir, str))
    )
    if not well_formed:
        raise UserError(
            f"cannot resume: '{path}' is damaged (its fields have the wrong types); start a new run"
        )
    if state.config.get("model") not in PRESETS:
        raise UserError(f"cannot resume: '{path}' names an unknown model; start a new run instead")
    return state


def check_same_data(state: Checkpoint, identity: dict, run_dir: Path, data_dir: str) -> str | None:
    """Refuse to resume on files other than the run's own; a note when the checkpoint cannot tell."""
    if state.data is None:
        return f"note: '{run_dir}' is from an older version that did not record its data; not checked"
    changed = [name for name in identity if state.data.get(name) != identity[name]]
    if not changed:
        return None
    first = changed[0]
    (now_size, now_md5), was = identity[first], state.data.get(first)
    was_size, was_md5 = was if isinstance(was, tuple) and len(was) == 2 else ("?", "?")
    raise UserError(
        f"cannot resume: '{data_dir}' holds other data than the run in '{run_dir}': "
        f"{' and '.join(changed)} differ{'s' if len(changed) == 1 else ''} ({first}: {now_size} bytes, "
        f"md5 {now_md5[:12]}; the run used {was_size} bytes, md5 {was_md5[:12]}); "
        f"give the run's own --data-dir"
    )
