"""Start or resume one training run from the checked command line (cli.py parses and checks; torch here).

Every check comes before the first file is written: a refused command (bad device, a damaged checkpoint,
flags that contradict it, a resume on other data) changes nothing.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

import torch

from mnist_trainer.checkpoint import Checkpoint, check_same_data, load_checkpoint
from mnist_trainer.data import MnistFiles, default_data_dir, download, read_mnist, to_device
from mnist_trainer.errors import UserError, remove_stale_temporaries
from mnist_trainer.presets import DEFAULT_MODEL, PRESETS, TUNABLE
from mnist_trainer.run_dir import create_run_dir
from mnist_trainer.train import RunConfig, Trainer


def resolve_device(name: str) -> torch.device:
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if name == "cuda" and not cuda:
        raise UserError(
            f"--device cuda: CUDA is not available here (torch {torch.__version__}); "
            f"use --device cpu or --device auto"
        )
    if name == "mps" and not mps:
        raise UserError("--device mps: Apple MPS is not available here; use --device cpu or --device auto")
    return torch.device(name)


def build_config(args: argparse.Namespace) -> tuple[RunConfig, Checkpoint | None, Path]:
    """The run's settings: from the preset and flags, or, with --resume, from the checkpoint."""
    if args.resume is not None:
        run_dir = Path(args.resume)
        state = load_checkpoint(run_dir)
        try:
            config = RunConfig(**state.config)
        except TypeError:
            raise UserError(
                f"cannot resume: the settings in '{run_dir / 'checkpoint.pt'}' are not this version's; "
                f"start a new run"
            ) from None
        for field in TUNABLE + ("seed", "model"):
            given = getattr(args, field)  # None: the flag was not given, so it cannot conflict
            if given is not None and given != getattr(config, field):
                flag = "--" + field.replace("_", "-")
                raise UserError(
                    f"cannot resume with {flag} {given}: the run in '{run_dir}' "
                    f"uses {getattr(config, field)}; drop the flag or start a new run"
                )
        return config, state, run_dir
    model = args.model or DEFAULT_MODEL
    preset = PRESETS[model]
    values = {f: getattr(args, f) if getattr(args, f) is not None else getattr(preset, f) for f in TUNABLE}
    seed = 0 if args.seed is None else args.seed
    config = RunConfig(model=model, seed=seed, channels_last=args.channels_last, **values)
    return config, None, Path(args.out)


def launch(args: argparse.Namespace, files: MnistFiles | None) -> int:
    """Train (files: the data read and checked by cli.check_paths; None: --download it first)."""
    device = resolve_device(args.device)
    config, state, run_dir = build_config(args)
    if args.data_dir is None:  # --resume without --data-dir: the folder the run was trained on
        args.data_dir = state.data_dir if state is not None and state.data_dir else default_data_dir()
    if files is None:
        if args.download:
            download(Path(args.data_dir))
        files = read_mnist(args.data_dir)
    data = to_device(files, device)
    notes = list(data.notes)
    if state is not None:
        note = check_same_data(state, data.identity, run_dir, args.data_dir)
        notes += [note] if note else []
        if state.perm is not None and len(state.perm) != len(data.train_images):
            raise UserError(
                f"cannot resume: the checkpoint was made with {len(state.perm)} training images "
                f"but '{args.data_dir}' has {len(data.train_images)}; use the same --data-dir"
            )
    trainer = Trainer(config, data, device, run_dir, resume_state=state)  # checks the saved state
    # all checks passed: from here on files are written
    if state is None:
        create_run_dir(run_dir)
    remove_stale_temporaries(run_dir)  # left by a kill -9 between a write and its rename
    for note in notes:
        print(note, file=sys.stderr)
    if state is not None:
        if state.epoch >= config.epochs:
            print(f"the run in '{run_dir}' already finished all {config.epochs} epochs; nothing to resume")
        else:
            print(
                f"resuming '{run_dir}' after epoch {state.epoch} batch {state.batch} "
                f"({', '.join(f'{k}={v}' for k, v in asdict(config).items())})"
            )
    history = trainer.train()
    if history:
        last = history[-1]
        print(f"Done: final test accuracy {last['test_accuracy']:.2f}%; results in {run_dir}")
    return 0
