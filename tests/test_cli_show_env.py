"""`git model show --env`: the environment a version recorded, with its full package list from the
cache, and a hostile one from a clone refused without being printed."""

from __future__ import annotations

import json
from pathlib import Path

import tomli_w
from conftest import Repo

from gitmodel import modelfile
from gitmodel.lineage.environment import Target, capture, save_listing


def site_packages(root: Path, dists: dict[str, str]) -> Path:
    site = root / "site-packages"
    for name, version in dists.items():
        info = site / f"{name}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Name: {name}\nVersion: {version}\n\n")
    return site


def tagged_with_environment(repo: Repo, tmp_path: Path, *, keep_listing: bool = True) -> str:
    """A version whose model file records the environment of a fake venv."""
    repo.write("models/churn.pt", b"weights")
    repo.model("add", "models/churn.pt")
    result = capture(Target("venv", (site_packages(tmp_path, {
        "numpy": "1.26.4", "torch": "2.3.0+cu121", "requests": "2.31.0"}),), "3.11.4", "cpython"),
        driver_file=tmp_path / "none", rocm_file=tmp_path / "none")
    path = repo.root / "models/churn.pt.model.toml"
    model = modelfile.loads(path.read_bytes(), "x").with_metadata(environment=result.environment)
    path.write_text(modelfile.dumps(model))
    if keep_listing:
        save_listing(repo.root / ".git" / "model", result)
    repo.git("add", "models")
    repo.commit("churn")
    repo.model("tag", "churn", "v1.0.0")
    return result.environment.listing


def test_show_env_prints_the_summary_and_every_package(repo: Repo, tmp_path: Path) -> None:
    listing = tagged_with_environment(repo, tmp_path)
    out = repo.model("show", "churn@v1.0.0", "--env").stdout
    assert "churn v1.0.0 environment" in out
    assert "python:   3.11.4 (cpython), venv" in out
    assert "accelerator: cuda 12.1" in out
    assert f"distributions: 3 ({listing})" in out
    lines = [line.strip() for line in out.splitlines()]
    assert lines[lines.index("packages:") + 1:] == ["numpy==1.26.4", "requests==2.31.0",
                                                    "torch==2.3.0+cu121"]


def test_show_env_json(repo: Repo, tmp_path: Path) -> None:
    tagged_with_environment(repo, tmp_path)
    data = json.loads(repo.model("show", "churn@v1.0.0", "--env", "--json").stdout)
    assert data["version"] == "v1.0.0"
    assert data["environment"]["packages"] == {"numpy": "1.26.4", "torch": "2.3.0+cu121"}
    assert data["packages"][0] == {"name": "numpy", "version": "1.26.4"}


def test_show_env_without_the_listing_in_the_cache_shows_the_ml_packages(
        repo: Repo, tmp_path: Path) -> None:
    tagged_with_environment(repo, tmp_path, keep_listing=False)
    out = repo.model("show", "churn@v1.0.0", "--env").stdout
    assert "not in this clone's cache" in out
    assert "numpy==1.26.4" in out and "requests" not in out
    data = json.loads(repo.model("show", "churn@v1.0.0", "--env", "--json").stdout)
    assert data["packages"] is None


def test_show_env_of_a_model_without_an_environment_says_so(repo: Repo) -> None:
    repo.write("models/churn.pt", b"weights")
    repo.model("add", "models/churn.pt")
    # as a file from an older gitmodel or another tool: no [environment] (the add above records
    # the python3 on PATH's when there is one)
    import tomllib

    path = repo.root / "models/churn.pt.model.toml"
    doc = tomllib.loads(path.read_text())
    doc.pop("environment", None)
    path.write_text(tomli_w.dumps(doc))
    out = repo.model("show", "churn", "--env").stdout
    assert "churn (work tree) records no environment" in out


def test_a_hostile_environment_from_a_clone_is_refused_and_never_printed(repo: Repo) -> None:
    repo.write("models/churn.pt", b"weights")
    repo.model("add", "models/churn.pt")
    path = repo.root / "models/churn.pt.model.toml"
    import tomllib

    doc = tomllib.loads(path.read_text())
    doc["environment"] = {"python": "3.11", "os": "linux\x1b]0;owned\x07\x1b[2J"}
    path.write_text(tomli_w.dumps(doc))
    # as a clone receives it: committed and tagged by someone else's tool
    repo.git("add", "models")
    repo.git("commit", "-q", "--no-verify", "-m", "hostile")
    repo.git("tag", "-a", "-m", "Registered", "churn@v1.0.0")
    result = repo.model("show", "churn@v1.0.0", "--env", check=False)
    assert result.returncode == 1
    assert "field 'environment.os'" in result.stderr
    assert "\x1b" not in result.stdout + result.stderr
