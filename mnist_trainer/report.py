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
    doc = {"params": meta["params"], "device": meta["device"], "seed": meta["seed"], "model": meta["model"],
           "epochs": [{k: row[k] for k in EPOCH_FIELDS} for row in history]}
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


def plot_misclassified(run_dir: Path, images: torch.Tensor, labels: torch.Tensor, predictions: torch.Tensor,
                       limit: int = 48) -> None:
    """A gallery of (up to `limit`) test images the final model gets wrong, titled 'true -> predicted'."""
    wrong = (predictions.cpu() != labels.cpu()).nonzero().flatten()
    shown = wrong[:limit]
    cols = 8
    rows = max(1, -(-len(shown) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.3, rows * 1.5 + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, shown.tolist(), strict=False):
        ax.imshow(images[i].cpu().numpy(), cmap="gray_r")
        ax.set_title(f"{int(labels[i])} -> {int(predictions[i])}", fontsize=9, color="darkred")
    fig.suptitle(f"Misclassified test images: {len(wrong)} of {len(labels)} "
                 f"(true -> predicted, first {len(shown)})", fontsize=10)
    fig.tight_layout()
    with atomic_output(run_dir / "misclassified.png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def write_final(run_dir: Path, history: list[dict], meta: dict, data, predictions: torch.Tensor) -> None:
    write_metrics(run_dir, history, meta)
    plot_curves(run_dir, history)
    plot_misclassified(run_dir, data.test_images, data.test_labels, predictions)
