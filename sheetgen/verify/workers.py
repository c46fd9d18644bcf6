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
and the parent reports the stop in its one line.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
from multiprocessing.connection import wait
from pathlib import Path

MIN_BOOKS_PER_WORKER = 2  # fewer, and starting a worker costs more than it saves


def worthwhile(books: int, jobs: int) -> bool:
    """Whether `books` books are worth splitting over `jobs` workers on this system."""
    return jobs >= 2 and books >= MIN_BOOKS_PER_WORKER * jobs and sys.platform.startswith("linux")


_stopping = False


def _stop(signum, frame) -> None:
    """The first Ctrl-C or SIGTERM stops the worker; later ones (the parent's SIGTERM after a Ctrl-C
    that reached both) are ignored, so they cannot cut short the closing of its LibreOffice."""
    global _stopping
    if not _stopping:
        _stopping = True
        raise KeyboardInterrupt


def _worker(connection, run_share, paths: list[Path], indices: list[int], work: Path) -> None:
    """In the worker: verify paths[indices] with run_share, sending ("done", index, result, book,
    source) for each book in order, then ("end",), or ("failed", why) if it had to stop."""
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    read: dict[int, tuple] = {}

    def on_read(position: int, book, source: Path) -> None:
        read[position] = (book, source)

    def on_done(position: int, result) -> None:
        book, source = read.pop(position, (None, None))
        connection.send(("done", indices[position], result, book, source))

    try:
        run_share([paths[i] for i in indices], on_read, on_done, work)
        connection.send(("end",))
    except BaseException as error:  # Ctrl-C, SIGTERM or a bug: run_share has closed its LibreOffice
        with contextlib.suppress(Exception):
            connection.send(("failed", f"{type(error).__name__}: {error}"))
    finally:
        with contextlib.suppress(Exception):
            connection.close()
        os._exit(0)  # no atexit handlers, no flushing of the parent's buffers a second time


def verify_split(paths: list[Path], jobs: int, run_share, arrived, failed, work: Path) -> None:
    """Verify `paths` over `jobs` workers; arrived(index, result, book, source) for each verdict as it
    comes, failed(index, why) for each book of a worker that stopped before judging it.

    run_share(paths, on_read, on_done, work) verifies one share in the worker, as verify_books does.
    """
    context = multiprocessing.get_context("fork")
    running: dict = {}
    try:
        for k in range(jobs):
            indices = list(range(k, len(paths), jobs))
            receiving, sending = context.Pipe(duplex=False)
            process = context.Process(
                target=_worker, args=(sending, run_share, paths, indices, work / f"worker{k}"), daemon=True
            )
            process.start()
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
                if message[0] == "failed":
                    for index in indices:
                        if index not in seen:
                            failed(index, message[1])
                del running[connection]
                connection.close()
    finally:  # normally every worker has ended; on Ctrl-C or SIGTERM, stop those still going
        for process, _, _ in running.values():
            with contextlib.suppress(OSError):
                process.terminate()
        for child in multiprocessing.active_children():
            child.join(timeout=60)
