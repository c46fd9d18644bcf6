"""RUN_DIR outputs: metrics.json, metrics.csv, curves.png and misclassified.png (all written atomically)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from mnist_trainer.errors import atomic_output  # noqa: E402

EPOCH_FIELDS = ("epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr", "seconds")


def write_metrics(run_dir: Path, history: list[dict], meta: dict) -> None:
    """metrics.json ({"params", "device", "seed", "model", "epochs": [...]}, accuracies in %) and .csv."""
    doc = {
        "params": meta["params"],
        "device": meta["device"],
        "seed": meta["seed"],
        "model": meta["model"],
        "epochs": [{k: row[k] for k in EPOCH_FIELDS} for row in history],
    }
    with atomic_output(run_dir / "metrics.json") as tmp:
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
    with atomic_output(run_dir / "metrics.csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=EPOCH_FIELDS)
        writer.writeheader()
        writer.writerows({k: row[k] for k in EPOCH_FIELDS} for row in history)


def plot_curves(run_dir: Path, history: list[dict]) -> None:
    epochs = [row["epoch"] for row in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [r["train_loss"] for r in history], "o-", label="train (augmented)")
    ax_loss.plot(epochs, [r["test_loss"] for r in history], "o-", label="test")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss", yscale="log")
    ax_acc.plot(epochs, [r["train_accuracy"] for r in history], "o-", label="train (augmented)")
    ax_acc.plot(epochs, [r["test_accuracy"] for r in history], "o-", label="test")
    ax_acc.axhline(99.4, color="grey", linestyle="--", linewidth=1, label="99.4 % target")
    low = min(min(r["test_accuracy"] for r in history), 99.0)
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy", ylim=(max(low - 0.5, 0), 100))
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    with atomic_output(run_dir / "curves.png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def plot_misclassified(
    run_dir: Path, images: torch.Tensor, labels: torch.Tensor, predictions: torch.Tensor, limit: int = 48
) -> None:
    """A gallery of (up to `limit`) test images the final model gets wrong, labelled 'true -> predicted'.

    The images are tiled into one mosaic (one imshow instead of one axes per image: much faster).
    """
    wrong = (predictions.cpu() != labels.cpu()).nonzero().flatten()[:limit].tolist()
    cols = 8
    rows = max(1, -(-len(wrong) // cols))
    cell = 34  # 28 pixels + room for the label
    mosaic = torch.zeros(rows * cell, cols * cell)
    for n, i in enumerate(wrong):
        r, c = divmod(n, cols)
        mosaic[r * cell + 6 : r * cell + 34, c * cell + 3 : c * cell + 31] = images[i].cpu().float() / 255
    fig, ax = plt.subplots(figsize=(cols * 1.1, rows * 1.1 + 0.6))
    ax.imshow(mosaic.numpy(), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    for n, i in enumerate(wrong):
        r, c = divmod(n, cols)
        ax.text(
            c * cell + 17,
            r * cell + 5,
            f"{int(labels[i])} -> {int(predictions[i])}",
            ha="center",
            va="bottom",
            fontsize=8,
            color="darkred",
        )
    ax.axis("off")
    total = int((predictions.cpu() != labels.cpu()).sum())
    ax.set_title(
        f"Misclassified test images: {total} of {len(labels)} (true -> predicted; first {len(wrong)})",
        fontsize=10,
    )
    fig.tight_layout()
    with atomic_output(run_dir / "misclassified.png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def write_final(run_dir: Path, history: list[dict], meta: dict, data, predictions: torch.Tensor) -> None:
    write_metrics(run_dir, history, meta)
    plot_curves(run_dir, history)
    plot_misclassified(run_dir, data.test_images, data.test_labels, predictions)
