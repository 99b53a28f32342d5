"""The multi-pack index (docs/store-format.md, "The multi-pack index"): every chunk of many packs
in one sorted table, searched over mmap, so that finding a chunk costs one fanout step and a
binary search whatever the number of packs, and loading it costs no work per chunk.

Reading every pack index into a dict cost 0.15-0.21 s per 100k chunks here, on every chunked
add and checkout; this file is mapped and checksummed instead (BLAKE3 over it, ~1 ms per 100k
chunks). It is a cache of the per-pack indexes, never the only copy of anything: a reader that
finds it missing, stale or damaged uses the per-pack indexes and may write a new one.
"""

from __future__ import annotations

import bisect
import mmap
import os
import struct
from collections.abc import Sequence
from pathlib import Path

from gitmodel.errors import StoreFormatError
from gitmodel.store.packs import (
    CHUNK_ID_BYTES,
    INDEX_ENTRY_BYTES,
    MAX_CHUNK_BYTES,
    PACK_MAGIC,
    blake3_digest,
)

MIDX_MAGIC = b"GMMIDX\0\1"
MIDX_NAME = "multi-pack-index"

_HEAD = struct.Struct(">8sII")  # magic, packs, count: 16 bytes
_PACK = struct.Struct(">32sQ")  # pack name (raw), packsize: 40 bytes
_FANOUT = struct.Struct(">256I")
_ENTRY = struct.Struct(">32sQII")  # id, offset, length, pack number: 48 bytes
ENTRY_BYTES = _ENTRY.size
_CHECKSUM = 32
_SCAN = 64  # entries left to find() rather than halve
MAX_PACKS = 1 << 24  # a reader refuses more (its table alone would be 640 MiB)


