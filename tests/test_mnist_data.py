"""IDX parsing and checks of mnist_trainer.data, on small synthetic files written here (never real data)."""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_trainer import data
from mnist_trainer.errors import UserError

NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file as specified by LeCun et al.: 0, 0, type 0x08 (ubyte), ndim; big-endian sizes; data."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def synthetic_digits(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Learnable fake digits: class k is a bright bar at a class-specific place, plus noise."""
    labels = rng.integers(0, 10, n)
    images = rng.integers(0, 60, (n, 28, 28))
    for i, k in enumerate(labels):
        row, col = 4 + 2 * (k % 5), 6 + 8 * (k // 5)
        images[i, row : row + 6, col : col + 10] = 255
    return images.astype(np.uint8), labels.astype(np.uint8)


def write_mnist(folder: Path, n_train: int = 256, n_test: int = 128, gz: bool = True, seed: int = 0) -> dict:
    """Write the four files (gzip or raw) into folder; return the arrays written."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images, labels = synthetic_digits(n, rng)
        arrays[f"{prefix}-images-idx3-ubyte"], arrays[f"{prefix}-labels-idx1-ubyte"] = images, labels
    for name, array in arrays.items():
        raw = idx_bytes(array)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_loads_exactly_the_written_arrays(tmp_path, gz):
    arrays = write_mnist(tmp_path, 50, 20, gz=gz)
    splits = data.load_mnist(tmp_path, torch.device("cpu"))
    assert splits.train_images.dtype == torch.uint8 and splits.train_images.shape == (50, 28, 28)
    assert np.array_equal(splits.train_images.numpy(), arrays["train-images-idx3-ubyte"])
    assert np.array_equal(splits.train_labels.numpy(), arrays["train-labels-idx1-ubyte"])
    assert np.array_equal(splits.test_images.numpy(), arrays["t10k-images-idx3-ubyte"])
    assert np.array_equal(splits.test_labels.numpy(), arrays["t10k-labels-idx1-ubyte"])
    assert len(splits.notes) == 4 and all("subset" in note for note in splits.notes)


def test_torchvision_raw_layout_is_found(tmp_path):
    write_mnist(tmp_path / "MNIST" / "raw", 30, 10, gz=False)
    assert len(data.load_mnist(tmp_path, torch.device("cpu")).test_labels) == 10


def test_missing_files_message_names_all_four_and_the_flags(tmp_path):
    with pytest.raises(UserError) as err:
        data.load_mnist(tmp_path / "nowhere", torch.device("cpu"))
    message = str(err.value)
    assert all(name in message for name in NAMES) and "--data-dir" in message and "--download" in message


def test_bad_magic(tmp_path):
    write_mnist(tmp_path, 20, 10, gz=False)
    labels = tmp_path / "t10k-labels-idx1-ubyte"
    labels.write_bytes(struct.pack(">I", 0x0803) + labels.read_bytes()[4:])  # an image magic in a label file
    with pytest.raises(UserError, match="magic number 0x00000803, expected 0x00000801"):
        data.load_mnist(tmp_path, torch.device("cpu"))


def test_truncated_file(tmp_path):
    write_mnist(tmp_path, 20, 10, gz=False)
    images = tmp_path / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-100])
    with pytest.raises(UserError, match=r"truncated: its header announces 20 images \(15696 bytes\)"):
        data.load_mnist(tmp_path, torch.device("cpu"))


def test_truncated_gzip_stream(tmp_path):
    write_mnist(tmp_path, 20, 10, gz=True)
    gz = tmp_path / "train-images-idx3-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:200])
    with pytest.raises(UserError, match="corrupt or truncated"):
        data.load_mnist(tmp_path, torch.device("cpu"))


def test_image_and_label_counts_must_agree(tmp_path):
    write_mnist(tmp_path, 20, 10, gz=False)
    rng = np.random.default_rng(1)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(rng.integers(0, 10, 11).astype(np.uint8)))
    with pytest.raises(UserError, match="10 images but 11 labels"):
        data.load_mnist(tmp_path, torch.device("cpu"))


def test_checksum_checked_at_standard_size(tmp_path):
    # A label file of exactly the standard size (10,000 labels) whose content differs from the real one.
    labels = np.zeros(10000, dtype=np.uint8)
    raw = idx_bytes(labels)
    assert len(raw) == data.STANDARD_FILES["t10k-labels-idx1-ubyte"][0]
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(raw)
    with pytest.raises(UserError, match=f"checksum mismatch.*{hashlib.md5(raw).hexdigest()}"):
        data.load_file(tmp_path, "t10k-labels-idx1-ubyte")


def test_standard_checksums_are_the_published_ones():
    # the md5s printed in ../shared/data/mnist/README.md (the standard distribution)
    assert data.STANDARD_FILES["train-images-idx3-ubyte"] == (47040016, "6bbc9ace898e44ae57da46a324031adb")
    assert data.STANDARD_FILES["t10k-labels-idx1-ubyte"] == (10008, "27ae3e4e09519cfbb04c329615203637")
