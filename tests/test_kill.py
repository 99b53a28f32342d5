"""kill -9 at seeded random moments during add, checkout (hooks and filter), push and pull
(issue 9, part 6). After each kill: every cache and remote object hashes to its name, `status`
answers without a traceback, running the command again finishes the job, and every artifact
holds one known version. GITMODEL_KILLS sets the kills per command (default 50, so 200 a run;
GITMODEL_KILLS=500 gives 2,000); GITMODEL_KILL_SEED picks the moments."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Repo, make_repo, random_bytes

KILLS = int(os.environ.get("GITMODEL_KILLS", "50"))
SEED = int(os.environ.get("GITMODEL_KILL_SEED", "2026"))
ART = "models/m.bin"
SIZE = 4 << 20  # large enough that hashing and copying take a few ms to land in


def killed(cmd: list[str], cwd: Path, delay: float) -> None:
    """Start ``cmd`` in its own process group and SIGKILL the whole group after ``delay``
    (git, its hooks and the filter die together, as with a closed terminal or the OOM killer)."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    time.sleep(delay)
    with contextlib.suppress(ProcessLookupError):  # it had finished: a moment too
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def duration(cmd: list[str], cwd: Path) -> float:
    started = time.monotonic()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    return time.monotonic() - started


def objects_match_their_names(store: Path) -> int:
    count = 0
    for path in (store / "objects").glob("*/*"):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest == path.parent.name + path.name, f"{path} holds other bytes"
        count += 1
    return count


def status_answers(repo: Repo) -> list[str]:
    out = subprocess.run([sys.executable, "-m", "gitmodel", "status", "--json"], cwd=repo.root,
                         capture_output=True, text=True)
    assert out.returncode in (0, 1), out.stderr
    assert "Traceback" not in out.stderr and "bug in gitmodel" not in out.stderr
    return [m["state"] for m in json.loads(out.stdout)["models"]] if out.stdout else []


def clear_git_lock(repo: Repo) -> None:
    """A killed git leaves its locks (index.lock, HEAD.lock when killed while moving HEAD, a
    ref's lock); git says to remove them, and so does the user."""
    git_dir = repo.root / ".git"
    for lock in [*git_dir.glob("*.lock"), *(git_dir / "refs").rglob("*.lock")]:
        lock.unlink(missing_ok=True)


def gitmodel_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "gitmodel", *args]


@pytest.fixture
def rng() -> random.Random:
    return random.Random(SEED)


def test_kill_during_add(repo: Repo, rng: random.Random) -> None:
    versions = {hashlib.sha256(random_bytes(SIZE, s)).hexdigest(): s for s in range(3)}
    repo.write(ART, random_bytes(SIZE, 0))
    span = duration(gitmodel_cmd("add", ART), repo.root)
    for i in range(KILLS):
        seed = i % 3
        repo.write(ART, random_bytes(SIZE, seed))
        killed(gitmodel_cmd("add", ART), repo.root, rng.uniform(0, span * 1.3))
        clear_git_lock(repo)
        objects_match_their_names(repo.root / ".git/model")
        status_answers(repo)
        repo.model("add", ART)  # again: it finishes
        assert status_answers(repo) == ["clean"]
        staged = repo.git("show", f":{ART}.model.toml").stdout
        assert hashlib.sha256((repo.root / ART).read_bytes()).hexdigest() in staged
        assert hashlib.sha256((repo.root / ART).read_bytes()).hexdigest() in versions
    assert ART not in repo.git("ls-files").stdout.split()


def test_kill_during_checkout(repo: Repo, rng: random.Random) -> None:
    known = set()
    for seed, branch in ((1, "a"), (2, "b")):
        repo.git("switch", "-q", "-c", branch, "main")
        repo.write(ART, random_bytes(SIZE, seed))
        known.add(hashlib.sha256(random_bytes(SIZE, seed)).hexdigest())
        repo.model("add", ART)
        repo.commit(branch)
    span = duration(["git", "checkout", "-q", "a"], repo.root)
    for i in range(KILLS):
        target = "b" if i % 2 == 0 else "a"
        killed(["git", "checkout", "-q", target], repo.root, rng.uniform(0, span * 1.3))
        clear_git_lock(repo)
        objects_match_their_names(repo.root / ".git/model")
        status_answers(repo)
        if (repo.root / ART).exists():  # whatever the kill left is whole, never torn
            assert hashlib.sha256((repo.root / ART).read_bytes()).hexdigest() in known
        # again: git's checkout, then gitmodel's for what the killed filter never did
        repo.git("checkout", "-q", "-f", target)
        repo.model("checkout")
        assert status_answers(repo) == ["clean"]
        assert hashlib.sha256((repo.root / ART).read_bytes()).hexdigest() in known


def team(tmp_path: Path) -> tuple[Repo, Path]:
    author = make_repo(tmp_path / "author")
    store = tmp_path / "store"
    author.model("remote", "add", "origin", str(store), "--default", "--create")
    for seed in range(3):
        author.write(f"models/m{seed}.bin", random_bytes(SIZE // 2, 10 + seed))
        author.model("add", f"models/m{seed}.bin")
    author.commit("models")
    return author, store


def test_kill_during_push(tmp_path: Path, rng: random.Random) -> None:
    author, store = team(tmp_path)
    span = duration(gitmodel_cmd("push"), author.root)
    for _ in range(KILLS):
        for path in (store / "objects").glob("*/*"):
            path.chmod(0o644)
            path.unlink()
        records = author.root / ".git/model/remotes"  # forget what the remote held
        for record in records.iterdir() if records.is_dir() else []:
            record.unlink()
        killed(gitmodel_cmd("push"), author.root, rng.uniform(0, span * 1.3))
        objects_match_their_names(store)  # never an object under its name before it is whole
        author.model("push")
        assert objects_match_their_names(store) == 3


def test_kill_during_pull(tmp_path: Path, rng: random.Random) -> None:
    author, _ = team(tmp_path)
    author.model("push")
    clone_dir = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(author.root), str(clone_dir)], check=True)
    clone = Repo(clone_dir)
    clone.git("config", "model.autofetch", "false")
    clone.model("install")
    known = {hashlib.sha256(random_bytes(SIZE // 2, 10 + s)).hexdigest() for s in range(3)}
    clone.model("pull")
    span = duration(gitmodel_cmd("pull"), clone.root)
    for _ in range(KILLS):
        cache = clone.root / ".git/model/objects"
        for path in cache.glob("*/*"):
            path.chmod(0o644)
            path.unlink()
        for seed in range(3):
            (clone.root / f"models/m{seed}.bin").unlink(missing_ok=True)
        killed(gitmodel_cmd("pull"), clone.root, rng.uniform(0, max(span, 0.3) * 1.3))
        objects_match_their_names(clone.root / ".git/model")
        status_answers(clone)
        for seed in range(3):  # what the kill left is whole
            art = clone.root / f"models/m{seed}.bin"
            if art.exists():
                assert hashlib.sha256(art.read_bytes()).hexdigest() in known
        clone.model("pull")
        assert status_answers(clone) == ["clean"] * 3
