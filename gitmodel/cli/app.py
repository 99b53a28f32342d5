"""The Typer application and what every command group shares: output, progress, errors.

Only the ``gitmodel.cli`` package imports typer, and with the hook entry point it is the only code
that prints. Exit codes: 0 ok, 1 a user error (a GitmodelError), 2 bad usage, 3 unexpected
(traceback saved to a log file), 130 interrupted.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Annotated, Any

import typer

from gitmodel import __version__
from gitmodel.errors import GitmodelError

app = typer.Typer(
    name="git model",
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
    """Bytes done, shown on stderr only when it is a terminal; silent otherwise."""

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

    def close(self) -> None:
        if self.enabled and self.last:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


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


def run(application: typer.Typer | None = None) -> None:
    """Entry point: run the app (or ``application``, a copy of it holding only the command
    being run, see gitmodel.cli.run) and map every outcome to an exit code."""
    try:
        code = (application or app)(standalone_mode=False, prog_name="git model")
    except GitmodelError as exc:
        err(f"error: {exc}")
        sys.exit(1)
    except KeyboardInterrupt:
        err("interrupted; nothing half-written was kept, run the command again to finish")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:
        import click

        if isinstance(exc, click.exceptions.Abort):
            err("interrupted")
            sys.exit(130)
        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        log = _log_unexpected()
        err(f"error: unexpected {type(exc).__name__}: {exc}\n"
             f"this is a bug in gitmodel; the details are in {log}; please report it")
        sys.exit(3)
    sys.exit(code if isinstance(code, int) else 0)
