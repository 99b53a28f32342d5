"""`git model get` (docs/remotes.md): a folder artifact's files land under DIR, and `--remote`
overrides the remote the version's .gitmodel.toml names (needed when it is a relative path)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from conftest import Repo, random_bytes

FOLDER = {
    "config.json": b'{"hidden": 8}\n',
    "model.safetensors": random_bytes(40_000, 1),
    "tokenizer/vocab.txt": b"a\nb\nc\n",
}


def digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def published(repo: Repo, tmp_path: Path, remote_url: str) -> Path:
    """models/bert/ as the folder model `bert`, tagged v1.0.0, objects on the remote at
    ``remote_url`` (absolute, or relative to the work tree), tags on a bare origin."""
    for rel, data in FOLDER.items():
        repo.write(f"models/bert/{rel}", data)
    repo.model("remote", "add", "origin", remote_url, "--default", "--create")
    repo.commit("model remote")
    repo.model("add", "models/bert/", "--name", "bert")
    repo.commit("bert")
    repo.git("tag", "-a", "bert@v1.0.0", "-m", "bert v1.0.0")
    repo.model("push")
    origin = tmp_path / "origin.git"
    repo.git("init", "-q", "--bare", "-b", "main", str(origin))
    repo.git("remote", "add", "origin", str(origin))
    repo.git("push", "-q", "origin", "main", "--tags")
    return origin


def test_get_of_a_folder_artifact_writes_its_files_under_dir(repo: Repo, tmp_path: Path) -> None:
    origin = published(repo, tmp_path, str(tmp_path / "store"))
    out = tmp_path / "deploy" / "bert"
    result = Repo(tmp_path).model("get", str(origin), "bert@v1.0.0", "-o", str(out), "--json",
                                  cwd=tmp_path)
    data = json.loads(result.stdout)
    assert sorted(data["files"]) == sorted(FOLDER) and data["name"] == "bert"
    expected = {rel: hashlib.sha256(b).hexdigest() for rel, b in FOLDER.items()}
    assert digests(out) == expected  # nothing else, no models/bert/ prefix
    assert sorted(p.name for p in (tmp_path / "deploy").iterdir()) == ["bert"]  # no temp left


def test_get_remote_overrides_the_committed_one(repo: Repo, tmp_path: Path) -> None:
    origin = published(repo, tmp_path, str(tmp_path / "store"))
    (tmp_path / "store").rename(tmp_path / "mirror")  # the objects moved; the tags did not
    plain = Repo(tmp_path).model("get", str(origin), "bert", "-o", str(tmp_path / "a"),
                                 check=False, cwd=tmp_path)
    assert plain.returncode == 1 and "does not exist" in plain.stderr
    result = Repo(tmp_path).model("get", str(origin), "bert", "-o", str(tmp_path / "b"),
                                  "--remote", str(tmp_path / "mirror"), "--json", cwd=tmp_path)
    data = json.loads(result.stdout)
    assert data["version"] == "v1.0.0" and data["remote"] == str(tmp_path / "mirror")
    assert digests(tmp_path / "b") == {r: hashlib.sha256(b).hexdigest() for r, b in FOLDER.items()}


def test_a_relative_remote_needs_get_remote_from_a_url(repo: Repo, tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    origin = published(repo, tmp_path, "../store")
    url = f"file://{origin}"  # a URL, as a deploy box has: no work tree to be relative to
    result = Repo(tmp_path).model("get", url, "bert", "-o", str(tmp_path / "a"), check=False,
                                  cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "relative path" in lines[0] and "--remote" in lines[0]
    assert not (tmp_path / "a").exists() or not any((tmp_path / "a").iterdir())
    Repo(tmp_path).model("get", url, "bert", "-o", str(tmp_path / "b"), "--remote",
                         f"file://{tmp_path / 'store'}", cwd=tmp_path)
    assert digests(tmp_path / "b") == {r: hashlib.sha256(b).hexdigest() for r, b in FOLDER.items()}
