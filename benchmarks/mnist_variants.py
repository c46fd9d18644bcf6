"""Train one variant of the network with the project's Trainer: the screening runs in docs/mnist-results.md.

    python benchmarks/mnist_variants.py --seed 1            # = the `tiny` preset, seed 1
    python benchmarks/mnist_variants.py --seed 1 --separable after-pool --widths 8,12,0,16,20,24,28 \
        --bn-recalibration 0                                # row J of docs/mnist-results.md
    python benchmarks/mnist_variants.py --preset micro --seed 4   # = the `micro` preset, seed 4

Every setting starts from a preset's (--preset, default tiny), so a variant names only what it changes.

A variant is the MnistNet family with any widths, with the 3x3 convolutions after conv1 (`all`) or after
the pool (`after-pool`) depthwise-separable, plus the few changes that the screening tried and the
trainer does not offer: BatchNorm+ReLU between the depthwise and the 1x1 convolution, the pool after
conv3, label smoothing, the last K epochs without augmentation, a one cycle that ends early (the
later epochs keep its final learning rate), and an exponential moving average (EMA) of the weights
evaluated beside the model. Everything else is the Trainer's own loop (one-cycle
SGD, seeded shuffling and augmentation), so a variant equal to a preset reproduces that preset's
`python -m mnist_trainer` run (bit for bit with the same number of threads). Prints the test accuracy
per epoch and appends one JSON line per run to --results.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mnist_trainer import train  # noqa: E402
from mnist_trainer.data import load_mnist  # noqa: E402
from mnist_trainer.model import PRESETS, Normalize, Preset, conv_block, separable_block  # noqa: E402


def separable(cin: int, cout: int, dropout: float, bn_between: bool) -> nn.Sequential:
    if not bn_between:
        return separable_block(cin, cout, dropout)
    # MobileNet's order: the depthwise output gets its own BatchNorm and ReLU
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cin, 3, groups=cin, bias=False),
        nn.BatchNorm2d(cin),
        nn.ReLU(),
        nn.Conv2d(cin, cout, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(),
    ]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def build_variant(args: argparse.Namespace) -> nn.Sequential:
    """MnistNet's layer order; only the blocks and the pool's place change."""
    c1, c2, ct, c3, c4, c5, c6 = args.widths
    p = args.dropout

    def conv3x3(cin: int, cout: int, dropout: float, layer: int) -> nn.Sequential:
        if args.separable == "all" or (args.separable == "after-pool" and layer >= 3):
            return separable(cin, cout, dropout, args.bn_between)
        return conv_block(cin, cout, 3, dropout)

    net = nn.Sequential()
    net.add_module("normalize", Normalize())
    net.add_module("conv1", conv_block(1, c1, 3, 0.0))
    net.add_module("conv2", conv3x3(c1, c2, 0.0, 2))
    if not args.pool_after_conv3:
        net.add_module("pool", nn.MaxPool2d(2))
    if ct:
        net.add_module("trans", conv_block(c2, ct, 1, 0.0))
    net.add_module("conv3", conv3x3(ct or c2, c3, 0.0 if args.pool_after_conv3 else p, 3))
    if args.pool_after_conv3:  # one more layer at full resolution; RF 20 at conv6 instead of 22
        net.add_module("pool", nn.MaxPool2d(2))
    net.add_module("conv4", conv3x3(c3, c4, p, 4))
    net.add_module("conv5", conv3x3(c4, c5, p, 5))
    net.add_module("conv6", conv3x3(c5, c6, 0.0, 6))
    net.add_module("gap", nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()))
    net.add_module("fc", nn.Linear(c6, 10))
    net.preset = "variant"
    return net


class OneCycleThenHold(torch.optim.lr_scheduler.OneCycleLR):
    """One cycle over the first total_steps; after it, the learning rate stays at its final value."""

    def step(self, epoch=None):
        if self.last_epoch < self.total_steps - 1:
            super().step()


class VariantTrainer(train.Trainer):
    """The Trainer with the screening's optional tweaks: clean last epochs and an EMA evaluated beside."""

    def __init__(self, args: argparse.Namespace, *rest, **kw):
        self.args = args
        super().__init__(*rest, **kw)
        self.ema_accuracy: list[float] = []
        if args.anneal_epochs:  # the one cycle ends after anneal_epochs; the rest run at its final lr
            self.scheduler = OneCycleThenHold(
                self.optimizer,
                max_lr=self.config.lr,
                total_steps=args.anneal_epochs * self.steps_per_epoch,
                pct_start=0.2 * self.config.epochs / args.anneal_epochs,
                div_factor=10.0,
                final_div_factor=100.0,
            )
        self.ema = copy.deepcopy(self.model) if args.ema else None
        if self.ema is not None:
            step = self.optimizer.step

            def step_and_average(*a, **k):
                result = step(*a, **k)
                with torch.no_grad():
                    for avg, now in zip(
                        self.ema.state_dict().values(), self.model.state_dict().values(), strict=True
                    ):
                        avg.lerp_(now, 1 - args.ema) if avg.dtype.is_floating_point else avg.copy_(now)
                return result

            self.optimizer.step = step_and_average

    def _train_epoch(self, stop):
        if self.epoch >= self.config.epochs - self.args.clean_epochs:
            self.augment = lambda images, generator: images
        super()._train_epoch(stop)

    def _finish_epoch(self):
        if self.ema is not None:
            _, correct, _ = train.evaluate(
                self.ema, self.data.test_images, self.data.test_labels, self.memory_format
            )
            self.ema_accuracy.append(100 * correct / len(self.data.test_labels))
            print(
                f"EMA of the weights: Accuracy: {correct}/{len(self.data.test_labels)} "
                f"({self.ema_accuracy[-1]:.2f}%)",
                flush=True,
            )
        super()._finish_epoch()


