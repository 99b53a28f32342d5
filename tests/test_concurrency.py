"""Concurrent commands take turns at shared files: eight `git model add` at once in one folder,
round after round, all succeed and every artifact stays ignored (issue 9, part 4)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from conftest import Repo, random_bytes

from gitmodel import locking

ADDS = 8
ROUNDS = 20


def test_eight_concurrent_adds_in_one_folder(repo: Repo) -> None:
    artifacts = []
    for round_ in range(ROUNDS):
        names = [f"models/r{round_:02d}-m{i}.bin" for i in range(ADDS)]
        for i, name in enumerate(names):
            repo.write(name, random_bytes(2000, 1000 * round_ + i))
        procs = [subprocess.Popen([sys.executable, "-m", "gitmodel", "add", name],
                                  cwd=repo.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for name in names]
        for proc, name in zip(procs, names, strict=True):
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, f"round {round_}, {name}: {err}"
        repo.commit(f"round {round_}")
        artifacts += names
    tracked = set(repo.git("ls-files", "models").stdout.split())
    assert not tracked & set(artifacts), "artifacts entered git"
    assert tracked == {f"{a}.model.toml" for a in artifacts} | {"models/.gitignore"}
    ignored = repo.git("check-ignore", "--no-index", *artifacts).stdout.split()
    assert sorted(ignored) == sorted(artifacts)
    # and `git add -A` (the symptom's last step) stages nothing of them
    repo.git("add", "-A")
    assert repo.git("status", "--porcelain").stdout == ""


def test_an_add_waits_for_gits_index_lock_to_go(repo: Repo) -> None:
    repo.write("models/m.bin", random_bytes(2000, 1))
    lock = repo.root / ".git/index.lock"
    lock.write_text("")  # another git command is writing the index
    proc = subprocess.Popen([sys.executable, "-m", "gitmodel", "add", "models/m.bin"],
                            cwd=repo.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    lock.unlink()  # ...and finishes
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "models/m.bin.model.toml" in repo.git("diff", "--cached", "--name-only").stdout


def test_a_failed_add_takes_back_only_its_own_ignore_line(repo: Repo) -> None:
    gitignore = repo.root / "models/.gitignore"
    repo.write("models/a.bin", random_bytes(2000, 1))
    repo.model("add", "models/a.bin")
    repo.write("models/b.bin", random_bytes(2000, 2))
    (repo.root / ".git/index.lock").write_text("")  # stays: this add fails
    failed = repo.model("add", "models/b.bin", check=False)
    assert failed.returncode == 1 and "index.lock" in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1
    assert gitignore.read_text() == "/a.bin\n"  # a's line kept, b's taken back
    assert not (repo.root / "models/b.bin.model.toml").exists()


def test_the_lock_is_waited_for_and_named_when_it_stays(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    with locking.held(path, "first"):
        started = time.monotonic()
        try:
            with locking.held(path, "second", timeout=0.3):
                raise AssertionError("a held lock was taken twice")
        except locking.GitmodelError as exc:
            assert str(path) in str(exc) and "run this again" in str(exc)
        assert time.monotonic() - started >= 0.3
    with locking.held(path, "third", timeout=0.1):  # released when the first left
        pass
