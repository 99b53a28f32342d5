"""Chunked objects on a remote: packs, their indexes and recipes (docs/store-format.md, "On a
remote").

A push uploads only the chunks the remote lacks, answered from the remote's pack indexes: one
listing of ``packs/``, then only the ``.idx`` files not already cached under
``<cache>/remote-index/<remote key>/`` (an index is immutable and named by its own BLAKE3 hash,
so a cached copy is good forever). The missing chunks go up in packs of at most 64 MiB (a local
pack goes up as it is when nearly all of it is missing), each pack before its index, and every
recipe only once every pack and index is there: a recipe on a remote always means its chunks are
in an indexed pack there.

A pull downloads the recipes, the indexes it lacks, then byte ranges of packs (neighbouring
chunks read in one range, a whole pack when most of it is needed), never a request per chunk.
Everything read from a remote is untrusted: an index must hash to its name and decode, every
chunk must hash to its id (:meth:`ObjectStore.incoming_pack`), and the rebuilt file to its
sha256 (:meth:`ObjectStore.adopt_chunked`) before anything enters the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gitmodel.errors import CorruptChunkError, CorruptObjectError, RemoteError, StoreFormatError
from gitmodel.fileio import write_atomic
from gitmodel.hashing import Progress
from gitmodel.remote.backends import PACKS, ObjectRemote, RemoteKeyMissing, explain, recipe_key
from gitmodel.remote.parallel import DEFAULT_JOBS, Cancelled, run_parallel
from gitmodel.store import ObjectStore
from gitmodel.store.packs import (
    MAX_PACK_BYTES,
    PACK_MAGIC,
    PackIndex,
    PackWriter,
    Recipe,
    blake3_digest,
)

REMOTE_INDEX_DIR = "remote-index"
# fetch: objects at least this large are asked about as recipes first (the store's default
# `[store] chunk-threshold`; a store with chunking off still asks both)
DEFAULT_CHUNK_THRESHOLD = 4 << 20
# push: a local pack goes up as it is when at least this share of its chunk bytes is missing
# there (at most 10% sent twice, and no rewrite of the pack on the way) and it is no smaller
# than REUSE_PACK_MIN: small packs (one per add of a small file) are merged into new ones, so
# a remote does not collect a pack per object
REUSE_PACK_SHARE = 0.9
REUSE_PACK_MIN = 16 << 20
# pull: read every needed chunk of a pack, and the bytes between them, when at least this share
# of the pack is needed (a "whole pack" read, still cut into MAX_SPAN requests for parallelism)
WHOLE_PACK_SHARE = 0.5
# pull: two needed chunks of a pack less than this apart are read in one range request; the
# bytes between cost less than another round trip (64 KiB chunks: up to 4 unneeded between)
COALESCE_GAP = 256 << 10
# pull: one range request reads at most this much, so 8 jobs hold at most 64 MiB in memory
MAX_SPAN = 8 << 20


# an index larger than this is refused unread: a pack holds at most 64 MiB of chunks (plus one
# chunk of at most 16 MiB), so even at one index entry per 256 bytes of pack it stays below
MAX_INDEX_BYTES = 16 << 20


def pack_key(name: str) -> str:
    return f"{PACKS}/pack-{name}.pack"


def index_key(name: str) -> str:
    return f"{PACKS}/pack-{name}.idx"


def _is_pack_name(name: str) -> bool:
    return len(name) == 64 and all(c in "0123456789abcdef" for c in name)


# -- what the remote's packs hold ---------------------------------------------------------------

@dataclass
class RemoteChunks:
    """Every chunk in an indexed pack of a remote: id -> (pack name, offset, length)."""

    where: dict[bytes, tuple[str, int, int]] = field(default_factory=dict)
    packsizes: dict[str, int] = field(default_factory=dict)
    # indexes refused (hash, format, or a pack of the wrong size or missing): name -> why
    damaged: dict[str, str] = field(default_factory=dict)
    downloaded: int = 0  # indexes fetched by this call (the rest came from the local cache)
    index_bytes: int = 0  # their bytes

    def locate(self, chunk_id: bytes) -> tuple[str, int, int] | None:
        return self.where.get(chunk_id)

    def add(self, name: str, index: PackIndex) -> None:
        self.packsizes[name] = index.packsize
        for chunk_id, offset, length in index.entries():
            self.where.setdefault(chunk_id, (name, offset, length))


def index_cache_dir(store: ObjectStore, remote: ObjectRemote) -> Path:
    """``<cache>/remote-index/<remote key>/``: the remote's indexes, kept forever (immutable)."""
    key = hashlib.sha256(remote.url.encode()).hexdigest()[:16]
    return store.root / REMOTE_INDEX_DIR / key


