"""Every shell block of README.md and docs/*.md runs as written (issue 7).

Each page is one bash script (``set -euo pipefail``), run top to bottom in an empty scratch
folder with an isolated HOME, where ``git model`` is this checkout's code. The conventions, for
whoever writes a page:

- A ```sh block is run. ```text, ```toml, ```yaml (and any other language) are illustrations
  and are not: put command lines that cannot run as written (placeholders, ``…``) in ```text.
- A ```python block is run with ``python -`` in the current folder.
- ``! CMD`` shows a command that fails: the test fails if it succeeds.
- ``CMD  # -> TEXT`` shows what the command prints: its output (stdout and stderr) must
  contain TEXT. A line of its own ``# -> TEXT`` adds another expectation to the command above.
  A checked command runs in a subshell, so it must not be a ``cd`` or an assignment.
- Hidden HTML comments (not shown on GitHub) steer the test without changing what users read:
  ``<!-- doc-test: setup`` … ``-->``  shell lines run at that point (a stand-in train.py…);
  ``<!-- doc-test: file PATH -->``     the next block is written to PATH instead of being run;
  ``<!-- doc-test: after PAGE -->``    PAGE's script runs first (in a subshell), in the same folder;
  ``<!-- doc-test: not run: REASON -->`` the next block is not run; REASON says where it is tested.

Hosts are loopback stand-ins: ``s3://BUCKET/…`` is moto's S3 server on 127.0.0.1 (endpoint and
fake credentials in the environment, every bucket a page names created empty), and the two
git URLs below are local repositories, through git's ``url.<base>.insteadOf`` in the isolated
git config: TEAM_REPO_URL an empty bare repository, GITMODEL_URL a snapshot of this working
tree tagged with the releases the pages pin (so no test depends on the checkout's own tags).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import IDENTITY

PROJECT = Path(__file__).resolve().parents[1]
PAGES = ["README.md", *sorted(f"docs/{p.name}" for p in (PROJECT / "docs").glob("*.md"))]

# where gitmodel itself is fetched from in docs/pre-commit.md and docs/ci-cd.md
GITMODEL_URL = "https://github.com/OWNER/gitmodel"
# a team's repository on a git server, in README.md and the remotes pages
TEAM_REPO_URL = "https://host/org/repo.git"

_FENCE = re.compile(r"^```(\S*)\n(.*?)^```\s*$", re.S | re.M)
_DIRECTIVE = re.compile(r"<!--\s*doc-test:\s*(setup|file|after|not run:)(.*?)-->", re.S)


def _command_lines(body: str) -> Iterator[tuple[int, str]]:
    """(line offset, logical line) of a sh block: backslash continuations joined, heredocs whole."""
    lines = body.splitlines()
    i = 0
    while i < len(lines):
        start, line = i, lines[i]
        while line.endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line + "\n" + lines[i]
        heredoc = re.search(r"<<-?\s*'?\"?(\w+)'?\"?", line)
        if heredoc:
            while i + 1 < len(lines):
                i += 1
                line += "\n" + lines[i]
                if lines[i].strip() == heredoc.group(1):
                    break
        yield start, line
        i += 1


def _split_expectation(line: str) -> tuple[str, str | None]:
    """``CMD  # -> TEXT`` on a command's last line (never inside a heredoc's body)."""
    head, newline, last = line.rpartition("\n")
    if " # -> " in last and not re.search(r"<<[^<]", head):
        command, _, text = last.partition(" # -> ")
        return head + newline + command.rstrip(), text.strip()
    return line, None


def _checked(where: str, command: str, must_fail: bool, expected: list[str]) -> str:
    """Shell that runs COMMAND, prints its output, and checks its status and output."""
    q = shlex.quote
    status_check = (f"[ $__rc -ne 0 ] || __doc_fail {q(where)} {q('should have failed: ' + command)}"
                    if must_fail else
                    f"[ $__rc -eq 0 ] || __doc_fail {q(where)} {q(f'failed: {command}')} $__rc")
    lines = [f"__out=$( {{ {command}\n}} 2>&1 ) && __rc=0 || __rc=$?",
             "printf '%s\\n' \"$__out\"", status_check]
    for text in expected:
        lines.append(f"grep -qF -- {q(text)} <<<\"$__out\" || "
                     f"__doc_fail {q(where)} {q(f'the doc says {command!r} prints {text!r}')}")
    return "\n".join(lines) + "\n"


