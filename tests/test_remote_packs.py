"""Chunked objects on real remotes (a directory, the loopback S3 server): pushes send only the
chunks a remote lacks, in packs; pulls read only the chunks a cache lacks, in byte ranges; and
nothing a remote tampered with enters a cache (docs/store-format.md, "On a remote")."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import Repo, make_repo
from hypothesis import given, settings
from hypothesis import strategies as st

from gitmodel.errors import CorruptObjectError
from gitmodel.remote import packs as rpacks
from gitmodel.remote.backends import open_remote
from gitmodel.remote.needs import Need
from gitmodel.remote.transfer import fetch_objects, push_objects
from gitmodel.store import ObjectStore
from gitmodel.store.packs import PackIndex, Recipe, blake3_digest

ART = "models/m.bin"
SIZE = 3 << 20
THRESHOLD = "256k"
BUCKET = "chunks"


def data_of(seed: int, size: int = SIZE) -> bytes:
    return random.Random(seed).randbytes(size)


def edited(base: bytes, seed: int, share: float = 0.1) -> bytes:
    """``base`` with ``share`` of it rewritten in one place (a fine-tune touching a few tensors)."""
    out = bytearray(base)
    length = int(len(base) * share)
    at = len(base) // 3
    out[at:at + length] = random.Random(seed).randbytes(length)
    return bytes(out)


def store_of(repo: Repo) -> ObjectStore:
    return ObjectStore(repo.root / ".git" / "model")


def new_chunk_bytes(store: ObjectStore, new: str, old: str) -> int:
    have = {cid for cid, _ in store.recipe(old).chunks}
    return sum(length for cid, length in dict(store.recipe(new).chunks).items() if cid not in have)


def oid_of(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def setup_alice(repo: Repo, tmp_path: Path, url: str) -> Path:
    origin = tmp_path / "origin.git"
    repo.git("init", "-q", "--bare", str(origin))
    repo.git("remote", "add", "origin", str(origin))
    repo.model("remote", "add", "origin", url, "--default")
    with open(repo.root / ".gitmodel.toml", "a", encoding="utf-8") as toml:
        toml.write(f'\n[store]\nchunk-threshold = "{THRESHOLD}"\n')
    repo.git("add", ".gitmodel.toml")
    repo.commit("model remote, small chunk threshold")
    return origin


def add_version(repo: Repo, data: bytes, tag: str) -> None:
    repo.write(ART, data)
    repo.model("add", ART)
    repo.commit(tag)
    repo.git("tag", "-a", tag, "-m", tag)


def push_json(repo: Repo) -> dict[str, Any]:
    out = json.loads(repo.model("push", "--json").stdout)
    repo.git("push", "-q", "origin", "HEAD", "--tags")
    return dict(out)


def clone(tmp_path: Path, origin: Path, name: str, *at: str) -> Repo:
    Repo(tmp_path).git("clone", "-q", *at, str(origin), str(tmp_path / name))
    bob = Repo(tmp_path / name)
    bob.model("install")
    return bob


def remote_files(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


# -- range planning -----------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 300_000), st.booleans()), min_size=1, max_size=200))
def test_spans_cover_exactly_the_needed_chunks(layout: list[tuple[int, bool]]) -> None:
    """Every needed chunk is in exactly one span, whole; spans stay inside the pack, do not
    overlap, and are at most MAX_SPAN long unless one chunk is longer."""
    offset, needed = 8, {}
    for i, (length, wanted) in enumerate(layout):
        if wanted:
            needed[i.to_bytes(32, "big")] = ("p", offset, length)
        offset += length
    if not needed:
        return
    spans = rpacks.plan_spans(needed, {"p": offset})
    seen = [cid for span in spans for cid, _, _ in span.chunks]
    assert sorted(seen) == sorted(needed)
    last = 0
    for span in sorted(spans, key=lambda s: s.start):
        assert span.start >= max(last, 8) and span.end <= offset
        last = span.end
        assert span.end - span.start <= rpacks.MAX_SPAN or len(span.chunks) == 1
        for cid, at, length in span.chunks:
            assert needed[cid] == ("p", at, length)
            assert span.start <= at and at + length <= span.end


def test_neighbours_share_a_request_and_most_of_a_pack_reads_whole() -> None:
    chunks = {i.to_bytes(32, "big"): ("p", 8 + i * 65536, 65536) for i in range(100)}
    size = 8 + 100 * 65536
    every_other = {k: v for i, (k, v) in enumerate(chunks.items()) if i % 2 == 0}
    assert len(rpacks.plan_spans(every_other, {"p": size})) == 1  # 50 %: read through
    few = {k: v for i, (k, v) in enumerate(chunks.items()) if i % 10 == 0}
    assert len(rpacks.plan_spans(few, {"p": size})) == 10  # far apart: one range each
    pairs = {k: v for i, (k, v) in enumerate(chunks.items()) if i % 10 in (0, 2)}
    assert len(rpacks.plan_spans(pairs, {"p": size})) == 10  # a 64 KiB gap: coalesced


# -- the API against a directory remote ---------------------------------------------------------

def stores(tmp_path: Path) -> tuple[ObjectStore, ObjectStore, Path]:
    remote = tmp_path / "remote"
    remote.mkdir(parents=True)
    return (ObjectStore(tmp_path / "a", chunk_threshold=256 << 10),
            ObjectStore(tmp_path / "b", chunk_threshold=256 << 10), remote)


def put(store: ObjectStore, tmp_path: Path, data: bytes) -> Need:
    src = tmp_path / f"src-{blake3_digest(data).hex()[:8]}"
    src.write_bytes(data)
    oid, size = store.put_file(src)
    src.unlink()
    return Need(oid, size, "m", "v")


def test_second_version_goes_up_and_comes_down_as_its_new_chunks(tmp_path: Path) -> None:
    a, b, root = stores(tmp_path)
    v1, v2 = data_of(1), None
    v2 = edited(v1, 2)
    n1, n2 = put(a, tmp_path, v1), put(a, tmp_path, v2)
    assert a.is_chunked(n1.oid) and a.is_chunked(n2.oid)
    remote = open_remote(str(root))
    first = push_objects(a, remote, [n1])
    assert first.transferred == [n1.oid] and not (root / "objects").exists()
    fresh = new_chunk_bytes(a, n2.oid, n1.oid)
    second = push_objects(a, remote, [n1, n2])
    assert second.transferred == [n2.oid] and second.skipped == 1
    assert second.bytes <= 1.1 * fresh + 8192, (second.bytes, fresh)

    down = open_remote(str(root))
    got = fetch_objects(b, down, [n1])
    assert got.transferred == [n1.oid]
    down.calls.counts.clear()
    got = fetch_objects(b, down, [n2])
    assert got.transferred == [n2.oid]
    # the recipe, the index of the new pack (the first is cached), and the new chunks
    assert got.bytes <= 1.1 * fresh + 16384, (got.bytes, fresh)
    assert down.calls["list"] == 1 and down.calls["range"] <= 3, down.calls.counts
    b.materialize(n2.oid, tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == v2
    assert fetch_objects(b, down, [n1, n2]).skipped == 2


def test_a_remote_with_whole_objects_from_an_old_push_still_pulls(tmp_path: Path) -> None:
    a, b, root = stores(tmp_path)
    old = ObjectStore(tmp_path / "old")  # chunking off: what gitmodel wrote before packs
    v1, v2 = data_of(3), data_of(4)
    n1, n2 = put(old, tmp_path, v1), put(a, tmp_path, v2)
    remote = open_remote(str(root))
    push_objects(old, remote, [n1])
    assert (root / "objects").is_dir()
    # a chunked clone finds v1 there whole and sends nothing for it; v2 goes up chunked
    put(a, tmp_path, v1)
    report = push_objects(a, remote, [n1, n2])
    assert report.transferred == [n2.oid] and report.skipped == 1
    got = fetch_objects(b, remote, [n1, n2])
    assert sorted(got.transferred) == sorted([n1.oid, n2.oid])
    assert not b.is_chunked(n1.oid) and b.is_chunked(n2.oid)
    # a remote holding both (an old whole object, and a recipe pushed later) serves either
    c = ObjectStore(tmp_path / "c", chunk_threshold=256 << 10)
    put(old, tmp_path, v2)
    remote.upload(n2.oid, old.object_path(n2.oid), lambda _n: None)
    assert (root / "objects" / n2.oid[7:9] / n2.oid[9:]).is_file()
    assert fetch_objects(c, remote, [n2]).transferred == [n2.oid]
    c.materialize(n2.oid, tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == v2


def cache_files(store: ObjectStore) -> set[str]:
    return {str(p.relative_to(store.root)) for p in store.root.rglob("*")
            if p.is_file() and "tmp" not in p.relative_to(store.root).parts
            and "remote-index" not in p.relative_to(store.root).parts}


def test_a_tampered_pack_byte_is_refused_before_anything_enters_the_cache(tmp_path: Path) -> None:
    a, b, root = stores(tmp_path)
    n1 = put(a, tmp_path, data_of(5))
    push_objects(a, open_remote(str(root)), [n1])
    (pack,) = (root / "packs").glob("*.pack")
    os.chmod(pack, 0o644)
    with open(pack, "r+b") as stream:
        stream.seek(SIZE // 2)
        byte = stream.read(1)
        stream.seek(SIZE // 2)
        stream.write(bytes([byte[0] ^ 1]))
    before = cache_files(b)
    with pytest.raises(Exception) as caught:
        fetch_objects(b, open_remote(str(root)), [n1])
    assert "corrupt" in str(caught.value) and pack.name in str(caught.value)
    assert "nothing from it entered the cache" in str(caught.value)
    assert cache_files(b) == before and not b.has(n1.oid)
    assert not list(b.root.glob("tmp/pack-*")), "the pending pack was not removed"


def test_a_tampered_index_is_refused(tmp_path: Path) -> None:
    a, b, root = stores(tmp_path)
    n1 = put(a, tmp_path, data_of(6))
    push_objects(a, open_remote(str(root)), [n1])
    (idx,) = (root / "packs").glob("*.idx")
    index = PackIndex.decode(idx.read_bytes(), source="test")
    entries = list(index.entries())
    # a well-formed index (its own checksum right) that lies about where a chunk is: only its
    # name, the hash of its bytes, gives it away
    cid, _offset, length = entries[0]
    entries[0] = (cid, entries[1][1], length)
    forged = PackIndex.encode([entries[0], *entries[2:]], index.packsize)
    os.chmod(idx, 0o644)
    idx.write_bytes(forged)
    with pytest.raises(Exception) as caught:
        fetch_objects(b, open_remote(str(root)), [n1])
    text = str(caught.value)
    assert "not its chunk" in text and "do not hash to its name" in text, text
    assert not b.has(n1.oid) and not (b.root / "packs").exists()


def test_tampering_on_s3_is_refused_too(tmp_path: Path, s3_endpoint: str,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The same refusals through s3fs: a flipped pack byte (read by range), then a forged index."""
    from conftest import empty_s3_bucket

    from gitmodel.errors import RemoteError

    fs = empty_s3_bucket(s3_endpoint, monkeypatch, BUCKET)
    a, b, _root = stores(tmp_path)
    n1 = put(a, tmp_path, data_of(15))
    url = f"s3://{BUCKET}/t"
    push_objects(a, open_remote(url), [n1])
    (pack,) = fs.glob(f"{BUCKET}/t/packs/*.pack")
    (idx,) = fs.glob(f"{BUCKET}/t/packs/*.idx")
    good = fs.cat_file(pack)
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0x80
    fs.pipe_file(pack, bytes(bad))
    before = cache_files(b)
    with pytest.raises(RemoteError, match="is corrupt: chunk"):
        fetch_objects(b, open_remote(url), [n1])
    assert cache_files(b) == before and not b.has(n1.oid)
    fs.pipe_file(pack, good)
    index = PackIndex.decode(fs.cat_file(idx), source="test")
    entries = list(index.entries())
    fs.pipe_file(idx, PackIndex.encode(entries[1:], index.packsize))
    for cached in (b.root / "remote-index").rglob("*.idx"):
        cached.unlink()  # the good copy read a moment ago would be used, rightly
    with pytest.raises(RemoteError, match="do not hash to its name"):
        fetch_objects(b, open_remote(url), [n1])
    assert cache_files(b) == before and not b.has(n1.oid)


