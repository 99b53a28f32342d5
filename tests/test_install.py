"""Installing hooks: idempotent, keeps other tools' hooks running, honours core.hooksPath."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import IDENTITY, Repo, make_repo, random_bytes, sha256_file

from gitmodel.install import CHAINED_SUFFIX, HOOKS, MARKER

ART = "models/m.pt"


def foreign_hook(path: Path, body: str) -> None:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def test_install_is_idempotent(repo: Repo) -> None:
    hooks = repo.root / ".git/hooks"
    before = {h: (hooks / h).read_text() for h in HOOKS}
    result = repo.model("install")
    assert {h: (hooks / h).read_text() for h in HOOKS} == before
    assert not list(hooks.glob("*" + CHAINED_SUFFIX))
    assert "staged" not in result.stdout  # nothing new to stage the second time
    assert all(MARKER in text for text in before.values())


def test_foreign_hooks_are_kept_and_still_run(bare_repo: Repo) -> None:
    hooks = bare_repo.root / ".git/hooks"
    marker = bare_repo.root / "foreign-ran"
    foreign_hook(hooks / "post-checkout", f'echo "$@" >> "{marker}"')
    foreign_hook(hooks / "pre-commit", 'test ! -e "$(git rev-parse --show-toplevel)/block"')
    result = bare_repo.model("install")
    assert "kept your existing post-checkout hook" in result.stdout
    assert (hooks / ("post-checkout" + CHAINED_SUFFIX)).exists()
    bare_repo.commit("settings")
    bare_repo.git("switch", "-q", "-c", "other")
    assert marker.read_text().strip().endswith(" 1")  # the foreign hook got git's arguments
    # ... and gitmodel's part runs too
    bare_repo.write(ART, random_bytes(100, 1))
    bare_repo.model("add", ART)
    bare_repo.write("block", "")
    assert bare_repo.git("commit", "-m", "x", check=False).returncode != 0
    os.unlink(bare_repo.root / "block")
    bare_repo.commit("model")
    bare_repo.git("switch", "-q", "main")
    assert not (bare_repo.root / ART).exists()
    bare_repo.git("switch", "-q", "other")
    assert (bare_repo.root / ART).exists()

    bare_repo.model("install", "--uninstall")
    assert MARKER not in (hooks / "post-checkout").read_text()
    assert "foreign-ran" in (hooks / "post-checkout").read_text()
    assert not (hooks / "pre-push").exists()


def test_local_hooks_path_is_honoured(bare_repo: Repo) -> None:
    bare_repo.git("config", "core.hooksPath", "githooks")
    bare_repo.model("install")
    assert MARKER in (bare_repo.root / "githooks/post-checkout").read_text()
    assert not (bare_repo.root / ".git/hooks/post-checkout").exists()


def test_global_hooks_path_is_refused(bare_repo: Repo) -> None:
    global_hooks = Path(os.environ["HOME"]) / "global-hooks"
    bare_repo.git("config", "--global", "core.hooksPath", str(global_hooks))
    result = bare_repo.model("install", check=False)
    assert result.returncode == 1
    assert "core.hooksPath is set in" in result.stderr and "--local" in result.stderr
    assert not global_hooks.exists()


def test_install_in_linked_worktree_shares_hooks_and_cache(repo: Repo, tmp_path: Path) -> None:
    repo.write(ART, random_bytes(2000, 1))
    repo.model("add", ART)
    repo.commit("model")
    wt = tmp_path / "wt"
    repo.git("worktree", "add", "-q", "-b", "wtb", str(wt))
    other = Repo(wt)
    other.model("install")
    assert sha256_file(wt / ART) == sha256_file(repo.root / ART)
    other.write(ART, random_bytes(3000, 2))
    other.model("add", ART)
    other.commit("in the worktree")
    # the object added in the worktree is in the one shared cache
    repo.git("merge", "-q", "wtb")
    assert sha256_file(repo.root / ART) == sha256_file(wt / ART)


def test_deleted_interpreter(repo: Repo) -> None:
    hooks = repo.root / ".git/hooks"
    for hook in HOOKS:
        text = (hooks / hook).read_text()
        (hooks / hook).write_text(text.replace(f"GITMODEL_PYTHON='{sys.executable}'",
                                               "GITMODEL_PYTHON='/gone/python3'"))
    repo.write(ART, random_bytes(100, 1))
    repo.model("add", ART)
    result = repo.git("commit", "-m", "x", check=False)
    assert result.returncode != 0 and "/gone/python3" in result.stderr and "is gone" in result.stderr
    repo.git("commit", "-q", "--no-verify", "-m", "x")
    result = repo.git("checkout", "HEAD~1")
    assert result.returncode == 0 and "warning" in result.stderr


# -- the pre-commit framework -----------------------------------------------------------------

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("pre-commit") is None:
        pytest.fail("the pre-commit package is a test dependency: pip install -e '.[test]'")
    return tmp_path_factory.mktemp("pre-commit-home")


def framework_config(repo: Repo, source: Path) -> None:
    rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=source, capture_output=True,
                         text=True, check=True).stdout.strip()
    repo.write(".pre-commit-config.yaml",
               f"repos:\n- repo: {source}\n  rev: {rev}\n  hooks:\n  - id: gitmodel-check\n")
    repo.git("add", ".pre-commit-config.yaml")


@pytest.fixture(scope="module")
def gitmodel_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout as the framework would fetch it: a git repo with the hook definition
    committed (a snapshot of the working tree, so uncommitted edits are tested too)."""
    source = tmp_path_factory.mktemp("gitmodel-source")
    shutil.copytree(PROJECT, source, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".git", "*.egg-info", "__pycache__", ".*cache",
                                                  ".hypothesis", "build", "work", ".venv*"))
    # module-scoped, so it runs before the autouse fixture sets the identity: bring our own
    home = tmp_path_factory.mktemp("source-home")
    env = {**os.environ, **IDENTITY, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(home)}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"]):
        subprocess.run(["git", *args], cwd=source, check=True, env=env, capture_output=True)
    return source


