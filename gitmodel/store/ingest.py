"""The read pass of a chunked add: one read of the file feeds the whole-file sha256, FastCDC and
the chunks' BLAKE3 ids, on three threads so that both cores stay busy.

Measured on 512 MiB here (CPU seconds): sha256 0.35, FastCDC 0.19-0.28, BLAKE3 of the chunks
0.17, reading 0.08, writing new chunks up to 0.2. One thread hashing sha256 while another did
everything else left the second thread the critical path (0.64+ s beside 0.35); split three
ways, each stage runs while the others wait on a queue, every heavy step releases the GIL
(readinto, hashlib, pyfastcdc, blake3, write), and the pass takes about half the total CPU.

Blocks are read into a few preallocated buffers (fresh bytes per read cost page faults and a
copy to join the carried tail). The reader hands each block to the sha256 thread and its cuts
to the chunk thread through queues of one: when a put returns, that thread has taken the block
before, so it has finished the one before that, and with four buffers a block is never
overwritten while either thread still reads it. Every stage sees the same bytes, so the sha256
and the chunks agree even if the file is written meanwhile (the caller rereads a file whose
stat moved).
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
from pathlib import Path
from typing import BinaryIO

from gitmodel.hashing import OID_PREFIX, Progress
from gitmodel.store.packs import ChunkIndex, PackWriter, Recipe, index_path_of

READ_BLOCK = 8 << 20  # bytes read at a time (four buffers: peak memory stays ~33 MiB)
_BUFFERS = 4

_Cuts = tuple[memoryview, list[tuple[int, int]]]


def chunk_pass(src: BinaryIO, index: ChunkIndex, writer: PackWriter,
               progress: Progress | None) -> tuple[Recipe | None, set[Path]]:
    """Read ``src`` to its end once: return its recipe (None for an empty file) and the packs
    whose chunks it reuses (their indexes touched, so a gc planning meanwhile sees them young).
    Chunks no pack in ``index`` holds are appended to ``writer``; the caller installs or
    aborts it. An error on any thread stops the pass and is raised here."""
    import hashlib

    from blake3 import blake3

    from gitmodel.store.chunking import chunker

    cutter = chunker()
    sha = hashlib.sha256()
    to_sha: queue.Queue[memoryview | None] = queue.Queue(maxsize=1)
    to_chunks: queue.Queue[_Cuts | None] = queue.Queue(maxsize=1)
    chunks: list[tuple[bytes, int]] = []
    reused: set[Path] = set()
    failures: list[BaseException] = []

    def hash_blocks() -> None:
        while (block := to_sha.get()) is not None:
            sha.update(block)

    def name_chunks() -> None:
        # after a failure, keep taking items (the reader must never block on a dead stage)
        while (item := to_chunks.get()) is not None:
            if failures:
                continue
            try:
                _name_and_store(item, blake3, index, writer, chunks, reused)
            except BaseException as exc:
                failures.append(exc)

    hasher = threading.Thread(target=hash_blocks, name="gitmodel-sha256", daemon=True)
    namer = threading.Thread(target=name_chunks, name="gitmodel-chunks", daemon=True)
    hasher.start()
    namer.start()
    buffers = [memoryview(bytearray(READ_BLOCK + cutter.max_size)) for _ in range(_BUFFERS)]
    carry: memoryview | None = None
    size = 0
    try:
        for turn in itertools.count():
            buffer = buffers[turn % _BUFFERS]
            kept = 0
            if carry is not None:
                kept = len(carry)
                buffer[:kept] = carry
            got = src.readinto(buffer[kept:kept + READ_BLOCK])  # type: ignore[attr-defined]
            if got:
                to_sha.put(buffer[kept:kept + got])
                size += got
                if progress:
                    progress(got)
            work = buffer[:kept + got]
            if not work or failures:
                break
            cuts = [(c.offset, c.length) for c in cutter.cut_buf(work)]
            # the last cut of a block is a true boundary only at the end of the file
            to_chunks.put((work, cuts if not got else cuts[:-1]))
            if not got:
                break
            carry = work[cuts[-1][0]:] if cuts else None
    finally:
        to_sha.put(None)
        to_chunks.put(None)
        hasher.join()
        namer.join()
    if failures:
        raise failures[0]
    if size == 0:
        return None, reused
    return Recipe(oid=OID_PREFIX + sha.hexdigest(), size=size, chunks=tuple(chunks)), reused


def _name_and_store(item: _Cuts, blake3: type, index: ChunkIndex, writer: PackWriter,
                    chunks: list[tuple[bytes, int]], reused: set[Path]) -> None:
    """Name each chunk of one block, and append the new ones to ``writer``: a run of new
    chunks lies back to back in the block, so it goes to the pack in one write."""
    work, cuts = item
    run: list[tuple[bytes, int]] = []
    run_start = 0
    run_end = 0
    in_run: set[bytes] = set()
    locate = index.locate
    for offset, length in cuts:
        name: bytes = blake3(work[offset:offset + length]).digest()
        chunks.append((name, length))
        if name in in_run or name in writer:
            new = False
        else:
            where = locate(name)
            new = where is None
            if where is not None and where[0] not in reused:
                # touched now, not at the end: a gc planning meanwhile sees it young
                try:
                    os.utime(index_path_of(where[0]))
                except FileNotFoundError:
                    # a gc retired the pack since the map was read: write the chunk anew
                    # rather than name bytes that are going (store/packgc.py)
                    new = True
                except OSError:
                    reused.add(where[0])  # another user's pack in a shared cache
                else:
                    reused.add(where[0])
        if new and offset == run_end and run:
            run.append((name, length))
            in_run.add(name)
            run_end += length
            continue
        if run:
            writer.add_run(run, work[run_start:run_end])
            run = []
            in_run.clear()
        if new:
            run = [(name, length)]
            in_run.add(name)
            run_start, run_end = offset, offset + length
    if run:
        writer.add_run(run, work[run_start:run_end])
