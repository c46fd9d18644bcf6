"""User-facing errors and atomic writes for mnist_trainer.

Every mistake a user can make ends in one line on stderr and exit status 2, never a traceback (an
interrupted run: a checkpoint, one line, and 128 + the signal's number, as a shell reports it);
files are written to a temporary name beside the target and renamed into place, so an interrupted
or failed run never leaves a half-written metrics.json, model.pt or checkpoint.pt behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

EXIT_USAGE = 2


class UserError(Exception):
    """Bad input: the message says what was wrong and what to do."""


class Interrupted(Exception):
    """Ctrl-C or SIGTERM: a checkpoint was saved at a batch boundary; the message says how to resume."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.exit_status = 128 + signum  # what a shell reports for a process the signal killed: 130, 143


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_TEMPORARY = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")  # what mkstemp below names them


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike):
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
    except OSError as error:
        raise _cannot_write(target, error) from None
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file private; give it normal permissions
        os.replace(tmp, target)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(error, OSError):  # a full disk, a quota, a file-size limit: one line, not a traceback
            raise _cannot_write(target, error) from None
        raise


def _cannot_write(target: Path, error: OSError) -> UserError:
    reason = error.strerror or str(error)
    if (target.parent / "checkpoint.pt").is_file():  # a checkpoint from before this write
        then = f"free some space, then continue with --resume {target.parent}"
    else:
        then = "free some space or choose another --out"
    return UserError(f"cannot write '{target}': {reason}; {then}")


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the temporaries atomic_output left in `folder` when a kill -9 hit between write and rename.

    Only names of the exact form it makes (".checkpoint.pt.x1y2z3w4.tmp") are removed, never other files.
    Call it only where no other process writes: a run folder at the start of the run that owns it.
    """
    removed = []
    for path in folder.glob(".*.tmp"):
        if _TEMPORARY.fullmatch(path.name) and path.is_file():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed
