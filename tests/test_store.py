"""gitmodel.store: the content-addressed object cache."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import Path

import pytest
from conftest import random_bytes

from gitmodel.errors import CorruptObjectError, GitmodelError, ObjectMissingError
from gitmodel.hashing import CHUNK_SIZE
from gitmodel.store import LinkMode, ObjectStore, is_oid


def oid_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / "cache")


def source(tmp_path: Path, data: bytes, name: str = "src.bin") -> Path:
    path = tmp_path / "work" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def temp_files(store: ObjectStore) -> list[Path]:
    tmp = store.root / "tmp"
    return sorted(tmp.iterdir()) if tmp.is_dir() else []


def tamper(store: ObjectStore, oid: str) -> Path:
    path = store.object_path(oid)
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    os.chmod(path, 0o444)
    return path


# -- put -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1])
def test_put_file_returns_oid_and_stores_the_bytes(store: ObjectStore, tmp_path: Path,
                                                   size: int) -> None:
    data = random_bytes(size, size)
    seen: list[int] = []
    oid, got = store.put_file(source(tmp_path, data), seen.append)
    assert (oid, got) == (oid_of(data), size)
    assert sum(seen) == size
    assert store.has(oid) and store.size(oid) == size
    assert store.object_path(oid).read_bytes() == data
    assert temp_files(store) == []
    store.verify(oid)


def test_objects_are_read_only(store: ObjectStore, tmp_path: Path) -> None:
    oid, _ = store.put_file(source(tmp_path, b"weights"))
    mode = stat.S_IMODE(store.object_path(oid).stat().st_mode)
    assert mode == 0o444


def test_same_content_is_stored_once(store: ObjectStore, tmp_path: Path) -> None:
    first, _ = store.put_file(source(tmp_path, b"same", "a"))
    inode = store.object_path(first).stat().st_ino
    second, _ = store.put_file(source(tmp_path, b"same", "b"))
    assert first == second
    assert store.object_path(first).stat().st_ino == inode  # not replaced
    assert list(store.oids()) == [first]
    assert temp_files(store) == []


def test_oids_lists_what_was_put(store: ObjectStore, tmp_path: Path) -> None:
    assert list(store.oids()) == []
    put = {store.put_file(source(tmp_path, random_bytes(10, i), f"f{i}"))[0] for i in range(20)}
    listed = list(store.oids())
    assert set(listed) == put and len(listed) == 20
    assert listed == sorted(listed)
    assert all(is_oid(o) for o in listed)


def test_missing_source_raises_and_leaves_nothing(store: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        store.put_file(tmp_path / "nope")
    assert temp_files(store) == []
    assert list(store.oids()) == []


def test_folder_source_raises_and_leaves_nothing(store: ObjectStore, tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(IsADirectoryError):
        store.put_file(tmp_path / "dir")
    assert temp_files(store) == []


def test_failing_progress_callback_leaves_nothing(store: ObjectStore, tmp_path: Path) -> None:
    """An exception in the middle of the copy (here from the progress callback) is atomic."""
    src = source(tmp_path, random_bytes(3 * CHUNK_SIZE, 5))
    calls: list[int] = []

    def progress(n: int) -> None:
        calls.append(n)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.put_file(src, progress)
    assert temp_files(store) == []
    assert list(store.oids()) == []


def test_put_verified(store: ObjectStore, tmp_path: Path) -> None:
    good = store.new_temp_file()
    good.write_bytes(b"downloaded")
    store.put_verified(good, oid_of(b"downloaded"), "remote x")
    assert store.object_path(oid_of(b"downloaded")).read_bytes() == b"downloaded"
    bad = store.new_temp_file()
    bad.write_bytes(b"evil")
    with pytest.raises(CorruptObjectError) as info:
        store.put_verified(bad, oid_of(b"good"), "remote x")
    assert info.value.actual == oid_of(b"evil") and "remote x" in str(info.value)
    assert not bad.exists() and not store.has(oid_of(b"good"))
    assert temp_files(store) == []


# -- oids ----------------------------------------------------------------------------------------

BAD_OIDS = [
    "", "sha256:", "a" * 64, "sha256:" + "A" * 64, "sha256:" + "a" * 63, "sha256:" + "a" * 65,
    "sha256:" + "g" * 64, "sha1:" + "a" * 40, "sha256:../../" + "a" * 58, "sha256:" + "a" * 62 + "/a",
]


@pytest.mark.parametrize("oid", BAD_OIDS)
def test_invalid_oids_are_rejected(store: ObjectStore, tmp_path: Path, oid: str) -> None:
    assert not is_oid(oid)
    for call in (store.has, store.size, store.object_path, store.verify):
        with pytest.raises(GitmodelError, match="not an object id"):
            call(oid)
    with pytest.raises(GitmodelError, match="not an object id"):
        store.materialize(oid, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_oid_with_trailing_newline_is_rejected(store: ObjectStore) -> None:
    oid = "sha256:" + "a" * 64 + "\n"
    assert not is_oid(oid)
    with pytest.raises(GitmodelError, match="not an object id"):
        store.has(oid)


# -- materialize ---------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", [LinkMode.AUTO, LinkMode.COPY])
@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE + 1])
def test_materialize_writes_verified_bytes(store: ObjectStore, tmp_path: Path, mode: LinkMode,
                                           size: int) -> None:
    data = random_bytes(size, 7)
    oid, _ = store.put_file(source(tmp_path, data))
    target = tmp_path / "repo" / "models" / "deep" / "m.bin"
    seen: list[int] = []
    store.materialize(oid, target, mode=mode, progress=seen.append)
    assert target.read_bytes() == data
    assert sum(seen) == size
    assert not store.same_inode(oid, target)
    perms = stat.S_IMODE(target.stat().st_mode)
    assert perms & 0o600 == 0o600 and perms & 0o111 == 0  # the user may write it, nobody runs it
    assert sorted(p.name for p in target.parent.iterdir()) == ["m.bin"]  # no temp file left
    # writing the artifact never writes the cache
    target.write_bytes(b"changed")
    store.verify(oid)


def test_materialize_replaces_an_existing_file_atomically(store: ObjectStore,
                                                          tmp_path: Path) -> None:
    oid, _ = store.put_file(source(tmp_path, b"new weights"))
    target = tmp_path / "m.bin"
    target.write_bytes(b"old weights")
    other_name = tmp_path / "hardlink-to-old"
    os.link(target, other_name)
    store.materialize(oid, target, mode=LinkMode.COPY)
    assert target.read_bytes() == b"new weights"
    # replaced by rename, not rewritten in place: another link to the old inode keeps old bytes
    assert other_name.read_bytes() == b"old weights"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_materialize_read_only_target_is_replaced(store: ObjectStore, tmp_path: Path) -> None:
    oid, _ = store.put_file(source(tmp_path, b"new"))
    target = tmp_path / "m.bin"
    target.write_bytes(b"old")
    os.chmod(target, 0o444)
    store.materialize(oid, target)
    assert target.read_bytes() == b"new"


@pytest.mark.parametrize("mode", list(LinkMode))
def test_corrupt_object_is_reported_and_target_untouched(store: ObjectStore, tmp_path: Path,
                                                         mode: LinkMode) -> None:
    data = random_bytes(CHUNK_SIZE + 3, 11)
    oid, _ = store.put_file(source(tmp_path, data))
    tampered = tamper(store, oid)
    target = tmp_path / "out" / "m.bin"
    target.parent.mkdir()
    target.write_bytes(b"user's precious bytes")
    with pytest.raises(CorruptObjectError) as info:
        store.materialize(oid, target, mode=mode)
    assert info.value.oid == oid
    assert info.value.actual == oid_of(tampered.read_bytes())
    assert target.read_bytes() == b"user's precious bytes"
    assert sorted(p.name for p in target.parent.iterdir()) == ["m.bin"]
    with pytest.raises(CorruptObjectError):
        store.verify(oid)


def test_corrupt_object_with_no_target_creates_nothing(store: ObjectStore, tmp_path: Path) -> None:
    oid, _ = store.put_file(source(tmp_path, b"abc"))
    tamper(store, oid)
    target = tmp_path / "out" / "m.bin"
    with pytest.raises(CorruptObjectError):
        store.materialize(oid, target)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


@pytest.mark.parametrize("mode", list(LinkMode))
def test_missing_object(store: ObjectStore, tmp_path: Path, mode: LinkMode) -> None:
    oid = oid_of(b"never stored")
    target = tmp_path / "m.bin"
    target.write_bytes(b"keep")
    with pytest.raises(ObjectMissingError) as info:
        store.materialize(oid, target, mode=mode)
    assert info.value.oid == oid
    assert target.read_bytes() == b"keep"
    assert not store.has(oid)
    with pytest.raises(ObjectMissingError):
        store.object_path(oid)
    with pytest.raises(ObjectMissingError):
        store.verify(oid)


def test_hardlink_mode_links_to_the_object(store: ObjectStore, tmp_path: Path) -> None:
    oid, _ = store.put_file(source(tmp_path, b"linked"))
    target = tmp_path / "repo" / "m.bin"
    target.parent.mkdir()
    target.write_bytes(b"old")
    store.materialize(oid, target, mode=LinkMode.HARDLINK)
    assert target.read_bytes() == b"linked"
    assert store.same_inode(oid, target)
    assert os.path.samefile(target, store.object_path(oid))
    assert stat.S_IMODE(target.stat().st_mode) == 0o444
    assert sorted(p.name for p in target.parent.iterdir()) == ["m.bin"]
    # materializing again over its own link is fine
    store.materialize(oid, target, mode=LinkMode.HARDLINK)
    assert store.same_inode(oid, target)
    # a copy replaces the link, and the object is left alone
    store.materialize(oid, target, mode=LinkMode.COPY)
    assert not store.same_inode(oid, target)
    store.verify(oid)


def test_same_inode(store: ObjectStore, tmp_path: Path) -> None:
    oid, _ = store.put_file(source(tmp_path, b"x"))
    assert not store.same_inode(oid, tmp_path / "absent")
    assert not store.same_inode(oid_of(b"absent"), tmp_path / "absent")
    os.link(store.object_path(oid), tmp_path / "link")
    assert store.same_inode(oid, tmp_path / "link")
    assert not store.same_inode(oid, source(tmp_path, b"x", "copy"))


def test_materialize_onto_a_folder_fails_cleanly(store: ObjectStore, tmp_path: Path) -> None:
    oid, _ = store.put_file(source(tmp_path, b"x"))
    target = tmp_path / "out" / "m.bin"
    (target / "inner").mkdir(parents=True)
    with pytest.raises(OSError):
        store.materialize(oid, target, mode=LinkMode.COPY)
    assert sorted(p.name for p in target.parent.iterdir()) == ["m.bin"]
    assert (target / "inner").is_dir()


# The put and the materialize run in a new interpreter under strace, which names every fsync (and
# the file each one flushed, -y) and every copy syscall: a real observation of the kernel calls,
# where counters such as /proc/self/io's syscw count any write and /proc/diskstats counts the whole
# machine's flushes (other tests write meanwhile). .ci/run installs strace, so CI never skips these.
STORE_SCRIPT = """
import sys
from pathlib import Path
from gitmodel.store import LinkMode, ObjectStore
store = ObjectStore(Path(sys.argv[1]), fsync=sys.argv[2] == "1")
oid, _ = store.put_file(Path(sys.argv[3]))
if len(sys.argv) > 4:
    store.materialize(oid, Path(sys.argv[4]), mode=LinkMode.COPY)
