"""Every way git moves a model file restores its artifact: real hooks fired by real git."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Repo, random_bytes, sha256_file

ART = "models/m.safetensors"


def two_versions(repo: Repo) -> tuple[str, str]:
    repo.write(ART, random_bytes(50_000, 1))
    repo.model("add", ART)
    repo.commit("v1")
    first = sha256_file(repo.root / ART)
    repo.write(ART, random_bytes(60_000, 2))
    repo.model("add", ART)
    repo.commit("v2")
    return first, sha256_file(repo.root / ART)


def status_of(repo: Repo, name: str = "m") -> str:
    data = json.loads(repo.model("status", "--json").stdout)
    return next(m["state"] for m in data["models"] if m["name"] == name)


def test_checkout_of_commit_branch_and_tag(repo: Repo) -> None:
    v1, v2 = two_versions(repo)
    repo.git("tag", "-a", "m@v1.0.0", "-m", "v1", "HEAD~1")
    repo.git("branch", "old", "HEAD~1")
    repo.git("checkout", "-q", "old")
    assert sha256_file(repo.root / ART) == v1
    repo.git("checkout", "-q", "main")
    assert sha256_file(repo.root / ART) == v2
    repo.git("checkout", "-q", "m@v1.0.0")
    assert sha256_file(repo.root / ART) == v1
    repo.git("switch", "-q", "main")
    assert sha256_file(repo.root / ART) == v2
    assert status_of(repo) == "clean"


def test_checkout_rev_path_and_restore_flag_zero(repo: Repo) -> None:
    v1, v2 = two_versions(repo)
    repo.git("checkout", "HEAD~1", "--", ART + ".model.toml")
    assert sha256_file(repo.root / ART) == v1
    repo.git("restore", "--source=HEAD", "--staged", "--worktree", ART + ".model.toml")
    assert sha256_file(repo.root / ART) == v2


def test_merge_fast_forward_and_pull(repo: Repo, tmp_path: Path) -> None:
    v1, v2 = two_versions(repo)
    repo.git("branch", "feature")
    repo.git("reset", "-q", "--hard", "HEAD~1")
    assert sha256_file(repo.root / ART) == v1
    repo.git("merge", "-q", "--ff-only", "feature")
    assert sha256_file(repo.root / ART) == v2
    assert status_of(repo) == "clean"
    # and `git pull` (a fetch, then the same merge) from a repository that has the newer commit
    repo.git("reset", "-q", "--hard", "HEAD~1")
    assert sha256_file(repo.root / ART) == v1
    repo.git("pull", "-q", "--ff-only", str(repo.root), "feature")
    assert sha256_file(repo.root / ART) == v2
    assert status_of(repo) == "clean"


def test_true_merge_brings_the_other_sides_model(repo: Repo) -> None:
    repo.git("switch", "-q", "-c", "feature")
    repo.write("models/other.pt", random_bytes(10_000, 5))
    repo.model("add", "models/other.pt")
    repo.commit("other model")
    other = sha256_file(repo.root / "models/other.pt")
    repo.git("switch", "-q", "main")
    assert not (repo.root / "models/other.pt").exists()
    repo.write("code.py", "x = 1\n")
    repo.git("add", "code.py")
    repo.commit("code")
    repo.git("merge", "-q", "--no-edit", "feature")
    assert sha256_file(repo.root / "models/other.pt") == other


def test_rebase_restores_the_rebased_model(repo: Repo) -> None:
    repo.git("switch", "-q", "-c", "feature")
    repo.write(ART, random_bytes(20_000, 7))
    repo.model("add", ART)
    repo.commit("model on feature")
    feature = sha256_file(repo.root / ART)
    repo.git("switch", "-q", "main")
    assert not (repo.root / ART).exists()
    repo.write("code.py", "x = 2\n")
    repo.git("add", "code.py")
    repo.commit("code on main")
    repo.git("switch", "-q", "feature")
    repo.git("rebase", "-q", "main")
    assert sha256_file(repo.root / ART) == feature
    assert status_of(repo) == "clean"


def test_amend_keeps_the_artifact(repo: Repo) -> None:
    _v1, _ = two_versions(repo)
    repo.write(ART, random_bytes(70_000, 9))
    repo.model("add", ART, "--metric", "acc=0.5")
    repo.commit("amended", "--amend")
    assert status_of(repo) == "clean"


def test_worktree_add_materializes_and_shares_the_cache(repo: Repo, tmp_path: Path) -> None:
    v1, _v2 = two_versions(repo)
    wt = tmp_path / "wt"
    repo.git("worktree", "add", "-q", str(wt), "HEAD~1")
    assert sha256_file(wt / ART) == v1
    common = Path(repo.git("rev-parse", "--git-common-dir").stdout.strip())
    assert not (wt / ".git").is_dir()  # a linked worktree: its cache is the main repo's
    assert (repo.root / common / "model" / "objects").is_dir()
    other = Repo(wt)
    assert json.loads(other.model("status", "--json").stdout)["models"][0]["state"] == "clean"


def test_model_file_removed_removes_cached_artifact(repo: Repo) -> None:
    repo.write(ART, random_bytes(1000, 1))
    repo.git("switch", "-q", "-c", "with-model")
    repo.model("add", ART)
    repo.commit("model")
    repo.git("switch", "-q", "main")
    assert not (repo.root / ART).exists()
    repo.git("switch", "-q", "with-model")
    assert (repo.root / ART).exists()


def test_removed_files_say_why(repo: Repo) -> None:
    """Going back to a version of a folder model that lacks a file removes the file and says it is
    not part of the model there (its model file is still there); a model file that is gone from
    the commit says that instead (issue 7)."""
    repo.write("models/bert/weights.bin", random_bytes(1000, 1))
    repo.model("add", "models/bert", "--name", "bert")
    repo.commit("bert without a vocabulary")
    repo.write("models/bert/vocab.txt", "hello\nworld\n")
    repo.model("add", "models/bert")
    repo.commit("bert with a vocabulary")
    back = repo.git("checkout", "-q", "HEAD~1")
    assert not (repo.root / "models/bert/vocab.txt").exists()
    assert (repo.root / "models/bert/weights.bin").exists()
    said = [line for line in back.stderr.splitlines() if "vocab.txt" in line]
    assert said == ["gitmodel: removed models/bert/vocab.txt: not part of bert at this commit "
                    "(its bytes stay in the cache)"], back.stderr
    assert "model file is gone" not in back.stderr
    gone = repo.git("checkout", "-q", "main~2")  # before bert existed
    assert not (repo.root / "models/bert").exists()
    assert ("gitmodel: removed models/bert/weights.bin: this commit has no model file for it "
            "(its bytes stay in the cache)") in gone.stderr.splitlines()


def test_model_file_removed_keeps_unadded_edit(repo: Repo) -> None:
    repo.write(ART, random_bytes(1000, 1))
    repo.git("switch", "-q", "-c", "with-model")
    repo.model("add", ART)
    repo.commit("model")
    repo.write(ART, random_bytes(1000, 2))  # an edit, never added
    edited = sha256_file(repo.root / ART)
    result = repo.git("switch", "main")
    assert sha256_file(repo.root / ART) == edited
    assert (f"gitmodel: kept {ART}: this commit has no model file for it, but its bytes are not "
            "in the cache; `git model add` it or delete it yourself") in result.stderr


def test_edited_artifact_is_rescued_before_checkout_replaces_it(repo: Repo) -> None:
    v1, _v2 = two_versions(repo)
    repo.write(ART, random_bytes(80_000, 3))
    edited = sha256_file(repo.root / ART)
    result = repo.git("checkout", "HEAD~1")
    assert sha256_file(repo.root / ART) == v1
    assert "git model recover sha256:" + edited in result.stderr
    recovered = repo.root / "recovered.bin"
    repo.model("recover", "sha256:" + edited, "-o", str(recovered))
    assert sha256_file(recovered) == edited
    assert "sha256:" + edited in repo.model("recover").stdout


def test_checkouts_start_python_only_when_needed(repo: Repo) -> None:
    two_versions(repo)
    repo.git("switch", "-q", "-c", "code")
    repo.write("code.py", "y = 1\n")
    repo.git("add", "code.py")
    repo.commit("code")
    # a broken interpreter would warn if Python were started
    hook = repo.root / ".git/hooks/post-checkout"
    hook.write_text(hook.read_text().replace("GITMODEL_PYTHON='", "GITMODEL_PYTHON='/nonexistent"))
    result = repo.git("switch", "main")
    assert "gitmodel" not in result.stderr
    # a model file changed: the filter restored it while git wrote it, so the hook needs no
    # Python either
    result = repo.git("checkout", "HEAD~1")
    assert "is gone" not in result.stderr
    assert status_of(repo) == "clean"
    # nor does a restore of a file (flag 0)
    repo.write("train.py", "changed\n")
    result = repo.git("restore", "train.py")
    assert "is gone" not in result.stderr
    # without the filter, the hook's Python does the work (and here says it is gone)
    repo.git("config", "--unset", "filter.gitmodel.process")
    result = repo.git("checkout", "main")
    assert "is gone" in result.stderr


def test_merge_conflict_on_model_file_is_a_conflict_not_a_mix(repo: Repo) -> None:
    repo.write(ART, random_bytes(1000, 1))
    repo.model("add", ART, "--metric", "acc=0.1")
    repo.commit("base")
    repo.git("switch", "-q", "-c", "a")
    repo.write(ART, random_bytes(1000, 2))
    repo.model("add", ART, "--metric", "acc=0.2")
    repo.commit("a")
    repo.git("switch", "-q", "main")
    repo.write(ART, random_bytes(1000, 3))
    repo.model("add", ART, "--metric", "acc=0.3")
    repo.commit("main")
    result = repo.git("merge", "a", check=False)
    assert result.returncode != 0
    assert "CONFLICT" in result.stdout
    text = (repo.root / (ART + ".model.toml")).read_text()
    assert "<<<<<<<" not in text and "acc = 0.3" in text  # ours, untouched
    assert status_of(repo) == "conflicted"
    repo.git("checkout", "--theirs", ART + ".model.toml")
    repo.git("add", ART + ".model.toml")
    repo.model("checkout", "m")
    assert sha256_file(repo.root / ART) == sha256_file_bytes(random_bytes(1000, 2))


def sha256_file_bytes(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_fresh_clone_install_materializes(repo: Repo, tmp_path: Path) -> None:
    _v1, v2 = two_versions(repo)
    clone = tmp_path / "clone"
    Repo(tmp_path).git("clone", "-q", str(repo.root), str(clone))
    # the clone shares no cache: point it at the same objects by copying the cache
    import shutil

    shutil.copytree(repo.root / ".git/model/objects", clone / ".git/model/objects")
    Repo(clone).model("install")
    assert sha256_file(clone / ART) == v2


def test_reset_hard_restores_through_the_filter(repo: Repo) -> None:
    v1, v2 = two_versions(repo)
    repo.git("reset", "-q", "--hard", "HEAD~1")
    assert sha256_file(repo.root / ART) == v1
    repo.git("reset", "-q", "--hard", "main@{1}")
    assert sha256_file(repo.root / ART) == v2
    assert status_of(repo) == "clean"


def test_stash_and_pop_restore_through_the_filter(repo: Repo) -> None:
    _v1, v2 = two_versions(repo)
    repo.write(ART, random_bytes(90_000, 4))
    repo.model("add", ART)
    v3 = sha256_file(repo.root / ART)
    repo.git("stash", "-q")
    assert sha256_file(repo.root / ART) == v2
    repo.git("stash", "pop", "-q")
    assert sha256_file(repo.root / ART) == v3
    assert status_of(repo) == "clean"


def test_without_the_filter_reset_hard_shows_stale(repo: Repo) -> None:
    v1, _v2 = two_versions(repo)
    repo.git("config", "--unset", "filter.gitmodel.process")
    repo.git("reset", "-q", "--hard", "HEAD~1")
    assert status_of(repo) == "stale"
    repo.model("checkout")
    assert sha256_file(repo.root / ART) == v1


def test_git_pull_restores_the_pulled_model(repo: Repo, tmp_path: Path) -> None:
    import shutil

    repo.write(ART, random_bytes(30_000, 1))
    repo.model("add", ART)
    repo.commit("v1")
    clone = Repo(tmp_path / "clone")
    Repo(tmp_path).git("clone", "-q", str(repo.root), str(clone.root))
    shutil.copytree(repo.root / ".git/model/objects", clone.root / ".git/model/objects")
    clone.model("install")
    repo.write(ART, random_bytes(30_000, 2))
    repo.model("add", ART)
    repo.commit("v2")
    # the clone gets v2's object the way a remote would deliver it (see test_remote.py)
    shutil.copytree(repo.root / ".git/model/objects", clone.root / ".git/model/objects",
                    dirs_exist_ok=True)
    clone.git("pull", "-q", "--no-rebase")
    assert sha256_file(clone.root / ART) == sha256_file(repo.root / ART)