@pytest.mark.parametrize("order", ["gitmodel-first", "framework-first"])
def test_with_the_pre_commit_framework(order: str, tmp_path: Path, pre_commit_home: Path,
                                       gitmodel_source: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRE_COMMIT_HOME", str(pre_commit_home))
    repo = make_repo(tmp_path / "repo", install=False)
    framework_config(repo, gitmodel_source)
    if order == "gitmodel-first":
        repo.model("install")
        repo.git("add", "-A")
        subprocess.run(["pre-commit", "install"], cwd=repo.root, check=True, capture_output=True)
    else:
        subprocess.run(["pre-commit", "install"], cwd=repo.root, check=True, capture_output=True)
        repo.model("install")
        repo.git("add", "-A")
    repo.commit("settings")
    repo.write(ART, random_bytes(5000, 1))
    repo.model("add", ART)
    repo.write(ART, random_bytes(5000, 2))  # modified after add: both must refuse
    result = repo.git("commit", "-m", "x", check=False)
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert "gitmodel (model files and large binaries)" in out  # the framework ran our hook
    assert "Failed" in out
    assert "changed since `git model add`" in out
    # gitmodel's own hook ran too, directly or as the framework's legacy hook
    assert out.count("changed since `git model add`") >= 2
    # and the framework alone (its run, without gitmodel's installed hook) refuses as well
    run = subprocess.run(["pre-commit", "run", "gitmodel-check"], cwd=repo.root,
                         capture_output=True, text=True)
    assert run.returncode != 0 and "changed since `git model add`" in run.stdout
    repo.model("add", ART)
    repo.commit("fixed")
    # re-running either installer keeps both working
    repo.model("install")
    subprocess.run(["pre-commit", "install"], cwd=repo.root, check=True, capture_output=True)
    repo.write(ART, random_bytes(5000, 3))
    repo.model("add", ART)
    repo.write(ART, random_bytes(5000, 4))
    result = repo.git("commit", "-m", "y", check=False)
    assert result.returncode != 0
    assert (result.stdout + result.stderr).count("changed since `git model add`") >= 2
