"""Remote gc (issue 10, "The remote"): retention rules release what they say and nothing else, on
a directory remote and on S3 through unmodified s3fs against moto's server on loopback; a stage's
version, a young unreachable object and another repository's objects are kept; an archived
version comes back from the archive; a released one checks out with the retention message; a
push racing a gc puts back what the gc deleted; kill -9 during a gc loses no needed object."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Repo, empty_s3_bucket, make_repo, random_bytes, sha256_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitmodel.config import Retention, parse_retention
from gitmodel.errors import ConfigError, RemoteError
from gitmodel.remote import ledger
from gitmodel.remote.backends import open_remote
from gitmodel.remote.gc import plan_remote_gc, remote_gc, run_plan

ART = "models/m.bin"
DAY = 86400
KILLS = int(os.environ.get("GITMODEL_KILLS", "50"))
SEED = int(os.environ.get("GITMODEL_KILL_SEED", "2026"))
BUCKET = "models"


def oid(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def on_remote(url: str, base: Path) -> set[str]:
    return set(open_remote(url, base=base).inventory())


def yes(_plan: object) -> bool:
    return True


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty bucket on the loopback S3 server; the endpoint and fake credentials in the
    environment, as a user points gitmodel at MinIO."""
    empty_s3_bucket(s3_endpoint, monkeypatch, BUCKET)
    yield f"s3://{BUCKET}/team"


@pytest.fixture(params=["directory", "s3"])
def remote_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "s3":
        return str(request.getfixturevalue("s3_env"))
    store = tmp_path / "store"
    store.mkdir()
    return str(store)


def team_repo(tmp_path: Path, url: str, name: str = "alice") -> tuple[Repo, Path]:
    """A repo with a git origin and the model remote ``url``."""
    origin = tmp_path / f"{name}-origin.git"
    author = make_repo(tmp_path / name)
    author.git("init", "-q", "--bare", str(origin))
    author.git("remote", "add", "origin", str(origin))
    author.model("remote", "add", "origin", url, "--default")
    author.commit("model remote")
    return author, origin


def add_version(repo: Repo, seed: int, version: str | None) -> bytes:
    data = random_bytes(30_000, seed)
    repo.write(ART, data)
    repo.model("add", ART)
    repo.commit(f"model {seed}")
    if version is not None:
        repo.model("tag", "m", version)
    return data


def versions_repo(tmp_path: Path, url: str) -> tuple[Repo, Path, list[bytes]]:
    repo, origin = team_repo(tmp_path, url)
    datas = [add_version(repo, seed, f"v1.{seed}.0") for seed in range(4)]
    repo.model("assign", "m", "v1.0.0", "prod")
    repo.git("push", "-q", "origin", "main", "--tags")
    repo.model("push", "--all-versions")
    return repo, origin, datas


def clone_of(tmp_path: Path, origin: Path, name: str) -> Repo:
    Repo(tmp_path).git("clone", "-q", str(origin), str(tmp_path / name))
    other = Repo(tmp_path / name)
    other.model("install")
    return other


# -- rules ----------------------------------------------------------------------------------------

def test_keep_versions_releases_only_the_older_unstaged_version(tmp_path: Path,
                                                                remote_url: str) -> None:
    repo, origin, datas = versions_repo(tmp_path, remote_url)
    assert on_remote(remote_url, repo.root) == {oid(d) for d in datas}
    result = remote_gc(repo.root, rules=Retention(keep_versions=2), confirm=yes)
    # v1.0.0 is older than the newest two but in stage prod; v1.1.0 is released; v1.2.0 and
    # v1.3.0 are the newest two (v1.3.0 is also the branch tip)
    assert result.removed == [oid(datas[1])]
    assert result.plan.remove[0].rule == "keep-versions = 2"
    assert on_remote(remote_url, repo.root) == {oid(datas[i]) for i in (0, 2, 3)}
    reasons = {k.oid: k.reason for k in result.plan.kept}
    assert reasons[oid(datas[0])] == "stage" and reasons[oid(datas[3])] == "tip"

    # a clone checking the released version out is told why, and does not crash
    bob = clone_of(tmp_path, origin, "bob")
    out = bob.git("checkout", "-q", "m@v1.1.0")
    assert "released by the retention rule keep-versions = 2 on" in out.stderr
    assert "Traceback" not in out.stderr
    pulled = bob.model("pull", "m@v1.1.0", check=False)
    assert pulled.returncode == 1 and "released by the retention rule" in pulled.stderr
    # every kept version still checks out byte for byte
    for version, data in (("v1.0.0", datas[0]), ("v1.2.0", datas[2]), ("v1.3.0", datas[3])):
        bob.git("checkout", "-q", "-f", f"m@{version}")
        assert sha256_file(bob.root / ART) == hashlib.sha256(data).hexdigest()


