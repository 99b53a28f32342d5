"""Artifacts in the work tree: status states, link modes, rescue."""

from __future__ import annotations

import json
import os
import time

from conftest import Repo, random_bytes, run_on_pty, sha256_file

ART = "models/m.pt"


def state(repo: Repo) -> str:
    return json.loads(repo.model("status", "--json").stdout)["models"][0]["state"]


def test_status_states(repo: Repo) -> None:
    repo.write(ART, random_bytes(1000, 1))
    repo.model("add", ART)
    repo.commit("v1")
    assert state(repo) == "clean"
    repo.write(ART, random_bytes(1000, 2))
    assert state(repo) == "modified"
    repo.model("add", ART)
    repo.commit("v2")
    old = repo.git("show", f"HEAD~1:{ART}.model.toml").stdout
    repo.write(ART + ".model.toml", old)  # model file back to v1, artifact still v2 (cached)
    assert state(repo) == "stale"
    os.unlink(repo.root / ART)
    assert state(repo) == "missing"


def test_hardlink_mode_warns_and_status_catches_in_place_writes(repo: Repo) -> None:
    repo.git("config", "model.link", "hardlink")
    repo.write(ART, random_bytes(4000, 1))
    repo.model("add", ART)
    repo.commit("v1")
    os.unlink(repo.root / ART)
    result = repo.model("checkout")
    assert "hardlink" in result.stderr
    assert os.stat(repo.root / ART).st_nlink == 2  # shares the cache object's inode
    # root ignores the read-only bit, and so does a tool that chmods first
    os.chmod(repo.root / ART, 0o644)
    with open(repo.root / ART, "r+b") as stream:
        stream.write(b"overwritten in place")
    data = json.loads(repo.model("status", "--json").stdout)["models"][0]
    assert data["state"] == "broken"
    assert "hard link" in data["detail"]


def test_copy_is_the_default_and_independent_of_the_cache(repo: Repo) -> None:
    repo.write(ART, random_bytes(4000, 1))
    repo.model("add", ART)
    repo.commit("v1")
    os.unlink(repo.root / ART)
    repo.model("checkout")
    assert os.stat(repo.root / ART).st_nlink == 1
    assert os.stat(repo.root / ART).st_mode & 0o200  # the user's file is writable


def test_checkout_force_drops_unadded_bytes_without_saving(repo: Repo) -> None:
    repo.write(ART, random_bytes(1000, 1))
    repo.model("add", ART)
    repo.commit("v1")
    v1 = sha256_file(repo.root / ART)
    repo.write(ART, random_bytes(1000, 2))
    repo.model("checkout", "--force")
    assert sha256_file(repo.root / ART) == v1
    assert repo.model("recover").stdout.startswith("nothing was rescued")


def test_progress_shows_on_a_terminal_only(repo: Repo) -> None:
    repo.write(ART, random_bytes(40 << 20, 1))
    quiet = repo.model("add", ART)
    assert "\r" not in quiet.stderr and "MiB/s" not in quiet.stderr
    repo.write(ART, random_bytes(40 << 20, 2))
    time.sleep(0.05)
    code, out, seen = run_on_pty(["add", ART], repo.root)
    assert code == 0, out
    assert b"hashing:" in seen and b"MiB/s" in seen
