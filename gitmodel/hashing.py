"""Streaming SHA-256, and a stat cache so that unchanged files are not hashed again.

Objects are named by the SHA-256 of their bytes (docs/design.md, decision 1), read in 1 MiB chunks so a
model is never held in memory. Copies hash in a second thread: hashlib releases the GIL on large
buffers, so a copy costs about max(hash, write) instead of their sum (measured here at 512 MiB:
0.33 s hashing, 0.14 s writing).
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

CHUNK_SIZE = 1 << 20
OID_PREFIX = "sha256:"

Progress = Callable[[int], None]
"""Called with the number of bytes just processed."""


def oid_of_hex(hexdigest: str) -> str:
    return OID_PREFIX + hexdigest


def hash_stream(stream: BinaryIO, progress: Progress | None = None) -> tuple[str, int]:
    """(``sha256:<hex>``, size) of everything left in ``stream``."""
    # imported where bytes are hashed: loading OpenSSL costs ~2 ms, and a `status` whose files
    # the stat cache knows hashes nothing
    import hashlib

    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK_SIZE):
        digest.update(chunk)
        size += len(chunk)
        if progress:
            progress(len(chunk))
    return oid_of_hex(digest.hexdigest()), size


def hash_file(path: Path, progress: Progress | None = None) -> tuple[str, int]:
    with open(path, "rb") as stream:
        return hash_stream(stream, progress)


def copy_hashing(
    source: BinaryIO, target: BinaryIO, progress: Progress | None = None
) -> tuple[str, int]:
    """Copy ``source`` to ``target`` and return the oid and size of exactly the bytes written."""
    import hashlib

    digest = hashlib.sha256()
    chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=16)
    failure: list[BaseException] = []

    def consume() -> None:
        try:
            while (chunk := chunks.get()) is not None:
                digest.update(chunk)
        except BaseException as exc:  # pragma: no cover - hashlib does not fail on bytes
            failure.append(exc)

    hasher = threading.Thread(target=consume, name="gitmodel-hash", daemon=True)
    hasher.start()
    size = 0
    try:
        while chunk := source.read(CHUNK_SIZE):
            chunks.put(chunk)
            target.write(chunk)
            size += len(chunk)
            if progress:
                progress(len(chunk))
    finally:
        chunks.put(None)
        hasher.join()
    if failure:  # pragma: no cover
        raise failure[0]
    return oid_of_hex(digest.hexdigest()), size


def copy_immutable_hashing(source: Path, target_fd: int,
                           progress: Progress | None = None) -> tuple[str, int] | None:
    """Copy ``source``, which must not change while copied (a read-only cache object), into
    ``target_fd`` in the kernel (copy_file_range, as cp does) while a thread hashes it.

    Returns the source's (oid, size), or None where the kernel cannot copy between these files
    (the caller then falls back to :func:`copy_hashing`). At 512 MiB this takes about
    max(hash, kernel copy) = 0.33 s here, where reading into Python and writing back out made
    the copy alone cost 0.4-1.2 s (benchmarks/NOTES.md).
    """
    copy_range = getattr(os, "copy_file_range", None)
    if copy_range is None:
        return None
    result: list[tuple[str, int]] = []
    failure: list[BaseException] = []

    def hash_source() -> None:
        try:
            result.append(hash_file(source, progress))
        except BaseException as exc:
            failure.append(exc)

    with open(source, "rb") as src:
        size = os.fstat(src.fileno()).st_size
        try:  # probe before starting the thread: most refusals come on the first call
            copied = copy_range(src.fileno(), target_fd, min(size, CHUNK_SIZE)) if size else 0
        except OSError:
            return None
        hasher = threading.Thread(target=hash_source, name="gitmodel-hash", daemon=True)
        hasher.start()
        try:
            while copied < size:
                done = copy_range(src.fileno(), target_fd, min(size - copied, 1 << 30))
                if done == 0:
                    raise OSError(f"{source} shrank while being copied")
                copied += done
        finally:
            hasher.join()
    if failure:
        raise failure[0]
    return result[0]


# A file whose mtime is this close to the moment we hashed it may have been written again within
# the same timestamp tick, so its stat alone cannot prove it unchanged ("racy git", see git's
# Documentation/technical/racy-git.txt). Filesystems with whole-second timestamps get a 2 s margin.
RACY_MARGIN_NS = 20_000_000
WRITTEN = -1  # hashed_at_ns of an entry for bytes gitmodel wrote itself (see record_written)
COARSE_RACY_MARGIN_NS = 2_000_000_000


def settled(stat: os.stat_result, now_ns: int) -> bool:
    """Whether a write to the file would move its stat from here on (it is not racy)."""
    return not _racy(stat, now_ns)


def same_stat(before: os.stat_result, after: os.stat_result) -> bool:
    return (before.st_ino, before.st_size, before.st_mtime_ns, before.st_ctime_ns) == (
        after.st_ino, after.st_size, after.st_mtime_ns, after.st_ctime_ns)


def _racy(stat: os.stat_result, hashed_at_ns: int) -> bool:
    # The filesystem's granularity shows in ctime, which only the kernel sets: an mtime of a
    # whole second may just come from `touch -d` or a tool restoring timestamps.
    coarse = stat.st_ctime_ns % 1_000_000_000 == 0
    margin = COARSE_RACY_MARGIN_NS if coarse else RACY_MARGIN_NS
    return stat.st_mtime_ns >= hashed_at_ns - margin or stat.st_ctime_ns >= hashed_at_ns - margin


class StatCache:
    """Remembers the oid of a file for as long as its (inode, size, mtime, ctime) stay the same.

    Kept in SQLite so two gitmodel processes can use it at once without losing the file.
    """

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self._conn: sqlite3.Connection | None = None
        # rows read ahead by prefetch(): path -> row, or None for a path that has no entry
        self._rows: dict[str, tuple[int, int, int, int, int, str] | None] = {}

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS stat (path TEXT PRIMARY KEY, inode INTEGER, "
                "size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER, hashed_at_ns INTEGER, "
                "oid TEXT)"
            )
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def prefetch(self, paths: Iterable[Path]) -> None:
        """Read the entries of ``paths`` in a few queries, so that the lookups that follow do
        not ask SQLite once per file (``status`` of 300 models asks about 300 files)."""
        keys = [str(p) for p in paths if str(p) not in self._rows]
        if not keys:
            return
        if not self.db_path.exists():
            self._rows.update(dict.fromkeys(keys))
            return
        db = self._db()
        for start in range(0, len(keys), 500):  # well under SQLite's limit on bound values
            chunk = keys[start:start + 500]
            self._rows.update(dict.fromkeys(chunk))
            marks = ",".join("?" * len(chunk))
            for path, *row in db.execute(
                "SELECT path, inode, size, mtime_ns, ctime_ns, hashed_at_ns, oid FROM stat "
                f"WHERE path IN ({marks})", chunk,
            ):
                self._rows[path] = tuple(row)

    def _row(self, path: Path) -> tuple[int, int, int, int, int, str] | None:
        key = str(path)
        if key in self._rows:
            return self._rows[key]
        if not self.db_path.exists():
            return None
        row = self._db().execute(
            "SELECT inode, size, mtime_ns, ctime_ns, hashed_at_ns, oid FROM stat WHERE path = ?",
            (key,),
        ).fetchone()
        return None if row is None else tuple(row)

    def lookup(self, path: Path, stat: os.stat_result) -> str | None:
        """The oid recorded for ``path`` if its stat is unchanged and was not racy."""
        row = self._row(path)
        if row is None:
            return None
        inode, size, mtime_ns, ctime_ns, hashed_at_ns, oid = row
        if (inode, size, mtime_ns, ctime_ns) != (
            stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns
        ):
            return None
        if hashed_at_ns != WRITTEN and _racy(stat, hashed_at_ns):
            return None
        return str(oid)

    def record(self, path: Path, stat: os.stat_result, oid: str, hashed_at_ns: int) -> None:
        """Remember that ``path`` with ``stat`` holds ``oid``, hashed starting at ``hashed_at_ns``."""
        self._rows.pop(str(path), None)
        self._db().execute(
            "INSERT OR REPLACE INTO stat VALUES (?, ?, ?, ?, ?, ?, ?)",
            (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns,
             hashed_at_ns, oid),
        )

    def record_written(self, path: Path, stat: os.stat_result, oid: str) -> None:
        """Remember a file gitmodel itself just wrote (and verified) as holding ``oid``.

        Unlike a file hashed by reading, its bytes are known as of its last write, so the entry
        is trusted at once while the stat is unchanged; only a write by another process within
        the same timestamp tick as ours (a few ms on ext4) could go unseen. Without this, the
        first `status` or checkout after every materialization would rehash the whole artifact
        (0.42 s at 512 MiB, benchmarks/NOTES.md).
        """
        self.record(path, stat, oid, WRITTEN)

    def forget(self, path: Path) -> None:
        self._rows.pop(str(path), None)
        if self.db_path.exists():
            self._db().execute("DELETE FROM stat WHERE path = ?", (str(path),))

    def oid_of(self, path: Path, progress: Progress | None = None) -> tuple[str, int]:
        """(oid, size) of ``path``: from the cache when its stat allows, else by hashing it."""
        stat = path.stat()
        cached = self.lookup(path, stat)
        if cached is not None:
            return cached, stat.st_size
        started = time.time_ns()
        oid, size = hash_file(path, progress)
        after = path.stat()
        if (after.st_mtime_ns, after.st_size) == (stat.st_mtime_ns, stat.st_size):
            self.record(path, after, oid, started)
        return oid, size
