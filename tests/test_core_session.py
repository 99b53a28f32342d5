"""The session from issue 2, end to end through real git and real hooks."""

from __future__ import annotations

from conftest import Repo, random_bytes, sha256_file


def test_add_commit_checkout_restores_each_version(repo: Repo) -> None:
    artifact = repo.root / "models" / "classifier.safetensors"
    repo.write("models/classifier.safetensors", random_bytes(300_000, 1))
    repo.write("data/train.csv", "x,y\n1,2\n")
    repo.model("add", "models/classifier.safetensors", "--metric", "accuracy=0.91",
               "--param", "lr=3e-4", "--data", "data/train.csv", "-m", "baseline")
    staged = repo.git("diff", "--cached", "--name-only").stdout.split()
    assert staged == ["models/.gitignore", "models/classifier.safetensors.model.toml"]
    repo.git("add", "data/train.csv")
    repo.commit("baseline classifier")
    baseline = sha256_file(artifact)

    repo.write("models/classifier.safetensors", random_bytes(300_000, 2))
    repo.model("add", "models/classifier.safetensors", "--metric", "accuracy=0.93")
    repo.commit("lower lr")
    newer = sha256_file(artifact)
    assert newer != baseline

    repo.git("checkout", "-q", "HEAD~1")
    assert sha256_file(artifact) == baseline
    repo.git("switch", "-q", "-")
    assert sha256_file(artifact) == newer
    status = repo.model("status").stdout
    assert status.startswith("clean")


def test_git_status_does_not_show_the_artifact(repo: Repo) -> None:
    repo.write("models/m.pt", random_bytes(1000, 3))
    repo.model("add", "models/m.pt")
    repo.commit("m")
    assert repo.git("status", "--porcelain").stdout == ""
