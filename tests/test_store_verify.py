"""gitmodel.store.verify: parallel rehash of the cache, and the quarantine."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest
from conftest import random_bytes

from gitmodel.errors import ObjectMissingError
from gitmodel.store import ObjectStore
from gitmodel.store.verify import QUARANTINE, quarantine, quarantined, rehash


def oid_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / "cache")


def put(store: ObjectStore, tmp_path: Path, data: bytes) -> str:
    path = tmp_path / f"src-{hashlib.sha256(data).hexdigest()[:8]}"
    path.write_bytes(data)
    oid, _ = store.put_file(path)
    return oid


def corrupt(store: ObjectStore, oid: str, offset: int = 0) -> bytes:
    """Flip one byte of the object in place, as a failing disk would; return the new bytes."""
    path = store.object_path(oid)
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    os.chmod(path, 0o444)
    return bytes(data)


def test_a_clean_cache_verifies(store: ObjectStore, tmp_path: Path) -> None:
    blobs = [random_bytes(n, n) for n in (0, 1, 5000, 3 << 20)]
    oids = {put(store, tmp_path, b) for b in blobs}
    seen: list[int] = []
    report = rehash(store, jobs=2, progress=seen.append)
    assert report.checked == len(oids) == 4
    assert report.bytes == sum(len(b) for b in blobs) == sum(seen)
    assert report.corrupt == [] and report.unreadable == [] and report.strays == []


@pytest.mark.parametrize("jobs", [1, 2, 4])
def test_every_corrupt_object_is_found(store: ObjectStore, tmp_path: Path, jobs: int) -> None:
    blobs = [random_bytes(100_000 + i, i) for i in range(12)]
    oids = [put(store, tmp_path, b) for b in blobs]
    bad = {oids[1]: corrupt(store, oids[1]), oids[7]: corrupt(store, oids[7], 99_999)}
    report = rehash(store, jobs=jobs)
    assert report.checked == 12
    assert {c.oid: c.actual for c in report.corrupt} == {o: oid_of(d) for o, d in bad.items()}
    assert report.bad == set(bad)


def test_rehash_of_chosen_oids_skips_what_the_cache_lacks(store: ObjectStore,
                                                         tmp_path: Path) -> None:
    a = put(store, tmp_path, b"a")
    put(store, tmp_path, b"b")
    report = rehash(store, [a, oid_of(b"absent")])
    assert report.checked == 1 and report.bytes == 1


def test_two_threads_hash_at_once(store: ObjectStore, tmp_path: Path) -> None:
    """Two objects are hashed at the same time (the progress callback sees both threads)."""
    for i in range(4):
        put(store, tmp_path, random_bytes(8 << 20, 100 + i))
    threads: set[str] = set()
    rehash(store, jobs=2, progress=lambda n: threads.add(threading.current_thread().name))
    assert len(threads) == 2


def test_a_stray_file_is_listed(store: ObjectStore, tmp_path: Path) -> None:
    put(store, tmp_path, b"x")
    (store.root / "objects" / "zz").mkdir()
    (store.root / "objects" / "zz" / "notes.txt").write_text("hi")
    report = rehash(store)
    assert report.strays == ["sha256:zznotes.txt"]
    assert report.checked == 1


def test_an_unreadable_object_is_reported(store: ObjectStore, tmp_path: Path) -> None:
    oid = put(store, tmp_path, b"x")
    path = store.object_path(oid)
    path.unlink()
    path.mkdir()  # a folder where the object was: reading it fails (even as root)
    (path / "inner").write_text("x")
    # `has` sees no file, so name it explicitly through oids(): it lists every entry
    report = rehash(store)
    assert [u.oid for u in report.unreadable] == [oid]
    assert report.checked == 0


def test_quarantine_moves_the_object_aside(store: ObjectStore, tmp_path: Path) -> None:
    oid = put(store, tmp_path, b"good")
    damaged = corrupt(store, oid)
    moved = quarantine(store, oid)
    assert not store.has(oid)
    assert moved.path.parent == store.root / QUARANTINE
    assert moved.path.read_bytes() == damaged and moved.size == 4
    assert rehash(store).checked == 0
    with pytest.raises(ObjectMissingError):
        store.object_path(oid)
    # the same oid corrupt a second time keeps both copies
    put(store, tmp_path, b"good")
    corrupt(store, oid, 1)
    second = quarantine(store, oid)
    assert second.path != moved.path and moved.path.exists()
    assert [q.oid for q in quarantined(store)] == [oid, oid]


def test_quarantine_of_an_absent_object_raises(store: ObjectStore) -> None:
    with pytest.raises(ObjectMissingError):
        quarantine(store, oid_of(b"absent"))
    assert quarantined(store) == []
