"""Remotes on a directory: push, pull, fetch, fetch-on-checkout, get, and their faults.

Real git throughout: a bare repo on disk is `origin`, teammates are real clones.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import Repo, random_bytes, sha256_file

from gitmodel.remote import RemoteRecord, object_key, open_remote, run_parallel, scheme_of

ART = "models/m.safetensors"


def oid_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def remote_oids(store: Path) -> set[str]:
    objects = store / "objects"
    if not objects.is_dir():
        return set()
    return {f"sha256:{p.parent.name}{p.name}" for p in objects.glob("*/*")}


def cache_oids(repo: Repo) -> set[str]:
    objects = repo.root / ".git" / "model" / "objects"
    return {f"sha256:{p.parent.name}{p.name}" for p in objects.glob("*/*")}


@dataclass
class Team:
    alice: Repo
    origin: Path  # bare git repo
    store: Path  # the model remote (a directory)
    v1: bytes
    v2: bytes
    tmp: Path

    def clone(self, name: str = "bob", *, fetch: bool = False) -> Repo:
        """A teammate's clone; unless ``fetch``, its `install` fetches nothing, so each test
        starts from an empty cache and moves only what it names."""
        target = self.tmp / name
        Repo(self.tmp).git("clone", "-q", str(self.origin), str(target))
        bob = Repo(target)
        if fetch:
            bob.model("install")
            return bob
        bob.git("config", "model.autofetch", "false")
        bob.model("install")
        bob.git("config", "--unset", "model.autofetch")
        return bob


@pytest.fixture
def team(repo: Repo, tmp_path: Path) -> Team:
    store = tmp_path / "store"
    store.mkdir()
    origin = tmp_path / "origin.git"
    repo.git("init", "-q", "--bare", str(origin))
    repo.git("remote", "add", "origin", str(origin))
    repo.model("remote", "add", "origin", str(store), "--default")
    repo.commit("model remote")
    v1, v2 = random_bytes(300_000, 1), random_bytes(400_000, 2)
    repo.write(ART, v1)
    repo.model("add", ART)
    repo.commit("v1")
    repo.git("tag", "-a", "m@v1.0.0", "-m", "m v1.0.0")
    repo.write(ART, v2)
    repo.model("add", ART)
    repo.commit("v2")
    repo.git("tag", "-a", "m@v2.0.0", "-m", "m v2.0.0")
    repo.git("tag", "-a", "m#prod#1", "-m", "m v1.0.0 to prod", "m@v1.0.0^{commit}")
    return Team(repo, origin, store, v1, v2, tmp_path)


def test_remote_add_list_remove(repo: Repo, tmp_path: Path) -> None:
    repo.model("remote", "add", "origin", str(tmp_path / "store"), "--default", "--create")
    repo.model("remote", "add", "minio", "s3://bucket/models", "--endpoint-url",
               "http://127.0.0.1:9000")
    listed = json.loads(repo.model("remote", "list", "--json").stdout)
    assert listed == [
        {"name": "minio", "url": "s3://bucket/models", "default": False,
         "endpoint_url": "http://127.0.0.1:9000"},
        {"name": "origin", "url": str(tmp_path / "store"), "default": True},
    ]
    text = (repo.root / ".gitmodel.toml").read_text()
    assert text.startswith("#") and "[remote.origin]" in text and "[core]" in text
    assert "gitmodel.toml" in repo.git("diff", "--cached", "--name-only").stdout
    again = repo.model("remote", "add", "origin", "/elsewhere", check=False)
    assert again.returncode == 1 and "already exists" in again.stderr
    repo.model("remote", "remove", "minio")
    assert "minio" not in repo.model("remote", "list").stdout


def test_push_then_clone_pulls_identical_artifacts(team: Team) -> None:
    out = team.alice.model("push", "--all-versions")
    assert "uploaded 2 object(s)" in out.stdout
    assert remote_oids(team.store) == {oid_of(team.v1), oid_of(team.v2)}
    assert not any((team.store / "tmp").iterdir())  # no partial upload left behind
    assert "already on" in team.alice.model("push", "--all-versions").stdout
    team.alice.git("push", "-q", "origin", "main", "--tags")

    bob = team.clone()
    assert not (bob.root / ART).exists()
    pulled = bob.model("pull")
    assert "restored m" in pulled.stdout
    assert sha256_file(bob.root / ART) == hashlib.sha256(team.v2).hexdigest()
    assert cache_oids(bob) == {oid_of(team.v2)}  # only what the work tree needs
    status = json.loads(bob.model("status", "--json").stdout)
    assert status["models"][0]["state"] == "clean"


def test_partial_pull_moves_only_that_version(team: Team) -> None:
    team.alice.model("push", "--all-versions")
    team.alice.git("push", "-q", "origin", "main", "--tags")
    bob = team.clone()
    bob.model("fetch", "m@v1.0.0")
    assert cache_oids(bob) == {oid_of(team.v1)}
    assert not (bob.root / ART).exists()  # fetch leaves the work tree alone


def test_fetch_on_checkout_of_an_old_version(team: Team) -> None:
    team.alice.model("push", "--all-versions")
    team.alice.git("push", "-q", "origin", "main", "--tags")
    bob = team.clone()
    bob.model("pull")
    assert oid_of(team.v1) not in cache_oids(bob)  # pull brought the work tree's version only
    checkout = bob.git("checkout", "-q", "m@v1.0.0")
    assert sha256_file(bob.root / ART) == hashlib.sha256(team.v1).hexdigest()
    assert oid_of(team.v1) in cache_oids(bob)  # the checkout itself fetched it
    assert "restored m" in checkout.stderr


def test_checkout_without_a_reachable_remote_still_succeeds(team: Team) -> None:
    team.alice.git("push", "-q", "origin", "main", "--tags")  # uploads v2 only
    bob = team.clone()
    team.store.rename(team.store.with_name("unmounted"))  # the share is gone
    started = time.monotonic()
    result = bob.git("checkout", "-q", "m@v1.0.0")
    assert time.monotonic() - started < 10
    assert not (bob.root / ART).exists()
    assert f"the directory remote {team.store} does not exist" in result.stderr
    assert "mount the share" in result.stderr and "git model pull" in result.stderr
    status = json.loads(bob.model("status", "--json").stdout)
    assert status["models"][0]["state"] == "missing"  # not fetched is not damage
    assert "git model pull m" in status["models"][0]["detail"]


def test_object_the_remote_lacks_names_model_and_version(team: Team) -> None:
    team.alice.git("push", "-q", "--no-verify", "origin", "main", "--tags")
    bob = team.clone()
    result = bob.model("pull", "m@v1.0.0", check=False)
    assert result.returncode == 1
    assert "model m, v1.0.0" in result.stderr and "git model push" in result.stderr


def test_tampered_remote_object_never_enters_the_cache(team: Team) -> None:
    team.alice.model("push")
    team.alice.git("push", "-q", "origin", "main")
    path = team.store / object_key(oid_of(team.v2))
    os.chmod(path, 0o644)
    path.write_bytes(b"evil" + team.v2[4:])
    bob = team.clone()
    result = bob.model("pull", check=False)
    assert result.returncode == 1
    assert "corrupt" in result.stderr and str(team.store) in result.stderr
    assert cache_oids(bob) == set()
    assert not (bob.root / ART).exists()
    assert not list((bob.root / ".git" / "model" / "tmp").iterdir())


def test_interrupted_push_resumes_with_only_what_is_missing(team: Team) -> None:
    # as if a push died after the first object: the second run sends only the rest
    team.alice.model("push")
    assert remote_oids(team.store) == {oid_of(team.v2)}
    out = json.loads(team.alice.model("push", "--all-versions", "--json").stdout)
    assert out["transferred"] == [oid_of(team.v1)] and out["skipped"] == 1


def test_parallel_transfers_stop_at_the_first_failure() -> None:
    done: list[int] = []

    def work(item: int, tick: object) -> None:
        if item == 3:
            raise OSError("disk full")
        done.append(item)

    with pytest.raises(OSError, match="disk full"):
        run_parallel(list(range(100)), work, 1)
    assert done == [0, 1, 2]  # one worker: in order, and nothing after the failure


def test_get_a_stage_into_an_empty_directory(team: Team, tmp_path: Path) -> None:
    team.alice.model("push", "--all-versions")
    team.alice.git("push", "-q", "origin", "main", "--tags")
    out = tmp_path / "deploy"
    result = Repo(tmp_path).model("get", str(team.origin), "m#prod", "-o", str(out),
                                  cwd=tmp_path)
    assert "stage prod" in result.stdout
    assert sha256_file(out / "m.safetensors") == hashlib.sha256(team.v1).hexdigest()
    assert sorted(p.name for p in out.iterdir()) == ["m.safetensors"]
    latest = json.loads(Repo(tmp_path).model("get", str(team.origin), "m", "-o",
                                             str(tmp_path / "latest"), "--json",
                                             cwd=tmp_path).stdout)
    assert latest["version"] == "v2.0.0"
    assert latest["report"]["bytes"] == len(team.v2)
    assert sha256_file(tmp_path / "latest" / "m.safetensors") == hashlib.sha256(
        team.v2).hexdigest()


def test_get_of_an_unknown_version_is_a_clear_error(team: Team, tmp_path: Path) -> None:
    team.alice.git("push", "-q", "--no-verify", "origin", "main", "--tags")
    result = Repo(tmp_path).model("get", str(team.origin), "m@v9.0.0", "-o",
                                  str(tmp_path / "x"), check=False, cwd=tmp_path)
    assert result.returncode == 1 and "v9.0.0" in result.stderr


def test_no_remote_configured(repo: Repo) -> None:
    result = repo.model("push", check=False)
    assert result.returncode == 1 and "git model remote add" in result.stderr


def test_scheme_without_backend_names_what_to_install(repo: Repo) -> None:
    repo.write(ART, random_bytes(1000, 3))
    repo.model("add", ART)
    import importlib.util

    from gitmodel.remote import EXTRAS

    # a scheme whose backend this environment lacks (the test extras install only s3fs)
    scheme, package = next((s, p) for s, p in EXTRAS.items() if importlib.util.find_spec(p) is None)
    repo.model("remote", "add", "other", f"{scheme}://bucket/models", "--default")
    result = repo.model("push", check=False)
    assert result.returncode == 1
    assert f"pip install '{package}'" in result.stderr
    unknown = repo.model("push", "--remote", "nosuch://x/y", check=False)
    assert unknown.returncode == 1 and "nosuch://" in unknown.stderr


def test_scheme_parsing() -> None:
    assert scheme_of("s3://b/p") == "s3"
    assert scheme_of("/srv/models") == ""
    assert scheme_of("file:///srv") == "file"
    assert scheme_of("C:/x") == ""


def test_directory_remote_upload_is_atomic_and_verified(tmp_path: Path) -> None:
    data = random_bytes(3 << 20, 4)
    source = tmp_path / "src"
    source.write_bytes(data)
    (tmp_path / "store").mkdir()
    remote = open_remote(str(tmp_path / "store"))
    oid = oid_of(data)
    seen: list[int] = []

    def interrupt(n: int) -> None:
        seen.append(n)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        remote.upload(oid, source, interrupt)
    assert remote.has([oid]) == set()
    assert not any((tmp_path / "store" / "tmp").iterdir())
    remote.upload(oid, source, lambda n: None)
    assert remote.has([oid]) == {oid}


def test_remote_record_is_a_hint_per_url(tmp_path: Path) -> None:
    a, b = RemoteRecord(tmp_path, "s3://a"), RemoteRecord(tmp_path, "s3://b")
    a.add(["sha256:" + "1" * 64])
    assert a.known() == {"sha256:" + "1" * 64} and b.known() == set()


def test_status_remote_shows_what_is_not_pushed(team: Team) -> None:
    data = json.loads(team.alice.model("status", "--remote", "--json").stdout)
    assert data["models"][0]["unpushed"] == [oid_of(team.v2)]
    assert "not pushed" in team.alice.model("status", "--remote").stdout
    team.alice.model("push")
    data = json.loads(team.alice.model("status", "--remote", "--json").stdout)
    assert data["models"][0]["unpushed"] == []


def test_ctrl_c_mid_push_leaves_no_partial_object_and_resumes(tmp_path: Path) -> None:
    """Ctrl-C mid-push: when the KeyboardInterrupt leaves push_objects, every worker has stopped
    and removed its temp file, so what is on the remote no longer changes and a second push
    resumes exactly. (Workers used to keep writing after the return; on a loaded machine an
    object landed after the count, and the resumed push's numbers were off by one.)"""
    import _thread
    import signal
    import threading

    from gitmodel.remote import Need, push_objects
    from gitmodel.store import ObjectStore

    store = ObjectStore(tmp_path / "cache")
    needs = []
    for i in range(40):
        source = tmp_path / f"f{i}"
        source.write_bytes(random_bytes(2 << 20, 100 + i))
        oid, size = store.put_file(source)
        needs.append(Need(oid, size, "m", "v1"))
    (tmp_path / "store").mkdir()
    remote = open_remote(str(tmp_path / "store"))
    landed = threading.Event()

    def on_sigint(signum: int, frame: object) -> None:
        landed.set()
        raise KeyboardInterrupt

    ticks: list[int] = []

    def progress(n: int) -> None:
        ticks.append(n)
        if len(ticks) == 5:
            _thread.interrupt_main()  # what Ctrl-C does
            # hold this transfer open until the main thread has the interrupt, so it always
            # lands mid-push, however slow the machine
            assert landed.wait(30)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        with pytest.raises(KeyboardInterrupt):
            push_objects(store, remote, needs, jobs=4, progress=progress)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert landed.is_set()
    # (a finished thread can linger in enumerate() for a moment: ask whether it is alive)
    assert not [t for t in threading.enumerate()
                if t.name == "gitmodel-transfer" and t.is_alive()]
    assert not list((tmp_path / "store" / "tmp").iterdir())  # no temp file left behind
    for path in (tmp_path / "store" / "objects").glob("*/*"):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.parent.name + path.name
    first = len(remote_oids(tmp_path / "store"))
    assert first < 40
    report = push_objects(store, remote, needs, jobs=4)
    assert len(report.transferred) == 40 - first and report.skipped == first
    assert remote_oids(tmp_path / "store") == {n.oid for n in needs}


def test_tag_accepts_objects_that_are_only_on_the_default_remote(team: Team) -> None:
    """Issue 3: `tag` refuses objects neither in the cache nor on the default remote."""
    team.alice.git("push", "-q", "origin", "main", "--follow-tags")
    bob = team.clone()
    assert not cache_oids(bob)  # bob never pulled
    bob.write("serve.py", "print('serving')\n")
    bob.git("add", "serve.py")
    bob.commit("code beside alice's model")
    result = bob.model("tag", "m", "v9.0.0", "-m", "bob tags what alice pushed", check=False)
    assert result.returncode == 0, result.stderr
    # with the objects gone from the remote too, the tag is refused
    for path in (team.store / "objects").glob("*/*"):
        path.chmod(0o644)
        path.unlink()
    bob.write("serve.py", "print('serving v2')\n")
    bob.git("add", "serve.py")
    bob.commit("more code")
    result = bob.model("tag", "m", "v9.1.0", check=False)
    assert result.returncode == 1 and "not in the cache" in result.stderr


def test_checkout_of_a_commit_older_than_the_remote_still_fetches(repo: Repo,
                                                                   tmp_path: Path) -> None:
    """The first versions predate `git model remote add`: their .gitmodel.toml names no remote,
    so a clone falls back to the remote it last saw committed."""
    v1 = random_bytes(50_000, 11)
    repo.write(ART, v1)
    repo.model("add", ART)
    repo.commit("v1, before any remote")
    repo.git("tag", "-a", "m@v1.0.0", "-m", "v1")
    repo.model("remote", "add", "origin", str(tmp_path / "store"), "--default", "--create")
    repo.write(ART, random_bytes(50_000, 12))
    repo.model("add", ART)
    repo.commit("v2 and the remote")
    origin = tmp_path / "origin.git"
    repo.git("init", "-q", "--bare", "-b", "main", str(origin))
    repo.git("remote", "add", "origin", str(origin))
    repo.git("push", "-q", "origin", "main", "--follow-tags")
    repo.model("push", "--all-versions")
    bob = Repo(tmp_path / "bob")
    Repo(tmp_path).git("clone", "-q", str(origin), str(bob.root))
    bob.model("install")
    bob.model("pull")
    bob.git("checkout", "-q", "m@v1.0.0")
    assert sha256_file(bob.root / ART) == hashlib.sha256(v1).hexdigest()
