"""gitmodel.store.repack and `git model repack`: whole objects become chunked ones, verified
before the whole object goes; small packs merge; a kill -9 at seeded moments during repack, and
during a gc that rewrites packs, never leaves an oid unreadable. GITMODEL_KILLS sets the kills
of each test (default 50), GITMODEL_KILL_SEED the moments."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import Repo, make_repo, random_bytes
from test_chunked_repo import recipes_are_whole

from gitmodel.store import ObjectStore
from gitmodel.store.repack import repack

KILLS = int(os.environ.get("GITMODEL_KILLS", "50"))
SEED = int(os.environ.get("GITMODEL_KILL_SEED", "2026"))
THRESHOLD = 64 << 10


def put(store: ObjectStore, tmp_path: Path, data: bytes) -> str:
    source = tmp_path / f"src-{hashlib.sha256(data).hexdigest()[:8]}"
    source.write_bytes(data)
    return store.put_file(source)[0]


def readable(root: Path, oid: str, data: bytes, tmp_path: Path) -> None:
    store = ObjectStore(root)
    target = tmp_path / "check"
    store.materialize(oid, target)
    assert target.read_bytes() == data, oid


def test_repack_chunks_big_whole_objects_and_keeps_small_ones(tmp_path: Path) -> None:
    whole = ObjectStore(tmp_path / "cache")  # as a gitmodel before chunking left it
    big = [random_bytes(400_000, n) for n in range(3)]
    small = random_bytes(1000, 9)
    oids = [put(whole, tmp_path, d) for d in big]
    small_oid = put(whole, tmp_path, small)
    store = ObjectStore(whole.root, chunk_threshold=THRESHOLD)
    result = repack(store, THRESHOLD)
    assert sorted(o for o, _ in result.converted) == sorted(oids)
    assert not result.failed
    for oid, data in zip(oids, big, strict=True):
        assert store.is_chunked(oid)
        assert not (store.root / "blake3" / oid[7:9] / oid[9:]).exists()
        readable(store.root, oid, data, tmp_path)
    assert not store.is_chunked(small_oid)  # below the threshold: stays whole
    readable(store.root, small_oid, small, tmp_path)
    assert recipes_are_whole(store.root) == 3
    again = repack(store, THRESHOLD)  # nothing left to do
    assert not again.converted and not again.merged


def test_repack_merges_small_packs_and_every_object_still_restores(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "cache", chunk_threshold=THRESHOLD)
    datas = [random_bytes(300_000, 20 + n) for n in range(5)]
    oids = [put(store, tmp_path, d) for d in datas]
    assert len(list(store.packs_dir.glob("*.pack"))) == 5  # one per add
    result = repack(store, THRESHOLD)
    assert len(result.merged) == 5 and len(result.into) == 1
    assert len(list(store.packs_dir.glob("*.pack"))) == 1
    assert len(list(store.packs_dir.glob("*.idx"))) == 1
    for oid, data in zip(oids, datas, strict=True):
        readable(store.root, oid, data, tmp_path)


def test_a_corrupt_whole_object_is_not_converted(tmp_path: Path) -> None:
    whole = ObjectStore(tmp_path / "cache")
    data = random_bytes(300_000, 30)
    oid = put(whole, tmp_path, data)
    path = whole.object_path(oid)
    os.chmod(path, 0o644)
    raw = bytearray(path.read_bytes())
    raw[1000] ^= 1
    path.write_bytes(bytes(raw))
    result = repack(ObjectStore(whole.root), THRESHOLD)
    assert [o for o, _ in result.failed] == [oid] and not result.converted
    assert path.exists() and not (whole.root / "recipes").exists()


def test_repack_dry_run_changes_nothing(tmp_path: Path) -> None:
    whole = ObjectStore(tmp_path / "cache")
    put(whole, tmp_path, random_bytes(300_000, 31))
    result = repack(ObjectStore(whole.root), THRESHOLD, dry_run=True)
    assert len(result.plan.convert) == 1 and not result.converted
    assert not (whole.root / "recipes").exists()


# -- through the CLI, in a real repository ------------------------------------------------------

def _unchunked_repo(tmp_path: Path, count: int, size: int) -> tuple[Repo, list[bytes]]:
    repo = make_repo(tmp_path / "repo")
    repo.git("config", "model.chunkThreshold", "off")
    datas = []
    base = random_bytes(size, 40)
    for n in range(count):  # versions sharing most bytes, as a checkpoint series does
        at = (n * 7919 * 64) % (size - 40_000)
        data = base[:at] + random_bytes(40_000, 41 + n) + base[at + 40_000:]
        repo.write(f"models/m{n}.bin", data)
        datas.append(data)
    repo.model("add", *(f"models/m{n}.bin" for n in range(count)))
    repo.commit("models")
    repo.git("config", "model.chunkThreshold", "64k")
    return repo, datas


def test_repack_cli_then_checkout_is_byte_identical(tmp_path: Path) -> None:
    repo, datas = _unchunked_repo(tmp_path, 3, 300_000)
    plan = json.loads(repo.model("repack", "--dry-run", "--json").stdout)
    assert len(plan["convert"]) == 3 and not plan["converted"]
    out = repo.model("repack").stdout
    assert "chunked 3 whole object(s)" in out
    cache = repo.root / ".git" / "model"
    assert not list((cache / "objects").glob("*/*"))
    assert recipes_are_whole(cache) == 3
    after = json.loads(repo.model("repack", "--json").stdout)
    assert after["bytes_after"] < sum(len(d) for d in datas) * 0.6  # the shared bytes once
    for n in range(len(datas)):
        (repo.root / f"models/m{n}.bin").unlink()
    repo.model("checkout")
    for n, data in enumerate(datas):
        assert (repo.root / f"models/m{n}.bin").read_bytes() == data


def _aimed_kill(cmd: list[str], cwd: Path, changed: object, delay: float) -> None:
    """Kill once the run has begun changing the store (``changed()`` true), ``delay`` later."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline:
        if changed():  # type: ignore[operator]
            time.sleep(delay)
            break
        time.sleep(0.0005)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


