"""Seconds per epoch of mnist_trainer's on-device pipeline against a plain torchvision DataLoader pipeline.

    python benchmarks/mnist_speed.py --data-dir ../shared/data/mnist [--batches 120] [--time-to-target]

Both pipelines train the same model (the default preset) with the same batch size, optimizer and
a comparable augmentation, in one process, one after the other:

* ours: the uint8 dataset lives on the device, batches are gathered by index from a seeded
  permutation, and one batched affine_grid/grid_sample call augments them (mnist_trainer.train);
* plain: torchvision.datasets.MNIST reading ROOT/MNIST/raw (built here in a temporary folder by
  decompressing the .gz files) with RandomRotation + ToTensor + Normalize in a DataLoader, timed
  with each worker count in --workers; the fastest is the baseline.

To keep the CPU measurement short, each pipeline trains --batches batches after a few warm-up
batches, and seconds per epoch are extrapolated to the full 60,000 images (said in the output).
With --time-to-target (meant for a GPU, where a full run takes seconds) it also trains the default
recipe for real and reports training seconds until the test accuracy first reaches 99.4 % and until
it holds (every later epoch stays >= 99.4 %).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from mnist_trainer.augment import AffineAugment  # noqa: E402
from mnist_trainer.data import FILE_NAMES, find_file, load_mnist, read_bytes  # noqa: E402
from mnist_trainer.model import DEFAULT_MODEL, MNIST_MEAN, MNIST_STD, PRESETS, build_model  # noqa: E402
from mnist_trainer.train import RunConfig, Trainer, to_input  # noqa: E402

WARMUP = 5
TARGET = 99.4


def cpu_name() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        return next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_optimizer(model: nn.Module, preset) -> torch.optim.Optimizer:
    return torch.optim.SGD(
        model.parameters(), lr=preset.lr / 10, momentum=0.9, nesterov=True, weight_decay=preset.weight_decay
    )


def time_ours(data, device, preset, batches: int, channels_last: bool) -> float:
    """Seconds per batch of mnist_trainer's pipeline (gather, augment on device, step)."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    torch.manual_seed(0)
    model = build_model(preset.name).to(device, memory_format=fmt).train()
    optimizer = make_optimizer(model, preset)
    augment = AffineAugment(preset.degrees, preset.scale, preset.shift)
    generator = torch.Generator(device=device).manual_seed(0)
    perm = torch.randperm(len(data.train_images), generator=generator, device=device)
    bs = preset.batch_size
    for step in range(WARMUP + batches):
        if step == WARMUP:
            sync(device)
            started = time.perf_counter()
        idx = perm[step * bs : (step + 1) * bs]
        x = augment(to_input(data.train_images[idx], fmt), generator)
        loss = F.cross_entropy(model(x), data.train_labels[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    sync(device)
    return (time.perf_counter() - started) / batches


def torchvision_root(data_dir: Path, tmp: Path) -> Path:
    """ROOT/MNIST/raw with the four uncompressed files, as torchvision.datasets.MNIST reads them."""
    raw = tmp / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in FILE_NAMES:
        source = find_file(data_dir, name)
        if source is None:
            raise SystemExit(f"mnist_speed: {name}(.gz) not found in {data_dir}; pass --data-dir")
        (raw / name).write_bytes(read_bytes(source))
    return tmp


def time_plain(root: Path, device, preset, batches: int, workers: int) -> float:
    """Seconds per batch of the textbook pipeline: Dataset + transforms + DataLoader, then .to(device)."""
    from torchvision import datasets, transforms

    transform = transforms.Compose(
        [
            transforms.RandomRotation(preset.degrees),
            transforms.ToTensor(),
            transforms.Normalize((MNIST_MEAN,), (MNIST_STD,)),
        ]
    )
    dataset = datasets.MNIST(str(root), train=True, download=False, transform=transform)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=preset.batch_size,
        shuffle=True,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
    )
    torch.manual_seed(0)
    model = build_model(preset.name).to(device).train()
    model.normalize = nn.Identity()  # this pipeline normalises in its transforms, as tutorials do
    optimizer = make_optimizer(model, preset)
    for step, (x, y) in enumerate(loader):
        if step == WARMUP:
            sync(device)
            started = time.perf_counter()
        if step == WARMUP + batches:
            break
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    sync(device)
    return (time.perf_counter() - started) / batches


def time_to_target(data, device, model_name: str, channels_last: bool) -> None:
    preset = PRESETS[model_name]
    config = RunConfig(
        model=model_name,
        epochs=preset.epochs,
        batch_size=preset.batch_size,
        lr=preset.lr,
        weight_decay=preset.weight_decay,
        seed=0,
        channels_last=channels_last,
    )
    with tempfile.TemporaryDirectory() as run_dir:
        history = Trainer(config, data, device, Path(run_dir), quiet=True).train()
    elapsed, first, hold = 0.0, None, None
    for row in history:
        elapsed += row["seconds"]
        row["elapsed"] = elapsed
        if first is None and row["test_accuracy"] >= TARGET:
            first = row
    for i, row in enumerate(history):
        if all(later["test_accuracy"] >= TARGET for later in history[i:]):
            hold = row
            break
    print(
        f"full run of '{model_name}' (seed 0, {len(history)} epochs), training seconds only "
        f"(evaluation excluded):"
    )
    for label, row in (("first reaches", first), ("holds from", hold)):
        if row is None:
            print(f"  {label} {TARGET} %: never")
        else:
            print(
                f"  {label} {TARGET} %: epoch {row['epoch']}, {row['elapsed']:.1f} s "
                f"(test accuracy {row['test_accuracy']:.2f} %)"
            )
    print(
        f"  final test accuracy {history[-1]['test_accuracy']:.2f} %, "
        f"{elapsed / len(history):.2f} s per epoch"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--data-dir", default=os.environ.get("MNIST_DIR", str(REPO.parent / "shared" / "data" / "mnist"))
    )
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--model", default=DEFAULT_MODEL, choices=list(PRESETS))
    parser.add_argument("--batches", type=int, default=120, help="timed batches per pipeline (after warm-up)")
    parser.add_argument(
        "--workers",
        default=f"0,{min(4, max(1, (os.cpu_count() or 2) - 1))}",
        help="DataLoader worker counts to try for the plain pipeline (the fastest is used)",
    )
    parser.add_argument(
        "--no-channels-last",
        dest="channels_last",
        action="store_false",
        help="time our pipeline without channels_last (the trainer's default is on)",
    )
    parser.add_argument(
        "--time-to-target",
        action="store_true",
        help=f"also train a full run; report seconds to reach and hold {TARGET} %%",
    )
    args = parser.parse_args()

    from mnist_trainer.launch import resolve_device

    device = resolve_device(args.device)
    preset = PRESETS[args.model]
    data = load_mnist(args.data_dir, device)
    steps = math.ceil(len(data.train_images) / preset.batch_size)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    print(
        f"device {device} ({name}), torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"model '{args.model}', batch {preset.batch_size}; load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"timing {args.batches} batches per pipeline after {WARMUP} warm-up batches; seconds per epoch are "
        f"extrapolated to {steps} batches (60,000 images)"
    )

    ours = time_ours(data, device, preset, args.batches, args.channels_last)
    layout = ", channels_last" if args.channels_last else ""
    print(f"  ours  (on-device data + batched augmentation{layout}): {ours * steps:7.2f} s/epoch", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="mnist-speed-"))
    try:
        root = torchvision_root(Path(args.data_dir), tmp)
        plain = {}
        for workers in sorted({int(w) for w in args.workers.split(",")}):
            plain[workers] = time_plain(root, device, preset, args.batches, workers)
            print(
                f"  plain (torchvision MNIST + DataLoader, num_workers={workers}): "
                f"{plain[workers] * steps:7.2f} s/epoch",
                flush=True,
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    best_workers = min(plain, key=plain.get)
    print(
        f"ratio ours / plain (best, num_workers={best_workers}): {ours / plain[best_workers]:.3f} "
        f"(speed-up {plain[best_workers] / ours:.1f}x); load average now {os.getloadavg()[0]:.2f}"
    )
    if args.time_to_target:
        time_to_target(data, device, args.model, args.channels_last)
    return 0


if __name__ == "__main__":
    sys.exit(main())
