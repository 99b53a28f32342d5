"""Locks of gitmodel's own, so that concurrent commands take turns at shared files.

Eight `git model add` at once in one folder each read-modified-wrote the folder's `.gitignore`
and raced for git's `index.lock`: most failed, and a failing one wrote back its stale copy of
`.gitignore` over lines the others had just added (issue 9). Writing and staging now happen under
one lock per work tree (``flock``, so a killed process never leaves it held), and git's own
`index.lock`, which other git processes take, is waited out for a few seconds.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gitmodel.errors import GitmodelError

LOCK_TIMEOUT_S = 60.0  # an add of a large folder stages for a while; others wait their turn


@contextmanager
def held(path: Path, doing: str, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the lock file ``path`` (created if needed) while ``doing``; wait for it up to
    ``timeout`` seconds, with backoff, then say who to wait for."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        delay = 0.002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise GitmodelError(
                        f"another gitmodel command has held {path} for over {timeout:.0f} s "
                        f"while this one waited to be {doing}; let it finish (or stop it) and "
                        "run this again") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def index_lock_problem(lock: Path, root: Path) -> str:
    """What to tell the user about a git ``index.lock`` that stayed: how old it is, and whether
    a git process is still running in this repository (Linux's /proc; elsewhere unknown)."""
    try:
        age = f"{time.time() - lock.stat().st_mtime:.0f} s old"
    except OSError:
        return f"{lock} came and went while waiting; run the command again"
    running = _git_processes_in(root)
    if running is None:
        who = "if no git command is running, delete it"
    elif running:
        who = (f"git is still running here (pid {', '.join(map(str, running))}): let it finish "
               "and run this again")
    else:
        who = "no git process is running here, so a crashed one left it: delete it"
    return f"git's {lock} is {age} and still there; {who}"


def _git_processes_in(root: Path) -> list[int] | None:
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "git":
                continue
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if cwd == root or root in cwd.parents:
            found.append(int(entry.name))
    return sorted(found)
