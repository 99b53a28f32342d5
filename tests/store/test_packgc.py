"""gitmodel.store.packgc: chunk liveness, pack rewrite and delete, the grace period and the
recheck before each delete. Each rule has a test that loses a needed chunk without it."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from conftest import random_bytes

from gitmodel.store import ObjectStore
from gitmodel.store import gc as store_gc
from gitmodel.store.packgc import plan_packs, sweep
from gitmodel.store.packs import ChunkIndex

SIZE = 1 << 20
LATER = 10_000.0  # plan "now" this far ahead: every file is then older than the grace period


def put(store: ObjectStore, tmp_path: Path, data: bytes) -> str:
    source = tmp_path / f"src-{hashlib.sha256(data).hexdigest()[:8]}"
    source.write_bytes(data)
    return store.put_file(source)[0]


def chunked(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / "cache", chunk_threshold=64 << 10)


def release(store: ObjectStore, oid: str) -> None:
    store_gc.remove(store, [(oid, store.size(oid))], [])


def restores(store: ObjectStore, oid: str, data: bytes, tmp_path: Path) -> None:
    fresh = ObjectStore(store.root)  # a process that reads the packs afresh
    target = tmp_path / f"out-{oid[7:15]}"
    fresh.materialize(oid, target)
    assert target.read_bytes() == data


def packs(store: ObjectStore) -> list[Path]:
    return sorted((store.root / "packs").glob("*.pack"))


def test_a_chunk_shared_by_a_released_and_a_kept_version_survives_the_rewrite(
        tmp_path: Path) -> None:
    store = chunked(tmp_path)
    old = random_bytes(SIZE, 1)
    old_oid = put(store, tmp_path, old)
    # the kept version shares the first third of the released one; its new bytes go to a
    # second pack, so the first pack holds shared (live) and released-only (dead) chunks
    new = old[: SIZE // 3] + random_bytes(SIZE - SIZE // 3, 2)
    new_oid = put(store, tmp_path, new)
    first = packs(store)
    release(store, old_oid)
    plan = plan_packs(store.root, time.time() + LATER, grace=60, rewrite_dead=0.5)
    assert {p.action for p in plan.packs} >= {"rewrite"}
    done = sweep(store.root, plan, fsync=False)
    assert done.rewritten and done.moved > 0
    assert set(first) - set(packs(store))  # the old pack is gone
    restores(store, new_oid, new, tmp_path)
    on_disk = sum(p.stat().st_size for p in packs(store))
    assert on_disk < 1.15 * len(new)  # the released-only chunks were dropped


def test_a_fully_dead_pack_is_deleted_and_a_live_one_kept(tmp_path: Path) -> None:
    store = chunked(tmp_path)
    gone = put(store, tmp_path, random_bytes(SIZE, 3))
    kept_data = random_bytes(SIZE, 4)
    kept = put(store, tmp_path, kept_data)
    assert len(packs(store)) == 2
    release(store, gone)
    plan = plan_packs(store.root, time.time() + LATER, grace=60)
    assert sorted(p.action for p in plan.packs) == ["delete", "keep"]
    done = sweep(store.root, plan, fsync=False)
    assert len(done.deleted) == 1 and done.freed > SIZE
    assert len(packs(store)) == 1
    assert not list((store.root / "packs").glob("*.idx"))[1:]  # its index went with it
    restores(store, kept, kept_data, tmp_path)


def test_a_pack_under_the_threshold_is_kept(tmp_path: Path) -> None:
    store = chunked(tmp_path)
    old = random_bytes(SIZE, 5)
    put(store, tmp_path, old)
    new = old[: SIZE * 3 // 4] + random_bytes(SIZE // 4, 6)
    put(store, tmp_path, new)
    release(store, "sha256:" + hashlib.sha256(old).hexdigest())
    plan = plan_packs(store.root, time.time() + LATER, grace=60, rewrite_dead=0.5)
    assert "rewrite" not in {p.action for p in plan.packs}  # ~25 % dead: not worth a rewrite
    plan = plan_packs(store.root, time.time() + LATER, grace=60, rewrite_dead=0.1)
    assert "rewrite" in {p.action for p in plan.packs}


def test_young_packs_are_never_touched(tmp_path: Path) -> None:
    store = chunked(tmp_path)
    oid = put(store, tmp_path, random_bytes(SIZE, 7))
    release(store, oid)
    plan = plan_packs(store.root, time.time(), grace=3600)
    assert [p.action for p in plan.packs] == ["young"]
    sweep(store.root, plan, fsync=False)
    assert len(packs(store)) == 1


def test_an_add_reusing_a_dead_chunk_after_the_plan_keeps_its_pack(tmp_path: Path) -> None:
    """The recheck before each delete: the plan saw the pack dead, then an add reused its
    chunks (touching the index); deleting it would leave the new recipe naming missing bytes."""
    store = chunked(tmp_path)
    data = random_bytes(SIZE, 8)
    oid = put(store, tmp_path, data)
    release(store, oid)
    plan = plan_packs(store.root, time.time() + LATER, grace=60)
    assert [p.action for p in plan.packs] == ["delete"]
    time.sleep(0.02)
    assert put(store, tmp_path, data) == oid  # the add reuses every chunk, writes no pack
    assert len(packs(store)) == 1
    done = sweep(store.root, plan, fsync=False)
    assert done.spared and not done.deleted
    restores(store, oid, data, tmp_path)


def test_an_add_after_a_pack_went_writes_the_chunks_anew(tmp_path: Path) -> None:
    """A long-lived store object (a filter process) whose chunk map still names a pack gc
    deleted: the add's touch finds the index gone and writes the chunk itself."""
    store = chunked(tmp_path)
    data = random_bytes(SIZE, 9)
    oid = put(store, tmp_path, data)
    stale = store.chunk_index()
    release(store, oid)
    other = ObjectStore(store.root, chunk_threshold=64 << 10)
    plan = plan_packs(other.root, time.time() + LATER, grace=60)
    sweep(other.root, plan, fsync=False)
    assert not packs(store)
    stale.refresh = lambda: None  # type: ignore[method-assign]  # keep the stale map
    assert put(store, tmp_path, data) == oid
    restores(store, oid, data, tmp_path)


