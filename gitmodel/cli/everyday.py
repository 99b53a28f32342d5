"""`git model status` and `git model list`: what they print, and answering them without Typer.

These are the commands a user types all day (issue 7: status <= 0.1 s, list <= 0.1 s), and
importing typer with click is ~20-25 ms of them here (benchmarks/NOTES.md). So the printers live
here, free of Typer, and serve both ways in: the Typer commands in ``cli/workspace.py`` and
``cli/registry.py`` call them, and :func:`run_without_typer` calls them directly when the
arguments are ones it can read without a parser (``status [--json] [NAME...]``, ``list
[--json]``). Anything else (``-h``, ``--remote``, ``--``, a typo) goes to Typer, which owns
usage errors and help, so there is one printer per command and one parser of record.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import asdict

from gitmodel.cli.output import (
    ProgressBar,
    dump_json,
    echo,
    err,
    funnel,
    human_size,
    warn_if_hooks_missing,
)


def show_status(names: list[str], as_json: bool = False, remote: bool = False) -> int:
    """Print `git model status`; returns the exit code (1 when a model file could not be read)."""
    from gitmodel import api

    warn_if_hooks_missing()
    bar = ProgressBar("hashing")
    try:
        statuses, errors = api.status(names, progress=bar)
    finally:
        bar.close()
    unpushed: dict[str, list[str]] = {}
    remote_url = ""
    if remote:
        from gitmodel import remote as remote_mod

        remote_url, unpushed = remote_mod.unpushed(api.open_workspace(), names)
    if as_json:
        extra = {"remote": remote_url} if remote else {}
        dump_json({"models": [{**asdict(s), "state": s.state.value,
                                "files": [{**asdict(f), "state": f.state.value} for f in s.files],
                                **({"unpushed": unpushed.get(s.name, [])} if remote else {})}
                               for s in statuses],
                   "errors": errors, **extra})
    else:
        if not statuses and not errors:
            echo("no models yet: `git model add PATH` starts one")
        width = max((len(s.name) for s in statuses), default=0)
        for s in statuses:
            echo(f"{s.state.value:10} {s.name:{width}}  {s.artifact}")
            if s.state.value != "clean":
                echo(f"{'':10} {'':{width}}  {s.detail}")
            if unpushed.get(s.name):
                echo(f"{'':10} {'':{width}}  not pushed to {remote_url}: "
                     f"{len(unpushed[s.name])} object(s); run `git model push`")
        for error in errors:
            err(f"error: {error}")
    return 1 if errors else 0


def show_list(as_json: bool = False) -> int:
    """Print `git model list`: every model's latest version, stages and size."""
    from gitmodel import catalog

    models, warnings = catalog.list_models()
    if as_json:
        dump_json({"models": [asdict(m) for m in models], "warnings": warnings})
        return 0
    for warning in warnings:
        err(f"warning: {warning}")
    if not models:
        echo("no models yet: `git model add PATH` starts one")
        return 0
    rows = [("NAME", "LATEST", "STAGES", "SIZE")]
    for m in models:
        latest = m.latest or m.greatest or "-"
        if m.greatest and m.latest and m.greatest != m.latest:
            latest += f" ({m.greatest})"
        stages = ", ".join(f"{s}={ver}" for s, ver in m.stages.items()) or "-"
        name = m.name + (" (deprecated)" if m.deprecated else "")
        rows.append((name, latest, stages, human_size(m.size) if m.size is not None else "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        echo(f"{r[0]:{widths[0]}}  {r[1]:{widths[1]}}  {r[2]:{widths[2]}}  {r[3]}")
    return 0


def plain_args(args: list[str]) -> tuple[str, list[str], bool] | None:
    """(command, names, --json) when ``args`` is a `status` or `list` this module can answer as
    Typer would, else None (then Typer parses them)."""
    if not args or args[0] not in ("status", "list"):
        return None
    rest = args[1:]
    as_json = rest.count("--json") == 1
    words = [a for a in rest if a != "--json"]
    if rest.count("--json") > 1 or any(not w or w.startswith("-") for w in words):
        return None  # options, `--`, or an empty word: Typer's to read (and to refuse)
    if args[0] == "list" and words:
        return None  # `list` takes no arguments: Typer says so
    return args[0], words, as_json


def run_without_typer(args: list[str], before: Callable[[], None] | None = None) -> bool:
    """Answer ``args`` here (exiting with the command's code) if :func:`plain_args` reads them;
    False when Typer must. ``before()`` runs once this module will answer (the start-up's
    garbage-collector settling, see gitmodel.cli.run)."""
    plain = plain_args(args)
    if plain is None:
        return False
    command, names, as_json = plain
    # the core the command runs, imported before ``before()`` settles what start-up loaded
    importlib.import_module("gitmodel.api" if command == "status" else "gitmodel.catalog")
    if before is not None:
        before()
    if command == "status":
        funnel(lambda: show_status(names, as_json), lambda: as_json)
    funnel(lambda: show_list(as_json), lambda: as_json)
