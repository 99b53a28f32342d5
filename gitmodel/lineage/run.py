"""The command that made a model (docs/model-file.md, "Run"): its arguments, checked against the
model-file rules, and the host name."""

from __future__ import annotations

import re
import socket
import time

from gitmodel import modelfile
from gitmodel.modelfile import Run

_HOST_RE = re.compile(r"^[A-Za-z0-9._-]{1,253}$")


def utc(seconds: float) -> str:
    """``seconds`` since the epoch as the model file writes times: ``YYYY-MM-DDTHH:MM:SSZ``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def host_name() -> str:
    """This machine's host name, or "" when it does not fit the model-file rule."""
    try:
        name = socket.gethostname()
    except OSError:
        return ""
    return name if _HOST_RE.fullmatch(name) else ""


def command_of(argv: list[str] | tuple[str, ...]) -> tuple[tuple[str, ...], str | None]:
    """(``argv`` as ``run.command``, None), or ((), why) when the model-file rules cannot hold it
    (an argument with a newline, say): a changed command is worse than none."""
    try:
        return modelfile.check_command(list(argv), "command"), None
    except ValueError as exc:
        return (), f"the command line was not recorded: {str(exc).replace('field ', '', 1)}"


def make_run(argv: list[str] | tuple[str, ...], *, record_host: bool, started: float | None = None,
             ended: float | None = None, exit_status: int | None = None
             ) -> tuple[Run, str | None]:
    """A ``[run]`` for ``argv`` (times and status when measured), and a note when the command
    could not be recorded."""
    command, note = command_of(argv)
    duration = None
    if started is not None and ended is not None:
        duration = round(max(0.0, ended - started), 3)
    return Run(command=command,
               started=utc(started) if started is not None else "",
               ended=utc(ended) if ended is not None else "",
               duration=duration, exit=exit_status,
               host=host_name() if record_host else ""), note
