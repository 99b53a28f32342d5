"""gitmodel.store.packs: the recipe and pack-index formats of docs/store-format.md, pack writing,
and the chunk map over a store's packs."""

from __future__ import annotations

import hashlib
import struct
import tracemalloc
from pathlib import Path

import pytest
from blake3 import blake3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitmodel.errors import CorruptObjectError, StoreFormatError
from gitmodel.store import packs
from gitmodel.store.packs import (
    MAX_CHUNK_BYTES,
    ChunkIndex,
    PackIndex,
    PackWriter,
    Recipe,
)

chunk_ids = st.binary(min_size=32, max_size=32)
lengths = st.integers(min_value=1, max_value=MAX_CHUNK_BYTES)
oids = st.binary(min_size=32, max_size=32).map(lambda raw: "sha256:" + raw.hex())


def resign(body: bytes) -> bytes:
    """``body`` (everything but the checksum) with a correct checksum: a file a careless or
    hostile writer made, which the checksum alone does not catch."""
    return body + blake3(body).digest()


@st.composite
def recipes(draw: st.DrawFn) -> Recipe:
    chunks = tuple(draw(st.lists(st.tuples(chunk_ids, lengths), min_size=1, max_size=40)))
    return Recipe(oid=draw(oids), size=sum(n for _, n in chunks), chunks=chunks)


@st.composite
def index_entries(draw: st.DrawFn) -> tuple[list[tuple[bytes, int, int]], int]:
    ids = draw(st.lists(chunk_ids, unique=True, max_size=60))
    entries = []
    offset = 8
    for chunk_id in ids:
        length = draw(st.integers(min_value=1, max_value=1 << 20))
        entries.append((chunk_id, offset, length))
        offset += length
    packsize = offset + draw(st.integers(min_value=0, max_value=100))
    return draw(st.permutations(entries)), packsize


# -- recipes -----------------------------------------------------------------------------------

@given(recipes())
def test_recipe_round_trips(recipe: Recipe) -> None:
    data = recipe.encode()
    assert len(data) == 56 + 36 * len(recipe.chunks) + 32
    assert Recipe.decode(data, expected_oid=recipe.oid, source="r") == recipe
    assert Recipe.decode(data, expected_oid=None, source="r") == recipe


@settings(max_examples=30)
@given(recipes(), st.integers(min_value=1, max_value=255))
def test_every_corrupted_byte_of_a_recipe_is_refused(recipe: Recipe, flip: int) -> None:
    data = recipe.encode()
    for at in range(len(data)):
        broken = bytearray(data)
        broken[at] ^= flip
        with pytest.raises(StoreFormatError):
            Recipe.decode(bytes(broken), expected_oid=recipe.oid, source="r")


@given(recipes(), st.data())
def test_a_truncated_or_extended_recipe_is_refused(recipe: Recipe, data: st.DataObject) -> None:
    encoded = recipe.encode()
    cut = data.draw(st.integers(min_value=0, max_value=len(encoded) - 1))
    with pytest.raises(StoreFormatError):
        Recipe.decode(encoded[:cut], expected_oid=None, source="r")
    extra = data.draw(st.binary(min_size=1, max_size=80))
    with pytest.raises(StoreFormatError):
        Recipe.decode(encoded + extra, expected_oid=None, source="r")


def test_a_recipe_for_another_oid_is_refused() -> None:
    recipe = Recipe("sha256:" + "ab" * 32, 5, ((b"\1" * 32, 5),))
    with pytest.raises(StoreFormatError, match="describes"):
        Recipe.decode(recipe.encode(), expected_oid="sha256:" + "cd" * 32, source="recipes/cd/x")


def _recipe_body(*, magic: bytes = b"GMRECIPE", version: int = 1, size: int,
                 chunks: list[tuple[bytes, int]], count: int | None = None) -> bytes:
    head = struct.pack(">8sI32sQI", magic, version, b"\7" * 32, size,
                       len(chunks) if count is None else count)
    return head + b"".join(struct.pack(">32sI", i, n) for i, n in chunks)


