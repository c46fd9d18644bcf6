"""mnist_trainer: a < 20k-parameter CNN that holds 99.4 % test accuracy on MNIST, on the GPU or the CPU.

python -m mnist_trainer --data-dir DIR [--model base|small|tiny] [--seed N] [--out RUN_DIR]
model = mnist_trainer.load_model("RUN_DIR/model.pt")  # eval mode; input N x 1 x 28 x 28 in [0, 1]
"""

import os

# Before torch loads OpenMP: threads that spin while they wait for each other make training several times
# slower whenever another process wants the CPU (measured on the shared 2-core machine: 150-530 s per
# epoch instead of about 45 s); sleeping waiters cost little on an idle machine. An explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__all__ = ["PRESETS", "build_model", "count_parameters", "load_model"]
__version__ = "0.1.0"


def __getattr__(name: str):
    """The public names load on first use: `python -m mnist_trainer --help` should not wait for torch."""
    if name == "load_model":
        from mnist_trainer.checkpoint import load_model

        return load_model
    if name == "PRESETS":
        from mnist_trainer.presets import PRESETS

        return PRESETS
    if name in ("build_model", "count_parameters"):
        from mnist_trainer import model

        return getattr(model, name)
    raise AttributeError(f"module 'mnist_trainer' has no attribute {name!r}")
