"""Shell completion of `git model <TAB>`, run in a real bash: through git's own completion script
when the machine has it (git calls `_git_model`), and by calling `_git_model` directly with
COMP_WORDS/COMP_CWORD set as bash would, which needs nothing the README does not install."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import IDENTITY, Repo, make_repo

from gitmodel.cli import GROUP_OF, GROUPS

BASH = shutil.which("bash")
GIT_COMPLETION = next((p for p in (
    Path("/usr/share/bash-completion/completions/git"),
    Path("/usr/local/share/bash-completion/completions/git"),
    Path("/etc/bash_completion.d/git"),
    Path("/usr/share/git-core/contrib/completion/git-completion.bash"),
    Path("/opt/homebrew/etc/bash_completion.d/git-completion.bash"),
) if p.is_file()), None)

pytestmark = pytest.mark.skipif(BASH is None, reason="bash is not installed")


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repo]:
    """Two models, three versions (one deregistered), stages (one taken off), two remotes."""
    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("home")
        mp.setenv("HOME", str(home))
        mp.setenv("XDG_CONFIG_HOME", str(home / ".config"))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        for key, value in IDENTITY.items():
            mp.setenv(key, value)
        repo = make_repo(tmp_path_factory.mktemp("completion") / "repo")
        repo.write("models/classifier.pt", b"c1")
        repo.write("models/bert.pt", b"b1")
        # a param called "name" must not pass for a model name
        repo.model("add", "models/classifier.pt", "models/bert.pt", "--param", "name=resnet")
        repo.commit("models")
        repo.model("tag", "classifier", "v1.0.0")
        repo.model("assign", "classifier", "v1.0.0", "prod")
        repo.model("tag", "bert", "v0.1.0")
        repo.write("train.py", "print('again')\n")
        repo.commit("retrain", "-a")
        repo.model("tag", "classifier", "v1.1.0")
        repo.model("assign", "classifier", "v1.1.0", "staging")
        repo.model("unassign", "classifier", "staging")
        repo.write("train.py", "print('backport')\n")
        repo.commit("backport", "-a")
        repo.model("tag", "classifier", "v0.9.0", "--force")
        repo.model("deregister", "classifier", "v0.9.0")
        for name in ("origin", "backup"):
            (repo.root.parent / name).mkdir()
            repo.model("remote", "add", name, str(repo.root.parent / name))
        repo.commit("remotes")
        yield repo


def _words(line: str) -> list[str]:
    """COMP_WORDS as bash makes them: split at blanks, and around '=' (COMP_WORDBREAKS)."""
    words = []
    for token in line.split(" "):
        words += [p for p in re.split(r"(=)", token) if p] or [""]
    return words


def complete(repo: Repo, lines: list[str], *, via_git: bool, cwd: Path | None = None
             ) -> dict[str, set[str]]:
    """The candidates bash offers for each of ``lines`` (the cursor at the end of each)."""
    script = repo.model("completion", "bash").stdout
    body = [f"source '{GIT_COMPLETION}'" if via_git else "",
            'eval "$GITMODEL_COMPLETION"']
    for line in lines:
        words = _words(line)
        quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
        entry = "__git_wrap__git_main" if via_git else "_git_model"
        body.append(f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; "
                    f"COMP_LINE='{line}'; COMP_POINT={len(line)}; COMPREPLY=(); {entry}; "
                    "printf '%s\\0' \"${COMPREPLY[@]}\"; printf '\\n'")
    env = {**os.environ, "GITMODEL_COMPLETION": script,
           # bash, not the user's shell, and git from PATH as the user has it
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run([str(BASH), "--norc", "--noprofile", "-c", "\n".join(body)],
                         cwd=cwd or repo.root, capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert not out.stderr, out.stderr
    rows = out.stdout.split("\n")[:len(lines)]
    return {line: {c.strip() for c in row.split("\0") if c.strip()}
            for line, row in zip(lines, rows, strict=True)}


def all_commands(repo: Repo) -> set[str]:
    listing = repo.model("-h").stdout
    section = listing.split("Commands:")[1]
    return {m.group(1) for m in re.finditer(r"^  (\S+)", section, re.M)}


EXPECTED = {
    "git model st": {"status"},
    "git model status ": {"bert", "classifier"},
    "git model status --": {"--json", "--remote", "--help"},
    "git model assign classifier ": {"v1.0.0", "v1.1.0", "latest"},
    "git model assign classifier v1.1.0 ": {"prod", "staging"},
    "git model unassign classifier ": {"prod"},
    "git model show classifier@": {"classifier@v1.0.0", "classifier@v1.1.0",
                                   "classifier@latest"},
    "git model show classifier#": {"classifier#prod"},
    "git model show cl": {"classifier"},
    "git model history ": {"bert", "classifier"},
    "git model push --remote ": {"origin", "backup"},
    "git model push --remote=b": {"backup"},
    "git model pull -r o": {"origin"},
    "git model remote ": {"add", "list", "remove"},
    "git model remote remove ": {"origin", "backup"},
    "git model tag --bump ": {"major", "minor", "patch"},
    "git model tag --bump minor --": {"--bump", "--pre", "--message", "--force", "--sign", "--rev",
                                      "--help"},
    "git model completion ": {"bash", "zsh"},
    "git model add ": set(),  # file names: bash's default completion takes over
}


@pytest.mark.parametrize("via_git", [
    pytest.param(True, id="through-git-completion", marks=pytest.mark.skipif(
        GIT_COMPLETION is None, reason="git's bash completion script is not on this machine")),
    pytest.param(False, id="direct"),
])
def test_bash_completes_commands_options_models_versions_stages_remotes(
        scratch: Repo, via_git: bool) -> None:
    lines = ["git model ", *EXPECTED]
    got = complete(scratch, lines, via_git=via_git)
    assert got["git model "] == all_commands(scratch)
    for line, expected in EXPECTED.items():
        if line.endswith("--"):  # options: at least these (the short forms need not be offered)
            assert expected <= got[line], line
            assert all(c.startswith("--") for c in got[line]), line
        else:
            assert got[line] == expected, line


def test_bash_completion_works_from_a_subfolder_outside_a_repo_and_for_git_model(
        scratch: Repo, tmp_path: Path) -> None:
    sub = complete(scratch, ["git model status "], via_git=False, cwd=scratch.root / "models")
    assert sub["git model status "] == {"bert", "classifier"}
    outside = complete(scratch, ["git model status ", "git model sh"], via_git=False,
                       cwd=tmp_path)
    assert outside == {"git model status ": set(), "git model sh": {"show"}}
    # the script also completes the git-model executable itself
    direct = complete(scratch, ["git-model assign classifier "], via_git=False)
    assert direct["git-model assign classifier "] == {"v1.0.0", "v1.1.0", "latest"}


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_script_loads_and_computes_candidates(scratch: Repo) -> None:
    script = scratch.model("completion", "zsh").stdout
    out = subprocess.run(
        ["zsh", "-f", "-c", 'autoload -Uz compinit && compinit -u && eval "$S" && '
         '__git_model_candidates assign classifier "" && echo "#" && '
         '__git_model_candidates st && echo "#" && echo $_comps[git-model]'],
        cwd=scratch.root, capture_output=True, text=True, env={**os.environ, "S": script})
    assert out.returncode == 0, out.stderr
    versions, commands, registered = out.stdout.split("#\n")
    assert set(versions.split()) == {"v1.0.0", "v1.1.0", "latest"}
    # the candidates are every command; zsh's compadd keeps those matching the typed prefix
    assert {"status", "show", "add", "completion"} <= set(commands.split())
    assert registered.strip() == "_git-model"  # compdef bound the git-model executable


def test_completion_of_an_unknown_shell_is_a_usage_error(scratch: Repo) -> None:
    out = scratch.model("completion", "fish", check=False)
    assert out.returncode == 2
    assert "bash" in out.stderr and "zsh" in out.stderr


def test_every_command_is_in_the_group_the_start_up_map_names() -> None:
    """gitmodel.cli.GROUP_OF lets `git model status` import one command group; a command in
    the wrong group still runs, only slower, so check the map here."""
    code = ("import importlib, sys, typer.main; from gitmodel.cli import load_commands; "
            "load_commands((sys.argv[1],)); a = importlib.import_module('gitmodel.cli.app'); "
            "print(' '.join(sorted(typer.main.get_command(a.app).commands)))")
    found = {}
    for group in GROUPS:
        out = subprocess.run([sys.executable, "-c", code, group], capture_output=True, text=True,
                             check=True)
        found.update(dict.fromkeys(out.stdout.split(), group))
    assert found == GROUP_OF
