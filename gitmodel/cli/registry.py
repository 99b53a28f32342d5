"""``git model`` commands for versions and stages (tag, assign, list, show, history, ...).

Part of the CLI layer: registers its commands on :data:`gitmodel.cli.app.app`. Every function here
calls :mod:`gitmodel.registry` and prints what it returns; errors go through ``cli.run``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer

from gitmodel import catalog, registry, tagging
from gitmodel.cli.app import app, dump_json, err, human_size
from gitmodel.cli.everyday import show_list

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
MessageOpt = Annotated[str | None, typer.Option("--message", "-m",
                                                help="First line(s) of the tag message.")]


def _push_hint(tag: str) -> None:
    typer.echo(f"  share it: git push origin '{tag}'  (or git push --follow-tags)")


@app.command()
def tag(
    name: Annotated[str | None, typer.Argument(
        help="Model name (may be left out when the commit has one model).",
        show_default=False)] = None,
    version: Annotated[str | None, typer.Argument(help="Version, e.g. v1.2.0.",
                                                  show_default=False)] = None,
    bump: Annotated[str | None, typer.Option("--bump", help="major, minor or patch: the next "
                                                            "version after the greatest.")] = None,
    pre: Annotated[str | None, typer.Option("--pre", help="Make a prerelease with this label "
                                                          "(rc -> v2.0.0-rc.1).")] = None,
    message: MessageOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Allow a version lower than the greatest "
                                                        "on its major line (a backport).")] = False,
    sign: Annotated[bool, typer.Option("--sign", "-s", help="Sign the tag with git's signing "
                                                            "key (GPG or SSH).")] = False,
    rev: Annotated[str, typer.Option("--rev", help="Commit to register.")] = "HEAD",
) -> None:
    """Register a version of a model: an annotated tag NAME@vX.Y.Z."""
    # `tag v1.1.0`: a single argument with a dot is a version (model names have no dots)
    if name is not None and version is None and "." in name:
        name, version = None, name
    result = tagging.tag_version(name, version, bump=bump, pre=pre, message=message,
                                  force=force, sign=sign, rev=rev)
    signed = " (signed)" if result.signed else ""
    typer.echo(f"registered {result.model} {result.version}{signed}: tag {result.tag} on "
               f"{result.commit[:12]}")
    _push_hint(result.tag)


@app.command()
def assign(
    name: Annotated[str, typer.Argument(help="Model name.", show_default=False)],
    version: Annotated[str, typer.Argument(help="Version or range (v1.1.0, ^1, latest).",
                                           show_default=False)],
    stage: Annotated[str, typer.Argument(help="Stage, e.g. prod.", show_default=False)],
    force: Annotated[bool, typer.Option("--force", help="Skip the promotion-order check.")] = False,
    message: MessageOpt = None,
) -> None:
    """Put a version in a stage: an annotated tag NAME#STAGE#N."""
    result = tagging.assign(name, version, stage, force=force, message=message)
    typer.echo(f"{result.model} {result.version} is now in {result.stage}: tag {result.tag}")
    _push_hint(result.tag)


@app.command()
def unassign(
    name: Annotated[str, typer.Argument(help="Model name.", show_default=False)],
    stage: Annotated[str, typer.Argument(help="Stage to take off.", show_default=False)],
    version: Annotated[str | None, typer.Argument(
        help="Version (default: the one the stage points at).", show_default=False)] = None,
    message: MessageOpt = None,
) -> None:
    """Take a stage off a version: an annotated tag NAME#STAGE!#N."""
    result = tagging.unassign(name, stage, version, message=message)
    typer.echo(f"{result.model} {result.version} left {result.stage}: tag {result.tag}")
    _push_hint(result.tag)


@app.command()
def deregister(
    name: Annotated[str, typer.Argument(help="Model name.", show_default=False)],
    version: Annotated[str, typer.Argument(help="Version to withdraw.", show_default=False)],
    message: MessageOpt = None,
) -> None:
    """Withdraw a version: an annotated tag NAME@vX.Y.Z!."""
    result = tagging.deregister(name, version, message=message)
    typer.echo(f"deregistered {result.model} {result.version}: tag {result.tag}")
    _push_hint(result.tag)


@app.command()
def deprecate(
    name: Annotated[str, typer.Argument(help="Model name.", show_default=False)],
    message: MessageOpt = None,
) -> None:
    """Deprecate a whole model: an annotated tag NAME@deprecated."""
    result = tagging.deprecate(name, message=message)
    typer.echo(f"deprecated {result.model}: tag {result.tag}")
    _push_hint(result.tag)


@app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """List every model: latest version, stages, size."""
    show_list(as_json)  # the printer `git model list` also reaches without Typer (cli/everyday.py)


