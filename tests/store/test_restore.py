"""gitmodel.store.restore and the checkout paths built on it: pieces cover every chunk once, the
two-thread rebuild and the copy-while-hashing of whole objects still catch every damaged byte
(at either end, where each thread starts), and a chunk that rots in one pack is read from
another pack that holds it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from blake3 import blake3
from hypothesis import given
from hypothesis import strategies as st

from gitmodel.errors import CorruptObjectError
from gitmodel.store import ObjectStore, restore
from gitmodel.store.packs import PackWriter, Recipe

THRESHOLD = 64 << 10
BIG = restore.THREADS_FROM + (3 << 20)  # large enough for the two-thread paths


def fresh(size: int, seed: int) -> bytes:
    return blake3(f"test_restore {seed}".encode()).digest(length=size)


def oid_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write(tmp_path: Path, data: bytes, name: str = "src.bin") -> Path:
    path = tmp_path / "work" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def flip(path: Path, at: int) -> None:
    os.chmod(path, 0o644)
    with open(path, "r+b") as stream:
        stream.seek(at)
        byte = stream.read(1)
        stream.seek(at)
        stream.write(bytes([byte[0] ^ 0x20]))


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / "cache", chunk_threshold=THRESHOLD)


# -- pieces ---------------------------------------------------------------------------------------

@given(st.lists(st.tuples(st.integers(0, 2), st.integers(1, 300_000), st.booleans(),
                          st.booleans()), min_size=1, max_size=60))
def test_pieces_cover_every_chunk_once_in_order(spec: list[tuple[int, int, bool, bool]]) -> None:
    """spec: (pack, length, follows the previous chunk in its pack, index length is right)."""
    packs = [Path(f"/p{i}") for i in range(3)]
    ends = [8, 8, 8]
    chunks, located = [], []
    for n, (pack, length, follows, right) in enumerate(spec):
        at = ends[pack] if follows else ends[pack] + 1000
        stored = length if right else length + 1
        chunks.append((n.to_bytes(32, "big"), length))
        located.append((packs[pack], at, stored))
        ends[pack] = at + stored
    recipe = Recipe("sha256:" + "0" * 64, sum(length for _, length in chunks), tuple(chunks))
    pieces = restore.pieces_of(recipe, located, limit=1 << 20)
    assert [i for p in pieces for i, _ in p.chunks] == list(range(len(chunks)))
    target = 0
    for piece in pieces:
        first = piece.chunks[0][0]
        assert piece.target_at == target and (piece.pack, piece.at) == located[first][:2]
        for offset, (index, length) in zip(
                [0, *(sum(x[1] for x in piece.chunks[:k]) for k in range(1, len(piece.chunks)))],
                piece.chunks, strict=True):
            assert located[index][:2] == (piece.pack, piece.at + offset)  # back to back
            assert length == chunks[index][1]
        whole = sum(length for _, length in piece.chunks)
        if len(piece.chunks) > 1:
            assert whole <= 1 << 20
            assert all(located[i][2] == chunks[i][1] for i, _ in piece.chunks)
            assert piece.length == whole
        else:
            assert piece.length == min(whole, located[first][2])
        target += whole
    assert target == recipe.size


# -- a damaged byte is caught on every path ---------------------------------------------------------

@pytest.mark.parametrize("which", ["first", "last"])
def test_a_rotten_chunk_at_either_end_is_caught_by_the_threaded_rebuild(
        store: ObjectStore, tmp_path: Path, which: str) -> None:
    data = fresh(BIG, 1)
    oid, _ = store.put_file(write(tmp_path, data))
    recipe = store.recipe(oid)
    chunk = recipe.chunks[0 if which == "first" else -1][0]
    where = store.chunk_index().locate(chunk)
    assert where is not None
    flip(where[0], where[1] + where[2] // 2)
    target = write(tmp_path, b"the user's bytes", "target.bin")
    with pytest.raises(CorruptObjectError, match="does not match its id") as caught:
        store.materialize(oid, target)
    assert chunk.hex() in str(caught.value)
    assert target.read_bytes() == b"the user's bytes"
    assert sorted(p.name for p in target.parent.iterdir()) == ["src.bin", "target.bin"]


def test_a_clean_threaded_rebuild_is_byte_for_byte_and_reports_progress(
        store: ObjectStore, tmp_path: Path) -> None:
    data = fresh(BIG, 2)
    oid, _ = store.put_file(write(tmp_path, data))
    seen: list[int] = []
    store.materialize(oid, tmp_path / "out.bin", progress=seen.append)
    assert (tmp_path / "out.bin").read_bytes() == data
    assert sum(seen) == len(data)


@pytest.mark.parametrize("at", [0, BIG // 2, BIG - 1])
def test_a_rotten_whole_object_is_caught_while_it_is_copied(tmp_path: Path, at: int) -> None:
    store = ObjectStore(tmp_path / "cache")  # whole objects, each with its BLAKE3 digest
    data = fresh(BIG, 3)
    oid, _ = store.put_file(write(tmp_path, data))
    assert store._digest(oid) == blake3(data).digest()
    flip(store.object_path(oid), at)
    target = write(tmp_path, b"mine", "target.bin")
    with pytest.raises(CorruptObjectError) as caught:
        store.materialize(oid, target)
    assert caught.value.actual == oid_of(  # type: ignore[attr-defined]
        store.object_path(oid).read_bytes())
    assert target.read_bytes() == b"mine"
    assert sorted(p.name for p in target.parent.iterdir()) == ["src.bin", "target.bin"]


def test_a_wrong_digest_falls_back_to_the_sha256(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "cache")
    data = fresh(BIG, 4)
    oid, _ = store.put_file(write(tmp_path, data))
    digest = store._digest_path(oid)
    os.chmod(digest, 0o644)
    digest.write_bytes(bytes(32))  # the digest rots, the object is sound
    store.materialize(oid, tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == data


# -- a second copy of a chunk ----------------------------------------------------------------------

def second_copy(store: ObjectStore, chunk: bytes, data: bytes) -> Path:
    """Put ``chunk`` in a pack of its own (as two adds at once can), return that pack."""
    writer = PackWriter(store.root / "tmp", store.packs_dir, fsync=False)
    writer.add(chunk, data)
    (name,) = writer.finish()
    store.forget_chunk_map()
    return store.packs_dir / f"pack-{name}.pack"


@pytest.mark.parametrize("size", [1 << 20, BIG])
def test_a_rotten_chunk_is_read_from_another_pack_that_holds_it(
        store: ObjectStore, tmp_path: Path, size: int) -> None:
    data = fresh(size, 5)
    oid, _ = store.put_file(write(tmp_path, data))
    recipe = store.recipe(oid)
    chunk, length = recipe.chunks[1]
    start = recipe.chunks[0][1]
    extra = second_copy(store, chunk, data[start:start + length])
    where = store.chunk_index().locate(chunk)
    assert where is not None
    # rot whichever copy the chunk map uses; the other one is good
    flip(where[0], where[1] + length // 2)
    store.materialize(oid, tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == data
    assert store.read_chunk(chunk) == data[start:start + length]
    # both copies rotten: refused, and the target left alone
    other = extra if where[0] != extra else next(p for p in store.packs_dir.glob("*.pack")
                                                 if p != extra)
    offset = (8 if other == extra else where[1])  # the lone chunk sits right after the magic
    if other != extra:
        from gitmodel.store.packs import PackIndex

        found = PackIndex.decode(other.with_suffix(".idx").read_bytes(),
                                 source="test").lookup(chunk)
        assert found is not None
        offset = found[0]
    flip(other, offset + length // 3)
    target = write(tmp_path, b"kept", "target.bin")
    with pytest.raises(CorruptObjectError, match="does not match its id"):
        store.materialize(oid, target)
    assert target.read_bytes() == b"kept"
