"""A teammate's branch can never make gitmodel overwrite a file git tracks, nor have two model
files write one path (issue 9, parts 1 and 2): real git commands, real hooks, the real filter.

The attack of issue 9: a branch adds a harmless tracked script ``aaa.sh`` and, in the same
commit, ``zzz.model.toml`` whose artifact is ``aaa.sh`` and whose oid names a payload. Before the
fix, the filter (which runs mid-checkout, when the index on disk is still the old one) restored
the payload over the script git had just written.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import Repo, random_bytes, sha256_file

from gitmodel.store import ObjectStore

HARMLESS = 'echo "running the tests"\n'
MARKER_NAME = "pwned"


def payload_for(marker: Path) -> bytes:
    return f"#!/bin/sh\necho PWNED > '{marker}'\n".encode()


def model_text(name: str, artifact: str, files: list[tuple[str, bytes]]) -> str:
    """A hand-made model file (as an attacker writes it, not `git model add`)."""
    lines = ["format = 1", f'name = "{name}"', f'artifact = "{artifact}"']
    for path, data in files:
        lines += ["[[files]]", f'path = "{path}"',
                  f'oid = "sha256:{hashlib.sha256(data).hexdigest()}"', f"size = {len(data)}"]
    return "\n".join(lines) + "\n"


def cache(repo: Repo, data: bytes, tmp_path: Path) -> None:
    """Put ``data`` in ``repo``'s cache, as if it had been fetched from the team's remote."""
    source = tmp_path / f"cache-{hashlib.sha256(data).hexdigest()[:8]}"
    source.write_bytes(data)
    ObjectStore(repo.root / ".git" / "model").put_file(source)


def attack_branch(repo: Repo, marker: Path, *, script: str = "aaa.sh",
                  model_file: str = "zzz.model.toml", branch: str = "pr") -> bytes:
    """A branch off main adding ``script`` and a model file naming it; returns the payload."""
    payload = payload_for(marker)
    repo.git("switch", "-q", "-c", branch, "main")
    repo.write(script, HARMLESS)
    base = model_file.rpartition("/")[0]
    artifact = script[len(base) + 1:] if base else script
    repo.write(model_file, model_text("zzz", artifact, [(artifact, payload)]))
    repo.git("add", script, model_file)
    repo.git("commit", "-q", "--no-verify", "-m", "add the tests")
    repo.git("switch", "-q", "main")
    return payload


def assert_refused(repo: Repo, stderr: str, rev: str = "pr", script: str = "aaa.sh",
                   model_file: str = "zzz.model.toml") -> None:
    """The tracked file is exactly as git wrote it, one line said why, and nothing ran."""
    assert (repo.root / script).read_bytes() == repo.git("show", f"{rev}:{script}").stdout.encode()
    lines = [ln for ln in stderr.splitlines() if "which git tracks" in ln]
    assert len(lines) == 1, stderr
    assert model_file in lines[0] and f"names {script}" in lines[0]
    assert "restored zzz" not in stderr
    run = subprocess.run(["sh", script], cwd=repo.root, capture_output=True, text=True)
    assert run.stdout == "running the tests\n"
    assert not (repo.root.parent / MARKER_NAME).exists()


@pytest.fixture
def armed(repo: Repo, tmp_path: Path) -> Repo:
    """``repo`` with the attack on branch pr and the payload in its cache."""
    payload = attack_branch(repo, repo.root.parent / MARKER_NAME)
    cache(repo, payload, tmp_path)
    return repo


# -- §1: every way git moves files ------------------------------------------------------------

def test_checkout_of_the_branch(armed: Repo) -> None:
    result = armed.git("checkout", "pr")
    assert_refused(armed, result.stderr)


def test_switch(armed: Repo) -> None:
    result = armed.git("switch", "pr")
    assert_refused(armed, result.stderr)


def test_checkout_with_hooks_only(armed: Repo) -> None:
    armed.git("config", "--unset", "filter.gitmodel.process")
    result = armed.git("checkout", "pr")
    assert_refused(armed, result.stderr)


def test_model_file_written_before_the_script(repo: Repo, tmp_path: Path) -> None:
    # git writes in path order: here the model file comes first and the script after it
    payload = attack_branch(repo, repo.root.parent / MARKER_NAME, script="zzz.sh",
                            model_file="aaa.model.toml")
    cache(repo, payload, tmp_path)
    result = repo.git("checkout", "pr")
    assert_refused(repo, result.stderr, script="zzz.sh", model_file="aaa.model.toml")


def test_script_in_a_subfolder(repo: Repo, tmp_path: Path) -> None:
    payload = attack_branch(repo, repo.root.parent / MARKER_NAME, script="models/aaa.sh",
                            model_file="models/zzz.model.toml")
    cache(repo, payload, tmp_path)
    result = repo.git("checkout", "pr")
    assert_refused(repo, result.stderr, script="models/aaa.sh",
                   model_file="models/zzz.model.toml")


def test_merge_fast_forward(armed: Repo) -> None:
    result = armed.git("merge", "--ff-only", "pr")
    assert_refused(armed, result.stderr)


def test_true_merge(armed: Repo) -> None:
    # a merge that makes a new commit: git names no tree to the filter
    armed.write("other.py", "x = 1\n")
    armed.git("add", "other.py")
    armed.commit("other")
    result = armed.git("merge", "--no-ff", "--no-edit", "pr")
    assert_refused(armed, result.stderr)


def test_pull(armed: Repo, tmp_path: Path) -> None:
    clone = Repo(tmp_path / "clone")
    Repo(tmp_path).git("clone", "-q", "--branch", "main", str(armed.root), str(clone.root))
    shutil.copytree(armed.root / ".git/model/objects", clone.root / ".git/model/objects")
    clone.model("install")
    result = clone.git("pull", "--no-rebase", "origin", "pr")
    assert (clone.root / "aaa.sh").read_text() == HARMLESS
    assert_refused(clone, result.stderr, rev="origin/pr")


def test_rebase(armed: Repo) -> None:
    armed.git("switch", "-q", "-c", "mine", "main")
    armed.write("mine.py", "y = 2\n")
    armed.git("add", "mine.py")
    armed.commit("mine")
    result = armed.git("rebase", "pr")
    assert_refused(armed, result.stderr)


def test_cherry_pick(armed: Repo) -> None:
    result = armed.git("cherry-pick", "pr")
    assert_refused(armed, result.stderr)


def test_reset_hard(armed: Repo) -> None:
    armed.git("switch", "-q", "-c", "work", "main")
    result = armed.git("reset", "--hard", "pr")
    assert_refused(armed, result.stderr)


def test_stash_pop(repo: Repo, tmp_path: Path) -> None:
    payload = payload_for(repo.root.parent / MARKER_NAME)
    cache(repo, payload, tmp_path)
    repo.write("aaa.sh", HARMLESS)
    repo.write("zzz.model.toml", model_text("zzz", "aaa.sh", [("aaa.sh", payload)]))
    repo.git("add", "aaa.sh", "zzz.model.toml")
    repo.git("stash", "-q")
    assert not (repo.root / "aaa.sh").exists()
    result = repo.git("stash", "pop")
    assert_refused(repo, result.stderr, rev=":0")


def test_worktree_add(armed: Repo, tmp_path: Path) -> None:
    other = tmp_path / "other"
    result = armed.git("worktree", "add", str(other), "pr")
    assert_refused(Repo(other), result.stderr)


def test_clone_then_install(armed: Repo, tmp_path: Path) -> None:
    clone = Repo(tmp_path / "clone")
    Repo(tmp_path).git("clone", "-q", "--branch", "pr", str(armed.root), str(clone.root))
    shutil.copytree(armed.root / ".git/model/objects", clone.root / ".git/model/objects")
    result = clone.model("install")
    assert_refused(clone, result.stderr)


def test_model_file_naming_itself(repo: Repo, tmp_path: Path) -> None:
    payload = payload_for(repo.root.parent / MARKER_NAME)
    cache(repo, payload, tmp_path)
    repo.git("switch", "-q", "-c", "pr")
    text = model_text("zzz", "zzz.model.toml", [("zzz.model.toml", payload)])
    repo.write("zzz.model.toml", text)
    repo.git("add", "zzz.model.toml")
    repo.git("commit", "-q", "--no-verify", "-m", "self")
    repo.git("switch", "-q", "main")
    result = repo.git("checkout", "pr")
    assert (repo.root / "zzz.model.toml").read_text() == text
    assert "zzz.model.toml" in result.stderr and "restored zzz" not in result.stderr
    repo.git("switch", "-q", "main")
    repo.git("config", "--unset", "filter.gitmodel.process")
    result = repo.git("checkout", "pr")
    assert (repo.root / "zzz.model.toml").read_text() == text
    assert "restored zzz" not in result.stderr


def test_legitimate_models_still_restore_on_every_path(repo: Repo) -> None:
    """The guard refuses only what git tracks: an ordinary model moves as before."""
    art = "models/m.bin"
    repo.write(art, random_bytes(5000, 1))
    repo.model("add", art)
    repo.commit("v1")
    v1 = sha256_file(repo.root / art)
    repo.write(art, random_bytes(5000, 2))
    repo.model("add", art)
    repo.commit("v2")
    v2 = sha256_file(repo.root / art)
    result = repo.git("checkout", "HEAD~1")
    assert sha256_file(repo.root / art) == v1 and "restored m" in result.stderr
    repo.git("switch", "-q", "main")
    assert sha256_file(repo.root / art) == v2
    repo.git("reset", "-q", "--hard", "HEAD~1")
    assert sha256_file(repo.root / art) == v1
    status = json.loads(repo.model("status", "--json").stdout)
    assert [m["state"] for m in status["models"]] == ["clean"]


# -- §6: the full scenario, through a real directory remote ------------------------------------

def test_malicious_branch_through_a_directory_remote(tmp_path: Path) -> None:
    from conftest import make_repo

    store = tmp_path / "team-store"
    origin = tmp_path / "origin.git"
    Repo(tmp_path).git("init", "-q", "--bare", str(origin))
    attacker = make_repo(tmp_path / "attacker")
    attacker.model("remote", "add", "team", str(store), "--default", "--create")
    attacker.commit("model remote")
    attacker.git("remote", "add", "origin", str(origin))
    attacker.git("push", "-q", "origin", "main")
    victim = Repo(tmp_path / "victim")
    Repo(tmp_path).git("clone", "-q", str(origin), str(victim.root))
    victim.model("install")

    marker = tmp_path / MARKER_NAME
    payload = attack_branch(attacker, marker)
    cache(attacker, payload, tmp_path)
    pushed = attacker.git("push", "origin", "pr")
    assert "uploaded 1 model object" in pushed.stderr
    hexdigest = hashlib.sha256(payload).hexdigest()
    assert (store / "objects" / hexdigest[:2] / hexdigest[2:]).read_bytes() == payload

    victim.git("fetch", "-q")
    result = victim.git("checkout", "pr")
    assert result.returncode == 0
    assert (victim.root / "aaa.sh").read_bytes() == \
        victim.git("show", "origin/pr:aaa.sh").stdout.encode()
    assert_refused(victim, result.stderr, rev="origin/pr")
    assert not marker.exists()
    # refused before any byte moved: the payload was not even fetched
    assert not (victim.root / ".git/model/objects" / hexdigest[:2] / hexdigest[2:]).exists()
    # and `git model checkout --force` refuses it the same way
    forced = victim.model("checkout", "--force", check=False)
    assert forced.returncode == 1 and "which git tracks" in forced.stderr
    assert (victim.root / "aaa.sh").read_text() == HARMLESS


# -- §2: two model files may not claim one artifact --------------------------------------------

GOOD = "models/good.safetensors"


@pytest.fixture
def overlapped(repo: Repo) -> tuple[Repo, str, str]:
    """main holds model good; branch pr adds a hand-made models/zzz.model.toml naming its
    artifact with other cached bytes. Returns (repo, good's sha256, the other bytes' sha256)."""
    repo.write(GOOD, random_bytes(4000, 1))
    repo.model("add", GOOD)
    repo.commit("good")
    good = sha256_file(repo.root / GOOD)
    other = random_bytes(4000, 2)
    repo.write("models/other.bin", other)
    repo.model("add", "models/other.bin")  # now cached
    repo.git("reset", "-q", "HEAD", "--", "models")
    (repo.root / "models/other.bin.model.toml").unlink()
    (repo.root / "models/other.bin").unlink()
    repo.git("checkout", "--", "models/.gitignore")
    repo.git("switch", "-q", "-c", "pr")
    repo.write("models/zzz.model.toml",
               model_text("zzz", "good.safetensors", [("good.safetensors", other)]))
    repo.git("add", "models/zzz.model.toml")
    repo.git("commit", "-q", "--no-verify", "-m", "zzz")
    repo.git("switch", "-q", "main")
    return repo, good, hashlib.sha256(other).hexdigest()


def overlap_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if "also the artifact of" in ln]


def test_overlap_refused_by_checkout_of_the_branch(overlapped: tuple[Repo, str, str]) -> None:
    repo, good, _ = overlapped
    result = repo.git("checkout", "pr")
    assert sha256_file(repo.root / GOOD) == good
    assert overlap_lines(result.stderr) and "restored zzz" not in result.stderr
    assert "models/zzz.model.toml" in overlap_lines(result.stderr)[0]


def test_overlap_refused_by_the_hooks_without_the_filter(
        overlapped: tuple[Repo, str, str]) -> None:
    repo, good, _ = overlapped
    repo.git("config", "--unset", "filter.gitmodel.process")
    result = repo.git("merge", "--ff-only", "pr")
    assert sha256_file(repo.root / GOOD) == good
    assert overlap_lines(result.stderr)


def test_overlap_refused_by_reset_hard(overlapped: tuple[Repo, str, str]) -> None:
    repo, good, _ = overlapped
    result = repo.git("reset", "--hard", "pr")
    assert sha256_file(repo.root / GOOD) == good
    assert overlap_lines(result.stderr)


def test_overlap_refused_by_checkout_force_status_and_check(
        overlapped: tuple[Repo, str, str]) -> None:
    repo, good, _ = overlapped
    repo.git("merge", "-q", "--ff-only", "pr")
    forced = repo.model("checkout", "--force", check=False)
    assert forced.returncode == 1
    assert "restored" not in forced.stdout + forced.stderr
    assert "also the artifact of" in forced.stderr
    assert len(forced.stderr.strip().splitlines()) == 1 and "Traceback" not in forced.stderr
    assert sha256_file(repo.root / GOOD) == good
    status = repo.model("status", check=False)
    assert status.returncode == 1 and "also the artifact of" in status.stderr
    data = json.loads(repo.model("status", "--json", check=False).stdout)
    assert data["errors"] and not any(m["name"] == "zzz" for m in data["models"])
    # the pre-commit check: `git model check` and the hook refuse a commit that stages it
    repo.git("switch", "-q", "-c", "again", "main~1")
    repo.git("checkout", "pr", "--", "models/zzz.model.toml")
    check = repo.model("check", check=False)
    assert check.returncode == 1 and "also the artifact of" in check.stderr
    commit = repo.git("commit", "-m", "zzz again", check=False)
    assert commit.returncode != 0 and "also the artifact of" in commit.stderr


def test_artifact_inside_another_models_folder(repo: Repo, tmp_path: Path) -> None:
    repo.write("models/bert/config.json", '{"a": 1}')
    repo.write("models/bert/weights.bin", random_bytes(3000, 1))
    repo.model("add", "models/bert")
    repo.commit("bert")
    weights = sha256_file(repo.root / "models/bert/weights.bin")
    other = random_bytes(3000, 2)
    cache(repo, other, tmp_path)
    repo.git("switch", "-q", "-c", "pr")
    repo.write("models/bert-part.model.toml",
               model_text("part", "bert/weights.bin", [("bert/weights.bin", other)]))
    repo.git("add", "models/bert-part.model.toml")
    repo.git("commit", "-q", "--no-verify", "-m", "part")
    repo.git("switch", "-q", "main")
    result = repo.git("checkout", "pr")
    assert sha256_file(repo.root / "models/bert/weights.bin") == weights
    assert "inside models/bert" in result.stderr
    status = repo.model("status", check=False)
    assert status.returncode == 1 and "inside models/bert" in status.stderr


def test_overlapping_ignores_case_and_covers_model_files() -> None:
    from gitmodel.workspace import Claim, overlapping

    refused = overlapping([Claim("a.model.toml", "W.bin"), Claim("b.model.toml", "w.bin")])
    assert set(refused) == {"a.model.toml", "b.model.toml"}
    refused = overlapping([Claim("m/x.model.toml", "m/x")], ["m/x/inner.model.toml"])
    assert set(refused) == {"m/x.model.toml"} and "holds the model file" in refused[
        "m/x.model.toml"]
    assert overlapping([Claim("a.model.toml", "a"), Claim("ab.model.toml", "a-b"),
                        Claim("c.model.toml", "a.b/c")]) == {}


def test_status_reports_a_model_file_naming_a_tracked_file(armed: Repo) -> None:
    armed.git("checkout", "-q", "pr")
    status = armed.model("status", check=False)
    assert status.returncode == 1
    assert "zzz.model.toml names aaa.sh, which git tracks" in status.stderr
    assert "zzz" not in status.stdout


def test_tracked_set_ignores_case() -> None:
    from gitmodel.workspace import Tracked

    tracked = Tracked(["src/Run.sh", "models/.gitignore"])
    assert tracked.hit("SRC/run.SH") == "src/Run.sh"
    assert tracked.hit("src") == "src/Run.sh"  # a folder artifact holding a tracked file
    assert tracked.hit("models/m.bin") is None and tracked.hit("sr") is None


# -- the filter when git did not finish ---------------------------------------------------------

def drive_filter(repo: Repo, requests: list[dict[str, str]], contents: list[bytes]) -> str:
    """Run the installed filter command as git would, send smudge requests, close the pipe
    without git having written its index (as when a checkout fails half-way); its stderr."""
    from gitmodel import filter as protocol

    command = repo.git("config", "--get", "filter.gitmodel.process").stdout.strip()
    proc = subprocess.Popen(["sh", "-c", command], cwd=repo.root, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    protocol.write_text(proc.stdin, "git-filter-client", "version=2")  # type: ignore[arg-type]
    protocol.write_text(proc.stdin, "capability=clean", "capability=smudge")  # type: ignore[arg-type]
    assert protocol.read_text_list(proc.stdout) == ["git-filter-server", "version=2"]  # type: ignore[arg-type]
    assert protocol.read_text_list(proc.stdout) == ["capability=smudge"]  # type: ignore[arg-type]
    for fields, content in zip(requests, contents, strict=True):
        protocol.write_text(proc.stdin, *(f"{k}={v}" for k, v in fields.items()))  # type: ignore[arg-type]
        protocol.write_packet(proc.stdin, content)  # type: ignore[arg-type]
        protocol.flush(proc.stdin)  # type: ignore[arg-type]
        assert protocol.read_text_list(proc.stdout) == ["status=success"]  # type: ignore[arg-type]
        assert protocol.read_content(proc.stdout) == content  # type: ignore[arg-type]
        assert protocol.read_text_list(proc.stdout) == []  # type: ignore[arg-type]
    proc.stdin.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    return stderr


def test_filter_after_a_checkout_that_failed_half_way(repo: Repo, tmp_path: Path) -> None:
    """git wrote aaa.sh and the model file, then failed: its index is still the old one, which
    tracks neither. The tree it named guards; without one, nothing is restored."""
    marker = repo.root.parent / MARKER_NAME
    legit = random_bytes(2000, 1)
    cache(repo, legit, tmp_path)
    repo.write(".gitignore", "/aaa.sh\n")
    repo.write("zzz.model.toml", model_text("zzz", "aaa.sh", [("aaa.sh", legit)]))
    repo.git("add", ".gitignore", "zzz.model.toml")
    repo.commit("a model whose artifact is aaa.sh")
    payload = payload_for(marker)
    cache(repo, payload, tmp_path)
    attack = model_text("zzz", "aaa.sh", [("aaa.sh", payload)])
    repo.git("switch", "-q", "-c", "pr")
    repo.write("aaa.sh", HARMLESS)
    repo.write("zzz.model.toml", attack)
    repo.git("add", "-f", "aaa.sh", "zzz.model.toml")
    repo.git("commit", "-q", "--no-verify", "-m", "attack")
    commit = repo.git("rev-parse", "pr").stdout.strip()
    blob = repo.git("rev-parse", "pr:zzz.model.toml").stdout.strip()
    repo.git("switch", "-q", "main")
    # what a failed `git checkout pr` leaves: both files written, the old index
    repo.write("aaa.sh", HARMLESS)
    repo.write("zzz.model.toml", attack)
    request = {"command": "smudge", "pathname": "zzz.model.toml", "ref": "refs/heads/pr",
               "treeish": commit, "blob": blob}
    stderr = drive_filter(repo, [request], [attack.encode()])
    assert (repo.root / "aaa.sh").read_text() == HARMLESS
    assert "names aaa.sh, which git tracks" in stderr and "restored" not in stderr
    # git names no tree (a merge, a cherry-pick): nothing is restored, and it says so
    del request["treeish"], request["ref"]
    stderr = drive_filter(repo, [request], [attack.encode()])
    assert (repo.root / "aaa.sh").read_text() == HARMLESS
    assert "did not record zzz.model.toml in the index" in stderr
    assert not marker.exists()


def test_git_archive_of_an_old_commit_leaves_the_work_tree_alone(repo: Repo) -> None:
    """`git archive` smudges model files too (git names the tree), but writes no work tree:
    the filter restores only what git left in the work tree."""
    art = "models/m.bin"
    repo.write(art, random_bytes(3000, 1))
    repo.model("add", art)
    repo.commit("v1")
    repo.write(art, random_bytes(3000, 2))
    repo.model("add", art)
    repo.commit("v2")
    v2 = sha256_file(repo.root / art)
    result = repo.git("archive", "-o", str(repo.root.parent / "old.tar"), "HEAD~1")
    assert sha256_file(repo.root / art) == v2 and "restored" not in result.stderr
