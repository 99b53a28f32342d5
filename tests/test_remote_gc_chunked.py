"""Remote gc of chunked objects (issue 10's last item; docs/remotes.md, "Chunked objects"): a
released chunked version's recipe and the packs only it needed are freed on a directory remote
and on S3 (moto on loopback, unmodified s3fs); a pack partly needed is rewritten, one barely
dead is kept and its dead bytes reported; a tampered remote index is refused, never acted on;
a push that relies on a pack gc is deleting uploads its chunks again before its recipe; and a
kill -9 at random moments never leaves a recipe naming a chunk that is in no pack."""

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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Repo, empty_s3_bucket, make_repo, sha256_file

from gitmodel.config import Retention
from gitmodel.remote import ledger
from gitmodel.remote import packgc as rpackgc
from gitmodel.remote import packs as rpacks
from gitmodel.remote.backends import ObjectRemote, open_remote, recipe_key
from gitmodel.remote.gc import plan_remote_gc, remote_gc, run_plan
from gitmodel.store.packs import PackIndex, Recipe

ART = "models/m.bin"
SIZE = 3 << 20
DAY = 86400
LATER = 15 * DAY  # past the default 14-day grace: what was pushed in the test is old
KILLS = int(os.environ.get("GITMODEL_KILLS", "50"))
SEED = int(os.environ.get("GITMODEL_KILL_SEED", "2026"))
BUCKET = "chunked-gc"


def data_of(seed: int, size: int = SIZE) -> bytes:
    return random.Random(seed).randbytes(size)


def edited(base: bytes, seed: int, share: float) -> bytes:
    """``base`` with ``share`` of it rewritten in one run starting a third of the way in."""
    out = bytearray(base)
    at, length = len(base) // 3, int(len(base) * share)
    out[at:at + length] = random.Random(seed).randbytes(length)
    return bytes(out)


