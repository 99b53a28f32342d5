"""A clone and its model remote (issue 7): no remote configured, `install` in a fresh clone, a
clone whose checked-out commit predates the remote, and what `status` calls unfetched bytes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from conftest import Repo, random_bytes, sha256_file

A, B = "models/a.safetensors", "models/b.safetensors"


def alice(repo: Repo, tmp_path: Path, *, store: Path | None) -> tuple[Path, bytes, bytes]:
    """Two models committed and pushed to a bare origin; with ``store``, a default model remote
    committed first and the objects pushed to it."""
    origin = tmp_path / "origin.git"
    repo.git("init", "-q", "--bare", "-b", "main", str(origin))
    repo.git("remote", "add", "origin", str(origin))
    if store is not None:
        store.mkdir()
        repo.model("remote", "add", "origin", str(store), "--default")
        repo.commit("model remote")
    a, b = random_bytes(40_000, 31), random_bytes(50_000, 32)
    repo.write(A, a)
    repo.write(B, b)
    repo.model("add", A, B)
    repo.commit("two models")
    repo.git("push", "-q", "--no-verify", "origin", "main")
    if store is not None:
        repo.model("push")
    return origin, a, b


def clone(tmp_path: Path, origin: Path, *, install: bool = True) -> tuple[Repo, str]:
    Repo(tmp_path).git("clone", "-q", str(origin), str(tmp_path / "bob"))
    bob = Repo(tmp_path / "bob")
    said = bob.model("install") if install else None
    return bob, (said.stdout + said.stderr) if said else ""


def test_clone_with_no_model_remote_says_so_and_how_to_add_one(repo: Repo,
                                                              tmp_path: Path) -> None:
    origin, _a, _b = alice(repo, tmp_path, store=None)
    bob, installed = clone(tmp_path, origin)
    warnings = [ln for ln in installed.splitlines() if "warning" in ln]
    assert len(warnings) <= 2, installed  # not one per object
    assert "no model remote is configured" in installed and "a, b" in installed
    checkout = bob.model("checkout", check=False)
    assert checkout.returncode == 1
    lines = checkout.stderr.strip().splitlines()
    assert len(lines) == 1, checkout.stderr
    assert "2 models" in lines[0] and "a (sha256:" in lines[0] and "b (sha256:" in lines[0]
    assert "git model remote add origin URL --default" in lines[0]
    assert "git model pull" not in lines[0]
    pull = bob.model("pull", check=False)
    assert pull.returncode == 1
    assert "no model remote is configured" in pull.stderr
    assert "git model remote add origin URL --default" in pull.stderr
    assert "commit .gitmodel.toml" in pull.stderr
    status = bob.model("status", "--json")
    assert status.returncode == 0
    for model in json.loads(status.stdout)["models"]:
        assert model["state"] == "missing"  # not fetched yet is not broken
        assert f"git model pull {model['name']}" in model["detail"]


def test_install_in_a_fresh_clone_fetches_what_the_checkout_needs(repo: Repo,
                                                                  tmp_path: Path) -> None:
    origin, a, b = alice(repo, tmp_path, store=tmp_path / "store")
    bob, installed = clone(tmp_path, origin)
    assert "fetched 2 object(s) from origin" in installed
    assert "warning" not in installed and "git model pull" not in installed
    assert sha256_file(bob.root / A) == hashlib.sha256(a).hexdigest()
    assert sha256_file(bob.root / B) == hashlib.sha256(b).hexdigest()


def test_install_when_the_remote_is_unreachable_says_it_once(repo: Repo,
                                                             tmp_path: Path) -> None:
    store = tmp_path / "store"
    origin, _a, _b = alice(repo, tmp_path, store=store)
    store.rename(tmp_path / "unmounted")
    _bob, installed = clone(tmp_path, origin)
    summary = [ln for ln in installed.splitlines() if "not restored" in ln]
    assert len(summary) == 1 and "a, b" in summary[0] and "git model pull" in summary[0]
    assert len([ln for ln in installed.splitlines() if "warning" in ln]) <= 2, installed


def test_clone_checked_out_before_the_remote_finds_it_in_newer_commits(repo: Repo,
                                                                       tmp_path: Path) -> None:
    """The clone's first checkout is a version older than `git model remote add`, and no
    gitmodel command ever saw the remote: pull and the checkout still find it."""
    v1 = random_bytes(30_000, 33)
    repo.write(A, v1)
    repo.model("add", A)
    repo.commit("v1, before any remote")
    repo.git("tag", "-a", "a@v1.0.0", "-m", "a v1.0.0")
    store = tmp_path / "store"
    store.mkdir()
    repo.model("remote", "add", "origin", str(store), "--default")
    repo.write(A, random_bytes(30_000, 34))
    repo.model("add", A)
    repo.commit("v2 and the remote")
    origin = tmp_path / "origin.git"
    repo.git("init", "-q", "--bare", "-b", "main", str(origin))
    repo.git("remote", "add", "origin", str(origin))
    repo.model("push", "--all-versions")
    repo.git("push", "-q", "origin", "main", "--tags")
    bob, _ = clone(tmp_path, origin, install=False)
    bob.git("checkout", "-q", "a@v1.0.0")
    assert "[remote" not in (bob.root / ".gitmodel.toml").read_text()
    bob.git("config", "model.autofetch", "false")
    bob.model("install")
    bob.git("config", "--unset", "model.autofetch")
    pulled = bob.model("pull")
    assert "restored a" in pulled.stdout
    assert sha256_file(bob.root / A) == hashlib.sha256(v1).hexdigest()
    # the checkout fetches the same way, now from what the clone remembered
    (bob.root / A).unlink()
    for path in (bob.root / ".git" / "model" / "objects").glob("*/*"):
        path.chmod(0o644)
        path.unlink()
    bob.model("checkout")
    assert sha256_file(bob.root / A) == hashlib.sha256(v1).hexdigest()
