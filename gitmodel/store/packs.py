"""The chunked store's files (docs/store-format.md): recipes, pack indexes, pack writing, and the
in-memory map of every chunk the packs of a store hold.

Everything here is pure format plus atomic file placement: which file to chunk, and how a rebuilt
file is verified, is :mod:`gitmodel.store.objects`'s business. Every decoder refuses, with a
:class:`StoreFormatError` naming the file, anything the spec says a reader MUST refuse, and checks
counts against the bytes actually there before it allocates anything from them.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import struct
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO

from gitmodel.errors import CorruptChunkError, StoreFormatError

if TYPE_CHECKING:
    from gitmodel.store.midx import MultiPackIndex

CHUNK_ID_BYTES = 32
MAX_CHUNK_BYTES = 16 << 20  # a reader refuses longer chunks (spec: 1 ..= 16 MiB)
MAX_PACK_BYTES = 64 << 20  # chunk bytes per pack; one chunk larger than what is left starts a new one

PACK_MAGIC = b"GMPACK\0\1"
INDEX_MAGIC = b"GMINDEX\1"
RECIPE_MAGIC = b"GMRECIPE"
RECIPE_VERSION = 1

_FANOUT = struct.Struct(">256I")
_INDEX_ENTRY = struct.Struct(">32sQI")  # id, offset, length: 44 bytes
_INDEX_HEAD = len(INDEX_MAGIC) + 4 + _FANOUT.size  # magic, count, fanout: 1036 bytes
_INDEX_TAIL = 8 + 32  # packsize, checksum
_RECIPE_HEAD = struct.Struct(">8sI32sQI")  # magic, version, oid, size, count: 56 bytes
_RECIPE_CHUNK = struct.Struct(">32sI")  # id, length: 36 bytes
_CHECKSUM_BYTES = 32
INDEX_ENTRY_BYTES = _INDEX_ENTRY.size
_OID_PREFIX = "sha256:"


def blake3_digest(data: bytes | memoryview) -> bytes:
    """The 32-byte BLAKE3 hash of ``data`` (imported here: the hook path never needs blake3)."""
    from blake3 import blake3

    return blake3(data).digest()


# -- recipes ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Recipe:
    """The chunks of the whole file ``oid``, in file order: (BLAKE3 id, length) each."""

    oid: str
    size: int
    chunks: tuple[tuple[bytes, int], ...]

    def encode(self) -> bytes:
        raw_oid = _raw_oid(self.oid)
        if not self.chunks:
            raise ValueError("a recipe lists at least one chunk (the empty file is never chunked)")
        if sum(length for _, length in self.chunks) != self.size:
            raise ValueError(f"recipe of {self.oid}: chunk lengths do not sum to {self.size}")
        parts = [_RECIPE_HEAD.pack(RECIPE_MAGIC, RECIPE_VERSION, raw_oid, self.size,
                                   len(self.chunks))]
        for chunk_id, length in self.chunks:
            if len(chunk_id) != CHUNK_ID_BYTES or not 1 <= length <= MAX_CHUNK_BYTES:
                raise ValueError(f"recipe of {self.oid}: bad chunk ({chunk_id.hex()}, {length})")
            parts.append(_RECIPE_CHUNK.pack(chunk_id, length))
        body = b"".join(parts)
        return body + blake3_digest(body)

    @classmethod
    def decode(cls, data: bytes, *, expected_oid: str | None, source: str) -> Recipe:
        """Parse a recipe file, refusing every breach of the spec's MUST rules.

        ``expected_oid`` is the oid the file's path names (None when the caller has no path,
        e.g. a property test); ``source`` names the file in the error.
        """
        minimum = _RECIPE_HEAD.size + _CHECKSUM_BYTES
        if len(data) < minimum:
            raise StoreFormatError(source, f"a recipe is at least {minimum} bytes, this one has "
                                           f"{len(data)}")
        magic, version, raw_oid, size, count = _RECIPE_HEAD.unpack_from(data)
        if magic != RECIPE_MAGIC:
            raise StoreFormatError(source, "not a recipe (wrong magic)")
        if version != RECIPE_VERSION:
            raise StoreFormatError(source, f"recipe version {version} (this gitmodel reads "
                                           f"version {RECIPE_VERSION}; upgrade gitmodel)")
        # the count is checked against the bytes present before anything is built from it
        expected_len = _RECIPE_HEAD.size + _RECIPE_CHUNK.size * count + _CHECKSUM_BYTES
        if len(data) != expected_len:
            raise StoreFormatError(source, f"it says {count} chunks, which take {expected_len} "
                                           f"bytes, but it has {len(data)}")
        if blake3_digest(memoryview(data)[:-_CHECKSUM_BYTES]) != data[-_CHECKSUM_BYTES:]:
            raise StoreFormatError(source, "its checksum does not match its bytes")
        oid = _OID_PREFIX + raw_oid.hex()
        if expected_oid is not None and oid != expected_oid:
            raise StoreFormatError(source, f"it describes {oid}, not {expected_oid}")
        if count == 0:
            raise StoreFormatError(source, "it lists no chunks (the empty file is never chunked)")
        chunks = tuple(_RECIPE_CHUNK.iter_unpack(
            memoryview(data)[_RECIPE_HEAD.size:-_CHECKSUM_BYTES]))
        total = 0
        for chunk_id, length in chunks:
            if not 1 <= length <= MAX_CHUNK_BYTES:
                raise StoreFormatError(source, f"chunk {chunk_id.hex()} has length {length} "
                                               f"(1 ..= {MAX_CHUNK_BYTES})")
            total += length
        if total != size:
            raise StoreFormatError(source, f"its chunks sum to {total} bytes, not the {size} "
                                           "it says")
        return cls(oid=oid, size=size, chunks=chunks)


def _raw_oid(oid: str) -> bytes:
    if not oid.startswith(_OID_PREFIX) or len(oid) != len(_OID_PREFIX) + 64:
        raise ValueError(f"not an object id: {oid!r}")
    return bytes.fromhex(oid[len(_OID_PREFIX):])


# -- pack indexes -------------------------------------------------------------------------------

class PackIndex:
    """One ``pack-<name>.idx``: a sorted table of (chunk id, offset, length) for one pack."""

    def __init__(self, ids: list[bytes], offsets: list[int], lengths: list[int],
                 fanout: tuple[int, ...], packsize: int) -> None:
        self._ids = ids
        self._offsets = offsets
        self._lengths = lengths
        self._fanout = fanout
        self.packsize = packsize

    @staticmethod
    def encode(entries: Iterable[tuple[bytes, int, int]], packsize: int) -> bytes:
        """The index file for ``entries`` (id, offset, length) of a pack of ``packsize`` bytes."""
        ordered = sorted(entries)
        fanout = [0] * 256
        previous = None
        for chunk_id, offset, length in ordered:
            if len(chunk_id) != CHUNK_ID_BYTES:
                raise ValueError(f"a chunk id is {CHUNK_ID_BYTES} bytes, not {len(chunk_id)}")
            if chunk_id == previous:
                raise ValueError(f"chunk {chunk_id.hex()} listed twice")
            if not (len(PACK_MAGIC) <= offset and 1 <= length <= MAX_CHUNK_BYTES
                    and offset + length <= packsize):
                raise ValueError(f"chunk {chunk_id.hex()}: ({offset}, {length}) is outside a "
                                 f"pack of {packsize} bytes")
            previous = chunk_id
            fanout[chunk_id[0]] += 1
        running = 0
        for byte in range(256):
            running += fanout[byte]
            fanout[byte] = running
        body = b"".join([INDEX_MAGIC, struct.pack(">I", len(ordered)), _FANOUT.pack(*fanout),
                         *(_INDEX_ENTRY.pack(*entry) for entry in ordered),
                         struct.pack(">Q", packsize)])
        return body + blake3_digest(body)

    @classmethod
    def decode(cls, data: bytes, *, source: str) -> PackIndex:
        """Parse an index file, refusing every breach of the spec's MUST rules."""
        table, packsize = index_table(data, source=source)
        fanout = _FANOUT.unpack_from(data, len(INDEX_MAGIC) + 4)
        ids: list[bytes] = []
        offsets: list[int] = []
        lengths: list[int] = []
        previous = b""
        first_bytes = [0] * 256
        for chunk_id, offset, length in _INDEX_ENTRY.iter_unpack(table):
            if chunk_id <= previous:
                raise StoreFormatError(source, "its entries are not sorted by id, or repeat one")
            if not (len(PACK_MAGIC) <= offset and 1 <= length <= MAX_CHUNK_BYTES
                    and offset + length <= packsize):
                raise StoreFormatError(source, f"chunk {chunk_id.hex()} at ({offset}, {length}) "
                                               f"lies outside its pack of {packsize} bytes")
            previous = chunk_id
            first_bytes[chunk_id[0]] += 1
            ids.append(chunk_id)
            offsets.append(offset)
            lengths.append(length)
        running = 0
        for byte in range(256):
            running += first_bytes[byte]
            if running != fanout[byte]:
                raise StoreFormatError(source, "its fanout table disagrees with its entries")
        return cls(ids, offsets, lengths, fanout, packsize)

    def lookup(self, chunk_id: bytes) -> tuple[int, int] | None:
        """(offset, length) of ``chunk_id`` in the pack, or None: the fanout narrows the search
        to the ids sharing its first byte, then a binary search finds it."""
        if len(chunk_id) != CHUNK_ID_BYTES:
            return None
        first = chunk_id[0]
        low = self._fanout[first - 1] if first else 0
        high = self._fanout[first]
        at = bisect.bisect_left(self._ids, chunk_id, low, high)
        if at < high and self._ids[at] == chunk_id:
            return self._offsets[at], self._lengths[at]
        return None

    def entries(self) -> Iterator[tuple[bytes, int, int]]:
        return zip(self._ids, self._offsets, self._lengths, strict=True)

    def __len__(self) -> int:
        return len(self._ids)


