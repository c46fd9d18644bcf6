"""A class verified by several worker processes at once, each taking a share of the books end to end.

Reading and judging a 6 x 100 book costs Python about 0.33 s of CPU, LibreOffice's recalculation of it
about 0.2 s: in one process Python is the batch's bottleneck however many soffice processes --jobs
starts. So a class of at least MIN_BOOKS_PER_WORKER x jobs books is split over `jobs` forked workers.
Worker k takes books k, k + jobs, ... and runs the whole pipeline on them (each book read through
before its own soffice process sees it, recalculated, judged), sending back each verdict with the
book as read. The parent shows the verdicts in input order and runs the class's hooks (annotated
copies, the HTML report), so only the work is split, never what the user sees.

Workers are forked (Linux only: they start with everything imported, and fork is safe there); on
other systems, and for small batches, one process does it all. Ctrl-C and SIGTERM reach the workers
as they reach the parent: each stops, closing its LibreOffice process and removing its scratch files,
and the parent reports the stop in its one line. A worker stopped by a signal of its own stops the
run the same way: an interrupt is never a verdict on a book. A worker never outlives its parent:
killed outright (kill -9) or hung up, the parent's death reaches each worker (a parent-death signal,
and a timer that checks the parent), which then stops as on SIGTERM; it never blocks writing to a
parent that has stopped reading (the parent closes its pipes before it waits for them).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import signal
import sys
from multiprocessing.connection import wait
from pathlib import Path

from sheetgen.core.errors import Terminated, remove_own_scratch

MIN_BOOKS_PER_WORKER = 2  # fewer, and starting a worker costs more than it saves


def worthwhile(books: int, jobs: int) -> bool:
    """Whether `books` books are worth splitting over `jobs` workers on this system."""
    return jobs >= 2 and books >= MIN_BOOKS_PER_WORKER * jobs and sys.platform.startswith("linux")


_stopping = False
_stop_signal: int | None = None  # the signal that stopped this worker
PARENT_POLL_SECONDS = 1.0  # how often a worker checks that its parent is still there
PR_SET_PDEATHSIG = 1  # linux/prctl.h


class _Stopped(KeyboardInterrupt):
    """A worker told to stop (a signal, or its parent gone): never a verdict on a book."""


def _stop(signum, frame) -> None:
    """The first Ctrl-C, SIGTERM or hangup stops the worker; later ones (the parent's SIGTERM after a
    Ctrl-C that reached both) are ignored, so they cannot cut short the closing of its LibreOffice."""
    global _stopping, _stop_signal
    if not _stopping:
        _stopping, _stop_signal = True, signum
        raise _Stopped


def _watch_parent(parent: int) -> None:
    """End with the parent: the kernel sends SIGTERM when it dies (Linux's parent-death signal), and a
    timer checks every PARENT_POLL_SECONDS that it is still our parent (elsewhere, or should the first
    be missed); either way the worker stops as on SIGTERM, closing its LibreOffice and scratch files."""
    import ctypes
    import ctypes.util

    with contextlib.suppress(OSError, AttributeError, TypeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    def check(signum, frame):
        if os.getppid() != parent:
            _stop(signal.SIGTERM, frame)

    signal.signal(signal.SIGALRM, check)
    signal.setitimer(signal.ITIMER_REAL, PARENT_POLL_SECONDS, PARENT_POLL_SECONDS)
    if os.getppid() != parent:  # it died before the watch was set
        _stop(signal.SIGTERM, None)


def _worker(
    connection, others, parent: int, run_share, paths: list[Path], indices: list[int], work: Path
) -> None:
    """In the worker: verify paths[indices] with run_share, sending ("done", index, result, book,
    source) for each book in order, then ("end",); ("stopped", signum) if a signal (or its parent's
    end) stopped it; ("failed", why) if anything else did."""
    for inherited in others:  # the read ends of earlier workers' pipes: only the parent may hold them
        inherited.close()
    try:
        # A run that ignores Ctrl-C (a background job) has workers that ignore it too.
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
        if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
            signal.signal(signal.SIGHUP, _stop)
        _watch_parent(parent)
        read: dict[int, tuple] = {}

        def on_read(position: int, book, source: Path) -> None:
            read[position] = (book, source)

        def on_done(position: int, result) -> None:
            if _stopping:  # a stop swallowed somewhere below (a __del__) still stops the worker
                raise _Stopped
            book, source = read.pop(position, (None, None))
            connection.send(("done", indices[position], result, book, source))

        run_share([paths[i] for i in indices], on_read, on_done, work)
        connection.send(("end",))
    except BaseException as error:  # a stop or a bug: run_share has closed its LibreOffice
        with contextlib.suppress(BaseException):
            signal.setitimer(signal.ITIMER_REAL, 0)
            if _stopping or isinstance(error, KeyboardInterrupt):
                connection.send(("stopped", _stop_signal or signal.SIGINT))
            else:
                connection.send(("failed", f"{type(error).__name__}: {error}"))
    finally:
        with contextlib.suppress(BaseException):
            signal.setitimer(signal.ITIMER_REAL, 0)
            connection.close()
        with contextlib.suppress(BaseException):
            remove_own_scratch()  # LibreOffice folders a stop left behind
            # The parent still reads a finished share's files (a converted book's .xlsx, for its
            # annotated copy) and removes the folder itself; only a stopped or orphaned worker clears it.
            if _stopping or os.getppid() != parent:
                shutil.rmtree(work, ignore_errors=True)
            if os.getppid() != parent:  # the parent is gone: its folder too, once every worker's is
                with contextlib.suppress(OSError):
                    os.rmdir(work.parent)
        os._exit(0)  # no atexit handlers, no flushing of the parent's buffers a second time


def verify_split(paths: list[Path], jobs: int, run_share, arrived, failed, work: Path) -> None:
    """Verify `paths` over `jobs` workers; arrived(index, result, book, source) for each verdict as it
    comes, failed(index, why) for each book of a worker that stopped before judging it.

    run_share(paths, on_read, on_done, work) verifies one share in the worker, as verify_books does.
    A worker stopped by a signal stops the run: KeyboardInterrupt (SIGINT) or Terminated, never a
    verdict on its books.
    """
    context = multiprocessing.get_context("fork")
    running: dict = {}
    processes = []
    try:
        for k in range(jobs):
            indices = list(range(k, len(paths), jobs))
            receiving, sending = context.Pipe(duplex=False)
            process = context.Process(
                target=_worker,
                args=(sending, list(running), os.getpid(), run_share, paths, indices, work / f"worker{k}"),
                daemon=True,
            )
            process.start()
            processes.append(process)
            sending.close()
            running[receiving] = (process, indices, set())
        while running:
            for connection in wait(list(running)):
                process, indices, seen = running[connection]
                try:
                    message = connection.recv()
                except (EOFError, OSError):
                    message = ("failed", f"its worker process ended (status {process.exitcode})")
                if message[0] == "done":
                    _, index, result, book, source = message
                    seen.add(index)
                    arrived(index, result, book, source)
                    continue
                if message[0] == "stopped":  # an interrupt is never a verdict: the run stops
                    signum = message[1]
                    raise KeyboardInterrupt if signum == signal.SIGINT else Terminated(signum)
                if message[0] == "failed":
                    for index in indices:
                        if index not in seen:
                            failed(index, message[1])
                del running[connection]
                connection.close()
    finally:  # normally every worker has ended; on Ctrl-C or SIGTERM, stop those still going
        for connection in running:  # a worker blocked writing to us gets EPIPE, not a wait forever
            with contextlib.suppress(OSError):
                connection.close()
        for process in processes:
            if process.is_alive():
                with contextlib.suppress(OSError):
                    process.terminate()
        for process in processes:
            process.join(timeout=WORKER_STOP_SECONDS)
            if process.is_alive():  # stuck past its grace: killed (a later run sweeps its folders)
                process.kill()
                process.join(timeout=5)


WORKER_STOP_SECONDS = 60
