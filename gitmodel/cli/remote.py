"""``git model`` commands for remotes (remote, push, pull, fetch, get).

Part of the CLI layer: registers its commands on :data:`gitmodel.cli.app.app`. The work is done by
:mod:`gitmodel.remote`, which returns reports; this module prints them.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from gitmodel import api
from gitmodel import config as config_mod
from gitmodel.cli.app import HelpGroup, ProgressBar, app, dump_json, human_size

remote_app = typer.Typer(help="Manage model remotes; with no subcommand, list them.\n\n"
                              "A remote is where objects are shared: a directory or an fsspec "
                              "URL such as s3://BUCKET/PATH.", invoke_without_command=True,
                         cls=HelpGroup)
app.add_typer(remote_app, name="remote")


@remote_app.callback()
def remote_main(ctx: typer.Context) -> None:
    """Manage model remotes (where objects are shared); with no subcommand, list them."""
    if ctx.invoked_subcommand is None:
        remote_list(as_json=False)  # as `git remote` lists git's remotes

JobsOption = Annotated[int, typer.Option("--jobs", "-j", min=1, max=256,
                                         help="Objects transferred in parallel.")]
RemoteOption = Annotated[str | None, typer.Option(
    "--remote", "-r", help="Model remote name or URL (default: the default remote).")]


def _rate(nbytes: int, seconds: float) -> str:
    if seconds <= 0 or not nbytes:
        return ""
    return f" at {nbytes / seconds / (1 << 20):.0f} MiB/s"


@remote_app.command("add")
def remote_add(
    name: Annotated[str, typer.Argument(help="Remote name, e.g. origin.", show_default=False)],
    url: Annotated[str, typer.Argument(help="Directory path, file://, s3://BUCKET/PATH or "
                                            "another fsspec URL.", show_default=False)],
    default: Annotated[bool, typer.Option("--default", "-d",
                                          help="Make it the default remote.")] = False,
    endpoint_url: Annotated[str | None, typer.Option(
        "--endpoint-url", help="S3-compatible endpoint (MinIO, Ceph, R2); no credentials.")] = None,
    profile: Annotated[str | None, typer.Option(
        "--profile", help="S3: the AWS profile (from ~/.aws) to sign with.")] = None,
    region: Annotated[str | None, typer.Option("--region", help="S3: the bucket's region.")
                      ] = None,
    force: Annotated[bool, typer.Option("--force", "-f",
                                        help="Replace a remote of that name.")] = False,
    create: Annotated[bool, typer.Option(
        "--create", help="Create the directory of a directory remote if it does not exist.")
    ] = False,
) -> None:
    """Add a model remote to the committed .gitmodel.toml.

    Credentials never go there: they come from the environment, as the backend reads them.
    """
    from gitmodel import git
    from gitmodel.errors import RemoteError
    from gitmodel.remote import directory_of, missing_directory

    ws = api.open_workspace()
    directory = directory_of(url, ws.root)

    def check_directory() -> None:
        # a typo or an unmounted share must not become a remote on local disk (issue 7)
        if directory is None or directory.is_dir():
            return
        if not create:
            again = f"git model remote add {name} {url} --create" + (" --default" * default)
            raise RemoteError(missing_directory(url, directory, again))
        directory.mkdir(parents=True)
        typer.echo(f"created {directory}")

    config_mod.add_remote(ws.root, name, url, default=default,
                          options={"endpoint_url": endpoint_url, "profile": profile,
                                   "region": region}, replace=force,
                          before_write=check_directory)
    git.add(ws.root, [config_mod.CONFIG_FILE])
    typer.echo(f"added remote {name} -> {url}" + (" (default)" if default else ""))
    typer.echo(f"  staged {config_mod.CONFIG_FILE}: commit it to share the remote")


@remote_app.command("list")
def remote_list(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List model remotes."""
    cfg = api.open_workspace().config
    rows = [{"name": n, "url": u, "default": n == cfg.default_remote,
             **cfg.remote_options.get(n, {})} for n, u in sorted(cfg.remotes.items())]
    if as_json:
        dump_json(rows)
        return
    if not rows:
        typer.echo("no model remotes: `git model remote add origin URL --default` adds one")
    for row in rows:
        typer.echo(f"{row['name']}\t{row['url']}" + ("\t(default)" if row["default"] else ""))


@remote_app.command("remove")
def remote_remove(
    name: Annotated[str, typer.Argument(help="Remote name.", show_default=False)],
) -> None:
    """Remove a model remote from .gitmodel.toml; its objects stay there."""
    from gitmodel import git

    ws = api.open_workspace()
    config_mod.remove_remote(ws.root, name)
    git.add(ws.root, [config_mod.CONFIG_FILE])
    typer.echo(f"removed remote {name}; staged {config_mod.CONFIG_FILE}")