def index_path_of(pack: Path) -> Path:
    return pack.with_suffix(".idx")


# -- writing packs ------------------------------------------------------------------------------

@dataclass
class _Pending:
    """A pack being written or sealed in tmp/, not yet installed in packs/."""

    pack_tmp: Path
    entries: list[tuple[bytes, int, int]]
    size: int
    index_tmp: Path | None = None
    name: str | None = None


class PackWriter:
    """Appends chunks to packs in ``tmp_dir`` and installs them in ``packs_dir`` at :meth:`finish`.

    Nothing is visible in ``packs_dir`` before ``finish``; each pack is renamed into place before
    its index, and the index is written only once the pack's bytes are flushed (and fsynced when
    ``fsync``), so an index never names bytes that are not durably in its pack (spec, "Writing").
    A chunk added twice is kept once. With ``verify_source`` set (chunks from a remote), every
    chunk is checked against its id on the way in.
    """

    def __init__(self, tmp_dir: Path, packs_dir: Path, *, fsync: bool,
                 verify_source: str | None = None) -> None:
        self.tmp_dir = tmp_dir
        self.packs_dir = packs_dir
        self.fsync = fsync
        self.verify_source = verify_source
        self._sealed: list[_Pending] = []
        self._current: _Pending | None = None
        self._file: BinaryIO | None = None
        self._dirty = False
        self._where: dict[bytes, tuple[_Pending, int, int]] = {}
        self._done = False
        self.bytes_written = 0  # chunk bytes appended (not counting chunks already held)

    def __enter__(self) -> PackWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        # a writer left without finish() installs nothing: an exception aborts, and so does a
        # clean exit that forgot to finish (its chunks would be named by no recipe anyway)
        if not self._done:
            self.abort()

    def __contains__(self, chunk_id: bytes) -> bool:
        return chunk_id in self._where

    def __len__(self) -> int:
        return len(self._where)

    def add(self, chunk_id: bytes, data: bytes | memoryview) -> None:
        if self._done:
            raise ValueError("this PackWriter has finished or aborted")
        if chunk_id in self._where:
            return
        length = len(data)
        if not 1 <= length <= MAX_CHUNK_BYTES or len(chunk_id) != CHUNK_ID_BYTES:
            raise ValueError(f"chunk {chunk_id.hex()} of {length} bytes cannot be packed")
        if self.verify_source is not None:
            actual = blake3_digest(data)
            if actual != chunk_id:
                raise CorruptChunkError(chunk_id, actual, self.verify_source)
        current = self._current
        if current is not None and current.size - len(PACK_MAGIC) + length > MAX_PACK_BYTES:
            self._seal()
            current = None
        if current is None:
            current = self._open()
        offset = current.size
        self._stream().write(data)
        self._dirty = True
        current.size += length
        current.entries.append((chunk_id, offset, length))
        self._where[chunk_id] = (current, offset, length)
        self.bytes_written += length

    def add_run(self, chunks: list[tuple[bytes, int]], data: memoryview) -> None:
        """Append chunks that lie back to back in ``data`` ((id, length) each, in order, none
        held by this writer yet) with one write per pack they land in, not one per chunk: an
        add appends runs of new chunks straight from its read buffer (ids not rechecked, as
        :meth:`add` does without ``verify_source``)."""
        if self._done:
            raise ValueError("this PackWriter has finished or aborted")
        if self.verify_source is not None:
            raise ValueError("chunks from a remote are added one by one, each checked")
        if sum(length for _, length in chunks) != len(data):
            raise ValueError("the chunks of a run do not tile its bytes")
        start = 0  # of the bytes not yet written
        at = 0
        for chunk_id, length in chunks:
            if not 1 <= length <= MAX_CHUNK_BYTES or len(chunk_id) != CHUNK_ID_BYTES:
                raise ValueError(f"chunk {chunk_id.hex()} of {length} bytes cannot be packed")
            if chunk_id in self._where:
                raise ValueError(f"chunk {chunk_id.hex()} is already in this writer")
            current = self._current
            if current is not None and current.size - len(PACK_MAGIC) + length > MAX_PACK_BYTES:
                if at > start:
                    self._stream().write(data[start:at])
                start = at
                self._seal()
                current = None
            if current is None:
                current = self._open()
            offset = current.size
            current.size += length
            current.entries.append((chunk_id, offset, length))
            self._where[chunk_id] = (current, offset, length)
            at += length
        if at > start:
            self._stream().write(data[start:at])
            self._dirty = True
        self.bytes_written += at

    def locate(self, chunk_id: bytes) -> tuple[Path, int, int] | None:
        """Where a chunk this writer holds sits (a pack in tmp/), readable now, before finish."""
        found = self._where.get(chunk_id)
        if found is None or self._done:
            return None
        pending, offset, length = found
        if pending is self._current and self._dirty:
            self._stream().flush()
            self._dirty = False
        return pending.pack_tmp, offset, length

    def finish(self) -> list[str]:
        """Install every pack, then its index, in ``packs_dir``; return the packs' ``<name>``s."""
        if self._done:
            raise ValueError("this PackWriter has finished or aborted")
        try:
            if self._current is not None:
                self._seal()
            names: list[str] = []
            if self._sealed:
                self.packs_dir.mkdir(parents=True, exist_ok=True)
            for pending in self._sealed:
                assert pending.index_tmp is not None and pending.name is not None
                stem = self.packs_dir / f"pack-{pending.name}"
                os.replace(pending.pack_tmp, stem.with_suffix(".pack"))
                if self.fsync:
                    _fsync_dir(self.packs_dir)
                os.replace(pending.index_tmp, stem.with_suffix(".idx"))
                names.append(pending.name)
            if self._sealed and self.fsync:
                _fsync_dir(self.packs_dir)
        except BaseException:
            self.abort()
            raise
        self._done = True
        self._sealed = []
        self._where.clear()
        return names

    def abort(self) -> None:
        """Remove every temp file; nothing this writer held reaches ``packs_dir``."""
        self._close_stream()
        pendings = [*self._sealed, *([self._current] if self._current else [])]
        for pending in pendings:
            for path in (pending.pack_tmp, pending.index_tmp):
                if path is not None:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
        self._sealed = []
        self._current = None
        self._where.clear()
        self._done = True

    # -- internals ----------------------------------------------------------------------------
    def _open(self) -> _Pending:
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.tmp_dir, prefix="pack-", suffix=".pack.tmp")
        stream = os.fdopen(fd, "wb", buffering=1 << 20)
        self._file = stream
        pending = _Pending(Path(name), [], 0)
        self._current = pending
        try:
            stream.write(PACK_MAGIC)
        except BaseException:
            self.abort()
            raise
        pending.size = len(PACK_MAGIC)
        return pending

    def _stream(self) -> BinaryIO:
        assert self._file is not None
        return self._file

    def _close_stream(self) -> None:
        stream = self._file
        self._file = None
        self._dirty = False
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()

    def _seal(self) -> None:
        """Flush the current pack durably and write its index beside it in tmp/."""
        pending = self._current
        assert pending is not None
        stream = self._stream()
        stream.flush()
        if self.fsync:
            os.fsync(stream.fileno())
        self._close_stream()
        index = PackIndex.encode(pending.entries, pending.size)
        pending.name = blake3_digest(index).hex()
        fd, name = tempfile.mkstemp(dir=self.tmp_dir, prefix="pack-", suffix=".idx.tmp")
        pending.index_tmp = Path(name)
        with os.fdopen(fd, "wb") as out:
            out.write(index)
            if self.fsync:
                out.flush()
                os.fsync(out.fileno())
        self._sealed.append(pending)
        self._current = None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- every chunk of a store ----------------------------------------------------------------------

