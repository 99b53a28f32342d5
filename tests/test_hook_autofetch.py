"""Fetch on checkout and its switch (docs/config.md, docs/remotes.md "Fetch on checkout"):
`core.auto_fetch` in the committed .gitmodel.toml and `git config model.autofetch` per clone.
On, a `git checkout` (the hook) and `git model checkout` fetch what they need from the default
remote; off, they fetch nothing and only `git model pull` does."""

from __future__ import annotations

import hashlib
from pathlib import Path

from conftest import Repo, random_bytes, sha256_file

ART = "models/m.safetensors"


def cache_oids(repo: Repo) -> set[str]:
    return {p.parent.name + p.name for p in (repo.root / ".git/model/objects").glob("*/*")}


def alice_and_bob(repo: Repo, tmp_path: Path, *, team_auto_fetch: bool) -> tuple[Repo, bytes,
                                                                                   bytes]:
    store = tmp_path / "store"
    repo.model("remote", "add", "origin", str(store), "--default", "--create")
    if not team_auto_fetch:
        path = repo.root / ".gitmodel.toml"
        path.write_text(path.read_text().replace("[core]\n", "[core]\nauto_fetch = false\n", 1))
        repo.git("add", ".gitmodel.toml")
    repo.commit("model remote")
    v1, v2 = random_bytes(40_000, 1), random_bytes(40_000, 2)
    for version, data in (("v1.0.0", v1), ("v2.0.0", v2)):
        repo.write(ART, data)
        repo.model("add", ART)
        repo.commit(version)
        repo.git("tag", "-a", f"m@{version}", "-m", version)
    origin = tmp_path / "origin.git"
    repo.git("init", "-q", "--bare", "-b", "main", str(origin))
    repo.git("remote", "add", "origin", str(origin))
    repo.git("push", "-q", "origin", "main", "--tags")  # the hook uploads both versions
    assert len(list(store.glob("objects/*/*"))) == 2
    Repo(tmp_path).git("clone", "-q", str(origin), str(tmp_path / "bob"))
    bob = Repo(tmp_path / "bob")
    bob.git("config", "model.autofetch", "false")  # install fetches nothing either
    bob.model("install")
    bob.git("config", "--unset", "model.autofetch")
    assert not cache_oids(bob) and not (bob.root / ART).exists()
    return bob, v1, v2


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_on_by_default_and_off_per_clone(repo: Repo, tmp_path: Path) -> None:
    bob, v1, v2 = alice_and_bob(repo, tmp_path, team_auto_fetch=True)
    bob.git("config", "model.autofetch", "false")
    checkout = bob.git("checkout", "-q", "m@v1.0.0")
    assert not cache_oids(bob) and not (bob.root / ART).exists(), checkout.stderr
    result = bob.model("checkout", check=False)
    assert result.returncode == 1 and "git model pull" in result.stderr
    assert not cache_oids(bob)
    bob.git("config", "model.autofetch", "true")
    bob.git("checkout", "-q", "m@v2.0.0")  # the hook fetches
    assert cache_oids(bob) == {digest(v2)}
    assert sha256_file(bob.root / ART) == digest(v2)
    bob.git("config", "--unset", "model.autofetch")  # the default is on
    bob.git("checkout", "-q", "m@v1.0.0")
    assert cache_oids(bob) == {digest(v1), digest(v2)}
    assert sha256_file(bob.root / ART) == digest(v1)


def test_off_for_the_team_and_on_for_one_clone(repo: Repo, tmp_path: Path) -> None:
    bob, v1, v2 = alice_and_bob(repo, tmp_path, team_auto_fetch=False)
    bob.git("checkout", "-q", "m@v1.0.0")
    assert not cache_oids(bob) and not (bob.root / ART).exists()
    assert bob.model("checkout", check=False).returncode == 1
    assert not cache_oids(bob)
    bob.model("pull")  # pull always fetches
    assert sha256_file(bob.root / ART) == digest(v1)
    bob.git("config", "model.autofetch", "yes")  # git's other spelling of true
    bob.git("checkout", "-q", "m@v2.0.0")
    assert sha256_file(bob.root / ART) == digest(v2)
    assert cache_oids(bob) == {digest(v1), digest(v2)}