def remote_chunks(remote: ObjectRemote, cache: Path | None, *, jobs: int = DEFAULT_JOBS
                  ) -> RemoteChunks:
    """What the remote's packs hold: one listing of ``packs/``, then a download of each index
    not cached yet, each checked (its name is its BLAKE3 hash; it decodes; its pack is listed at
    the size it says) before it is cached or used. A refused index is left out (its chunks
    count as absent, so a push sends them again) and named in :attr:`RemoteChunks.damaged`."""
    listing = remote.list_packs()
    found = RemoteChunks()
    names = []
    for file_name, size in listing.items():
        if not (file_name.endswith(".idx") and _is_pack_name(file_name[5:-4])):
            continue
        if size > MAX_INDEX_BYTES:
            found.damaged[file_name[5:-4]] = f"it is {size} bytes, more than an index can be"
            continue
        names.append(file_name[5:-4])
    todo: list[str] = []
    for name in sorted(names):
        if cache is None:
            todo.append(name)
            continue
        cached = cache / f"pack-{name}.idx"
        try:
            data = cached.read_bytes()
        except FileNotFoundError:
            todo.append(name)
            continue
        try:
            index = _checked_index(name, data, str(cached))
        except StoreFormatError:
            with contextlib.suppress(OSError):
                cached.unlink()  # a damaged cache copy: fetch it again
            todo.append(name)
            continue
        _use(found, name, index, listing)
    lock = threading.Lock()

    def fetch(name: str, _tick: Progress) -> None:
        key = index_key(name)
        try:
            data = remote.get_bytes(key)
        except RemoteKeyMissing:
            return  # removed between the listing and now
        source = f"{remote.url.rstrip('/')}/{key}"
        try:
            index = _checked_index(name, data, source)
        except StoreFormatError as exc:
            with lock:
                found.damaged[name] = exc.problem
            return
        if cache is not None:
            _keep_index(cache, name, data)
        with lock:
            found.downloaded += 1
            found.index_bytes += len(data)
            _use(found, name, index, listing)

    try:
        run_parallel(todo, fetch, jobs)
    except (Cancelled, KeyboardInterrupt):
        raise
    except Exception as exc:
        raise explain(exc, remote, "reading the pack indexes of") from None
    return found


def _checked_index(name: str, data: bytes, source: str) -> PackIndex:
    if blake3_digest(data).hex() != name:
        raise StoreFormatError(source, "its bytes do not hash to its name")
    return PackIndex.decode(data, source=source)


def _use(found: RemoteChunks, name: str, index: PackIndex, listing: dict[str, int]) -> None:
    size = listing.get(f"pack-{name}.pack")
    if size is None:
        found.damaged[name] = "its pack is not there"
    elif size != index.packsize:
        found.damaged[name] = f"its pack is {size} bytes, the index says {index.packsize}"
    else:
        found.add(name, index)


def _keep_index(cache: Path, name: str, data: bytes) -> None:
    """Keep a checked remote index in ``cache``, the remote's local index cache (an index never
    changes: it is named by its own hash)."""
    cache.mkdir(parents=True, exist_ok=True)
    write_atomic(cache / f"pack-{name}.idx", data)


