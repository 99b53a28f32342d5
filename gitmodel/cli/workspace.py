"""``git model`` commands for the work tree: install, add, status, checkout, recover, check."""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from gitmodel import api
from gitmodel.cli.app import (
    ProgressBar,
    app,
    dump_json,
    err,
    human_size,
    warn_if_hooks_missing,
)
from gitmodel.cli.everyday import show_status
from gitmodel.errors import GitmodelError


@app.command()
def install(
    uninstall: Annotated[bool, typer.Option("--uninstall",
                                            help="Remove gitmodel's hooks, restoring others.")] = False,
) -> None:
    """Install git hooks and defaults in this clone (once per clone)."""
    from gitmodel import git
    from gitmodel import install as install_mod

    repo = git.find_repo()
    if uninstall:
        removed = install_mod.uninstall(repo)
        typer.echo(f"removed gitmodel hooks from {removed.hooks_dir}"
                   + (f"; restored {', '.join(removed.restored)}" if removed.restored else ""))
        return
    result = install_mod.install(repo)
    typer.echo(f"gitmodel hooks installed in {result.hooks_dir}")
    for hook in result.chained:
        typer.echo(f"  kept your existing {hook} hook as {hook}.gitmodel-chained; it still runs")
    for hook in result.via_legacy:
        typer.echo(f"  {hook}: run by the pre-commit framework as {hook}.legacy")
    if result.created:
        typer.echo(f"  staged {', '.join(result.created)}: commit them to share the settings")
    from gitmodel.hook import report_fetch, report_sync
    from gitmodel.remote import checkout_fetcher
    from gitmodel.workspace import sync

    # restore the checked-out models, fetching what the cache lacks from the default remote as a
    # checkout would (issue 7: a fresh clone used to get one "run `git model pull`" per object);
    # what cannot be fetched is summed up in one line
    ws = api.open_workspace()
    fetcher = checkout_fetcher(ws)
    report = sync(ws, fetch=fetcher)
    if fetcher is not None and fetcher.fetched:
        typer.echo(f"  fetched {fetcher.fetched} object(s) from {fetcher.remote_name}")
    report_fetch(fetcher)
    report_sync(report, fetcher)


@app.command()
def add(
    paths: Annotated[list[Path], typer.Argument(help="Artifact files or folders.",
                                                show_default=False)],
    name: Annotated[str | None, typer.Option("--name", "-n", help="Model name (default: the "
                                                                  "artifact's stem).")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="KEY=VALUE, repeatable.")] = None,
    metric: Annotated[list[str] | None, typer.Option("--metric", help="KEY=VALUE, repeatable.")] = None,
    params_file: Annotated[list[Path] | None, typer.Option(
        "--params", help="Params from a YAML, JSON or TOML file.")] = None,
    metrics_file: Annotated[list[Path] | None, typer.Option(
        "--metrics", help="Metrics from a YAML, JSON or TOML file.")] = None,
    data: Annotated[list[Path] | None, typer.Option("--data", "-d",
                                                    help="Training-data input to record.")] = None,
    message: Annotated[str | None, typer.Option("--message", "-m",
                                                help="Description of this model.")] = None,
) -> None:
    """Cache artifacts; stage their model files for the next commit.

    When the bytes changed, params, metrics and data inputs start empty unless given again (they
    described the old bytes; `add` lists what it dropped), and the description is kept unless
    -m replaces it (it says what the model is)."""
    warn_if_hooks_missing()
    params: dict[str, Any] = {}
    for f in params_file or []:
        params.update(api.load_values_file(f))
    params.update(api.parse_assignments(param or [], "param"))
    metrics: dict[str, Any] = {}
    for f in metrics_file or []:
        metrics.update(api.load_values_file(f))
    metrics.update(api.parse_assignments(metric or [], "metric"))
    bar = ProgressBar("hashing")
    try:
        results = api.add(paths, name=name, params=params or None, metrics=metrics or None,
                          data=data or [], description=message, progress=bar, plan=bar.plan,
                          recording=api.Recording(environment="cli"))
    finally:
        bar.close()
    for r in results:
        verb = "added" if r.changed else "updated metadata of"
        typer.echo(f"{verb} {r.name}: {r.artifact} ({r.files} file(s), {human_size(r.size)}) -> "
                   f"{r.model_file}")
        if r.untracked:
            typer.echo(f"  removed {r.artifact} from git's index; its bytes now live in the cache")
        notes = []
        if r.dropped:
            notes.append(f"dropped {', '.join(r.dropped)} (pass them again to keep them)")
        if r.kept_description:
            notes.append("kept the description (-m TEXT replaces it)")
        if notes:
            typer.echo(f"  the bytes changed: {'; '.join(notes)}")
        for note in r.notes:
            typer.echo(f"  {note}")