class ChunkIndex:
    """Where each chunk of a store's packs is: chunk id -> (pack path, offset, length).

    Lookups go to the multi-pack index (store/midx.py: one sorted table over mmap, no work per
    chunk to load) for the packs it covers, and to a dict of the few packs installed since it
    was written. Once :attr:`midx_after` packs are uncovered, or when the file is stale (a
    pack it names is gone or changed size) or damaged, a load writes it anew from the
    per-pack indexes (best effort: a read-only cache just keeps the dict). An index that is
    damaged, or whose pack is missing or of the wrong size, is left out and kept in
    :attr:`damaged`, so that ``fsck`` can name it; its chunks then count as absent, never as
    present.
    """

    midx_after = 16  # uncovered packs that make a load (re)write the multi-pack index
    _midx_stale = False  # a multi-pack index is there but names packs that are not

    def __init__(self, packs_dir: Path) -> None:
        self.packs_dir = packs_dir
        self._chunks: dict[bytes, tuple[Path, int, int]] = {}  # packs the midx does not cover
        self._indexes: dict[str, Path] = {}  # idx file name -> its pack (every sound one)
        self._midx: MultiPackIndex | None = None
        self._midx_packs: list[Path] = []  # by pack number
        self.damaged: dict[Path, StoreFormatError] = {}

    @classmethod
    def load(cls, packs_dir: Path) -> ChunkIndex:
        index = cls(packs_dir)
        index.refresh()
        return index

    def refresh(self) -> None:
        """Read the indexes that appeared since the last load; start over if any went away."""
        try:
            names = {entry.name for entry in os.scandir(self.packs_dir)
                     if entry.name.endswith(".idx") and entry.name.startswith("pack-")}
        except FileNotFoundError:
            names = set()
        if not set(self._indexes) <= names:
            self._forget()
        self.damaged = {path: error for path, error in self.damaged.items() if path.name in names}
        if not self._indexes and self._midx is None:
            self._open_midx(names)
        unread = sorted(names - set(self._indexes) - {p.name for p in self.damaged})
        uncovered = len(self._indexes) - len(self._midx_packs) + len(unread)
        if unread and (uncovered >= self.midx_after or self._midx_stale):
            self._write_midx(names)
            return
        for name in unread:
            self._read(self.packs_dir / name)

    def _forget(self) -> None:
        self._chunks.clear()
        self._indexes.clear()
        self._midx = None
        self._midx_packs = []
        self._midx_stale = False

    def _open_midx(self, names: set[str]) -> None:
        """Use the multi-pack index if every pack it names is here at its size; else mark it
        stale (the packs are then read one by one, and the file written anew)."""
        from gitmodel.store.midx import MIDX_NAME, MultiPackIndex

        try:
            midx = MultiPackIndex.open(self.packs_dir / MIDX_NAME)
        except FileNotFoundError:
            return  # none yet: written once midx_after packs are here
        except (StoreFormatError, OSError, ValueError):
            self._midx_stale = True
            return
        paths = []
        for name, packsize in midx.packs:
            pack = self.packs_dir / f"pack-{name}.pack"
            try:
                actual = pack.stat().st_size
            except OSError:
                actual = -1
            if f"pack-{name}.idx" not in names or actual != packsize:
                self._midx_stale = True
                return
            paths.append(pack)
        self._midx = midx
        self._midx_packs = paths
        self._midx_stale = False
        for pack in paths:
            self._indexes[pack.with_suffix(".idx").name] = pack

    def _write_midx(self, names: set[str]) -> None:
        """Build the multi-pack index from every sound per-pack index, install it (temp +
        rename, best effort) and use it in place of the dict."""
        from gitmodel.store.midx import MIDX_NAME, MultiPackIndex

        tables = []
        rejected = []
        for name in sorted(names):
            path = self.packs_dir / name
            if path in self.damaged:
                continue
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue  # removed (by gc) since the listing
            except OSError:
                rejected.append(path)
                continue
            try:
                table, packsize = index_table(data, source=str(path))
                sound = path.with_suffix(".pack").stat().st_size == packsize
            except (OSError, StoreFormatError):
                sound = False
            if not sound:
                rejected.append(path)
                continue
            tables.append((name[len("pack-"):-len(".idx")], packsize, table))
        encoded = MultiPackIndex.encode(tables)
        midx = MultiPackIndex.decode(encoded, source=str(self.packs_dir / MIDX_NAME))
        with contextlib.suppress(OSError):
            tmp_dir = self.packs_dir.parent / "tmp"
            tmp_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix="midx-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(encoded)
                os.chmod(tmp, 0o444)
                os.replace(tmp, self.packs_dir / MIDX_NAME)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
        self._forget()
        self._midx = midx
        self._midx_packs = [self.packs_dir / f"pack-{name}.pack" for name, _ in midx.packs]
        for pack in self._midx_packs:
            self._indexes[pack.with_suffix(".idx").name] = pack
        for path in rejected:
            self._read(path)  # names what is wrong with it in damaged

    def _read(self, idx_path: Path) -> None:
        pack = idx_path.with_suffix(".pack")
        try:
            data = idx_path.read_bytes()
            index = PackIndex.decode(data, source=str(idx_path))
            try:
                actual = pack.stat().st_size
            except FileNotFoundError:
                raise StoreFormatError(str(idx_path), f"its pack {pack.name} is missing") from None
            if actual != index.packsize:
                raise StoreFormatError(str(pack), f"it is {actual} bytes, its index says "
                                                  f"{index.packsize}")
        except FileNotFoundError:
            return  # removed (by gc) between the listing and the read
        except StoreFormatError as error:
            self.damaged[idx_path] = error
            return
        for chunk_id, offset, length in index.entries():
            # a chunk in two packs (two adds at once): either copy will do, keep the first
            self._chunks.setdefault(chunk_id, (pack, offset, length))
        self._indexes[idx_path.name] = pack

    def locate(self, chunk_id: bytes) -> tuple[Path, int, int] | None:
        midx = self._midx
        if midx is not None:
            try:
                found = midx.lookup(chunk_id)
            except StoreFormatError:
                # a damaged entry: drop the file's answers and read the packs one by one
                self._drop_midx()
                return self.locate(chunk_id)
            if found is not None:
                number, offset, length = found
                return self._midx_packs[number], offset, length
        return self._chunks.get(chunk_id)

    def _drop_midx(self) -> None:
        covered = self._midx_packs
        self._midx = None
        self._midx_packs = []
        for pack in covered:
            self._indexes.pop(pack.with_suffix(".idx").name, None)
            self._read(pack.with_suffix(".idx"))

    def __contains__(self, chunk_id: object) -> bool:
        return isinstance(chunk_id, bytes) and self.locate(chunk_id) is not None

    def __len__(self) -> int:
        midx = self._midx
        if midx is None:
            return len(self._chunks)
        return len(midx) + sum(1 for chunk_id in self._chunks if midx.lookup(chunk_id) is None)

    def pack_paths(self) -> list[Path]:
        """Every pack whose index was read whole (damaged ones are in :attr:`damaged`)."""
        return sorted(self._indexes.values())


