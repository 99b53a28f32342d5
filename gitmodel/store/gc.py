"""Clean-up of the local cache (issue 10): remove the objects the caller released, and empty the
scratch places (``tmp/``, ``trash/``, stale ``resolved/`` copies) and expired rescue records.

This module knows where bytes sit and nothing of git: *what* may go is decided above it
(gitmodel/retention.py says what is needed, the remote is asked what it has). Crash safety comes
from the order of things: only objects the caller released are ever unlinked, each with one
``unlink`` (a kill -9 between two leaves the rest in place, and a re-run finishes the job), and the
rescue log is rewritten through a temp file and a rename. Two gc runs take turns under one lock.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from gitmodel.errors import StoreFormatError
from gitmodel.hashing import OID_PREFIX
from gitmodel.locking import held
from gitmodel.store.objects import ObjectStore, is_oid, recipe_size
from gitmodel.store.packgc import PackPlan, PackSweep, plan_packs, sweep

LOCK = "gc.lock"
RESCUE_LOG = "rescued.jsonl"  # written by gitmodel.workspace.rescue (same name)
RESOLVED = "resolved"  # catalog.resolve's read-only copies of versions, keyed by content


def object_times(store: ObjectStore) -> dict[str, tuple[int, float]]:
    """oid -> (size, the later of mtime and ctime) of every object in the cache, from one
    directory walk (no hashing: ``du`` must be fast). ctime counts because a rename into place
    sets it: an object just put has a fresh ctime even when its copy kept an old mtime."""
    found: dict[str, tuple[int, float]] = {}
    # recipes first, so that an oid held both ways (during repack) shows its whole object's
    # times; a chunked object's size is its logical size (what its recipe states)
    for folder in ("recipes", "objects"):
        try:
            prefixes = list(os.scandir(store.root / folder))
        except FileNotFoundError:
            continue
        for prefix in prefixes:
            if not prefix.is_dir(follow_symlinks=False) or len(prefix.name) != 2:
                continue
            for entry in os.scandir(prefix.path):
                oid = OID_PREFIX + prefix.name + entry.name
                if not is_oid(oid):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                    size = st.st_size if folder == "objects" else recipe_size(Path(entry.path))
                except FileNotFoundError:
                    continue
                except StoreFormatError:
                    size = 0  # a damaged recipe holds no bytes; fsck names it
                found[oid] = (size, max(st.st_mtime, st.st_ctime))
    return found


@dataclass(frozen=True)
class Scratch:
    """A file or folder of the cache that no object needs: what it is and its bytes."""

    path: Path
    kind: str  # "tmp", "trash", "resolved"
    size: int


def _tree_size(path: Path) -> int:
    if path.is_file() or path.is_symlink():
        with contextlib.suppress(OSError):
            return path.lstat().st_size
        return 0
    total = 0
    for dirpath, _dirs, names in os.walk(path):
        for name in names:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def _age(path: Path, now: float) -> float:
    """Seconds since ``path`` was last written (mtime: a write in flight moves it)."""
    try:
        st = path.lstat()
    except OSError:
        return 0.0
    return now - st.st_mtime


def scratch(store: ObjectStore, now: float, *, grace: float, resolved_age: float) -> list[Scratch]:
    """What gc may empty besides objects: files in ``tmp/`` older than ``grace`` (younger ones
    are writes in flight), everything in ``trash/`` (files a replace moved aside for a detached
    ``rm``), and copies in ``resolved/`` not made in the last ``resolved_age`` seconds (``git
    model resolve`` makes them again on demand)."""
    found = []
    for kind, max_age in (("tmp", grace), ("trash", 0.0), (RESOLVED, resolved_age)):
        folder = store.root / kind
        try:
            entries = sorted(folder.iterdir())
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if kind == RESOLVED and entry.name.startswith(".tmp-"):
                limit = grace  # a resolve in flight
            else:
                limit = max_age
            if _age(entry, now) >= limit:
                found.append(Scratch(entry, kind, _tree_size(entry)))
    return found


@dataclass
class Removal:
    """What a gc run removed (or, dry, would remove)."""

    objects: list[tuple[str, int]] = field(default_factory=list)
    scratch: list[Scratch] = field(default_factory=list)
    rescue_entries: int = 0  # expired lines dropped from the rescue log
    failed: list[tuple[str, str]] = field(default_factory=list)  # (what, why)
    chunked: set[str] = field(default_factory=set)  # of ``objects``: those that were recipes
    packs: PackSweep | None = None  # what the pack-level pass did after the objects went

    @property
    def freed(self) -> int:
        """Bytes freed on disk: whole objects, scratch, and what the pack pass freed (a chunked
        object's bytes are freed only when its chunks' packs are rewritten or deleted)."""
        return (sum(size for oid, size in self.objects if oid not in self.chunked)
                + sum(s.size for s in self.scratch)
                + (self.packs.freed if self.packs is not None else 0))


def _remove_tree(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        for dirpath, _dirs, _names in os.walk(path):
            with contextlib.suppress(OSError):
                os.chmod(dirpath, 0o755)  # resolved copies are read-only folders
        shutil.rmtree(path)
    else:
        path.unlink()


def remove(store: ObjectStore, objects: Iterable[tuple[str, int]], extra: Iterable[Scratch],
           *, keep: Callable[[str], bool] = lambda _oid: False,
           progress: Callable[[int], None] | None = None) -> Removal:
    """Unlink each released object (``keep(oid)`` is asked again right before each unlink, so
    a caller can re-check a fresh mtime) and each scratch entry, under the cache's gc lock."""
    result = Removal()
    with held(store.root / LOCK, "cleaning the cache (git model gc)"):
        for oid, size in objects:
            if keep(oid):
                continue
            hexdigest = oid[len(OID_PREFIX):]
            # the whole object and the recipe of a chunked one (its chunks stay in their packs:
            # pack-level gc drops chunks no recipe names), then the digest beside a whole one
            removed = False
            chunked = store.is_chunked(oid)
            try:
                for folder in ("objects", "recipes"):
                    with contextlib.suppress(FileNotFoundError):
                        (store.root / folder / hexdigest[:2] / hexdigest[2:]).unlink()
                        removed = True
            except OSError as exc:
                result.failed.append((oid, exc.strerror or str(exc)))
                continue
            with contextlib.suppress(OSError):
                (store.root / "blake3" / hexdigest[:2] / hexdigest[2:]).unlink()
            if not removed:
                continue  # gone already (a concurrent or earlier, killed, gc)
            result.objects.append((oid, size))
            if chunked:
                result.chunked.add(oid)
            if progress is not None:
                progress(size)
        for item in extra:
            try:
                _remove_tree(item.path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                result.failed.append((str(item.path), exc.strerror or str(exc)))
                continue
            result.scratch.append(item)
        _prune_empty_prefixes(store)
    return result


def _prune_empty_prefixes(store: ObjectStore) -> None:
    for folder in ("recipes", "blake3"):
        with contextlib.suppress(OSError):
            for prefix in (store.root / folder).iterdir():
                with contextlib.suppress(OSError):
                    prefix.rmdir()
    objects = store.root / "objects"
    with contextlib.suppress(OSError):
        for prefix in objects.iterdir():
            with contextlib.suppress(OSError):
                prefix.rmdir()  # only when empty; a put racing here recreates it


def prune_rescue_log(store: ObjectStore, drop: Callable[[str], bool]) -> int:
    """Rewrite the rescue log without the lines ``drop(line)`` says are expired and gone;
    return how many were dropped. A line appended meanwhile (a rescue during gc) is kept: the
    new log is the old one's kept lines plus whatever follows what was read."""
    log = store.root / RESCUE_LOG
    try:
        data = log.read_bytes()
    except FileNotFoundError:
        return 0
    lines = data.decode("utf-8", "replace").splitlines(keepends=True)
    kept = [line for line in lines if not (line.endswith("\n") and drop(line))]
    dropped = len(lines) - len(kept)
    if not dropped:
        return 0
    tmp = log.with_name(f".{RESCUE_LOG}.{os.getpid()}.tmp")
    with held(store.root / LOCK, "cleaning the cache (git model gc)"):
        with open(log, "rb") as stream:
            stream.seek(len(data))
            appended = stream.read()
        tmp.write_bytes("".join(kept).encode() + appended)
        os.replace(tmp, log)
    return dropped


def object_times_of(store: ObjectStore, oid: str) -> float | None:
    """The later of mtime and ctime of one object, or None when it is not in the cache."""
    hexdigest = oid[len(OID_PREFIX):]
    for folder in ("objects", "recipes"):
        try:
            st = os.lstat(store.root / folder / hexdigest[:2] / hexdigest[2:])
        except OSError:
            continue
        return max(st.st_mtime, st.st_ctime)
    return None


def clean_packs(store: ObjectStore, now: float, *, grace: float, rewrite_dead: float,
                progress: Callable[[int], None] | None = None) -> tuple[PackPlan, PackSweep]:
    """The pack-level pass, run after the released recipes are gone: plan from the recipes that
    remain (store/packgc.py) and rewrite or delete packs, under the cache's gc lock (a
    ``repack`` takes the same lock)."""
    with held(store.root / LOCK, "cleaning the cache (git model gc)"):
        plan = plan_packs(store.root, now, grace=grace, rewrite_dead=rewrite_dead)
        done = sweep(store.root, plan, fsync=store.fsync, progress=progress)
    store.forget_chunk_map()
    return plan, done


def preview_packs(store: ObjectStore, now: float, released: Iterable[str], *, grace: float,
                  rewrite_dead: float) -> PackPlan:
    """The pack-level plan a gc that removes ``released`` would carry out (for --dry-run and
    ``du``)."""
    return plan_packs(store.root, now, grace=grace, rewrite_dead=rewrite_dead, exclude=released)


def stored_freed(store: ObjectStore, removed: Iterable[tuple[str, int]]) -> int:
    """Of ``removed`` (oid, logical size), the bytes removing them frees by itself: the whole
    objects' (a chunked object's bytes go with its packs, counted by the pack pass)."""
    return sum(size for oid, size in removed if not store.is_chunked(oid))
