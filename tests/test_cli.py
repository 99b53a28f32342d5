"""The command line: help for every command, the man page git shows, exit codes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer.main
from conftest import Repo, run_on_pty

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


def test_short_help_lists_every_description_whole(tmp_path: Path) -> None:
    """`git model -h` once cut descriptions with "..." (click's short help): each command's first
    sentence is now shown whole, wrapped on a narrow terminal rather than truncated."""
    for columns in ("80", "50"):
        out = subprocess.run([sys.executable, "-m", "gitmodel", "-h"], capture_output=True,
                             text=True, cwd=tmp_path, env={**os.environ, "COLUMNS": columns})
        listing = out.stdout.split("Commands:", 1)[1]
        assert out.returncode == 0 and "..." not in listing and "\u2026" not in listing
        flat = "".join(out.stdout.split())
        for name, command in commands().items():
            whole = command.get_short_help_str(limit=1000)
            assert "".join(whole.split()) in flat, (columns, name, whole)
    # and on 80 columns each of them fits on its own line
    out = subprocess.run([sys.executable, "-m", "gitmodel", "-h"], capture_output=True,
                         text=True, cwd=tmp_path, env={**os.environ, "COLUMNS": "80"})
    lines = out.stdout.splitlines()
    for name in commands():
        (line,) = [ln for ln in lines if ln.startswith(f"  {name} ")]
        assert line.rstrip().endswith("."), line


def run_json(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    out = run_cli(*args, cwd=cwd)
    return out, json.loads(out.stdout)


def test_json_callers_get_a_json_error_and_the_documented_exit_code(repo: Repo,
                                                                     tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    out, data = run_json("status", "--json", cwd=outside)  # a user error: 1
    assert out.returncode == 1 and data["code"] == 1 and data["kind"] == "not_a_repository"
    assert "not inside a git work tree" in str(data["error"])
    assert out.stderr.startswith("error: ")  # a person watching still reads it
    out, data = run_json("history", "nosuch", "--json", cwd=repo.root)
    assert out.returncode == 1 and data["kind"] == "model_not_found"
    assert "git model add" in str(data["error"])
    out, data = run_json("show", "--json", cwd=repo.root)  # usage: 2
    assert out.returncode == 2 and data == {"code": 2, "kind": "usage",
                                            "error": "Missing argument 'SPEC'."}
    out, data = run_json("list", "--json", "--bogus", cwd=repo.root)
    assert out.returncode == 2 and data["kind"] == "usage" and "--bogus" in str(data["error"])
    out, data = run_json("recover", "sha256:" + "0" * 64, "--json", cwd=repo.root)
    assert out.returncode == 2 and "--output" in str(data["error"])
    # a command without --json, or --json only after `--`, keeps plain errors
    plain = run_cli("add", "--json", "x", cwd=repo.root)
    assert plain.returncode == 2 and plain.stdout == "" and "No such option" in plain.stderr
    plain = run_cli("history", "--", "--json", cwd=repo.root)
    assert plain.returncode == 1 and plain.stdout == ""


HOOKS_WARNING = ("warning: gitmodel's hooks are not installed in this clone, so `git commit` "
                 "does not check models and `git checkout` leaves artifacts stale; run "
                 "`git model install`")


def test_commands_that_need_the_hooks_say_once_when_they_are_missing(bare_repo: Repo) -> None:
    repo = bare_repo
    repo.write("m.pt", b"abc")
    for args in (("add", "m.pt"), ("status",), ("checkout",)):
        out = repo.model(*args)
        assert out.stderr.splitlines().count(HOOKS_WARNING) == 1, (args, out.stderr)
    assert HOOKS_WARNING not in repo.model("list").stderr  # needs no hook
    repo.model("install")
    for args in (("add", "m.pt"), ("status",), ("checkout",)):
        assert HOOKS_WARNING not in repo.model(*args).stderr, args
    # from a subfolder and from a linked worktree, which share the hooks
    (repo.root / "sub").mkdir()
    assert HOOKS_WARNING not in repo.model("status", cwd=repo.root / "sub").stderr
    repo.commit("m")
    repo.git("worktree", "add", "-q", str(repo.root.parent / "wt"))
    assert HOOKS_WARNING not in repo.model("status", cwd=repo.root.parent / "wt").stderr
    # a repo-local core.hooksPath with gitmodel's hooks in it counts as installed
    repo.git("config", "--local", "core.hooksPath", ".hooks")
    assert HOOKS_WARNING in repo.model("status").stderr
    repo.model("install")
    assert HOOKS_WARNING not in repo.model("status").stderr


def test_changed_bytes_keep_the_description_and_list_what_was_dropped(repo: Repo) -> None:
    repo.write("m.pt", b"one")
    repo.write("train.csv", "a,b\n")
    repo.model("add", "m.pt", "-m", "sentiment classifier", "--metric", "acc=0.9",
               "--param", "lr=0.1", "--data", "train.csv")
    repo.write("m.pt", b"two")
    out = repo.model("add", "m.pt", "--metric", "acc=0.95").stdout
    assert ("  the bytes changed: dropped param lr, data train.csv (pass them again to keep "
            "them); kept the description (-m TEXT replaces it)") in out.splitlines()
    text = (repo.root / "m.pt.model.toml").read_text()
    assert 'description = "sentiment classifier"' in text and "lr" not in text
    repo.write("m.pt", b"three")
    out = repo.model("add", "m.pt", "-m", "retrained").stdout
    assert "kept the description" not in out and "dropped metric acc" in out
    assert 'description = "retrained"' in (repo.root / "m.pt.model.toml").read_text()


def test_add_and_pull_show_the_same_bar_with_a_total(repo: Repo, tmp_path: Path) -> None:
    from conftest import random_bytes

    repo.write("big.pt", random_bytes(60 << 20, 1))
    code, _, seen = run_on_pty(["add", "big.pt"], repo.root)
    assert code == 0, seen
    bar = re.compile(rb"hashing: +[0-9.]+% [0-9]+/60 MiB [0-9]+ MiB/s")
    assert bar.search(seen), seen[-400:]
    repo.commit("big")
    remote = tmp_path / "objects"
    remote.mkdir()
    repo.model("remote", "add", "origin", str(remote), "--default")
    repo.commit("remote")
    repo.model("push")
    clone = tmp_path / "clone"
    repo.git("clone", "-q", str(repo.root), str(clone))  # no hooks there: nothing fetched yet
    code, _, seen = run_on_pty(["pull"], clone)
    assert code == 0, seen
    assert re.search(rb"downloading: +[0-9.]+% [0-9]+/60 MiB [0-9]+ MiB/s", seen), seen[-400:]
