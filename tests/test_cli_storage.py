"""`git model gc` and `du` (issue 10): every "needed here" rule has a test that would delete the
object if the rule were missing, each beside a control object that the same run does remove (so
the test fails if gc removes nothing). Real git, a real directory remote, the loopback S3 server."""

from __future__ import annotations

import hashlib
import json
import os
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import Repo, make_repo, random_bytes

ART = "models/m.bin"
STRICT = ("--grace", "0", "--keep-days", "0", "--keep-versions", "0")


def oid_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def cached(repo: Repo, data: bytes) -> bool:
    digest = hashlib.sha256(data).hexdigest()
    return (repo.root / ".git" / "model" / "objects" / digest[:2] / digest[2:]).is_file()


@pytest.fixture
def remote_repo(tmp_path: Path) -> Repo:
    repo = make_repo(tmp_path / "repo")
    (tmp_path / "remote").mkdir()
    repo.model("remote", "add", "origin", str(tmp_path / "remote"), "--default")
    repo.commit("remote")
    return repo


def version(repo: Repo, seed: int, *, commit: bool = True, push: bool = True) -> bytes:
    data = random_bytes(3000, seed)
    repo.write(ART, data)
    repo.model("add", ART)
    if commit:
        repo.commit(f"model {seed}")
    if push:
        repo.model("push")
    return data


def gc(repo: Repo, *args: str) -> dict[str, object]:
    out = repo.model("gc", "--json", *args)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_old_commit_is_removed_and_the_work_tree_kept(remote_repo: Repo) -> None:
    old = version(remote_repo, 1)
    new = version(remote_repo, 2)
    report = gc(remote_repo, *STRICT)
    assert not cached(remote_repo, old)
    assert cached(remote_repo, new)
    assert report["freed"] == 3000
    assert report["kept"]["always"]["objects"] == 1  # type: ignore[index]


def test_staged_but_uncommitted_is_kept(remote_repo: Repo) -> None:
    old = version(remote_repo, 1)
    version(remote_repo, 2)
    staged = version(remote_repo, 3, commit=False)
    # only the index names version 3: the work tree's model file goes back to HEAD's
    head_file = remote_repo.git("show", "HEAD:" + ART + ".model.toml").stdout
    remote_repo.write(ART + ".model.toml", head_file)
    gc(remote_repo, *STRICT)
    assert cached(remote_repo, staged)
    assert not cached(remote_repo, old)


def test_stashed_is_kept(remote_repo: Repo) -> None:
    old = version(remote_repo, 1)
    version(remote_repo, 2)
    stashed = version(remote_repo, 3, commit=False)
    remote_repo.git("stash", "-q")
    assert (remote_repo.root / (ART + ".model.toml")).read_text() == \
        remote_repo.git("show", "HEAD:" + ART + ".model.toml").stdout
    gc(remote_repo, *STRICT)
    assert cached(remote_repo, stashed)
    assert not cached(remote_repo, old)


def test_another_worktrees_head_is_kept(remote_repo: Repo, tmp_path: Path) -> None:
    old = version(remote_repo, 1)
    other = version(remote_repo, 2)
    remote_repo.git("worktree", "add", "-q", "--detach", str(tmp_path / "wt2"), "HEAD")
    version(remote_repo, 3)
    report = gc(remote_repo, *STRICT)
    assert cached(remote_repo, other)
    assert not cached(remote_repo, old)
    uses = [o["use"] for o in report["kept_objects"]]  # type: ignore[union-attr]
    assert any(str(tmp_path / "wt2") in u for u in uses)


def test_a_stages_version_is_kept_and_checks_out_byte_identical(remote_repo: Repo) -> None:
    old = version(remote_repo, 1)
    prod = version(remote_repo, 2)
    remote_repo.model("tag", "m", "v1.0.0")
    remote_repo.model("assign", "m", "v1.0.0", "prod")
    version(remote_repo, 3)
    gc(remote_repo, *STRICT)
    assert cached(remote_repo, prod)
    assert not cached(remote_repo, old)
    remote_repo.git("checkout", "-q", "m@v1.0.0")
    assert (remote_repo.root / ART).read_bytes() == prod


