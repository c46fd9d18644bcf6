"""User-facing errors and atomic writes for mnist_trainer.

Every mistake a user can make ends in one line on stderr and exit status 2, never a traceback;
files are written to a temporary name beside the target and renamed into place, so an interrupted
or failed run never leaves a half-written metrics.json, model.pt or checkpoint.pt behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

EXIT_USAGE = 2


class UserError(Exception):
    """Bad input: the message says what was wrong and what to do."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike):
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file private; give it normal permissions
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
