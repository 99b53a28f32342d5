"""`status` and `list` answered without Typer (gitmodel/cli/everyday.py, issue 7): the same
output, errors and exit codes as through the Typer app, and Typer never imported for them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Repo

from gitmodel.cli import everyday

# The Typer app run directly (gitmodel.cli.app.run), bypassing the plain path in gitmodel.cli.run
THROUGH_TYPER = ("import importlib; from gitmodel.cli import load_commands; load_commands(); "
                 "importlib.import_module('gitmodel.cli.app').run()")
# The real entry point, reporting at exit whether typer (or click) was ever imported
REPORTING = ("import atexit, sys; atexit.register(lambda: sys.stderr.write("
             "'typer imported\\n' if {'typer', 'click'} & set(sys.modules) else '')); "
             "from gitmodel.__main__ import main; main()")


def run(code: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True,
                          text=True, check=False)


@pytest.fixture
def models(repo: Repo) -> Repo:
    repo.write("models/a.pt", b"a" * 100)
    repo.write("models/b.pt", b"b" * 200)
    repo.write("models/c.pt", b"c" * 300)
    repo.model("add", "models/a.pt", "models/b.pt", "models/c.pt")
    repo.commit("models")
    repo.model("tag", "a", "v1.0.0", "-m", "first")
    repo.model("assign", "a", "v1.0.0", "prod")
    repo.write("models/b.pt", b"edited")  # modified
    (repo.root / "models" / "c.pt").unlink()  # missing
    return repo


CASES = [["status"], ["status", "--json"], ["status", "a"], ["status", "b", "--json"],
         ["status", "nosuch"], ["status", "--json", "nosuch"], ["list"], ["list", "--json"]]


@pytest.mark.parametrize("args", CASES, ids=" ".join)
def test_the_plain_path_prints_what_typer_prints(models: Repo, args: list[str]) -> None:
    assert everyday.plain_args(args) is not None  # the case really takes the plain path
    plain = run(REPORTING, args, models.root)
    typer = run(THROUGH_TYPER, args, models.root)
    assert "typer imported" not in plain.stderr
    assert (plain.returncode, plain.stdout, plain.stderr) == (
        typer.returncode, typer.stdout, typer.stderr)
    assert plain.stdout or plain.stderr


def test_the_plain_path_fails_as_typer_does_outside_a_repository(tmp_path: Path) -> None:
    for args in (["status"], ["status", "--json"], ["list", "--json"]):
        plain = run(REPORTING, args, tmp_path)
        typer = run(THROUGH_TYPER, args, tmp_path)
        assert plain.returncode == typer.returncode == 1
        assert (plain.stdout, plain.stderr) == (typer.stdout, typer.stderr)
        assert "not inside a git work tree" in plain.stderr


@pytest.mark.parametrize("args", [["status", "-h"], ["status", "--remote"], ["status", "--"],
                                  ["status", "--jsn"], ["list", "extra"], ["list", "-h"],
                                  ["status", ""], ["status", "--json", "--json"], ["show", "a"]])
def test_anything_else_goes_to_typer(models: Repo, args: list[str]) -> None:
    assert everyday.plain_args(args) is None
    proc = run(REPORTING, args, models.root)
    assert "typer imported" in proc.stderr


def test_a_usage_error_is_still_typers(models: Repo) -> None:
    proc = run(REPORTING, ["list", "extra"], models.root)
    assert proc.returncode == 2
    assert "Got unexpected extra argument (extra)" in proc.stderr


def test_a_reader_that_goes_away_ends_status_quietly(tmp_path: Path, models: Repo) -> None:
    # `git model status | head -0`: the pipe closes before status writes
    for i in range(40):
        models.write(f"many/m{i:02d}.pt", bytes([i]) * 10)
    models.model("add", *[f"many/m{i:02d}.pt" for i in range(40)])
    reader, writer = os.pipe()
    os.close(reader)
    proc = subprocess.run([sys.executable, "-m", "gitmodel", "status"], cwd=models.root,
                          stdout=writer, stderr=subprocess.PIPE, text=True, check=False)
    os.close(writer)
    assert proc.returncode == 1
    assert proc.stderr == ""
