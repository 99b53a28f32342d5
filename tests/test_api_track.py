"""The Python API for training code (issue 12): gitmodel.add, gitmodel.tag, gitmodel.assign,
called from a real training process, record its environment and command line."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import Repo

import gitmodel
from gitmodel import api, modelfile
from gitmodel.errors import GitmodelError

TRAIN = """\
import json, os, sys
import gitmodel

os.makedirs("models", exist_ok=True)
with open("models/m.bin", "wb") as f:
    f.write(b"weights " + sys.argv[-1].encode())
added = gitmodel.add("models/m.bin", params={"lr": float(sys.argv[-1]), "layers": (1, 2)},
                     metrics={"loss": 0.25}, data=["data/train.csv"], description="tiny")
tagged = gitmodel.tag("m", "v1.0.0") if "--tag" in sys.argv else None
staged = gitmodel.assign("m", "v1.0.0", "prod") if "--tag" in sys.argv else None
print(json.dumps({"added": [added.name, added.model_file, added.changed],
                  "tag": tagged and tagged.tag, "stage": staged and staged.tag}))
"""


def train(repo: Repo, *args: str) -> dict[str, object]:
    repo.write("train.py", TRAIN)
    repo.write("data/train.csv", "x,y\n1,2\n")
    proc = subprocess.run([sys.executable, "train.py", *args], cwd=repo.root,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def model_of(repo: Repo) -> modelfile.ModelFile:
    return modelfile.loads((repo.root / "models/m.bin.model.toml").read_bytes(), "m")


def test_a_training_script_records_its_environment_command_and_locks(repo: Repo) -> None:
    repo.write("requirements.txt", "numpy\n")
    repo.git("add", "requirements.txt")
    repo.commit("deps")
    out = train(repo, "--lr", "0.1")
    assert out["added"] == ["m", "models/m.bin.model.toml", True]
    model = model_of(repo)
    assert model.params == {"layers": [1, 2], "lr": 0.1} and model.description == "tiny"
    assert model.run is not None
    assert model.run.command == (sys.executable, "train.py", "--lr", "0.1")
    assert model.run.started == "" and model.run.exit is None and model.run.host
    env = model.environment
    assert env is not None and env.kind == "process"
    assert env.python == ".".join(map(str, sys.version_info[:3]))
    assert env.packages["gitmodel"] == gitmodel.__version__
    assert [lock.path for lock in model.locks] == ["requirements.txt"]
    assert model.data[0].path == "data/train.csv"
    # the full package list is in the cache, for `show --env`
    report = api.environment_of("m", cwd=repo.root)
    assert report.packages is not None and ("gitmodel", gitmodel.__version__) in report.packages


def test_tag_and_assign_from_the_script_return_dataclasses(repo: Repo) -> None:
    repo.write(".gitignore", "")
    out = train(repo, "--lr", "0.2")
    repo.git("add", "-A")
    repo.commit("model")
    result = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        import gitmodel, json
        t = gitmodel.tag("m", bump="minor")
        s = gitmodel.assign("m", t.version, "prod")
        print(json.dumps([t.tag, t.version, s.tag]))
    """)], cwd=repo.root, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["m@v0.1.0", "v0.1.0", "m#prod#1"]
    assert out["tag"] is None
    assert "m@v0.1.0" in repo.git("tag").stdout


def test_host_recording_can_be_turned_off(repo: Repo) -> None:
    config = repo.root / ".gitmodel.toml"
    config.write_text(config.read_text() + "\n[lineage]\nrecord-host = false\n")
    train(repo, "0.3")
    run = model_of(repo).run
    assert run is not None and run.host == ""


def test_a_command_the_model_file_cannot_hold_is_left_out_and_said(repo: Repo) -> None:
    repo.write("train.py", TRAIN)
    repo.write("data/train.csv", "x\n")
    proc = subprocess.run([sys.executable, "train.py", "line\nbreak", "0.5"], cwd=repo.root,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    run = model_of(repo).run
    assert run is not None and run.command == ()


def test_values_a_model_file_cannot_hold_are_refused_with_a_typed_error(
        repo: Repo, chdir: object) -> None:
    repo.write("models/m.bin", b"w")
    with pytest.raises(GitmodelError, match="None cannot be stored"):
        api.track("models/m.bin", metrics={"loss": None}, cwd=repo.root)
    with pytest.raises(GitmodelError, match="a object cannot be stored"):
        api.track("models/m.bin", params={"x": object()}, cwd=repo.root)
    assert not (repo.root / "models/m.bin.model.toml").exists()


def test_scalars_with_item_are_stored_as_numbers(repo: Repo, chdir: object) -> None:
    class Scalar:  # what numpy.float32 and a 0-d torch tensor look like to gitmodel
        def item(self) -> float:
            return 0.5

    repo.write("models/m.bin", b"w")
    chdir(repo.root)  # type: ignore[operator]
    result = api.track(Path("models/m.bin"), metrics={"auc": Scalar()})
    assert model_of(repo).metrics == {"auc": 0.5}
    assert result.environment is not None and result.environment.kind == "process"
