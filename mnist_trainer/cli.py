"""python -m mnist_trainer: train a small CNN on MNIST to >= 99.4 % test accuracy, on the GPU or the CPU.

Each --model preset brings its own tuned defaults (epochs, batch size, lr, weight decay); any of them
can be overridden. Outputs go to RUN_DIR: metrics.json, metrics.csv, curves.png, misclassified.png,
model.pt (mnist_trainer.load_model(path)) and checkpoint.pt (for --resume).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from mnist_trainer.checkpoint import load_checkpoint
from mnist_trainer.data import default_data_dir, load_mnist
from mnist_trainer.errors import EXIT_USAGE, UserError
from mnist_trainer.model import DEFAULT_MODEL, PRESETS
from mnist_trainer.train import Interrupted, RunConfig, Trainer

PROG = "python -m mnist_trainer"
TUNABLE = ("epochs", "batch_size", "lr", "weight_decay")


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show '(default: X)' except where the default is 'None' (those helps say what None means)."""

    def _get_help_string(self, action):
        return action.help if action.default is None else super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (what was wrong, what to do) and exit status 2."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _preset_defaults(field: str) -> str:
    return ", ".join(f"{name} {getattr(p, field)}" for name, p in PRESETS.items())


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description=__doc__.split("\n\n")[0], formatter_class=_Formatter)
    parser.add_argument(
        "--data-dir",
        default=default_data_dir(),
        help="folder with the four MNIST IDX files (.gz or not, or ROOT/MNIST/raw); "
        "the default is $MNIST_DIR if set",
    )
    parser.add_argument(
        "--download",
        action="store_true",
        help="download MNIST into --data-dir with torchvision first (needs internet)",
    )
    parser.add_argument(
        "--model",
        default=None,
        choices=list(PRESETS),
        help=f"preset (default: {DEFAULT_MODEL}): " + "; ".join(f"{n}: {p.help}" for n, p in PRESETS.items()),
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help=f"training epochs (default: the preset's: {_preset_defaults('epochs')})",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help=f"batch size (default: the preset's: {_preset_defaults('batch_size')})",
    )
    parser.add_argument(
        "--lr",
        type=float,
        default=None,
        help=f"peak one-cycle learning rate of SGD (default: the preset's: {_preset_defaults('lr')})",
    )
    parser.add_argument(
        "--weight-decay",
        type=float,
        default=None,
        help=f"SGD weight decay (default: the preset's: {_preset_defaults('weight_decay')})",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed for init, shuffling, augmentation, dropout (default: 0)"
    )
    parser.add_argument(
        "--device",
        default="auto",
        choices=["auto", "cpu", "cuda", "mps"],
        help="auto picks cuda, then mps, then cpu",
    )
    parser.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="channels_last memory format: 1.4x faster on the CPU here "
        "(see docs/benchmarks.md); results equal up to float rounding",
    )
    parser.add_argument(
        "--out", metavar="RUN_DIR", default=None, help="output folder (default: output/mnist/<timestamp>)"
    )
    parser.add_argument(
        "--resume",
        metavar="RUN_DIR",
        default=None,
        help="continue the interrupted run in RUN_DIR with its own settings (and the same --data-dir)",
    )
    return parser


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


def _positive(args: argparse.Namespace) -> None:
    for field in ("epochs", "batch_size"):
        value = getattr(args, field)
        if value is not None and value <= 0:
            raise UserError(f"--{field.replace('_', '-')} must be a positive integer, got {value}")
    for field in ("lr",):
        value = getattr(args, field)
        if value is not None and not value > 0:
            raise UserError(f"--lr must be positive, got {value}")
    if args.weight_decay is not None and args.weight_decay < 0:
        raise UserError(f"--weight-decay must be >= 0, got {args.weight_decay}")


def check_run_dir(path: Path) -> None:
    """Refuse, before any work, a RUN_DIR that holds an earlier run or could not be created or written."""
    if path.exists() and not path.is_dir():
        raise UserError(f"--out '{path}' exists and is not a directory; choose another --out")
    if (path / "checkpoint.pt").exists():
        raise UserError(
            f"--out '{path}' already holds a run; continue it with --resume {path}, or choose another --out"
        )
    existing = path.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(
            f"cannot create output directory '{path}': '{existing}' is a file; choose another --out"
        )
    if not os.access(existing, os.W_OK):
        raise UserError(
            f"cannot create output directory '{path}': '{existing}' is not writable; choose another --out"
        )


def create_run_dir(path: Path) -> Path:
    """Create RUN_DIR once the data has loaded, so a failed start leaves no empty folder behind."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(
            f"cannot create output directory '{path}': {error.strerror}; choose another --out"
        ) from None
    if not os.access(path, os.W_OK):
        raise UserError(f"output directory '{path}' is not writable; choose another --out")
    return path


def build_config(args: argparse.Namespace) -> tuple[RunConfig, dict | None, Path]:
    """The run's settings: from the preset and flags, or, with --resume, from the checkpoint."""
    if args.resume:
        run_dir = Path(args.resume)
        state = load_checkpoint(run_dir)
        config = RunConfig(**state["config"])
        for field in TUNABLE + ("seed", "model"):
            given = getattr(args, field)  # None: the flag was not given, so it cannot conflict
            if given is not None and given != getattr(config, field):
                flag = "--" + field.replace("_", "-")
                raise UserError(
                    f"cannot resume with {flag} {given}: the run in '{run_dir}' "
                    f"uses {getattr(config, field)}; drop the flag or start a new run"
                )
        if not os.access(run_dir, os.W_OK):
            raise UserError(f"cannot resume: '{run_dir}' is not writable")
        return config, state, run_dir
    model = args.model or DEFAULT_MODEL
    preset = PRESETS[model]
    values = {f: getattr(args, f) if getattr(args, f) is not None else getattr(preset, f) for f in TUNABLE}
    seed = 0 if args.seed is None else args.seed
    config = RunConfig(model=model, seed=seed, channels_last=args.channels_last, **values)
    out = Path(args.out) if args.out else Path("output") / "mnist" / time.strftime("%Y%m%d-%H%M%S")
    return config, None, out


def run(args: argparse.Namespace) -> int:
    _positive(args)
    device = resolve_device(args.device)
    config, state, run_dir = build_config(args)
    if state is None:
        check_run_dir(run_dir)
    data = load_mnist(args.data_dir, device, fetch=args.download)
    if state is None:
        create_run_dir(run_dir)
    for note in data.notes:
        print(note, file=sys.stderr)
    if state is not None:
        if state["epoch"] >= config.epochs:
            print(f"the run in '{run_dir}' already finished all {config.epochs} epochs; nothing to resume")
        else:
            print(
                f"resuming '{run_dir}' after epoch {state['epoch']} batch {state['batch']} "
                f"({', '.join(f'{k}={v}' for k, v in asdict(config).items())})"
            )
    trainer = Trainer(config, data, device, run_dir, resume_state=state)
    if state is not None and state["perm"] is not None and len(state["perm"]) != len(data.train_images):
        raise UserError(
            f"cannot resume: the checkpoint was made with {len(state['perm'])} training images "
            f"but '{args.data_dir}' has {len(data.train_images)}; use the same --data-dir"
        )
    history = trainer.train()
    if history:
        last = history[-1]
        print(f"Done: final test accuracy {last['test_accuracy']:.2f}%; results in {run_dir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        return run(args)
    except UserError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except Interrupted as stop:
        print(f"{PROG}: {stop}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(
            f"{PROG}: interrupted; a run that finished an epoch can continue with --resume RUN_DIR",
            file=sys.stderr,
        )
        return 130