@pytest.mark.parametrize(("body", "problem"), [
    (_recipe_body(size=0, chunks=[]), "no chunks"),
    (_recipe_body(size=5, chunks=[(b"\1" * 32, 0), (b"\2" * 32, 5)]), "length 0"),
    (_recipe_body(size=MAX_CHUNK_BYTES + 1, chunks=[(b"\1" * 32, MAX_CHUNK_BYTES + 1)]),
     "length"),
    (_recipe_body(size=7, chunks=[(b"\1" * 32, 5)]), "sum to 5"),
    (_recipe_body(version=2, size=5, chunks=[(b"\1" * 32, 5)]), "version 2"),
    (_recipe_body(magic=b"GMRECIPX", size=5, chunks=[(b"\1" * 32, 5)]), "magic"),
])
def test_a_well_signed_recipe_that_breaks_a_rule_is_refused(body: bytes, problem: str) -> None:
    with pytest.raises(StoreFormatError, match=problem) as caught:
        Recipe.decode(resign(body), expected_oid=None, source="recipes/07/x")
    assert "recipes/07/x" in str(caught.value) and "fsck --repair" in str(caught.value)


@pytest.mark.parametrize("count", [2, 1 << 20, (1 << 32) - 1])
def test_a_hostile_recipe_count_is_refused_without_allocating(count: int) -> None:
    data = resign(_recipe_body(size=5, chunks=[(b"\1" * 32, 5)], count=count))
    tracemalloc.start()
    try:
        with pytest.raises(StoreFormatError, match=f"says {count} chunks"):
            Recipe.decode(data, expected_oid=None, source="r")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 << 10


# -- pack indexes ------------------------------------------------------------------------------

@given(index_entries(), st.lists(chunk_ids, max_size=20))
def test_an_index_round_trips_and_lookups_agree_with_a_dict(
        case: tuple[list[tuple[bytes, int, int]], int], others: list[bytes]) -> None:
    entries, packsize = case
    data = PackIndex.encode(entries, packsize)
    assert len(data) == 8 + 4 + 1024 + 44 * len(entries) + 40
    index = PackIndex.decode(data, source="i")
    assert list(index.entries()) == sorted(entries)
    assert len(index) == len(entries) and index.packsize == packsize
    expected = {chunk_id: (offset, length) for chunk_id, offset, length in entries}
    for chunk_id in [*expected, *others]:
        assert index.lookup(chunk_id) == expected.get(chunk_id)
    assert PackIndex.encode(index.entries(), packsize) == data  # canonical bytes


@settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow])
@given(index_entries(), st.integers(min_value=1, max_value=255))
def test_every_corrupted_byte_of_an_index_is_refused(
        case: tuple[list[tuple[bytes, int, int]], int], flip: int) -> None:
    entries, packsize = case
    data = PackIndex.encode(entries[:6], packsize)
    for at in range(len(data)):
        broken = bytearray(data)
        broken[at] ^= flip
        with pytest.raises(StoreFormatError):
            PackIndex.decode(bytes(broken), source="i")


@given(index_entries(), st.data())
def test_a_truncated_or_extended_index_is_refused(
        case: tuple[list[tuple[bytes, int, int]], int], data: st.DataObject) -> None:
    encoded = PackIndex.encode(*case)
    cut = data.draw(st.integers(min_value=0, max_value=len(encoded) - 1))
    with pytest.raises(StoreFormatError):
        PackIndex.decode(encoded[:cut], source="i")
    with pytest.raises(StoreFormatError):
        PackIndex.decode(encoded + data.draw(st.binary(min_size=1, max_size=90)), source="i")