def test_dry_run_and_no_confirmation_delete_nothing(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    repo, _origin, datas = versions_repo(tmp_path, str(store))
    planned = remote_gc(repo.root, rules=Retention(keep_versions=1), dry_run=True, confirm=yes)
    assert {r.oid for r in planned.plan.remove} == {oid(datas[1]), oid(datas[2])}
    refused = remote_gc(repo.root, rules=Retention(keep_versions=1),
                        confirm=lambda _plan: False)
    assert refused.removed == [] and remote_gc(repo.root, rules=Retention(keep_versions=1)
                                               ).removed == []
    assert on_remote(str(store), repo.root) == {oid(d) for d in datas}


def test_the_command_shows_the_plan_and_deletes_only_when_told(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    repo, _origin, datas = versions_repo(tmp_path, str(store))
    planned = repo.model("gc", "--remote", "origin", "--keep-versions", "2", "--dry-run")
    assert "would remove 1" in planned.stdout and "v1.1.0" in planned.stdout
    assert "keep-versions = 2" in planned.stdout and "a version in a stage" in planned.stdout
    refused = repo.model("gc", "--remote", "origin", "--keep-versions", "2", check=False)
    assert refused.returncode == 1 and "--yes" in refused.stderr
    assert on_remote(str(store), repo.root) == {oid(d) for d in datas}
    done = json.loads(repo.model("gc", "--remote", "origin", "--keep-versions", "2", "--yes",
                                 "--json").stdout)
    assert done["removed"] == [oid(datas[1])] and done["freed"] == len(datas[1])
    assert done["kept"]["stage"]["objects"] == 1
    assert oid(datas[1]) not in on_remote(str(store), repo.root)
    wrong = repo.model("gc", "--forget-repo", "x", check=False)
    assert wrong.returncode == 1 and "--remote" in wrong.stderr


def test_deregistered_and_untagged_rules(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    repo, _ = team_repo(tmp_path, str(store))
    kept = add_version(repo, 0, "v1.0.0")
    gone = add_version(repo, 1, "v1.1.0")
    experiment = add_version(repo, 2, None)  # a commit no tag names
    tip = add_version(repo, 3, "v1.2.0")
    repo.model("deregister", "m", "v1.1.0")
    repo.git("push", "-q", "origin", "main", "--tags")
    for data in (kept, gone, experiment, tip):  # every commit's object is on the remote
        repo.write(ART, data)
        repo.model("add", ART)
        repo.model("push")
    repo.git("checkout", "-q", "-f", "main")
    repo.model("checkout")
    now = time.time()
    rules = Retention(release_deregistered_after=30 * DAY, release_untagged_after=30 * DAY)
    early = plan_remote_gc_of(repo, rules, now + 29 * DAY)
    assert early == set()
    later = plan_remote_gc_of(repo, rules, now + 31 * DAY)
    assert later == {oid(gone), oid(experiment)}
    only_untagged = plan_remote_gc_of(repo, Retention(release_untagged_after=30 * DAY), now + 31 * DAY)
    assert only_untagged == {oid(experiment)}


def plan_remote_gc_of(repo: Repo, rules: Retention, now: float) -> set[str]:
    return {r.oid for r in remote_gc(repo.root, rules=rules, now=now, dry_run=True).plan.remove}


def test_unreachable_objects_wait_for_the_grace_period(tmp_path: Path, remote_url: str) -> None:
    repo, _origin, datas = versions_repo(tmp_path, remote_url)
    repo.git("switch", "-q", "-c", "experiment")
    lost = add_version(repo, 9, None)
    repo.model("push")
    repo.git("switch", "-q", "main")
    repo.git("branch", "-q", "-D", "experiment")
    young = remote_gc(repo.root, confirm=yes)
    assert young.removed == [] and {k.reason for k in young.plan.kept
                                    if k.oid == oid(lost)} == {"young"}
    old = remote_gc(repo.root, confirm=yes, now=time.time() + 15 * DAY)
    assert old.removed == [oid(lost)] and old.plan.remove[0].reason == "unreachable"
    # with no rule, every reachable object stays however old
    assert on_remote(remote_url, repo.root) == {oid(d) for d in datas}


# -- several repositories on one remote ------------------------------------------------------------

def test_another_repositorys_objects_are_kept_or_gc_refuses(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    alice, _ = team_repo(tmp_path, str(store), "alice")
    mine = add_version(alice, 1, "v1.0.0")
    alice.git("push", "-q", "origin", "main", "--tags")
    alice.model("push")
    bob, bob_origin = team_repo(tmp_path, str(store), "bob")
    theirs = add_version(bob, 2, None)
    bob.git("push", "-q", "-u", "origin", "main")
    bob.model("push")
    bob_id = (bob.root / ".git/model/clone-id").read_text().strip()

    later = time.time() + 30 * DAY
    with pytest.raises(RemoteError) as refused:
        remote_gc(alice.root, confirm=yes, now=later)
    assert bob_id in str(refused.value) and "--forget-repo" in str(refused.value)
    assert oid(theirs) in on_remote(str(store), alice.root)

    # reading bob's refs into alice's clone lets gc see what bob needs
    alice.git("fetch", "-q", str(bob_origin), "+refs/heads/*:refs/remotes/bob/*")
    result = remote_gc(alice.root, confirm=yes, now=later)
    assert result.removed == []
    assert on_remote(str(store), alice.root) == {oid(mine), oid(theirs)}

    # forgetting bob explicitly (without his refs) lets gc remove what only he needed
    alice.git("update-ref", "-d", "refs/remotes/bob/main")
    with pytest.raises(RemoteError):
        remote_gc(alice.root, confirm=yes, now=later)
    forgot = remote_gc(alice.root, confirm=yes, now=later, forget_repos=[bob_id])
    assert forgot.removed == [oid(theirs)]
    assert oid(mine) in on_remote(str(store), alice.root)
    with pytest.raises(RemoteError, match="no record"):
        remote_gc(alice.root, dry_run=True, forget_repos=["nobody"])


# -- archive ---------------------------------------------------------------------------------------

def test_archive_then_fetch_from_the_archive(tmp_path: Path, remote_url: str) -> None:
    repo, origin, datas = versions_repo(tmp_path, remote_url)
    cold = tmp_path / "cold"
    cold.mkdir()
    result = remote_gc(repo.root, rules=Retention(keep_versions=1), archive_to=str(cold),
                       confirm=yes)
    released = {oid(datas[1]), oid(datas[2])}
    assert set(result.removed) == released and set(result.archived) == released
    assert released <= on_remote(str(cold), repo.root)
    for path in (cold / "objects").glob("*/*"):
        assert sha256_file(path) == path.parent.name + path.name

    # a clone that does not know the archive is told where the bytes are
    bob = clone_of(tmp_path, origin, "bob")
    out = bob.model("pull", "m@v1.1.0", check=False)
    assert out.returncode == 1 and f"an archived copy is on {cold}" in out.stderr
    assert "released by the retention rule keep-versions = 1" in out.stderr
    deploy = tmp_path / "deploy"
    got = Repo(tmp_path).model("get", str(origin), "m@v1.1.0", "-o", str(deploy), check=False,
                               cwd=tmp_path)
    assert got.returncode == 1 and f"--remote {cold}" in got.stderr
    Repo(tmp_path).model("get", str(origin), "m@v1.1.0", "-o", str(deploy), "--remote",
                         str(cold), cwd=tmp_path)
    assert sha256_file(deploy / "m.bin") == hashlib.sha256(datas[1]).hexdigest()
    # once it is a configured remote, pull and checkout fetch from there
    bob.model("remote", "add", "cold", str(cold))
    bob.commit("the archive")
    bob.model("pull", "m@v1.1.0")
    out = bob.git("checkout", "-q", "m@v1.2.0")  # an old commit: its config names no archive
    assert "Traceback" not in out.stderr, out.stderr
    assert sha256_file(bob.root / ART) == hashlib.sha256(datas[2]).hexdigest()
    bob.git("checkout", "-q", "m@v1.1.0")
    assert sha256_file(bob.root / ART) == hashlib.sha256(datas[1]).hexdigest()
    # and once the repository's default branch names the archive, `get` fetches from there
    bob.git("checkout", "-q", "main")
    bob.git("push", "-q", "origin", "main")
    again = tmp_path / "deploy-again"
    got = Repo(tmp_path).model("get", str(origin), "m@v1.1.0", "-o", str(again), cwd=tmp_path)
    assert sha256_file(again / "m.bin") == hashlib.sha256(datas[1]).hexdigest()
    assert f"from the archive cold ({cold})" in got.stdout + got.stderr


# -- a push racing a gc ----------------------------------------------------------------------------

def racing_setup(tmp_path: Path, url: str) -> tuple[Repo, Repo, bytes]:
    """An object that is unreachable and old on the remote, which a second clone is about to
    push again (from its work tree, which the gc's clone cannot see)."""
    repo, origin, _datas = versions_repo(tmp_path, url)
    repo.git("switch", "-q", "-c", "experiment")
    again = add_version(repo, 9, None)
    repo.model("push")
    repo.git("switch", "-q", "main")
    repo.git("branch", "-q", "-D", "experiment")
    other = clone_of(tmp_path, origin, "other")
    other.model("pull")
    other.write(ART, again)
    other.model("add", ART)
    return repo, other, again


def gc_parts(repo: Repo) -> tuple[Any, Any]:
    from gitmodel import config, git
    from gitmodel.workspace import Workspace

    ws = Workspace.open(git.find_repo(repo.root), config.load(repo.root))
    return ws, open_remote(ws.config.remotes["origin"], base=ws.root)


def test_a_push_seen_by_the_gc_spares_its_objects(tmp_path: Path, remote_url: str) -> None:
    repo, other, again = racing_setup(tmp_path, remote_url)
    ws, remote = gc_parts(repo)
    later = time.time() + 15 * DAY
    plan = plan_remote_gc(ws, remote, now=later)
    assert [r.oid for r in plan.remove] == [oid(again)]
    other.model("push")  # finds the object present and uploads nothing: it relies on it
    result = run_plan(ws, remote, plan)
    assert result.spared == [oid(again)] and result.removed == []
    assert oid(again) in on_remote(remote_url, repo.root)


def test_a_push_during_the_deletes_uploads_again(tmp_path: Path, remote_url: str) -> None:
    repo, other, again = racing_setup(tmp_path, remote_url)
    ws, remote = gc_parts(repo)
    plan = plan_remote_gc(ws, remote, now=time.time() + 15 * DAY)
    pushing: list[subprocess.Popen[str]] = []

    def push_now() -> None:
        # the plan is on the remote and the ledger was read: this push comes too late for the
        # gc to see it, so the gc deletes the object the push finds present
        before = len(remote.list_records(ledger.PUSHES))
        pushing.append(subprocess.Popen([sys.executable, "-m", "gitmodel", "push", "--json"],
                                        cwd=other.root, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True))
        deadline = time.monotonic() + 30
        while len(remote.list_records(ledger.PUSHES)) == before:
            assert time.monotonic() < deadline, "the push never recorded itself"
            time.sleep(0.05)

    result = run_plan(ws, remote, plan, before_delete=push_now)
    assert result.removed == [oid(again)]
    out, err = pushing[0].communicate(timeout=60)
    assert pushing[0].returncode == 0, err
    assert json.loads(out)["reuploaded"] == [oid(again)]
    assert oid(again) in on_remote(remote_url, repo.root)
    back = tmp_path / "back"
    remote.download(oid(again), back, lambda _n: None)
    assert sha256_file(back) == hashlib.sha256(again).hexdigest()


# -- kill -9 ---------------------------------------------------------------------------------------

GC_SCRIPT = """
import sys, time
from gitmodel.config import Retention
from gitmodel.remote.gc import remote_gc
remote_gc(sys.argv[1], rules=Retention(keep_versions=2), now=time.time() + 15 * 86400,
          confirm=lambda plan: True)
"""


def test_kill_during_remote_gc_loses_nothing_needed(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    store = tmp_path / "store"
    store.mkdir()
    repo, _origin, datas = versions_repo(tmp_path, str(store))
    needed = {oid(d) for d in (datas[0], datas[2], datas[3])}  # prod, the newest two
    # unreachable objects to remove, written straight into the remote (its layout is the spec)
    junk = {oid(random_bytes(500, 100 + n)): random_bytes(500, 100 + n) for n in range(300)}
    released = datas[1]
    cmd = [sys.executable, "-c", GC_SCRIPT, str(repo.root)]

    def refill() -> None:
        for key, data in [*junk.items(), (oid(released), released)]:
            path = store / "objects" / key[7:9] / key[9:]
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                old = time.time() - 30 * DAY
                os.utime(path, (old, old))

    refill()
    started = time.monotonic()
    subprocess.run(cmd, check=True, capture_output=True)
    span = time.monotonic() - started
    assert on_remote(str(store), repo.root) == needed
    gc_dir = store / "gitmodel" / "gc"
    torn = 0  # kills that left a pending gc record: between the plan and its end
    for n in range(KILLS):
        refill()
        before = set(gc_dir.iterdir())
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        if n % 2:
            time.sleep(rng.uniform(0, span * 1.2))
        else:  # half the kills aim at the deletes: just after the plan is on the remote
            deadline = time.monotonic() + span * 3
            while set(gc_dir.iterdir()) == before and time.monotonic() < deadline:
                time.sleep(0.0005)
            time.sleep(rng.uniform(0, 0.02))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        pending = [r for r in ledger.read_gc_records(open_remote(str(store)))
                   if r.state == "pending"]
        torn += bool(pending)
        left = on_remote(str(store), repo.root)
        assert needed <= left  # never a needed object lost
        for key in left:  # every object still whole under its name
            path = store / "objects" / key[7:9] / key[9:]
            assert "sha256:" + sha256_file(path) == key
        subprocess.run(cmd, check=True, capture_output=True)  # re-runnable, and it finishes
        assert on_remote(str(store), repo.root) == needed
        records = ledger.read_gc_records(open_remote(str(store)))
        assert all(r.state == "done" for r in records)
    assert torn >= KILLS // 10, f"only {torn} of {KILLS} kills landed inside a gc's deletes"
    print(f"{torn} of {KILLS} kills left a pending gc record")
    # the release log still explains the released version
    found = ledger.released(open_remote(str(store)), [oid(released)])
    assert found[oid(released)].removal.rule == "keep-versions = 2"


# -- configuration ---------------------------------------------------------------------------------

def test_retention_table_is_parsed_strictly(tmp_path: Path) -> None:
    assert parse_retention({}) == Retention()
    assert parse_retention({"keep-versions": "all"}).keep_versions is None
    assert parse_retention({"keep-versions": 3, "grace": "0"}) == Retention(keep_versions=3,
                                                                            grace=0)
    assert parse_retention({"release-untagged-after": "2w"}).release_untagged_after == 14 * DAY
    for bad in ({"keep_versions": 3}, {"keep-versions": -1}, {"grace": True},
                {"release-untagged-after": 30}, {"keep-versions": 1.5}, {"grace": "14 days"}):
        with pytest.raises(ConfigError, match="retention"):
            parse_retention(bad)
    repo = make_repo(tmp_path / "r")
    repo.write(".gitmodel.toml", "[retention]\nkeep-versions = 2\n"
               "release-untagged-after = \"30d\"\n")
    from gitmodel import config

    assert config.load(repo.root).retention == Retention(keep_versions=2,
                                                         release_untagged_after=30 * DAY)
    repo.write(".gitmodel.toml", "[retention]\nkeep-versoins = 2\n")
    assert repo.model("status", check=False).returncode == 0  # a hook is never stopped by it
    with pytest.raises(ConfigError, match="keep-versoins"):
        remote_gc(repo.root, dry_run=True)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["keep-versions", "release-deregistered-after",
                                        "release-untagged-after", "grace", "other"]),
                       st.one_of(st.integers(-5, 10**6), st.booleans(), st.none(),
                                 st.from_regex(r"\A[0-9]{1,4}[smhdwx]?\Z"), st.just("all"),
                                 st.floats(allow_nan=False))))
def test_retention_parse_accepts_exactly_counts_and_durations(table: dict[str, Any]) -> None:
    def valid(key: str, value: object) -> bool:
        if key == "keep-versions":
            return value == "all" or (isinstance(value, int) and not isinstance(value, bool)
                                      and value >= 0) or (isinstance(value, str)
                                                          and value.isdigit())
        if key == "other":
            return False
        if isinstance(value, int) and not isinstance(value, bool):
            return value == 0
        return isinstance(value, str) and (value == "0" or (
            value[-1:] in "smhdw" and value[:-1].isdigit() and value[-1:] != ""))

    expected = all(valid(k, v) for k, v in table.items())
    try:
        parse_retention(table)
    except ConfigError:
        assert not expected
        return
    assert expected


def test_inventory_lists_in_few_calls_on_s3(s3_env: str, tmp_path: Path) -> None:
    """2,500 objects are listed with their sizes and times in 3 ListObjectsV2 pages."""
    remote = open_remote(s3_env)
    fs = remote.fs  # type: ignore[attr-defined]
    datas = [f"object {n}".encode() for n in range(2500)]
    fs.pipe({f"{remote.root}/objects/{oid(d)[7:9]}/{oid(d)[9:]}": d  # type: ignore[attr-defined]
             for d in datas})
    calls = []
    original = fs._call_s3

    async def counting(method: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(method)
        return await original(method, *args, **kwargs)

    fs._call_s3 = counting
    listed = remote.inventory()
    assert set(listed) == {oid(d) for d in datas}
    assert all(listed[oid(d)].size == len(d) and listed[oid(d)].uploaded for d in datas)
    assert calls.count("list_objects_v2") <= 3 and len(calls) <= 4, calls


def test_a_git_push_records_the_pushed_tips_in_this_clones_repository_record(
        tmp_path: Path) -> None:
    """The pre-push hook hands git's ref updates to the record: a branch pushed for the first
    time is protected at once, before any fetch has made a remote-tracking ref for it."""
    store = tmp_path / "store"
    store.mkdir()
    repo, _origin = team_repo(tmp_path, str(store))
    repo.git("checkout", "-q", "-b", "feature")
    add_version(repo, 7, None)
    pushed = repo.git("push", "-q", "origin", "feature")
    assert "Traceback" not in pushed.stderr
    tip = repo.git("rev-parse", "HEAD").stdout.strip()
    records = ledger.read_repositories(open_remote(str(store), base=repo.root))
    assert len(records) == 1
    assert records[0].tips.get("refs/heads/feature") == tip


# -- the pre-push hook's record of what the remote holds ----------------------------------------

def test_a_push_after_another_clones_gc_uploads_a_released_object_again(
        tmp_path: Path, remote_url: str) -> None:
    """The hook's local record said the remote had v1.1.0's object; bob's remote gc released
    it. Alice re-adds the same bytes and pushes: the hook sees the new gc record (one listing),
    drops the record and uploads the object again instead of trusting it."""
    alice, origin, datas = versions_repo(tmp_path, remote_url)
    record = next((alice.root / ".git/model/remotes").glob("*.oids"))
    assert oid(datas[1]) in record.read_text()
    bob = clone_of(tmp_path, origin, "bob")
    result = remote_gc(bob.root, rules=Retention(keep_versions=2), confirm=yes)
    assert result.removed == [oid(datas[1])]
    assert oid(datas[1]) in record.read_text()  # alice's clone cannot know yet

    alice.write(ART, datas[1])
    alice.model("add", ART)
    alice.commit("back to the 1.1 weights")
    pushed = alice.git("push", "-q", "origin", "main")
    assert "Traceback" not in pushed.stderr, pushed.stderr
    assert oid(datas[1]) in on_remote(remote_url, alice.root)
    assert "uploaded 1 model object" in pushed.stderr

    # with no gc since, the record holds again: the next push relies on it and uploads nothing
    alice.write(ART, datas[3])
    alice.model("add", ART)
    alice.commit("the 1.3 weights again")
    again = alice.git("push", "-q", "origin", "main")
    assert "uploaded" not in again.stderr, again.stderr


def test_a_repository_record_no_push_refreshed_expires_only_under_the_rule(
        tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    alice, _ = team_repo(tmp_path, str(store), "alice")
    mine = add_version(alice, 1, "v1.0.0")
    alice.git("push", "-q", "origin", "main", "--tags")
    bob, _ = team_repo(tmp_path, str(store), "bob")
    theirs = add_version(bob, 2, None)
    bob.git("push", "-q", "-u", "origin", "main")
    bob_id = (bob.root / ".git/model/clone-id").read_text().strip()
    assert {oid(mine), oid(theirs)} <= on_remote(str(store), alice.root)

    later = time.time() + 30 * DAY
    # no rule (the default): bob's record never expires, gc still refuses
    with pytest.raises(RemoteError, match=bob_id):
        remote_gc(alice.root, confirm=yes, now=later)
    # the rule, not yet reached: still refused
    with pytest.raises(RemoteError, match=bob_id):
        remote_gc(alice.root, confirm=yes, now=time.time() + 10 * DAY,
                  rules=Retention(forget_repos_after=20 * DAY))
    rules = Retention(forget_repos_after=20 * DAY)
    planned = remote_gc(alice.root, dry_run=True, now=later, rules=rules)
    assert [i for i, _ in planned.plan.expired] == [bob_id]
    assert {r.oid for r in planned.plan.remove} == {oid(theirs)}
    assert oid(theirs) in on_remote(str(store), alice.root)  # a dry run forgets nothing
    done = remote_gc(alice.root, confirm=yes, now=later, rules=rules)
    assert done.removed == [oid(theirs)]
    remote = open_remote(str(store), base=alice.root)
    assert bob_id not in {r.id for r in ledger.read_repositories(remote)}
    assert oid(mine) in on_remote(str(store), alice.root)


def test_the_command_reports_an_expired_record_from_the_config(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    alice, _ = team_repo(tmp_path, str(store), "alice")
    add_version(alice, 1, "v1.0.0")
    alice.git("push", "-q", "origin", "main", "--tags")
    bob, _ = team_repo(tmp_path, str(store), "bob")
    add_version(bob, 2, None)
    bob.git("push", "-q", "-u", "origin", "main")
    bob_id = (bob.root / ".git/model/clone-id").read_text().strip()
    path = store / "gitmodel/repos" / f"{bob_id}.json"
    doc = json.loads(path.read_text())
    doc["written"] = "2020-01-01T00:00:00Z"  # bob stopped pushing long ago
    path.write_text(json.dumps(doc))

    refused = alice.model("gc", "--remote", "origin", "--dry-run", check=False)
    assert refused.returncode == 1 and bob_id in refused.stderr
    with open(alice.root / ".gitmodel.toml", "a") as config:
        config.write('\n[retention]\nforget-repos-after = "90d"\n')
    planned = alice.model("gc", "--remote", "origin", "--dry-run")
    assert f"forgets repository {bob_id} (last push 2020-01-01T00:00:00Z" in planned.stdout
    assert path.exists()
    as_json = json.loads(alice.model("gc", "--remote", "origin", "--dry-run", "--json").stdout)
    assert as_json["expired"] == [{"id": bob_id, "last_push": "2020-01-01T00:00:00Z"}]


def test_an_unchanged_repository_record_is_rewritten_once_a_day_old(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    remote = open_remote(str(store))
    model_dir = tmp_path / "model"
    tips = {"refs/heads/main": "a" * 40}
    start = time.time()
    ledger.record_repository(remote, model_dir, tips=tips, now=start)
    ledger.record_repository(remote, model_dir, tips=tips, now=start + 3600)
    assert ledger.read_repositories(remote)[0].written == ledger._iso(start)
    ledger.record_repository(remote, model_dir, tips=tips, now=start + 2 * DAY)
    assert ledger.read_repositories(remote)[0].written == ledger._iso(start + 2 * DAY)