# -- push ---------------------------------------------------------------------------------------

@dataclass
class PushPlan:
    """What a push of chunked objects sends: local packs as they are, packs to build from
    chunks, then the recipes."""

    recipes: list[Recipe]
    whole_packs: list[Path] = field(default_factory=list)  # local packs sent as they are
    new_packs: list[list[tuple[bytes, Path, int, int]]] = field(default_factory=list)
    bytes: int = 0  # pack bytes to send (indexes and recipes not counted: a few KiB)
    missing_chunks: int = 0
    missing_bytes: int = 0  # bytes of the chunks the remote lacks
    # remote packs holding chunks of these recipes that the push does not send: a remote gc
    # must not take them away before the recipes are up (push_chunked's ledger entry)
    relies_on: set[str] = field(default_factory=set)
    planned_at: float = 0.0  # when the remote's packs were listed
    sent: set[str] = field(default_factory=set)  # the packs push_chunked uploaded


def plan_push(store: ObjectStore, remote: ObjectRemote, oids: Sequence[str], *,
              jobs: int = DEFAULT_JOBS) -> PushPlan:
    """Which chunks of ``oids`` (chunked here, absent there) the remote lacks, and the packs
    that carry them: new chunks are packed in file order, so a later pull reads neighbours."""
    recipes = [store.recipe(oid) for oid in oids]
    plan = PushPlan(recipes, planned_at=time.time())
    if not recipes:
        return plan
    there = remote_chunks(remote, index_cache_dir(store, remote), jobs=jobs)
    local = store.chunk_index()
    missing: dict[bytes, tuple[Path, int, int]] = {}
    for recipe in recipes:
        for chunk_id, _length in recipe.chunks:
            if chunk_id in missing:
                continue
            found = there.locate(chunk_id)
            if found is not None:
                plan.relies_on.add(found[0])
                continue
            where = local.locate(chunk_id)
            if where is None:
                local.refresh()
                where = local.locate(chunk_id)
            if where is None:
                raise RemoteError(f"cannot push {recipe.oid}: its chunk {chunk_id.hex()} is in "
                                  "no pack of this cache; run `git model fsck --repair`")
            missing[chunk_id] = where
    plan.missing_chunks = len(missing)
    plan.missing_bytes = sum(length for _, _, length in missing.values())
    per_pack: dict[Path, int] = {}
    for pack, _offset, length in missing.values():
        per_pack[pack] = per_pack.get(pack, 0) + length
    whole = set()
    for pack, needed in per_pack.items():
        with contextlib.suppress(OSError):
            held = pack.stat().st_size - len(PACK_MAGIC)
            if held >= REUSE_PACK_MIN and needed >= REUSE_PACK_SHARE * held:
                whole.add(pack)
    plan.whole_packs = sorted(whole)
    plan.bytes = sum(p.stat().st_size for p in plan.whole_packs)
    group: list[tuple[bytes, Path, int, int]] = []
    filled = 0
    for chunk_id, (pack, offset, length) in missing.items():
        if pack in whole:
            continue
        if group and filled + length > MAX_PACK_BYTES:
            plan.new_packs.append(group)
            group, filled = [], 0
        group.append((chunk_id, pack, offset, length))
        filled += length
    if group:
        plan.new_packs.append(group)
    plan.bytes += sum(len(PACK_MAGIC) + sum(c[3] for c in g) for g in plan.new_packs)
    return plan


# a push whose relied-on packs a remote gc keeps taking away re-plans at most this often
MAX_REPLANS = 5