def _warn_hardlink() -> None:
    from gitmodel.store import LinkMode

    if api.open_workspace().config.link is LinkMode.HARDLINK:
        err(HARDLINK_WARNING)


HARDLINK_WARNING = (
    "warning: model.link is hardlink: artifacts share their bytes with the cache, so a tool that "
    "writes an artifact in place (torch.save to the same path) corrupts the cached version; "
    "write to a new path and `git model add` it, and `git model status` reports such writes"
)


@app.command()
def status(
    names: Annotated[list[str] | None, typer.Argument(help="Models (default: all).",
                                                      show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    remote: Annotated[bool, typer.Option(
        "--remote", help="Also show which models' objects the default remote lacks.")] = False,
) -> None:
    """Show whether each artifact matches its model file."""
    # the printer `git model status` also reaches without Typer (cli/everyday.py)
    code = show_status(names or [], as_json, remote)
    if code:
        raise typer.Exit(code)


@app.command()
def checkout(
    names: Annotated[list[str] | None, typer.Argument(
        help="Models (default: all), or versions (NAME@v1.0.0, NAME#prod) to bring into the work "
             "tree without moving HEAD.", show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", "-f",
                                        help="Replace unadded changes without saving them.")] = False,
) -> None:
    """Restore artifacts from their model files, or from a version's."""
    warn_if_hooks_missing()
    _warn_hardlink()
    bar = ProgressBar("restoring")
    try:
        results = api.checkout(names or [], force=force, progress=bar)
    finally:
        bar.close()
    for result in results:
        for rescue in result.rescued:
            typer.echo(f"saved your unadded changes to {rescue.path} as {rescue.oid}; get them "
                       f"back with `git model recover {rescue.oid} -o {rescue.path}`")
        if result.written or result.removed:
            typer.echo(f"restored {result.model} ({len(result.written)} file(s))")
        else:
            typer.echo(f"{result.model} is up to date")


@app.command()
def recover(
    oid: Annotated[str | None, typer.Argument(help="Object id (sha256:...) to write out.",
                                              show_default=False)] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o",
                                                help="Where to write the bytes.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List bytes saved before being replaced, or write one back out."""
    from gitmodel.workspace import rescued

    ws = api.open_workspace()
    if oid is None:
        entries = rescued(ws)
        if as_json:
            dump_json([asdict(e) for e in entries])
            return
        if not entries:
            typer.echo("nothing was rescued in this repository")
        for e in entries:
            typer.echo(f"{e.when}  {e.oid}  {human_size(e.size):>10}  {e.path}")
        return
    if output is None:
        raise typer.BadParameter("give --output PATH to write the bytes to", param_hint="-o")
    target = output if output.is_absolute() else Path.cwd() / output
    if target.exists() and not target.is_file():
        raise GitmodelError(f"{output} exists and is not a file")
    if target.exists():
        from gitmodel.workspace import rescue

        rel = os.path.relpath(target, ws.root)
        if not rel.startswith(".."):
            saved = rescue(ws, Path(rel).as_posix())
            typer.echo(f"saved the current {output} as {saved.oid} first")
    ws.store.materialize(oid, target)
    typer.echo(f"wrote {oid} to {output}")


@app.command()
def check(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Check what is staged, as the pre-commit hook does.

    For the pre-commit framework and CI: exits 1 listing every problem."""
    from gitmodel import checks

    problems = checks.check_staged(api.open_workspace())
    if as_json:
        dump_json([asdict(p) for p in problems])
    else:
        for problem in problems:
            err(f"commit refused: {problem}")
    if problems:
        raise typer.Exit(1)