class MultiPackIndex:
    """A decoded ``multi-pack-index``: lookups read the entries in place (bytes or an mmap)."""

    def __init__(self, data: bytes | mmap.mmap, packs: list[tuple[str, int]],
                 fanout: tuple[int, ...], count: int, entries_at: int, source: str) -> None:
        self._data = data
        self.packs = packs  # (name: lowercase hex, packsize), by pack number
        self._fanout = fanout
        self._count = count
        self._at = entries_at
        self.source = source

    def __len__(self) -> int:
        return self._count

    # -- writing ----------------------------------------------------------------------------
    @staticmethod
    def encode(packs: Sequence[tuple[str, int, bytes | memoryview]]) -> bytes:
        """The file for ``packs``: (name, packsize, the entry table of its index) each. A chunk
        in several packs is listed once (any copy will do)."""
        ordered = sorted(packs, key=lambda pack: pack[0])
        if len({name for name, _, _ in ordered}) != len(ordered):
            raise ValueError("a pack is listed twice")
        if len(ordered) > MAX_PACKS:
            raise ValueError(f"more than {MAX_PACKS} packs")
        records: list[bytes] = []
        for number, (_name, _size, table) in enumerate(ordered):
            if len(table) % INDEX_ENTRY_BYTES:
                raise ValueError("an index's entry table is a whole number of 44-byte entries")
            tag = number.to_bytes(4, "big")
            raw = bytes(table)
            records.extend([raw[at:at + INDEX_ENTRY_BYTES] + tag
                            for at in range(0, len(raw), INDEX_ENTRY_BYTES)])
        records.sort()
        unique: list[bytes] = []
        previous = b""
        for record in records:
            chunk_id = record[:CHUNK_ID_BYTES]
            if chunk_id != previous:
                unique.append(record)
                previous = chunk_id
        fanout = [bisect.bisect_left(unique, bytes([byte + 1])) for byte in range(255)]
        fanout.append(len(unique))
        body = b"".join([
            _HEAD.pack(MIDX_MAGIC, len(ordered), len(unique)),
            *(_PACK.pack(bytes.fromhex(name), size) for name, size, _ in ordered),
            _FANOUT.pack(*fanout),
            *unique,
        ])
        return body + blake3_digest(body)

    # -- reading ----------------------------------------------------------------------------
    @classmethod
    def decode(cls, data: bytes | mmap.mmap, *, source: str) -> MultiPackIndex:
        """Check the header, the sizes, the checksum, the pack table and the fanout, refusing
        every breach with a :class:`StoreFormatError` naming ``source``. The entries' order and
        ranges are checked as they are used (:meth:`lookup`): a misordered table only hides
        chunks, which then count as absent."""
        total = len(data)
        if total < _HEAD.size + _FANOUT.size + _CHECKSUM:
            raise StoreFormatError(source, f"a multi-pack index is at least "
                                           f"{_HEAD.size + _FANOUT.size + _CHECKSUM} bytes, "
                                           f"this one has {total}")
        magic, npacks, count = _HEAD.unpack_from(data)
        if magic != MIDX_MAGIC:
            raise StoreFormatError(source, "not a multi-pack index (wrong magic)")
        if npacks > MAX_PACKS:
            raise StoreFormatError(source, f"it lists {npacks} packs (at most {MAX_PACKS})")
        entries_at = _HEAD.size + _PACK.size * npacks + _FANOUT.size
        expected = entries_at + ENTRY_BYTES * count + _CHECKSUM
        if total != expected:
            raise StoreFormatError(source, f"it says {npacks} packs and {count} entries, which "
                                           f"take {expected} bytes, but it has {total}")
        view = memoryview(data)
        try:
            if blake3_digest(view[:-_CHECKSUM]) != bytes(view[-_CHECKSUM:]):
                raise StoreFormatError(source, "its checksum does not match its bytes")
        finally:
            view.release()
        packs: list[tuple[str, int]] = []
        previous = b""
        for number in range(npacks):
            raw_name, size = _PACK.unpack_from(data, _HEAD.size + _PACK.size * number)
            if raw_name <= previous:
                raise StoreFormatError(source, "its packs are not sorted by name, or repeat one")
            previous = raw_name
            packs.append((raw_name.hex(), size))
        fanout = _FANOUT.unpack_from(data, _HEAD.size + _PACK.size * npacks)
        if any(fanout[i] > fanout[i + 1] for i in range(255)) or fanout[255] != count:
            raise StoreFormatError(source, "its fanout table is not a running count of its "
                                           "entries")
        return cls(data, packs, fanout, count, entries_at, source)

    @classmethod
    def open(cls, path: Path) -> MultiPackIndex:
        """Map and decode the file at ``path`` (FileNotFoundError if there is none)."""
        with open(path, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            if size == 0:
                return cls.decode(b"", source=str(path))
            mapped = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            return cls.decode(mapped, source=str(path))
        except BaseException:
            mapped.close()
            raise

    def lookup(self, chunk_id: bytes) -> tuple[int, int, int] | None:
        """(pack number, offset, length) of ``chunk_id``, or None; :class:`StoreFormatError`
        if the entry found breaks the spec (a pack number or range outside its pack)."""
        if len(chunk_id) != CHUNK_ID_BYTES:
            return None
        first = chunk_id[0]
        low = self._fanout[first - 1] if first else 0
        high = self._fanout[first]
        data, base = self._data, self._at
        # halve until a few entries are left, then let find() scan them at C speed (a match
        # counts only where an entry starts)
        while high - low > _SCAN:
            middle = (low + high) >> 1
            at = base + middle * ENTRY_BYTES
            key = data[at:at + CHUNK_ID_BYTES]
            if key < chunk_id:
                low = middle + 1
            elif key > chunk_id:
                high = middle
            else:
                return self._entry(chunk_id, at)
        start, end = base + low * ENTRY_BYTES, base + high * ENTRY_BYTES
        while (at := data.find(chunk_id, start, end)) >= 0:
            if (at - base) % ENTRY_BYTES == 0:
                return self._entry(chunk_id, at)
            start = at + 1
        return None

    def _entry(self, chunk_id: bytes, at: int) -> tuple[int, int, int]:
        _, offset, length, number = _ENTRY.unpack_from(self._data, at)
        if number >= len(self.packs):
            raise StoreFormatError(self.source, f"chunk {chunk_id.hex()} names pack "
                                                f"{number} of {len(self.packs)}")
        packsize = self.packs[number][1]
        if not (len(PACK_MAGIC) <= offset and 1 <= length <= MAX_CHUNK_BYTES
                and offset + length <= packsize):
            raise StoreFormatError(self.source, f"chunk {chunk_id.hex()} at ({offset}, "
                                                f"{length}) lies outside its pack of "
                                                f"{packsize} bytes")
        return number, offset, length

    def ids(self) -> list[bytes]:
        """Every chunk id listed, in order (for tests and ``len`` of a union)."""
        data, base = self._data, self._at
        return [bytes(data[base + n * ENTRY_BYTES:base + n * ENTRY_BYTES + CHUNK_ID_BYTES])
                for n in range(self._count)]