def main() -> int:
    # the preset named by --preset supplies every default below; read it before the full parser is built
    chosen = argparse.ArgumentParser(add_help=False)
    chosen.add_argument("--preset", choices=[n for n in PRESETS if PRESETS[n].separable], default="tiny")
    preset = PRESETS[chosen.parse_known_args()[0].preset]
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--preset",
        choices=[n for n in PRESETS if PRESETS[n].separable],
        default="tiny",
        help="the separable preset whose widths and recipe are the defaults of every option below",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--widths",
        type=lambda s: tuple(int(w) for w in s.split(",")),
        default=preset.widths,
        help="conv1,conv2,trans,conv3,conv4,conv5,conv6 (trans 0: none)",
    )
    parser.add_argument(
        "--separable",
        choices=["none", "after-pool", "all"],
        default="all",
        help="which 3x3 convolutions after conv1 are depthwise-separable",
    )
    parser.add_argument("--bn-between", action="store_true", help="BN+ReLU after each depthwise conv")
    parser.add_argument("--pool-after-conv3", action="store_true")
    parser.add_argument("--dropout", type=float, default=preset.dropout)
    parser.add_argument("--lr", type=float, default=preset.lr)
    parser.add_argument("--batch-size", type=int, default=preset.batch_size)
    parser.add_argument("--weight-decay", type=float, default=preset.weight_decay)
    parser.add_argument("--degrees", type=float, default=preset.degrees)
    parser.add_argument("--scale", type=float, default=preset.scale)
    parser.add_argument("--shift", type=float, default=preset.shift)
    parser.add_argument("--label-smoothing", type=float, default=0.0)
    parser.add_argument("--clean-epochs", type=int, default=0, help="last K epochs without augmentation")
    parser.add_argument(
        "--anneal-epochs",
        type=int,
        default=0,
        help="end the one cycle after this many epochs (same warm-up length); "
        "later epochs keep its final lr (0: the cycle spans all epochs)",
    )
    parser.add_argument(
        "--bn-recalibration",
        type=int,
        default=preset.bn_recalibration,
        help="clean training images for recomputing BatchNorm statistics after each epoch "
        "(0: keep the running averages)",
    )
    parser.add_argument("--ema", type=float, default=0.0, help="EMA decay per step (0: no EMA)")
    parser.add_argument("--epochs", type=int, default=preset.epochs)
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data" / "mnist"))
    parser.add_argument("--results", default=str(REPO / "output" / "mnist-variants.jsonl"))
    args = parser.parse_args()

    # the Trainer builds its network from a preset name: register this variant's recipe under one
    # and hand the Trainer the variant's network (built at the same point, so the seeded init matches)
    PRESETS["variant"] = Preset(
        "variant",
        args.widths,
        args.dropout,
        "screening variant",
        lr=args.lr,
        batch_size=args.batch_size,
        weight_decay=args.weight_decay,
        epochs=args.epochs,
        degrees=args.degrees,
        scale=args.scale,
        shift=args.shift,
        bn_recalibration=args.bn_recalibration,
    )
    train.build_model = lambda name: build_variant(args)
    if args.label_smoothing:
        smoothed = F.cross_entropy

        class _Losses:  # training loss smoothed; evaluation (which passes reduction=) unchanged
            @staticmethod
            def cross_entropy(logits, target, **kw):
                return (
                    smoothed(logits, target, **kw)
                    if kw
                    else smoothed(logits, target, label_smoothing=args.label_smoothing)
                )

        train.F = _Losses
    data = load_mnist(args.data_dir, torch.device("cpu"))
    config = train.RunConfig(
        model="variant",
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        seed=args.seed,
        channels_last=True,
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = VariantTrainer(args, config, data, torch.device("cpu"), Path(run_dir), quiet=True)
        print(f"variant with {trainer.params:,} parameters, seed {args.seed}", flush=True)
        history = trainer.train()
    accuracy = [h["test_accuracy"] for h in history]
    record = {
        "settings": {k: v for k, v in vars(args).items() if k not in ("data_dir", "results")},
        "params": trainer.params,
        "test_accuracy": accuracy,
        "ema_accuracy": trainer.ema_accuracy,
        "train_accuracy_last": history[-1]["train_accuracy"],
        "seconds": time.perf_counter() - started,
        "threads": torch.get_num_threads(),
    }
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    with open(args.results, "a") as out:
        out.write(json.dumps(record) + "\n")
    print(
        f"{trainer.params:,} parameters, seed {args.seed}: last 3 epochs "
        f"{', '.join(f'{a:.2f}' for a in accuracy[-3:])} %; held >= 99.4 % in each: "
        f"{'yes' if min(accuracy[-3:]) >= 99.4 else 'no'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
