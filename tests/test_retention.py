"""gitmodel.retention: what model files name, across worktrees, stashes, history and the
registry, from a constant number of git processes (issue 10). Real git repositories."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from conftest import Repo, random_bytes
from hypothesis import given
from hypothesis import strategies as st

from gitmodel import config, git, retention
from gitmodel.errors import ConfigError

ART = "models/m.bin"
MF = ART + ".model.toml"
NONE = retention.Rules(grace=0, keep_days=0, keep_versions=0)


def add(repo: Repo, seed: int, *, path: str = ART, message: str | None = None,
        date: str | None = None) -> str:
    data = random_bytes(2000, seed)
    repo.write(path, data)
    repo.model("add", path)
    if message is not None:
        env = {**os.environ, **({"GIT_COMMITTER_DATE": date, "GIT_AUTHOR_DATE": date}
                                if date else {})}
        subprocess.run(["git", "commit", "-qm", message], cwd=repo.root, check=True, env=env)
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_referenced_covers_history_versions_stages_and_stash(repo: Repo) -> None:
    v1 = add(repo, 1, message="one")
    repo.model("tag", "m", "v1.0.0")
    repo.model("assign", "m", "v1.0.0", "prod")
    v2 = add(repo, 2, message="two")
    stashed = add(repo, 3)
    repo.git("stash", "-q")
    refs = retention.referenced(repo.root)
    assert {v1, v2, stashed} <= set(refs)
    assert any(u.stage == "prod" and u.version == "m@v1.0.0" for u in refs[v1])
    assert any(u.where == "stash@{0}" and u.rule == retention.ALWAYS for u in refs[stashed])
    assert any(u.rule == retention.REACHABLE and u.commit for u in refs[v2])
    assert refs.problems == []


def test_a_side_branch_dropped_by_a_merge_is_still_referenced(repo: Repo) -> None:
    add(repo, 1, message="base")
    repo.git("checkout", "-q", "-b", "side")
    side = add(repo, 2, message="side")
    repo.git("checkout", "-q", "main")
    main = add(repo, 3, message="main")
    repo.git("merge", "-q", "-s", "ours", "--no-edit", "side")  # the merge keeps main's
    repo.git("branch", "-q", "-D", "side")
    refs = retention.referenced(repo.root)
    assert side in refs and main in refs


def test_a_broken_model_file_in_history_is_reported_and_its_oids_kept(repo: Repo) -> None:
    good = add(repo, 1, message="good")
    text = (repo.root / MF).read_text()
    repo.write(MF, text.replace("format = 1", "format = 99"))
    repo.git("add", MF)
    repo.git("commit", "-qm", "broken", "--no-verify")
    repo.write(MF, text)
    repo.git("add", MF)
    repo.git("commit", "-qm", "fixed", "--no-verify")
    refs = retention.referenced(repo.root)
    assert any(u.model == "?" for u in refs[good])
    assert any("format" in p for p in refs.problems)


def test_keep_days_replays_trees_and_drops_what_the_window_replaced(repo: Repo) -> None:
    old_day = "2020-01-01T00:00:00Z"
    before = add(repo, 1, message="old", date=old_day)
    survivor = add(repo, 2, path="models/other.bin", message="old too", date=old_day)
    replaced_in_window = add(repo, 3, message="recent")
    deleted = add(repo, 4, path="models/gone.bin", message="recent 2")
    repo.git("rm", "-q", "models/gone.bin.model.toml")
    repo.git("commit", "-qm", "remove gone")
    needed = retention.needed_locally(repo.root, retention.Rules(grace=0, keep_days=1,
                                                                 keep_versions=0), time.time())
    days = {oid for oid, uses in needed.items()
            if any(u.rule == retention.KEEP_DAYS for u in uses)}
    assert survivor in days  # committed before the window, in every recent tree
    assert replaced_in_window in days
    assert deleted in days  # in a recent tree before its deletion
    assert before not in days  # the window's first commit replaced it
    strict = retention.needed_locally(repo.root, NONE, time.time())
    assert deleted not in strict and before not in strict


def test_keep_versions_counts_active_versions_only(repo: Repo) -> None:
    oids = []
    for n in range(1, 4):
        oids.append(add(repo, n, message=f"v{n}"))
        repo.model("tag", "m", f"v1.{n}.0")
    repo.model("deregister", "m", "v1.3.0")
    needed = retention.needed_locally(
        repo.root, retention.Rules(grace=0, keep_days=0, keep_versions=1), time.time())
    kept = {o for o, uses in needed.items()
            if any(u.rule == retention.KEEP_VERSIONS for u in uses)}
    assert kept == {oids[1]}


def test_other_worktree_index_and_missing_folder(repo: Repo, tmp_path: Path) -> None:
    add(repo, 1, message="one")
    repo.git("worktree", "add", "-q", "--detach", str(tmp_path / "wt"), "HEAD")
    other = Repo(tmp_path / "wt")
    staged = add(other, 7)
    import shutil

    shutil.rmtree(tmp_path / "wt")  # the folder is gone; its index is still in .git/worktrees
    needed = retention.needed_locally(repo.root, NONE, time.time())
    assert staged in needed


def test_git_processes_do_not_grow_with_commits(repo: Repo, monkeypatch: pytest.MonkeyPatch
                                                ) -> None:
    calls: list[list[str]] = []
    real = git.call

    def counting(args: list[str], *rest: object, **kw: object) -> git.Completed:
        calls.append(args)
        return real(args, *rest, **kw)  # type: ignore[arg-type]

    for n in range(3):
        add(repo, 100 + n, message=f"first {n}")
        repo.model("tag", "m", f"v0.0.{n}")
    monkeypatch.setattr(git, "call", counting)
    retention.needed_locally(repo.root, retention.Rules(), time.time())
    retention.referenced(repo.root)
    few = len(calls)
    monkeypatch.setattr(git, "call", real)
    for n in range(1, 16):
        add(repo, n, message=f"c{n}")
        repo.model("tag", "m", f"v0.{n}.0")
    calls.clear()
    monkeypatch.setattr(git, "call", counting)
    retention.needed_locally(repo.root, retention.Rules(), time.time())
    retention.referenced(repo.root)
    assert len(calls) == few, [c[:2] for c in calls]


def test_grace_uses_the_cache_files_times(repo: Repo) -> None:
    needed = retention.needed_locally(repo.root, retention.Rules(grace=60), 1000.0,
                                      cache_times={"sha256:" + "a" * 64: (5, 990.0),
                                                   "sha256:" + "b" * 64: (5, 900.0)})
    assert needed.rules_of("sha256:" + "a" * 64) == {retention.GRACE}
    assert "sha256:" + "b" * 64 not in needed


# -- [gc] durations ------------------------------------------------------------------------

@given(st.integers(min_value=0, max_value=10**6), st.sampled_from("smhdw"))
def test_duration_round_trip(n: int, unit: str) -> None:
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
    assert config.parse_duration(f"{n}{unit}", "x") == n * seconds
    assert config.parse_duration(f" {n}{unit.upper()} ", "x") == n * seconds


@given(st.one_of(st.text(max_size=12), st.integers(), st.floats(), st.booleans(), st.none()))
def test_duration_parser_raises_only_config_errors(value: object) -> None:
    try:
        seconds = config.parse_duration(value, "gc.grace")
    except ConfigError as exc:
        assert "gc.grace" in str(exc)
    else:
        assert seconds >= 0


@pytest.mark.parametrize("bad", ["1 hour", "1.5h", "-1h", "h", "10", "1hm", True, 3600])
def test_duration_refuses(bad: object) -> None:
    with pytest.raises(ConfigError, match="duration"):
        config.parse_duration(bad, "gc.grace")


def test_gc_table_is_strict() -> None:
    assert config.parse_gc({"grace": "0", "keep-days": 3, "keep-versions": "4"}) == \
        config.GcSettings(grace=0, keep_days=3, keep_versions=4)
    with pytest.raises(ConfigError, match="keep_days"):
        config.parse_gc({"keep_days": 3})
    with pytest.raises(ConfigError, match="whole number"):
        config.parse_gc({"keep-versions": -1})


def test_named_since_over_all_refs_sees_a_tag_only_commit(repo: Repo) -> None:
    add(repo, 1, message="base")
    repo.git("checkout", "-q", "--detach")
    tagged = add(repo, 2, message="experiment")
    repo.git("tag", "exp")
    repo.git("checkout", "-q", "main")
    since = int(time.time()) - 3600
    assert tagged in retention.named_since(repo.root, since, ["--all"], rule="recent")
    assert tagged not in retention.named_since(repo.root, since)  # --branches only
    assert tagged not in retention.named_since(repo.root, int(time.time()) + 3600, ["--all"])


def test_keep_days_follows_both_sides_of_a_merge(repo: Repo) -> None:
    add(repo, 1, message="base")
    repo.git("checkout", "-q", "-b", "side")
    side_old = add(repo, 2, message="side 1")
    side_new = add(repo, 3, message="side 2")
    repo.git("checkout", "-q", "main")
    other = add(repo, 4, path="models/other.bin", message="main")
    repo.git("merge", "-q", "--no-edit", "side")
    repo.git("branch", "-q", "-D", "side")
    days = retention.named_since(repo.root, int(time.time()) - 3600)
    assert {side_old, side_new, other} <= set(days)


def test_parsed_blobs_are_remembered_and_a_bad_line_is_ignored(
        repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    oids = [add(repo, n, message=f"c{n}") for n in range(3)]
    first = retention.referenced(repo.root)
    cache = repo.root / ".git" / "model" / retention.PARSED_CACHE
    lines = cache.read_text().splitlines()
    assert len(lines) == 3
    cache.write_text('{"v": "1.1", "blob": "zz"}\nnot json\n' + lines[0][:20] + "\n"
                     + "\n".join(lines[1:]) + "\n")
    calls: list[list[str]] = []
    real = git.call

    def counting(args: list[str], *rest: object, **kw: object) -> git.Completed:
        calls.append(args)
        return real(args, *rest, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(git, "call", counting)
    again = retention.referenced(repo.root)
    assert set(again) == set(first) and set(oids) <= set(again)
    batches = [c for c in calls if c[:2] == ["cat-file", "--batch"]]
    assert len(batches) == 1  # only the blob whose line was damaged is read again
    assert len(cache.read_text().splitlines()) == 6  # 3 damaged, 2 good, 1 read again


def test_pack_rewrite_dead_takes_a_share_or_a_percentage() -> None:
    assert config.parse_gc({}).pack_rewrite_dead == 0.5
    assert config.parse_gc({"pack-rewrite-dead": 0.25}).pack_rewrite_dead == 0.25
    assert config.parse_gc({"pack-rewrite-dead": "75%"}).pack_rewrite_dead == 0.75
    assert config.parse_gc({"pack-rewrite-dead": 1}).pack_rewrite_dead == 1.0
    for bad in ("half", 1.5, -0.1, "120%", True):
        with pytest.raises(ConfigError, match="pack-rewrite-dead"):
            config.parse_gc({"pack-rewrite-dead": bad})


def _needed_here(repo: Repo) -> dict[str, set[str]]:
    """oid -> where each ALWAYS use of it is, under no rule at all."""
    refs = retention.needed_locally(repo.root, NONE, time.time())
    return {oid: {u.where for u in uses if u.rule == retention.ALWAYS}
            for oid, uses in refs.items()}


def test_a_conflicted_merge_keeps_the_side_being_merged(repo: Repo) -> None:
    """Resolved with --ours and staged, the merge's other side is named only by MERGE_HEAD (and
    the side branch, which no rule keeps here): `git checkout MERGE_HEAD -- FILE` must still
    find its bytes."""
    add(repo, 1, message="base")
    repo.git("checkout", "-q", "-b", "side")
    theirs = add(repo, 2, message="side")
    repo.git("checkout", "-q", "main")
    ours = add(repo, 3, message="main")
    merged = repo.git("merge", "--no-edit", "side", check=False)
    assert merged.returncode != 0 and (repo.root / ".git/MERGE_HEAD").is_file()
    repo.git("checkout", "--ours", MF)
    repo.git("add", MF)
    needed = _needed_here(repo)
    assert ours in needed
    assert any("MERGE_HEAD" in where for where in needed.get(theirs, set())), needed


def test_a_stopped_rebase_keeps_the_commits_it_has_still_to_pick(repo: Repo) -> None:
    add(repo, 1, message="base")
    repo.git("checkout", "-q", "-b", "feature")
    first = add(repo, 2, message="feature one")
    last = add(repo, 3, message="feature two")
    repo.git("checkout", "-q", "main")
    add(repo, 4, message="main moves on")
    repo.git("checkout", "-q", "feature")
    stopped = repo.git("rebase", "main", check=False)
    assert stopped.returncode != 0 and (repo.root / ".git/rebase-merge").is_dir()
    repo.git("checkout", "--ours", MF)  # take main's side and carry on later
    repo.git("add", MF)
    needed = _needed_here(repo)
    assert any("REBASE_HEAD" in w for w in needed.get(first, set())), needed
    # the commit still to pick is named only by the rebase's state (and the old branch tip)
    assert any("rebase-merge/" in w or "ORIG_HEAD" in w for w in needed.get(last, set())), needed


def test_operation_files_are_read_as_untrusted(tmp_path: Path) -> None:
    (tmp_path / "rebase-merge").mkdir()
    (tmp_path / "MERGE_HEAD").write_text("a" * 40 + "\n" + "b" * 40 + "\n")
    (tmp_path / "ORIG_HEAD").write_text("not a commit; rm -rf /\n")
    (tmp_path / "rebase-merge/git-rebase-todo").write_text(
        "# comment\npick 1a2b3c4 subject\nfixup -C 5d6e7f8 other\nexec make\n")
    found = git.operation_commits(tmp_path)
    assert sorted(c for c, _ in found) == ["1a2b3c4", "5d6e7f8", "a" * 40, "b" * 40]
