"""The Typer application and what every command group shares: output, progress, errors.

Only the ``gitmodel.cli`` package imports typer, and with the hook entry point it is the only code
that prints. The shared helpers that need no Typer (output, progress, the error funnel and its exit
codes) live in ``cli/output.py`` so that ``cli/everyday.py`` can answer `status` and `list`
without importing Typer; they are re-exported here, where the command groups import them.
"""

from __future__ import annotations

import sys
from typing import Annotated

import click
import typer
import typer.core
import typer.main

from gitmodel import __version__
from gitmodel.cli.output import (  # re-exported: the command groups import them from here
    HOOKS_MISSING,
    ProgressBar,
    dump_json,
    echo,
    err,
    fail,
    funnel,
    human_size,
    warn_if_hooks_missing,
)


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


def run(application: typer.Typer | None = None) -> None:
    """Entry point: run the app (or ``application``, a copy of it holding only the command
    being run, see gitmodel.cli.run) through the error funnel (``output.funnel``, which maps
    every outcome to an exit code); click's own failures (usage, Ctrl-C at a prompt) are
    mapped here.

    With ``--json`` on a command that has it, every failure is also one JSON object on stdout,
    ``{"error": MESSAGE, "code": EXIT, "kind": ...}``, so a script reads one stream."""

    def command() -> int:
        code = (application or app)(standalone_mode=False, prog_name="git model")
        if code == 130:  # Typer turns a Ctrl-C inside a command into exit code 130 itself
            raise KeyboardInterrupt
        return code if isinstance(code, int) else 0

    def json_requested() -> bool:
        return _json_requested(sys.argv[1:])

    def click_failure(exc: Exception) -> None:
        if isinstance(exc, click.exceptions.Abort):
            err("interrupted")
            fail("interrupted", 130, "interrupted", json_requested())
        if isinstance(exc, click.ClickException):
            exc.show()
            kind = "usage" if isinstance(exc, click.UsageError) else "error"
            fail(exc.format_message(), exc.exit_code, kind, json_requested())

    funnel(command, json_requested, click_failure)


__all__ = ["HOOKS_MISSING", "HelpGroup", "ProgressBar", "app", "dump_json", "echo", "err",
           "human_size", "main", "run", "warn_if_hooks_missing"]