def push_chunked(store: ObjectStore, remote: ObjectRemote, plan: PushPlan, *,
                 jobs: int = DEFAULT_JOBS, progress: Progress | None = None,
                 uploaded: Callable[[str], None] | None = None) -> int:
    """Send ``plan``: every pack (each before its index), and only then the recipes. Returns
    the bytes sent; ``uploaded(oid)`` is called for each recipe once it is there.

    Between the packs and the recipes the push writes a ledger entry naming every pack its
    recipes rely on (the ones it found there and the ones it sent), then reads the gc records
    (docs/remotes.md, "Chunked objects"): a gc that deletes or rewrites one of them either sees
    the entry and keeps the pack, or this push sees the gc's plan, waits for it, and uploads
    again the chunks it took. Once the recipes are up the entry is marked complete (from then
    on the recipes themselves keep their chunks). So a recipe never goes up naming chunks in no
    pack there."""
    from gitmodel.remote import ledger

    oids = [r.oid for r in plan.recipes]
    if not oids:
        return 0
    sent = _send_packs(store, remote, plan, jobs=jobs, progress=progress)
    pending = plan
    relied = pending.relies_on | pending.sent
    key = ""
    for _ in range(MAX_REPLANS):
        since = pending.planned_at - 2 * ledger.PLAN_STALE_SECONDS
        try:
            key = ledger.record_push(remote, None, oids, packs=relied, complete=False, key=key)
            taken = ledger.wait_for_packs(remote, relied, since)
        except (Cancelled, KeyboardInterrupt, RemoteError):
            raise
        except Exception as exc:
            raise explain(exc, remote, "recording the push on") from None
        if not taken:
            break
        # a gc took (or was taking) packs these recipes rely on: now that it is done, ask again
        # what is there and send what is gone
        pending = plan_push(store, remote, oids, jobs=jobs)
        sent += _send_packs(store, remote, pending, jobs=jobs, progress=progress)
        fresh = pending.relies_on | pending.sent
        if fresh <= relied:
            # everything is where the entry already says (a gc record naming a pack that
            # was uploaded again since, say): any later gc sees the entry
            break
        relied |= fresh
    else:
        raise RemoteError(f"remote gc on {remote.url} kept removing packs this push relies on; "
                          "nothing was lost, push again once the gc is done")
    sent += _send_recipes(remote, plan, jobs=jobs, uploaded=uploaded)
    try:
        ledger.record_push(remote, None, oids, packs=relied, complete=True, key=key)
    except Exception as exc:
        raise explain(exc, remote, "recording the push on") from None
    return sent


def _send_packs(store: ObjectStore, remote: ObjectRemote, plan: PushPlan, *, jobs: int,
                progress: Progress | None) -> int:
    sent = [0]
    lock = threading.Lock()
    cache = index_cache_dir(store, remote)
    scratch = store.root / "tmp" / f"push-{uuid.uuid4().hex}"

    def count(n: int) -> None:
        with lock:
            sent[0] += n

    def send_pack(item: Path | list[tuple[bytes, Path, int, int]], tick: Progress) -> None:
        if isinstance(item, Path):
            pack, index = item, item.with_suffix(".idx")
            name = pack.name[len("pack-"):-len(".pack")]
            data = index.read_bytes()
            _send_pair(remote, name, pack, data, tick, count)
            _keep_index(cache, name, data)
            with lock:
                plan.sent.add(name)
            return
        pack, data, name = _build_pack(item, scratch)
        try:
            _send_pair(remote, name, pack, data, tick, count)
        finally:
            with contextlib.suppress(FileNotFoundError):
                pack.unlink()
        _keep_index(cache, name, data)
        with lock:
            plan.sent.add(name)

    items: list[Path | list[tuple[bytes, Path, int, int]]] = [*plan.whole_packs, *plan.new_packs]
    try:
        run_parallel(items, send_pack, jobs, progress)
    except (Cancelled, KeyboardInterrupt, RemoteError):
        raise
    except Exception as exc:
        raise explain(exc, remote, "uploading packs to") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return sent[0]