def page_script(page: str) -> str:
    """The runnable blocks of PAGE (relative to the project) as one bash script."""
    text = (PROJECT / page).read_text()
    parts: list[str] = []
    pending: tuple[str, str] | None = None  # a directive that applies to the next block
    position = 0
    events: list[tuple[int, str, re.Match[str]]] = (
        [(m.start(), "directive", m) for m in _DIRECTIVE.finditer(text)]
        + [(m.start(), "block", m) for m in _FENCE.finditer(text)])
    for start, kind, match in sorted(events, key=lambda e: e[0]):
        if start < position:
            continue  # a fence inside a directive's body
        position = match.end()
        line_no = text.count("\n", 0, start) + 1
        if kind == "directive":
            verb, arg = match.group(1), match.group(2).strip()
            if verb == "setup":
                parts.append(f"__doc_line={shlex.quote(f'{page}:{line_no} (setup)')}\n{arg}\n")
            elif verb == "after":
                parts.append(f"( {page_script(arg)}\n) >/dev/null\n")
            else:
                pending = (verb, arg)
                if verb == "not run:" and not arg:
                    raise AssertionError(f"{page}:{line_no}: `doc-test: not run:` needs a reason")
            continue
        lang, body = match.group(1), match.group(2)
        directive, pending = pending, None
        if directive and directive[0] == "file":
            parts.append(f"mkdir -p \"$(dirname {shlex.quote(directive[1])})\"\n"
                         f"cat > {shlex.quote(directive[1])} <<'DOC_TEST_EOF'\n{body}DOC_TEST_EOF\n")
            continue
        if directive and directive[0] == "not run:":
            continue
        if lang == "python":
            parts.append(f"__doc_line={shlex.quote(f'{page}:{line_no}')}\n"
                         f"python - <<'DOC_TEST_EOF'\n{body}DOC_TEST_EOF\n")
            continue
        if lang != "sh":
            continue
        commands: list[tuple[str, str, bool, list[str]]] = []
        for offset, line in _command_lines(body):
            where = f"{page}:{line_no + 1 + offset}"
            stripped = line.strip()
            if stripped.startswith("# -> ") and commands:
                commands[-1][3].append(stripped[len("# -> "):].strip())
                continue
            command, expectation = _split_expectation(line)
            must_fail = command.startswith("! ")
            commands.append((where, command[2:] if must_fail else command, must_fail,
                             [expectation] if expectation else []))
        for where, command, must_fail, expected in commands:
            parts.append(f"__doc_line={shlex.quote(where)}\n")
            if must_fail or expected:
                parts.append(_checked(where, command, must_fail, expected))
            else:
                parts.append(command + "\n")
    return "".join(parts)


PRELUDE = """\
set -euo pipefail
__doc_fail() { echo "doc-test: $1: $2${3:+ (exit $3)}" >&2; exit 99; }
trap 'echo "doc-test: $__doc_line: failed (exit $?): $BASH_COMMAND" >&2' ERR
__doc_line=start
"""


def _shim(path: Path, command: str) -> None:
    # a script, not a symlink: a symlink to a venv's python starts the base interpreter
    # (Python finds pyvenv.cfg beside the path it was started by), without our dependencies
    path.write_text(f"#!/bin/sh\nexec {command} \"$@\"\n")
    path.chmod(0o755)


def _git_global(*args: str) -> None:
    subprocess.run(["git", "config", "--global", *args], check=True)


def _snapshot(source: Path, tag: str) -> None:
    """This working tree as a git repository tagged TAG (uncommitted edits included), so the
    test does not depend on the tags a CI clone happens to have."""
    shutil.copytree(PROJECT, source, ignore=shutil.ignore_patterns(
        ".git", "*.egg-info", "__pycache__", ".*cache", ".hypothesis", "build", "work", ".venv*"))
    env = {**os.environ, **IDENTITY}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"],
                 ["tag", "-a", tag, "-m", tag]):
        subprocess.run(["git", *args], cwd=source, check=True, env=env, capture_output=True)


