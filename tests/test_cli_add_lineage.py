"""`git model add` records the active environment and the lock files (issue 12)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Repo

from gitmodel import modelfile


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("env") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    site = next((path / "lib").glob("python*/site-packages"))
    for name, version in (("torch", "2.3.0+cu121"), ("numpy", "1.26.4"), ("tqdm", "4.66.1")):
        info = site / f"{name}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Name: {name}\nVersion: {version}\n\n")
    (site / "broken-1.0.dist-info").mkdir()
    return path


def add(repo: Repo, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env}
    return subprocess.run([sys.executable, "-m", "gitmodel", "add", *args], cwd=repo.root,
                          env=full, capture_output=True, text=True)


def model_of(repo: Repo) -> modelfile.ModelFile:
    return modelfile.loads((repo.root / "models/m.pt.model.toml").read_bytes(), "m")


def test_add_records_the_active_venv_and_says_what_it_skipped(repo: Repo, venv: Path) -> None:
    repo.write("pyproject.toml", "[project]\nname = 'x'\n")
    repo.git("add", "pyproject.toml")
    repo.commit("project")
    repo.write("models/m.pt", b"weights")
    proc = add(repo, {"VIRTUAL_ENV": str(venv)}, "models/m.pt")
    assert proc.returncode == 0, proc.stderr
    assert "environment: skipped 1 item(s)" in proc.stdout
    model = model_of(repo)
    env = model.environment
    assert env is not None and env.kind == "venv" and env.distributions == 3
    assert env.packages == {"numpy": "1.26.4", "torch": "2.3.0+cu121"}
    assert env.accelerator == {"cuda": "12.1"}
    assert env.skipped == ("broken-1.0.dist-info: no readable METADATA",)
    assert model.run is None  # a plain add ran no command
    assert [lock.path for lock in model.locks] == ["pyproject.toml"]
    shown = repo.model("show", "m", "--env").stdout
    assert "tqdm==4.66.1" in shown and "skipped:  broken-1.0.dist-info" in shown


def test_a_missing_environment_never_fails_add(repo: Repo, tmp_path: Path) -> None:
    repo.write("models/m.pt", b"weights")
    proc = add(repo, {"VIRTUAL_ENV": str(tmp_path / "gone")}, "models/m.pt")
    assert proc.returncode == 0, proc.stderr
    env = model_of(repo).environment
    assert env is not None and env.distributions == 0 and "no lib/pythonX.Y" in env.skipped[0]


def test_metadata_only_re_add_keeps_the_lineage_of_the_bytes(repo: Repo, venv: Path,
                                                             tmp_path: Path) -> None:
    repo.write("models/m.pt", b"weights")
    assert add(repo, {"VIRTUAL_ENV": str(venv)}, "models/m.pt").returncode == 0
    first = model_of(repo).environment
    # the same bytes, added again from another environment with a new metric: the environment
    # that made the bytes stays recorded
    proc = add(repo, {"VIRTUAL_ENV": str(tmp_path / "other")}, "models/m.pt", "--metric", "a=1")
    assert proc.returncode == 0, proc.stderr
    assert model_of(repo).environment == first and model_of(repo).metrics == {"a": 1}