def _send_recipes(remote: ObjectRemote, plan: PushPlan, *, jobs: int,
                  uploaded: Callable[[str], None] | None) -> int:
    sent = [0]
    lock = threading.Lock()

    def count(n: int) -> None:
        with lock:
            sent[0] += n

    # every chunk of every recipe is now in an indexed pack there: the recipes may go up
    def send_recipe(recipe: Recipe, _tick: Progress) -> None:
        data = recipe.encode()
        remote.put_bytes(recipe_key(recipe.oid), data)
        count(len(data))
        if uploaded is not None:
            uploaded(recipe.oid)

    try:
        run_parallel(plan.recipes, send_recipe, jobs)
    except (Cancelled, KeyboardInterrupt):
        raise
    except Exception as exc:
        raise explain(exc, remote, "uploading recipes to") from None
    return sent[0]


def _send_pair(remote: ObjectRemote, name: str, pack: Path, index: bytes, tick: Progress,
               count: Callable[[int], None]) -> None:
    def relay(n: int) -> None:
        count(n)
        tick(n)

    remote.put_key(pack_key(name), pack, relay)
    remote.put_bytes(index_key(name), index)  # after its pack, always (the spec's order)
    count(len(index))


def _build_pack(chunks: Iterable[tuple[bytes, Path, int, int]], scratch: Path
                ) -> tuple[Path, bytes, str]:
    """One pack of ``chunks`` read from local packs, in ``scratch``: (pack path, index bytes,
    name)."""
    own = scratch / uuid.uuid4().hex
    packs_dir = own / "packs"
    with PackWriter(own / "tmp", packs_dir, fsync=False) as writer:
        handles: dict[Path, int] = {}
        try:
            for chunk_id, source, offset, length in chunks:
                fd = handles.get(source)
                if fd is None:
                    fd = handles[source] = os.open(source, os.O_RDONLY)
                data = os.pread(fd, length, offset)
                if len(data) != length:
                    raise RemoteError(f"local pack {source} is shorter than its index says; "
                                      "run `git model fsck --repair`")
                writer.add(chunk_id, data)
        finally:
            for fd in handles.values():
                os.close(fd)
        (name,) = writer.finish()
    pack = packs_dir / f"pack-{name}.pack"
    return pack, (packs_dir / f"pack-{name}.idx").read_bytes(), name


# -- fetch --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Span:
    """One range request: bytes ``start``..``end`` of a pack, holding ``chunks``."""

    pack: str
    start: int
    end: int
    chunks: tuple[tuple[bytes, int, int], ...]  # id, offset in the pack, length


def plan_spans(needed: dict[bytes, tuple[str, int, int]], packsizes: dict[str, int]
               ) -> list[_Span]:
    """Range requests covering ``needed`` (id -> pack, offset, length): neighbours coalesced,
    the whole of a pack when most of it is needed, none longer than :data:`MAX_SPAN` unless
    one chunk is."""
    by_pack: dict[str, list[tuple[int, int, bytes]]] = {}
    for chunk_id, (pack, offset, length) in needed.items():
        by_pack.setdefault(pack, []).append((offset, length, chunk_id))
    spans: list[_Span] = []
    for pack, chunks in sorted(by_pack.items()):
        chunks.sort()
        total = sum(length for _, length, _ in chunks)
        gap = packsizes[pack] if total >= WHOLE_PACK_SHARE * packsizes[pack] else COALESCE_GAP
        current: list[tuple[bytes, int, int]] = []
        start = end = 0
        for offset, length, chunk_id in chunks:
            if current and (offset - end > gap or offset + length - start > MAX_SPAN):
                spans.append(_Span(pack, start, end, tuple(current)))
                current = []
            if not current:
                start = offset
            current.append((chunk_id, offset, length))
            end = max(end, offset + length)
        if current:
            spans.append(_Span(pack, start, end, tuple(current)))
    return spans


@dataclass
class FetchPlan:
    """What a fetch of chunked objects downloads: their recipes (already read), then ``spans``."""

    oids: list[str]
    recipes: dict[str, Recipe]
    owner: dict[bytes, str]  # chunk -> the object whose writer takes it
    spans: list[_Span]
    bytes: int = 0  # pack bytes the spans read
    meta_bytes: int = 0  # recipes and indexes already downloaded while planning
    chunks: int = 0


