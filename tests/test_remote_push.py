"""`git model push NAMES` (docs/remotes.md): only the named models' objects go up, with
`--all-versions` every registered version of those models only."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from conftest import Repo, random_bytes

A, B = "models/a.safetensors", "models/b.safetensors"


def remote_oids(store: Path) -> set[str]:
    return {"sha256:" + p.parent.name + p.name for p in store.glob("objects/*/*")}


def oid(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_push_names_uploads_only_those_models(repo: Repo, tmp_path: Path) -> None:
    store = tmp_path / "store"
    repo.model("remote", "add", "origin", str(store), "--default", "--create")
    a1, b1 = random_bytes(20_000, 1), random_bytes(20_000, 2)
    repo.write(A, a1)
    repo.write(B, b1)
    repo.model("add", A, B)
    repo.commit("v1 of both")
    repo.model("tag", "a", "v1.0.0")
    repo.model("tag", "b", "v1.0.0")
    a2, b2 = random_bytes(20_000, 3), random_bytes(20_000, 4)
    repo.write(A, a2)
    repo.write(B, b2)
    repo.model("add", A, B)
    repo.commit("v2 of both")
    out = json.loads(repo.model("push", "a", "--json").stdout)
    assert out["transferred"] == [oid(a2)]
    assert remote_oids(store) == {oid(a2)}
    out = json.loads(repo.model("push", "b", "--all-versions", "--json").stdout)
    assert sorted(out["transferred"]) == sorted([oid(b1), oid(b2)])
    assert remote_oids(store) == {oid(a2), oid(b1), oid(b2)}  # not a's v1
    unknown = repo.model("push", "c", check=False)
    assert unknown.returncode == 1 and "'c'" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1
    assert remote_oids(store) == {oid(a2), oid(b1), oid(b2)}
    repo.model("push", "--all-versions")
    assert remote_oids(store) == {oid(a1), oid(a2), oid(b1), oid(b2)}
