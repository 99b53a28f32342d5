"""Where a file is cut into chunks, and what each chunk is called (docs/store-format.md, "Chunks").

FastCDC (the 2020 variant, normalized chunking 1, the reference gear table) at an average of
64 KiB, with the library's default bounds (avg/4 = 16 KiB, avg*4 = 256 KiB, the spec's numbers):
the same bytes make the same chunks in every clone, which is what deduplicates. Chunk ids are
BLAKE3. Both packages are compiled and release the GIL; both are imported inside the functions
here, so the hook path (which never chunks) does not pay for loading them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyfastcdc import FastCDC

AVERAGE_CHUNK_BYTES = 65_536


def chunker() -> FastCDC:
    """A FastCDC cutter with the spec's parameters (not safe to share between threads)."""
    from pyfastcdc import FastCDC

    return FastCDC(AVERAGE_CHUNK_BYTES, normalized_chunking=1, seed=0)


def cut(buffer: bytes | bytearray | memoryview) -> Iterator[tuple[int, memoryview]]:
    """(offset, bytes) of each chunk of ``buffer``, in order; the views point into ``buffer``."""
    for chunk in chunker().cut_buf(buffer):
        yield chunk.offset, chunk.data


def chunk_id(data: bytes | memoryview) -> bytes:
    """The 32-byte BLAKE3 id of a chunk's bytes."""
    from blake3 import blake3

    return blake3(data).digest()