@pytest.fixture
def page_env(tmp_path: Path, s3_endpoint: str) -> dict[str, str]:
    """PATH, the loopback hosts and fake credentials for a page's script."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _shim(bin_dir / "git-model", f"'{sys.executable}' -m gitmodel")
    for name in ("python", "python3"):
        _shim(bin_dir / name, f"'{sys.executable}'")
    # the team's repository on "a git server"
    team = tmp_path / "hosts" / "team.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(team)], check=True)
    _git_global(f"url.{team.as_uri()}.insteadOf", TEAM_REPO_URL)
    return {
        **os.environ,
        "PATH": f"{bin_dir}:{Path(sys.executable).parent}:{os.environ['PATH']}",
        "PYTHONPATH": str(PROJECT),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3_endpoint,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
    }


def _pins(text: str) -> set[str]:
    """The release tags of gitmodel a page pins: ``rev: v0.1.0``, ``…/gitmodel@v0.1.0``."""
    return (set(re.findall(re.escape(GITMODEL_URL) + r"@(v[0-9][^'\s\"]*)", text))
            | set(re.findall(r"^\s*rev: (v[0-9]\S*)", text, re.M)))


def _host_gitmodel(tmp_path: Path, text: str) -> None:
    """GITMODEL_URL as a snapshot of this working tree, tagged with every release TEXT pins."""
    pins = sorted(_pins(text))
    if not pins:
        return
    source = tmp_path / "hosts" / "gitmodel"
    _snapshot(source, pins[0])
    for tag in pins[1:]:
        subprocess.run(["git", "tag", "-a", tag, "-m", tag], cwd=source, check=True,
                       capture_output=True)
    _git_global(f"url.{source.as_uri()}.insteadOf", GITMODEL_URL)


def _empty_buckets(endpoint: str, text: str) -> None:
    import s3fs

    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset",
                                                  method="POST")).read()
    fs = s3fs.S3FileSystem(endpoint_url=endpoint, key="testing", secret="testing",
                           skip_instance_cache=True)
    for bucket in sorted(set(re.findall(r"s3://([a-z0-9][a-z0-9.-]+)", text))):
        fs.mkdir(bucket)


# tools a page uses that the README does not install (a page run after another needs its tools)
TOOLS = {"docs/versions.md": ["ssh-keygen"], "docs/ci-cd.md": ["ssh-keygen"]}


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_as_written(page: str, tmp_path: Path, page_env: dict[str, str],
                              s3_endpoint: str) -> None:
    missing = [t for t in TOOLS.get(page, []) if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{page} uses {', '.join(missing)}, which is not installed")
    script = page_script(page)
    other_shells = re.findall(r"^```(bash|shell|console|zsh|shell-session)\s*$",
                              (PROJECT / page).read_text(), re.M)
    if other_shells:
        pytest.fail(f"{page}: a ```{other_shells[0]} block is not run; use ```sh (run) or "
                    "```text (an illustration)")
    _empty_buckets(s3_endpoint, (PROJECT / page).read_text())
    _host_gitmodel(tmp_path, (PROJECT / page).read_text())
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    out = subprocess.run(["bash", "-c", PRELUDE + script], cwd=scratch, capture_output=True,
                         text=True, env=page_env)
    if out.returncode != 0:
        pytest.fail(f"{page} does not run as written:\n{out.stdout[-4000:]}\n--- stderr ---\n"
                    f"{out.stderr[-4000:]}", pytrace=False)


def test_quickstart_runs(tmp_path: Path, page_env: dict[str, str]) -> None:
    """The README's first command line ends in this script (1 MiB models keep it quick)."""
    out = subprocess.run(["sh", str(PROJECT / "examples/quickstart.sh"), "1"], cwd=tmp_path,
                         capture_output=True, text=True,
                         env={**page_env, "TMPDIR": str(tmp_path)})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "Every checkout restored byte-identical models" in out.stdout


