"""The command line: help for every command, the man page git shows, exit codes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer.main
from conftest import Repo

from gitmodel import __version__
from gitmodel.cli import app

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "tools"))
import gen_manpage  # noqa: E402


def commands() -> dict[str, click.Command]:
    group = typer.main.get_command(app)
    assert isinstance(group, click.Group)
    return dict(group.commands)


def test_every_command_has_one_line_help_in_the_man_page_and_docs() -> None:
    page = (PROJECT / "man/man1/git-model.1").read_text()
    docs = "\n".join(p.read_text() for p in sorted((PROJECT / "docs").glob("*.md")))
    for name, command in commands().items():
        assert command.help and command.help.strip(), f"{name} has no help text"
        roff_name = name.replace("-", "\\-")
        assert f"\\fBgit model {roff_name}\\fR" in page, f"{name} missing from the man page"
        assert f"## git model {name}" in docs, f"no '## git model {name}' section in docs/"


def test_man_page_is_current() -> None:
    committed = (PROJECT / "man/man1/git-model.1").read_text()
    assert committed == gen_manpage.render(), "run: python tools/gen_manpage.py"


@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")
def test_git_model_help_shows_the_man_page(tmp_path: Path) -> None:
    env = {**os.environ, "MANPATH": f"{PROJECT / 'man'}:", "MANPAGER": "cat", "PAGER": "cat"}
    out = subprocess.run(["git", "model", "--help"], capture_output=True, text=True, env=env,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    for name in commands():
        assert f"git model {name}" in out.stdout


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gitmodel", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_short_help_version_and_command_help(tmp_path: Path) -> None:
    out = run_cli("-h", cwd=tmp_path)
    assert out.returncode == 0
    for name in commands():
        assert name in out.stdout
    assert run_cli("--version").stdout.strip() == f"git-model {__version__}"
    for name in commands():
        sub = run_cli(name, "--help", cwd=tmp_path)
        assert sub.returncode == 0 and "Usage:" in sub.stdout, name


@pytest.mark.skipif(shutil.which("git-model") is None, reason="git-model is not on PATH")
def test_git_runs_the_installed_executable(tmp_path: Path) -> None:
    out = subprocess.run(["git", "model", "--version"], capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.stdout.strip() == f"git-model {__version__}"
    out = subprocess.run(["git", "model", "-h"], capture_output=True, text=True, cwd=tmp_path)
    assert "Commands" in out.stdout


def test_usage_error_exits_2(tmp_path: Path) -> None:
    out = run_cli("status", "--no-such-flag", cwd=tmp_path)
    assert out.returncode == 2
    assert "No such option" in out.stderr


def test_user_error_exits_1_with_one_line(tmp_path: Path) -> None:
    out = run_cli("status", cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.startswith("error: ") and "not inside a git work tree" in out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_status_json(repo: Repo) -> None:
    repo.write("m.pt", b"abc")
    repo.model("add", "m.pt")
    import json

    data = json.loads(repo.model("status", "--json").stdout)
    assert data["models"][0]["name"] == "m" and data["models"][0]["state"] == "clean"
    (repo.root / "m.pt").unlink()
    data = json.loads(repo.model("status", "--json").stdout)
    assert data["models"][0]["state"] == "missing"