def test_a_pack_without_an_index_is_garbage_only_after_the_grace_period(tmp_path: Path) -> None:
    store = chunked(tmp_path)
    oid = put(store, tmp_path, random_bytes(SIZE, 10))
    idx = next((store.root / "packs").glob("*.idx"))
    idx.unlink()  # as a writer killed between its two renames leaves it
    assert [p.action for p in plan_packs(store.root, time.time(), grace=60).packs] == ["young"]
    plan = plan_packs(store.root, time.time() + LATER, grace=60)
    assert [p.action for p in plan.packs] == ["orphan"]
    sweep(store.root, plan, fsync=False)
    assert not packs(store)
    assert oid  # (its recipe now names missing chunks: fsck's business, not gc's)


def test_a_damaged_recipe_stops_every_pack_change(tmp_path: Path) -> None:
    store = chunked(tmp_path)
    keep = put(store, tmp_path, random_bytes(SIZE, 11))
    gone = put(store, tmp_path, random_bytes(SIZE, 12))
    release(store, gone)
    recipe = store.recipe_path(keep)
    os.chmod(recipe, 0o644)
    raw = bytearray(recipe.read_bytes())
    raw[70] ^= 1
    recipe.write_bytes(bytes(raw))
    plan = plan_packs(store.root, time.time() + LATER, grace=60)
    assert {p.action for p in plan.packs} == {"keep"}
    assert any("damaged recipe" in p for p in plan.problems)


def test_clean_packs_under_the_lock_and_the_map_reread(tmp_path: Path) -> None:
    store = chunked(tmp_path)
    old = random_bytes(SIZE, 13)
    old_oid = put(store, tmp_path, old)
    new = old[: SIZE // 4] + random_bytes(SIZE - SIZE // 4, 14)
    new_oid = put(store, tmp_path, new)
    release(store, old_oid)
    _plan, done = store_gc.clean_packs(store, time.time() + LATER, grace=60, rewrite_dead=0.5)
    assert done.rewritten
    assert not ChunkIndex.load(store.packs_dir).damaged
    target = tmp_path / "same-store"
    store.materialize(new_oid, target)  # the same object, after the rewrite
    assert target.read_bytes() == new


def test_judge_is_the_rule_in_one_place() -> None:
    from gitmodel.store.packgc import judge

    now = 1_000_000.0
    old = now - 7200
    assert judge(100, 100, old, now, grace=3600, rewrite_dead=0.5) == "keep"
    assert judge(100, 0, now - 10, now, grace=3600, rewrite_dead=0.5) == "young"
    assert judge(100, 0, old, now, grace=3600, rewrite_dead=0.5) == "delete"
    assert judge(100, 50, old, now, grace=3600, rewrite_dead=0.5) == "rewrite"
    assert judge(100, 51, old, now, grace=3600, rewrite_dead=0.5) == "keep"
    assert judge(100, 99, old, now, grace=3600, rewrite_dead=0.0) == "rewrite"


def test_a_fetch_reusing_a_dead_chunk_after_the_plan_keeps_its_pack(tmp_path: Path) -> None:
    """As for an add: a download whose chunks are all in a pack gc planned to delete touches
    that pack's index when it adopts the recipe, so the delete is skipped."""
    store = chunked(tmp_path)
    data = random_bytes(SIZE, 15)
    oid = put(store, tmp_path, data)
    recipe = store.recipe(oid)  # what a remote's recipe for the same file says
    release(store, oid)
    plan = plan_packs(store.root, time.time() + LATER, grace=60)
    assert [p.action for p in plan.packs] == ["delete"]
    time.sleep(0.02)
    writer = store.incoming_pack(source="a test download")
    store.adopt_chunked(recipe, writer, source="a test download")  # needs no chunk downloaded
    done = sweep(store.root, plan, fsync=False)
    assert done.spared and not done.deleted
    restores(store, oid, data, tmp_path)
