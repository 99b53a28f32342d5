"""What the CLI writes and how it fails, without Typer: output, progress, the hooks warning and
the error funnel (exit codes), shared by the Typer app (``cli/app.py`` re-exports all of it) and
by ``cli/everyday.py``, which answers `status` and `list` without importing Typer.

Importing typer (with click) was ~20-25 ms of an ~80 ms `git model status` (benchmarks/NOTES.md),
so nothing in this module imports it. Exit codes: 0 ok, 1 a user error (a GitmodelError),
2 bad usage, 3 unexpected (traceback saved to a log file), 130 interrupted. With ``--json`` a
failure is also one JSON object on stdout: ``{"error": MESSAGE, "code": EXIT, "kind": ...}``
(issue 7).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from gitmodel import __version__
from gitmodel.errors import GitmodelError, environment_problem


def echo(message: str = "", err: bool = False) -> None:
    """One line on stdout (stderr with ``err``), flushed, as ``typer.echo`` writes it."""
    stream = sys.stderr if err else sys.stdout
    stream.write(f"{message}\n")
    stream.flush()


def err(message: str) -> None:
    echo(message, err=True)


def dump_json(data: Any) -> None:
    import json  # only --json output needs it

    echo(json.dumps(data, indent=2, sort_keys=True))


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


class ProgressBar:
    """Bytes done of the total (percentage, MiB, rate), on stderr only when it is a terminal;
    silent otherwise. One bar for every command that moves bytes: add, checkout, push, pull."""

    def __init__(self, label: str, total: int = 0) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.enabled = sys.stderr.isatty()
        self.started = time.monotonic()
        self.last = 0.0

    def __call__(self, nbytes: int) -> None:
        self.done += nbytes
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.1:
            return
        self.last = now
        rate = self.done / max(now - self.started, 1e-6) / (1 << 20)
        mib = self.done / (1 << 20)
        if self.total:
            pct = 100 * self.done / self.total
            line = f"{self.label}: {pct:5.1f}% {mib:.0f}/{self.total / (1 << 20):.0f} MiB"
        else:
            line = f"{self.label}: {mib:.0f} MiB"
        sys.stderr.write(f"\r{line} {rate:.0f} MiB/s\x1b[K")
        sys.stderr.flush()

    def plan(self, count: int, nbytes: int) -> None:
        """The total, told before the work starts (``plan`` callback of add, push and pull)."""
        self.total = nbytes

    def close(self) -> None:
        if self.enabled and self.last:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


HOOKS_MISSING = (
    "warning: gitmodel's hooks are not installed in this clone, so `git commit` does not check "
    "models and `git checkout` leaves artifacts stale; run `git model install`"
)


def _common_dir_without_git(start: Path) -> Path | None:
    """The git common dir above ``start``, found the way git finds it in the usual layouts (a
    ``.git`` folder, or a ``.git`` file naming a worktree's git dir); None when unsure."""
    if "GIT_DIR" in os.environ or "GIT_COMMON_DIR" in os.environ:
        return None
    for folder in (start, *start.parents):
        dot_git = folder / ".git"
        if dot_git.is_dir():
            return dot_git
        if dot_git.is_file():
            text = dot_git.read_text(encoding="utf-8", errors="replace").strip()
            if not text.startswith("gitdir:"):
                return None
            git_dir = (folder / text.removeprefix("gitdir:").strip()).resolve()
            common = git_dir / "commondir"
            if common.is_file():
                return (git_dir / common.read_text(encoding="utf-8").strip()).resolve()
            return git_dir
    return None


def _may_set_hooks_path(common: Path) -> bool:
    """Whether a config git reads here may set ``core.hooksPath`` (then only git can say where
    the hooks are): a substring test on the repo's and the user's config files."""
    home = Path(os.environ.get("HOME", "~")).expanduser()
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    for config in (common / "config", home / ".gitconfig", xdg / "git" / "config"):
        try:
            text = config.read_text(encoding="utf-8", errors="replace").lower()
        except OSError:
            continue
        if "hookspath" in text or "[include" in text:
            return True
    return False


def warn_if_hooks_missing() -> None:
    """Say once, on stderr, when this clone lacks gitmodel's hooks (before `git model install`,
    commits are unchecked and `git checkout` restores nothing).

    The usual answer costs a few stats and small reads, no git process: no config sets
    ``core.hooksPath`` and the hooks in the common dir's ``hooks`` folder carry install's marker.
    Otherwise (a ``core.hooksPath``, an unusual layout, or really not installed) git is asked."""
    from gitmodel import install

    common = _common_dir_without_git(Path.cwd())
    if common is not None and not _may_set_hooks_path(common):
        hooks = common / "hooks"
        if all(install.is_ours(hooks / h) or install.is_ours(hooks / f"{h}.legacy")
               for h in ("pre-commit", "post-checkout")):
            return
    from gitmodel import git

    try:
        if install.installed(git.find_repo()):
            return
    except GitmodelError:
        return  # not a repo: the command itself says so
    err(HOOKS_MISSING)


# -- the error funnel ---------------------------------------------------------------------------

def _log_unexpected() -> str:
    import tempfile  # only a crash needs these: every command pays for top-level imports
    import traceback

    fd, path = tempfile.mkstemp(prefix="gitmodel-crash-", suffix=".log")
    with os.fdopen(fd, "w") as stream:
        stream.write(f"git-model {__version__}, python {sys.version}\nargv: {sys.argv}\n\n")
        stream.write(traceback.format_exc())
    return path


def kind_of(exc: BaseException) -> str:
    """``ModelNotFoundError`` -> ``model_not_found``; the base class is plain ``error``."""
    name = type(exc).__name__.removesuffix("Error")
    if name in ("Gitmodel", ""):
        return "error"
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def fail(message: str, code: int, kind: str, as_json: bool, **extra: str) -> NoReturn:
    """Exit with ``code`` after the message went to stderr; for --json also one JSON object on
    stdout, so a script reads one stream."""
    if as_json:
        dump_json({"error": message, "code": code, "kind": kind, **extra})
    sys.exit(code)


def funnel(command: Callable[[], int], json_requested: Callable[[], bool],
           other: Callable[[Exception], None] | None = None) -> NoReturn:
    """Run ``command`` and map every outcome to an exit code (see the module doc).

    ``json_requested()`` is asked only once something failed; ``other`` may handle an
    exception of its own kind (the Typer app's usage errors) by exiting, before it counts as
    unexpected."""
    try:
        code = command()
    except GitmodelError as exc:
        err(f"error: {exc}")
        fail(str(exc), 1, kind_of(exc), json_requested())
    except KeyboardInterrupt:
        message = "interrupted; nothing half-written was kept, run the command again to finish"
        err(message)
        fail(message, 130, "interrupted", json_requested())
    except SystemExit:
        raise
    except BrokenPipeError:
        # the reader went away (`git model status | head -1`): nothing to say, exit 1 as click
        # does; stdout goes to /dev/null so that the flush at exit does not complain either
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
    except OSError as exc:
        problem = environment_problem(exc)
        if problem is None:
            unexpected(exc, json_requested)
        err(f"error: {problem}")
        fail(problem, 1, "environment", json_requested())
    except Exception as exc:
        if other is not None:
            other(exc)
        unexpected(exc, json_requested)
    sys.exit(code)


def unexpected(exc: BaseException, json_requested: Callable[[], bool]) -> NoReturn:
    """A bug: save the traceback (call inside the ``except``), say where, exit 3."""
    log = _log_unexpected()
    message = f"unexpected {type(exc).__name__}: {exc}"
    err(f"error: {message}\n"
        f"this is a bug in gitmodel; the details are in {log}; please report it")
    fail(message, 3, "unexpected", json_requested(), log=log)
