"""`git model fsck`: corrupt, missing and orphaned objects, by model and version; --repair from a
directory remote and from S3 on loopback; --remote --deep on the remote's copies."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Repo, empty_s3_bucket, random_bytes, run_on_pty

ART = "models/m.bin"
BUCKET = "fsck"


def oid_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def cached(repo: Repo, data: bytes) -> Path:
    digest = hashlib.sha256(data).hexdigest()
    return repo.root / ".git" / "model" / "objects" / digest[:2] / digest[2:]


def flip(path: Path, offset: int = 0) -> None:
    """Damage one byte in place, as a failing disk or a write through a hard link would."""
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    os.chmod(path, 0o444)


def fsck(repo: Repo, *args: str) -> tuple[int, dict[str, Any]]:
    result = repo.model("fsck", "--json", *args, check=False)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def problems(report: dict[str, Any]) -> dict[str, str]:
    return {f["oid"]: f["problem"] for f in report["findings"]}


def with_version(repo: Repo, data: bytes, version: str = "v1.0.0") -> None:
    repo.write(ART, data)
    repo.model("add", ART)
    repo.commit(f"model {version}")
    repo.model("tag", "m", version)


def with_directory_remote(repo: Repo, tmp_path: Path) -> Path:
    remote = tmp_path / "remote"
    repo.model("remote", "add", "origin", str(remote), "--default", "--create")
    repo.commit("model remote")
    return remote


def test_a_clean_repository_passes(repo: Repo) -> None:
    with_version(repo, random_bytes(100_000, 1))
    code, report = fsck(repo)
    assert code == 0 and report["ok"] and report["findings"] == []
    assert report["cache_objects"] == 1 and report["referenced"] == 1
    # --json is stable: a key is added or renamed here on purpose, with docs/storage.md
    assert sorted(report) == [
        "cache_bytes", "cache_objects", "chunks_checked", "findings", "hash_seconds", "jobs",
        "notes", "ok", "only_on_remote", "orphans", "packs", "packs_checked", "problems",
        "referenced", "remote", "remote_asked", "remote_hashed", "strays"]
    text = repo.model("fsck").stdout
    assert "every object is where it should be" in text


def test_corrupt_object_is_healed_from_a_directory_remote(repo: Repo, tmp_path: Path) -> None:
    data = random_bytes(3 << 20, 2)
    remote = with_directory_remote(repo, tmp_path)
    with_version(repo, data)
    repo.model("push", "--all-versions")
    flip(cached(repo, data), 1 << 20)

    code, report = fsck(repo)
    assert code == 1 and not report["ok"]
    [finding] = report["findings"]
    assert finding["oid"] == oid_of(data) and finding["problem"] == "corrupt"
    assert sorted(finding) == ["detail", "more_uses", "oid", "problem", "quarantined_to",
                               "repaired", "size", "uses"]
    assert {(u["model"], u["version"]) for u in finding["uses"]} >= {("m", "m@v1.0.0")}
    text = repo.model("fsck", check=False)
    assert text.returncode == 1
    assert "model m" in text.stdout and "m@v1.0.0" in text.stdout and "corrupt" in text.stdout

    damaged = cached(repo, data).read_bytes()
    code, report = fsck(repo, "--repair")
    assert code == 0, report
    [finding] = report["findings"]
    assert finding["repaired"] and finding["problem"] == "corrupt"
    assert cached(repo, data).read_bytes() == data  # byte-identical after
    assert Path(finding["quarantined_to"]).read_bytes() == damaged
    assert Path(finding["quarantined_to"]).parent == repo.root / ".git" / "model" / "quarantine"
    assert (remote / "objects").is_dir()
    code, report = fsck(repo)
    assert code == 0 and report["findings"] == []
    # and a checkout of the version materializes the healed bytes
    (repo.root / ART).unlink()
    repo.model("checkout")
    assert (repo.root / ART).read_bytes() == data


def test_repair_with_no_remote_copy_quarantines_and_fails(repo: Repo) -> None:
    data = random_bytes(10_000, 3)
    with_version(repo, data)
    flip(cached(repo, data))
    code, report = fsck(repo, "--repair")
    assert code == 1
    [finding] = report["findings"]
    assert not finding["repaired"] and "no remote has a good copy" in finding["detail"]
    assert not cached(repo, data).exists()
    code, report = fsck(repo)  # now it is missing, named by its model and version
    assert code == 1 and problems(report) == {oid_of(data): "missing"}


def test_missing_object_is_reported_with_its_model_and_version(repo: Repo) -> None:
    old, new = random_bytes(50_000, 4), random_bytes(60_000, 5)
    with_version(repo, old, "v1.0.0")
    with_version(repo, new, "v1.1.0")
    path = cached(repo, old)
    os.chmod(path.parent, 0o755)
    path.unlink()

    code, report = fsck(repo)
    assert code == 1
    [finding] = report["findings"]
    assert finding["oid"] == oid_of(old) and finding["problem"] == "missing"
    assert "no model remote is configured" in finding["detail"]
    uses = {(u["model"], u["version"], u["model_file"]) for u in finding["uses"]}
    assert ("m", "m@v1.0.0", "models/m.bin.model.toml") in uses
    assert not any("v1.1.0" in version for _, version, _ in uses)
    text = repo.model("fsck", check=False).stdout
    assert "m@v1.0.0" in text and "missing" in text and "m@v1.1.0" not in text


def test_an_object_only_on_the_remote_is_not_missing(repo: Repo, tmp_path: Path) -> None:
    old, new = random_bytes(50_000, 6), random_bytes(60_000, 7)
    with_directory_remote(repo, tmp_path)
    with_version(repo, old, "v1.0.0")
    with_version(repo, new, "v1.1.0")
    repo.model("push", "--all-versions")
    cached(repo, old).unlink()  # as gc frees what the remote has
    code, report = fsck(repo)
    assert code == 0 and report["only_on_remote"] == 1 and report["findings"] == []


def test_orphan_is_reported_and_does_not_fail(repo: Repo) -> None:
    kept, dropped = random_bytes(20_000, 8), random_bytes(30_000, 9)
    repo.write(ART, dropped)
    repo.model("add", ART)  # staged, then replaced before any commit: no model file names it
    with_version(repo, kept)
    code, report = fsck(repo)
    assert code == 0
    assert [(o["oid"], o["size"]) for o in report["orphans"]] == [(oid_of(dropped), 30_000)]
    assert "orphaned: 1 object(s)" in repo.model("fsck").stdout


def test_remote_lacking_a_committed_object_is_reported(repo: Repo, tmp_path: Path) -> None:
    pushed, unpushed = random_bytes(10_000, 10), random_bytes(10_000, 11)
    with_directory_remote(repo, tmp_path)
    with_version(repo, pushed, "v1.0.0")
    repo.model("push", "--all-versions")
    with_version(repo, unpushed, "v1.1.0")  # committed and tagged, never pushed
    assert fsck(repo)[0] == 0  # locally everything is fine
    code, report = fsck(repo, "--remote", "origin")
    assert code == 1 and problems(report) == {oid_of(unpushed): "not-on-remote"}


def test_deep_check_finds_a_corrupt_copy_on_a_directory_remote(repo: Repo, tmp_path: Path) -> None:
    data = random_bytes(200_000, 12)
    remote = with_directory_remote(repo, tmp_path)
    with_version(repo, data)
    repo.model("push", "--all-versions")
    digest = hashlib.sha256(data).hexdigest()
    flip(remote / "objects" / digest[:2] / digest[2:], 5)
    assert fsck(repo, "--remote", "origin")[0] == 0  # it exists: only --deep reads it
    code, report = fsck(repo, "--remote", "origin", "--deep")
    assert code == 1 and report["remote_hashed"] == 1
    assert problems(report) == {oid_of(data): "remote-corrupt"}
    assert cached(repo, data).read_bytes() == data  # the good local copy is untouched
    # --repair puts the cache's good copy back on the remote, checked by downloading it again
    code, report = fsck(repo, "--remote", "origin", "--deep", "--repair")
    assert code == 0 and report["findings"][0]["repaired"], report
    assert (remote / "objects" / digest[:2] / digest[2:]).read_bytes() == data
    assert fsck(repo, "--remote", "origin", "--deep")[1]["findings"] == []


def test_deep_needs_a_remote(repo: Repo) -> None:
    result = repo.model("fsck", "--deep", check=False)
    assert result.returncode == 1 and "--remote" in result.stderr


# -- S3 on loopback ---------------------------------------------------------------------------

@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield empty_s3_bucket(s3_endpoint, monkeypatch, BUCKET)


def test_corrupt_object_is_healed_from_s3_and_deep_finds_a_corrupt_s3_copy(
        repo: Repo, s3: Any) -> None:
    good, other = random_bytes(1 << 20, 13), random_bytes(300_000, 14)
    repo.model("remote", "add", "origin", f"s3://{BUCKET}/repo", "--default")
    repo.commit("model remote")
    with_version(repo, good, "v1.0.0")
    with_version(repo, other, "v2.0.0")
    repo.model("push", "--all-versions")
    flip(cached(repo, good), 1000)

    code, report = fsck(repo, "--repair")
    assert code == 0 and problems(report) == {oid_of(good): "corrupt"}
    assert report["findings"][0]["repaired"]
    assert cached(repo, good).read_bytes() == good

    digest = hashlib.sha256(other).hexdigest()
    s3.pipe(f"{BUCKET}/repo/objects/{digest[:2]}/{digest[2:]}", b"not the model")
    code, report = fsck(repo, "--remote", "origin", "--deep")
    assert code == 1 and report["remote_hashed"] == 2
    assert problems(report) == {oid_of(other): "remote-corrupt"}
    code, report = fsck(repo, "--remote", "origin", "--deep", "--repair")
    assert code == 0 and report["findings"][0]["repaired"], report
    assert s3.cat(f"{BUCKET}/repo/objects/{digest[:2]}/{digest[2:]}") == other


def test_an_object_another_worktree_needs_is_checked(repo: Repo, tmp_path: Path) -> None:
    here, there = random_bytes(10_000, 15), random_bytes(12_000, 16)
    with_version(repo, here)
    repo.git("worktree", "add", "-q", "-b", "exp", str(tmp_path / "exp"))
    other = Repo(tmp_path / "exp")
    other.write(ART, there)
    other.model("add", ART)  # staged there, not committed: only that worktree's index names it
    flip(cached(repo, there))
    code, report = fsck(repo)
    assert code == 1 and problems(report) == {oid_of(there): "corrupt"}
    [finding] = report["findings"]
    assert any(str(tmp_path / "exp") in u["version"] and "index" in u["version"]
               for u in finding["uses"]), finding["uses"]


def test_a_terminal_sees_the_hashing_progress_and_a_pipe_does_not(repo: Repo) -> None:
    with_version(repo, random_bytes(8 << 20, 17))
    code, out, seen = run_on_pty(["fsck"], repo.root)
    assert code == 0 and "every object is where it should be" in out
    assert b"hashing the cache:" in seen and b"/8 MiB" in seen
    assert "hashing the cache" not in repo.model("fsck").stderr


def test_an_unreachable_default_remote_is_said_and_fails(repo: Repo, tmp_path: Path) -> None:
    old, new = random_bytes(5_000, 18), random_bytes(6_000, 19)
    remote = with_directory_remote(repo, tmp_path)
    with_version(repo, old, "v1.0.0")
    with_version(repo, new, "v1.1.0")
    repo.model("push", "--all-versions")
    cached(repo, old).unlink()
    remote.rename(tmp_path / "unmounted")  # the share is gone: fsck cannot tell gc's from loss
    code, report = fsck(repo)
    assert code == 1 and problems(report) == {oid_of(old): "missing"}
    assert "could not be asked" in report["findings"][0]["detail"]
    assert any("does not exist" in note for note in report["notes"])
