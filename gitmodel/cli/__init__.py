"""The ``git model`` command line: a thin Typer layer over :mod:`gitmodel.api` and the core.

Owns everything a user sees on a terminal: ``app`` holds the Typer application and the helpers
every command group shares (output, JSON, progress, the error funnel in ``run``); one module per
command group registers its commands on it. Nothing outside this package imports typer.

Command groups are imported on demand: ``git model status`` loads the work-tree group only, not
the registry's and the remotes' (with the core modules they pull in), and Typer then builds the
one command being run instead of all of them. Importing and building everything was a third of
the time of an everyday command (benchmarks/NOTES.md). ``gitmodel.cli.app`` (the
attribute) is still the complete app.

`status` and `list` with plain arguments do not import Typer at all: ``cli/everyday.py`` holds
their printers and answers them (importing typer and click, and building the command, was a
quarter of an everyday command once the rest was lean). So this package imports nothing from
typer until a command needs the Typer app.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer


class _Package(types.ModuleType):
    """This package's module type: its attribute ``app`` is the complete Typer app (as it always
    was, see ``__getattr__``), never the submodule ``gitmodel.cli.app``, which the import system
    would otherwise bind there the first time anything imports that submodule."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "app" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def _app_module() -> types.ModuleType:
    return importlib.import_module("gitmodel.cli.app")

# the import order is the order of `git model -h`: work-tree commands first
GROUPS = ("workspace", "registry", "remote", "storage", "completion")

# Which group registers each command: only a hint for speed. A command missing here, or moved
# to another group, still runs (every group is loaded); tests/test_completion.py checks the map.
GROUP_OF = {
    **dict.fromkeys(("install", "add", "status", "checkout", "recover", "check"), "workspace"),
    **dict.fromkeys(("tag", "assign", "unassign", "deregister", "deprecate", "list", "show",
                     "history", "diff", "rollback", "check-ref", "verify"), "registry"),
    **dict.fromkeys(("remote", "push", "pull", "fetch", "get"), "remote"),
    **dict.fromkeys(("du", "gc", "fsck", "repack"), "storage"),
    "completion": "completion",
}


def load_commands(groups: tuple[str, ...] = GROUPS) -> None:
    """Import command groups (all by default), registering their commands on the app."""
    for group in groups:
        importlib.import_module(f"gitmodel.cli.{group}")


def _only(name: str) -> typer.Typer | None:
    """A copy of the app holding only command (or group) ``name``, or None if no loaded group
    registers it. Typer builds a click command for every registered function on each run;
    building one instead of a group's dozen saves milliseconds on every `list`."""
    import copy

    import typer.main

    app = _app_module().app
    commands = [c for c in app.registered_commands if c.callback is not None and
                (c.name or typer.main.get_command_name(c.callback.__name__)) == name]
    groups = [g for g in app.registered_groups if g.name == name]
    if not commands and not groups:
        return None
    only = copy.copy(app)
    only.registered_commands = commands
    only.registered_groups = groups
    return only


def run(argv: list[str] | None = None) -> None:
    """Entry point: load the group of the command in ``argv`` (every group for help or an
    unknown command), then run it through the error funnel in ``app.run``."""
    args = sys.argv[1:] if argv is None else argv
    from gitmodel.cli import everyday

    if everyday.run_without_typer(args, before=_settle):
        return  # pragma: no cover - it exits with the command's code
    name = args[0] if args else ""
    group = GROUP_OF.get(name)
    only = None
    if group is not None:
        load_commands((group,))
        only = _only(name)
    if only is None:
        load_commands()
    _settle()
    _app_module().run(only)


def _settle() -> None:
    """Move everything start-up loaded into the garbage collector's permanent generation: it
    lives until exit, and without this the collection at exit walks all of it (~20 ms here,
    benchmarks/NOTES.md). Collection stays on for what the command allocates."""
    import gc

    gc.freeze()
    gc.enable()


def __getattr__(name: str) -> Any:
    if name == "app":
        load_commands()
        return _app_module().app
    if name in GROUPS:
        return importlib.import_module(f"gitmodel.cli.{name}")
    raise AttributeError(f"module 'gitmodel.cli' has no attribute {name!r}")


__all__ = ["GROUPS", "GROUP_OF", "load_commands", "run"]
