"""The pre-push hook uploads what the pushed commits and version tags need, fast when nothing is
new, and aborts the push when an upload fails."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from conftest import Repo, random_bytes

ART = "models/m.safetensors"


def oid_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def remote_oids(store: Path) -> set[str]:
    return {f"sha256:{p.parent.name}{p.name}" for p in (store / "objects").glob("*/*")}


def setup(repo: Repo, tmp_path: Path, *, model_remote: bool = True) -> tuple[Path, Path]:
    store, origin = tmp_path / "store", tmp_path / "origin.git"
    repo.git("init", "-q", "--bare", str(origin))
    repo.git("remote", "add", "origin", str(origin))
    if model_remote:
        store.mkdir()
        repo.model("remote", "add", "origin", str(store), "--default")
        repo.commit("model remote")
    return store, origin


def add_version(repo: Repo, seed: int, size: int = 100_000) -> bytes:
    data = random_bytes(size, seed)
    repo.write(ART, data)
    repo.model("add", ART)
    repo.commit(f"model {seed}")
    return data


def test_push_uploads_every_pushed_commits_objects(repo: Repo, tmp_path: Path) -> None:
    store, _ = setup(repo, tmp_path)
    v1 = add_version(repo, 1)
    v2 = add_version(repo, 2)
    result = repo.git("push", "-q", "origin", "main")
    # both versions: each pushed commit must be restorable, not only the tip
    assert remote_oids(store) == {oid_of(v1), oid_of(v2)}
    assert "uploaded 2 model object(s)" in result.stderr


def break_interpreter(repo: Repo) -> None:
    """Python would refuse the push loudly if the hook started it."""
    hook = repo.root / ".git" / "hooks" / "pre-push"
    hook.write_text(hook.read_text().replace("GITMODEL_PYTHON='", "GITMODEL_PYTHON='/gone"))


def test_push_with_nothing_new_does_not_start_python(repo: Repo, tmp_path: Path) -> None:
    setup(repo, tmp_path)
    add_version(repo, 1)
    repo.git("push", "-q", "origin", "main")
    repo.write("train.py", "print('changed')\n")
    repo.git("add", "train.py")
    repo.commit("code only")
    break_interpreter(repo)
    result = repo.git("push", "origin", "main")
    assert "is gone" not in result.stderr
    add_version(repo, 2)  # a model file changed: now Python is needed
    assert repo.git("push", "origin", "main", check=False).returncode != 0


def test_version_tag_whose_objects_are_in_place_does_not_start_python(repo: Repo,
                                                                      tmp_path: Path) -> None:
    setup(repo, tmp_path)
    add_version(repo, 1)
    repo.git("push", "-q", "origin", "main")  # uploads, and records what the remote holds
    repo.model("tag", "m", "v1.0.0")
    break_interpreter(repo)
    result = repo.git("push", "origin", "m@v1.0.0")
    assert "is gone" not in result.stderr
    # a hand-made tag has no Model-Oid trailers: Python must look at it
    repo.git("tag", "-a", "m@v1.0.1", "-m", "by hand", "HEAD")
    assert repo.git("push", "origin", "m@v1.0.1", check=False).returncode != 0


def test_failed_upload_aborts_the_push(repo: Repo, tmp_path: Path) -> None:
    store, origin = setup(repo, tmp_path)
    store.rmdir()
    store.write_text("not a directory")
    add_version(repo, 1)
    result = repo.git("push", "origin", "main", check=False)
    assert result.returncode != 0
    assert "push refused: uploading model objects failed" in result.stderr
    assert "run `git push` again" in result.stderr
    assert Repo(origin).git("for-each-ref", "refs/heads").stdout == ""
    store.unlink()
    store.mkdir()
    repo.git("push", "-q", "origin", "main")  # the retry the message promised
    assert Repo(origin).git("for-each-ref", "refs/heads").stdout


def test_version_tag_push_uploads_that_versions_objects(repo: Repo, tmp_path: Path) -> None:
    store, _ = setup(repo, tmp_path)
    v1 = add_version(repo, 1)
    repo.git("push", "-q", "--no-verify", "origin", "main")
    assert not remote_oids(store)
    repo.git("tag", "-a", "m@v1.0.0", "-m", "m v1.0.0")
    repo.git("push", "-q", "origin", "m@v1.0.0")
    assert remote_oids(store) == {oid_of(v1)}


def test_model_remote_named_like_the_git_remote_wins(repo: Repo, tmp_path: Path) -> None:
    store, _ = setup(repo, tmp_path)
    backup_store, backup = tmp_path / "backup-store", tmp_path / "backup.git"
    repo.git("init", "-q", "--bare", str(backup))
    repo.git("remote", "add", "backup", str(backup))
    repo.model("remote", "add", "backup", str(backup_store), "--create")
    repo.commit("backup remote")
    v1 = add_version(repo, 1)
    repo.git("push", "-q", "backup", "main")
    assert remote_oids(backup_store) == {oid_of(v1)} and not remote_oids(store)


def test_push_without_a_model_remote_warns(repo: Repo, tmp_path: Path) -> None:
    setup(repo, tmp_path, model_remote=False)
    add_version(repo, 1)
    result = repo.git("push", "origin", "main")
    assert "no model remote is configured" in result.stderr


def test_objects_missing_from_the_cache_refuse_the_push(repo: Repo, tmp_path: Path) -> None:
    setup(repo, tmp_path)
    v1 = add_version(repo, 1)
    obj = repo.root / ".git" / "model" / "objects" / oid_of(v1)[7:9] / oid_of(v1)[9:]
    obj.unlink()
    result = repo.git("push", "origin", "main", check=False)
    assert result.returncode != 0 and "push refused" in result.stderr


def test_pushed_version_tag_needs_its_objects_locally(tmp_path: Path) -> None:
    """A version tag on a commit the remote already has is still checked (issue 3, item 10)."""
    from conftest import make_repo, random_bytes

    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    repo = make_repo(tmp_path / "work")
    repo.git("remote", "add", "origin", str(origin))
    repo.write("m.pt", random_bytes(1000, 1))
    repo.model("add", "m.pt")
    repo.commit("model")
    repo.git("push", "-q", "origin", "main")
    repo.git("tag", "-a", "m@v1.0.0", "-m", "v1")
    text = (repo.root / "m.pt.model.toml").read_text()
    oid = next(ln for ln in text.splitlines() if ln.startswith("oid")).split('"')[1]
    obj = repo.root / ".git/model/objects" / oid[7:9] / oid[9:]
    obj.chmod(0o644)
    obj.unlink()
    result = repo.git("push", "origin", "m@v1.0.0", check=False)
    assert result.returncode != 0
    assert "not in this clone's cache" in result.stderr and "m@v1.0.0" in result.stderr