def oid(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def yes(_plan: object) -> bool:
    return True


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    empty_s3_bucket(s3_endpoint, monkeypatch, BUCKET)
    yield f"s3://{BUCKET}/team"


@pytest.fixture(params=["directory", "s3"])
def remote_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "s3":
        return str(request.getfixturevalue("s3_env"))
    store = tmp_path / "store"
    store.mkdir()
    return str(store)


def team_repo(tmp_path: Path, url: str) -> tuple[Repo, Path]:
    """A repo with a git origin, the model remote ``url`` and a 256 KiB chunk threshold."""
    origin = tmp_path / "origin.git"
    repo = make_repo(tmp_path / "alice")
    repo.git("init", "-q", "--bare", str(origin))
    repo.git("remote", "add", "origin", str(origin))
    repo.model("remote", "add", "origin", url, "--default")
    with open(repo.root / ".gitmodel.toml", "a", encoding="utf-8") as toml:
        toml.write('\n[store]\nchunk-threshold = "256k"\n')
    repo.git("add", ".gitmodel.toml")
    repo.commit("model remote, small chunk threshold")
    return repo, origin


def add_version(repo: Repo, data: bytes, version: str | None, *, push: bool = True) -> None:
    repo.write(ART, data)
    repo.model("add", ART)
    repo.commit(f"model {version}")
    if version is not None:
        repo.model("tag", "m", version)
    if push:
        repo.model("push")


def open_of(repo: Repo) -> tuple[Any, ObjectRemote]:
    from gitmodel import config, git
    from gitmodel.workspace import Workspace

    ws = Workspace.open(git.find_repo(repo.root), config.load(repo.root))
    return ws, open_remote(ws.config.remotes["origin"], base=ws.root)


def clone_of(tmp_path: Path, origin: Path, name: str) -> Repo:
    Repo(tmp_path).git("clone", "-q", str(origin), str(tmp_path / name))
    other = Repo(tmp_path / name)
    other.model("install")
    return other


def check_remote(remote: ObjectRemote) -> dict[str, Recipe]:
    """Every recipe on ``remote``, after checking the spec's promise: each chunk it lists is in
    a pack there whose index checks out (no index refused). Returns oid -> recipe."""
    there = rpacks.remote_chunks(remote, None)
    assert not there.damaged, there.damaged
    recipes = {}
    for found in rpackgc.list_recipes(remote):
        data = remote.get_bytes(recipe_key(found))
        recipe = Recipe.decode(data, expected_oid=found, source=found)
        for chunk_id, length in recipe.chunks:
            where = there.locate(chunk_id)
            assert where is not None and where[2] == length, \
                f"the recipe of {found} names chunk {chunk_id.hex()}, in no pack there"
        recipes[found] = recipe
    return recipes


def dead_bytes(remote: ObjectRemote, recipes: dict[str, Recipe]) -> int:
    """Chunk bytes in the remote's packs that no recipe there lists (indexes read afresh)."""
    live = {c for r in recipes.values() for c, _ in r.chunks}
    total = 0
    for name in rpackgc.list_packs(remote):
        if name.endswith(".idx"):
            index = PackIndex.decode(remote.get_bytes(f"packs/{name}"), source=name)
            total += sum(n for c, _, n in index.entries() if c not in live)
    return total


def pack_names(remote: ObjectRemote) -> set[str]:
    return {n[len("pack-"):-len(".pack")] for n in rpackgc.list_packs(remote)
            if n.endswith(".pack")}


# -- freeing released versions -------------------------------------------------------------------

def test_a_released_chunked_version_is_freed_and_the_rest_restores(tmp_path: Path,
                                                                   remote_url: str) -> None:
    repo, origin = team_repo(tmp_path, remote_url)
    datas = [data_of(seed) for seed in range(4)]
    for n, data in enumerate(datas):
        add_version(repo, data, f"v1.{n}.0")
    repo.model("assign", "m", "v1.0.0", "prod")
    repo.git("push", "-q", "origin", "main", "--tags")
    _ws, remote = open_of(repo)
    before = check_remote(remote)
    assert set(before) == {oid(d) for d in datas}
    packs_before = pack_names(remote)
    assert len(packs_before) == 4  # unrelated random files share no chunk

    rules = Retention(keep_versions=2)
    dry = remote_gc(repo.root, rules=rules, now=time.time() + LATER, dry_run=True, confirm=yes)
    assert [r.oid for r in dry.plan.remove] == [oid(datas[1])]
    assert dry.plan.remove[0].chunked and not dry.plan.remove[0].whole
    assert len(dry.plan.packs.of("delete")) == 1
    # what it would free is the released version's pack and recipe, not its logical size
    freed_pack = dry.plan.packs.of("delete")[0]
    assert freed_pack.chunk_bytes == SIZE
    assert dry.plan.remove_bytes == freed_pack.file_bytes + dry.plan.remove[0].recipe_bytes
    assert pack_names(remote) == packs_before  # a dry run deletes nothing

    result = remote_gc(repo.root, rules=rules, now=time.time() + LATER, confirm=yes)
    assert result.removed == [oid(datas[1])]
    assert result.packs.deleted == [freed_pack.name]
    assert result.freed == dry.plan.remove_bytes
    after = check_remote(remote)
    assert set(after) == {oid(datas[i]) for i in (0, 2, 3)}
    assert pack_names(remote) == packs_before - {freed_pack.name}
    # the release log names it, so a checkout says why
    record = ledger.read_gc_records(remote)[-1]
    assert record.state == "done" and record.packs == (freed_pack.name,)

    bob = clone_of(tmp_path, origin, "bob")
    for version, data in (("v1.0.0", datas[0]), ("v1.2.0", datas[2]), ("v1.3.0", datas[3])):
        bob.git("checkout", "-q", "-f", f"m@{version}")
        assert sha256_file(bob.root / ART) == hashlib.sha256(data).hexdigest()
    pulled = bob.model("pull", "m@v1.1.0", check=False)
    assert pulled.returncode == 1 and "released by the retention rule keep-versions = 2" in \
        pulled.stderr

    # and once nothing is left to free, a second gc finds nothing
    again = remote_gc(repo.root, rules=rules, now=time.time() + LATER, dry_run=True)
    assert again.plan.remove == [] and again.plan.packs.freed == 0


def test_a_partly_needed_pack_is_rewritten_and_a_barely_dead_one_kept(tmp_path: Path,
                                                                      remote_url: str) -> None:
    repo, origin = team_repo(tmp_path, remote_url)
    base = data_of(1)
    add_version(repo, base, "v1.0.0")
    ws, remote = open_of(repo)
    (old_pack,) = pack_names(remote)
    mostly_new = edited(base, 2, 0.6)  # shares ~40 % of base's chunks
    add_version(repo, mostly_new, "v1.1.0")
    repo.git("push", "-q", "origin", "main", "--tags")

    plan = plan_remote_gc(ws, remote, rules=Retention(keep_versions=1), now=time.time() + LATER)
    assert [r.oid for r in plan.remove] == [oid(base)]
    (rewrite,) = plan.packs.of("rewrite")
    assert rewrite.name == old_pack
    assert 0.5 <= rewrite.dead_bytes / rewrite.chunk_bytes < 0.75
    result = run_plan(ws, remote, plan)
    ((old, new),) = result.packs.rewritten
    assert old == old_pack and old_pack not in pack_names(remote)
    assert set(new) <= pack_names(remote)
    assert result.packs.moved == rewrite.live_bytes
    recipes = check_remote(remote)
    assert set(recipes) == {oid(mostly_new)}
    assert dead_bytes(remote, recipes) == 0  # the rewrite kept exactly the live chunks
    bob = clone_of(tmp_path, origin, "bob")
    bob.git("checkout", "-q", "m@v1.1.0")
    assert sha256_file(bob.root / ART) == hashlib.sha256(mostly_new).hexdigest()

    # a version that changes little leaves its predecessor's pack below the threshold: kept,
    # and its dead bytes reported
    slightly = edited(mostly_new, 3, 0.1)
    add_version(repo, slightly, "v1.2.0")
    repo.git("push", "-q", "origin", "main", "--tags")
    plan = plan_remote_gc(ws, remote, rules=Retention(keep_versions=1), now=time.time() + LATER)
    assert [r.oid for r in plan.remove] == [oid(mostly_new)]
    assert plan.packs.of("rewrite", "delete") == []
    assert plan.packs.dead_kept > 0 and plan.packs.freed == 0
    run_plan(ws, remote, plan)
    recipes = check_remote(remote)
    assert set(recipes) == {oid(slightly)}
    bob.git("fetch", "-q", "--tags", "origin")
    bob.git("checkout", "-q", "m@v1.2.0")
    assert sha256_file(bob.root / ART) == hashlib.sha256(slightly).hexdigest()


def test_the_command_reports_pack_numbers(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    repo, _origin = team_repo(tmp_path, str(store))
    add_version(repo, data_of(5), "v1.0.0")
    add_version(repo, data_of(6), "v1.1.0")
    repo.git("push", "-q", "origin", "main", "--tags")
    # du --remote says what a remote gc would free under the configured rules
    with open(repo.root / ".gitmodel.toml", "a", encoding="utf-8") as toml:
        toml.write('\n[retention]\nkeep-versions = 1\ngrace = "0"\n')
    du = json.loads(repo.model("du", "--remote", "origin", "--json").stdout)["remote_gc"]
    assert du["objects"] == 1 and du["chunked_objects"] == 1
    assert du["packs"]["delete"] == 1 and du["would_free"] >= SIZE
    assert "`git model gc --remote` would free" in repo.model("du", "--remote", "origin").stdout
    repo.git("checkout", "-q", "--", ".gitmodel.toml")
    # the default grace (14 days) protects packs pushed just now: --grace 0 lets them go
    out = repo.model("gc", "--remote", "origin", "--keep-versions", "1", "--grace", "0",
                     "--dry-run")
    assert "would delete 1 and rewrite 0" in out.stdout, out.stdout
    doc = json.loads(repo.model("gc", "--remote", "origin", "--keep-versions", "1",
                                "--grace", "0", "--yes", "--json").stdout)
    assert doc["packs"]["delete"] == 1 and len(doc["packs"]["deleted"]) == 1
    assert doc["freed"] >= SIZE and doc["packs"]["freed"] >= SIZE


def test_a_second_plan_reads_no_recipe_or_index_again(tmp_path: Path) -> None:
    """Recipes and indexes never change under one upload: the clone's caches answer the next
    plan, which makes only its listings (a constant number, whatever the number of objects)."""
    store = tmp_path / "store"
    store.mkdir()
    repo, _origin = team_repo(tmp_path, str(store))
    for n in range(3):
        add_version(repo, data_of(60 + n, 1 << 20), f"v1.{n}.0")
    ws, remote = open_of(repo)
    shutil.rmtree(ws.store.root / rpacks.REMOTE_INDEX_DIR)
    plan_remote_gc(ws, remote, rules=Retention(keep_versions=1))
    assert remote.calls["get"] == 3 + 3  # each recipe and each index, once
    lists = remote.calls["list"]
    plan = plan_remote_gc(ws, remote, rules=Retention(keep_versions=1))
    assert remote.calls["get"] == 6  # nothing read again
    assert remote.calls["list"] - lists == 2  # recipes/ and packs/
    assert len(plan.remove) == 2


# -- refused input -----------------------------------------------------------------------------

def test_a_tampered_remote_index_is_refused_and_its_pack_left_alone(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    repo, _origin = team_repo(tmp_path, str(store))
    add_version(repo, data_of(7), "v1.0.0")
    add_version(repo, data_of(8), "v1.1.0")
    add_version(repo, data_of(9), "v1.2.0")
    repo.git("push", "-q", "origin", "main", "--tags")
    ws, remote = open_of(repo)
    recipes = check_remote(remote)
    pack_of = {o: rpacks.remote_chunks(remote, None).locate(r.chunks[0][0])[0]  # type: ignore[index]
               for o, r in recipes.items()}
    # the pack of v1.0.0 gets an index that is not its own (bytes swapped): a clone that has
    # no copy of the real one must not judge the pack from it
    victim = pack_of[oid(data_of(7))]
    idx = store / "packs" / f"pack-{victim}.idx"
    raw = bytearray(idx.read_bytes())
    raw[2000] ^= 0xFF
    os.chmod(idx, 0o644)
    idx.write_bytes(bytes(raw))
    # the pack of v1.1.0: a byte of one chunk flipped (its size unchanged)
    rotten = pack_of[oid(data_of(8))]
    pack = store / "packs" / f"pack-{rotten}.pack"
    raw = bytearray(pack.read_bytes())
    raw[100] ^= 0xFF
    os.chmod(pack, 0o644)
    pack.write_bytes(bytes(raw))
    shutil.rmtree(ws.store.root / rpacks.REMOTE_INDEX_DIR)

    plan = plan_remote_gc(ws, remote, rules=Retention(keep_versions=1), now=time.time() + LATER)
    assert {r.oid for r in plan.remove} == {oid(data_of(7)), oid(data_of(8))}
    by_name = {p.name: p for p in plan.packs.packs}
    assert by_name[victim].action == "damaged"
    assert any(f"pack-{victim}.idx was refused" in p for p in plan.packs.problems)
    # a pack whose index checks out is judged by it: all dead, deleted (its bytes unread)
    assert by_name[rotten].action == "delete"
    result = run_plan(ws, remote, plan)
    assert victim in pack_names(remote) and idx.exists()  # left as it is
    assert rotten not in pack_names(remote)
    assert result.packs.failed == []
    assert set(rpackgc.list_recipes(remote)) == {oid(data_of(9))}


def test_a_rewrite_refuses_a_chunk_that_does_not_hash_to_its_id(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    repo, _origin = team_repo(tmp_path, str(store))
    base = data_of(11)
    add_version(repo, base, "v1.0.0")
    ws, remote = open_of(repo)
    (old_pack,) = pack_names(remote)
    add_version(repo, edited(base, 12, 0.6), "v1.1.0")
    repo.git("push", "-q", "origin", "main", "--tags")
    # flip a byte in the first chunk of the old pack: it is shared, so the rewrite copies it
    first = Recipe.decode(remote.get_bytes(recipe_key(oid(base))), expected_oid=oid(base),
                          source="test").chunks[0][0]
    where = rpacks.remote_chunks(remote, None).locate(first)
    assert where is not None and where[0] == old_pack
    pack = store / "packs" / f"pack-{old_pack}.pack"
    raw = bytearray(pack.read_bytes())
    raw[where[1] + 10] ^= 0xFF
    os.chmod(pack, 0o644)
    pack.write_bytes(bytes(raw))

    plan = plan_remote_gc(ws, remote, rules=Retention(keep_versions=1), now=time.time() + LATER)
    assert [p.name for p in plan.packs.of("rewrite")] == [old_pack]
    result = run_plan(ws, remote, plan)
    ((name, why),) = result.packs.failed
    assert name == old_pack and "does not hash" in why
    assert old_pack in pack_names(remote)  # left as it is: nothing of it was lost either
    assert len(pack_names(remote)) == 2  # and no half-made pack was uploaded


# -- a push racing the gc ------------------------------------------------------------------------

def racing_setup(tmp_path: Path, url: str) -> tuple[Repo, Repo, bytes, str]:
    """An unreachable chunked object old on the remote, whose pack gc deletes, and a second
    clone about to push a new file sharing most of its chunks (so it relies on that pack)."""
    repo, origin = team_repo(tmp_path, url)
    add_version(repo, data_of(20), "v1.0.0")
    repo.git("push", "-q", "origin", "main", "--tags")
    repo.git("switch", "-q", "-c", "experiment")
    gone = data_of(21)
    add_version(repo, gone, None)
    repo.git("switch", "-q", "main")
    repo.git("branch", "-q", "-D", "experiment")
    other = clone_of(tmp_path, origin, "other")
    shared = edited(gone, 22, 0.1)
    other.write(ART, shared)
    other.model("add", ART)
    return repo, other, shared, oid(gone)


def test_a_push_seen_by_the_gc_keeps_the_pack_it_relies_on(tmp_path: Path,
                                                           remote_url: str) -> None:
    repo, other, shared, gone = racing_setup(tmp_path, remote_url)
    ws, remote = open_of(repo)
    plan = plan_remote_gc(ws, remote, now=time.time() + LATER)
    assert [r.oid for r in plan.remove] == [gone]
    (doomed,) = plan.packs.of("delete")
    other.model("push")  # reuses 90 % of the doomed pack's chunks, then sends its recipe
    result = run_plan(ws, remote, plan)
    assert result.removed == [gone]
    assert result.spared_packs == [doomed.name] and result.packs.deleted == []
    recipes = check_remote(remote)  # the new recipe's chunks are all there
    assert oid(shared) in recipes
    back = tmp_path / "back"
    remote.download(oid(shared), back, lambda _n: None)
    assert sha256_file(back) == hashlib.sha256(shared).hexdigest()


def test_a_push_during_the_deletes_uploads_the_chunks_again(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    repo, other, shared, _gone = racing_setup(tmp_path, str(store))
    ws, remote = open_of(repo)
    plan = plan_remote_gc(ws, remote, now=time.time() + LATER)
    (doomed,) = plan.packs.of("delete")
    pushing: list[subprocess.Popen[str]] = []

    def push_now() -> None:
        # the plan is on the remote and the ledger was read: this push is too late for the gc
        # to see, so the gc deletes the pack the push found its chunks in
        before = len(remote.list_records(ledger.PUSHES))
        pushing.append(subprocess.Popen([sys.executable, "-m", "gitmodel", "push", "--json"],
                                        cwd=other.root, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True))
        deadline = time.monotonic() + 60
        while len(remote.list_records(ledger.PUSHES)) == before:
            assert time.monotonic() < deadline, "the push never recorded the packs it relies on"
            time.sleep(0.02)

    result = run_plan(ws, remote, plan, before_delete=push_now)
    assert result.packs.deleted == [doomed.name]
    out, err = pushing[0].communicate(timeout=120)
    assert pushing[0].returncode == 0, err
    assert oid(shared) in json.loads(out)["transferred"]
    assert doomed.name not in pack_names(remote)
    recipes = check_remote(remote)
    assert set(recipes) == {oid(data_of(20)), oid(shared)}
    back = tmp_path / "back"
    remote.download(oid(shared), back, lambda _n: None)
    assert sha256_file(back) == hashlib.sha256(shared).hexdigest()


def test_a_push_re_uploads_what_an_existing_recipe_lacks(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    repo, _origin = team_repo(tmp_path, str(store))
    data = data_of(30)
    add_version(repo, data, "v1.0.0")
    _ws, remote = open_of(repo)
    (name,) = pack_names(remote)
    # the pack goes (by hand, or an older gitmodel's bug): the recipe names chunks in no pack
    for suffix in (".idx", ".pack"):
        (store / "packs" / f"pack-{name}{suffix}").unlink()
    with pytest.raises(AssertionError, match="in no pack there"):
        check_remote(remote)
    out = json.loads(repo.model("push", "--json").stdout)
    assert oid(data) in out["reuploaded"]
    check_remote(remote)
    back = tmp_path / "back"
    remote.download(oid(data), back, lambda _n: None)
    assert sha256_file(back) == hashlib.sha256(data).hexdigest()


def test_a_released_chunked_version_pushed_again_after_gc_comes_back_whole(
        tmp_path: Path) -> None:
    """Bob's gc deleted v1.0.0's recipe and pack; alice re-adds the same bytes and pushes. The
    push builds the very same pack again (same name as the one a recent gc record names) and
    must neither trust that record's name nor loop on it: it uploads, then the recipe."""
    store = tmp_path / "store"
    store.mkdir()
    alice, origin = team_repo(tmp_path, str(store))
    first, second = data_of(50), data_of(51)
    add_version(alice, first, "v1.0.0")
    add_version(alice, second, "v1.1.0")
    alice.git("push", "-q", "origin", "main", "--tags")
    _ws, remote = open_of(alice)
    bob = clone_of(tmp_path, origin, "bob")
    result = remote_gc(bob.root, rules=Retention(keep_versions=1), grace=0, confirm=yes)
    assert result.removed == [oid(first)] and len(result.packs.deleted) == 1

    alice.write(ART, first)
    alice.model("add", ART)
    alice.commit("back to the 1.0 weights")
    pushed = alice.git("push", "-q", "origin", "main")
    assert "Traceback" not in pushed.stderr, pushed.stderr
    assert oid(first) in check_remote(remote)
    assert result.packs.deleted[0] in pack_names(remote)  # the same pack, uploaded again
    back = tmp_path / "back"
    remote.download(oid(first), back, lambda _n: None)
    assert sha256_file(back) == hashlib.sha256(first).hexdigest()


# -- kill -9 -------------------------------------------------------------------------------------

GC_SCRIPT = """
import sys, time
from gitmodel.config import Retention
from gitmodel.remote.gc import remote_gc
remote_gc(sys.argv[1], rules=Retention(keep_versions=2), now=time.time() + 15 * 86400,
          confirm=lambda plan: True)
"""


def test_kill_during_chunked_remote_gc_never_leaves_a_recipe_without_its_chunks(
        tmp_path: Path) -> None:
    rng = random.Random(SEED)
    store = tmp_path / "store"
    store.mkdir()
    repo, _origin = team_repo(tmp_path, str(store))
    released = data_of(40)
    datas = [data_of(41), released, edited(released, 42, 0.6), data_of(43)]
    for n, data in enumerate(datas):
        add_version(repo, data, f"v1.{n}.0")
    repo.model("assign", "m", "v1.0.0", "prod")
    # unreachable chunked objects: pushed from a branch since deleted
    repo.git("switch", "-q", "-c", "experiment")
    for seed in (44, 45):
        add_version(repo, data_of(seed, 1 << 20), None)
    repo.git("switch", "-q", "main")
    repo.git("branch", "-q", "-D", "experiment")
    repo.git("push", "-q", "origin", "main", "--tags")
    needed = {oid(datas[i]) for i in (0, 2, 3)}
    # what gc removes, kept aside to put back before each run: the released and unreachable
    # recipes, and every pack (the rewritten one comes back beside its rewrite)
    saved = {p: p.read_bytes() for folder in ("recipes", "packs")
             for p in (store / folder).rglob("*") if p.is_file()}
    cmd = [sys.executable, "-c", GC_SCRIPT, str(repo.root)]
    remote = open_remote(str(store))

    def refill() -> None:
        old = time.time() - 30 * DAY
        for path, data in saved.items():
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                os.utime(path, (old, old))

    def settled() -> None:
        recipes = check_remote(remote)
        assert set(recipes) == needed
        assert dead_bytes(remote, recipes) == 0
        assert all(r.state == "done" for r in ledger.read_gc_records(remote))

    refill()
    for path in saved:
        os.utime(path, (time.time() - 30 * DAY,) * 2)
    started = time.monotonic()
    subprocess.run(cmd, check=True, capture_output=True)
    span = time.monotonic() - started
    settled()
    gc_dir = store / "gitmodel" / "gc"
    torn = between = 0
    for n in range(KILLS):
        refill()
        before = set(gc_dir.iterdir())
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        if n % 2:
            time.sleep(rng.uniform(0, span * 1.2))
        else:  # half the kills aim at the deletes and the rewrite: once the plan is written
            deadline = time.monotonic() + span * 3
            while set(gc_dir.iterdir()) == before and time.monotonic() < deadline:
                time.sleep(0.0005)
            time.sleep(rng.uniform(0, 0.03))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        torn += any(r.state == "pending" for r in ledger.read_gc_records(remote))
        recipes = check_remote(remote)  # the invariant, at whatever moment the kill came
        assert needed <= set(recipes)
        # killed after the recipes went and before the pack pass finished
        between += set(recipes) == needed and dead_bytes(remote, recipes) > 0
        subprocess.run(cmd, check=True, capture_output=True)  # re-runnable, and it finishes
        settled()
    assert torn >= KILLS // 10, f"only {torn} of {KILLS} kills landed inside a gc"
    assert between >= 1, "no kill landed between the recipe deletes and the pack pass"
    print(f"{torn} of {KILLS} kills left a pending gc record, {between} between the recipes "
          "and the end of the pack pass")
    # every kept version still rebuilds byte for byte from the remote
    for data in (datas[0], datas[2], datas[3]):
        back = tmp_path / "back"
        remote.download(oid(data), back, lambda _n: None)
        assert sha256_file(back) == hashlib.sha256(data).hexdigest()