@app.command()
def push(
    names: Annotated[list[str] | None, typer.Argument(help="Models (default: all in the work "
                                                           "tree).", show_default=False)] = None,
    all_versions: Annotated[bool, typer.Option(
        "--all-versions", "-a", help="Also every registered version's objects.")] = False,
    remote: RemoteOption = None,
    jobs: JobsOption = 8,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Upload model objects the remote lacks."""
    from gitmodel import remote as remote_mod

    bar = ProgressBar("uploading")
    try:
        report = remote_mod.push(api.open_workspace(), names or [], all_versions=all_versions,
                                 remote_name=remote, jobs=jobs, progress=bar,
                                 plan=bar.plan)
    finally:
        bar.close()
    if as_json:
        dump_json(asdict(report))
        return
    if report.transferred:
        typer.echo(f"uploaded {len(report.transferred)} object(s), {human_size(report.bytes)} to "
                   f"{report.remote}{_rate(report.bytes, report.seconds)}"
                   + (f"; {report.skipped} already there" if report.skipped else ""))
    else:
        typer.echo(f"everything is already on {report.remote} ({report.skipped} object(s))")


def _fetch_like(specs: list[str] | None, remote: str | None, jobs: int, all_versions: bool,
                as_json: bool, restore: bool) -> None:
    from gitmodel import remote as remote_mod
    from gitmodel.errors import GitmodelError

    ws = api.open_workspace()
    bar = ProgressBar("downloading")
    try:
        if restore:
            result = remote_mod.pull(ws, specs or [], remote_name=remote, jobs=jobs,
                                     progress=bar, plan=bar.plan)
            report, restored, errors = result.report, result.restored, result.errors
        else:
            report = remote_mod.fetch(ws, specs or [], all_versions=all_versions,
                                      remote_name=remote, jobs=jobs, progress=bar,
                                      plan=bar.plan)
            restored, errors = [], []
    finally:
        bar.close()
    if as_json:
        dump_json({**asdict(report), "restored": restored, "errors": errors})
    else:
        if report.transferred:
            typer.echo(f"downloaded {len(report.transferred)} object(s), {human_size(report.bytes)} "
                       f"from {report.remote}{_rate(report.bytes, report.seconds)}")
        elif not report.absent:
            typer.echo("every object is already in the cache")
        for name in restored:
            typer.echo(f"restored {name}")
        for error in errors:
            typer.echo(f"error: {error}", err=True)
    if report.absent:
        raise remote_mod.absent_error(report)
    if errors:
        raise GitmodelError(f"{len(errors)} artifact(s) could not be restored (see above)")


@app.command()
def pull(
    specs: Annotated[list[str] | None, typer.Argument(
        help="Models or versions (NAME, NAME@v1.2.0); default: the work tree's models.",
        show_default=False)] = None,
    remote: RemoteOption = None,
    jobs: JobsOption = 8,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Download model objects and restore the artifacts that need them."""
    _fetch_like(specs, remote, jobs, False, as_json, restore=True)


@app.command()
def fetch(
    specs: Annotated[list[str] | None, typer.Argument(
        help="Models or versions (NAME, NAME@v1.2.0); default: the work tree's models.",
        show_default=False)] = None,
    all_versions: Annotated[bool, typer.Option(
        "--all-versions", "-a", help="Also every registered version's objects.")] = False,
    remote: RemoteOption = None,
    jobs: JobsOption = 8,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Download model objects into the cache, not into the work tree."""
    _fetch_like(specs, remote, jobs, all_versions, as_json, restore=False)


@app.command()
def get(
    repo: Annotated[str, typer.Argument(help="Git URL or path of the repository.",
                                        show_default=False)],
    spec: Annotated[str, typer.Argument(help="NAME, NAME@v1.2.0, NAME@^1 or NAME#STAGE.",
                                        show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Directory to write into.")],
    remote: Annotated[str | None, typer.Option(
        "--remote", "-r", help="Model remote URL (default: the one the repo names).")] = None,
    jobs: JobsOption = 8,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Download one model version into a directory, without a clone."""
    from gitmodel import remote as remote_mod

    bar = ProgressBar("downloading")
    try:
        result = remote_mod.get(repo, spec, output, remote_url=remote, jobs=jobs, progress=bar,
                                plan=bar.plan)
    finally:
        bar.close()
    if as_json:
        dump_json(asdict(result))
        return
    version = result.version + (f" ({result.note})" if result.note else "")
    typer.echo(f"wrote {result.name} {version} ({len(result.files)} file(s), "
               f"{human_size(result.report.bytes)} downloaded) to {output}")
