"""Verification of the cache: rehash every object on every core, and quarantine the corrupt.

Objects are read-only and named by their sha256, so an object whose bytes hash to another name
was damaged after it entered the cache (a disk error, a tool that wrote through a hard link).
:func:`rehash` finds them; :func:`quarantine` moves one out of ``objects/`` into
``<root>/quarantine/`` so nothing materializes it again, while its bytes stay there for a look
(gitmodel never deletes the quarantine; docs/storage.md says how to empty it).

Threads, not processes: hashlib releases the GIL while it hashes a buffer of 2 KiB or more, and
a 1 MiB ``readinto`` releases it too, so two threads hash two objects at once. Measured here
(8 x 64 MiB from the page cache): one core 1.17 GB/s, two threads 2.29-2.38 GB/s, a process pool
of two 2.26-2.29 GB/s, which also pays a fork per run and pickles every result back.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from gitmodel.errors import ObjectMissingError, StoreFormatError
from gitmodel.hashing import CHUNK_SIZE, OID_PREFIX, Progress
from gitmodel.store.objects import ObjectStore, is_oid
from gitmodel.store.packcheck import PackCheck, check_packs

QUARANTINE = "quarantine"


@dataclass(frozen=True)
class Corrupt:
    """An object whose bytes do not hash to its name."""

    oid: str
    actual: str  # what its bytes hash to ("" for a chunked object: see detail)
    size: int
    detail: str = ""  # a chunked object: which chunk of which pack is bad


@dataclass(frozen=True)
class Unreadable:
    """An object that could not be read at all (an I/O error, a permission)."""

    oid: str
    error: str


@dataclass
class RehashReport:
    checked: int = 0
    bytes: int = 0
    seconds: float = 0.0
    jobs: int = 1
    corrupt: list[Corrupt] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)
    # entries under objects/ whose path is not an oid (a stray file someone put there)
    strays: list[str] = field(default_factory=list)
    packs: PackCheck | None = None  # the packs' check, when any object is chunked

    @property
    def bad(self) -> set[str]:
        return {c.oid for c in self.corrupt} | {u.oid for u in self.unreadable}


def default_jobs() -> int:
    """One hashing thread per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _sha256_of(path: Path, progress: Callable[[int], None]) -> str:
    import hashlib

    digest = hashlib.sha256()
    buffer = bytearray(4 * CHUNK_SIZE)
    view = memoryview(buffer)
    # unbuffered readinto one reused buffer: no 4 MiB bytes object per read, and the read and the
    # hash both run without the GIL
    with open(path, "rb", buffering=0) as stream:
        # from a cold cache the disk reads two objects at once: ask for a larger readahead
        with contextlib.suppress(AttributeError, OSError):
            os.posix_fadvise(stream.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
        while n := stream.readinto(view):
            digest.update(view[:n])
            progress(n)
    return OID_PREFIX + digest.hexdigest()


def rehash(store: ObjectStore, oids: Iterable[str] | None = None, *, jobs: int | None = None,
           progress: Progress | None = None,
           plan: Callable[[int, int], None] | None = None) -> RehashReport:
    """Hash every object in the cache (or those of ``oids`` that it holds) with ``jobs`` threads
    (default: one per core); ``plan`` is called once with (objects, bytes) before, ``progress``
    with byte counts, from one thread at a time."""
    started = time.monotonic()
    report = RehashReport(jobs=jobs or default_jobs())
    if oids is None:
        names = list(store.oids())
        report.strays = sorted(n for n in names if not is_oid(n))
        wanted = [n for n in names if is_oid(n)]
    else:
        wanted = sorted({o for o in oids if store.has(o)})
    sized: list[tuple[int, str]] = []
    for oid in wanted:
        try:
            sized.append((store.size(oid), oid))
        except FileNotFoundError:
            continue
        except OSError as exc:
            report.unreadable.append(Unreadable(oid, _describe(exc)))
    # largest first: one big object started last would leave the other core idle meanwhile
    sized.sort(reverse=True)
    lock = threading.Lock()
    stop = threading.Event()

    def tick(n: int) -> None:
        if stop.is_set():
            raise _Stopped
        if progress is not None:
            with lock:
                progress(n)

    # Chunked objects: every chunk of every pack is checked once against its BLAKE3 id (both
    # cores), then each recipe is checked (its own checksum) and its chunks looked up in that
    # result. The recipe's sha256 was checked when its chunks were hashed in (add, fetch), so
    # sound chunks in recipe order make its bytes (docs/store-format.md; issue 11).
    chunked = {oid for _, oid in sized if store.is_chunked(oid)}
    if plan is not None:
        # the bytes read: whole objects, and the packs once (not each chunked file's size)
        pack_bytes = sum(_size_of(p) for p in store.packs_dir.glob("pack-*.pack")) \
            if chunked else 0
        plan(len(sized), sum(size for size, oid in sized if oid not in chunked) + pack_bytes)
        plan = None
    if chunked:
        report.packs = check_packs(store.packs_dir, jobs=report.jobs,
                                   progress=None if progress is None else tick)
        store.forget_chunk_map()

    def check(item: tuple[int, str]) -> None:
        size, oid = item
        try:
            # the path itself, not object_path(): that refuses a non-file, which is worth
            # reporting as unreadable here
            if oid in chunked and report.packs is not None:
                try:
                    bad = _chunked_problem(store, oid, report.packs)
                except ObjectMissingError:
                    return  # its recipe went since it was listed (a gc meanwhile)
                with lock:
                    report.checked += 1
                    report.bytes += size
                    if bad:
                        report.corrupt.append(Corrupt(oid, "", size, bad))
                return
            if store.is_chunked(oid):
                actual = store.rehash_chunked(oid, tick)
            else:
                actual = _sha256_of(store._path(oid), tick)
        except StoreFormatError as exc:  # a damaged recipe, or chunks in no pack
            with lock:
                report.unreadable.append(Unreadable(oid, str(exc)))
            return
        except FileNotFoundError:
            return  # removed since it was listed (a gc running meanwhile): nothing to check
        except OSError as exc:
            with lock:
                report.unreadable.append(Unreadable(oid, _describe(exc)))
            return
        with lock:
            report.checked += 1
            report.bytes += size
            if actual != oid:
                report.corrupt.append(Corrupt(oid, actual, size))

    if plan is not None:
        plan(len(sized), sum(size for size, _ in sized))
    if report.jobs == 1 or len(sized) <= 1:
        for item in sized:
            check(item)
    else:
        _run_threads(sized, check, report.jobs, stop)
    report.corrupt.sort(key=lambda c: c.oid)
    report.unreadable.sort(key=lambda u: u.oid)
    report.seconds = time.monotonic() - started
    return report


def _size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _chunked_problem(store: ObjectStore, oid: str, packs: PackCheck) -> str:
    """What is wrong with a chunked object given the packs' check, or "" when it is sound.
    A damaged recipe raises :class:`StoreFormatError` (reported as unreadable)."""
    recipe = store.recipe(oid)
    index = store.chunk_index()
    for number, (chunk_id, length) in enumerate(recipe.chunks):
        if chunk_id in packs.good_chunks:
            where = index.locate(chunk_id)
            if where is not None and where[2] == length:
                continue
        bad_pack = packs.bad_chunks.get(chunk_id)
        if bad_pack is not None:
            return (f"chunk {number} ({chunk_id.hex()[:16]}) in {bad_pack.name} does not match "
                    "its id")
        if chunk_id not in packs.good_chunks:
            return f"chunk {number} ({chunk_id.hex()[:16]}) is in no sound pack"
        return f"chunk {number} ({chunk_id.hex()[:16]}) has another length in its pack"
    return ""


class _Stopped(Exception):
    """Raised in a hashing thread once the main thread has stopped waiting (Ctrl-C, a failure)."""


def _run_threads(items: list[tuple[int, str]], work: Callable[[tuple[int, str]], None],
                 jobs: int, stop: threading.Event) -> None:
    """``work`` on every item with ``jobs`` threads. The main thread waits in short slices so
    a Ctrl-C lands at once; then the queued items are dropped and the running ones stop at their
    next read, instead of hashing the rest of the cache on the way out."""
    from concurrent.futures import FIRST_EXCEPTION, wait

    pool = ThreadPoolExecutor(jobs, thread_name_prefix="gitmodel-fsck")
    try:
        pending = {pool.submit(work, item) for item in items}
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
            for future in done:
                future.result()
    except BaseException:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _describe(exc: OSError) -> str:
    return f"{exc.strerror or type(exc).__name__}" + (f" ({exc.filename})" if exc.filename else "")


@dataclass(frozen=True)
class Quarantined:
    oid: str
    path: Path  # where its bytes are now
    size: int


def quarantine(store: ObjectStore, oid: str) -> Quarantined:
    """Move the object ``oid`` out of ``objects/`` into ``quarantine/`` (a rename within the
    cache, so it cannot fail half-way), named ``<UTC time>-<hex>`` so that a second corrupt copy
    of the same oid never replaces the first."""
    # a chunked object's recipe goes (its chunks stay in their packs, which other recipes may
    # share): the oid is then absent, so a repair can put a good copy in
    source = store.recipe_path(oid) if store.is_chunked(oid) else store.object_path(oid)
    size = source.stat().st_size
    folder = store.root / QUARANTINE
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    hexdigest = oid[len(OID_PREFIX):]
    target = folder / f"{stamp}-{hexdigest}"
    serial = 1
    while target.exists():
        serial += 1
        target = folder / f"{stamp}.{serial}-{hexdigest}"
    os.rename(source, target)
    return Quarantined(oid, target, size)


def quarantined(store: ObjectStore) -> list[Quarantined]:
    """What the quarantine holds, oldest first."""
    folder = store.root / QUARANTINE
    if not folder.is_dir():
        return []
    found = []
    for entry in sorted(folder.iterdir()):
        hexdigest = entry.name.rpartition("-")[2]
        oid = OID_PREFIX + hexdigest
        if entry.is_file() and is_oid(oid):
            found.append(Quarantined(oid, entry, entry.stat().st_size))
    return found