def test_download_of_a_chunked_object_rebuilds_the_file(tmp_path: Path) -> None:
    """What fsck's remote checks and repairs read: the whole file, chunks checked on the way."""
    from gitmodel.errors import CorruptChunkError

    a, _b, root = stores(tmp_path)
    data = data_of(16)
    n1 = put(a, tmp_path, data)
    # a file whose chunks repeat: each copy is written where the recipe puts it
    twice = data[:1 << 20] * 3
    n2 = put(a, tmp_path, twice)
    remote = open_remote(str(root))
    push_objects(a, remote, [n1, n2])
    for need, expected in ((n1, data), (n2, twice)):
        target = tmp_path / "whole"
        remote.download(need.oid, target, lambda _n: None)
        assert target.read_bytes() == expected
    (pack,) = (root / "packs").glob("*.pack")
    os.chmod(pack, 0o644)
    with open(pack, "r+b") as stream:
        stream.seek(100)
        stream.write(b"\0" * 8)
    with pytest.raises(CorruptChunkError):
        remote.download(n1.oid, tmp_path / "whole", lambda _n: None)


def test_a_recipe_naming_another_object_is_refused(tmp_path: Path) -> None:
    a, b, root = stores(tmp_path)
    n1, n2 = put(a, tmp_path, data_of(7)), put(a, tmp_path, data_of(8))
    push_objects(a, open_remote(str(root)), [n1, n2])
    r1 = root / "recipes" / n1.oid[7:9] / n1.oid[9:]
    r2 = root / "recipes" / n2.oid[7:9] / n2.oid[9:]
    os.chmod(r1, 0o644)
    r1.write_bytes(r2.read_bytes())
    with pytest.raises(Exception) as caught:
        fetch_objects(b, open_remote(str(root)), [n1])
    assert "recipe" in str(caught.value) and "damaged" in str(caught.value)
    assert not b.has(n1.oid)


