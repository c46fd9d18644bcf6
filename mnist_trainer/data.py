"""MNIST IDX files: find them, check them, and load them once as uint8 tensors on the device.

Finding, reading and checking need no torch (read_mnist), so the command line refuses bad data at once,
before torch loads (seconds); only to_device() imports it.

The four standard files may be gzip-compressed or not, directly in --data-dir or in a
torchvision-style ROOT/MNIST/raw. Checks, in order: the file exists, its IDX magic number, the
sizes its header announces against the bytes present, and then the md5 of the (uncompressed)
contents against the standard published values.

Checksum policy: the md5 is verified whenever a file has exactly the standard size, so a
full-size file with different content (a corrupt download, a modified copy) is refused. A file of
another size that is a valid IDX file is accepted as a custom or subset dataset (the tests use small
synthetic files) and a note says that it was not checksum-verified.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mnist_trainer.errors import UserError

if TYPE_CHECKING:
    import torch

IMAGE_MAGIC = 0x00000803  # unsigned byte, 3 dimensions (count, rows, cols)
LABEL_MAGIC = 0x00000801  # unsigned byte, 1 dimension (count)

# name -> (uncompressed size in bytes, md5 of the uncompressed bytes): the standard public values.
STANDARD_FILES = {
    "train-images-idx3-ubyte": (47040016, "6bbc9ace898e44ae57da46a324031adb"),
    "train-labels-idx1-ubyte": (60008, "a25bea736e30d166cdddb491f175f624"),
    "t10k-images-idx3-ubyte": (7840016, "2646ac647ad5339dbf082846283269ea"),
    "t10k-labels-idx1-ubyte": (10008, "27ae3e4e09519cfbb04c329615203637"),
}
FILE_NAMES = tuple(STANDARD_FILES)


@dataclass
class MnistFiles:
    """The four files, read and checked: uint8 arrays by file name (images N x 28 x 28, labels N)."""

    arrays: dict[str, np.ndarray]
    notes: list[str]
    # file name -> (uncompressed size, md5): the checkpoint keeps it so --resume on other files is refused
    identity: dict[str, tuple[int, str]]
    folder: str = ""  # the data folder, absolute: the checkpoint keeps it so --resume finds it again


@dataclass
class MnistSplits:
    """uint8 images (N x 28 x 28) and int64 labels (N), already on the training device."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    notes: list[str]
    identity: dict[str, tuple[int, str]]  # as in MnistFiles
    folder: str = ""  # as in MnistFiles


def default_data_dir() -> str:
    """Where the four files are looked for without --data-dir."""
    return os.environ.get("MNIST_DIR", os.path.join("data", "mnist"))


def find_file(data_dir: Path, name: str) -> Path | None:
    """The file `name` (or `name`.gz) in data_dir or in torchvision's data_dir/MNIST/raw layout."""
    for folder in (data_dir, data_dir / "MNIST" / "raw"):
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _missing_message(data_dir: Path, missing: list[str]) -> str:
    where = "no MNIST files" if len(missing) == len(FILE_NAMES) else f"missing {', '.join(missing)}"
    return (
        f"{where} in '{data_dir}': need the four files {', '.join(FILE_NAMES)} (each optionally .gz, "
        f"in the folder or in its MNIST/raw); point --data-dir (or $MNIST_DIR) at them, "
        f"or add --download to fetch them with torchvision"
    )


MAX_IMAGES = 1_000_000  # per file: MNIST has 60,000; a header announcing more is not MNIST (784 MB)
CHUNK = 1 << 20


def _cannot_read(path: Path, error: BaseException) -> UserError:
    return UserError(
        f"cannot read '{path}': {error} (the file is corrupt or truncated; replace it, or use --download)"
    )


def _read_exactly(stream, size: int) -> bytearray:
    """Up to `size` bytes of the stream (fewer only at its end), read into one buffer: no copies."""
    buffer = bytearray(size)
    view, filled = memoryview(buffer), 0
    while filled < size:
        got = stream.readinto(view[filled : filled + CHUNK])
        if not got:
            break
        filled += got
    view.release()
    del buffer[filled:]
    return buffer


def _header(stream, path: Path, kind: str) -> tuple[bytes, tuple[int, ...]]:
    """The IDX header, checked: (its bytes, the array's shape)."""
    expected_magic, header_len = (IMAGE_MAGIC, 16) if kind == "images" else (LABEL_MAGIC, 8)
    header = bytes(_read_exactly(stream, header_len))
    if len(header) < header_len:
        raise UserError(
            f"'{path}' is truncated: {len(header)} bytes, shorter than the {header_len}-byte IDX "
            f"header; replace the file"
        )
    magic = struct.unpack(">I", header[:4])[0]
    if magic != expected_magic:
        raise UserError(
            f"'{path}' is not an IDX {kind} file: magic number 0x{magic:08x}, expected "
            f"0x{expected_magic:08x}; check that the four files are not mixed up or corrupt"
        )
    if kind == "images":
        count, rows, cols = struct.unpack(">III", header[4:16])
        if (rows, cols) != (28, 28):
            raise UserError(f"'{path}' holds {rows}x{cols} images; MNIST images are 28x28")
        shape: tuple[int, ...] = (count, rows, cols)
    else:
        count = struct.unpack(">I", header[4:8])[0]
        shape = (count,)
    if count > MAX_IMAGES:
        raise UserError(
            f"'{path}': its header announces {count:,} {kind}, more than the {MAX_IMAGES:,} this reads "
            f"(MNIST has 60,000); replace the file"
        )
    return header, shape


