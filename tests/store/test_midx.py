"""gitmodel.store.midx: the multi-pack index format, and the ChunkIndex that answers from it."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest
from blake3 import blake3
from hypothesis import given, settings
from hypothesis import strategies as st

from gitmodel.errors import StoreFormatError
from gitmodel.store.midx import MIDX_NAME, MultiPackIndex
from gitmodel.store.packs import ChunkIndex, PackIndex, PackWriter, index_table

ids = st.binary(min_size=32, max_size=32)


@st.composite
def packs(draw: st.DrawFn) -> list[tuple[str, int, list[tuple[bytes, int, int]]]]:
    """Packs of valid entries (id, offset, length); some ids shared between packs."""
    shared = draw(st.lists(ids, max_size=5, unique=True))
    names = draw(st.lists(ids, min_size=0, max_size=5, unique=True))
    result = []
    for name in names:
        chosen = draw(st.lists(st.one_of(ids, st.sampled_from(shared)) if shared else ids,
                               max_size=30, unique=True))
        offset = 8
        entries = []
        for chunk_id in chosen:
            length = draw(st.integers(min_value=1, max_value=1 << 16))
            entries.append((chunk_id, offset, length))
            offset += length
        result.append((name.hex(), offset, entries))
    return result


def encoded(pack_list: list[tuple[str, int, list[tuple[bytes, int, int]]]]) -> bytes:
    tables = []
    for name, size, entries in pack_list:
        table, packsize = index_table(PackIndex.encode(entries, size), source="test")
        assert packsize == size
        tables.append((name, size, table))
    return MultiPackIndex.encode(tables)


@settings(max_examples=40, deadline=None)
@given(packs(), st.lists(ids, max_size=10))
def test_lookups_agree_with_a_dict_of_every_pack(pack_list: list[tuple[str, int, list[
        tuple[bytes, int, int]]]], probes: list[bytes]) -> None:
    midx = MultiPackIndex.decode(encoded(pack_list), source="test")
    where: dict[bytes, set[tuple[str, int, int]]] = {}
    for name, _size, entries in pack_list:
        for chunk_id, offset, length in entries:
            where.setdefault(chunk_id, set()).add((name, offset, length))
    assert len(midx) == len(where)
    assert midx.ids() == sorted(where)
    assert sorted(name for name, _ in midx.packs) == sorted(name for name, _, _ in pack_list)
    for chunk_id in [*where, *probes]:
        found = midx.lookup(chunk_id)
        if chunk_id not in where:
            assert found is None
            continue
        assert found is not None
        number, offset, length = found
        assert (midx.packs[number][0], offset, length) in where[chunk_id]  # any copy will do


@settings(max_examples=30, deadline=None)
@given(packs(), st.data())
def test_a_truncated_or_flipped_file_is_a_typed_error(pack_list: list[tuple[str, int, list[
        tuple[bytes, int, int]]]], data: st.DataObject) -> None:
    good = encoded(pack_list)
    cut = data.draw(st.integers(min_value=0, max_value=len(good) - 1))
    with pytest.raises(StoreFormatError, match="cache midx"):
        MultiPackIndex.decode(good[:cut], source="cache midx")
    at = data.draw(st.integers(min_value=0, max_value=len(good) - 1))
    flipped = bytearray(good)
    flipped[at] ^= 1 << data.draw(st.integers(min_value=0, max_value=7))
    with pytest.raises(StoreFormatError, match="cache midx"):
        MultiPackIndex.decode(bytes(flipped), source="cache midx")


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_are_refused_with_a_typed_error(data: bytes) -> None:
    with pytest.raises(StoreFormatError):
        MultiPackIndex.decode(data, source="junk")
    with pytest.raises(StoreFormatError):
        index_table(data, source="junk")


def resealed(body: bytes) -> bytes:
    return body + blake3(body).digest()


def test_a_hostile_file_with_a_valid_checksum_is_still_refused() -> None:
    chunk_id = hashlib.sha256(b"a").digest()
    good = encoded([("ab" * 32, 108, [(chunk_id, 8, 100)])])
    body = bytearray(good[:-32])
    # a count that promises more entries than the file holds
    struct.pack_into(">I", body, 12, 1 << 30)
    with pytest.raises(StoreFormatError, match="take"):
        MultiPackIndex.decode(resealed(bytes(body)), source="hostile")
    # an entry naming a pack the table lacks, then one outside its pack
    entries_at = 16 + 40 + 1024
    body = bytearray(good[:-32])
    struct.pack_into(">I", body, entries_at + 44, 7)
    midx = MultiPackIndex.decode(resealed(bytes(body)), source="hostile")
    with pytest.raises(StoreFormatError, match="names pack 7"):
        midx.lookup(chunk_id)
    body = bytearray(good[:-32])
    struct.pack_into(">Q", body, entries_at + 32, 100)
    midx = MultiPackIndex.decode(resealed(bytes(body)), source="hostile")
    with pytest.raises(StoreFormatError, match="outside its pack"):
        midx.lookup(chunk_id)


# -- ChunkIndex over a multi-pack index ---------------------------------------------------------

def chunk(seed: int, size: int = 1000) -> tuple[bytes, bytes]:
    data = (hashlib.sha256(str(seed).encode()).digest() * (size // 32 + 1))[:size]
    return blake3(data).digest(), data


def install(tmp_path: Path, seeds: range) -> list[Path]:
    installed = []
    for seed in seeds:
        with PackWriter(tmp_path / "tmp", tmp_path / "packs", fsync=False) as writer:
            writer.add(*chunk(seed))
            writer.add(*chunk(1000))  # one chunk in every pack
            installed.append(tmp_path / "packs" / f"pack-{writer.finish()[0]}.pack")
    return installed


def read_at(where: tuple[Path, int, int] | None) -> bytes:
    assert where is not None
    path, offset, length = where
    with open(path, "rb") as pack:
        pack.seek(offset)
        return pack.read(length)


def test_enough_packs_make_a_multi_pack_index_that_answers_every_lookup(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ChunkIndex, "midx_after", 3)
    packs_dir = tmp_path / "packs"
    install(tmp_path, range(2))
    ChunkIndex.load(packs_dir)
    assert not (packs_dir / MIDX_NAME).exists()  # two packs: a dict is enough
    install(tmp_path, range(2, 5))
    index = ChunkIndex.load(packs_dir)
    assert (packs_dir / MIDX_NAME).is_file()
    assert len(index) == 6 and len(index.pack_paths()) == 5
    for seed in [*range(5), 1000]:
        assert read_at(index.locate(chunk(seed)[0])) == chunk(seed)[1]
    assert index.locate(b"\0" * 32) is None
    # a new pack after it was written is read on its own, then found like the rest
    install(tmp_path, range(5, 6))
    index.refresh()
    assert read_at(index.locate(chunk(5)[0])) == chunk(5)[1]
    fresh = ChunkIndex.load(packs_dir)
    assert len(fresh) == 7 and read_at(fresh.locate(chunk(5)[0])) == chunk(5)[1]


def test_a_stale_or_damaged_multi_pack_index_is_never_believed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ChunkIndex, "midx_after", 2)
    packs_dir = tmp_path / "packs"
    installed = install(tmp_path, range(4))
    ChunkIndex.load(packs_dir)
    midx = packs_dir / MIDX_NAME
    before = midx.read_bytes()
    # a gc retired a pack: its chunks are gone, and the file is written anew without it
    installed[0].with_suffix(".idx").unlink()
    installed[0].unlink()
    index = ChunkIndex.load(packs_dir)
    assert chunk(0)[0] not in index and chunk(1)[0] in index
    assert midx.read_bytes() != before
    assert len(MultiPackIndex.open(midx).packs) == 3
    # a truncated pack it covers counts as damaged, not present
    with open(installed[1], "r+b") as pack:
        pack.truncate(100)
    index = ChunkIndex.load(packs_dir)
    assert chunk(1)[0] not in index and chunk(2)[0] in index
    assert installed[1].with_suffix(".idx") in index.damaged
    # a damaged file is ignored and replaced
    midx.chmod(0o644)
    midx.write_bytes(b"GMMIDX\0\1 garbage")
    index = ChunkIndex.load(packs_dir)
    assert chunk(3)[0] in index and chunk(1000)[0] in index
    assert MultiPackIndex.open(midx).packs
