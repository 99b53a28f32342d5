"""gitmodel.store.objects with chunking on: chunked put, verified rebuild, dedup, BLAKE3 digests
of whole objects, fetch adoption, and a mixed store (docs/store-format.md)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from conftest import random_bytes

from gitmodel.errors import CorruptObjectError, StoreFormatError
from gitmodel.store import ObjectStore
from gitmodel.store.chunking import chunk_id, cut
from gitmodel.store.gc import object_times, remove
from gitmodel.store.packs import Recipe
from gitmodel.store.verify import rehash

THRESHOLD = 64 << 10


def oid_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / "cache", chunk_threshold=THRESHOLD)


def write(tmp_path: Path, data: bytes, name: str = "src.bin") -> Path:
    path = tmp_path / "work" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def pack_bytes(store: ObjectStore) -> int:
    return sum(p.stat().st_size for p in (store.root / "packs").glob("*.pack"))


def flip_a_chunk_byte(store: ObjectStore, oid: str) -> Path:
    chunk = store.recipe(oid).chunks[1][0]
    where = store.chunk_index().locate(chunk)
    assert where is not None
    pack, offset, length = where
    os.chmod(pack, 0o644)
    with open(pack, "r+b") as stream:
        stream.seek(offset + length // 2)
        byte = stream.read(1)
        stream.seek(offset + length // 2)
        stream.write(bytes([byte[0] ^ 0x01]))
    return pack


def test_a_large_file_is_chunked_and_rebuilt_byte_for_byte(store: ObjectStore,
                                                          tmp_path: Path) -> None:
    data = random_bytes(3 << 20, 1)
    seen: list[int] = []
    oid, size = store.put_file(write(tmp_path, data), seen.append)
    assert (oid, size) == (oid_of(data), len(data)) and sum(seen) == len(data)
    assert store.is_chunked(oid) and store.has(oid) and store.size(oid) == len(data)
    assert not (store.root / "objects").exists()
    recipe = store.recipe(oid)
    assert [n for n, _ in recipe.chunks] == [chunk_id(v) for _, v in cut(data)]
    target = tmp_path / "out" / "model.bin"
    store.materialize(oid, target)
    assert target.read_bytes() == data
    store.verify(oid)
    with store.whole_file(oid) as path:
        assert path.read_bytes() == data
    assert list((store.root / "tmp").iterdir()) == []
    assert list(store.oids()) == [oid]
    assert object_times(store)[oid][0] == len(data)  # du: the logical size
    assert store.read_chunk(recipe.chunks[0][0]) == data[:recipe.chunks[0][1]]


def test_small_files_stay_whole_and_get_a_blake3_digest(store: ObjectStore,
                                                        tmp_path: Path) -> None:
    data = random_bytes(THRESHOLD - 1, 2)
    oid, _ = store.put_file(write(tmp_path, data))
    assert not store.is_chunked(oid) and store.object_path(oid).read_bytes() == data
    from blake3 import blake3

    hexdigest = oid.removeprefix("sha256:")
    assert (store.root / "blake3" / hexdigest[:2] / hexdigest[2:]).read_bytes() == \
        blake3(data).digest()
    store.materialize(oid, tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == data


def test_a_whole_object_that_rots_is_refused_despite_its_digest(store: ObjectStore,
                                                                tmp_path: Path) -> None:
    data = random_bytes(10_000, 3)
    oid, _ = store.put_file(write(tmp_path, data))
    path = store.object_path(oid)
    os.chmod(path, 0o644)
    path.write_bytes(b"x" + data[1:])
    target = write(tmp_path, b"mine", "target.bin")
    with pytest.raises(CorruptObjectError):
        store.materialize(oid, target)
    assert target.read_bytes() == b"mine"


def test_shared_chunks_are_stored_once(store: ObjectStore, tmp_path: Path) -> None:
    first = random_bytes(4 << 20, 4)
    second = first[:1 << 20] + random_bytes(300_000, 5) + first[(1 << 20) + 300_000:]
    a, _ = store.put_file(write(tmp_path, first, "a.bin"))
    after_first = pack_bytes(store)
    b, _ = store.put_file(write(tmp_path, second, "b.bin"))
    unique = len(first) + 300_000
    assert pack_bytes(store) < 1.1 * unique
    assert pack_bytes(store) - after_first < 3 * 300_000  # only the new chunks were written
    for oid, data in ((a, first), (b, second)):
        store.materialize(oid, tmp_path / "out.bin")
        assert (tmp_path / "out.bin").read_bytes() == data
    # the second add touched the index of the pack it reused (gc sees it as young)
    assert len(list((store.root / "packs").glob("*.idx"))) == 2


def test_adding_the_same_file_twice_writes_no_pack(store: ObjectStore, tmp_path: Path) -> None:
    data = random_bytes(1 << 20, 6)
    store.put_file(write(tmp_path, data))
    packs_before = sorted((store.root / "packs").iterdir())
    store.put_file(write(tmp_path, data, "again.bin"))
    assert sorted((store.root / "packs").iterdir()) == packs_before


def test_a_corrupt_chunk_is_reported_and_the_target_left_alone(store: ObjectStore,
                                                               tmp_path: Path) -> None:
    data = random_bytes(1 << 20, 7)
    oid, _ = store.put_file(write(tmp_path, data))
    pack = flip_a_chunk_byte(store, oid)
    target = write(tmp_path, b"the user's bytes", "target.bin")
    with pytest.raises(CorruptObjectError, match="does not match its id") as caught:
        store.materialize(oid, target)
    assert pack.name in str(caught.value)
    assert target.read_bytes() == b"the user's bytes"
    assert sorted(p.name for p in target.parent.iterdir()) == ["src.bin", "target.bin"]  # no temp
    with pytest.raises(CorruptObjectError):
        store.verify(oid)
    with pytest.raises(CorruptObjectError):
        store.read_chunk(store.recipe(oid).chunks[1][0])
    report = rehash(store)
    assert [c.oid for c in report.corrupt] == [oid]


def test_a_recipe_with_a_wrong_checksum_is_refused(store: ObjectStore, tmp_path: Path) -> None:
    data = random_bytes(1 << 20, 8)
    oid, _ = store.put_file(write(tmp_path, data))
    path = store.recipe_path(oid)
    os.chmod(path, 0o644)
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    path.write_bytes(bytes(raw))
    target = write(tmp_path, b"kept", "target.bin")
    with pytest.raises(StoreFormatError, match="checksum") as caught:
        store.materialize(oid, target)
    assert str(path) in str(caught.value) and "fsck --repair" in str(caught.value)
    assert target.read_bytes() == b"kept"


def test_a_mixed_store_reads_both_and_gc_removes_a_recipe(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    whole = ObjectStore(root)  # as an earlier gitmodel wrote it: no chunking, no digests
    old = random_bytes(1 << 20, 9)
    old_oid, _ = whole.put_file(write(tmp_path, old, "old.bin"))
    store = ObjectStore(root, chunk_threshold=THRESHOLD)
    new = random_bytes(1 << 20, 10)
    new_oid, _ = store.put_file(write(tmp_path, new, "new.bin"))
    assert sorted(store.oids()) == sorted([old_oid, new_oid])
    assert not store.is_chunked(old_oid) and store.is_chunked(new_oid)
    for oid, data in ((old_oid, old), (new_oid, new)):
        store.materialize(oid, tmp_path / "out.bin")
        assert (tmp_path / "out.bin").read_bytes() == data
    assert rehash(store).checked == 2
    removal = remove(store, [(new_oid, len(new))], [])
    assert removal.objects == [(new_oid, len(new))]
    assert not store.has(new_oid) and list(store.oids()) == [old_oid]


def test_a_fetched_chunked_object_enters_only_when_its_sha256_matches(
        store: ObjectStore, tmp_path: Path) -> None:
    data = random_bytes(1 << 20, 11)
    chunks = [(chunk_id(view), bytes(view)) for _, view in cut(data)]
    recipe = Recipe(oid_of(data), len(data), tuple((i, len(b)) for i, b in chunks))
    lying = Recipe(oid_of(b"other"), len(data), recipe.chunks)
    with store.incoming_pack(source="remote X") as writer:
        for name, raw in chunks:
            writer.add(name, raw)
        with pytest.raises(CorruptObjectError, match="remote X"):
            store.adopt_chunked(lying, writer, source="remote X")
    assert not store.has(lying.oid) and not (store.root / "packs").exists()
    assert list((store.root / "tmp").iterdir()) == []
    with store.incoming_pack(source="remote X") as writer, \
            pytest.raises(CorruptObjectError, match="remote X"):
        writer.add(chunks[0][0], b"tampered" + chunks[0][1][8:])
    writer = store.incoming_pack(source="remote X")
    for name, raw in chunks:
        writer.add(name, raw)
    store.adopt_chunked(recipe, writer, source="remote X")
    store.materialize(recipe.oid, tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == data


def test_chunking_off_keeps_every_file_whole(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "cache", chunk_threshold=None)
    oid, _ = store.put_file(write(tmp_path, random_bytes(1 << 20, 12)))
    assert not store.is_chunked(oid) and not (store.root / "packs").exists()


@pytest.mark.parametrize("block", [300_000, 1 << 20, 262_144 + 1])
def test_chunks_cut_block_by_block_are_those_of_the_whole_file(
        store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    from gitmodel.store import ingest

    monkeypatch.setattr(ingest, "READ_BLOCK", block)
    data = random_bytes(3 << 20, 13)
    oid, _ = store.put_file(write(tmp_path, data))
    assert oid == oid_of(data)
    assert [n for n, _ in store.recipe(oid).chunks] == [chunk_id(v) for _, v in cut(data)]
    store.materialize(oid, tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == data


def test_a_pack_rewritten_since_the_map_was_read_is_found_again(store: ObjectStore,
                                                                tmp_path: Path) -> None:
    data = random_bytes(1 << 20, 14)
    oid, _ = store.put_file(write(tmp_path, data))
    store.materialize(oid, tmp_path / "out.bin")  # the chunk map is loaded and cached
    for old in list((store.root / "packs").iterdir()):  # as a gc rewriting the pack would
        old.rename(old.with_name("pack-" + "0" * 64 + old.suffix))
    (tmp_path / "out.bin").unlink()
    store.materialize(oid, tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == data