def _index_body(entries: list[tuple[bytes, int, int]], packsize: int, *,
                count: int | None = None, fanout: list[int] | None = None) -> bytes:
    if fanout is None:
        fanout = [sum(1 for e in entries if e[0][0] <= b) for b in range(256)]
    return (b"GMINDEX\1" + struct.pack(">I", len(entries) if count is None else count)
            + struct.pack(">256I", *fanout)
            + b"".join(struct.pack(">32sQI", *e) for e in entries) + struct.pack(">Q", packsize))


A, B = b"\x10" + b"\0" * 31, b"\x20" + b"\0" * 31


@pytest.mark.parametrize(("body", "problem"), [
    (_index_body([(B, 8, 4), (A, 12, 4)], 16), "not sorted"),
    (_index_body([(A, 8, 4), (A, 12, 4)], 16), "repeat"),
    (_index_body([(A, 4, 4)], 16), "outside"),
    (_index_body([(A, 8, 9)], 16), "outside"),
    (_index_body([(A, 8, 0)], 16), "outside"),
    (_index_body([(A, 8, MAX_CHUNK_BYTES + 1)], 1 << 30), "outside"),
    (_index_body([(A, 8, 4)], 16, fanout=[0] * 255 + [1]), "disagrees"),
    (_index_body([(A, 8, 4)], 16, fanout=[1] + [0] * 254 + [1]), "running count"),
    (_index_body([(A, 8, 4)], 16, fanout=[0] * 256), "running count"),
])
def test_a_well_signed_index_that_breaks_a_rule_is_refused(body: bytes, problem: str) -> None:
    with pytest.raises(StoreFormatError, match=problem) as caught:
        PackIndex.decode(resign(body), source="packs/pack-x.idx")
    assert "packs/pack-x.idx" in str(caught.value)


@pytest.mark.parametrize("count", [2, 1 << 24, (1 << 32) - 1])
def test_a_hostile_index_count_is_refused_without_allocating(count: int) -> None:
    data = resign(_index_body([(A, 8, 4)], 16, count=count))
    tracemalloc.start()
    try:
        with pytest.raises(StoreFormatError, match=f"says {count} entries"):
            PackIndex.decode(data, source="i")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 << 10


# -- PackWriter and ChunkIndex -----------------------------------------------------------------

def chunk(seed: int, size: int = 1000) -> tuple[bytes, bytes]:
    data = hashlib.sha256(str(seed).encode()).digest() * (size // 32 + 1)
    data = data[:size]
    return blake3(data).digest(), data


def read_at(where: tuple[Path, int, int]) -> bytes:
    path, offset, length = where
    with open(path, "rb") as pack:
        pack.seek(offset)
        return pack.read(length)


def test_a_writer_installs_packs_then_indexes_that_locate_every_chunk(tmp_path: Path) -> None:
    chunks = [chunk(i, 500 + i) for i in range(50)]
    with PackWriter(tmp_path / "tmp", tmp_path / "packs", fsync=False) as writer:
        for chunk_id, data in chunks:
            writer.add(chunk_id, data)
        writer.add(*chunks[0])  # a chunk added twice is kept once
        assert not (tmp_path / "packs").exists()  # nothing visible before finish
        for chunk_id, data in chunks:  # readable from tmp/ before finish
            where = writer.locate(chunk_id)
            assert where is not None and read_at(where) == data
        names = writer.finish()
    assert len(names) == 1
    pack = tmp_path / "packs" / f"pack-{names[0]}.pack"
    idx = pack.with_suffix(".idx")
    assert names[0] == blake3(idx.read_bytes()).hexdigest()
    assert pack.read_bytes()[:8] == b"GMPACK\0\1"
    assert pack.stat().st_size == 8 + sum(len(d) for _, d in chunks)
    assert list((tmp_path / "tmp").iterdir()) == []
    index = ChunkIndex.load(tmp_path / "packs")
    assert len(index) == 50 and index.pack_paths() == [pack]
    for chunk_id, data in chunks:
        assert chunk_id in index
        where = index.locate(chunk_id)
        assert where is not None and read_at(where) == data
    assert index.locate(b"\0" * 32) is None


def test_a_writer_rolls_over_to_a_new_pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packs, "MAX_PACK_BYTES", 3000)
    chunks = [chunk(i, 1000) for i in range(7)]
    writer = PackWriter(tmp_path / "tmp", tmp_path / "packs", fsync=True)
    for chunk_id, data in chunks:
        writer.add(chunk_id, data)
    for chunk_id, data in chunks:
        where = writer.locate(chunk_id)
        assert where is not None and read_at(where) == data
    names = writer.finish()
    assert len(names) == 3  # 3 + 3 + 1 chunks of 1000 bytes
    sizes = sorted((tmp_path / "packs" / f"pack-{n}.pack").stat().st_size for n in names)
    assert sizes == [1008, 3008, 3008]
    index = ChunkIndex.load(tmp_path / "packs")
    for chunk_id, data in chunks:
        where = index.locate(chunk_id)
        assert where is not None and read_at(where) == data


