"""Running transfers on threads that stop together: the first failure or a Ctrl-C cancels the rest."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from gitmodel.hashing import Progress

DEFAULT_JOBS = 8
# After a Ctrl-C or a failure, how long the caller waits for the other workers to notice and
# remove their temp files before it returns anyway (a worker stuck in a network call).
STOP_GRACE_SECONDS = 10.0


class Cancelled(Exception):
    """A transfer stopped because another one failed or the user pressed Ctrl-C."""


def run_parallel(items: Sequence[Any], work: Callable[[Any, Progress], None], jobs: int,
                 progress: Progress | None = None) -> None:
    """Run ``work(item, progress)`` on up to ``jobs`` threads; the first failure stops the rest.

    The threads are daemons and the main thread waits in short slices, so Ctrl-C lands at once:
    the workers' progress calls then raise :class:`Cancelled`, and whatever they wrote is a temp
    file, never an object under its final name. Before the Ctrl-C (or the first failure) leaves
    this function, every worker has stopped and cleaned up (up to :data:`STOP_GRACE_SECONDS`; a
    second Ctrl-C stops waiting): a worker still writing after the return would race a resumed
    push and leave temp files behind when the process exits.
    """
    if not items:
        return
    cancel = threading.Event()
    lock = threading.Lock()
    pending = iter(items)
    errors: list[BaseException] = []

    def tick(nbytes: int) -> None:
        if cancel.is_set():
            raise Cancelled()
        if progress is not None:
            with lock:
                progress(nbytes)

    # Workers say they are done through a counter and an Event, and the main thread waits on the
    # Event, never in Thread.join: on Python 3.11 a Ctrl-C landing inside join() marks the thread
    # as stopped while it still runs, so a join-based wait returned with a worker still copying.
    running = [0]
    all_done = threading.Event()

    def worker() -> None:
        try:
            while not cancel.is_set():
                with lock:
                    item = next(pending, _END)
                if item is _END:
                    return
                try:
                    work(item, tick)
                except BaseException as exc:
                    with lock:
                        if not isinstance(exc, Cancelled) or not errors:
                            errors.append(exc)
                    cancel.set()
                    return
        finally:
            with lock:
                running[0] -= 1
                if running[0] == 0:
                    all_done.set()

    threads = [threading.Thread(target=worker, name="gitmodel-transfer", daemon=True)
               for _ in range(max(1, min(jobs, len(items))))]
    try:
        # starting is inside the try: the first workers tick (and a Ctrl-C can land) before
        # the last one has started
        for thread in threads:
            with lock:
                running[0] += 1
            try:
                thread.start()
            except BaseException:
                with lock:
                    running[0] -= 1
                    if running[0] == 0:
                        all_done.set()
                raise
        while not all_done.wait(0.1):
            pass
    except BaseException:
        cancel.set()
        _wait_for(all_done, threads, STOP_GRACE_SECONDS)
        raise
    _reap(threads)
    real = [e for e in errors if not isinstance(e, Cancelled)]
    if real or errors:
        raise (real or errors)[0]


_END = object()


def _wait_for(all_done: threading.Event, threads: list[threading.Thread],
              seconds: float) -> None:
    """Wait until every started worker has left (a second Ctrl-C stops waiting)."""
    deadline = time.monotonic() + seconds
    while not all_done.is_set() and time.monotonic() < deadline:
        all_done.wait(0.05)
    if all_done.is_set():
        _reap(threads)


def _reap(threads: list[threading.Thread]) -> None:
    """Workers that said they are done are a few instructions from their end: join them, so
    none is seen alive after this function returns (the first Ctrl-C was handled already)."""
    for thread in threads:
        if thread.ident is not None:
            thread.join(1.0)
