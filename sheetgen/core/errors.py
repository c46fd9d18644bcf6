"""User-facing errors and the write-then-rename discipline.

Every mistake a user can make ends in one line on stderr and exit status 2,
never a traceback; outputs are written to a temporary file beside the target
and renamed into place, so a failed run never leaves a partial file.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import stat
import tempfile
from pathlib import Path

EXIT_USAGE = 2


class UserError(Exception):
    """Bad input: the message says what was wrong and what to do."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (what schedulers, timeouts and `kill` send) or a hangup, handled exactly as Ctrl-C is."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__()
        self.signum = signum


def _raise_terminated(signum, frame):
    raise Terminated(signum)


def handle_sigterm() -> None:
    """Make SIGTERM, and a hangup (SIGHUP: the terminal closed), unwind like Ctrl-C: every `finally`
    and `with` cleans up, no temporary file or scratch folder stays. A hangup ignored (nohup) stays so."""
    with contextlib.suppress(ValueError):  # only the main thread may set handlers; elsewhere keep the default
        signal.signal(signal.SIGTERM, _raise_terminated)
        hangup = getattr(signal, "SIGHUP", None)
        if hangup is not None and signal.getsignal(hangup) is not signal.SIG_IGN:
            signal.signal(hangup, _raise_terminated)


def _write_target(out: Path, flag: str = "-o") -> Path:
    """The file writing `out` replaces: a symlink's final target, so the link then shows the new file."""
    if not out.is_symlink():
        return out
    real = Path(os.path.realpath(out))
    if real.is_symlink():
        raise UserError(f"output '{out}' is a symlink that loops: choose another {flag} path")
    return real


def _check_replaceable(out: Path, target: Path, flag: str = "-o") -> None:
    if not target.exists():
        return
    mode = target.stat().st_mode
    if not stat.S_ISREG(mode):
        raise UserError(f"output '{out}' exists and is not a regular file: choose another {flag} path")
    # Mode bits, not os.access: root may write anything, but a read-only file says "keep me".
    if not mode & 0o222:
        raise UserError(
            f"output '{out}' is read-only (mode {stat.S_IMODE(mode):o}): make it writable "
            f"(chmod u+w {out}) or choose another {flag} path"
        )


def check_output_path(path: str | os.PathLike, *, suffix: str | None = None, flag: str = "-o") -> Path:
    """Refuse, before any work is done, an output path that cannot or must not be written.

    `flag` is the option that named it (-o, --report, --html), so the message says which to change.
    """
    out = Path(path)
    try:
        return _check_output_path(out, suffix, flag)
    except OSError as error:  # a name longer than the file system allows, a folder we may not search
        raise UserError(f"output '{out}': {error.strerror or error}: choose another {flag} path") from None


def _check_output_path(out: Path, suffix: str | None, flag: str) -> Path:
    target = _write_target(out, flag)
    if target.is_dir():
        example = out / ("BackProp.xlsx" if flag == "-o" else f"report{suffix or ''}")
        raise UserError(f"output '{out}' is a directory: give a file name, e.g. {flag} {example}")
    if suffix and out.suffix.lower() != suffix:
        raise UserError(
            f"output '{out}' must end in {suffix}: choose a name like {out.with_suffix(suffix).name}"
        )
    _check_replaceable(out, target, flag)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.exists():
        raise UserError(f"output directory '{parent}' does not exist: create it first (mkdir -p {parent})")
    if not parent.is_dir():
        raise UserError(f"output directory '{parent}' is not a directory: choose another {flag} path")
    if not os.access(parent, os.W_OK):
        raise UserError(f"output directory '{parent}' is not writable: choose another {flag} path")
    return out


_TEMPORARY_EXTRA = len(".." + "-" + "XXXXXXXX" + ".tmp") + 10  # around NAME; a pid has at most 10 digits


def _temporary_stem(target: Path) -> str:
    """NAME in our temporary .NAME.PID-XXXXXXXX.tmp: the target's name, cut (at a character) so that
    the temporary's name fits the file system's limit whenever the target's own name does."""
    folder = target.parent if str(target.parent) else Path(".")
    try:
        limit = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    stem, room = target.name, max(limit - _TEMPORARY_EXTRA, 16)
    while len(os.fsencode(stem)) > room:
        stem = stem[:-1]
    return stem


