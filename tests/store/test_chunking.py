"""gitmodel.store.chunking: the spec's FastCDC parameters and BLAKE3 ids."""

from __future__ import annotations

import random

from blake3 import blake3
from hypothesis import given, settings
from hypothesis import strategies as st

from gitmodel.store.chunking import chunk_id, chunker, cut


def test_the_spec_parameters() -> None:
    fastcdc = chunker()
    assert (fastcdc.min_size, fastcdc.avg_size, fastcdc.max_size) == (16_384, 65_536, 262_144)


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=0, max_value=2 << 20), st.integers(min_value=0))
def test_chunks_tile_the_buffer_within_the_bounds(size: int, seed: int) -> None:
    data = random.Random(seed).randbytes(size)
    chunks = list(cut(data))
    assert b"".join(bytes(view) for _, view in chunks) == data
    assert [offset for offset, _ in chunks] == [sum(len(v) for _, v in chunks[:i])
                                                for i in range(len(chunks))]
    assert all(len(view) <= 262_144 for _, view in chunks)
    assert all(len(view) >= 16_384 for _, view in chunks[:-1])


def test_an_insertion_moves_only_nearby_boundaries() -> None:
    data = random.Random(1).randbytes(4 << 20)
    shifted = data[:1 << 20] + b"inserted" + data[1 << 20:]
    before = {chunk_id(view) for _, view in cut(data)}
    after = {chunk_id(view) for _, view in cut(shifted)}
    assert len(before & after) >= len(before) - 3  # content-defined: the rest line up again


def test_ids_are_blake3() -> None:
    assert chunk_id(b"abc") == blake3(b"abc").digest()
