"""gitmodel.store.gc: removal under the lock, scratch, the rescue log; and kill -9 at seeded
moments during `git model gc` loses no needed object (issue 10). GITMODEL_KILLS sets the kills
(default 50), GITMODEL_KILL_SEED the moments, as in tests/test_kill.py."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

from conftest import Repo, make_repo, random_bytes
from test_kill import duration, killed, objects_match_their_names

from gitmodel.store import ObjectStore
from gitmodel.store import gc as store_gc

KILLS = int(os.environ.get("GITMODEL_KILLS", "50"))
SEED = int(os.environ.get("GITMODEL_KILL_SEED", "2026"))


def put(store: ObjectStore, tmp_path: Path, data: bytes) -> str:
    source = tmp_path / f"src-{hashlib.sha256(data).hexdigest()[:8]}"
    source.write_bytes(data)
    return store.put_file(source)[0]


def test_remove_unlinks_only_what_it_is_given_and_asks_keep_last(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "cache")
    a, b, c = (put(store, tmp_path, random_bytes(100, n)) for n in range(3))
    times = store_gc.object_times(store)
    assert set(times) == {a, b, c} and all(size == 100 for size, _ in times.values())
    result = store_gc.remove(store, [(a, 100), (b, 100)], [], keep=lambda oid: oid == b)
    assert result.objects == [(a, 100)]
    assert not store.has(a) and store.has(b) and store.has(c)
    again = store_gc.remove(store, [(a, 100)], [])  # a re-run after a kill: nothing to do
    assert again.objects == [] and again.failed == []


def test_scratch_keeps_writes_in_flight(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "cache")
    now = time.time()
    for folder, name, age in (("tmp", "old", 7200), ("tmp", "new", 1), ("trash", "x", 1),
                              ("resolved", "k1", 10 * 86400), ("resolved", "k2", 60),
                              ("resolved", ".tmp-abc", 60)):
        path = store.root / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"12345")
        os.utime(path, (now - age, now - age))
    found = {(s.kind, s.path.name) for s in store_gc.scratch(store, now, grace=3600,
                                                             resolved_age=7 * 86400)}
    assert found == {("tmp", "old"), ("trash", "x"), ("resolved", "k1")}


def test_resolved_copies_are_removed_though_read_only(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "cache")
    copy = store.root / "resolved" / "key" / "model.bin"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(b"abc")
    os.chmod(copy, 0o444)
    os.chmod(copy.parent, 0o555)
    items = store_gc.scratch(store, time.time() + 10, grace=0, resolved_age=0)
    result = store_gc.remove(store, [], items)
    assert not (store.root / "resolved" / "key").exists() and result.failed == []


def test_rescue_log_keeps_lines_appended_meanwhile(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "cache")
    store.root.mkdir(parents=True)
    log = store.root / store_gc.RESCUE_LOG
    lines = [json.dumps({"path": f"p{n}", "oid": f"sha256:{n:064x}", "size": 1,
                         "when": "2020-01-01T00:00:00Z"}) + "\n" for n in range(3)]
    log.write_text("".join(lines))

    def drop(line: str) -> bool:
        if '"p0"' in line:  # a rescue lands while gc decides
            with open(log, "a") as stream:
                stream.write(lines[0].replace("p0", "p9"))
        return '"p1"' in line

    assert store_gc.prune_rescue_log(store, drop) == 1
    assert [json.loads(x)["path"] for x in log.read_text().splitlines()] == ["p0", "p2", "p9"]


# -- kill -9 during gc ----------------------------------------------------------------------

def _setup(tmp_path: Path) -> tuple[Repo, Path, list[bytes], list[bytes]]:
    repo = make_repo(tmp_path / "repo")
    remote = tmp_path / "remote"
    remote.mkdir()
    repo.model("remote", "add", "origin", str(remote), "--default")
    repo.commit("remote")
    released = []
    for n in range(40):  # objects gc may remove: committed, pushed, then replaced
        data = random_bytes(64 << 10, n)
        repo.write(f"models/m{n % 4}.bin", data)
        released.append(data)
        if n % 4 == 3:
            repo.model("add", *(f"models/m{k}.bin" for k in range(4)))
            repo.commit(f"round {n}")
            repo.model("push")
    needed = []
    for k in range(4):  # what the work tree names now: never removed
        data = random_bytes(64 << 10, 1000 + k)
        repo.write(f"models/m{k}.bin", data)
        needed.append(data)
    repo.model("add", *(f"models/m{k}.bin" for k in range(4)))
    repo.commit("current")
    repo.model("push")
    repo.write("models/m0.bin", random_bytes(64 << 10, 5000))  # staged, never pushed
    repo.model("add", "models/m0.bin")
    needed.append(random_bytes(64 << 10, 5000))
    released = [d for d in released if d not in needed]
    return repo, remote, needed, released


def _path(repo: Repo, data: bytes) -> Path:
    digest = hashlib.sha256(data).hexdigest()
    return repo.root / ".git" / "model" / "objects" / digest[:2] / digest[2:]


def test_kill_during_gc_loses_no_needed_object(tmp_path: Path) -> None:
    repo, _remote, needed, released = _setup(tmp_path)
    cache = repo.root / ".git" / "model"
    cmd = [sys.executable, "-m", "gitmodel", "gc", "--grace", "0", "--keep-days", "0",
           "--keep-versions", "0"]
    spare = tmp_path / "spare"
    shutil.copytree(cache / "objects", spare)
    took = duration(cmd, repo.root)
    assert not any(_path(repo, d).exists() for d in released)  # the run does remove them
    rng = random.Random(SEED)
    for _ in range(KILLS):
        shutil.rmtree(cache / "objects")
        shutil.copytree(spare, cache / "objects")  # every released object back for this round
        killed(cmd, repo.root, rng.uniform(0, took))
        for data in needed:
            assert _path(repo, data).is_file(), "a needed object was lost"
        objects_match_their_names(cache)
    subprocess.run(cmd, cwd=repo.root, check=True, capture_output=True)  # a re-run finishes
    assert all(_path(repo, d).is_file() for d in needed)
    assert not any(_path(repo, d).exists() for d in released)
    for k in range(4):
        repo.git("checkout", "-q", "HEAD", "--", f"models/m{k}.bin.model.toml")
    status = json.loads(repo.model("status", "--json").stdout)
    assert all(m["state"] != "missing" for m in status["models"])
