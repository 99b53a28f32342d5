"""``git model repack``: whole-file objects at or above the chunk threshold become chunked ones,
and small packs are merged into packs of up to 64 MiB (docs/storage.md, "Repack").

Resumable by construction: each object is converted on its own (recipe written and verified by a
rebuild before the whole object is deleted, :meth:`ObjectStore.convert_to_chunked`), and a merge
installs its new pack and index before it deletes an old index, then its pack. A kill -9 at any
moment leaves every oid readable, at worst held twice (whole and chunked, or a chunk in two
packs) until the next run. Runs under the cache's gc lock, so a gc and a repack take turns.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gitmodel.errors import CorruptChunkError, GitmodelError, StoreFormatError
from gitmodel.locking import held
from gitmodel.store.gc import LOCK
from gitmodel.store.objects import ObjectStore
from gitmodel.store.packgc import copy_chunks
from gitmodel.store.packs import MAX_PACK_BYTES, PackIndex, PackWriter

# A pack under half the maximum is "small": two of them make at most one full pack, so merging
# never produces more packs than it removes. (Each add writes its own pack; a series of small
# adds would otherwise leave one pack and one index per add.)
SMALL_PACK_BYTES = MAX_PACK_BYTES // 2


@dataclass
class RepackPlan:
    convert: list[tuple[str, int]] = field(default_factory=list)  # whole objects to chunk
    merge: list[tuple[Path, int]] = field(default_factory=list)  # small packs and their sizes
    problems: list[str] = field(default_factory=list)


@dataclass
class RepackResult:
    plan: RepackPlan
    converted: list[tuple[str, int]] = field(default_factory=list)
    merged: list[Path] = field(default_factory=list)  # old packs deleted
    into: list[str] = field(default_factory=list)  # new pack names
    failed: list[tuple[str, str]] = field(default_factory=list)  # (what, why)
    bytes_before: int = 0
    bytes_after: int = 0


def stored_bytes(store: ObjectStore) -> int:
    """Bytes of whole objects, recipes, packs and indexes on disk."""
    total = 0
    for folder in ("objects", "recipes", "packs"):
        for dirpath, _dirs, names in os.walk(store.root / folder):
            for name in names:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def plan_repack(store: ObjectStore, threshold: int | None) -> RepackPlan:
    plan = RepackPlan()
    if threshold is not None:
        objects = store.root / "objects"
        for oid in store.oids():
            hexdigest = oid[7:]
            path = objects / hexdigest[:2] / hexdigest[2:]
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue  # chunked already
            if size >= max(threshold, 1):
                plan.convert.append((oid, size))
    small: list[tuple[Path, int]] = []
    for idx in sorted(store.packs_dir.glob("pack-*.idx")):
        pack = idx.with_suffix(".pack")
        try:
            size = pack.stat().st_size
            PackIndex.decode(idx.read_bytes(), source=str(idx))
        except FileNotFoundError:
            continue
        except StoreFormatError as exc:
            plan.problems.append(f"{exc} (left as it is; run `git model fsck`)")
            continue
        if size < SMALL_PACK_BYTES:
            small.append((pack, size))
    if len(small) >= 2:
        plan.merge = small
    return plan


def repack(store: ObjectStore, threshold: int | None, *, dry_run: bool = False,
           progress: Callable[[int], None] | None = None) -> RepackResult:
    with held(store.root / LOCK, "repacking the cache (git model repack)"):
        plan = plan_repack(store, threshold)
        result = RepackResult(plan, bytes_before=stored_bytes(store))
        if dry_run:
            result.bytes_after = result.bytes_before
            return result
        for oid, size in plan.convert:
            try:
                if store.convert_to_chunked(oid):
                    result.converted.append((oid, size))
            except (GitmodelError, OSError) as exc:
                result.failed.append((oid, str(exc)))
            if progress is not None:
                progress(size)
        # the packs as they are now: the conversions just added one each
        if result.converted:
            plan.merge = plan_repack(store, None).merge
        if plan.merge:
            _merge(store, plan.merge, result)
        store.forget_chunk_map()
        result.bytes_after = stored_bytes(store)
    return result


def _merge(store: ObjectStore, small: list[tuple[Path, int]], result: RepackResult) -> None:
    """Copy every chunk of the small packs (live or not: liveness is gc's business) into new
    packs, install them, then delete each old index and then its pack. A pack with a corrupt
    chunk is left out of the merge, for fsck."""
    writer = PackWriter(store.root / "tmp", store.packs_dir, fsync=store.fsync,
                        verify_source="a pack being merged")
    sources: list[Path] = []
    with writer:
        for pack, _size in small:
            try:
                copy_chunks(pack, lambda _chunk: True, writer)
            except (CorruptChunkError, StoreFormatError, FileNotFoundError) as exc:
                # chunks already appended from this pack stay (they were checked); the pack
                # itself is kept so that nothing it holds is lost
                result.failed.append((str(pack), f"{exc}; left out of the merge"))
                continue
            sources.append(pack)
        if len(sources) < 2:
            writer.abort()
            return
        result.into = writer.finish()
    new = {store.packs_dir / f"pack-{name}.pack" for name in result.into}
    for pack in sources:
        if pack in new:
            continue  # the same layout came out again (cannot, with two or more inputs)
        with contextlib.suppress(FileNotFoundError):
            pack.with_suffix(".idx").unlink()
        with contextlib.suppress(FileNotFoundError):
            pack.unlink()
        result.merged.append(pack)