STORE_DIRS = ("objects", "recipes", "packs", "blake3", "tmp")


def _snapshot(cache: Path, spare: Path) -> None:
    for name in STORE_DIRS:
        if (cache / name).exists():
            shutil.copytree(cache / name, spare / name, symlinks=True)


def _restore(cache: Path, spare: Path) -> None:
    for name in STORE_DIRS:
        if (cache / name).exists():
            for dirpath, dirs, _files in os.walk(cache / name):
                for d in dirs:
                    os.chmod(os.path.join(dirpath, d), 0o755)
            shutil.rmtree(cache / name)
        if (spare / name).exists():
            shutil.copytree(spare / name, cache / name, symlinks=True)


def test_kill_during_repack_leaves_every_oid_readable(tmp_path: Path) -> None:
    repo, datas = _unchunked_repo(tmp_path, 8, 400_000)
    cache = repo.root / ".git" / "model"
    oids = ["sha256:" + hashlib.sha256(d).hexdigest() for d in datas]
    spare = tmp_path / "spare"
    _snapshot(cache, spare)
    cmd = [sys.executable, "-m", "gitmodel", "repack"]
    rng = random.Random(SEED)
    started = time.monotonic()
    subprocess.run(cmd, cwd=repo.root, check=True, capture_output=True)
    took = time.monotonic() - started
    midway = 0
    for n in range(KILLS):
        _restore(cache, spare)
        if n % 2:
            proc = subprocess.Popen(cmd, cwd=repo.root, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
            time.sleep(rng.uniform(0, took))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        else:
            _aimed_kill(cmd, repo.root, lambda: (cache / "packs").exists(),
                        rng.uniform(0, took / 3))
        whole = sum((cache / "objects" / o[7:9] / o[9:]).exists() for o in oids)
        midway += 0 < whole < len(oids)
        for oid, data in zip(oids, datas, strict=True):
            readable(cache, oid, data, tmp_path)
        recipes_are_whole(cache)
    print(f"{midway} of {KILLS} kills left the repack half done")
    assert midway >= KILLS // 5, f"only {midway} of {KILLS} kills landed mid-repack"
    subprocess.run(cmd, cwd=repo.root, check=True, capture_output=True)  # a re-run finishes
    assert not any((cache / "objects" / o[7:9] / o[9:]).exists() for o in oids)
    assert len(list((cache / "packs").glob("*.pack"))) == 1
    for oid, data in zip(oids, datas, strict=True):
        readable(cache, oid, data, tmp_path)


def test_kill_during_a_pack_rewriting_gc_leaves_every_needed_oid_readable(
        tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    repo.git("config", "model.chunkThreshold", "64k")
    remote = tmp_path / "remote"
    remote.mkdir()
    repo.model("remote", "add", "origin", str(remote), "--default")
    repo.commit("remote")
    base = random_bytes(400_000, 50)
    versions = []
    for n in range(8):  # a checkpoint series: each version rewrites a part of the last
        at = (n * 50_000) % 300_000
        base = base[:at] + random_bytes(100_000, 51 + n) + base[at + 100_000:]
        for k in range(3):
            data = base[k * 1000:] + base[:k * 1000]  # three models sharing chunks too
            repo.write(f"models/m{k}.bin", data)
            versions.append(data)
        repo.model("add", *(f"models/m{k}.bin" for k in range(3)))
        repo.commit(f"v{n}")
    needed = versions[-3:]
    for data in versions:  # on the remote, as a push leaves them (local gc requires a copy)
        digest = hashlib.sha256(data).hexdigest()
        (remote / "objects" / digest[:2]).mkdir(parents=True, exist_ok=True)
        (remote / "objects" / digest[:2] / digest[2:]).write_bytes(data)
    cache = repo.root / ".git" / "model"
    spare = tmp_path / "spare"
    _snapshot(cache, spare)
    cmd = [sys.executable, "-m", "gitmodel", "gc", "--grace", "0", "--keep-days", "0",
           "--keep-versions", "0", "--json"]
    started = time.monotonic()
    first = subprocess.run(cmd, cwd=repo.root, check=True, capture_output=True, text=True)
    took = time.monotonic() - started
    report = json.loads(first.stdout)
    assert report["packs"]["rewritten"] or report["packs"]["deleted"], report["packs"]
    packs_before = {p.name for p in (spare / "packs").glob("*.pack")}
    rng = random.Random(SEED + 1)
    midway = 0
    for n in range(KILLS):
        _restore(cache, spare)

        def packs_changed() -> bool:
            return {p.name for p in (cache / "packs").glob("*.pack")} != packs_before
        if n % 2:
            proc = subprocess.Popen(cmd, cwd=repo.root, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
            time.sleep(rng.uniform(0, took))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        else:
            _aimed_kill(cmd, repo.root, packs_changed, rng.uniform(0, 0.01))
        midway += packs_changed()
        for data in needed:
            readable(cache, "sha256:" + hashlib.sha256(data).hexdigest(), data, tmp_path)
        recipes_are_whole(cache)
    print(f"{midway} of {KILLS} kills came after the pack pass began")
    assert midway >= KILLS // 5
    subprocess.run(cmd, cwd=repo.root, check=True, capture_output=True)
    for k in range(len(needed)):
        (repo.root / f"models/m{k}.bin").unlink()
    repo.model("checkout")
    for k, data in enumerate(needed):
        assert (repo.root / f"models/m{k}.bin").read_bytes() == data
