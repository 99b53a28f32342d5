"""`git model status NAME` (docs/commands.md): only the models named, in text and --json, and
an unknown name is one line naming what exists."""

from __future__ import annotations

import json

from conftest import Repo, random_bytes

A, B = "models/a.safetensors", "models/b.safetensors"


def test_status_of_named_models_only(repo: Repo) -> None:
    repo.write(A, random_bytes(5000, 1))
    repo.write(B, random_bytes(5000, 2))
    repo.model("add", A, B)
    repo.commit("two models")
    repo.write(B, random_bytes(5000, 3))  # b: modified, not added
    every = repo.model("status").stdout
    assert "clean      a" in every and "modified   b" in every
    only_a = repo.model("status", "a")
    assert only_a.stdout.splitlines() == ["clean      a  " + A]
    only_b = json.loads(repo.model("status", "b", "--json").stdout)
    assert [m["name"] for m in only_b["models"]] == ["b"]
    assert only_b["models"][0]["state"] == "modified"
    both = json.loads(repo.model("status", "b", "a", "--json").stdout)
    assert sorted(m["name"] for m in both["models"]) == ["a", "b"]
    unknown = repo.model("status", "c", check=False)
    assert unknown.returncode == 1 and unknown.stdout == ""
    lines = unknown.stderr.strip().splitlines()
    assert len(lines) == 1 and "'c'" in lines[0] and "a" in lines[0] and "b" in lines[0]
