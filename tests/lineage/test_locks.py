"""gitmodel.lineage.locks: lock files at the code commit, by blob id, from git's tree."""

from __future__ import annotations

from conftest import Repo

from gitmodel.lineage.locks import is_lock_file, lock_files


def test_lock_files_anywhere_at_the_commit_with_their_blob_ids(bare_repo: Repo) -> None:
    repo = bare_repo
    for path in ("requirements.txt", "requirements-dev.txt", "uv.lock", "sub/pkg/pyproject.toml",
                 "environment.yml", "Pipfile.lock", "deep/a/b/poetry.lock",
                 "requirements.md", "docs/uv.lock.txt", "notes/requirements"):
        repo.write(path, f"{path}\n")
    (repo.root / "link").mkdir()
    (repo.root / "link" / "poetry.lock").symlink_to("../uv.lock")
    repo.git("add", ".")
    repo.commit("deps")
    head = repo.git("rev-parse", "HEAD").stdout.strip()
    repo.write("uv.lock", "changed after the commit\n")  # the commit's blob is what counts
    locks = lock_files(repo.root, head)
    assert [lock.path for lock in locks] == [
        "Pipfile.lock", "deep/a/b/poetry.lock", "environment.yml", "requirements-dev.txt",
        "requirements.txt", "sub/pkg/pyproject.toml", "uv.lock"]
    for lock in locks:
        assert lock.blob == repo.git("rev-parse", f"HEAD:{lock.path}").stdout.strip()


def test_no_commit_no_lock_files(bare_repo: Repo) -> None:
    assert lock_files(bare_repo.root, "") == ()


def test_is_lock_file() -> None:
    assert is_lock_file("a/requirements-gpu.txt") and is_lock_file("uv.lock")
    assert not is_lock_file("requirements.in") and not is_lock_file("a/uv.lock.bak")