"""


def strace_store(tmp_path: Path, calls: str, *args: str) -> list[str]:
    """The syscalls named in ``calls`` that STORE_SCRIPT makes with ``args``, one strace line
    each, file descriptors shown with their paths."""
    import subprocess
    import sys

    log = tmp_path / "strace.log"
    proc = subprocess.run(["strace", "-f", "-qq", "-y", "-e", f"trace={calls}", "-e",
                           "signal=none", "-o", str(log), sys.executable, "-c", STORE_SCRIPT,
                           *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return log.read_text().splitlines()


needs_strace = pytest.mark.skipif(not shutil.which("strace"), reason="needs strace")


@needs_strace
@pytest.mark.parametrize("setting", [True, False])
def test_fsync_setting_flushes_the_object_and_the_artifact(tmp_path: Path, setting: bool) -> None:
    cache, out = tmp_path / "cache", tmp_path / "tree" / "out.bin"
    src = source(tmp_path, random_bytes(3 * CHUNK_SIZE, 11))
    lines = strace_store(tmp_path, "fsync,fdatasync", str(cache), "1" if setting else "0",
                         str(src), str(out))
    assert out.read_bytes() == src.read_bytes()
    flushed = [line for line in lines if "sync(" in line]
    put = [line for line in flushed if f"<{cache}/tmp/put-" in line]
    artifact = [line for line in flushed if f"<{out.parent}/.out.bin." in line]
    if setting:  # the object before its rename into the cache, the artifact before its own
        assert len(put) == 1 and len(artifact) == 1, lines
    else:  # git does not fsync loose objects either (docs/design.md, decision 2)
        assert put == [] and artifact == [], lines


def test_replacing_a_large_file_frees_it_in_the_background(store: ObjectStore,
                                                          tmp_path: Path) -> None:
    import time

    from gitmodel.store import DEFERRED_DELETE_BYTES

    data = random_bytes(1000, 7)
    oid, _ = store.put_file(source(tmp_path, data))
    target = tmp_path / "tree" / "model.bin"
    target.parent.mkdir()
    with open(target, "wb") as stream:
        stream.truncate(DEFERRED_DELETE_BYTES)  # sparse: large without costing the disk
    old_inode = target.stat().st_ino
    store.materialize(oid, target)
    assert target.read_bytes() == data and target.stat().st_ino != old_inode
    trash = store.root / "trash"
    deadline = time.monotonic() + 10
    while any(trash.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(trash.iterdir()), "the old file was not deleted"


def test_small_files_are_replaced_in_place(store: ObjectStore, tmp_path: Path) -> None:
    data = random_bytes(1000, 8)
    oid, _ = store.put_file(source(tmp_path, data))
    target = tmp_path / "small.bin"
    target.write_bytes(b"old")
    store.materialize(oid, target)
    assert target.read_bytes() == data
    assert not (store.root / "trash").exists()


@needs_strace
def test_put_of_a_settled_file_copies_in_the_kernel_and_names_it_right(tmp_path: Path) -> None:
    import time

    cache = tmp_path / "cache"
    chunks = 8
    data = random_bytes(chunks * CHUNK_SIZE + 5, 9)

    def copies(path: Path) -> tuple[list[str], list[str]]:
        lines = strace_store(tmp_path, "copy_file_range,sendfile,write,pwrite64,writev",
                             str(cache), "0", str(path))
        into = f"<{cache}/tmp/put-"
        kernel = [ln for ln in lines if ln.split(None, 1)[-1].startswith(("copy_file_range(",
                                                                           "sendfile("))
                  and into in ln and f"<{path}>" in ln]
        user = [ln for ln in lines if "write" in ln.split("(", 1)[0] and into in ln]
        return kernel, user

    fresh = source(tmp_path, data, "fresh.bin")
    # an mtime no older than the racy margin when the put starts (the interpreter takes longer
    # than the margin to start under strace, so put it ahead): copied through Python in one pass
    ahead = time.time() + 3600
    os.utime(fresh, (ahead, ahead))
    kernel, user = copies(fresh)
    assert kernel == [] and len(user) >= chunks, (kernel, user)

    settled = source(tmp_path, data, "settled.bin")
    past = time.time() - 10  # older than the racy margin: the kernel copies it
    os.utime(settled, (past, past))
    kernel, user = copies(settled)
    assert kernel and user == [], (kernel, user)  # not one byte of it passed through Python
    store = ObjectStore(cache)
    oid = oid_of(data)
    assert store.object_path(oid).read_bytes() == data
    assert not temp_files(store)
