"""`git model add` metadata through the CLI (docs/commands.md, "git model add"): params and
metrics from YAML, JSON and TOML files, and what a re-add keeps, updates and drops."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from conftest import Repo, random_bytes

ART = "models/m.safetensors"
MODEL_FILE = ART + ".model.toml"


def model_file(repo: Repo) -> dict[str, Any]:
    return tomllib.loads((repo.root / MODEL_FILE).read_text())


FILES = {
    "yaml": ("lr: 0.0003\nlayers: [1, 2]\nopt:\n  name: adamw\n  betas: [0.9, 0.999]\n",
             "accuracy: 0.91\nval:\n  f1: 0.88\n"),
    "json": ('{"lr": 0.0003, "layers": [1, 2], "opt": {"name": "adamw", "betas": [0.9, 0.999]}}',
             '{"accuracy": 0.91, "val": {"f1": 0.88}}'),
    "toml": ('lr = 0.0003\nlayers = [1, 2]\n[opt]\nname = "adamw"\nbetas = [0.9, 0.999]\n',
             "accuracy = 0.91\n[val]\nf1 = 0.88\n"),
}


@pytest.mark.parametrize("fmt", sorted(FILES))
def test_params_and_metrics_from_a_file(repo: Repo, fmt: str) -> None:
    params_text, metrics_text = FILES[fmt]
    suffix = "yml" if fmt == "yaml" else fmt  # .yml is documented too
    repo.write(f"params.{suffix}", params_text)
    repo.write(f"metrics.{fmt}", metrics_text)
    repo.write(ART, random_bytes(5000, 1))
    repo.model("add", ART, "--params", f"params.{suffix}", "--metrics", f"metrics.{fmt}",
               "--param", "lr=0.001")  # a --param given beside the file wins
    written = model_file(repo)
    assert written["params"] == {"lr": 0.001, "layers": [1, 2],
                                 "opt": {"name": "adamw", "betas": [0.9, 0.999]}}
    assert written["metrics"] == {"accuracy": 0.91, "val": {"f1": 0.88}}
    assert MODEL_FILE in repo.git("diff", "--cached", "--name-only").stdout.split()


def test_a_values_file_that_is_not_a_mapping_or_not_parseable_is_one_line(repo: Repo) -> None:
    repo.write(ART, random_bytes(5000, 2))
    for name, text, needle in (("p.json", "[1, 2]", "must hold a mapping"),
                               ("p.toml", "lr = ", "is not valid TOML"),
                               ("p.yaml", "a: [1,", "is not valid YAML"),
                               ("p.ini", "lr=1", "use a .yaml, .yml, .json or .toml file")):
        repo.write(name, text)
        result = repo.model("add", ART, "--params", name, check=False)
        assert result.returncode == 1, (name, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0] and name in lines[0], result.stderr
    assert not (repo.root / MODEL_FILE).exists()


def test_readd_of_unchanged_bytes_keeps_the_metadata_and_updates_what_is_passed(
        repo: Repo) -> None:
    repo.write(ART, random_bytes(5000, 3))
    repo.write("train.csv", "x,y\n1,0\n")
    repo.write("params.yaml", "lr: 0.1\nepochs: 3\n")
    repo.model("add", ART, "-m", "sentiment classifier", "--params", "params.yaml",
               "--metric", "acc=0.9", "--metric", "loss=0.3", "--data", "train.csv")
    first = model_file(repo)
    repo.commit("m")
    out = repo.model("add", ART, "--metric", "acc=0.95").stdout
    assert out.startswith("updated metadata of m: ")
    assert "the bytes changed" not in out and "dropped" not in out
    again = model_file(repo)
    assert again["metrics"] == {"acc": 0.95, "loss": 0.3}
    assert again["params"] == {"lr": 0.1, "epochs": 3}
    assert again["description"] == "sentiment classifier"
    assert [d["path"] for d in again["data"]] == ["train.csv"]
    # the provenance is the first add's: the bytes are the same model
    for key in ("created", "author", "code"):
        assert again.get(key) == first.get(key), key
    # -m replaces the description, nothing else
    repo.model("add", ART, "-m", "sentiment classifier, v2 labels")
    assert model_file(repo)["description"] == "sentiment classifier, v2 labels"
    assert model_file(repo)["metrics"] == {"acc": 0.95, "loss": 0.3}


def test_changed_bytes_drop_what_described_the_old_ones_and_say_so(repo: Repo) -> None:
    """Complements tests/test_cli.py's description check: every kind is listed, what is given
    again is not, and a --data given again is kept."""
    repo.write(ART, random_bytes(5000, 4))
    repo.write("train.csv", "x,y\n1,0\n")
    repo.write("extra.csv", "x,y\n2,1\n")
    repo.model("add", ART, "-m", "classifier", "--param", "lr=0.1", "--param", "seed=1",
               "--metric", "acc=0.9", "--data", "train.csv", "--data", "extra.csv")
    repo.write(ART, random_bytes(5000, 5))
    out = repo.model("add", ART, "--param", "seed=2", "--data", "extra.csv").stdout
    assert out.splitlines()[0].startswith("added m: ")
    assert ("  the bytes changed: dropped param lr, metric acc, data train.csv (pass them again "
            "to keep them); kept the description (-m TEXT replaces it)") in out.splitlines()
    written = model_file(repo)
    assert written["params"] == {"seed": 2} and written.get("metrics", {}) == {}
    assert [d["path"] for d in written["data"]] == ["extra.csv"]
    assert written["description"] == "classifier"


def test_changed_bytes_with_nothing_to_drop_print_no_note(repo: Repo, tmp_path: Path) -> None:
    repo.write(ART, random_bytes(5000, 6))
    repo.model("add", ART)
    repo.write(ART, random_bytes(5000, 7))
    out = repo.model("add", ART).stdout
    assert out.startswith("added m: ") and "the bytes changed" not in out