def test_unpushed_is_kept_unless_unpushed_and_yes(remote_repo: Repo) -> None:
    pushed = version(remote_repo, 1)
    lonely = version(remote_repo, 2, push=False)
    version(remote_repo, 3)
    report = gc(remote_repo, *STRICT)
    assert cached(remote_repo, lonely)
    assert not cached(remote_repo, pushed)
    assert report["kept"]["unpushed"]["objects"] == 1  # type: ignore[index]
    refused = remote_repo.model("gc", "--unpushed", *STRICT, check=False)
    assert refused.returncode == 1
    assert oid_of(lonely) in refused.stdout  # listed before anything happens
    assert cached(remote_repo, lonely)
    remote_repo.model("gc", "--unpushed", "--yes", *STRICT)
    assert not cached(remote_repo, lonely)


def test_object_added_one_second_ago_is_kept_by_grace(remote_repo: Repo) -> None:
    old = version(remote_repo, 1)
    version(remote_repo, 2)
    # an add in flight: the object is in the cache (and the remote), no model file names it yet
    in_flight = random_bytes(3000, 99)
    remote_repo.write("models/next.bin", in_flight)
    remote_repo.model("add", "models/next.bin")
    remote_repo.model("push")
    remote_repo.git("rm", "-q", "--cached", "models/next.bin.model.toml")
    (remote_repo.root / "models/next.bin.model.toml").unlink()
    time.sleep(1)
    gc(remote_repo, "--keep-days", "0", "--keep-versions", "0")  # default grace: 1 hour
    assert cached(remote_repo, in_flight)
    assert cached(remote_repo, old)  # also young: the grace period covers it too
    gc(remote_repo, *STRICT)
    assert not cached(remote_repo, in_flight)


def test_keep_days_keeps_recent_commits(remote_repo: Repo) -> None:
    old = version(remote_repo, 1)
    version(remote_repo, 2)
    gc(remote_repo, "--grace", "0", "--keep-versions", "0")  # keep-days: 7 by default
    assert cached(remote_repo, old)
    gc(remote_repo, "--grace", "0", "--keep-versions", "0", "--keep-days", "0")
    assert not cached(remote_repo, old)


def test_keep_days_reads_commits_that_did_not_touch_the_model(remote_repo: Repo) -> None:
    """A model file committed before the window is still in every recent commit's tree."""
    env_old = {"GIT_COMMITTER_DATE": "2020-01-01T00:00:00Z"}
    data = random_bytes(3000, 5)
    remote_repo.write(ART, data)
    remote_repo.model("add", ART)
    import subprocess
    subprocess.run(["git", "commit", "-qm", "old"], cwd=remote_repo.root, check=True,
                   env={**os.environ, **env_old})
    remote_repo.model("push")
    remote_repo.write("train.py", "print(2)\n")
    remote_repo.git("commit", "-qam", "recent, no model change")
    replaced = version(remote_repo, 6)  # now HEAD names another; the recent commit names `data`
    assert replaced != data
    gc(remote_repo, "--grace", "0", "--keep-versions", "0", "--keep-days", "1")
    assert cached(remote_repo, data)


def test_keep_versions_keeps_the_newest_and_they_check_out(remote_repo: Repo) -> None:
    datas = []
    for n in range(1, 5):
        datas.append(version(remote_repo, n))
        remote_repo.model("tag", "m", f"v1.{n}.0")
    report = gc(remote_repo, "--grace", "0", "--keep-days", "0")  # keep-versions: 2
    assert [cached(remote_repo, d) for d in datas] == [False, False, True, True]
    assert report["kept"]["keep-versions"]["objects"] == 1  # type: ignore[index]
    for n in (3, 4):
        remote_repo.git("checkout", "-q", f"m@v1.{n}.0")
        assert (remote_repo.root / ART).read_bytes() == datas[n - 1]


def test_dry_run_removes_nothing_and_du_agrees(remote_repo: Repo) -> None:
    old = version(remote_repo, 1)
    version(remote_repo, 2)
    report = gc(remote_repo, "--dry-run", *STRICT)
    assert report["removed"] == [{"oid": oid_of(old), "size": 3000}]
    assert cached(remote_repo, old)
    du = json.loads(remote_repo.model("du", "--json").stdout)
    assert du["totals"]["cache_objects"] == 2
    assert du["totals"]["only_local_bytes"] == 0
    assert du["models"][0]["model"] == "m"
    text = remote_repo.model("gc", "--dry-run", *STRICT).stdout
    assert "would remove 1 object(s)" in text and "in a worktree" in text


