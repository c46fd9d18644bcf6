"""User-facing errors and the write-then-rename discipline.

Every mistake a user can make ends in one line on stderr and exit status 2,
never a traceback; outputs are written to a temporary file beside the target
and renamed into place, so a failed run never leaves a partial file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

EXIT_USAGE = 2


class UserError(Exception):
    """Bad input: the message says what was wrong and what to do."""


def check_output_path(path: str | os.PathLike, *, suffix: str | None = None) -> Path:
    """Refuse, before any work is done, an output path that cannot be written."""
    out = Path(path)
    if out.is_dir():
        raise UserError(f"output '{out}' is a directory: give a file name, e.g. -o {out / 'BackProp.xlsx'}")
    if suffix and out.suffix.lower() != suffix:
        raise UserError(
            f"output '{out}' must end in {suffix}: choose a name like {out.with_suffix(suffix).name}"
        )
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.exists():
        raise UserError(f"output directory '{parent}' does not exist: create it first (mkdir -p {parent})")
    if not parent.is_dir():
        raise UserError(f"output directory '{parent}' is not a directory: choose another -o path")
    if not os.access(parent, os.W_OK):
        raise UserError(f"output directory '{parent}' is not writable: choose another -o path")
    return out


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike):
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    os.close(fd)
    # mkstemp makes the file private (0600); give it the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