def read_idx(path: Path, kind: str) -> tuple[np.ndarray, tuple[int, str]]:
    """An IDX images (kind='images') or labels (kind='labels') file, gzip or not (by its magic bytes):
    its uint8 array and its identity (uncompressed size, md5).

    The header is read first and the body then read only up to the size it announces (plus one byte,
    to tell a longer file): a small .gz that inflates to gigabytes is refused after reading what the
    header promised, never inflated whole.
    """
    try:
        with open(path, "rb") as raw:
            compressed = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
            header, shape = _header(stream, path, kind)
            body_len = int(np.prod(shape[1:], dtype=np.int64)) * shape[0]
            body = _read_exactly(stream, body_len)
            longer = len(body) == body_len and bool(stream.read(1))
    except (OSError, EOFError, zlib.error) as error:
        raise _cannot_read(path, error) from None
    expected_len = len(header) + body_len
    if len(body) != body_len or longer:
        state = "longer than its header says" if longer else "truncated"
        has = "more" if longer else f"{len(header) + len(body)} bytes"
        raise UserError(
            f"'{path}' is {state}: its header announces {shape[0]} {kind} ({expected_len} bytes) "
            f"but it has {has}; replace the file"
        )
    digest = hashlib.md5(header)
    digest.update(body)
    return np.frombuffer(body, dtype=np.uint8).reshape(shape), (expected_len, digest.hexdigest())


def verify_checksum(size: int, actual: str, path: Path, name: str) -> str | None:
    """Refuse a standard-size file whose md5 is wrong; return a note for a non-standard (subset) file."""
    standard_size, md5 = STANDARD_FILES[name]
    if size != standard_size:
        return (
            f"note: '{path.name}' has {size} bytes, not the standard {standard_size}: "
            f"used as a custom/subset dataset, md5 not checked"
        )
    if actual != md5:
        raise UserError(
            f"checksum mismatch for '{path}': md5 of the contents is {actual}, the standard "
            f"MNIST file has {md5}; the file is corrupt: replace it, or use --download"
        )
    return None


def load_file(data_dir: Path, name: str) -> tuple[np.ndarray, tuple[int, str], str | None]:
    """The file's array, its identity (uncompressed size, md5) and a note if it is not standard MNIST."""
    path = find_file(data_dir, name)
    if path is None:
        raise UserError(_missing_message(data_dir, [name]))
    array, identity = read_idx(path, "images" if "images" in name else "labels")
    return array, identity, verify_checksum(*identity, path, name)


def download(data_dir: Path) -> None:
    """Fetch MNIST with torchvision into data_dir/MNIST/raw (which find_file also searches)."""
    try:
        from torchvision.datasets import MNIST

        for train in (True, False):
            MNIST(str(data_dir), train=train, download=True)
    except Exception as error:  # torchvision raises RuntimeError/URLError/OSError when offline
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(
            f"--download failed ({first_line}); check the internet connection, or download the "
            f"four files by hand and point --data-dir at them"
        ) from None


def read_mnist(data_dir: str | os.PathLike) -> MnistFiles:
    """Find, read and check the four files (sizes, magic numbers, md5s, matching counts, labels 0-9)."""
    folder = Path(data_dir)
    missing = [name for name in FILE_NAMES if find_file(folder, name) is None]
    if missing:
        raise UserError(_missing_message(folder, missing))
    loaded = {name: load_file(folder, name) for name in FILE_NAMES}
    arrays = {name: array for name, (array, _, _) in loaded.items()}
    for split in ("train", "t10k"):
        images, labels = arrays[f"{split}-images-idx3-ubyte"], arrays[f"{split}-labels-idx1-ubyte"]
        if len(images) != len(labels):
            raise UserError(
                f"'{split}' files disagree: {len(images)} images but {len(labels)} labels; "
                f"replace them with a matching pair"
            )
        if len(images) == 0:
            raise UserError(f"'{split}' files in '{folder}' hold no images; replace them")
        if int(labels.max()) > 9:
            raise UserError(f"'{split}' labels contain {int(labels.max())}; MNIST labels are 0-9")
    return MnistFiles(
        arrays=arrays,
        notes=[note for _, _, note in loaded.values() if note],
        identity={name: identity for name, (_, identity, _) in loaded.items()},
        folder=str(folder.resolve()),
    )


def to_device(files: MnistFiles, device: torch.device) -> MnistSplits:
    """The tensors, moved to `device` once, here."""
    import torch  # only here: see the module docstring

    def tensor(name: str) -> torch.Tensor:
        return torch.from_numpy(files.arrays[name])

    return MnistSplits(
        train_images=tensor("train-images-idx3-ubyte").to(device),
        train_labels=tensor("train-labels-idx1-ubyte").long().to(device),
        test_images=tensor("t10k-images-idx3-ubyte").to(device),
        test_labels=tensor("t10k-labels-idx1-ubyte").long().to(device),
        notes=files.notes,
        identity=files.identity,
        folder=files.folder,
    )


def load_mnist(data_dir: str | os.PathLike, device: torch.device, fetch: bool = False) -> MnistSplits:
    """Check and load the four files (after downloading them into data_dir, with fetch)."""
    if fetch:
        download(Path(data_dir))
    return to_device(read_mnist(data_dir), device)
