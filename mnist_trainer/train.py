"""The training loop: whole dataset on the device, seeded shuffling and augmentation, one-cycle SGD.

Everything random comes from two places that the checkpoint saves and restores: the run's own
torch.Generator on the device (shuffling and augmentation) and torch's global RNG (weight init and
dropout). The checkpoint also records the position inside the epoch, so a resumed run replays the
same batches and, on the CPU, ends with bit-identical weights.
"""

from __future__ import annotations

import math
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from mnist_trainer import checkpoint, report
from mnist_trainer.augment import AffineAugment
from mnist_trainer.data import MnistSplits
from mnist_trainer.errors import Interrupted, UserError
from mnist_trainer.model import PRESETS, build_model, count_parameters
from mnist_trainer.summary import print_summary

EVAL_BATCH = 1000


@dataclass
class RunConfig:
    """What defines a run; stored in the checkpoint and checked on --resume."""

    model: str
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    seed: int
    channels_last: bool


class _StopFlag:
    """Ctrl-C (SIGINT) or SIGTERM asks the loop to stop at the next batch boundary (a consistent state).

    SIGTERM is what `kill`, systemd, Docker and batch schedulers send before they kill for good, so it
    is handled exactly like Ctrl-C. A second signal of the same kind stops at once.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signum = None  # the signal received, once one is
        self._previous = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def __enter__(self):
        def handler(signum, frame):
            self.signum = signum
            signal.signal(signum, self._previous[signum])

        try:
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, handler)
        except ValueError:  # not the main thread: signals cannot be caught here anyway
            pass
        return self

    def __exit__(self, *exc):
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        return False


def to_input(images: torch.Tensor, memory_format: torch.memory_format) -> torch.Tensor:
    """uint8 N x 28 x 28 -> float N x 1 x 28 x 28 in [0, 1] (the model normalises internally)."""
    return images.unsqueeze(1).float().div_(255).contiguous(memory_format=memory_format)


@torch.inference_mode()
def evaluate(model, images, labels, memory_format=torch.contiguous_format):
    """Mean cross-entropy, number correct and predictions on unaugmented images, in eval mode."""
    model.eval()
    loss_sum, correct, predictions = 0.0, 0, []
    for start in range(0, len(images), EVAL_BATCH):
        logits = model(to_input(images[start : start + EVAL_BATCH], memory_format))
        target = labels[start : start + EVAL_BATCH]
        loss_sum += F.cross_entropy(logits, target, reduction="sum").item()
        predicted = logits.argmax(1)
        correct += int((predicted == target).sum())
        predictions.append(predicted)
    return loss_sum / len(images), correct, torch.cat(predictions)


@torch.no_grad()
def recalibrate_batchnorm(model, images, count, memory_format=torch.contiguous_format):
    """Replace BatchNorm's running averages by the statistics of the first `count` clean training images.

    The running averages follow the last few dozen (augmented) batches, so at a small learning rate the
    test accuracy still wobbles from epoch to epoch with them; population statistics do not. Only
    BatchNorm is put in training mode (dropout stays off), and training itself is unchanged: it always
    normalises with the batch's own statistics.
    """
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    momenta = [bn.momentum for bn in norms]
    model.eval()
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # None: a plain (cumulative) average over the batches that follow
        bn.train()
    for batch in images[:count].split(EVAL_BATCH):
        model(to_input(batch, memory_format))
    for bn, momentum in zip(norms, momenta, strict=True):
        bn.momentum = momentum
    model.eval()


def _rng_states(generator: torch.Generator, device: torch.device) -> dict:
    states = {"generator": generator.get_state(), "torch_cpu": torch.get_rng_state()}
    if device.type == "cuda":
        states["torch_cuda"] = torch.cuda.get_rng_state(device)
    return states


def _restore_rng_states(states: dict, generator: torch.Generator, device: torch.device) -> None:
    generator.set_state(states["generator"])
    torch.set_rng_state(states["torch_cpu"])
    if device.type == "cuda" and "torch_cuda" in states:
        torch.cuda.set_rng_state(states["torch_cuda"], device)


class Trainer:
    def __init__(
        self,
        config: RunConfig,
        data: MnistSplits,
        device: torch.device,
        run_dir: Path,
        resume_state: checkpoint.Checkpoint | None = None,
        quiet: bool = False,
    ):
        self.config, self.data, self.device, self.run_dir, self.quiet = config, data, device, run_dir, quiet
        self.memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
        torch.manual_seed(config.seed)  # weight init; dropout continues from here
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(config.seed)
        self.model = build_model(config.model).to(device, memory_format=self.memory_format)
        self.params = count_parameters(self.model)
        preset = PRESETS[config.model]
        self.augment = AffineAugment(preset.degrees, preset.scale, preset.shift)
        self.bn_images = preset.bn_recalibration
        self.bn_count = min(self.bn_images, len(data.train_images))  # a subset may hold fewer
        self.steps_per_epoch = math.ceil(len(data.train_images) / config.batch_size)
        self.optimizer = torch.optim.SGD(
            self.model.parameters(),
            lr=config.lr,
            momentum=0.9,
            nesterov=True,
            weight_decay=config.weight_decay,
        )
        # one cycle over the whole run: warm up for 20 %, then cosine-anneal to lr/1000 at the last step
        self.scheduler = torch.optim.lr_scheduler.OneCycleLR(
            self.optimizer,
            max_lr=config.lr,
            total_steps=config.epochs * self.steps_per_epoch,
            pct_start=0.2,
            div_factor=10.0,
            final_div_factor=100.0,
        )
        self.epoch, self.batch, self.history = 0, 0, []
        self.perm = None
        self.sums = {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}
        self._last_predictions = None  # test-set predictions of the last evaluation (for the gallery)
        if resume_state is not None:
            self._restore(resume_state)

    # -- checkpointing ------------------------------------------------------------------------------
    def _checkpoint(self) -> checkpoint.Checkpoint:
        return checkpoint.Checkpoint(
            config=asdict(self.config),
            device_type=self.device.type,
            model={k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()},
            optimizer=self.optimizer.state_dict(),
            scheduler=self.scheduler.state_dict(),
            rng=_rng_states(self.generator, self.device),
            epoch=self.epoch,
            batch=self.batch,
            perm=None if self.perm is None else self.perm.cpu(),
            sums=dict(self.sums),
            history=list(self.history),
            data=dict(self.data.identity),
            data_dir=self.data.folder or None,
        )

    def _restore(self, state: checkpoint.Checkpoint) -> None:
        if state.device_type != self.device.type:
            raise UserError(
                f"cannot resume on {self.device.type}: the checkpoint was made on {state.device_type} and "
                f"its random-number states belong there; resume with --device {state.device_type}"
            )
        try:
            self.model.load_state_dict(state.model)
            self.optimizer.load_state_dict(state.optimizer)
            self.scheduler.load_state_dict(state.scheduler)
            _restore_rng_states(state.rng, self.generator, self.device)
        except (RuntimeError, KeyError, ValueError, TypeError):
            raise UserError(
                f"cannot resume: '{self.run_dir / 'checkpoint.pt'}' is damaged: its saved state does not "
                f"fit the {self.config.model!r} preset; start a new run"
            ) from None
        self.epoch, self.batch, self.history = state.epoch, state.batch, list(state.history)
        self.perm = None if state.perm is None else state.perm.to(self.device)
        self.sums = dict(state.sums)

    def save_checkpoint(self) -> None:
        checkpoint.save_checkpoint(self._checkpoint(), self.run_dir)

    # -- the loop -----------------------------------------------------------------------------------
    def train(self) -> list[dict]:
        cfg = self.config
        if not self.quiet:
            print_summary(self.model, cfg.model)
            print(
                f"Training {cfg.model} ({self.params:,} parameters) on {self.device} for {cfg.epochs} "
                f"epochs, batch {cfg.batch_size}, peak lr {cfg.lr}, seed {cfg.seed}; "
                f"run dir {self.run_dir}"
            )
            if self.bn_images:
                print(
                    f"BatchNorm statistics are recomputed on {self.bn_count:,} clean training images "
                    f"after each epoch (see train.recalibrate_batchnorm)"
                )
        with _StopFlag() as stop:
            while self.epoch < cfg.epochs:
                self._train_epoch(stop)
                if stop.requested and self.epoch < cfg.epochs:
                    self._stop(stop.signum)
        if self._last_predictions is None:  # resumed a finished run: evaluate once for the gallery
            self._last_predictions = evaluate(
                self.model, self.data.test_images, self.data.test_labels, self.memory_format
            )[2]
        report.write_final(self.run_dir, self.history, self._meta(), self.data, self._last_predictions)
        return self.history

    def _meta(self) -> dict:
        return {
            "params": self.params,
            "device": str(self.device),
            "seed": self.config.seed,
            "model": self.config.model,
        }

    def _stop(self, signum: int) -> None:
        self.save_checkpoint()
        report.write_metrics(self.run_dir, self.history, self._meta())
        raise Interrupted(
            f"interrupted ({signal.Signals(signum).name}): checkpoint saved after epoch {self.epoch} "
            f"batch {self.batch}; continue with: python -m mnist_trainer --resume {self.run_dir}",
            signum,
        )

    def _train_epoch(self, stop: _StopFlag) -> None:
        cfg, data = self.config, self.data
        n = len(data.train_images)
        if self.batch == 0:
            self.perm = torch.randperm(n, generator=self.generator, device=self.device)
            self.sums = {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}
        self.model.train()
        desc = f"Epoch {self.epoch + 1}/{cfg.epochs}"
        bar = tqdm(
            total=self.steps_per_epoch,
            initial=self.batch,
            desc=desc,
            unit="batch",
            dynamic_ncols=True,
            mininterval=0.5,
            disable=self.quiet,
        )
        # running sums continue from the checkpoint's values, so a resumed epoch adds in the same order
        loss_sum = torch.tensor(self.sums["loss"], dtype=torch.float32, device=self.device)
        correct = torch.tensor(self.sums["correct"], dtype=torch.long, device=self.device)
        seen = self.sums["seen"]
        started = time.perf_counter()
        while self.batch < self.steps_per_epoch:
            idx = self.perm[self.batch * cfg.batch_size : (self.batch + 1) * cfg.batch_size]
            x = self.augment(to_input(data.train_images[idx], self.memory_format), self.generator)
            y = data.train_labels[idx]
            logits = self.model(x)
            loss = F.cross_entropy(logits, y)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.scheduler.step()
            self.batch += 1
            loss_sum += loss.detach() * len(y)
            correct += (logits.argmax(1) == y).sum()
            seen += len(y)
            bar.update(1)
            if self.batch % 20 == 0 or self.batch == self.steps_per_epoch:
                bar.set_postfix(
                    loss=f"{loss_sum.item() / seen:.4f}",
                    acc=f"{100 * int(correct) / seen:.2f}%",
                    refresh=False,
                )
            if stop.requested and self.batch < self.steps_per_epoch:
                break
        bar.close()
        self.sums.update(loss=loss_sum.item(), correct=int(correct), seen=seen)
        self.sums["seconds"] += time.perf_counter() - started
        if self.batch < self.steps_per_epoch:
            self._stop(stop.signum)
        self._finish_epoch()

    def _finish_epoch(self) -> None:
        if self.bn_images:
            recalibrate_batchnorm(self.model, self.data.train_images, self.bn_images, self.memory_format)
        test_loss, correct, predictions = evaluate(
            self.model, self.data.test_images, self.data.test_labels, self.memory_format
        )
        n_test = len(self.data.test_images)
        print(
            f"Test set: Average loss: {test_loss:.4f}, Accuracy: {correct}/{n_test} "
            f"({100 * correct / n_test:.2f}%)",
            flush=True,
        )
        self.history.append(
            {
                "epoch": self.epoch + 1,
                "train_loss": self.sums["loss"] / self.sums["seen"],
                "train_accuracy": 100 * self.sums["correct"] / self.sums["seen"],
                "test_loss": test_loss,
                "test_accuracy": 100 * correct / n_test,
                "lr": self.optimizer.param_groups[0]["lr"],
                "seconds": self.sums["seconds"],
            }
        )
        self.epoch, self.batch, self.perm = self.epoch + 1, 0, None
        self._last_predictions = predictions
        # model.pt always holds the weights that produced the last reported test accuracy
        checkpoint.save_model(self.model, self.config.model, self.run_dir / "model.pt")
        self.save_checkpoint()
        report.write_metrics(self.run_dir, self.history, self._meta())