def test_a_recipe_whose_sound_chunks_make_other_bytes_is_refused_by_its_sha256(
        tmp_path: Path) -> None:
    """Every chunk hashes to its id and the recipe to its checksum, but the chunks are another
    object's: only the whole-file sha256, run as the chunks land, can refuse it."""
    a, b, root = stores(tmp_path)
    n1, n2 = put(a, tmp_path, data_of(11)), put(a, tmp_path, data_of(12))
    push_objects(a, open_remote(str(root)), [n1, n2])
    r1 = root / "recipes" / n1.oid[7:9] / n1.oid[9:]
    other = a.recipe(n2.oid)
    os.chmod(r1, 0o644)
    r1.write_bytes(Recipe(n1.oid, other.size, other.chunks).encode())
    before = cache_files(b)
    with pytest.raises(Exception) as caught:
        fetch_objects(b, open_remote(str(root)), [n1])
    assert f"hashes to {n2.oid}" in str(caught.value)
    assert not b.has(n1.oid) and cache_files(b) == before
    assert not list(b.root.glob("tmp/pack-*")), "the pending pack was not removed"
    # the honest object still comes down, hashed as its chunks land, and rebuilds
    got = fetch_objects(b, open_remote(str(root)), [n2])
    assert got.transferred == [n2.oid]
    b.materialize(n2.oid, tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == data_of(12)
    # only that first rebuild, right after the check, skips BLAKE3: any later one verifies
    where = b.chunk_index().locate(other.chunks[0][0])
    assert where is not None
    os.chmod(where[0], 0o644)
    with open(where[0], "r+b") as stream:
        stream.seek(where[1])
        byte = stream.read(1)
        stream.seek(where[1])
        stream.write(bytes([byte[0] ^ 1]))
    with pytest.raises(CorruptObjectError):
        b.materialize(n2.oid, tmp_path / "again")
    assert not (tmp_path / "again").exists()


def test_listings_stay_constant_as_objects_grow(tmp_path: Path) -> None:
    counts = []
    for n in (2, 12):
        a, b, root = stores(tmp_path / str(n))
        needs = [put(a, tmp_path, data_of(100 + i, 300_000)) for i in range(n)]
        remote = open_remote(str(root))
        push_objects(a, remote, needs)
        down = open_remote(str(root))
        fetch_objects(b, down, needs)
        counts.append((remote.calls["list"], down.calls["list"]))
        # small adds' packs are merged: one pack and its index, then a recipe per object
        assert remote.calls["put"] == 2 + n, remote.calls.counts
    assert counts[0] == counts[1] == (1, 1), counts


# -- kill -9 during a push ----------------------------------------------------------------------

def check_remote_invariant(root: Path) -> int:
    """Every recipe on the remote names only chunks that are in a pack there whose index is
    there and good (docs/store-format.md, "On a remote"); returns the recipes seen."""
    held: set[bytes] = set()
    packs = root / "packs"
    for idx in packs.glob("pack-*.idx") if packs.is_dir() else []:
        data = idx.read_bytes()
        assert blake3_digest(data).hex() == idx.name[5:-4], idx
        index = PackIndex.decode(data, source=str(idx))
        pack = idx.with_suffix(".pack")
        assert pack.stat().st_size == index.packsize, pack
        held.update(cid for cid, _, _ in index.entries())
    recipes = list((root / "recipes").rglob("*")) if (root / "recipes").is_dir() else []
    seen = 0
    for path in recipes:
        if not path.is_file():
            continue
        oid = "sha256:" + path.parent.name + path.name
        recipe = Recipe.decode(path.read_bytes(), expected_oid=oid, source=str(path))
        missing = [cid for cid, _ in recipe.chunks if cid not in held]
        assert not missing, f"{path} names {len(missing)} chunks in no indexed pack"
        seen += 1
    return seen


def forked_push(source: ObjectStore, root: Path, needs: list[Need]) -> int:
    """A push in a child process forked from this one (no interpreter start-up to wait for)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            push_objects(ObjectStore(source.root), open_remote(str(root)), needs, jobs=4)
            code = 0
        finally:
            os._exit(code)
    return pid


def test_kill_9_during_push_never_leaves_a_recipe_without_its_chunks(tmp_path: Path) -> None:
    import signal
    import time

    rng = random.Random(1109)
    source = ObjectStore(tmp_path / "src", chunk_threshold=256 << 10)
    base = data_of(9, 2 << 20)
    needs = [put(source, tmp_path, edited(base, 50 + i, 0.3)) for i in range(4)]
    root = tmp_path / "remote"
    root.mkdir()
    started = time.monotonic()
    _, status = os.waitpid(forked_push(source, root, needs), 0)
    whole = time.monotonic() - started
    assert status == 0 and check_remote_invariant(root) == len(needs)
    kills = midway = rounds = 0
    while kills < 50 and rounds < 400:
        rounds += 1
        shutil.rmtree(root)
        root.mkdir()
        if rounds % 2:  # half the time, a remote that already holds one version
            push_objects(source, open_remote(str(root)), needs[:1])
        before = remote_files(root)
        pid = forked_push(source, root, needs)
        time.sleep(rng.uniform(0.0, 1.0) * whole)
        killed = False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
            killed = True
        _, status = os.waitpid(pid, 0)
        if not (killed and os.WIFSIGNALED(status)):
            whole *= 0.8  # the push ran faster than measured (a shared machine): aim earlier
            continue
        kills += 1
        seen = check_remote_invariant(root)
        if remote_files(root) != before and seen < len(needs):
            midway += 1  # killed with the push under way, not before it began or after
        elif seen < len(needs):
            whole *= 1.1  # killed before it touched the remote: aim later
    assert kills >= 50, (kills, rounds)
    assert midway >= 10, midway
    # a full push after a kill finds the remote consistent and completes it
    push_objects(source, open_remote(str(root)), needs)
    assert check_remote_invariant(root) == len(needs)


# -- through the CLI: two clones, a directory or the loopback S3 server -------------------------

@pytest.fixture(params=["dir", "s3"])
def remote_url(request: pytest.FixtureRequest, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "dir":
        (tmp_path / "models-remote").mkdir()
        return str(tmp_path / "models-remote")
    endpoint = request.getfixturevalue("s3_endpoint")
    from conftest import empty_s3_bucket

    empty_s3_bucket(endpoint, monkeypatch, BUCKET)
    return f"s3://{BUCKET}/repo"


def test_two_clones_the_second_pulls_v2_as_only_its_new_chunks(
        repo: Repo, tmp_path: Path, remote_url: str) -> None:
    origin = setup_alice(repo, tmp_path, remote_url)
    v1 = data_of(11)
    add_version(repo, v1, "m@v1.0.0")
    up1 = push_json(repo)
    assert up1["transferred"] and up1["bytes"] >= SIZE

    bob = clone(tmp_path, origin, "bob")
    bob.model("pull")  # (install's checkout may have fetched it already)
    assert (bob.root / ART).read_bytes() == v1

    v2 = edited(v1, 12)
    add_version(repo, v2, "m@v2.0.0")
    alice = store_of(repo)
    fresh = new_chunk_bytes(alice, oid_of(v2), oid_of(v1))
    assert fresh < SIZE * 0.2
    up2 = push_json(repo)
    assert up2["transferred"] == [oid_of(v2)]
    assert up2["bytes"] <= 1.1 * fresh + 8192, (up2["bytes"], fresh)

    bob.git("fetch", "-q", "--tags")
    bob.git("checkout", "-q", "m@v2.0.0")  # the hook fetches v2: only its new chunks
    assert (bob.root / ART).read_bytes() == v2
    assert store_of(bob).is_chunked(oid_of(v2))
    bob.git("checkout", "-q", "m@v1.0.0")
    assert (bob.root / ART).read_bytes() == v1

    # a third clone pulls v2 after v1 with `git model pull`, and is counted
    carol = clone(tmp_path, origin, "carol", "--branch", "m@v1.0.0")
    carol.model("pull")
    assert (carol.root / ART).read_bytes() == v1
    assert not store_of(carol).has(oid_of(v2))
    carol.git("config", "model.autoFetch", "false")
    carol.git("checkout", "-q", "m@v2.0.0")
    got = json.loads(carol.model("pull", "--json").stdout)
    assert got["transferred"] == [oid_of(v2)]
    assert got["bytes"] <= 1.1 * fresh + 16384, (got["bytes"], fresh)
    assert (carol.root / ART).read_bytes() == v2


def test_get_against_a_chunked_remote(repo: Repo, tmp_path: Path, remote_url: str) -> None:
    origin = setup_alice(repo, tmp_path, remote_url)
    v1 = data_of(13)
    add_version(repo, v1, "m@v1.0.0")
    add_version(repo, edited(v1, 14), "m@v2.0.0")
    push_json(repo)
    out = tmp_path / "got"
    make_repo(tmp_path / "elsewhere", install=False).model(
        "get", str(origin), "m@v1.0.0", "-o", str(out))
    assert (out / "m.bin").read_bytes() == v1


def test_s3_listing_requests_do_not_grow_with_objects(
        repo: Repo, tmp_path: Path, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counted on the server: a push and a pull of chunked objects list packs/ once each,
    whether 2 or 10 objects move, and never ask per chunk."""
    import logging

    from conftest import empty_s3_bucket

    lines: list[str] = []

    class Log(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = re.sub(r"\x1b\[[0-9;]*m", "", record.getMessage())
            match = re.search(r'"([A-Z]+) (\S+) HTTP/', text)
            if match:
                lines.append(f"{match.group(1)} {match.group(2)}")

    logger = logging.getLogger("werkzeug")
    handler, level = Log(), logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        seen = []
        for n in (2, 10):
            empty_s3_bucket(s3_endpoint, monkeypatch, BUCKET)
            a = ObjectStore(tmp_path / f"a{n}", chunk_threshold=256 << 10)
            b = ObjectStore(tmp_path / f"b{n}", chunk_threshold=256 << 10)
            needs = [put(a, tmp_path, data_of(200 + i, 400_000)) for i in range(n)]
            url = f"s3://{BUCKET}/n{n}"
            lines.clear()
            push_objects(a, open_remote(url, {"endpoint_url": s3_endpoint}), needs)
            pushed = list(lines)
            lines.clear()
            fetch_objects(b, open_remote(url, {"endpoint_url": s3_endpoint}), needs)
            pulled = list(lines)
            listings = [
                len([ln for ln in part if "list-type=2" in ln and "packs" in ln])
                for part in (pushed, pulled)]
            pack_gets = len([ln for ln in pulled if ln.startswith("GET") and ".pack" in ln])
            seen.append((listings, pack_gets))
            assert all(b.has(nd.oid) for nd in needs)
        assert seen[0][0] == seen[1][0] == [1, 1], seen
        assert seen[1][1] <= 2, seen  # 10 x 400 kB in one pack: read in one or two ranges
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