def _version_json(mv: catalog.ModelVersion) -> dict[str, Any]:
    data = asdict(mv)
    data.pop("spec", None)
    data["files"] = [asdict(f) for f in mv.files]
    return data


@app.command()
def show(
    spec: Annotated[str, typer.Argument(help="NAME, NAME@v1.2.3, NAME@^1, NAME@latest or "
                                             "NAME#prod.", show_default=False)],
    env: Annotated[bool, typer.Option("--env", help="Show the Python environment it was made "
                                                    "in, with every installed package.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show one version: commit, files, params, metrics, tagger, date."""
    if env:
        _show_environment(spec, as_json)
        return
    mv = catalog.show(spec)
    if as_json:
        dump_json(_version_json(mv))
        return
    title = f"{mv.name} {mv.version}" if mv.version else f"{mv.name} (work tree)"
    typer.echo(title)
    if mv.version:
        typer.echo(f"  tag:      {mv.tag}{' (signed)' if mv.signed else ''}"
                   f"{'' if mv.active else ' (deregistered)'}")
        typer.echo(f"  commit:   {mv.commit}")
        typer.echo(f"  tagger:   {mv.tagger} {mv.tagger_email}")
        typer.echo(f"  date:     {mv.date}")
        if mv.stages:
            typer.echo(f"  stages:   {', '.join(mv.stages)}")
    typer.echo(f"  file:     {mv.model_file}")
    typer.echo(f"  artifact: {mv.artifact} ({human_size(mv.size)})")
    if mv.description:
        typer.echo(f"  description: {mv.description}")
    for label, table in (("params", mv.params), ("metrics", mv.metrics)):
        if table:
            typer.echo(f"  {label}:")
            for key, value in sorted(tagging.flatten(table).items()):
                typer.echo(f"    {key} = {value}")
    typer.echo("  files:")
    for f in mv.files:
        typer.echo(f"    {f.oid}  {human_size(f.size):>10}  {f.path}")


def _show_environment(spec: str, as_json: bool) -> None:
    from gitmodel import api

    report = api.environment_of(spec)
    environment = report.environment
    if as_json:
        dump_json({"name": report.name, "version": report.version,
                   "model_file": report.model_file,
                   "environment": None if environment is None else asdict(environment),
                   "packages": None if report.packages is None else
                   [{"name": n, "version": v} for n, v in report.packages]})
        return
    title = f"{report.name} {report.version}" if report.version else f"{report.name} (work tree)"
    if environment is None:
        typer.echo(f"{title} records no environment: it was added before gitmodel recorded one, "
                   "or its model file was written by hand")
        return
    # every value printed here passed the model-file rules (tokens, text): nothing a terminal obeys
    env = environment
    typer.echo(f"{title} environment")
    python = " ".join(x for x in (env.python, f"({env.implementation})" if env.implementation
                                  else "") if x)
    typer.echo(f"  python:   {python or 'unknown'}" + (f", {env.kind}" if env.kind else ""))
    typer.echo(f"  system:   {env.os or 'unknown'} {env.machine}".rstrip())
    if env.accelerator:
        typer.echo("  accelerator: " + ", ".join(f"{k} {v}" for k, v in env.accelerator.items()))
    if env.listing:
        typer.echo(f"  distributions: {env.distributions} ({env.listing})")
    for note in env.skipped:
        typer.echo(f"  skipped:  {note}")
    if report.packages is not None:
        typer.echo("  packages:")
        for name, version in report.packages:
            typer.echo(f"    {name}=={version}")
        return
    if env.listing:
        typer.echo("  the full package list is not in this clone's cache (it was recorded on "
                   "another machine); the packages that matter for ML:")
    elif env.packages:
        typer.echo("  packages that matter for ML:")
    for name, version in env.packages.items():
        typer.echo(f"    {name}=={version}")


@app.command()
def history(
    name: Annotated[str, typer.Argument(help="Model name.", show_default=False)],
    as_json: JsonOpt = False,
) -> None:
    """Show registrations and stage moves of a model, newest first."""
    events = catalog.history(name)
    if as_json:
        dump_json([{"timestamp": e.timestamp, "date": e.date, "event": e.kind,
                     "model": e.model, "version": e.version, "stage": e.stage,
                     "commit": e.commit, "tag": e.tag, "tagger": e.tagger,
                     "tagger_email": e.tagger_email, "signed": e.signed,
                     "subject": e.subject} for e in events])
        return
    for e in events:
        what = {registry.REGISTRATION: f"registered {e.version}",
                registry.DEREGISTRATION: f"deregistered {e.version}",
                registry.ASSIGNMENT: f"{e.version} -> {e.stage}",
                registry.UNASSIGNMENT: f"{e.version} left {e.stage}",
                registry.DEPRECATION: "deprecated"}[e.kind]
        typer.echo(f"{e.date}  {what:30}  {e.commit[:7]}  {e.tagger}  ({e.tag})")


def _fmt(value: Any) -> str:
    return "-" if value is None else str(value)


@app.command()
def diff(
    old: Annotated[str, typer.Argument(help="Older spec, e.g. NAME@v1.0.0.", show_default=False)],
    new: Annotated[str, typer.Argument(help="Newer spec, e.g. NAME@v1.1.0 or NAME.",
                                       show_default=False)],
    as_json: JsonOpt = False,
) -> None:
    """Compare two versions: params, metrics with deltas, files."""
    d = catalog.diff(old, new)
    if as_json:
        dump_json({"old": _version_json(d.old), "new": _version_json(d.new),
                    "params": [asdict(c) for c in d.params],
                    "metrics": [asdict(c) for c in d.metrics],
                    "files": [asdict(f) for f in d.files]})
        return
    a = d.old.version or "work tree"
    b = d.new.version or "work tree"
    typer.echo(f"{d.old.name} {a} -> {d.new.name} {b}")
    if not (d.params or d.metrics or d.files):
        typer.echo("  no changes")
    if d.params:
        typer.echo("params:")
        for c in d.params:
            typer.echo(f"  {c.key}: {_fmt(c.old)} -> {_fmt(c.new)}")
    if d.metrics:
        typer.echo("metrics:")
        for c in d.metrics:
            delta = f" ({c.delta:+.6g})" if c.delta is not None else ""
            typer.echo(f"  {c.key}: {_fmt(c.old)} -> {_fmt(c.new)}{delta}")
    if d.files:
        typer.echo("files:")
        for f in d.files:
            sizes = f"{_fmt(f.old_size)} -> {_fmt(f.new_size)} bytes"
            typer.echo(f"  {f.status:8} {f.path} ({sizes})")


@app.command()
def rollback(
    name: Annotated[str, typer.Argument(help="Model name.", show_default=False)],
    version: Annotated[str, typer.Argument(help="Version to go back to.", show_default=False)],
) -> None:
    """Commit an earlier version's model file (no history rewrite)."""
    result = catalog.rollback(name, version)
    typer.echo(f"rolled {result.model} back to {result.version} in commit {result.commit[:12]} "
               f"({result.model_file})")
    typer.echo(f"  tag it when ready: git model tag {result.model} --bump patch")


@app.command("check-ref")
def check_ref(
    ref: Annotated[str, typer.Argument(help="A pushed tag: refs/tags/NAME#prod#3 or the tag name.",
                                       show_default=False)],
    as_json: JsonOpt = False,
) -> None:
    """Tell CI what a pushed tag did (a registration, a stage move)."""
    result = catalog.check_ref(ref)
    if as_json:
        dump_json(asdict(result))
    elif not result.registry:
        typer.echo(f"{result.tag} is not a model registry tag")
    else:
        what = result.event or "-"
        typer.echo(f"{result.tag}: {what} of {result.model} {_fmt(result.version)}"
                   + (f" in {result.stage}" if result.stage else "")
                   + f" at {_fmt(result.commit)}"
                   + ("" if result.current is not False else " (no longer current)"))
    for problem in result.problems:
        err(f"warning: {problem}")


@app.command()
def verify(
    spec: Annotated[str, typer.Argument(help="NAME@VERSION (or NAME#STAGE).", show_default=False)],
    as_json: JsonOpt = False,
) -> None:
    """Check a version's tag signature and rehash its objects."""
    result = catalog.verify(spec)
    if as_json:
        dump_json({**asdict(result), "ok": result.ok, "objects_ok": result.objects_ok})
    else:
        if result.signature_ok is None:
            typer.echo(f"signature: none ({result.tag} is not signed)")
        elif result.signature_ok:
            typer.echo(f"signature: good ({result.tag})")
        else:
            typer.echo(f"signature: FAILED ({result.tag}): {result.signature_report}")
        if not result.trailers_match:
            typer.echo("trailers: FAILED: the tag's Model-Oid trailers do not match the model "
                       "file at its commit")
        for o in result.objects:
            state = "ok" if o.problem is None else f"FAILED: {o.problem}"
            typer.echo(f"object {o.path}: {state} ({o.oid})")
    if not result.ok:
        failed = []
        if result.signature_ok is False:
            failed.append("signature")
        if not result.trailers_match:
            failed.append("trailers")
        if not result.objects_ok:
            failed.append("objects")
        err(f"error: {result.model} {result.version} failed verification: {', '.join(failed)}")
        raise typer.Exit(1)