def test_scratch_is_emptied(remote_repo: Repo) -> None:
    version(remote_repo, 1)
    cache = remote_repo.root / ".git" / "model"
    (cache / "tmp").mkdir(exist_ok=True)
    stale = cache / "tmp" / "put-stale"
    stale.write_bytes(b"x" * 100)
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    fresh = cache / "tmp" / "put-fresh"
    fresh.write_bytes(b"y")
    report = gc(remote_repo)
    kinds = {Path(s["path"]).name for s in report["scratch"]}  # type: ignore[union-attr]
    assert "put-stale" in kinds
    assert not stale.exists() and fresh.exists()  # a write in flight is left alone


def test_no_remote_keeps_everything(repo: Repo) -> None:
    data = random_bytes(3000, 1)
    repo.write(ART, data)
    repo.model("add", ART)
    repo.commit("m")
    repo.write(ART, random_bytes(3000, 2))
    repo.model("add", ART)
    repo.commit("m2")
    out = repo.model("gc", *STRICT).stdout
    assert cached(repo, data)
    assert "no model remote" in out


def test_bad_gc_config_is_named(remote_repo: Repo) -> None:
    bad_flag = remote_repo.model("gc", "--grace", "soon", check=False)
    assert bad_flag.returncode == 1 and "--grace" in bad_flag.stderr
    with open(remote_repo.root / ".gitmodel.toml", "a") as stream:
        stream.write('\n[gc]\ngrace = "1 hour"\n')
    out = remote_repo.model("gc", "--dry-run", check=False)
    assert out.returncode == 1
    assert "gc.grace" in out.stderr and "1 hour" in out.stderr
    remote_repo.model("status")  # only du and gc read [gc]: the rest is unaffected
    remote_repo.git("commit", "-qam", "bad gc settings")  # the pre-commit hook too


def test_remote_gc_is_wired(remote_repo: Repo) -> None:
    # remote gc itself is tested in tests/test_remote_gc.py; here: the option reaches it
    out = remote_repo.model("gc", "--remote", "origin", "--dry-run")
    assert "would remove 0, 0 B" in out.stdout


def test_gc_asks_the_s3_remote(tmp_path: Path, s3_endpoint: str,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    import s3fs

    urllib.request.urlopen(urllib.request.Request(f"{s3_endpoint}/moto-api/reset",
                                                  method="POST")).read()
    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                       ("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_ENDPOINT_URL", s3_endpoint),
                       ("AWS_EC2_METADATA_DISABLED", "true")):
        monkeypatch.setenv(key, value)
    fs = s3fs.S3FileSystem(endpoint_url=s3_endpoint, key="testing", secret="testing",
                           skip_instance_cache=True)
    fs.mkdir("gc-bucket")
    repo = make_repo(tmp_path / "repo")
    repo.model("remote", "add", "origin", "s3://gc-bucket/models", "--default")
    repo.commit("remote")
    old = version(repo, 1)
    lonely = version(repo, 2, push=False)
    version(repo, 3)
    gc(repo, *STRICT)
    assert not cached(repo, old)
    assert cached(repo, lonely)
    du = json.loads(repo.model("du", "--json").stdout)
    assert du["totals"]["only_remote_bytes"] == 3000  # `old`: on S3, no longer here


def test_gc_from_a_linked_worktree_keeps_the_main_worktrees_models(remote_repo: Repo,
                                                                   tmp_path: Path) -> None:
    old = version(remote_repo, 1)
    version(remote_repo, 2)
    staged_in_main = version(remote_repo, 3, commit=False)
    remote_repo.git("worktree", "add", "-q", "--detach", str(tmp_path / "wt2"), "HEAD")
    linked = Repo(tmp_path / "wt2")
    linked.model("gc", *STRICT)
    assert cached(remote_repo, staged_in_main)
    assert not cached(remote_repo, old)


def test_du_compares_with_a_named_remote(remote_repo: Repo, tmp_path: Path) -> None:
    version(remote_repo, 1)
    (tmp_path / "empty").mkdir()
    remote_repo.model("remote", "add", "empty", str(tmp_path / "empty"))
    du = json.loads(remote_repo.model("du", "--json", "--remote", "empty").stdout)
    assert du["totals"]["only_local_bytes"] == 3000
    default = json.loads(remote_repo.model("du", "--json").stdout)
    assert default["totals"]["only_local_bytes"] == 0
