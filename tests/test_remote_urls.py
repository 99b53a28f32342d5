"""Directory remotes named by a `file://` URL or a relative path (docs/remotes.md "URLs"): a
relative directory is relative to the top of the work tree, wherever the command runs from."""

from __future__ import annotations

import hashlib
from pathlib import Path

from conftest import Repo, random_bytes, sha256_file

ART = "models/m.safetensors"


def remote_oids(store: Path) -> set[str]:
    return {p.parent.name + p.name for p in store.glob("objects/*/*")}


def origin_for(repo: Repo, tmp_path: Path) -> Path:
    origin = tmp_path / "origin.git"
    repo.git("init", "-q", "--bare", "-b", "main", str(origin))
    repo.git("remote", "add", "origin", str(origin))
    return origin


def test_file_url_remote_push_pull_and_checkout(repo: Repo, tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    repo.model("remote", "add", "origin", f"file://{store}", "--default")
    repo.commit("model remote")
    data = random_bytes(30_000, 1)
    repo.write(ART, data)
    repo.model("add", ART)
    repo.commit("v1")
    assert "uploaded 1 object(s)" in repo.model("push").stdout
    assert remote_oids(store) == {hashlib.sha256(data).hexdigest()}
    assert not list((store / "tmp").iterdir())  # the directory backend: tmp/, then rename
    origin = origin_for(repo, tmp_path)
    repo.git("push", "-q", "origin", "main")
    Repo(tmp_path).git("clone", "-q", str(origin), str(tmp_path / "bob"))
    bob = Repo(tmp_path / "bob")
    bob.model("install")  # fetches through file://
    assert sha256_file(bob.root / ART) == hashlib.sha256(data).hexdigest()
    # a file:// directory that is not there is refused like a path
    absent = repo.model("remote", "add", "gone", f"file://{tmp_path / 'gone'}", check=False)
    assert absent.returncode == 1 and "does not exist" in absent.stderr


def test_relative_remote_is_relative_to_the_top_of_the_work_tree(repo: Repo,
                                                                 tmp_path: Path) -> None:
    store = tmp_path / "store"  # ../store from the work tree
    store.mkdir()
    sub = repo.root / "src" / "deep"
    sub.mkdir(parents=True)
    # added from a subfolder: still relative to the top, and it exists there
    repo.model("remote", "add", "origin", "../store", "--default", cwd=sub)
    assert 'url = "../store"' in (repo.root / ".gitmodel.toml").read_text()
    assert not (sub / "../store").exists()  # (src/store does not exist: the top was used)
    repo.commit("model remote")
    v1 = random_bytes(30_000, 2)
    repo.write(ART, v1)
    repo.model("add", ART)
    repo.commit("v1")
    repo.git("tag", "-a", "m@v1.0.0", "-m", "v1")
    assert "uploaded 1 object(s)" in repo.model("push", cwd=sub).stdout
    assert remote_oids(store) == {hashlib.sha256(v1).hexdigest()}
    assert not (repo.root / "src" / "store").exists() and not (repo.root / "store").exists()
    origin = origin_for(repo, tmp_path)
    repo.git("push", "-q", "origin", "main", "--tags")
    # a clone beside the first one finds the same ../store
    Repo(tmp_path).git("clone", "-q", str(origin), str(tmp_path / "bob"))
    bob = Repo(tmp_path / "bob")
    bob.model("install")
    assert sha256_file(bob.root / ART) == hashlib.sha256(v1).hexdigest()
    v2 = random_bytes(30_000, 3)
    bob.write(ART, v2)
    bob.model("add", ART)
    bob.commit("v2")
    bob.git("push", "-q", "origin", "main")  # the pre-push hook resolves it the same way
    assert remote_oids(store) == {hashlib.sha256(v).hexdigest() for v in (v1, v2)}
    # a clone somewhere else has no ../store: the one line names where it looked
    elsewhere = tmp_path / "far" / "away"
    elsewhere.mkdir(parents=True)
    Repo(elsewhere).git("clone", "-q", str(origin), str(elsewhere / "carol"))
    carol = Repo(elsewhere / "carol")
    carol.git("config", "model.autofetch", "false")
    carol.model("install")
    pulled = carol.model("pull", check=False)
    assert pulled.returncode == 1
    lines = pulled.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not exist" in lines[0] and str(elsewhere / "store") in lines[0]
