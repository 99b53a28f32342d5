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

    The threads are daemons and the main thread waits in short joins, so Ctrl-C lands at once:
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

    def worker() -> None:
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

    threads = [threading.Thread(target=worker, name="gitmodel-transfer", daemon=True)
               for _ in range(max(1, min(jobs, len(items))))]
    try:
        # starting is inside the try: the first workers tick (and a Ctrl-C can land) before
        # the last one has started
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.1)
    except BaseException:
        cancel.set()
        _wait_for(threads, STOP_GRACE_SECONDS)
        raise
    real = [e for e in errors if not isinstance(e, Cancelled)]
    if real or errors:
        raise (real or errors)[0]


_END = object()


def _wait_for(threads: list[threading.Thread], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    for thread in threads:
        while thread.ident is not None and thread.is_alive() and time.monotonic() < deadline:
            thread.join(0.05)
