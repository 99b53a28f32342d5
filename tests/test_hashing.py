"""gitmodel.hashing: streaming SHA-256, hashing copies, and the stat cache."""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import random_bytes

from gitmodel.hashing import (
    CHUNK_SIZE,
    COARSE_RACY_MARGIN_NS,
    RACY_MARGIN_NS,
    StatCache,
    copy_hashing,
    hash_file,
    hash_stream,
    oid_of_hex,
)

SIZES = [0, 1, 2, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 17]
DAY_NS = 86_400 * 1_000_000_000


def expected_oid(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_chunk_size_is_at_least_one_mib() -> None:
    assert CHUNK_SIZE >= 1 << 20  # docs/design.md, decision 1


def test_oid_of_hex() -> None:
    assert oid_of_hex("ab" * 32) == "sha256:" + "ab" * 32


@pytest.mark.parametrize("size", SIZES)
def test_hash_file_matches_hashlib(tmp_path: Path, size: int) -> None:
    data = random_bytes(size, size)
    path = tmp_path / "f"
    path.write_bytes(data)
    seen: list[int] = []
    assert hash_file(path, seen.append) == (expected_oid(data), size)
    assert sum(seen) == size
    assert all(0 < n <= CHUNK_SIZE for n in seen)
    assert len(seen) == -(-size // CHUNK_SIZE)


def test_hash_of_empty_file_is_the_known_digest(tmp_path: Path) -> None:
    (tmp_path / "e").write_bytes(b"")
    assert hash_file(tmp_path / "e")[0] == (
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


def test_hash_stream_hashes_what_is_left() -> None:
    stream = io.BytesIO(b"headerbody")
    stream.read(6)
    assert hash_stream(stream) == (expected_oid(b"body"), 4)


@pytest.mark.parametrize("size", SIZES)
def test_copy_hashing_copies_exactly(size: int) -> None:
    data = random_bytes(size, size + 1)
    target = io.BytesIO()
    seen: list[int] = []
    assert copy_hashing(io.BytesIO(data), target, seen.append) == (expected_oid(data), size)
    assert target.getvalue() == data
    assert sum(seen) == size


class _Exploding(io.BytesIO):
    def __init__(self, data: bytes, fail_after: int) -> None:
        super().__init__(data)
        self.reads = 0
        self.fail_after = fail_after

    def read(self, size: int | None = -1) -> bytes:
        self.reads += 1
        if self.reads > self.fail_after:
            raise OSError("disk went away")
        return super().read(size)


def test_copy_hashing_propagates_a_read_error_and_stops_its_thread() -> None:
    before = {t.ident for t in threading.enumerate()}
    with pytest.raises(OSError, match="disk went away"):
        copy_hashing(_Exploding(random_bytes(3 * CHUNK_SIZE, 9), 2), io.BytesIO())
    leftover = [t for t in threading.enumerate()
                if t.ident not in before and t.name == "gitmodel-hash"]
    assert leftover == []


def test_copy_hashing_files(tmp_path: Path) -> None:
    data = random_bytes(CHUNK_SIZE + 5, 3)
    (tmp_path / "src").write_bytes(data)
    with open(tmp_path / "src", "rb") as src, open(tmp_path / "dst", "wb") as dst:
        oid, size = copy_hashing(src, dst)
    assert (tmp_path / "dst").read_bytes() == data
    assert (oid, size) == hash_file(tmp_path / "dst")


# -- stat cache ----------------------------------------------------------------------------------

def aged_file(path: Path, data: bytes, age_ns: int = DAY_NS) -> Path:
    """A file whose mtime is ``age_ns`` in the past (not a whole second: that counts as coarse)."""
    path.write_bytes(data)
    past = time.time_ns() - age_ns
    past -= past % 1_000_000_000
    past += 123_456_789
    os.utime(path, ns=(past, past))
    return path


def settled(path: Path) -> os.stat_result:
    """The stat of ``path`` once its ctime (which os.utime just set) is older than the racy margin."""
    stat = path.stat()
    wait_ns = stat.st_ctime_ns + RACY_MARGIN_NS + 5_000_000 - time.time_ns()
    if wait_ns > 0:
        time.sleep(wait_ns / 1e9)
    return stat


def rows(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT path, oid FROM stat ORDER BY path").fetchall()


def test_lookup_without_a_database_is_a_miss_and_creates_nothing(tmp_path: Path) -> None:
    cache = StatCache(tmp_path / "state" / "stat.sqlite")
    path = aged_file(tmp_path / "m", b"x")
    assert cache.lookup(path, path.stat()) is None
    cache.forget(path)
    assert not (tmp_path / "state").exists()


def test_oid_of_records_then_serves_from_the_cache(tmp_path: Path) -> None:
    db = tmp_path / "state" / "stat.sqlite"
    cache = StatCache(db)
    data = random_bytes(1000, 1)
    path = aged_file(tmp_path / "model.bin", data)
    stat = settled(path)
    seen: list[int] = []
    assert cache.oid_of(path, seen.append) == (expected_oid(data), 1000)
    assert seen == [1000]  # hashed
    assert rows(db) == [(str(path), expected_oid(data))]
    assert cache.lookup(path, stat) == expected_oid(data)
    seen.clear()
    assert cache.oid_of(path, seen.append) == (expected_oid(data), 1000)
    assert seen == []  # served from the cache: no bytes read
    cache.close()
    # a new StatCache on the same database (another process) sees the row
    again = StatCache(db)
    assert again.lookup(path, path.stat()) == expected_oid(data)
    again.close()


def test_cache_hit_trusts_the_stat_not_the_bytes(tmp_path: Path) -> None:
    """Proof that a hit really comes from the cache: a recorded oid is served for its stat."""
    cache = StatCache(tmp_path / "stat.sqlite")
    path = aged_file(tmp_path / "m", b"abc")
    stat = settled(path)
    cache.record(path, stat, "sha256:" + "0" * 64, time.time_ns())
    assert cache.oid_of(path) == ("sha256:" + "0" * 64, 3)
    cache.forget(path)
    assert cache.oid_of(path)[0] == expected_oid(b"abc")
    cache.close()


@pytest.mark.parametrize("change", ["size", "mtime", "inode", "content-and-mtime"])
def test_miss_when_the_file_changes(tmp_path: Path, change: str) -> None:
    cache = StatCache(tmp_path / "stat.sqlite")
    path = aged_file(tmp_path / "m", b"abcd")
    stat = settled(path)
    cache.record(path, stat, expected_oid(b"abcd"), time.time_ns())
    assert cache.lookup(path, stat) == expected_oid(b"abcd")
    if change == "size":
        aged_file(path, b"abcde")
    elif change == "mtime":
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns - 1_000_000_000))
    elif change == "inode":
        replacement = aged_file(tmp_path / "other", b"abcd")
        os.utime(replacement, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        os.replace(replacement, path)
    else:
        aged_file(path, b"wxyz", age_ns=DAY_NS // 2)
    new = settled(path)
    assert cache.lookup(path, new) is None
    assert cache.oid_of(path)[0] == expected_oid(path.read_bytes())
    cache.close()


def test_miss_when_only_ctime_changes(tmp_path: Path) -> None:
    """Same bytes length, same restored mtime, same inode: the ctime still gives a rewrite away."""
    cache = StatCache(tmp_path / "stat.sqlite")
    path = aged_file(tmp_path / "m", b"abcd")
    stat = settled(path)
    cache.record(path, stat, expected_oid(b"abcd"), time.time_ns())
    with open(path, "r+b") as f:
        f.write(b"wxyz")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    new = settled(path)
    assert (new.st_ino, new.st_size, new.st_mtime_ns) == (stat.st_ino, stat.st_size,
                                                          stat.st_mtime_ns)
    assert cache.lookup(path, new) is None
    assert cache.oid_of(path)[0] == expected_oid(b"wxyz")
    cache.close()


def test_racy_entries_are_not_trusted(tmp_path: Path) -> None:
    cache = StatCache(tmp_path / "stat.sqlite")
    path = aged_file(tmp_path / "m", b"abcd")
    stat = settled(path)
    oid = expected_oid(b"abcd")
    # hashed at the very moment of the last change (ctime): racy
    cache.record(path, stat, oid, stat.st_ctime_ns)
    assert cache.lookup(path, stat) is None
    cache.record(path, stat, oid, stat.st_ctime_ns + RACY_MARGIN_NS // 2)
    assert cache.lookup(path, stat) is None
    # hashed well after both mtime and ctime: trusted
    cache.record(path, stat, oid, stat.st_ctime_ns + RACY_MARGIN_NS + 1)
    assert cache.lookup(path, stat) == oid
    # ctime old enough, but an mtime at or after the hash time (a write during hashing): racy
    future = stat.st_ctime_ns + DAY_NS + 7
    os.utime(path, ns=(future, future))
    later = settled(path)
    cache.record(path, later, oid, later.st_ctime_ns + RACY_MARGIN_NS + 1)
    assert cache.lookup(path, later) is None


def test_coarse_timestamps_get_a_wider_margin(tmp_path: Path) -> None:
    """Granularity is read from ctime, which only the kernel sets: a whole-second mtime from
    `touch -d` on ext4 keeps the fine margin, a whole-second ctime (ext3, FAT) gets 2 s."""
    from types import SimpleNamespace

    from gitmodel.hashing import _racy

    cache = StatCache(tmp_path / "stat.sqlite")
    path = tmp_path / "m"
    path.write_bytes(b"abcd")
    whole_second = (time.time_ns() // 1_000_000_000 - 3600) * 1_000_000_000
    os.utime(path, ns=(whole_second, whole_second))
    stat = settled(path)
    oid = expected_oid(b"abcd")
    if stat.st_ctime_ns % 1_000_000_000:  # this filesystem keeps sub-second ctimes
        cache.record(path, stat, oid, stat.st_ctime_ns + RACY_MARGIN_NS + 1)
        assert cache.lookup(path, stat) == oid
    coarse = SimpleNamespace(st_mtime_ns=whole_second, st_ctime_ns=whole_second)
    assert _racy(coarse, whole_second + COARSE_RACY_MARGIN_NS - 1)  # type: ignore[arg-type]
    assert not _racy(coarse, whole_second + COARSE_RACY_MARGIN_NS + 1)  # type: ignore[arg-type]
    fine = SimpleNamespace(st_mtime_ns=whole_second, st_ctime_ns=whole_second + 7)
    assert not _racy(fine, whole_second + RACY_MARGIN_NS + 8)  # type: ignore[arg-type]


def test_a_just_written_file_is_hashed_again(tmp_path: Path) -> None:
    """oid_of on a file written this instant records it, but never trusts that record."""
    cache = StatCache(tmp_path / "stat.sqlite")
    path = tmp_path / "m"
    path.write_bytes(b"first")
    seen: list[int] = []
    cache.oid_of(path, seen.append)
    cache.oid_of(path, seen.append)
    assert seen == [5, 5]


def test_forget(tmp_path: Path) -> None:
    db = tmp_path / "stat.sqlite"
    cache = StatCache(db)
    path = aged_file(tmp_path / "m", b"abcd")
    settled(path)
    cache.oid_of(path)
    assert len(rows(db)) == 1
    cache.forget(path)
    assert rows(db) == []
    cache.close()
    cache.close()  # idempotent


def test_two_stat_caches_on_one_database(tmp_path: Path) -> None:
    db = tmp_path / "stat.sqlite"
    first, second = StatCache(db), StatCache(db)
    files = [aged_file(tmp_path / f"f{i}", random_bytes(100 + i, i)) for i in range(6)]
    settled(files[-1])
    for i, path in enumerate(files):
        (first if i % 2 else second).oid_of(path)
    for path in files:
        assert first.lookup(path, path.stat()) == expected_oid(path.read_bytes())
        assert second.lookup(path, path.stat()) == expected_oid(path.read_bytes())
    first.forget(files[0])
    assert second.lookup(files[0], files[0].stat()) is None
    first.close()
    second.close()


def test_stat_caches_in_concurrent_threads(tmp_path: Path) -> None:
    db = tmp_path / "stat.sqlite"
    files = [aged_file(tmp_path / f"f{i}", random_bytes(50 + i, i)) for i in range(40)]
    settled(files[-1])
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        cache = StatCache(db)  # one object per thread, as one per process
        try:
            for i in range(len(files)):
                path = files[(i + offset) % len(files)]
                assert cache.oid_of(path)[0] == expected_oid(path.read_bytes())
        except BaseException as exc:
            errors.append(exc)
        finally:
            cache.close()

    threads = [threading.Thread(target=work, args=(n * 7,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(rows(db)) == len(files)


@pytest.mark.parametrize("field", ["st_ino", "st_size", "st_mtime_ns", "st_ctime_ns"])
def test_each_stat_field_is_compared(tmp_path: Path, field: str) -> None:
    cache = StatCache(tmp_path / "stat.sqlite")
    path = aged_file(tmp_path / "m", b"abcd")
    stat = settled(path)
    cache.record(path, stat, expected_oid(b"abcd"), time.time_ns())
    same = SimpleNamespace(**{f: getattr(stat, f) for f in
                              ("st_ino", "st_size", "st_mtime_ns", "st_ctime_ns")})
    assert cache.lookup(path, same) == expected_oid(b"abcd")  # type: ignore[arg-type]
    setattr(same, field, getattr(stat, field) - 1)
    assert cache.lookup(path, same) is None  # type: ignore[arg-type]
    cache.close()
