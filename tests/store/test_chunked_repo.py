"""Chunked objects end to end in a real git repository through the CLI: add, commit, checkout,
switch and reset restore every version byte for byte; a damaged chunk is caught at checkout;
a kill -9 during add never leaves a recipe naming missing bytes (docs/store-format.md)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Repo, make_repo, random_bytes

from gitmodel.store.packs import ChunkIndex, Recipe

ART = "models/m.bin"
SIZE = 2 << 20


def chunked_repo(path: Path) -> Repo:
    repo = make_repo(path)
    repo.git("config", "model.chunkThreshold", "64k")
    return repo


def store_of(repo: Repo) -> Path:
    return repo.root / ".git" / "model"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def recipes_are_whole(store: Path) -> int:
    """Every recipe decodes and every chunk it lists is in a pack whose index is sound; every
    index's pack exists at the size it states. Returns the number of recipes."""
    index = ChunkIndex.load(store / "packs")
    assert not index.damaged, index.damaged
    count = 0
    for path in (store / "recipes").glob("*/*"):
        recipe = Recipe.decode(path.read_bytes(), expected_oid=f"sha256:{path.parent.name}"
                               f"{path.name}", source=str(path))
        missing = [c.hex() for c, _ in recipe.chunks if c not in index]
        assert not missing, f"{path} names chunks in no pack: {missing[:3]}"
        count += 1
    return count


