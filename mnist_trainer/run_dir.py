"""RUN_DIR, the folder of one run: checked before anything is loaded (no torch needed), created late.

The checks run before torch loads, so a mistyped --out or --resume is refused at once; the folder is
created only once the data has loaded, so a failed start leaves no empty folder behind.
"""

from __future__ import annotations

import os
from pathlib import Path

from mnist_trainer.errors import UserError


def check_new_run_dir(path: Path) -> None:
    """Refuse a RUN_DIR that holds an earlier run or could not be created or written."""
    if path.exists() and not path.is_dir():
        raise UserError(f"--out '{path}' exists and is not a directory; choose another --out")
    if (path / "checkpoint.pt").exists():
        raise UserError(
            f"--out '{path}' already holds a run; continue it with --resume {path}, or choose another --out"
        )
    existing = path.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(
            f"cannot create output directory '{path}': '{existing}' is a file; choose another --out"
        )
    if not os.access(existing, os.W_OK):
        raise UserError(
            f"cannot create output directory '{path}': '{existing}' is not writable; choose another --out"
        )


def check_resume_dir(path: Path) -> None:
    """Refuse a --resume RUN_DIR that is not the folder of an earlier run, or that cannot be written."""
    if not path.is_dir():
        raise UserError(f"cannot resume: '{path}' is not a directory; give the RUN_DIR of an earlier run")
    if not (path / "checkpoint.pt").is_file():
        raise UserError(f"cannot resume: '{path}' has no checkpoint.pt; give the RUN_DIR of an earlier run")
    if not os.access(path, os.W_OK):
        raise UserError(f"cannot resume: '{path}' is not writable")


def create_run_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(
            f"cannot create output directory '{path}': {error.strerror}; choose another --out"
        ) from None
    if not os.access(path, os.W_OK):
        raise UserError(f"output directory '{path}' is not writable; choose another --out")
    return path
