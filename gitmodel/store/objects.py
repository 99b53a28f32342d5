"""Objects in the content-addressed cache, whole or chunked: atomic put, verified materialize.

Layout (docs/store-format.md, private to this package):
``<root>/objects/<hex[:2]>/<hex[2:]>`` holds the bytes of ``sha256:<hex>``, read-only, and
``<root>/blake3/<hex[:2]>/<hex[2:]>`` their BLAKE3 digest, recorded on entry so a checkout verifies
at BLAKE3's speed; a file of at least ``chunk_threshold`` bytes is instead a recipe,
``<root>/recipes/<hex[:2]>/<hex[2:]>``, listing chunks kept in ``<root>/packs/``;
``<root>/tmp/`` holds writes in progress, renamed into place only once their hash is known.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import mmap
import os
import queue
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

from gitmodel.errors import (
    CorruptObjectError,
    GitmodelError,
    ObjectMissingError,
    StoreFormatError,
)
from gitmodel.hashing import (
    OID_PREFIX,
    Progress,
    copy_hashing,
    copy_immutable_hashing,
    hash_file,
    same_stat,
    settled,
)
from gitmodel.store.mapped import PackMaps
from gitmodel.store.packs import (
    RECIPE_MAGIC,
    ChunkIndex,
    PackWriter,
    Recipe,
    blake3_digest,
    index_path_of,
)

OID_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
DEFAULT_CHUNK_THRESHOLD = 4 << 20  # [store] chunk-threshold (docs/config.md)
_FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)


class LinkMode(StrEnum):
    """How an object gets into the work tree."""

    AUTO = "auto"  # reflink where the filesystem can, else copy
    COPY = "copy"
    HARDLINK = "hardlink"  # opt-in: an in-place write to the artifact would write into the cache


def is_oid(text: str) -> bool:
    return bool(OID_RE.fullmatch(text))


def _reflink(source: int, target: int) -> bool:
    try:
        import fcntl

        fcntl.ioctl(target, _FICLONE, source)
    except OSError:
        return False
    return True


class ObjectStore:
    def __init__(self, root: Path, *, fsync: bool = False,
                 chunk_threshold: int | None = None) -> None:
        """``chunk_threshold``: files of at least this many bytes are chunked into packs at
        :meth:`put_file`; None keeps every object whole (what a store made for one download,
        or by a caller that never configured chunking, does)."""
        self.root = root
        self.fsync = fsync
        self.chunk_threshold = chunk_threshold
        self._chunks: ChunkIndex | None = None
        # chunked objects this process fetched and sha256-checked over the very bytes now in
        # the packs (adopt_hashed): rebuilt once more, right after, without BLAKE3 again
        self._just_checked: set[str] = set()

    # -- naming ---------------------------------------------------------------------------
    def _path(self, oid: str) -> Path:
        if not is_oid(oid):
            raise GitmodelError(f"not an object id: {oid!r} (expected sha256:<64 hex digits>)")
        hexdigest = oid[len(OID_PREFIX):]
        return self.root / "objects" / hexdigest[:2] / hexdigest[2:]

    def _hex(self, oid: str) -> str:
        if not is_oid(oid):
            raise GitmodelError(f"not an object id: {oid!r} (expected sha256:<64 hex digits>)")
        return oid[len(OID_PREFIX):]

    def recipe_path(self, oid: str) -> Path:
        """Where the recipe of ``oid`` is (or would be), for fsck's quarantine."""
        return self._recipe_path(oid)

    def _recipe_path(self, oid: str) -> Path:
        hexdigest = self._hex(oid)
        return self.root / "recipes" / hexdigest[:2] / hexdigest[2:]

    def _digest_path(self, oid: str) -> Path:
        hexdigest = self._hex(oid)
        return self.root / "blake3" / hexdigest[:2] / hexdigest[2:]

    @property
    def packs_dir(self) -> Path:
        return self.root / "packs"

    def _tmp_dir(self) -> Path:
        tmp = self.root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        return tmp

    def _replace(self, tmp_path: Path, target: Path) -> None:
        """``os.replace(tmp_path, target)``, freeing a large old file in the background."""
        if not _replace_in_background(tmp_path, target, self.root / "trash"):
            os.replace(tmp_path, target)

    def has(self, oid: str) -> bool:
        return self._path(oid).is_file() or self._recipe_path(oid).is_file()

    def is_chunked(self, oid: str) -> bool:
        """Whether the store keeps ``oid`` as a recipe of chunks and no whole-file object."""
        return not self._path(oid).is_file() and self._recipe_path(oid).is_file()

    def size(self, oid: str) -> int:
        """The object's logical size (a chunked object's is its whole file's)."""
        try:
            return self._path(oid).stat().st_size
        except FileNotFoundError:
            return recipe_size(self._recipe_path(oid))

    def oids(self) -> Iterator[str]:
        """Every oid held, whole or chunked, sorted, each once."""
        names: set[str] = set()
        for folder in (self.root / "objects", self.root / "recipes"):
            if not folder.is_dir():
                continue
            for prefix in folder.iterdir():
                if prefix.is_dir():
                    names.update(OID_PREFIX + prefix.name + entry.name
                                 for entry in prefix.iterdir())
        yield from sorted(names)

    def recipe(self, oid: str) -> Recipe:
        """The recipe of a chunked object, checked (:class:`StoreFormatError` if damaged)."""
        path = self._recipe_path(oid)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ObjectMissingError(oid) from None
        return Recipe.decode(data, expected_oid=oid, source=f"cache recipe {path}")

    def chunk_index(self) -> ChunkIndex:
        """Where every chunk of this store's packs is (loaded once, refreshed after writes)."""
        if self._chunks is None:
            self._chunks = ChunkIndex.load(self.packs_dir)
        return self._chunks

    def forget_chunk_map(self) -> None:
        """Drop the loaded chunk map (packs were rewritten): the next use reads them again."""
        self._chunks = None

    def _locate_all(self, recipe: Recipe, writer: PackWriter | None = None
                    ) -> list[tuple[Path, int, int]] | None:
        """Where each chunk of ``recipe`` is (in packs, or pending in ``writer``), or None if any
        is nowhere; a miss rereads the packs once (another process may have added some)."""
        for attempt in range(2):
            index = self.chunk_index()
            found: list[tuple[Path, int, int]] = []
            for chunk_id, _length in recipe.chunks:
                where = index.locate(chunk_id)
                if where is None and writer is not None:
                    where = writer.locate(chunk_id)
                if where is None:
                    break
                found.append(where)
            else:
                return found
            if attempt == 0:
                index.refresh()
        return None

    def read_chunk(self, chunk_id: bytes) -> bytes:
        """A chunk's bytes from a pack, checked against its id."""
        where = self.chunk_index().locate(chunk_id)
        if where is None:
            self.chunk_index().refresh()
            where = self.chunk_index().locate(chunk_id)
        if where is None:
            raise GitmodelError(f"chunk {chunk_id.hex()} is in no pack of the cache; run "
                                "`git model fsck --repair`")
        path, offset, length = where
        with open(path, "rb") as pack:
            data = os.pread(pack.fileno(), length, offset)
        actual = blake3_digest(data)
        if actual != chunk_id:
            other = self._good_copy(chunk_id, length, besides=where)
            if other is not None:
                return other
            from gitmodel.errors import CorruptChunkError

            raise CorruptChunkError(chunk_id, actual, f"pack {path}")
        return data

    def same_inode(self, oid: str, path: Path) -> bool:
        """Whether ``path`` is a hard link to the object (so a write to it writes the cache)."""
        try:
            return os.path.samefile(self._path(oid), path)
        except OSError:
            return False

    # -- writing --------------------------------------------------------------------------
    def _touch_existing(self, oid: str) -> bool:
        """Touch ``oid``'s object or recipe if the store has it, so that `git model gc`
        (store/gc.py) sees it as young: an add that found its object already here must not
        lose it to a gc that planned a moment before."""
        for final in (self._path(oid), self._recipe_path(oid)):
            if final.is_file():
                with contextlib.suppress(OSError):  # another user's object in a shared cache
                    os.utime(final)
                return True
        return False

    def _finish(self, tmp_path: Path, oid: str, digest: bytes | None = None) -> None:
        """Rename a fully written temp file into place as ``oid`` (read-only), then record its
        BLAKE3 digest (computed here from the temp file when not given)."""
        if self._touch_existing(oid):
            tmp_path.unlink()
            return
        if digest is None:
            digest = blake3_of_file(tmp_path)
        os.chmod(tmp_path, 0o444)
        final = self._path(oid)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp_path, final)
        self._record_digest(oid, digest)

    def _record_digest(self, oid: str, digest: bytes) -> None:
        """Write ``blake3/<hex>`` (a failure only costs the fast path, never the object)."""
        with contextlib.suppress(OSError):
            self._write_small(self._digest_path(oid), digest, prefix="blake3-")

    def _write_small(self, final: Path, data: bytes, *, prefix: str) -> None:
        """Write ``data`` to ``final`` through tmp/ (flushed, fsynced if set, renamed)."""
        fd, name = tempfile.mkstemp(dir=self._tmp_dir(), prefix=prefix)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                if self.fsync:
                    out.flush()
                    os.fsync(out.fileno())
            os.chmod(name, 0o444)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(name, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
            raise

    def put_file(self, source: Path, progress: Progress | None = None) -> tuple[str, int]:
        """Copy ``source`` into the cache while hashing it; return (oid, size).

        A settled file (not written in the last moments) is copied by the kernel while a thread
        hashes it, and kept only if its stat did not move meanwhile: a write during the copy
        would otherwise leave an object whose bytes differ from its name. Anything else, or a
        kernel that cannot copy, takes one pass that hashes exactly the bytes it writes.

        A file of at least ``chunk_threshold`` bytes is chunked instead (:meth:`_put_chunked`).
        """
        threshold = self.chunk_threshold
        if threshold is not None and os.stat(source).st_size >= max(threshold, 1):
            try:
                return self._put_chunked(source, progress)
            except BaseException as exc:
                _name_the_place(exc, self.root / "tmp", source)
                raise
        return self._put_whole(source, progress)

    def _put_whole(self, source: Path, progress: Progress | None) -> tuple[str, int]:
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp_dir(), prefix="put-")
        tmp_path = Path(tmp_name)
        try:
            with open(source, "rb") as src, os.fdopen(fd, "wb") as dst:
                before = os.fstat(src.fileno())
                copied = None
                if settled(before, time.time_ns()):
                    copied = copy_immutable_hashing(source, dst.fileno(), progress)
                    if copied is not None and not same_stat(before, os.stat(source)):
                        copied = None  # written while copied: redo in one consistent pass
                if copied is None:
                    src.seek(0)
                    dst.seek(0)
                    dst.truncate()
                    copied = copy_hashing(src, dst, progress)
                oid, size = copied
                if self.fsync:
                    dst.flush()
                    os.fsync(dst.fileno())
            self._finish(tmp_path, oid)
        except BaseException as exc:
            with contextlib.suppress(FileNotFoundError):
                tmp_path.unlink()
            _name_the_place(exc, tmp_path.parent, source)
            raise
        return oid, size

    def put_verified(self, tmp_path: Path, expected_oid: str, source: str) -> None:
        """Adopt a file written elsewhere (a download) only if it hashes to ``expected_oid``."""
        oid, digest = sha256_and_blake3(tmp_path)
        if oid != expected_oid:
            tmp_path.unlink()
            raise CorruptObjectError(expected_oid, oid, source)
        self._finish(tmp_path, oid, digest)

    # -- chunked writing ------------------------------------------------------------------
    def _put_chunked(self, source: Path, progress: Progress | None) -> tuple[str, int]:
        """Chunk ``source`` into packs in one read pass; return (oid, size).

        The main thread reads blocks, cuts them (FastCDC), names each chunk (BLAKE3) and
        appends the chunks no pack holds yet to a PackWriter, while a second thread runs the
        whole-file sha256 over the very same blocks: both see the same bytes even if the file
        is written meanwhile, and a file whose stat moved during the pass is read again. Packs
        and their indexes are installed first, the recipe last, once the sha256 is known
        (docs/store-format.md, "Writing").
        """
        for attempt in range(2):
            with open(source, "rb") as src:
                before = os.fstat(src.fileno())
                recipe, writer, reused = self._chunk_pass(src, progress if attempt == 0 else None)
            if recipe is None:  # emptied meanwhile: the empty file is never chunked
                writer.abort()
                return self._put_whole(source, None)
            # Unlike the whole-file kernel copy, this pass hashes exactly the bytes it stores,
            # so a file still settling (a checkpoint just written) needs no second read; only
            # one whose stat moved during the pass is read again, for a state it settled in.
            if attempt == 0 and not same_stat(before, os.stat(source)):
                writer.abort()
                continue
            break
        # the second pass is kept whatever happened meanwhile: it is consistent in itself (the
        # sha256 and the chunks came from the same blocks), as today's one-pass copy is
        assert recipe is not None
        self._install_chunked(recipe, writer, reused)
        return recipe.oid, recipe.size

    def _chunk_pass(self, src: BinaryIO, progress: Progress | None
                    ) -> tuple[Recipe | None, PackWriter, set[Path]]:
        """One read of ``src`` (store/ingest.py): its recipe, a writer holding the chunks no
        pack had, and the packs it reuses."""
        from gitmodel.store.ingest import chunk_pass

        index = self.chunk_index()
        index.refresh()
        writer = PackWriter(self._tmp_dir(), self.packs_dir, fsync=self.fsync)
        try:
            recipe, reused = chunk_pass(src, index, writer, progress)
        except BaseException:
            writer.abort()
            raise
        return recipe, writer, reused

    def _install_chunked(self, recipe: Recipe, writer: PackWriter, reused: set[Path]) -> None:
        if self._touch_existing(recipe.oid):
            writer.abort()  # already here (whole or chunked): its bytes need no second copy
            return
        writer.finish()
        self._write_small(self._recipe_path(recipe.oid), recipe.encode(), prefix="recipe-")
        self.chunk_index().refresh()

    def convert_to_chunked(self, oid: str) -> bool:
        """Turn the whole-file object ``oid`` into a chunked one (``git model repack``): chunk it
        into packs, write its recipe, check that the packs rebuild its sha256, and only then
        delete the whole object and its digest. Each step leaves ``oid`` readable: a kill
        before the delete leaves both forms (readers take either), and a re-run finishes.
        False when it is not a whole object here; :class:`CorruptObjectError` when its bytes
        do not match its name (it is then left as it is, for fsck)."""
        path = self._path(oid)
        try:
            with open(path, "rb") as src:
                recipe, writer, _reused = self._chunk_pass(src, None)
        except FileNotFoundError:
            return False
        if recipe is None:
            writer.abort()
            return False  # the empty file is never chunked
        if recipe.oid != oid:
            writer.abort()
            raise CorruptObjectError(oid, recipe.oid, f"cache object {path}")
        writer.finish()
        recipe_path = self._recipe_path(oid)
        if not recipe_path.is_file():
            self._write_small(recipe_path, recipe.encode(), prefix="recipe-")
        self.chunk_index().refresh()
        actual = self.rehash_chunked(oid)  # verified by rebuilding, before the delete
        if actual != oid:
            raise CorruptObjectError(oid, actual, f"rebuilt from {self.packs_dir}")
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        with contextlib.suppress(FileNotFoundError):
            self._digest_path(oid).unlink()
        return True

    def incoming_pack(self, *, source: str = "the remote") -> PackWriter:
        """A PackWriter for chunks downloaded from ``source``: each is checked against its id
        as it is added; nothing is installed until :meth:`adopt_chunked` has checked the whole
        file."""
        return PackWriter(self._tmp_dir(), self.packs_dir, fsync=self.fsync,
                          verify_source=source)

    def adopt_chunked(self, recipe: Recipe, writer: PackWriter, *, source: str) -> None:
        """Install a downloaded chunked object: rebuild the whole file's bytes through this
        store's packs and ``writer``'s pending chunks computing its sha256, and only on a match
        install the writer's packs and then the recipe. On any failure the writer is aborted
        and nothing enters the cache."""
        try:
            located = None
            for _attempt in range(2):
                located = self._locate_all(recipe, writer)
                if located is None or self._touch_packs(located, writer):
                    break
                self.chunk_index().refresh()  # a pack it names was retired: read the map again
            if located is None:
                raise StoreFormatError(source, f"the recipe of {recipe.oid} names chunks that "
                                               "neither the cache nor the download holds")
            actual = _sha256_of_chunks(recipe, located)
            if actual != recipe.oid:
                raise CorruptObjectError(recipe.oid, actual, source)
        except BaseException:
            writer.abort()
            raise
        self._install_chunked(recipe, writer, set())

    def _touch_packs(self, located: list[tuple[Path, int, int]], writer: PackWriter) -> bool:
        """Touch the index of every installed pack ``located`` names, as an add does for the
        chunks it reuses, so that a gc sees them young; False if one has gone (retired)."""
        for pack in {where[0] for where in located if where[0].parent != writer.tmp_dir}:
            try:
                os.utime(index_path_of(pack))
            except FileNotFoundError:
                return False
            except OSError:
                continue  # another user's pack in a shared cache: reading it is enough
        return True

    def adopt_hashed(self, recipe: Recipe, writer: PackWriter, *, actual: str,
                     source: str) -> None:
        """:meth:`adopt_chunked` for a caller that ran the sha256 over the very bytes in the
        cache's packs and ``writer``'s pending ones itself (a fetch hashes them as they land):
        ``actual`` must be the recipe's oid. The packs it reuses are touched as there; if one of
        them went away meanwhile, the whole check runs again (:meth:`adopt_chunked`)."""
        try:
            if actual != recipe.oid:
                raise CorruptObjectError(recipe.oid, actual, source)
            located = self._locate_all(recipe, writer)
            current = located is not None and self._touch_packs(located, writer)
        except BaseException:
            writer.abort()
            raise
        if not current:
            self.adopt_chunked(recipe, writer, source=source)
            return
        self._install_chunked(recipe, writer, set())
        self._just_checked.add(recipe.oid)

    def new_temp_file(self) -> Path:
        fd, name = tempfile.mkstemp(dir=self._tmp_dir(), prefix="get-")
        os.close(fd)
        return Path(name)

    # -- reading --------------------------------------------------------------------------

    def object_path(self, oid: str) -> Path:
        """Where a whole-file object's bytes are. Never write to it. A chunked object has no
        such path: readers that need a file use :meth:`whole_file`."""
        path = self._path(oid)
        if not path.is_file():
            raise ObjectMissingError(oid)
        return path

    @contextlib.contextmanager
    def whole_file(self, oid: str) -> Iterator[Path]:
        """A path holding the object's whole bytes, for readers (uploads, ``get``): the object
        itself when whole, else a verified rebuild in tmp/, removed afterwards."""
        path = self._path(oid)
        if path.is_file() or not self._recipe_path(oid).is_file():
            yield self.object_path(oid)
            return
        fd, name = tempfile.mkstemp(dir=self._tmp_dir(), prefix="whole-")
        tmp = Path(name)
        try:
            self._rebuild(oid, fd, tmp, None)
            os.close(fd)
            fd = -1
            yield tmp
        finally:
            if fd >= 0:
                os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def rehash_chunked(self, oid: str, progress: Progress | None = None) -> str:
        """The sha256 oid of the bytes a chunked object's recipe and packs make (for fsck)."""
        recipe = self.recipe(oid)
        located = self._locate_all(recipe)
        if located is None:
            raise StoreFormatError(f"cache recipe {self._recipe_path(oid)}",
                                   f"some chunks of {oid} are in no pack of the cache")
        return _sha256_of_chunks(recipe, located, progress)

    def verify(self, oid: str) -> None:
        """Rehash the object; raise if it is missing or its bytes do not match its name."""
        if self.is_chunked(oid):
            actual = self.rehash_chunked(oid)
            if actual != oid:
                raise CorruptObjectError(oid, actual, f"rebuilt from {self.packs_dir}")
            return
        path = self.object_path(oid)
        actual, _ = hash_file(path)
        if actual != oid:
            raise CorruptObjectError(oid, actual, f"cache object {path}")

    def _digest(self, oid: str) -> bytes | None:
        """The recorded BLAKE3 digest of a whole object, or None (then sha256 it is)."""
        try:
            data = self._digest_path(oid).read_bytes()
        except OSError:
            return None
        return data if len(data) == 32 else None

    def _rebuild(self, oid: str, fd: int, tmp_path: Path, progress: Progress | None) -> None:
        """Write chunked ``oid`` into the open empty file ``fd``, verified: each chunk against
        its BLAKE3 id as it is copied (two threads, :func:`restore.rebuild`), the recipe against
        its checksum. A chunk that does not match is taken from another pack that holds it, if
        one does (checked against its id too); after any mismatch the result's full sha256
        decides. Raises :class:`CorruptObjectError`."""
        from gitmodel.store import restore

        recipe = self.recipe(oid)
        for attempt in range(2):
            located = self._locate_all(recipe)
            if located is None:
                raise StoreFormatError(f"cache recipe {self._recipe_path(oid)}",
                                       f"some chunks of {oid} are in no pack of the cache")
            try:
                # checked by its sha256 in this process a moment ago (a pull): copy only; any
                # rebuild after that one verifies again
                checked = oid in self._just_checked
                self._just_checked.discard(oid)
                bad = restore.rebuild(recipe, located, fd, progress, verify=not checked)
                break
            except FileNotFoundError:
                if attempt:
                    raise
                # a pack went away since the map was read (a gc rewrote it): read them again
                self._chunks = None
        assert located is not None
        unhealed = self._heal(recipe, located, bad, fd) if bad else []
        if self.fsync:
            os.fsync(fd)
        if not bad:
            return
        actual, _ = hash_file(tmp_path)
        if actual != oid:
            first = unhealed[0] if unhealed else bad[0]
            raise CorruptObjectError(oid, actual, f"rebuilt from the packs: chunk "
                                                  f"{recipe.chunks[first][0].hex()} in "
                                                  f"{located[first][0]} does not match its id")

    def _heal(self, recipe: Recipe, located: list[tuple[Path, int, int]], bad: list[int],
              fd: int) -> list[int]:
        """Rewrite each chunk ``bad`` names (indexes into the recipe) from another pack that
        holds it, checked against its id; return the indexes no pack held a good copy of."""
        starts = list(itertools.accumulate((length for _, length in recipe.chunks), initial=0))
        good: dict[bytes, bytes | None] = {}
        unhealed = []
        for index in bad:
            chunk_id, length = recipe.chunks[index]
            if chunk_id not in good:
                good[chunk_id] = self._good_copy(chunk_id, length, besides=located[index])
            data = good[chunk_id]
            if data is None:
                unhealed.append(index)
                continue
            written = 0
            while written < length:
                written += os.pwrite(fd, memoryview(data)[written:], starts[index] + written)
        return unhealed

    def _good_copy(self, chunk_id: bytes, length: int,
                   besides: tuple[Path, int, int] | None) -> bytes | None:
        """The bytes of ``chunk_id`` from any pack but the copy at ``besides`` that matches its
        id and ``length``, or None. Reads every index in packs/ (the chunk map keeps one copy
        of each chunk): a path taken only after a mismatch."""
        from gitmodel.store.packs import PackIndex

        try:
            names = sorted(self.packs_dir.glob("pack-*.idx"))
        except OSError:
            return None
        for idx in names:
            pack = idx.with_suffix(".pack")
            try:
                where = PackIndex.decode(idx.read_bytes(), source=str(idx)).lookup(chunk_id)
                if where is None or where[1] != length or (pack, *where) == besides:
                    continue
                with open(pack, "rb") as stream:
                    data = os.pread(stream.fileno(), length, where[0])
            except (OSError, StoreFormatError):
                continue
            if len(data) == length and blake3_digest(data) == chunk_id:
                return data
        return None

    def materialize(
        self,
        oid: str,
        target: Path,
        *,
        mode: LinkMode = LinkMode.AUTO,
        progress: Progress | None = None,
    ) -> None:
        """Put the object's bytes at ``target``, verified, replacing what was there atomically.

        The bytes are hashed in the same pass as the copy and renamed into place only if they
        match ``oid``: a corrupt object raises :class:`CorruptObjectError` and leaves ``target``
        as it was.
        """
        if self.is_chunked(oid):
            self._materialize_chunked(oid, target, progress)
            return
        source = self.object_path(oid)
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = self._digest(oid)
        if mode is LinkMode.HARDLINK:
            if digest is None or blake3_of_file(source) != digest:
                self.verify(oid)
            tmp = target.parent / f".{target.name}.gitmodel-tmp-{os.getpid()}"
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            try:
                os.link(source, tmp)
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                    raise
                mode = LinkMode.COPY
            else:
                os.replace(tmp, target)
                return
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        tmp_path = Path(tmp_name)
        try:
            with open(source, "rb") as src, os.fdopen(fd, "wb") as dst:
                if digest is not None:
                    # the digest was recorded when the bytes entered the cache, checked against
                    # their sha256 then: one thread copies while another BLAKE3s the same
                    # read-only bytes (store/restore.py); any doubt falls back to the sha256 of
                    # the copy (issue 11)
                    from gitmodel.store import restore

                    linked = mode is LinkMode.AUTO and _reflink(src.fileno(), dst.fileno())
                    if restore.copy_verified(source, src.fileno(), dst.fileno(), digest,
                                             copied=linked, progress=progress):
                        actual = oid
                    else:
                        dst.flush()
                        actual, _ = hash_file(tmp_path)
                elif mode is LinkMode.AUTO and _reflink(src.fileno(), dst.fileno()):
                    dst.flush()
                    actual, _ = hash_file(tmp_path, progress)
                else:
                    # objects are read-only and named by their hash, so the kernel may copy
                    # while a thread hashes the same bytes; a mismatch still stops the rename
                    copied = copy_immutable_hashing(source, dst.fileno(), progress)
                    if copied is None:
                        src.seek(0)
                        dst.seek(0)
                        dst.truncate()
                        copied = copy_hashing(src, dst, progress)
                    actual = copied[0]
                if self.fsync:
                    dst.flush()
                    os.fsync(dst.fileno())
            if actual != oid:
                raise CorruptObjectError(oid, actual, f"cache object {source}")
            os.chmod(tmp_path, 0o644 & ~_umask())
            self._replace(tmp_path, target)
        except BaseException as exc:
            with contextlib.suppress(FileNotFoundError):
                tmp_path.unlink()
            _name_the_place(exc, target, source)
            raise
        if digest is None:  # an object from before digests: next time, the fast path
            with contextlib.suppress(OSError):
                self._record_digest(oid, blake3_of_file(target))

    def _materialize_chunked(self, oid: str, target: Path, progress: Progress | None) -> None:
        """Rebuild a chunked object into a temp file beside ``target``, verified, and rename it
        into place (a hard link to chunks is not possible: every mode copies)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        tmp_path = Path(tmp_name)
        try:
            try:
                self._rebuild(oid, fd, tmp_path, progress)
            finally:
                os.close(fd)
            os.chmod(tmp_path, 0o644 & ~_umask())
            self._replace(tmp_path, target)
        except BaseException as exc:
            with contextlib.suppress(FileNotFoundError):
                tmp_path.unlink()
            with contextlib.suppress(OSError, GitmodelError):
                _name_the_place(exc, target, target, self.size(oid))
            raise


def recipe_size(path: Path) -> int:
    """The whole-file size a recipe states, from its header alone (``du`` and ``size`` must not
    read every chunk list; the recipe is checked in full when it is used)."""
    with open(path, "rb") as stream:
        head = stream.read(56)
    if len(head) < 56 or head[:8] != RECIPE_MAGIC:
        raise StoreFormatError(f"cache recipe {path}", "not a recipe (wrong magic or too short)")
    return int.from_bytes(head[44:52], "big")


def blake3_of_file(path: Path) -> bytes:
    """BLAKE3 of a file over mmap, on every core (blake3 releases the GIL)."""
    from blake3 import blake3

    with open(path, "rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        if size == 0:
            return blake3(b"").digest()
        with mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return blake3(mapped, max_threads=blake3.AUTO).digest()


def sha256_and_blake3(path: Path) -> tuple[str, bytes]:
    """(sha256 oid, BLAKE3 digest) of a file in one read, the two hashes on two threads."""
    import hashlib

    from blake3 import blake3

    sha = hashlib.sha256()
    b3 = blake3()
    blocks: queue.Queue[bytes | None] = queue.Queue(maxsize=4)

    def feed() -> None:
        while (block := blocks.get()) is not None:
            b3.update(block)

    helper = threading.Thread(target=feed, name="gitmodel-blake3", daemon=True)
    helper.start()
    try:
        with open(path, "rb") as stream:
            while block := stream.read(1 << 22):
                blocks.put(block)
                sha.update(block)
    finally:
        blocks.put(None)
        helper.join()
    return OID_PREFIX + sha.hexdigest(), b3.digest()


def _sha256_of_chunks(recipe: Recipe, located: list[tuple[Path, int, int]],
                      progress: Progress | None = None) -> str:
    """The sha256 of the whole file the chunks make, read from their packs over mmap."""
    import hashlib

    sha = hashlib.sha256()
    maps = PackMaps()
    try:
        for (_chunk_id, length), (pack, at, stored) in zip(recipe.chunks, located, strict=True):
            view = memoryview(maps.get(pack))[at:at + min(length, stored)]
            try:
                sha.update(view)
            finally:
                view.release()
            if progress:
                progress(length)
    finally:
        maps.close()
    return OID_PREFIX + sha.hexdigest()


def _name_the_place(exc: BaseException, path: Path, source: Path,
                    needed: int | None = None) -> None:
    """A write(2) that fails (a full disk) names no file: name the one being written, and the
    bytes it needed (``needed``, else the size of ``source``), so the user is told where space
    ran out and how much to free."""
    if not isinstance(exc, OSError):
        return
    if exc.filename is None:
        exc.filename = str(path)
    if not hasattr(exc, "needed_bytes"):
        if needed is not None:
            exc.needed_bytes = needed  # type: ignore[attr-defined]
            return
        with contextlib.suppress(OSError):
            exc.needed_bytes = os.stat(source).st_size  # type: ignore[attr-defined]


# Replacing a large file frees its blocks inside rename(2): 0.1-0.25 s for 512 MiB on ext4 here,
# a third of a version switch. Above this size the old file is moved aside and deleted by a
# detached `rm`, so git (and the user) need not wait for the filesystem.
DEFERRED_DELETE_BYTES = 64 << 20


def _replace_in_background(tmp_path: Path, target: Path, trash: Path) -> bool:
    try:
        if target.is_symlink() or not target.is_file():
            return False
        if target.stat().st_size < DEFERRED_DELETE_BYTES:
            return False
        trash.mkdir(parents=True, exist_ok=True)
        aside = trash / f"{os.getpid()}-{time.monotonic_ns()}"
        os.rename(target, aside)  # EXDEV when the cache is on another filesystem
    except OSError:
        return False
    os.replace(tmp_path, target)
    try:
        subprocess.Popen(["rm", "-f", "--", str(aside)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    except OSError:
        aside.unlink()
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
