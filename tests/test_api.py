"""Bad input gets a clear one-line error naming the file or field and the fix, exit code 1, and
nothing changes: the list from issue 2."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from conftest import Repo, random_bytes, sha256_file

import gitmodel
from gitmodel import api

ART = "models/m.pt"
MODEL_FILE = ART + ".model.toml"


def one_line_error(result: object, *needles: str) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)  # type: ignore[attr-defined]
    err = result.stderr.strip()  # type: ignore[attr-defined]
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return err


def snapshot(root: Path) -> dict[str, bytes]:
    files = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            path = Path(dirpath, name)
            files[str(path.relative_to(root))] = path.read_bytes()
    files["<index>"] = (root / ".git/index").read_bytes()
    return files


def test_path_outside_the_repo(repo: Repo, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.pt"
    outside.write_bytes(b"x")
    before = snapshot(repo.root)
    one_line_error(repo.model("add", str(outside), check=False), "outside the repository")
    assert snapshot(repo.root) == before


def test_symlinked_artifact(repo: Repo, tmp_path: Path) -> None:
    real = repo.write("real.pt", b"weights")
    (repo.root / "link.pt").symlink_to(real)
    before = snapshot(repo.root)
    one_line_error(repo.model("add", "link.pt", check=False), "link.pt is a symlink")
    assert snapshot(repo.root) == before


def test_held_index_lock_changes_nothing(repo: Repo) -> None:
    repo.write(ART, b"weights")
    (repo.root / ".git/index.lock").write_text("")
    before = snapshot(repo.root)
    one_line_error(repo.model("add", ART, check=False), "index.lock", "no git process is running",
                   "delete it")
    assert snapshot(repo.root) == before


def test_invalid_model_name(repo: Repo) -> None:
    repo.write(ART, b"weights")
    one_line_error(repo.model("add", ART, "--name", "Bad Name!", check=False),
                   "model name 'Bad Name!' is not valid")


def test_names_differing_only_by_case(repo: Repo) -> None:
    repo.write("a/m.pt", b"1")
    repo.write("b/m.pt", b"2")
    repo.model("add", "a/m.pt", "--name", "model-a")
    one_line_error(repo.model("add", "b/m.pt", "--name", "model-a", check=False),
                   "is used by both", "a/m.pt.model.toml")


def commit_crafted_model_file(repo: Repo, text: str, path: str = MODEL_FILE) -> None:
    """What a malicious or broken clone would bring: a model file written by hand."""
    repo.write(path, text)
    repo.git("add", path)
    repo.git("commit", "-q", "--no-verify", "-m", "crafted")


def valid_text(repo: Repo) -> str:
    repo.write(ART, random_bytes(1000, 1))
    repo.model("add", ART)
    text = (repo.root / MODEL_FILE).read_text()
    repo.git("reset", "-q", "--", MODEL_FILE)
    return text


BAD_MODEL_FILES = [
    ("dotdot", lambda t: t.replace('artifact = "m.pt"', 'artifact = "../evil"').replace(
        'path = "m.pt"', 'path = "../evil"'), "field 'artifact'"),
    ("dotgit", lambda t: t.replace('artifact = "m.pt"', 'artifact = ".GIT/hooks"').replace(
        'path = "m.pt"', 'path = ".GIT/hooks/post-checkout"'), "'.git' component"),
    ("absolute", lambda t: t.replace('path = "m.pt"', 'path = "/etc/passwd"'), "must be relative"),
    ("backslash", lambda t: t.replace('path = "m.pt"', 'path = "m.pt\\\\x"'), "backslash"),
    ("short-oid", lambda t: t.replace('oid = "sha256:', 'oid = "sha256:ab', 1).split(
        "\n")[0] + "\n" + "\n".join(
        ln if not ln.startswith("oid") else 'oid = "sha256:abc"' for ln in t.split("\n")[1:]),
     "files[0].oid"),
    ("non-hex-oid", lambda t: "\n".join(
        ln if not ln.startswith("oid") else 'oid = "sha256:' + "z" * 64 + '"'
        for ln in t.split("\n")), "files[0].oid"),
    ("size-negative", lambda t: "\n".join(
        ln if not ln.startswith("size") else "size = -1" for ln in t.split("\n")),
     "files[0].size"),
    ("size-huge", lambda t: "\n".join(
        ln if not ln.startswith("size") else f"size = {2**53}" for ln in t.split("\n")),
     "files[0].size"),
    ("format", lambda t: t.replace("format = 1", "format = 99"), "field 'format' is 99"),
    ("toml", lambda t: t + "\n[[[broken", "not valid TOML"),
    ("recursion", lambda t: "x = " + "[" * 50_000, "not valid TOML"),
    ("oversize", lambda t: t + "#" * (2 << 20), "over the 1048576-byte limit"),
]


@pytest.mark.parametrize(("label", "mutate", "needle"), BAD_MODEL_FILES,
                         ids=[b[0] for b in BAD_MODEL_FILES])
def test_bad_model_file_from_a_clone(repo: Repo, label: str, mutate: object, needle: str) -> None:
    text = valid_text(repo)
    os.unlink(repo.root / ART)
    crafted = mutate(text)  # type: ignore[operator]
    before_hooks = sorted(os.listdir(repo.root / ".git/hooks"))
    commit_crafted_model_file(repo, crafted)
    repo.git("checkout", "-q", "HEAD~1")
    result = repo.git("checkout", "main")  # the hook meets the bad file: warns, writes nothing
    assert result.returncode == 0
    assert needle in result.stderr, result.stderr
    err = one_line_error(repo.model("status", check=False), MODEL_FILE)
    assert needle in err
    one_line_error(repo.model("checkout", check=False), MODEL_FILE, needle)
    assert sorted(os.listdir(repo.root / ".git/hooks")) == before_hooks
    assert not (repo.root / "evil").exists() and not (repo.root.parent / "evil").exists()


def test_model_file_through_a_symlinked_folder_cannot_plant_a_hook(repo: Repo) -> None:
    text = valid_text(repo)
    os.unlink(repo.root / ART)
    (repo.root / "models/hooks").symlink_to(repo.root / ".git/hooks")  # untracked
    crafted = text.replace('artifact = "m.pt"', 'artifact = "hooks"').replace(
        'path = "m.pt"', 'path = "hooks/post-merge"')
    hook_before = (repo.root / ".git/hooks/post-merge").read_bytes()
    commit_crafted_model_file(repo, crafted, "models/hooks.model.toml")
    repo.git("checkout", "-q", "HEAD~1")
    repo.git("checkout", "-q", "main")
    one_line_error(repo.model("checkout", check=False), "symlink")
    assert (repo.root / ".git/hooks/post-merge").read_bytes() == hook_before


def test_model_file_naming_tracked_code_cannot_overwrite_it(repo: Repo) -> None:
    text = valid_text(repo)
    code = (repo.root / "train.py").read_bytes()
    crafted = text.replace('artifact = "m.pt"', 'artifact = "train.py"').replace(
        'path = "m.pt"', 'path = "train.py"')
    commit_crafted_model_file(repo, crafted, "train.py.model.toml")
    repo.git("checkout", "-q", "HEAD~1")
    repo.git("checkout", "-q", "main")
    one_line_error(repo.model("checkout", check=False), "which git tracks")
    assert (repo.root / "train.py").read_bytes() == code


def test_missing_object_at_checkout_leaves_old_bytes(repo: Repo) -> None:
    repo.write(ART, random_bytes(1000, 1))
    repo.model("add", ART)
    repo.commit("v1")
    repo.write(ART, random_bytes(1000, 2))
    repo.model("add", ART)
    repo.commit("v2")
    v2 = sha256_file(repo.root / ART)
    # lose v1's object from the cache
    text = repo.git("show", f"HEAD~1:{MODEL_FILE}").stdout
    oid = next(ln for ln in text.splitlines() if ln.startswith("oid")).split('"')[1]
    obj = repo.root / ".git/model/objects" / oid[7:9] / oid[9:]
    obj.chmod(0o644)
    obj.unlink()
    result = repo.git("checkout", "HEAD~1")
    # no remote here: the advice is to add one, not to pull from none
    assert "not in the cache" in result.stderr and "git model remote add" in result.stderr
    assert sha256_file(repo.root / ART) == v2  # untouched
    one_line_error(repo.model("checkout", check=False), oid, "left as it is")
    model = json.loads(repo.model("status", "--json", check=False).stdout)["models"][0]
    assert model["state"] == "stale", model  # v2's bytes under v1's model file; nothing corrupt
    assert "not fetched yet" in model["detail"] and "git model pull m" in model["detail"]


def test_corrupt_cache_object_is_never_materialized(repo: Repo) -> None:
    repo.write(ART, random_bytes(1000, 1))
    repo.model("add", ART)
    repo.commit("v1")
    text = (repo.root / MODEL_FILE).read_text()
    oid = next(ln for ln in text.splitlines() if ln.startswith("oid")).split('"')[1]
    obj = repo.root / ".git/model/objects" / oid[7:9] / oid[9:]
    obj.chmod(0o644)
    obj.write_bytes(b"tampered" + obj.read_bytes()[8:])
    os.unlink(repo.root / ART)
    one_line_error(repo.model("checkout", check=False), "is corrupt", oid)
    assert not (repo.root / ART).exists()
    assert not [p for p in (repo.root / "models").iterdir() if p.name.endswith(".tmp")]


def test_python_api_returns_values(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo.root)
    repo.write(ART, random_bytes(2000, 1))
    time.sleep(0.05)  # older than the racy-git margin, as a model trained a moment ago is
    [result] = api.add([ART], metrics={"acc": 0.5})
    assert result.name == "m" and result.changed and result.hashed == 2000
    [again] = api.add([ART], metrics={"acc": 0.6})
    assert not again.changed and again.hashed == 0  # the stat cache knew the bytes
    statuses, errors = api.status()
    assert errors == [] and statuses[0].state.value == "clean"
    assert gitmodel.__version__


def test_readd_unchanged_restages_only_when_needed(repo: Repo) -> None:
    repo.write(ART, random_bytes(2000, 1))
    repo.model("add", ART)
    repo.commit("m")
    repo.model("add", ART)  # nothing new: nothing to stage
    assert repo.git("status", "--porcelain").stdout == ""
    repo.model("add", ART)
    repo.git("rm", "-q", "--cached", MODEL_FILE)  # unstaged by hand
    repo.model("add", ART)  # ... so add stages it again
    assert repo.git("diff", "--cached", "--name-only").stdout == ""
    assert repo.git("ls-files", MODEL_FILE).stdout.strip() == MODEL_FILE
    repo.model("add", ART, "--metric", "acc=0.7")  # new metadata is written and staged
    assert repo.git("diff", "--cached", "--name-only").stdout.split() == [MODEL_FILE]


def test_add_untracks_an_artifact_git_already_tracked(repo: Repo) -> None:
    """A model committed into git before gitmodel: `add` moves its bytes to the cache and takes
    the file (or every file of a folder) out of git's index, keeping it on disk."""
    repo.write("models/old.pt", random_bytes(3000, 1))
    repo.write("models/hf/config.json", "{}")
    repo.write("models/hf/weights.bin", random_bytes(2000, 2))
    repo.git("add", "models")
    repo.commit("models committed the old way", "--no-verify")
    result = repo.model("add", "models/old.pt", "models/hf")
    assert "removed models/old.pt from git's index" in result.stdout
    assert "removed models/hf from git's index" in result.stdout
    assert repo.git("ls-files", "models").stdout.split() == [
        "models/.gitignore", "models/hf.model.toml", "models/old.pt.model.toml"]
    assert (repo.root / "models/old.pt").exists() and (repo.root / "models/hf/weights.bin").exists()
    repo.commit("models moved to gitmodel")
    assert repo.git("status", "--porcelain").stdout == ""