def plan_fetch(store: ObjectStore, remote: ObjectRemote, oids: Sequence[str], *,
               jobs: int = DEFAULT_JOBS, describe: Callable[[str], str] = lambda oid: oid
               ) -> FetchPlan:
    """Read the recipes of ``oids`` (decoded as untrusted: each must describe its own oid) and,
    when the cache lacks some of their chunks, the remote's indexes; plan the range reads."""
    recipes: dict[str, Recipe] = {}
    lock = threading.Lock()
    meta = [0]

    def get_recipe(oid: str, _tick: Progress) -> None:
        key = recipe_key(oid)
        where = f"{remote.url.rstrip('/')}/{key}"
        data = remote.get_bytes(key)
        try:
            recipe = Recipe.decode(data, expected_oid=oid, source=f"recipe {where}")
        except StoreFormatError as exc:
            raise RemoteError(f"the recipe of {describe(oid)} on remote {remote.url} is "
                              f"damaged ({exc.problem}), so nothing was fetched; whoever can "
                              f"should delete {where} and push the object again") from None
        with lock:
            recipes[oid] = recipe
            meta[0] += len(data)

    _run(remote, list(oids), get_recipe, jobs, "downloading recipes from")
    local = store.chunk_index()
    local.refresh()
    # each chunk is fetched once, into the writer of the first object that needs it; objects
    # are adopted in that order, so a later one finds it installed by an earlier one
    owner: dict[bytes, str] = {}
    for oid in oids:
        for chunk_id, _length in recipes[oid].chunks:
            if chunk_id not in local and chunk_id not in owner:
                owner[chunk_id] = oid
    plan = FetchPlan(list(oids), recipes, owner, [])
    if not owner:
        plan.meta_bytes = meta[0]
        return plan
    there = remote_chunks(remote, index_cache_dir(store, remote), jobs=jobs)
    meta[0] += there.index_bytes
    needed: dict[bytes, tuple[str, int, int]] = {}
    for chunk_id, oid in owner.items():
        where = there.locate(chunk_id)
        if where is None:
            damaged = "; ".join(f"pack-{n}.idx: {why}" for n, why in sorted(there.damaged.items()))
            raise RemoteError(
                f"remote {remote.url} has the recipe of {describe(oid)} but not its chunk "
                f"{chunk_id.hex()} in any indexed pack"
                + (f" (refused: {damaged})" if damaged else "")
                + "; nothing was fetched; a clone that has the object should run "
                  "`git model push` again")
        needed[chunk_id] = where
    plan.spans = plan_spans(needed, there.packsizes)
    plan.bytes = sum(span.end - span.start for span in plan.spans)
    plan.meta_bytes = meta[0]
    plan.chunks = len(needed)
    return plan


@dataclass
class FetchResult:
    fetched: list[str] = field(default_factory=list)
    bytes: int = 0  # pack bytes downloaded (range reads)
    chunks: int = 0  # chunks downloaded
    ranges: int = 0  # range requests made


