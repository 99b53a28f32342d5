"""A full disk is the user's to fix: one line naming the file, exit 1, nothing half-written
(issue 9, part 5). Runs on a real small tmpfs, which needs root (CI runs as root)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Repo, make_repo, random_bytes, sha256_file

from gitmodel.errors import environment_problem

ART = "models/m.bin"
MIB = 1 << 20

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path, leave: int) -> None:
    """Fill the file system of ``folder`` until only about ``leave`` bytes are free."""
    stat = os.statvfs(folder)
    free = stat.f_bavail * stat.f_frsize
    with open(folder / "filler", "wb") as stream:
        stream.truncate(0)
        stream.write(b"\0" * max(free - leave, 0))


def temp_leftovers(repo: Repo) -> list[Path]:
    tmp = repo.root / ".git/model/tmp"
    return sorted(tmp.iterdir()) if tmp.is_dir() else []


def states(repo: Repo) -> list[str]:
    return [m["state"] for m in json.loads(repo.model("status", "--json").stdout)["models"]]


def assert_one_clear_line(stderr: str, *needles: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "bug in gitmodel" not in stderr
    assert "No space left on device" in lines[0] and "free some space" in lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_add_on_a_full_disk(small_fs: Path) -> None:
    repo = make_repo(small_fs / "repo")
    repo.write(ART, random_bytes(3 * MIB, 1))
    fill(small_fs, leave=1 * MIB)  # the artifact is there; its copy into the cache is not
    out = repo.model("add", ART, check=False)
    assert out.returncode == 1
    assert_one_clear_line(out.stderr, ".git/model/tmp", "MiB free there of the 3.0 MiB it needed")
    assert not temp_leftovers(repo)
    assert not (repo.root / (ART + ".model.toml")).exists()
    assert repo.model("status", check=False).returncode in (0, 1)  # answers, no traceback
    (small_fs / "filler").unlink()
    repo.model("add", ART)  # with room again, the same command finishes the job
    assert states(repo) == ["clean"]


def test_checkout_on_a_full_disk_keeps_the_old_bytes(small_fs: Path) -> None:
    repo = make_repo(small_fs / "repo")
    for seed in (1, 2):
        repo.write(ART, random_bytes(2 * MIB, seed))
        repo.model("add", ART)
        repo.commit(f"v{seed}")
    v1 = hashlib.sha256(random_bytes(2 * MIB, 1)).hexdigest()
    v2 = sha256_file(repo.root / ART)
    fill(small_fs, leave=MIB)  # room for git's own small writes, not for a 2 MiB artifact
    switched = repo.git("checkout", "-q", "HEAD~1", check=False)
    assert switched.returncode == 0, switched.stderr  # git's checkout is never aborted by us
    assert "Traceback" not in switched.stderr and "No space left on device" in switched.stderr
    assert sha256_file(repo.root / ART) == v2  # old bytes left whole, not a torn file
    out = repo.model("checkout", check=False)
    assert out.returncode == 1
    assert_one_clear_line(out.stderr)
    assert sha256_file(repo.root / ART) == v2 and not temp_leftovers(repo)
    (small_fs / "filler").unlink()
    repo.model("checkout")
    assert sha256_file(repo.root / ART) == v1
    assert states(repo) == ["clean"]


def test_pull_on_a_full_disk(small_fs: Path, tmp_path: Path) -> None:
    author = make_repo(tmp_path / "author")
    store = tmp_path / "store"
    author.model("remote", "add", "origin", str(store), "--default", "--create")
    author.write(ART, random_bytes(3 * MIB, 3))
    author.model("add", ART)
    author.commit("model")
    author.model("push")
    subprocess.run(["git", "clone", "-q", str(author.root), str(small_fs / "clone")], check=True)
    clone = Repo(small_fs / "clone")
    clone.git("config", "model.autofetch", "false")
    clone.model("install")
    fill(small_fs, leave=MIB)
    out = clone.model("pull", check=False)
    assert out.returncode == 1
    assert "No space left on device" in out.stderr and "Traceback" not in out.stderr
    assert "bug in gitmodel" not in out.stderr
    assert not temp_leftovers(clone)
    (small_fs / "filler").unlink()
    clone.model("pull")
    assert sha256_file(clone.root / ART) == sha256_file(author.root / ART)


@pytest.mark.parametrize("code", ["ENOSPC", "EDQUOT", "EROFS", "EACCES", "EMFILE"])
def test_each_condition_has_its_advice(code: str) -> None:
    import errno

    number = getattr(errno, code)
    line = environment_problem(OSError(number, os.strerror(number), "/x/y"))
    assert line is not None and "(/x/y)" in line and "run the command again" in line
    assert environment_problem(ValueError("x")) is None
    assert environment_problem(OSError(errno.ENOENT, "gone", "/x")) is None  # that one is a bug
