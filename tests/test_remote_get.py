"""`git model get` without --remote when the version predates `git model remote add` (issue 7,
part 3): the README's order of events — tag, assign, add the remote, commit, push."""

from __future__ import annotations

import hashlib
from pathlib import Path

from conftest import Repo, random_bytes, sha256_file

ART = "models/m.safetensors"


def tagged_before_the_remote(repo: Repo, tmp_path: Path) -> tuple[bytes, Path, Path]:
    """v1 tagged and assigned to prod while .gitmodel.toml names no remote; the remote is
    added, committed and pushed afterwards."""
    v1 = random_bytes(60_000, 21)
    repo.write(ART, v1)
    repo.model("add", ART)
    repo.commit("v1")
    repo.git("tag", "-a", "m@v1.0.0", "-m", "m v1.0.0")
    repo.git("tag", "-a", "m#prod#1", "-m", "m v1.0.0 to prod", "m@v1.0.0^{commit}")
    store = tmp_path / "store"
    store.mkdir()
    origin = tmp_path / "origin.git"
    repo.git("init", "-q", "--bare", "-b", "main", str(origin))
    repo.git("remote", "add", "origin", str(origin))
    return v1, store, origin


def test_get_of_a_stage_uses_the_remote_the_default_branch_names(repo: Repo,
                                                                 tmp_path: Path) -> None:
    v1, store, origin = tagged_before_the_remote(repo, tmp_path)
    repo.model("remote", "add", "origin", str(store), "--default")
    repo.commit("model remote")
    repo.model("push", "--all-versions")
    repo.git("push", "-q", "origin", "main", "--tags")
    for spec in ("m#prod", "m@v1.0.0"):
        out = tmp_path / f"deploy-{spec[1:2]}{len(spec)}"
        result = Repo(tmp_path).model("get", str(origin), spec, "-o", str(out), cwd=tmp_path)
        assert sha256_file(out / "m.safetensors") == hashlib.sha256(v1).hexdigest()
        assert "remote origin from" in result.stdout and "default branch" in result.stdout


def test_get_falls_back_to_the_newest_tag_that_names_a_remote(repo: Repo,
                                                              tmp_path: Path) -> None:
    v1, store, origin = tagged_before_the_remote(repo, tmp_path)
    repo.git("push", "-q", "origin", "main", "--tags")  # main never names a remote
    repo.git("switch", "-q", "-c", "release")
    repo.model("remote", "add", "origin", str(store), "--default")
    repo.write(ART, random_bytes(60_000, 22))
    repo.model("add", ART)
    repo.commit("v2 and the remote, on a release branch")
    repo.git("tag", "-a", "m@v2.0.0", "-m", "m v2.0.0")
    repo.model("push", "--all-versions")
    repo.git("push", "-q", "--no-verify", "origin", "m@v2.0.0")
    out = tmp_path / "deploy"
    result = Repo(tmp_path).model("get", str(origin), "m@v1.0.0", "-o", str(out), cwd=tmp_path)
    assert sha256_file(out / "m.safetensors") == hashlib.sha256(v1).hexdigest()
    assert "remote origin from tag m@v2.0.0" in result.stdout


def test_get_asks_for_remote_only_when_no_commit_names_one(repo: Repo, tmp_path: Path) -> None:
    _v1, _store, origin = tagged_before_the_remote(repo, tmp_path)
    repo.git("push", "-q", "--no-verify", "origin", "main", "--tags")
    result = Repo(tmp_path).model("get", str(origin), "m#prod", "-o", str(tmp_path / "d"),
                                  check=False, cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "pass --remote URL" in lines[0]
    assert "default branch" in lines[0] and "git model remote add origin URL" in lines[0]
