"""Backends and the messages around them (issue 7): a directory remote must exist, a git failure
names its cause, and `git model remote` lists like `git remote`. Real git, real processes."""

from __future__ import annotations

from pathlib import Path

from conftest import Repo, random_bytes

ART = "models/m.safetensors"


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_remote_add_refuses_a_directory_that_does_not_exist(repo: Repo, tmp_path: Path) -> None:
    absent = tmp_path / "not" / "mounted"
    result = repo.model("remote", "add", "origin", str(absent), "--default", check=False)
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert "does not exist" in line and str(absent) in line
    assert f"git model remote add origin {absent} --create --default" in line
    assert not absent.exists()
    assert "remote.origin" not in (repo.root / ".gitmodel.toml").read_text()
    created = repo.model("remote", "add", "origin", str(absent), "--default", "--create")
    assert absent.is_dir() and f"created {absent}" in created.stdout
    repo.write(ART, random_bytes(5000, 1))
    repo.model("add", ART)
    assert "uploaded 1 object(s)" in repo.model("push").stdout


def test_push_to_an_unmounted_directory_remote_creates_nothing(repo: Repo,
                                                               tmp_path: Path) -> None:
    share = tmp_path / "share"
    share.mkdir()
    origin = tmp_path / "origin.git"
    repo.git("init", "-q", "--bare", str(origin))
    repo.git("remote", "add", "origin", str(origin))
    repo.model("remote", "add", "origin", str(share), "--default")
    repo.commit("model remote")
    repo.write(ART, random_bytes(5000, 2))
    repo.model("add", ART)
    repo.commit("v1")
    share.rmdir()  # the share is not mounted today
    result = repo.model("push", check=False)
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert "does not exist" in line and "mount" in line
    pushed = repo.git("push", "origin", "main", check=False)
    assert pushed.returncode != 0 and "does not exist" in pushed.stderr
    assert "uploaded 1" not in pushed.stderr
    assert not share.exists()  # nothing was written to local disk in its place


def test_git_failure_keeps_the_line_that_says_what_went_wrong(tmp_path: Path) -> None:
    result = Repo(tmp_path).model("get", "/nonexistent.git", "classifier", "-o",
                                  str(tmp_path / "d"), check=False, cwd=tmp_path)
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert "does not appear to be a git repository" in line
    assert "/nonexistent.git" in line and "and the repository exists" not in line
    assert not (tmp_path / "d").exists()


def test_remote_with_no_subcommand_lists_like_git_remote(repo: Repo, tmp_path: Path) -> None:
    empty = repo.model("remote")
    assert empty.returncode == 0 and "no model remotes" in empty.stdout
    (tmp_path / "store").mkdir()
    repo.model("remote", "add", "origin", str(tmp_path / "store"), "--default")
    listed = repo.model("remote")
    assert listed.returncode == 0
    assert listed.stdout == repo.model("remote", "list").stdout
    assert f"origin\t{tmp_path / 'store'}\t(default)" in listed.stdout
    assert "Usage" in repo.model("remote", "--help").stdout