def fetch_chunked(store: ObjectStore, remote: ObjectRemote, plan: FetchPlan, *,
                  jobs: int = DEFAULT_JOBS, progress: Progress | None = None,
                  describe: Callable[[str], str] = lambda oid: oid,
                  fetched: Callable[[str], None] | None = None) -> FetchResult:
    """Carry out ``plan``: read its ranges, each chunk checked against its id as it enters a
    pending pack, while a thread runs each object's sha256 over its chunks in file order as
    they land (the cache's own chunks are read where they are); then install each object whose
    sha256 matched (its packs, then its recipe). The sha256 pass thus overlaps the download
    instead of following it (issue 11: it was 0.93 of a 1.07 s pull). An object the thread
    could not hash is rebuilt and hashed after the download, as before. A tampered pack, index
    or recipe raises :class:`RemoteError` with nothing of it in the cache."""
    result = FetchResult()
    lock = threading.Lock()
    landed = threading.Condition(lock)
    arrived: dict[bytes, tuple[Path, int, int]] = {}  # chunk -> where in a pending pack
    stop = threading.Event()
    writers = {oid: store.incoming_pack(source=f"remote {remote.url}") for oid in plan.oids}
    hashed: dict[str, str | None] = {}
    hasher = threading.Thread(target=_hash_as_they_land, name="gitmodel-sha256", daemon=True,
                              args=(store, plan, arrived, landed, stop, hashed))
    try:
        def read(span: _Span, tick: Progress) -> None:
            key = pack_key(span.pack)
            data = remote.read_range(key, span.start, span.end)
            if len(data) != span.end - span.start:
                raise RemoteError(f"pack {key} on remote {remote.url} is shorter than its "
                                  "index says; nothing was fetched from it")
            tick(len(data))
            view = memoryview(data)
            with lock:  # a PackWriter is one stream: one writer at a time
                result.bytes += len(data)
                result.ranges += 1
                for chunk_id, offset, length in span.chunks:
                    part = view[offset - span.start:offset - span.start + length]
                    writer = writers[plan.owner[chunk_id]]
                    try:
                        writer.add(chunk_id, part)
                    except CorruptChunkError:
                        raise RemoteError(
                            f"pack {key} on remote {remote.url} is corrupt: chunk "
                            f"{chunk_id.hex()} does not hash to its id, so nothing from it "
                            "entered the cache; whoever can should delete that pack and its "
                            "index and push again from a clone that has the objects") from None
                    result.chunks += 1
                for chunk_id, _offset, _length in span.chunks:
                    where = writers[plan.owner[chunk_id]].locate(chunk_id)  # flushed: readable
                    if where is not None:
                        arrived[chunk_id] = where
                landed.notify_all()

        hasher.start()
        try:
            _run(remote, plan.spans, read, jobs, "downloading packs from", progress)
        finally:
            stop.set()  # whatever has not landed now never will
            with landed:
                landed.notify_all()
            hasher.join()
        for oid in plan.oids:
            source = f"remote {remote.url}"
            try:
                actual = hashed.get(oid)
                if actual is None:
                    store.adopt_chunked(plan.recipes[oid], writers.pop(oid), source=source)
                else:
                    store.adopt_hashed(plan.recipes[oid], writers.pop(oid), actual=actual,
                                       source=source)
            except CorruptObjectError as exc:
                raise RemoteError(
                    f"object {describe(oid)} rebuilt from remote {remote.url} hashes to "
                    f"{exc.actual}, so it was not put in the cache; whoever can should delete "
                    f"its recipe {recipe_key(oid)} there and push it again") from None
            except StoreFormatError as exc:
                raise RemoteError(f"cannot rebuild {describe(oid)} from remote {remote.url}: "
                                  f"{exc.problem}") from None
            result.fetched.append(oid)
            if fetched is not None:
                fetched(oid)
    finally:
        for writer in writers.values():
            writer.abort()
    return result


