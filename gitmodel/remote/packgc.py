"""Remote gc of chunked objects: which recipes a remote holds, which chunks its kept recipes
need, and what to do with each pack there (docs/remotes.md, "Chunked objects").

A chunk on a remote is **live** when a recipe that gc keeps lists it. Each pack is judged by
the rule local packs follow (:func:`gitmodel.store.packgc.judge`, ``[gc] pack-rewrite-dead``),
with its upload time in place of a file time: a pack no live chunk is in is deleted (its index
first, then the pack), one whose dead bytes reach the threshold is rewritten (its live chunks
read in byte ranges, each checked against its id, packed anew and uploaded pack then index;
only then is the old index deleted, then the old pack), and the rest are kept with their dead
bytes reported. A pack a recent push relied on is kept whatever its chunks
(:func:`gitmodel.remote.ledger.push_packs`), and so is one whose index does not check out.

Recipes are deleted before any pack is touched, and liveness comes from the recipes that stay,
so a gc killed at any moment never leaves a recipe naming a chunk that is in no pack there.

The backend interface (:mod:`gitmodel.remote.backends`) lists and deletes ``objects/`` only;
the few key-level calls this needs (a listing of ``recipes/`` and ``packs/`` with upload times,
deleting keys) are here, for the two backends there are.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gitmodel.errors import CorruptChunkError, GitmodelError, RemoteError, StoreFormatError
from gitmodel.fileio import write_atomic
from gitmodel.hashing import OID_PREFIX
from gitmodel.remote import packs as rpacks
from gitmodel.remote.backends import (
    PACKS,
    DirectoryRemote,
    FsspecRemote,
    ObjectRemote,
    RemoteKeyMissing,
    RemoteObject,
    _uploaded,
    recipe_key,
)
from gitmodel.remote.parallel import DEFAULT_JOBS, run_parallel
from gitmodel.store import ObjectStore, is_oid
from gitmodel.store.packgc import DEFAULT_REWRITE_DEAD, judge
from gitmodel.store.packs import PackIndex, PackWriter, Recipe

REMOTE_RECIPE_DIR = "remote-recipes"
RECIPES = "recipes"


# -- key-level listings and deletes -----------------------------------------------------------

@dataclass(frozen=True)
class Listed:
    """One file of a remote listing: its size and upload time (None: the backend does not
    say)."""

    size: int
    uploaded: float | None


def _unsupported(remote: ObjectRemote) -> RemoteError:
    return RemoteError(f"remote gc of chunked objects on {remote.url} needs a directory or "
                       "fsspec remote")


def _walk_directory(base: Path) -> dict[str, Listed]:
    """relative path -> Listed of every file below ``base`` (two levels: ``ab/<rest>``)."""
    found: dict[str, Listed] = {}
    try:
        fans = list(os.scandir(base))
    except FileNotFoundError:
        return found
    for fan in fans:
        if not fan.is_dir(follow_symlinks=False):
            continue
        with os.scandir(fan.path) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False):
                    info = entry.stat()
                    found[f"{fan.name}/{entry.name}"] = Listed(info.st_size, info.st_mtime)
    return found


def list_recipes(remote: ObjectRemote) -> dict[str, RemoteObject]:
    """Every recipe on ``remote``: oid -> RemoteObject (the size is the recipe's bytes), in one
    listing (paginated by the backend)."""
    remote.calls("list")
    out: dict[str, RemoteObject] = {}
    if isinstance(remote, DirectoryRemote):
        remote.check_exists()
        for rel, item in _walk_directory(remote.root / RECIPES).items():
            oid = OID_PREFIX + rel.replace("/", "", 1)
            if is_oid(oid):
                out[oid] = RemoteObject(oid, item.size, item.uploaded)
        return out
    if isinstance(remote, FsspecRemote):
        with contextlib.suppress(Exception):
            remote.fs.invalidate_cache(f"{remote.root}/{RECIPES}")
        try:
            listed = remote.fs.find(f"{remote.root}/{RECIPES}", detail=True)
        except FileNotFoundError:
            return out
        for key, info in listed.items():
            parts = str(key).rstrip("/").rsplit("/", 2)
            if len(parts) < 3 or info.get("type", "file") != "file":
                continue
            oid = OID_PREFIX + parts[-2] + parts[-1]
            if is_oid(oid):
                out[oid] = RemoteObject(oid, int(info.get("size") or 0), _uploaded(info))
        return out
    raise _unsupported(remote)


def list_packs(remote: ObjectRemote) -> dict[str, Listed]:
    """Every file under ``packs/`` with its size and upload time: one listing."""
    remote.calls("list")
    if isinstance(remote, DirectoryRemote):
        remote.check_exists()
        try:
            with os.scandir(remote.root / PACKS) as entries:
                return {e.name: Listed(e.stat().st_size, e.stat().st_mtime) for e in entries
                        if e.name.startswith("pack-") and e.is_file(follow_symlinks=False)}
        except FileNotFoundError:
            return {}
    if isinstance(remote, FsspecRemote):
        with contextlib.suppress(Exception):
            remote.fs.invalidate_cache(f"{remote.root}/{PACKS}")
        try:
            listed = remote.fs.ls(f"{remote.root}/{PACKS}", detail=True)
        except FileNotFoundError:
            return {}
        out: dict[str, Listed] = {}
        for info in listed:
            name = str(info.get("name", "")).rstrip("/").rsplit("/", 1)[-1]
            if name.startswith("pack-") and info.get("type", "file") == "file":
                out[name] = Listed(int(info.get("size") or 0), _uploaded(info))
        return out
    raise _unsupported(remote)


def delete_keys(remote: ObjectRemote, keys: Sequence[str]) -> None:
    """Remove ``keys`` (absent ones are no error), in the order given on a directory and in
    one batched request per 1,000 on an object store (the caller orders the batches)."""
    if not keys:
        return
    remote.calls("delete", len(keys))
    if isinstance(remote, DirectoryRemote):
        for key in keys:
            with contextlib.suppress(FileNotFoundError):
                remote._key_path(key).unlink()
        return
    if isinstance(remote, FsspecRemote):
        with contextlib.suppress(FileNotFoundError):
            remote.fs.rm([remote._key_path(key) for key in keys])
        return
    raise _unsupported(remote)


# -- the remote's recipes, cached ------------------------------------------------------------

def recipe_cache_dir(store: ObjectStore, remote: ObjectRemote) -> Path:
    """``<cache>/remote-recipes/<remote key>/``, beside the remote's cached indexes."""
    key = hashlib.sha256(remote.url.encode()).hexdigest()[:16]
    return store.root / REMOTE_RECIPE_DIR / key


def _cache_name(obj: RemoteObject) -> str | None:
    # a recipe is re-uploaded under the same key only after a gc deleted it, so a copy is good
    # while the listing shows the same size and upload time; no time, no cache
    if obj.uploaded is None:
        return None
    return f"{obj.oid[len(OID_PREFIX):]}-{obj.size}-{int(obj.uploaded * 1000)}"


def read_recipes(remote: ObjectRemote, listed: dict[str, RemoteObject], cache: Path | None,
                 *, jobs: int = DEFAULT_JOBS) -> tuple[dict[str, Recipe], dict[str, str]]:
    """Decode every recipe of ``listed`` (from ``cache`` when a copy of the same upload is
    there). Returns (oid -> recipe, oid -> why it is damaged); a recipe removed meanwhile is
    in neither."""
    recipes: dict[str, Recipe] = {}
    damaged: dict[str, str] = {}
    lock = threading.Lock()
    todo = []
    for oid, obj in sorted(listed.items()):
        name = _cache_name(obj)
        if cache is not None and name is not None:
            with contextlib.suppress(FileNotFoundError, StoreFormatError):
                data = (cache / name).read_bytes()
                recipes[oid] = Recipe.decode(data, expected_oid=oid, source="cached recipe")
                continue
        todo.append(oid)

    def fetch(oid: str, _tick: Callable[[int], None]) -> None:
        key = recipe_key(oid)
        try:
            data = remote.get_bytes(key)
        except RemoteKeyMissing:
            return
        try:
            recipe = Recipe.decode(data, expected_oid=oid,
                                   source=f"recipe {remote.url.rstrip('/')}/{key}")
        except StoreFormatError as exc:
            with lock:
                damaged[oid] = str(exc)
            return
        name = _cache_name(listed[oid])
        if cache is not None and name is not None:
            cache.mkdir(parents=True, exist_ok=True)
            write_atomic(cache / name, data)
        with lock:
            recipes[oid] = recipe

    run_parallel(todo, fetch, jobs)
    return recipes, damaged


# -- judging the packs ------------------------------------------------------------------------

@dataclass(frozen=True)
class RemotePack:
    """One pack of a remote and what gc makes of it."""

    name: str
    chunks: int
    chunk_bytes: int
    live_bytes: int
    file_bytes: int  # pack + index
    uploaded: float | None
    action: str  # "keep", "young", "pushed", "rewrite", "delete", "orphan", "damaged"
    detail: str = ""
    live: tuple[tuple[bytes, int, int], ...] = field(default=(), repr=False)  # id, offset, len

    @property
    def dead_bytes(self) -> int:
        return self.chunk_bytes - self.live_bytes

    @property
    def freed(self) -> int:
        """What acting on it frees (a rewrite: its dead bytes, near enough)."""
        if self.action in ("delete", "orphan"):
            return self.file_bytes
        if self.action == "rewrite":
            return self.dead_bytes
        return 0

    def to_json(self) -> dict[str, object]:
        return {"pack": f"pack-{self.name}.pack", "action": self.action, "chunks": self.chunks,
                "chunk_bytes": self.chunk_bytes, "live_bytes": self.live_bytes,
                "dead_bytes": self.dead_bytes, "freed": self.freed, "detail": self.detail}


@dataclass
class RemotePackPlan:
    packs: list[RemotePack] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    recipes: dict[str, Recipe] = field(default_factory=dict, repr=False)  # every one read

    def of(self, *actions: str) -> list[RemotePack]:
        return [p for p in self.packs if p.action in actions]

    @property
    def freed(self) -> int:
        return sum(p.freed for p in self.packs)

    @property
    def moved(self) -> int:
        return sum(p.live_bytes for p in self.of("rewrite"))

    @property
    def dead_kept(self) -> int:
        """Dead chunk bytes left in packs gc keeps (below the rewrite threshold, or young)."""
        return sum(p.dead_bytes for p in self.of("keep", "young", "pushed"))

    def summary(self) -> dict[str, object]:
        counts = {a: len(self.of(a)) for a in
                  ("keep", "young", "pushed", "rewrite", "delete", "orphan", "damaged")}
        return {**counts, "would_free": self.freed, "would_move": self.moved,
                "dead_kept_bytes": self.dead_kept,
                "plan": [p.to_json() for p in self.packs if p.action != "keep" or p.dead_bytes]}


@dataclass(frozen=True)
class IndexedPack:
    name: str
    index: PackIndex | None  # None: damaged (``why``)
    pack: Listed | None
    idx: Listed | None
    why: str = ""


def read_indexes(store: ObjectStore, remote: ObjectRemote, listing: dict[str, Listed], *,
                 jobs: int = DEFAULT_JOBS) -> list[IndexedPack]:
    """Every pack of ``listing`` with its index checked (named by its own hash, decodes, its
    pack listed at the size it says), from the local cache of the remote's indexes where a copy
    is there. A pack with no index comes back with ``idx`` None."""
    cache = rpacks.index_cache_dir(store, remote)
    names = sorted({n[len("pack-"):].rsplit(".", 1)[0] for n in listing
                    if n.endswith((".pack", ".idx"))})
    out: dict[str, IndexedPack] = {}
    lock = threading.Lock()
    todo = []
    for name in names:
        pack = listing.get(f"pack-{name}.pack")
        idx = listing.get(f"pack-{name}.idx")
        if not rpacks._is_pack_name(name):
            continue
        if idx is None:
            out[name] = IndexedPack(name, None, pack, None, "a pack with no index")
            continue
        if idx.size > rpacks.MAX_INDEX_BYTES:
            out[name] = IndexedPack(name, None, pack, idx, "its index is too large to be one")
            continue
        with contextlib.suppress(FileNotFoundError, StoreFormatError):
            data = (cache / f"pack-{name}.idx").read_bytes()
            out[name] = _checked(name, data, "cached index", pack, idx)
            continue
        todo.append(name)

    def fetch(name: str, _tick: Callable[[int], None]) -> None:
        key = rpacks.index_key(name)
        pack, idx = listing.get(f"pack-{name}.pack"), listing.get(f"pack-{name}.idx")
        try:
            data = remote.get_bytes(key)
        except RemoteKeyMissing:
            return  # removed since the listing
        try:
            found = _checked(name, data, f"{remote.url.rstrip('/')}/{key}", pack, idx)
        except StoreFormatError as exc:
            found = IndexedPack(name, None, pack, idx, exc.problem)
        else:
            rpacks._keep_index(cache, name, data)
        with lock:
            out[name] = found

    run_parallel(todo, fetch, jobs)
    return [out[n] for n in sorted(out)]


def _checked(name: str, data: bytes, source: str, pack: Listed | None, idx: Listed | None
             ) -> IndexedPack:
    index = rpacks._checked_index(name, data, source)
    if pack is None:
        return IndexedPack(name, None, None, idx, "its pack is not there")
    if pack.size != index.packsize:
        return IndexedPack(name, None, pack, idx,
                           f"its pack is {pack.size} bytes, the index says {index.packsize}")
    return IndexedPack(name, index, pack, idx)


def judge_packs(indexed: Iterable[IndexedPack], live: set[bytes], now: float, *,
                grace: float, rewrite_dead: float = DEFAULT_REWRITE_DEAD,
                relied: Collection[str] = (), unsure: bool = False) -> list[RemotePack]:
    """What to do with each pack, given the ``live`` chunks. ``relied``: packs a recent push
    relied on (kept). ``unsure``: liveness is not known (a damaged recipe): nothing is touched."""
    out = []
    for item in indexed:
        files = (item.pack.size if item.pack else 0) + (item.idx.size if item.idx else 0)
        times = [t.uploaded for t in (item.pack, item.idx) if t is not None]
        stamp = None if not times or None in times else max(t for t in times if t is not None)
        if item.index is None:
            if item.idx is None and item.pack is not None:
                # a pack whose index never came (a killed push or gc): garbage after grace
                young = stamp is None or now - stamp < grace or unsure
                action = "young" if young else "orphan"
                if item.name in relied:  # a push uploaded it and is about to send its index
                    action = "pushed"
                out.append(RemotePack(item.name, 0, 0, 0, files, stamp, action, item.why))
            else:
                out.append(RemotePack(item.name, 0, 0, 0, files, stamp, "damaged",
                                      f"{item.why}; left as it is"))
            continue
        entries = list(item.index.entries())
        kept = tuple(sorted(((c, o, n) for c, o, n in entries if c in live), key=lambda e: e[1]))
        chunk_bytes = sum(n for _, _, n in entries)
        live_bytes = sum(n for _, _, n in kept)
        if unsure:
            action = "keep"
        elif stamp is None:
            action = "young" if live_bytes < chunk_bytes else "keep"
        else:
            action = judge(chunk_bytes, live_bytes, stamp, now, grace=grace,
                           rewrite_dead=rewrite_dead)
        detail = ""
        if action in ("delete", "rewrite") and item.name in relied:
            action, detail = "pushed", "a push relied on it within the grace period"
        elif action == "young" and stamp is None:
            detail = "the remote does not say when it was uploaded"
        out.append(RemotePack(item.name, len(entries), chunk_bytes, live_bytes, files, stamp,
                              action, detail, kept))
    return out


# -- carrying it out ----------------------------------------------------------------------------

@dataclass
class RemotePackSweep:
    deleted: list[str] = field(default_factory=list)  # pack names
    rewritten: list[tuple[str, list[str]]] = field(default_factory=list)  # old, new names
    failed: list[tuple[str, str]] = field(default_factory=list)
    moved: int = 0  # live bytes copied into new packs
    freed: int = 0  # bytes removed minus bytes the rewrites uploaded


def retire(remote: ObjectRemote, names: Sequence[str]) -> None:
    """Delete packs: every index first (one batch), then the packs (another), so a reader
    never finds an index whose pack is gone."""
    delete_keys(remote, [rpacks.index_key(n) for n in names])
    delete_keys(remote, [rpacks.pack_key(n) for n in names])


def rewrite(store: ObjectStore, remote: ObjectRemote, pack: RemotePack
            ) -> tuple[list[str], int]:
    """Copy the live chunks of ``pack`` into a new pack on ``remote`` (read in byte ranges,
    each chunk checked against its id, uploaded pack then index). Returns (new names, bytes of
    the new packs and indexes). The old pack is untouched: the caller retires it after."""
    spans = rpacks.plan_spans({c: (pack.name, o, n) for c, o, n in pack.live},
                              {pack.name: pack.chunk_bytes + len(rpacks.PACK_MAGIC)})
    scratch = store.root / "tmp" / f"remote-gc-{uuid.uuid4().hex}"
    source = f"pack {remote.url.rstrip('/')}/{rpacks.pack_key(pack.name)}"
    try:
        with PackWriter(scratch / "tmp", scratch / "packs", fsync=False,
                        verify_source=source) as writer:
            for span in spans:
                data = remote.read_range(rpacks.pack_key(pack.name), span.start, span.end)
                if len(data) != span.end - span.start:
                    raise RemoteError(f"{source} is shorter than its index says; it was left "
                                      "as it is")
                view = memoryview(data)
                for chunk_id, offset, length in span.chunks:
                    writer.add(chunk_id, view[offset - span.start:offset - span.start + length])
            names = writer.finish()
        written = 0
        for name in names:  # one, unless a pack was written larger than MAX_PACK_BYTES
            new_pack = scratch / "packs" / f"pack-{name}.pack"
            index = (scratch / "packs" / f"pack-{name}.idx").read_bytes()
            rpacks._send_pair(remote, name, new_pack, index, lambda _n: None, lambda _n: None)
            rpacks._keep_index(rpacks.index_cache_dir(store, remote), name, index)
            written += new_pack.stat().st_size + len(index)
        return names, written
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def sweep(store: ObjectStore, remote: ObjectRemote, packs: Sequence[RemotePack],
          progress: Callable[[int, int], None] | None = None) -> RemotePackSweep:
    """Carry out the deletes and rewrites among ``packs``: all-dead and orphan packs are
    retired; each rewrite uploads its new pack and index before its old index, then its old
    pack, is deleted. A rewrite that fails (a chunk that does not hash to its id, a short
    read) leaves its old pack as it is and is reported."""
    result = RemotePackSweep()
    gone = [p for p in packs if p.action in ("delete", "orphan")]
    retire(remote, [p.name for p in gone])
    result.deleted = [p.name for p in gone]
    result.freed = sum(p.file_bytes for p in gone)
    todo = [p for p in packs if p.action == "rewrite"]
    for n, pack in enumerate(todo, 1):
        try:
            names, written = rewrite(store, remote, pack)
        except CorruptChunkError as exc:
            result.failed.append((pack.name, (
                f"its chunk {exc.oid.removeprefix('blake3:')} does not hash to its id, so "
                "the pack was not rewritten; `git model fsck --remote NAME --deep` names the "
                "objects it damages")))
            continue
        except (GitmodelError, StoreFormatError, ValueError) as exc:
            result.failed.append((pack.name, str(exc)))
            continue
        retire(remote, [pack.name])
        result.rewritten.append((pack.name, names))
        result.moved += pack.live_bytes
        result.freed += pack.file_bytes - written
        if progress is not None:
            progress(n, len(todo))
    forget_cached(store, remote, [*result.deleted, *(old for old, _ in result.rewritten)])
    return result


def forget_cached(store: ObjectStore, remote: ObjectRemote, names: Iterable[str]) -> None:
    """Drop this clone's cached copies of the indexes of packs gc removed."""
    cache = rpacks.index_cache_dir(store, remote)
    for name in names:
        with contextlib.suppress(OSError):
            (cache / f"pack-{name}.idx").unlink()
