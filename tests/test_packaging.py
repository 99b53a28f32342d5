"""What an install puts where git and man look: the man page after `pip install .` and `-e .`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from gitmodel import __version__

PROJECT = Path(__file__).resolve().parents[1]

needs_man = pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")


def git_model_help(bin_dir: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`git model --help` as a user's shell runs it: the venv's bin first on PATH, no MANPATH, so
    man-db derives <venv>/share/man from PATH as it does for every user."""
    env = {k: v for k, v in os.environ.items() if k != "MANPATH"}
    env.update(PATH=f"{bin_dir}:{os.environ['PATH']}", MANPAGER="cat", PAGER="cat",
               MANWIDTH="100")
    return subprocess.run(["git", "model", "--help"], capture_output=True, text=True, env=env,
                          cwd=cwd)


def test_wheel_installs_the_man_page_where_man_looks(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                    "-q", "-w", str(tmp_path), str(PROJECT)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("gitmodel-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert f"gitmodel-{__version__}.data/data/share/man/man1/git-model.1" in names
    assert "gitmodel/hooks/hook.sh" in names
    assert "gitmodel/cli/app.py" in names  # subpackages are found, not listed


@needs_man
def test_editable_install_also_installs_the_man_page(tmp_path: Path) -> None:
    """The README's test command installs with -e; `git model --help` must work after it too."""
    env_dir = tmp_path / "venv"
    # `git model --help` never reaches Python (git hands it to man), so no dependencies needed
    venv.create(env_dir, with_pip=True, symlinks=True)
    pip = subprocess.run([str(env_dir / "bin/python"), "-m", "pip", "install", "-q", "--no-deps",
                          "-e", str(PROJECT)], capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr
    assert (env_dir / "share/man/man1/git-model.1").is_file()
    out = git_model_help(env_dir / "bin", tmp_path)
    assert out.returncode == 0, out.stderr
    assert "GIT-MODEL(1)" in out.stdout and "git model add" in out.stdout


@needs_man
def test_help_works_in_the_environment_running_these_tests(tmp_path: Path) -> None:
    """The README's own test command left this environment: its page must be found."""
    bin_dir = Path(sys.prefix) / "bin"
    if not (bin_dir / "git-model").exists():
        pytest.skip("gitmodel is not installed in this interpreter's environment")
    out = git_model_help(bin_dir, tmp_path)
    assert out.returncode == 0, out.stderr
    assert "GIT-MODEL(1)" in out.stdout
