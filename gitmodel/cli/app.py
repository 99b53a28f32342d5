"""The Typer application and what every command group shares: output, progress, errors.

Only the ``gitmodel.cli`` package imports typer, and with the hook entry point it is the only code
that prints. Exit codes: 0 ok, 1 a user error (a GitmodelError), 2 bad usage, 3 unexpected
(traceback saved to a log file), 130 interrupted. With ``--json``, a failure is also one JSON object
on stdout: ``{"error": MESSAGE, "code": EXIT, "kind": ...}`` (issue 7).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import click
import typer
import typer.core
import typer.main

from gitmodel import __version__
from gitmodel.errors import GitmodelError, environment_problem


class HelpGroup(typer.core.TyperGroup):
    """A command group whose `-h` lists each command's whole first sentence, wrapped to the
    terminal, instead of click's default of cutting it at the column width with "..."."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=1000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


app = typer.Typer(
    name="git model",
    cls=HelpGroup,
    help="Version machine-learning models beside the code that made them.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def err(message: str) -> None:
    typer.echo(message, err=True)


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


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"git-model {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version_callback,
                                          is_eager=True, help="Show the version and exit.")] = False,
) -> None:
    """Version machine-learning models beside the code that made them."""


def dump_json(data: Any) -> None:
    import json  # only --json output needs it

    typer.echo(json.dumps(data, indent=2, sort_keys=True))


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def _log_unexpected() -> str:
    import tempfile  # only a crash needs these: every command pays for top-level imports
    import traceback

    fd, path = tempfile.mkstemp(prefix="gitmodel-crash-", suffix=".log")
    with os.fdopen(fd, "w") as stream:
        stream.write(f"git-model {__version__}, python {sys.version}\nargv: {sys.argv}\n\n")
        stream.write(traceback.format_exc())
    return path


def _json_requested(argv: list[str]) -> bool:
    """Whether ``argv`` asks a command that has ``--json`` for it (so errors go out as JSON).

    Called only once something failed, so resolving the command tree costs nothing on success."""
    args = argv[:argv.index("--")] if "--" in argv else argv
    if "--json" not in args:
        return False
    try:
        command: click.Command = typer.main.get_command(app)
        ctx = click.Context(command, info_name="git model")
        for word in args:
            if not isinstance(command, click.Group):
                break
            if word.startswith("-"):
                continue
            sub = command.get_command(ctx, word)
            if sub is None:
                break
            command = sub
        return any(isinstance(p, click.Option) and "--json" in p.opts for p in command.params)
    except Exception:  # a doubt about the command line never hides the error itself
        return False


def _kind(exc: BaseException) -> str:
    """``ModelNotFoundError`` -> ``model_not_found``; the base class is plain ``error``."""
    name = type(exc).__name__.removesuffix("Error")
    if name in ("Gitmodel", ""):
        return "error"
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def _fail(message: str, code: int, kind: str, as_json: bool, **extra: str) -> NoReturn:
    """Say what went wrong (stderr always; a JSON object on stdout for --json) and exit."""
    if as_json:
        dump_json({"error": message, "code": code, "kind": kind, **extra})
    sys.exit(code)


def run(application: typer.Typer | None = None) -> None:
    """Entry point: run the app (or ``application``, a copy of it holding only the command
    being run, see gitmodel.cli.run) and map every outcome to an exit code (see the module doc).

    With ``--json`` on a command that has it, every failure is also one JSON object on stdout,
    ``{"error": MESSAGE, "code": EXIT, "kind": ...}``, so a script reads one stream."""
    try:
        code = (application or app)(standalone_mode=False, prog_name="git model")
        if code == 130:  # Typer turns a Ctrl-C inside a command into exit code 130 itself
            raise KeyboardInterrupt
    except GitmodelError as exc:
        err(f"error: {exc}")
        _fail(str(exc), 1, _kind(exc), _json_requested(sys.argv[1:]))
    except KeyboardInterrupt:
        message = "interrupted; nothing half-written was kept, run the command again to finish"
        err(message)
        _fail(message, 130, "interrupted", _json_requested(sys.argv[1:]))
    except SystemExit:
        raise
    except OSError as exc:
        problem = environment_problem(exc)
        if problem is None:
            _unexpected(exc)
        err(f"error: {problem}")
        _fail(problem, 1, "environment", _json_requested(sys.argv[1:]))
    except Exception as exc:
        if isinstance(exc, click.exceptions.Abort):
            err("interrupted")
            _fail("interrupted", 130, "interrupted", _json_requested(sys.argv[1:]))
        if isinstance(exc, click.ClickException):
            exc.show()
            kind = "usage" if isinstance(exc, click.UsageError) else "error"
            _fail(exc.format_message(), exc.exit_code, kind, _json_requested(sys.argv[1:]))
        _unexpected(exc)
    sys.exit(code if isinstance(code, int) else 0)


def _unexpected(exc: BaseException) -> NoReturn:
    """A bug: save the traceback (call inside the ``except``), say where, exit 3."""
    log = _log_unexpected()
    message = f"unexpected {type(exc).__name__}: {exc}"
    err(f"error: {message}\n"
        f"this is a bug in gitmodel; the details are in {log}; please report it")
    _fail(message, 3, "unexpected", _json_requested(sys.argv[1:]), log=log)