def index_table(data: bytes, *, source: str) -> tuple[memoryview, int]:
    """The entry table and packsize of a pack index, checked without a step per entry:
    magic, size, checksum, fanout. ``PackIndex.decode`` checks the entries on top; a
    multi-pack index checks their order itself and their ranges at lookup."""
    minimum = _INDEX_HEAD + _INDEX_TAIL
    if len(data) < minimum:
        raise StoreFormatError(source, f"an index is at least {minimum} bytes, this one has "
                                       f"{len(data)}")
    if data[:len(INDEX_MAGIC)] != INDEX_MAGIC:
        raise StoreFormatError(source, "not a pack index (wrong magic)")
    (count,) = struct.unpack_from(">I", data, len(INDEX_MAGIC))
    # the count is checked against the bytes present before anything is built from it
    expected = _INDEX_HEAD + _INDEX_ENTRY.size * count + _INDEX_TAIL
    if len(data) != expected:
        raise StoreFormatError(source, f"it says {count} entries, which take {expected} "
                                       f"bytes, but it has {len(data)}")
    view = memoryview(data)
    if blake3_digest(view[:-_CHECKSUM_BYTES]) != data[-_CHECKSUM_BYTES:]:
        raise StoreFormatError(source, "its checksum does not match its bytes")
    fanout = _FANOUT.unpack_from(data, len(INDEX_MAGIC) + 4)
    if any(fanout[i] > fanout[i + 1] for i in range(255)) or fanout[255] != count:
        raise StoreFormatError(source, "its fanout table is not a running count of its "
                                       "entries")
    (packsize,) = struct.unpack_from(">Q", data, expected - _INDEX_TAIL)
    return view[_INDEX_HEAD:expected - _INDEX_TAIL], packsize