def _temporary_name(target: Path) -> re.Pattern:
    """Our temporaries of `target`: .NAME.PID-XXXXXXXX.tmp (and .NAME.XXXXXXXX.tmp of older versions)."""
    return re.compile(rf"\.{re.escape(_temporary_stem(target))}\.(?:(\d+)-)?[A-Za-z0-9_]{{8}}\.tmp")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(target: Path) -> None:
    """Delete temporaries of `target` left by a run that was killed (kill -9, power loss) before cleaning up.

    Only our own pattern, and only when the process that made it is gone.
    """
    pattern = _temporary_name(target)
    with contextlib.suppress(OSError):
        for entry in os.scandir(target.parent):
            match = pattern.fullmatch(entry.name)
            if match and entry.is_file(follow_symlinks=False):
                if match.group(1) is None or not _alive(int(match.group(1))):
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)


# Our scratch folders in the system's temporary folder: sheetgen-KIND-PID-XXXXXXXX (mkdtemp's 8).
_SCRATCH = re.compile(r"sheetgen-[a-z]+-(\d+)-[a-z0-9_]{8}")
_swept = False


def remove_stale_scratch() -> None:
    """Delete the scratch folders of runs killed before they could (kill -9, power loss): a batch's
    LibreOffice profiles and outputs, a build's xlsxwriter files. Once per process; only our own
    pattern, only our user's, only when the process that made the folder is gone."""
    global _swept
    if _swept:
        return
    _swept = True
    with contextlib.suppress(OSError):
        for entry in os.scandir(tempfile.gettempdir()):
            match = _SCRATCH.fullmatch(entry.name)
            if not match or not entry.is_dir(follow_symlinks=False) or _alive(int(match.group(1))):
                continue
            with contextlib.suppress(OSError):
                if entry.stat(follow_symlinks=False).st_uid == os.getuid():
                    shutil.rmtree(entry.path, ignore_errors=True)


_live: set[tuple[int, str]] = set()  # (owner pid, folder): scratch folders made and not yet removed
# SIGALRM too: a verify worker's parent check (verify/workers.py) stops it from a timer
_STOPS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP", "SIGALRM") if hasattr(signal, n))


@contextlib.contextmanager
def signals_held():
    """Hold Ctrl-C, SIGTERM, SIGHUP and SIGALRM until the block ends (delivered then): a step that must be
    whole, such as making a folder and recording it for removal, is never cut in two."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def scratch_folder(kind: str) -> Path:
    """A new private folder in the system's temporary folder, named for the process that owns it, so
    that a later run can tell it is stale (remove_stale_scratch). The caller removes it (remove_scratch);
    should it not get to (an interrupt at the wrong moment), remove_own_scratch() does, at exit."""
    remove_stale_scratch()
    with signals_held():  # made and recorded as one step
        folder = tempfile.mkdtemp(prefix=f"sheetgen-{kind}-{os.getpid()}-")
        _live.add((os.getpid(), folder))
    return Path(folder)


def remove_scratch(folder: str | os.PathLike) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    _live.discard((os.getpid(), str(folder)))


def remove_own_scratch() -> None:
    """Remove every scratch folder this process made and has not removed (a forked child's own only)."""
    for pid, folder in list(_live):
        if pid == os.getpid():
            remove_scratch(folder)


atexit.register(remove_own_scratch)


@contextlib.contextmanager
def scratch(kind: str):
    """scratch_folder(kind) for the length of a with block, removed however the block ends."""
    folder = scratch_folder(kind)
    try:
        yield folder
    finally:
        remove_scratch(folder)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, flag: str = "-o"):
    """Yield a temporary path beside `path`'s file; rename it onto that file only if the block succeeds.

    A symlink is written through (its target is replaced, atomically, in the target's folder); a
    read-only file is refused; the replaced file's permissions are kept.
    """
    out = Path(path)
    target = _write_target(out, flag)
    _check_replaceable(out, target, flag)
    folder = target.parent if str(target.parent) else Path(".")
    remove_stale_temporaries(target)
    prefix = f".{_temporary_stem(target)}.{os.getpid()}-"
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        if target.exists():
            mode = stat.S_IMODE(target.stat().st_mode)
        else:  # mkstemp makes the file private (0600); give it the permissions a plain open() would.
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        yield Path(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_output(path: str | os.PathLike, write, *, flag: str) -> None:
    """write(tmp) inside atomic_output(path): a failure to write (a full disk, a file system that
    refuses the name) is one line naming `flag`, and the file is left as it was."""
    try:
        with atomic_output(path, flag=flag) as tmp:
            write(tmp)
    except OSError as error:
        raise UserError(
            f"{flag} '{path}': could not write it ({error.strerror or error}); nothing was written: "
            f"free some space or choose another {flag} path"
        ) from None