def _hash_as_they_land(store: ObjectStore, plan: FetchPlan,
                       arrived: dict[bytes, tuple[Path, int, int]],
                       landed: threading.Condition, stop: threading.Event,
                       hashed: dict[str, str | None]) -> None:
    """The sha256 of each object of ``plan``, its chunks read in file order: a downloaded one
    once it has landed in a pending pack (``arrived``, under ``landed``), any other from the
    cache's packs. An object it cannot hash (the download stopped, a pack went away) gets None
    in ``hashed``, and the caller rehashes it the slow way."""
    local = store.chunk_index()
    handles: dict[Path, int] = {}
    buffer = bytearray()
    try:
        for oid in plan.oids:
            hashed[oid] = None
            sha = hashlib.sha256()
            for chunk_id, length in plan.recipes[oid].chunks:
                where: tuple[Path, int, int] | None
                if chunk_id in plan.owner:
                    with landed:
                        while (where := arrived.get(chunk_id)) is None and not stop.is_set():
                            landed.wait(0.5)
                else:
                    where = local.locate(chunk_id)
                if where is None or where[2] != length:
                    break
                path, offset, _ = where
                fd = handles.get(path)
                if fd is None:
                    fd = handles[path] = os.open(path, os.O_RDONLY)
                if len(buffer) < length:
                    buffer = bytearray(length)
                view = memoryview(buffer)[:length]
                if os.preadv(fd, [view], offset) != length:
                    break
                sha.update(view)
            else:
                hashed[oid] = "sha256:" + sha.hexdigest()
    except OSError:
        pass  # a pack went away (a gc): the caller hashes what is left after the download
    finally:
        for fd in handles.values():
            os.close(fd)


def _run(remote: ObjectRemote, items: Sequence[object], work: Callable[..., None], jobs: int,
         doing: str, progress: Progress | None = None) -> None:
    try:
        run_parallel(items, work, jobs, progress)
    except (Cancelled, KeyboardInterrupt, RemoteError):
        raise
    except Exception as exc:
        raise explain(exc, remote, doing) from None


# -- a chunked object as one file, without a store ----------------------------------------------

def download_whole(remote: ObjectRemote, oid: str, target: Path, progress: Progress) -> None:
    """Write the whole bytes of the chunked ``oid`` to ``target``, from its recipe and packs on
    ``remote`` (every chunk checked against its id; the caller checks the sha256, as for any
    download). For readers that want a file and have no store to rebuild into: fsck's remote
    checks and repairs, a remote gc's copy to an archive. Reads every index (nothing cached)."""
    key = recipe_key(oid)
    where = f"{remote.url.rstrip('/')}/{key}"
    try:
        data = remote.get_bytes(key)
    except RemoteKeyMissing:
        from gitmodel.remote.backends import RemoteObjectMissing

        raise RemoteObjectMissing(oid, remote.url) from None
    try:
        recipe = Recipe.decode(data, expected_oid=oid, source=f"recipe {where}")
    except StoreFormatError as exc:
        raise RemoteError(f"the recipe of {oid} on remote {remote.url} is damaged "
                          f"({exc.problem}); whoever can should delete {where} and push the "
                          "object again") from None
    there = remote_chunks(remote, None)
    positions: dict[bytes, list[int]] = {}
    needed: dict[bytes, tuple[str, int, int]] = {}
    at = 0
    for chunk_id, length in recipe.chunks:
        found = there.locate(chunk_id)
        if found is None or found[2] != length:
            raise RemoteError(f"remote {remote.url} has the recipe of {oid} but not its chunk "
                              f"{chunk_id.hex()} in any indexed pack; a clone that has the "
                              "object should run `git model push` again")
        needed[chunk_id] = found
        positions.setdefault(chunk_id, []).append(at)
        at += length
    with open(target, "wb") as out:
        out.truncate(recipe.size)
        fd = out.fileno()

        def read(span: _Span, tick: Progress) -> None:
            key = pack_key(span.pack)
            data = remote.read_range(key, span.start, span.end)
            if len(data) != span.end - span.start:
                raise RemoteError(f"pack {key} on remote {remote.url} is shorter than its "
                                  "index says")
            view = memoryview(data)
            for chunk_id, offset, length in span.chunks:
                part = view[offset - span.start:offset - span.start + length]
                actual = blake3_digest(part)
                if actual != chunk_id:
                    raise CorruptChunkError(chunk_id, actual, f"{remote.url}/{key}")
                for position in positions[chunk_id]:
                    os.pwrite(fd, part, position)
            tick(len(data))

        run_parallel(plan_spans(needed, there.packsizes), read, DEFAULT_JOBS, progress)