@pytest.fixture
def versions(tmp_path: Path) -> tuple[Repo, bytes, bytes]:
    repo = chunked_repo(tmp_path / "repo")
    first = random_bytes(SIZE, 1)
    second = first[:SIZE // 2] + random_bytes(100_000, 2) + first[SIZE // 2 + 100_000:]
    for branch, data in (("a", first), ("b", second)):
        repo.git("switch", "-q", "-c", branch, "main")
        repo.write(ART, data)
        repo.model("add", ART)
        repo.commit(branch)
    return repo, first, second


def test_every_kind_of_checkout_restores_chunked_versions(
        versions: tuple[Repo, bytes, bytes]) -> None:
    repo, first, second = versions
    store = store_of(repo)
    assert recipes_are_whole(store) == 2
    assert not list((store / "objects").glob("*/*"))  # both chunked, none whole
    packed = sum(p.stat().st_size for p in (store / "packs").glob("*.pack"))
    assert packed < 1.1 * (SIZE + 100_000)  # the shared bytes are stored once
    for move, data in ((["checkout", "-q", "a"], first), (["switch", "-q", "b"], second),
                       (["checkout", "-q", "--detach", "b"], second),
                       (["reset", "-q", "--hard", "a"], first), (["checkout", "-q", "b"], second),
                       (["restore", "--source", "a", "--", f"{ART}.model.toml"], first)):
        repo.git(*move)
        repo.model("checkout")  # a no-op where the hooks or the filter did it already
        assert sha((repo.root / ART).read_bytes()) == sha(data), move
    status = repo.model("status").stdout
    assert "modified" not in status


def test_small_files_stay_whole_in_a_chunked_repo(tmp_path: Path) -> None:
    repo = chunked_repo(tmp_path / "repo")
    repo.write("models/tok.json", b"{}" * 1000)
    repo.model("add", "models/tok.json")
    store = store_of(repo)
    assert len(list((store / "objects").glob("*/*"))) == 1
    assert not (store / "recipes").exists()


def test_a_damaged_chunk_is_caught_at_checkout_and_the_file_kept(
        versions: tuple[Repo, bytes, bytes]) -> None:
    repo, first, second = versions
    repo.git("switch", "-q", "a")
    repo.model("checkout")
    store = store_of(repo)
    # damage a chunk only version b has
    index = ChunkIndex.load(store / "packs")
    recipes = {p.parent.name + p.name: Recipe.decode(p.read_bytes(), expected_oid=None,
                                                     source=str(p))
               for p in (store / "recipes").glob("*/*")}
    only_b = {c for c, _ in recipes[sha(second)].chunks} - {c for c, _ in recipes[sha(first)].chunks}
    where = index.locate(sorted(only_b)[0])
    assert where is not None
    pack, offset, length = where
    os.chmod(pack, 0o644)
    with open(pack, "r+b") as stream:
        stream.seek(offset + length // 3)
        byte = stream.read(1)
        stream.seek(offset + length // 3)
        stream.write(bytes([byte[0] ^ 0x40]))
    result = repo.git("switch", "-q", "b", check=False)
    again = repo.model("checkout", check=False)
    assert again.returncode == 1
    assert "corrupt" in again.stderr and "Traceback" not in again.stderr + result.stderr
    assert sha((repo.root / ART).read_bytes()) == sha(first)  # untouched
    assert not [p for p in (repo.root / "models").iterdir() if p.name.endswith(".tmp")]


def test_push_and_pull_of_chunked_objects_keep_working(tmp_path: Path) -> None:
    repo = chunked_repo(tmp_path / "repo")
    data = random_bytes(SIZE, 3)
    repo.write(ART, data)
    repo.model("add", ART)
    repo.commit("model")
    remote = tmp_path / "remote"
    remote.mkdir()
    repo.model("remote", "add", "origin", str(remote), "--default")
    repo.commit("remote")
    repo.model("push")
    hexdigest = sha(data)
    # chunked on the remote too (gitmodel/remote/packs.py): a recipe over packs, no whole object
    assert (remote / "recipes" / hexdigest[:2] / hexdigest[2:]).is_file()
    assert list((remote / "packs").glob("pack-*.idx"))
    assert not (remote / "objects").exists()
    clone = Repo(tmp_path / "clone")
    subprocess.run(["git", "clone", "-q", str(repo.root), str(clone.root)], check=True)
    clone.model("install")
    clone.model("pull")
    assert sha((clone.root / ART).read_bytes()) == hexdigest


# -- kill -9 during add ---------------------------------------------------------------------------

KILLS = int(os.environ.get("GITMODEL_KILLS", "50"))
SEED = int(os.environ.get("GITMODEL_KILL_SEED", "2026"))


def test_kill_during_chunked_add_never_leaves_a_recipe_naming_missing_bytes(
        tmp_path: Path) -> None:
    repo = chunked_repo(tmp_path / "repo")
    rng = random.Random(SEED)
    base = random_bytes(4 << 20, 10)
    cmd = [sys.executable, "-m", "gitmodel", "add", ART]
    repo.write(ART, base)
    started = time.monotonic()
    subprocess.run(cmd, cwd=repo.root, check=True, capture_output=True)
    span = time.monotonic() - started
    for i in range(KILLS):
        # each round shares most chunks with earlier ones and brings a few new
        at = rng.randrange(0, len(base) - 200_000)
        repo.write(ART, base[:at] + random_bytes(150_000, 100 + i) + base[at + 150_000:])
        proc = subprocess.Popen(cmd, cwd=repo.root, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(rng.uniform(0, span * 1.3))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        (repo.root / ".git/index.lock").unlink(missing_ok=True)
        recipes_are_whole(store_of(repo))
    repo.model("add", ART)  # again: it finishes, and what it added restores
    assert recipes_are_whole(store_of(repo)) >= 2
    repo.commit("last")
    expected = (repo.root / ART).read_bytes()
    (repo.root / ART).unlink()
    repo.model("checkout")
    assert (repo.root / ART).read_bytes() == expected


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_chunked_add_on_a_full_disk_says_where_and_leaves_nothing(tmp_path: Path) -> None:
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(mount)], check=True)
    try:
        repo = chunked_repo(mount / "repo")
        repo.write(ART, random_bytes(3 << 20, 20))
        free = os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize
        (mount / "filler").write_bytes(b"\0" * max(free - (1 << 20), 0))
        out = repo.model("add", ART, check=False)
        assert out.returncode == 1 and "Traceback" not in out.stderr
        assert "No space left on device" in out.stderr and ".git/model/tmp" in out.stderr
        assert "of the 3.0 MiB it needed" in out.stderr
        assert not list((repo.root / ".git/model/tmp").iterdir())
        assert not (repo.root / ".git/model/recipes").exists()
        (mount / "filler").unlink()
        repo.model("add", ART)
        assert recipes_are_whole(store_of(repo)) == 1
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