def test_an_exception_inside_a_writer_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), PackWriter(tmp_path / "tmp", tmp_path / "packs",
                                                 fsync=False) as writer:
        writer.add(*chunk(1))
        raise RuntimeError("interrupted")
    assert list((tmp_path / "tmp").iterdir()) == []
    assert not (tmp_path / "packs").exists()
    assert writer.locate(chunk(1)[0]) is None


def test_a_verifying_writer_refuses_a_chunk_that_does_not_match_its_id(tmp_path: Path) -> None:
    writer = PackWriter(tmp_path / "tmp", tmp_path / "packs", fsync=False,
                        verify_source="the remote s3://bucket")
    chunk_id, data = chunk(1)
    writer.add(chunk_id, data)
    with pytest.raises(CorruptObjectError, match="s3://bucket"):
        writer.add(chunk(2)[0], data)
    writer.abort()
    assert list((tmp_path / "tmp").iterdir()) == []


def test_the_chunk_index_leaves_out_damaged_indexes_and_packs(tmp_path: Path) -> None:
    packs_dir = tmp_path / "packs"
    installed = []
    for seed in range(3):
        with PackWriter(tmp_path / "tmp", packs_dir, fsync=False) as writer:
            writer.add(*chunk(seed))
            installed.append(packs_dir / f"pack-{writer.finish()[0]}.pack")
    index = ChunkIndex.load(packs_dir)
    assert len(index) == 3 and not index.damaged
    # one index bit-flipped, one pack truncated: their chunks count as absent, and are named
    idx = installed[0].with_suffix(".idx")
    data = bytearray(idx.read_bytes())
    data[100] ^= 1
    idx.write_bytes(bytes(data))
    with open(installed[1], "r+b") as pack:
        pack.truncate(100)
    index = ChunkIndex.load(packs_dir)
    assert chunk(0)[0] not in index and chunk(1)[0] not in index and chunk(2)[0] in index
    assert set(index.damaged) == {idx, installed[1].with_suffix(".idx")}
    assert "checksum" in str(index.damaged[idx])
    assert "its index says" in str(index.damaged[installed[1].with_suffix(".idx")])
    assert index.pack_paths() == [installed[2]]


def test_refresh_sees_new_packs_and_forgets_removed_ones(tmp_path: Path) -> None:
    packs_dir = tmp_path / "packs"
    index = ChunkIndex.load(packs_dir)  # no packs folder yet
    assert len(index) == 0
    names = []
    for seed in range(2):
        with PackWriter(tmp_path / "tmp", packs_dir, fsync=False) as writer:
            writer.add(*chunk(seed))
            names.append(writer.finish()[0])
        index.refresh()
        assert chunk(seed)[0] in index
    (packs_dir / f"pack-{names[0]}.idx").unlink()
    (packs_dir / f"pack-{names[0]}.pack").unlink()
    index.refresh()
    assert chunk(0)[0] not in index and chunk(1)[0] in index
