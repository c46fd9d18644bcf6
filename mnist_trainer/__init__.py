"""mnist_trainer: a < 20k-parameter CNN that holds 99.4 % test accuracy on MNIST, on the GPU or the CPU.

    python -m mnist_trainer --data-dir DIR [--model base|small|tiny] [--seed N] [--out RUN_DIR]
    model = mnist_trainer.load_model("RUN_DIR/model.pt")  # eval mode; input N x 1 x 28 x 28 in [0, 1]
"""

from mnist_trainer.checkpoint import load_model
from mnist_trainer.model import PRESETS, build_model, count_parameters

__all__ = ["PRESETS", "build_model", "count_parameters", "load_model"]
__version__ = "0.1.0"