def test_conventions_are_enforced(tmp_path: Path) -> None:
    """The checks above can fail: a wrong expectation, a `!` that succeeds, a failing line."""
    page = tmp_path / "page.md"
    cases = {
        "```sh\necho hello   # -> goodbye\n```\n": "prints 'goodbye'",
        "```sh\n! true\n```\n": "should have failed",
        "```sh\nfalse\necho after\n```\n": "failed (exit 1)",
    }
    for text, message in cases.items():
        page.write_text(text)
        script = page_script(str(page))  # an absolute path: PROJECT / it is itself
        out = subprocess.run(["bash", "-c", PRELUDE + script], cwd=tmp_path, capture_output=True,
                             text=True)
        assert out.returncode != 0 and message in out.stderr, (text, out.stderr)
        assert "after" not in out.stdout


def test_ci_install_line_installs_from_the_repository(tmp_path: Path,
                                                      page_env: dict[str, str]) -> None:
    """docs/ci-cd.md's `pip install` line fetches gitmodel at the pinned tag from its repository
    (here the snapshot behind GITMODEL_URL); --no-deps --target keep it offline and out of .venv."""
    text = (PROJECT / "docs/ci-cd.md").read_text()
    line = re.search(r"run: (pip install .*)", text)
    assert line, "docs/ci-cd.md shows no `run: pip install` step"
    assert _pins(line.group(1)), "the install line pins no release tag"
    _host_gitmodel(tmp_path, line.group(1))
    command = f"{line.group(1)} --no-deps --target site -q"
    out = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True,
                         env=page_env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert (tmp_path / "site/gitmodel/__init__.py").is_file()


def test_pinned_releases_exist() -> None:
    """The pages pin gitmodel by a release tag (rev: v0.1.0, …@v0.1.0). The tests above tag a
    snapshot with it, so check here that it names a release there is: not newer than this
    checkout, and in the changelog once releases are recorded there."""
    from gitmodel import __version__
    from gitmodel.semver import Version

    changelog = (PROJECT / "CHANGELOG.md").read_text()
    released = set(re.findall(r"^## \[?v?(\d+\.\d+\.\d+)", changelog, re.M))
    pins = {(page, pin[1:]) for page in PAGES for pin in _pins((PROJECT / page).read_text())}
    assert pins, "the pages pin no release of gitmodel"
    for page, pin in pins:
        assert Version.parse(pin) <= Version.parse(__version__), (page, pin)
        assert not released or pin in released, (page, pin, sorted(released))


def _anchors(text: str) -> set[str]:
    """GitHub's heading anchors: lower-case, punctuation dropped, spaces to '-'."""
    out = set()
    for heading in re.findall(r"^#+ (.+)$", _FENCE.sub("", text), re.M):
        out.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return out


def test_links_resolve() -> None:
    """Every relative link of the pages names a file that exists, and a heading that does."""
    broken = []
    for page in PAGES:
        text = (PROJECT / page).read_text()
        prose = re.sub(r"`[^`\n]*`", "", _FENCE.sub("", text))  # no code spans or blocks
        for target in re.findall(r"\]\(([^)\s]+)\)", prose):
            if re.match(r"[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            path = (PROJECT / page).parent / file if file else PROJECT / page
            if not path.exists():
                broken.append(f"{page}: {target} (no such file)")
            elif anchor and path.suffix == ".md" and anchor not in _anchors(path.read_text()):
                broken.append(f"{page}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_pages_the_code_names_exist() -> None:
    """Messages and generated files point users at docs/*.md (the .gitmodel.toml header names
    docs/config.md): each of those pages exists."""
    named = set()
    for source in (PROJECT / "gitmodel").rglob("*"):
        if source.is_file() and source.suffix in (".py", ".sh"):
            named.update(re.findall(r"docs/[\w.-]+\.md", source.read_text(errors="replace")))
    assert "docs/config.md" in named
    missing = sorted(p for p in named if not (PROJECT / p).is_file())
    assert not missing, missing
