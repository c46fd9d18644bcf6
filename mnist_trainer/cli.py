"""python -m mnist_trainer: train a small CNN on MNIST to >= 99.4 % test accuracy, on the GPU or the CPU.

Each --model preset brings its own tuned defaults (epochs, batch size, lr, weight decay); any of them
can be overridden. Outputs go to RUN_DIR: metrics.json, metrics.csv, curves.png, misclassified.png,
model.pt (mnist_trainer.load_model(path)) and checkpoint.pt (for --resume).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
import time
from pathlib import Path

from mnist_trainer.data import MnistFiles, default_data_dir, read_mnist
from mnist_trainer.errors import EXIT_USAGE, Interrupted, UserError
from mnist_trainer.presets import DEFAULT_MODEL, PRESETS
from mnist_trainer.run_dir import check_new_run_dir, check_resume_dir

PROG = "python -m mnist_trainer"
MAX_SEED = 2**64 - 1  # torch.manual_seed takes 0 .. 2**64 - 1
MAX_COUNT = 2**31 - 1  # epochs and batch sizes beyond this are typos, and torch indexes with int64


def _shown(text: str) -> str:
    """The value as typed, cut short if it is long (a 5,000-digit seed would fill the screen)."""
    return repr(text if len(text) <= 40 else text[:30] + "...")


def _whole_number(low: int, high: int, what: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {_shown(text)}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {what}, got {_shown(text)}")
        return value

    return parse


def _real_number(at_least_zero: bool):
    what = "a finite number >= 0" if at_least_zero else "a finite number > 0"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {_shown(text)}") from None
        # nan and inf (also "1e999") parse as floats but train to a loss of nan
        if not math.isfinite(value) or value < 0 or (value == 0 and not at_least_zero):
            raise argparse.ArgumentTypeError(f"expected {what}, got {_shown(text)}")
        return value

    return parse


positive_count = _whole_number(1, MAX_COUNT, f"a whole number from 1 to {MAX_COUNT}")
seed_number = _whole_number(0, MAX_SEED, f"a seed from 0 to {MAX_SEED} (2**64 - 1)")
positive_real = _real_number(at_least_zero=False)
non_negative_real = _real_number(at_least_zero=True)


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show '(default: X)' except where the default is 'None' (those helps say what None means)."""

    def _get_help_string(self, action):
        return action.help if action.default is None else super()._get_help_string(action)


def one_line(message: str) -> str:
    """A message on one line even when it quotes a path with a newline in it."""
    return message.replace("\r", "\\r").replace("\n", "\\n")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (what was wrong, what to do) and exit status 2."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, one_line(f"{self.prog}: error: {message} (see {self.prog} --help)") + "\n")


def _preset_defaults(field: str) -> str:
    return ", ".join(f"{name} {getattr(p, field)}" for name, p in PRESETS.items())


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description=__doc__.split("\n\n")[0], formatter_class=_Formatter)
    parser.add_argument(
        "--data-dir",
        default=None,
        help="folder with the four MNIST IDX files (.gz or not, or ROOT/MNIST/raw) (default: $MNIST_DIR "
        f"if set, else {os.path.join('data', 'mnist')}; with --resume, the folder the run was trained on)",
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
        type=positive_count,
        default=None,
        help=f"training epochs (default: the preset's: {_preset_defaults('epochs')})",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_count,
        default=None,
        help=f"batch size (default: the preset's: {_preset_defaults('batch_size')})",
    )
    parser.add_argument(
        "--lr",
        type=positive_real,
        default=None,
        help=f"peak one-cycle learning rate of SGD (default: the preset's: {_preset_defaults('lr')})",
    )
    parser.add_argument(
        "--weight-decay",
        type=non_negative_real,
        default=None,
        help=f"SGD weight decay (default: the preset's: {_preset_defaults('weight_decay')})",
    )
    parser.add_argument(
        "--seed",
        type=seed_number,
        default=None,
        help="seed for init, shuffling, augmentation, dropout, 0 to 2**64 - 1 (default: 0)",
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
        help="continue the interrupted run in RUN_DIR with its own settings, on the data it was trained on "
        "(its folder unless --data-dir is given; other files are refused); "
        "Ctrl-C or SIGTERM during a run saves a checkpoint and exits with 130 or 143",
    )
    return parser


def check_paths(args: argparse.Namespace) -> MnistFiles | None:
    """What can be checked before torch loads: the run folder, and the data (unless --download fetches it).

    The commonest mistakes (no data at --data-dir, an --out that holds a run) are refused at once.
    """
    for flag, value in (("--out", args.out), ("--resume", args.resume), ("--data-dir", args.data_dir)):
        if value is not None and not value.strip():
            raise UserError(f"{flag} is empty; give it a folder")
    if args.resume is not None:
        check_resume_dir(Path(args.resume))
        if args.data_dir is None:  # the run's own folder, which only its checkpoint (torch) knows
            return None
    else:
        check_new_run_dir(Path(args.out))
    if args.data_dir is None:
        args.data_dir = default_data_dir()
    return None if args.download else read_mnist(args.data_dir)


class Terminated(KeyboardInterrupt):
    """SIGTERM before training starts (reading the data, loading torch): unwinds as Ctrl-C does."""


def _terminate(signum, frame):
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    previous = None
    with contextlib.suppress(ValueError):  # only the main thread may set handlers
        previous = signal.signal(signal.SIGTERM, _terminate)  # training installs its own (train._StopFlag)
    try:
        return _main(args)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main(args: argparse.Namespace) -> int:
    if args.out is None:  # fixed once, so the checks and the run see the same folder
        args.out = str(Path("output") / "mnist" / time.strftime("%Y%m%d-%H%M%S"))
    try:
        files = check_paths(args)
        # only now: torch and matplotlib take seconds to load, and a refused command should not wait
        from mnist_trainer.launch import launch

        return launch(args, files)
    except UserError as error:
        print(one_line(f"{PROG}: error: {error}"), file=sys.stderr)
        return EXIT_USAGE
    except Interrupted as stop:
        print(f"{PROG}: {stop}", file=sys.stderr)
        return stop.exit_status
    except KeyboardInterrupt as stop:
        how, status = ("terminated (SIGTERM)", 143) if isinstance(stop, Terminated) else ("interrupted", 130)
        print(
            f"{PROG}: {how}; a run that finished an epoch can continue with --resume RUN_DIR",
            file=sys.stderr,
        )
        return status
