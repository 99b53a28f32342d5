"""gitmodel/git.py is the only code that starts git, and inside it one function does (issue 8)."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import Repo

from gitmodel import git
from gitmodel.errors import GitError

PACKAGE = Path(__file__).resolve().parents[1] / "gitmodel"


def subprocess_users(path: Path) -> dict[str, int]:
    """Function name -> how many subprocess.* calls it makes, for one module."""
    tree = ast.parse(path.read_text())
    found: dict[str, int] = {}
    for func in ast.walk(tree):
        if isinstance(func, ast.FunctionDef):
            calls = [n for n in ast.walk(func) if isinstance(n, ast.Call)
                     and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name)
                     and n.func.value.id == "subprocess" and n.func.attr in ("run", "Popen")]
            if calls:
                found[func.name] = len(calls)
    return found


def test_only_git_py_starts_git_and_only_through_call() -> None:
    assert subprocess_users(PACKAGE / "git.py") == {"call": 1, "read_blob_prefix": 1}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "git.py" and path.parent == PACKAGE:
            continue
        text = path.read_text()
        # store/objects.py frees a large replaced file with a detached `rm`; nothing else spawns
        if path.relative_to(PACKAGE).as_posix() == "store/objects.py":
            assert subprocess_users(path) == {"_replace_in_background": 1}, path
            assert '"git"' not in text
            continue
        # lineage/environment.py asks a bare interpreter shim for its site folders, once, with a
        # timeout, only when nothing on disk says where they are; it never runs git
        if path.relative_to(PACKAGE).as_posix() == "lineage/environment.py":
            assert '"git"' not in text
            continue
        assert "import subprocess" not in text, f"{path} starts processes; git.py runs git"


def test_call_returns_failures_and_run_raises_them_with_gits_cause(repo: Repo) -> None:
    done = git.call(["rev-parse", "--verify", "--quiet", "no-such-ref"], repo.root)
    assert done.returncode != 0 and done.stdout == b""
    assert git.resolve_commit(repo.root, "no-such-ref") is None
    assert git.resolve_commit(repo.root, "HEAD") == repo.git("rev-parse", "HEAD").stdout.strip()
    try:
        git.run(["cat-file", "-p", "no-such-object"], repo.root)
    except GitError as exc:
        assert "no-such-object" in str(exc) and exc.returncode != 0
    else:  # pragma: no cover
        raise AssertionError("run() did not raise")


def test_adding_and_status_of_model_files_never_start_the_filter(repo: Repo,
                                                                  tmp_path: Path) -> None:
    """The gitmodel filter only smudges: staging a model file and asking whether the work tree
    is dirty must stage the file's own bytes without starting it (a Python start each)."""
    marker = tmp_path / "filter-started"
    repo.git("config", "filter.gitmodel.process", f"touch {marker}; exit 1")
    repo.write(".gitattributes", "*.model.toml filter=gitmodel\n")
    repo.write("m.model.toml", 'name = "m"\n')
    repo.git("add", ".gitattributes")
    repo.commit("attributes")
    assert not marker.exists()
    repo.write("m.model.toml", 'name = "m"\nversion = 2\n')
    git.add(repo.root, ["m.model.toml"])
    assert not git.is_dirty(repo.root, ["*.model.toml"])
    assert not marker.exists()
    staged = repo.git("ls-files", "-s", "m.model.toml").stdout.split()[1]
    raw = repo.git("hash-object", "--no-filters", "m.model.toml").stdout.strip()
    assert staged == raw
    # git itself still starts it where it would (proof that the marker works)
    repo.write("m.model.toml", 'name = "m"\nversion = 3\n')
    repo.git("add", "m.model.toml", check=False)
    assert marker.exists()
