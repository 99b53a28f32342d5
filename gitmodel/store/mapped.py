"""Reading packs on both cores: the pieces that fsck's chunk check, the sha256 of a rebuilt
object and a checkout's rebuild (:mod:`gitmodel.store.restore`) share.

They walk a list of chunks and hash each (BLAKE3 and sha256 release the GIL); fsck splits the
list into two halves by bytes so that each core takes one, a checkout lets two threads take
pieces from both ends. The mmaps of packs, the split and the thread fan-out are written once,
here.
"""

from __future__ import annotations

import mmap
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class PackMaps:
    """Read-only mmaps of packs, each opened once; close them all with :meth:`close`."""

    def __init__(self) -> None:
        self._maps: dict[Path, tuple[int, mmap.mmap]] = {}

    def get(self, path: Path) -> mmap.mmap:
        found = self._maps.get(path)
        if found is None:
            fd = os.open(path, os.O_RDONLY)
            try:
                found = (fd, mmap.mmap(fd, 0, access=mmap.ACCESS_READ))
            except BaseException:
                os.close(fd)
                raise
            self._maps[path] = found
        return found[1]

    def close(self) -> None:
        for fd, mapped in self._maps.values():
            mapped.close()
            os.close(fd)
        self._maps.clear()


def in_halves(items: Sequence[T], length_of: Callable[[T], int]) -> list[list[T]]:
    """``items`` cut in two where half their bytes have gone by: the first half ends before the
    first item that starts at or after the middle (the second half may be empty)."""
    half = sum(length_of(item) for item in items) // 2
    start = 0
    for at, item in enumerate(items):
        if start >= half and at > 0:
            return [list(items[:at]), list(items[at:])]
        start += length_of(item)
    return [list(items), []]


def on_threads(parts: Sequence[Sequence[T]], work: Callable[[Sequence[T]], None],
               name: str) -> None:
    """``work`` on every part at once: the first on this thread, the rest on their own; raise
    the first failure once all have stopped."""
    failures: list[BaseException] = []

    def guarded(part: Sequence[T]) -> None:
        try:
            work(part)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=guarded, args=(part,), name=name, daemon=True)
               for part in parts[1:]]
    for thread in threads:
        thread.start()
    guarded(parts[0])
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
