"""Checking the packs of a store (``git model fsck``): every index against its checksum and its
pack's size, and every chunk's bytes against its BLAKE3 id, on every core; and the repair of a
pack with bad chunks: its good chunks rescued into a new pack, then the pack and its index moved
to the quarantine.

Each chunk is checked once, however many recipes name it, so a store of deduplicated versions is
checked in the time its unique bytes take. BLAKE3 over a memoryview of an mmap releases the GIL,
so two threads check two halves of the chunks at once (as the whole-object rehash does).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gitmodel.errors import StoreFormatError
from gitmodel.store.mapped import PackMaps, in_halves, on_threads
from gitmodel.store.packs import PackIndex, PackWriter

QUARANTINE_PACKS = "quarantine/packs"


@dataclass
class PackCheck:
    """What :func:`check_packs` found."""

    packs: int = 0
    chunks: int = 0
    chunk_bytes: int = 0
    seconds: float = 0.0
    bad_chunks: dict[bytes, Path] = field(default_factory=dict)  # id -> the pack it is bad in
    good_chunks: set[bytes] = field(default_factory=set)  # ids with a sound copy somewhere
    damaged: dict[Path, str] = field(default_factory=dict)  # pack -> why it cannot be read

    def bad_in(self, pack: Path) -> set[bytes]:
        return {chunk for chunk, where in self.bad_chunks.items() if where == pack}


def check_packs(packs_dir: Path, *, jobs: int = 2,
                progress: Callable[[int], None] | None = None) -> PackCheck:
    started = time.monotonic()
    result = PackCheck()
    work: list[tuple[Path, bytes, int, int]] = []
    try:
        names = sorted(e.name for e in os.scandir(packs_dir) if e.name.startswith("pack-"))
    except FileNotFoundError:
        names = []
    for name in names:
        if not name.endswith(".idx"):
            continue
        idx = packs_dir / name
        pack = idx.with_suffix(".pack")
        try:
            index = PackIndex.decode(idx.read_bytes(), source=str(idx))
            size = pack.stat().st_size
        except FileNotFoundError:
            result.damaged[pack] = f"the index {name} has no pack file"
            continue
        except StoreFormatError as exc:
            result.damaged[pack] = str(exc)
            continue
        if size != index.packsize:
            result.damaged[pack] = f"it is {size} bytes, its index says {index.packsize}"
            continue
        result.packs += 1
        work.extend((pack, chunk_id, offset, length) for chunk_id, offset, length in
                    index.entries())
    work.sort(key=lambda item: (item[0], item[2]))  # pack order: sequential reads
    total = sum(item[3] for item in work)
    parts = (in_halves(work, lambda item: item[3]) if jobs > 1 and total >= (8 << 20)
             else [work])
    lock = threading.Lock()

    def check(part: Sequence[tuple[Path, bytes, int, int]]) -> None:
        from blake3 import blake3

        maps = PackMaps()
        bad: list[tuple[bytes, Path]] = []
        good: list[bytes] = []
        done = 0
        try:
            for pack, chunk_id, offset, length in part:
                view = memoryview(maps.get(pack))[offset:offset + length]
                try:
                    (good.append(chunk_id) if blake3(view).digest() == chunk_id
                     else bad.append((chunk_id, pack)))
                finally:
                    view.release()
                done += length
                if progress is not None and done >= (4 << 20):
                    with lock:
                        progress(done)
                    done = 0
        finally:
            maps.close()
            with lock:
                if progress is not None and done:
                    progress(done)
                result.good_chunks.update(good)
                for chunk_id, pack in bad:
                    result.bad_chunks.setdefault(chunk_id, pack)

    on_threads(parts, check, "gitmodel-packcheck")
    result.chunks = len(work)
    result.chunk_bytes = total
    result.seconds = time.monotonic() - started
    return result


@dataclass(frozen=True)
class Rescue:
    pack: Path
    quarantined_to: Path
    rescued: int  # good chunks copied into new packs
    lost: int  # bad chunks (whose objects must come from a remote)
    into: list[str]


def rescue_pack(store_root: Path, pack: Path, bad: set[bytes], *, fsync: bool) -> Rescue:
    """Copy the good chunks of ``pack`` into a new pack (each checked again on the way), install
    it, then move the old index and then the old pack into ``quarantine/packs/``. A pack whose
    index cannot be read has nothing to rescue: it is moved as it is."""
    from gitmodel.store.packgc import copy_chunks

    into: list[str] = []
    rescued = 0
    idx = pack.with_suffix(".idx")
    try:
        PackIndex.decode(idx.read_bytes(), source=str(idx))
        readable = pack.stat().st_size > 0
    except (StoreFormatError, OSError):
        readable = False
    if readable:
        writer = PackWriter(store_root / "tmp", store_root / "packs", fsync=fsync,
                            verify_source=f"pack {pack}")
        with writer:
            kept: set[bytes] = set()

            def keep(chunk_id: bytes) -> bool:
                if chunk_id in bad:
                    return False
                kept.add(chunk_id)
                return True
            copy_chunks(pack, keep, writer)
            rescued = len(kept)
            into = writer.finish()
    folder = store_root / QUARANTINE_PACKS
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = folder / f"{stamp}-{pack.name}"
    # the index first: once it is gone no reader looks in the pack
    with contextlib.suppress(FileNotFoundError):
        os.rename(idx, target.with_suffix(".idx"))
    with contextlib.suppress(FileNotFoundError):
        os.rename(pack, target)
    return Rescue(pack, target, rescued, len(bad), into)
