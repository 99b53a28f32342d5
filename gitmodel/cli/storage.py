"""``git model`` commands for the storage lifecycle: ``du`` and ``gc`` (issue 10).

Part of the CLI layer: what is needed comes from :mod:`gitmodel.retention`, what is removed from
:mod:`gitmodel.store.gc`; this module asks the remote (one batched call), prints and confirms.
``fsck`` joins this group (it registers here too).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Annotated, Any

import typer

from gitmodel import api
from gitmodel.cli.app import ProgressBar, app, dump_json, err, human_size

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]

_RULE_TEXT = {
    "always": "in a worktree, the index, a stash or a stage",
    "keep-versions": "among each model's newest versions (keep-versions)",
    "keep-days": "in a recent commit on a local branch (keep-days)",
    "grace": "added within the grace period",
    "rescued": "rescued copies of replaced artifacts (keep-rescued)",
    "unpushed": "on no remote (push them, or gc --unpushed)",
}


class _Status:
    """One line on stderr saying which pass runs, on a terminal only (quiet otherwise)."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.shown = False

    def __call__(self, what: str) -> None:
        if self.enabled:
            sys.stderr.write(f"\r{what}\x1b[K")
            sys.stderr.flush()
            self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def _remote_asker(ws: Any, name: str | None, *, required: bool
                  ) -> tuple[str | None, Callable[[list[str]], set[str]] | None]:
    """(label, batched has) of the remote ``name`` or the default one; (None, None) when no
    remote is configured and none was named."""
    from gitmodel.errors import RemoteError
    from gitmodel.remote import choose_remote, explain, open_named

    try:
        named = choose_remote(ws.config, name, root=ws.root)
    except RemoteError:
        if required or name is not None:
            raise
        return None, None
    remote = open_named(ws, named)

    def has(oids: list[str]) -> set[str]:
        try:
            return remote.has(oids)
        except RemoteError:
            raise
        except Exception as exc:  # a backend's own error: say which remote and what to do
            raise explain(exc, remote, "asking which objects it has") from exc
    return named.label, has


def _rules(ws: Any, grace: str | None, keep_days: int | None,
           keep_versions: int | None) -> Any:
    from gitmodel import config as config_mod
    from gitmodel.retention import Rules

    settings = ws.config.gc
    return Rules(
        grace=(config_mod.parse_duration(grace, "--grace") if grace is not None
               else settings.grace),
        keep_days=float(keep_days if keep_days is not None else settings.keep_days),
        keep_versions=keep_versions if keep_versions is not None else settings.keep_versions,
        keep_rescued=settings.keep_rescued,
    )


def _rules_json(rules: Any) -> dict[str, Any]:
    return {"grace_seconds": rules.grace, "keep_days": rules.keep_days,
            "keep_versions": rules.keep_versions, "keep_rescued_seconds": rules.keep_rescued}


def _first_use(plan: Any, oid: str) -> str:
    uses = plan.needed.get(oid, [])
    rule = plan.reason(oid)
    for use in uses:
        if use.rule == rule:
            model = f"{use.model} " if use.model else ""
            return f"{model}{use.where}"
    return ""


# -- gc ---------------------------------------------------------------------------------------

@app.command()
def gc(
    dry_run: Annotated[bool, typer.Option("--dry-run", "-n",
                                          help="Show what would be removed; remove nothing.")
                       ] = False,
    as_json: JsonOption = False,
    remote: Annotated[str | None, typer.Option(
        "--remote", "-r", help="Clean up this model remote instead of the local cache.")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")
                   ] = False,
    grace: Annotated[str | None, typer.Option(
        "--grace", help="Keep objects younger than this (90s, 30m, 1h, 14d; 0).",
        show_default=False)] = None,
    keep_days: Annotated[int | None, typer.Option(
        "--keep-days", min=0, help="Keep the models of local-branch commits of the last N days.",
        show_default=False)] = None,
    keep_versions: Annotated[int | None, typer.Option(
        "--keep-versions", min=0, help="Keep each model's newest N registered versions.",
        show_default=False)] = None,
    unpushed: Annotated[bool, typer.Option(
        "--unpushed", help="Also remove objects no remote has (listed first).")] = False,
    archive_to: Annotated[str | None, typer.Option(
        "--archive-to", help="With --remote: copy released objects to this remote and verify "
        "them there before deleting.", show_default=False)] = None,
    forget_repo: Annotated[list[str] | None, typer.Option(
        "--forget-repo", help="With --remote: forget this recorded repository (its objects "
        "then count as unreachable).", show_default=False)] = None,
) -> None:
    """Remove cache objects nothing here needs that a remote has.

    Every byte kept is explained by the rule that keeps it.

    Always kept: every worktree's HEAD, index and work tree, every stash entry, every version in
    a stage. Kept by rule ([gc] in .gitmodel.toml): objects younger than the grace period, the
    models of recent commits on local branches, the newest versions of each model. Also empties
    the cache's tmp/, trash/, stale resolved copies and expired rescue records.
    """
    from gitmodel import retention
    from gitmodel.errors import GitmodelError
    from gitmodel.store import gc as store_gc

    if remote is not None:
        if keep_days is not None or unpushed:
            raise GitmodelError("--keep-days and --unpushed are rules of the local cache; a "
                                "remote's are [retention] in .gitmodel.toml (docs/config.md)")
        _remote_gc(remote, dry_run=dry_run, as_json=as_json, yes=yes, grace=grace,
                   keep_versions=keep_versions, archive_to=archive_to,
                   forget_repos=forget_repo or [])
        return
    if archive_to is not None or forget_repo:
        raise GitmodelError("--archive-to and --forget-repo go with --remote NAME")
    ws = api.open_workspace()
    rules = _rules(ws, grace, keep_days, keep_versions)
    status = _Status()
    try:
        label, has = _remote_asker(ws, None, required=False)
        plan = retention.plan_local(ws.root, rules, time.time(), ws.store, remote_has=has,
                                    remote=label, unpushed=unpushed, progress=status)
    finally:
        status.close()
    if unpushed and plan.unpushed and not dry_run:
        if not as_json:
            typer.echo(f"{len(plan.unpushed)} object(s) on no remote, "
                       f"{human_size(sum(s for _, s in plan.unpushed))}; no copy will be left:")
            for oid, size in plan.unpushed:
                typer.echo(f"  {oid}  {human_size(size)}")
        if not yes:
            if not sys.stdin.isatty():
                raise GitmodelError(
                    f"gc --unpushed would delete {len(plan.unpushed)} object(s) no remote has "
                    "(listed above); run it again with --yes to delete them, or push them first "
                    "(`git model push --all-versions`)")
            if not typer.confirm("delete them?", default=False, err=True):
                raise GitmodelError("nothing was removed")
    removal = None
    rewrite_dead = ws.config.gc.pack_rewrite_dead
    if not dry_run:
        bar = ProgressBar("removing", sum(s for _, s in plan.remove))
        try:
            removal = store_gc.remove(ws.store, plan.remove, plan.scratch,
                                      keep=retention.still_young(ws.store, rules),
                                      progress=bar)
            removal.rescue_entries = store_gc.prune_rescue_log(
                ws.store, retention.expired_rescue(plan, ws.store))
            # the released recipes are gone: now the chunks no remaining recipe names
            pack_plan, removal.packs = store_gc.clean_packs(
                ws.store, time.time(), grace=rules.grace, rewrite_dead=rewrite_dead)
        finally:
            bar.close()
    else:
        pack_plan = store_gc.preview_packs(ws.store, time.time(), [o for o, _ in plan.remove],
                                           grace=rules.grace, rewrite_dead=rewrite_dead)
    _report_gc(plan, removal, dry_run, as_json, pack_plan, ws.store)


_KEPT_TEXT = {
    "stage": "a version in a stage",
    "tip": "the model at a branch tip",
    "version": "a registered version no rule releases",
    "commit": "in a reachable commit no rule releases",
    "worktree": "in this clone's worktrees or stashes",
    "young": "unreachable, uploaded within the grace period",
    "pushed": "unreachable, but a push relied on it within the grace period",
    "unknown time": "unreachable, but the remote does not say when it was uploaded",
}


def _remote_gc(name: str, *, dry_run: bool, as_json: bool, yes: bool, grace: str | None,
               keep_versions: int | None, archive_to: str | None,
               forget_repos: list[str]) -> None:
    """``gc --remote``: the plan, then (with --yes or a confirmation) the protocol of
    docs/remotes.md, "Remote gc"."""
    import dataclasses

    from gitmodel import config as config_mod
    from gitmodel.errors import GitmodelError
    from gitmodel.remote.gc import RemoteGcPlan, remote_gc

    ws = api.open_workspace()
    rules = ws.config.retention
    if keep_versions is not None:
        rules = dataclasses.replace(rules, keep_versions=keep_versions)
    if grace is not None:
        rules = dataclasses.replace(rules, grace=config_mod.parse_duration(grace, "--grace"))

    def confirm(plan: RemoteGcPlan) -> bool:
        if not as_json:
            _print_remote_plan(plan, dry_run=True)
        if not plan.remove and not plan.packs.of("delete", "orphan", "rewrite"):
            return False
        if yes:
            return True
        if not sys.stdin.isatty():
            raise GitmodelError(f"remote gc would delete {len(plan.remove)} object(s) from "
                                f"{plan.remote} (listed above); run it again with --yes, or "
                                "see the plan with --dry-run")
        return bool(typer.confirm(f"delete them from {plan.remote}?", default=False, err=True))

    status = _Status()
    try:
        result = remote_gc(ws.root, name, dry_run=dry_run, archive_to=archive_to,
                           forget_repos=forget_repos, rules=rules,
                           confirm=None if dry_run else confirm,
                           progress=lambda phase, done, total: status(f"{phase} {done}/{total}"))
    finally:
        status.close()
    plan = result.plan
    if dry_run and not as_json:
        _print_remote_plan(plan, dry_run=True)
    if as_json:
        dump_json({
            "dry_run": dry_run, "remote": plan.remote, "archive_to": plan.archive_to or None,
            "plan": [r.to_json() for r in plan.remove],
            "removed": result.removed, "freed": result.freed, "archived": result.archived,
            "spared": result.spared, "record": result.record or None,
            "kept": {reason: {"objects": n, "bytes": b}
                     for reason, (n, b) in plan.kept_by_reason().items()},
            "forgotten": plan.forgotten, "problems": plan.problems,
            "expired": [{"id": i, "last_push": w} for i, w in plan.expired],
            "packs": {**plan.packs.summary(), "recipes": plan.recipes_listed,
                      "deleted": [f"pack-{n}.pack" for n in result.packs.deleted],
                      "rewritten": [{"pack": f"pack-{old}.pack",
                                     "into": [f"pack-{n}.pack" for n in new]}
                                    for old, new in result.packs.rewritten],
                      "failed": [{"pack": f"pack-{n}.pack", "why": why}
                                 for n, why in result.packs.failed],
                      "spared": [f"pack-{n}.pack" for n in result.spared_packs],
                      "moved": result.packs.moved, "freed": result.packs.freed},
        })
        return
    if not dry_run:
        archived = f", {len(result.archived)} archived to {plan.archive_to}" \
            if result.archived else ""
        typer.echo(f"removed {len(result.removed)} object(s) from {plan.remote}, freed "
                   f"{human_size(result.freed)}{archived}")
        if result.spared:
            typer.echo(f"kept {len(result.spared)} object(s) a push relied on meanwhile")
        swept = result.packs
        if swept.deleted or swept.rewritten:
            typer.echo(f"packs: deleted {len(swept.deleted)}, rewrote {len(swept.rewritten)} "
                       f"(moved {human_size(swept.moved)})")
        for pack, why in swept.failed:
            err(f"warning: remote pack pack-{pack}.pack was left as it is: {why}")
    for problem in [*plan.problems, *plan.packs.problems]:
        err(f"warning: {problem}")


def _print_remote_plan(plan: Any, *, dry_run: bool) -> None:
    released = [r for r in plan.remove if r.reason == "released"]
    unreachable = [r for r in plan.remove if r.reason == "unreachable"]
    typer.echo(f"remote {plan.remote}: {plan.listed} object(s); would remove "
               f"{len(plan.remove)}, {human_size(plan.remove_bytes)}")
    for r in released:
        typer.echo(f"  released  {r.model} {r.version}  {human_size(r.size)}  ({r.rule})")
    if unreachable:
        typer.echo(f"  {len(unreachable)} unreachable object(s), "
                   f"{human_size(sum(r.size for r in unreachable))}, older than the grace period")
    kept = plan.kept_by_reason()
    if kept:
        typer.echo(f"kept {len(plan.kept)} object(s), {human_size(plan.kept_bytes)}:")
        for reason, (n, b) in sorted(kept.items()):
            typer.echo(f"  {n:>5} object(s) {human_size(b):>10}  {_KEPT_TEXT.get(reason, reason)}")
    for ident, written in plan.expired:
        typer.echo(f"forgets repository {ident} (last push {written}; forget-repos-after): "
                   "its objects count as unreachable")
    packs = plan.packs
    if packs.packs:
        deleting = packs.of("delete", "orphan")
        rewriting = packs.of("rewrite")
        typer.echo(f"packs: {len(packs.packs)} on the remote; would delete {len(deleting)} and "
                   f"rewrite {len(rewriting)} (moving {human_size(packs.moved)}), freeing "
                   f"{human_size(packs.freed)}")
        if packs.dead_kept:
            typer.echo(f"  {human_size(packs.dead_kept)} of chunks no kept version needs stay "
                       "in packs below the rewrite threshold, young, or relied on by a push")
    if plan.archive_to:
        typer.echo(f"released objects are copied to {plan.archive_to} and verified first")


def _packs_json(pack_plan: Any, removal: Any) -> dict[str, Any]:
    done = removal.packs if removal is not None else None
    return {
        "plan": [p.to_json() for p in pack_plan.packs if p.action != "keep"],
        "kept": len(pack_plan.of("keep")), "young": len(pack_plan.of("young")),
        "rewrite": len(pack_plan.of("rewrite")), "delete": len(pack_plan.of("delete")),
        "orphan": len(pack_plan.of("orphan")), "damaged": len(pack_plan.of("damaged")),
        "would_move": pack_plan.moved, "would_free": pack_plan.freed,
        "rewritten": [{"pack": old.pack.name, "into": [f"pack-{n}.pack" for n in new]}
                      for old, new in done.rewritten] if done else [],
        "deleted": [p.pack.name for p in done.deleted] if done else [],
        "spared": [p.pack.name for p in done.spared] if done else [],
        "moved": done.moved if done else 0,
        "freed": done.freed if done else 0,
    }


def _report_gc(plan: Any, removal: Any, dry_run: bool, as_json: bool, pack_plan: Any,
               store: Any) -> None:
    removed = plan.remove if removal is None else removal.objects
    scratch = plan.scratch if removal is None else removal.scratch
    if removal is None:
        freed = (store_freed(store, removed) + sum(s.size for s in scratch) + pack_plan.freed)
    else:
        freed = removal.freed
    kept = plan.kept_by_rule()
    removed_ids = {oid for oid, _ in removed}
    if as_json:
        dump_json({
            "dry_run": dry_run,
            "remote": plan.remote,
            "rules": _rules_json(plan.rules),
            "removed": [{"oid": oid, "size": size} for oid, size in removed],
            "scratch": [{"path": str(s.path), "kind": s.kind, "size": s.size} for s in scratch],
            "freed": freed,
            "kept": {rule: {"objects": n, "bytes": b} for rule, (n, b) in kept.items()},
            "kept_objects": [
                {"oid": oid, "size": size, "rule": plan.reason(oid), "use": _first_use(plan, oid)}
                for oid, (size, _) in sorted(plan.cached.items()) if oid not in removed_ids
                and plan.reason(oid)],
            "unpushed": [{"oid": oid, "size": size} for oid, size in plan.unpushed],
            "rescue_entries_dropped": removal.rescue_entries if removal else 0,
            "packs": _packs_json(pack_plan, removal),
            "failed": [{"what": w, "why": y} for w, y in (removal.failed if removal else [])]
            + [{"what": w, "why": y} for w, y in
               (removal.packs.failed if removal and removal.packs else [])],
            "problems": plan.problems + pack_plan.problems,
        })
        return
    verb = "would remove" if dry_run else "removed"
    typer.echo(f"{verb} {len(removed)} object(s), {human_size(sum(s for _, s in removed))}"
               + (f", and {len(scratch)} scratch item(s), "
                  f"{human_size(sum(s.size for s in scratch))}" if scratch else "")
               + f"; {'would free' if dry_run else 'freed'} {human_size(freed)}")
    _print_packs(pack_plan, removal, dry_run)
    total_kept = sum(n for n, _ in kept.values())
    if total_kept:
        typer.echo(f"kept {total_kept} object(s), "
                   f"{human_size(sum(b for _, b in kept.values()))}:")
        for rule, (n, b) in kept.items():
            if n:
                typer.echo(f"  {n:>5} object(s) {human_size(b):>10}  {_RULE_TEXT[rule]}")
    if plan.remote is None and plan.unpushed:
        typer.echo("no model remote is configured, so nothing the cache holds has another "
                   "copy; add one with `git model remote add` and push")
    for problem in plan.problems + pack_plan.problems:
        err(f"warning: {problem}")
    if removal is not None:
        for what, why in removal.failed + (removal.packs.failed if removal.packs else []):
            err(f"error: could not remove {what}: {why}")


def store_freed(store: Any, removed: Any) -> int:
    from gitmodel.store.gc import stored_freed

    return stored_freed(store, removed)


def _print_packs(pack_plan: Any, removal: Any, dry_run: bool) -> None:
    """One line on packs when there is something to say."""
    done = removal.packs if removal is not None else None
    if dry_run or done is None:
        rewrite, delete = pack_plan.of("rewrite"), pack_plan.of("delete") + pack_plan.of("orphan")
        if rewrite or delete:
            typer.echo(f"packs: would rewrite {len(rewrite)} (copying "
                       f"{human_size(pack_plan.moved)} of live chunks) and delete "
                       f"{len(delete)}, freeing {human_size(pack_plan.freed)}")
    elif done.rewritten or done.deleted:
        typer.echo(f"packs: rewrote {len(done.rewritten)} (copied {human_size(done.moved)} of "
                   f"live chunks) and deleted {len(done.deleted)}, freed {human_size(done.freed)}")
    young = pack_plan.of("young")
    if young:
        typer.echo(f"packs: {len(young)} with dead chunks kept, younger than the grace period")
    if done is not None and done.spared:
        typer.echo(f"packs: {len(done.spared)} kept, touched by an add while gc ran")


# -- repack -----------------------------------------------------------------------------------

@app.command()
def repack(
    dry_run: Annotated[bool, typer.Option("--dry-run", "-n",
                                          help="Show what would change; change nothing.")
                       ] = False,
    as_json: JsonOption = False,
) -> None:
    """Chunk big whole objects and merge small packs.

    A whole object is chunked when its size is at least [store] chunk-threshold.

    Each object is converted on its own (its recipe is verified by a rebuild before the whole
    object is deleted), so an interrupted repack leaves every version readable and a re-run
    finishes the job. The threshold is [store] chunk-threshold; with chunking off, only packs
    are merged.
    """
    from gitmodel.store import repack as repack_mod

    ws = api.open_workspace()
    threshold = ws.config.chunk_threshold
    bar = ProgressBar("repacking")
    try:
        result = repack_mod.repack(ws.store, threshold, dry_run=dry_run, progress=bar)
    finally:
        bar.close()
    plan = result.plan
    if as_json:
        dump_json({
            "dry_run": dry_run, "chunk_threshold": threshold,
            "convert": [{"oid": o, "size": s} for o, s in plan.convert],
            "converted": [{"oid": o, "size": s} for o, s in result.converted],
            "merge": [{"pack": p.name, "size": s} for p, s in plan.merge],
            "merged": [p.name for p in result.merged],
            "into": [f"pack-{n}.pack" for n in result.into],
            "bytes_before": result.bytes_before, "bytes_after": result.bytes_after,
            "failed": [{"what": w, "why": y} for w, y in result.failed],
            "problems": plan.problems,
        })
    else:
        if dry_run:
            typer.echo(f"would chunk {len(plan.convert)} whole object(s), "
                       f"{human_size(sum(s for _, s in plan.convert))}, and merge "
                       f"{len(plan.merge)} small pack(s)")
        else:
            typer.echo(f"chunked {len(result.converted)} whole object(s), "
                       f"{human_size(sum(s for _, s in result.converted))}; merged "
                       f"{len(result.merged)} small pack(s) into {len(result.into)}; the store "
                       f"went from {human_size(result.bytes_before)} to "
                       f"{human_size(result.bytes_after)}")
        if threshold is None:
            typer.echo("chunking is off ([store] chunk-threshold): no object was chunked")
        for problem in plan.problems:
            err(f"warning: {problem}")
        for what, why in result.failed:
            err(f"error: {what}: {why}")
    if result.failed:
        raise typer.Exit(1)


# -- du ---------------------------------------------------------------------------------------

@app.command()
def du(
    as_json: JsonOption = False,
    remote: Annotated[str | None, typer.Option(
        "--remote", "-r", help="Compare with this model remote (default: the default one).")
    ] = None,
) -> None:
    """Show the bytes in the cache per model and version.

    Also what is shared, only local, only on the remote, and what `git model gc` would free
    under the current rules (no rehashing).
    """
    from gitmodel import retention
    from gitmodel.store.gc import object_times

    ws = api.open_workspace()
    status = _Status()
    try:
        status("reading the cache and every model file")
        refs = retention.referenced(ws.root, progress=status)
        rules = _rules(ws, None, None, None)
        label, has = _remote_asker(ws, remote, required=False)
        answer: set[str] | None = None
        cached_now = object_times(ws.store)
        if has is not None:
            status(f"asking {label} which objects it has")
            answer = has(sorted(set(refs) | set(cached_now)))

        def known(oids: list[str]) -> set[str]:
            return set(oids) & (answer or set())
        plan = retention.plan_local(ws.root, rules, time.time(), ws.store,
                                    remote_has=known if has is not None else None,
                                    remote=label, progress=status)
        from gitmodel.store.usage import StoredBytes

        status("reading recipes and pack indexes")
        usage = StoredBytes(ws.store)
        # what gc would free on disk: whole objects, scratch, and the pack pass after the
        # released recipes went (a chunked object's logical size frees nothing by itself)
        from gitmodel.store import gc as store_gc

        packs = store_gc.preview_packs(ws.store, time.time(), [o for o, _ in plan.remove],
                                       grace=rules.grace,
                                       rewrite_dead=ws.config.gc.pack_rewrite_dead)
        would_free = (store_gc.stored_freed(ws.store, plan.remove)
                      + sum(s.size for s in plan.scratch) + packs.freed)
    finally:
        status.close()
    report = _du_report(refs, plan, answer, usage)
    report["totals"]["gc_would_free"] = would_free
    report["remote_gc"] = _remote_gc_preview(ws, remote, report) if remote is not None else None
    if as_json:
        dump_json(report)
        return
    _print_du(report)


def _remote_gc_preview(ws: Any, name: str, report: dict[str, Any]) -> dict[str, Any] | None:
    """What `gc --remote NAME` would free there under the configured [retention] rules (the
    plan only: objects, recipes and the pack pass), for ``du --remote NAME``."""
    from gitmodel.errors import GitmodelError
    from gitmodel.remote import choose_remote, open_named
    from gitmodel.remote.gc import plan_remote_gc

    try:
        rplan = plan_remote_gc(ws, open_named(ws, choose_remote(ws.config, name, root=ws.root)))
    except GitmodelError as exc:
        report["problems"].append(f"remote gc plan: {exc}")
        return None
    packs = rplan.packs
    return {"remote": rplan.remote, "would_free": rplan.remove_bytes,
            "objects": len(rplan.remove), "released_bytes": rplan.released_bytes,
            "chunked_objects": sum(1 for r in rplan.remove if r.chunked),
            "packs": {"delete": len(packs.of("delete", "orphan")),
                      "rewrite": len(packs.of("rewrite")), "would_free": packs.freed,
                      "would_move": packs.moved, "dead_kept_bytes": packs.dead_kept}}


def _ratio(logical: int, stored: int) -> float | None:
    return round(logical / stored, 3) if stored else None


def _du_report(refs: Any, plan: Any, on_remote: set[str] | None, usage: Any
               ) -> dict[str, Any]:
    cached = plan.cached
    models: dict[str, dict[str, Any]] = {}
    namers: dict[str, set[str]] = {}  # oid -> "model@version" or "model" that name it
    for oid, uses in refs.items():
        for use in uses:
            model = models.setdefault(use.model, {"objects": set(), "versions": {}})
            model["objects"].add((oid, use.size))
            if use.version:
                version = use.version.partition("@")[2]
                ver = model["versions"].setdefault(version, set())
                ver.add((oid, use.size))
                namers.setdefault(oid, set()).add(use.version)
            namers.setdefault(oid, set()).add(f"{use.model}@")  # the model itself
    # shared: named by two or more versions, or by two or more models
    shared = {o for o, names in namers.items()
              if len([n for n in names if not n.endswith("@")]) > 1
              or len([n for n in names if n.endswith("@")]) > 1}
    out_models = []
    for name in sorted(models):
        entry = models[name]
        objects = entry["objects"]
        versions = []
        for version in sorted(entry["versions"]):
            objs = entry["versions"][version]
            versions.append({
                "version": version,
                "bytes": sum(s for _, s in objs),
                "cached_bytes": sum(s for o, s in objs if o in cached),
                "stored_bytes": usage.of(o for o, _ in objs),
                "shared_bytes": sum(s for o, s in objs if o in shared),
            })
        # the model's versions together: logical bytes of what is cached, and what they take
        # with each chunk counted once (dedup ratio = logical / stored)
        version_oids = {o for objs in entry["versions"].values() for o, _ in objs}
        logical = sum(s for o, s in {(o, s) for objs in entry["versions"].values()
                                     for o, s in objs} if o in cached)
        stored = usage.of(version_oids)
        out_models.append({
            "model": name,
            "objects": len(objects),
            "bytes": sum(s for _, s in objects),
            "cached_bytes": sum(s for o, s in objects if o in cached),
            "stored_bytes": usage.of(o for o, _ in objects),
            "versions_logical_bytes": logical,
            "versions_stored_bytes": stored,
            "dedup_ratio": _ratio(logical, stored),
            "versions": versions,
        })
    cache_bytes = sum(size for size, _ in cached.values())
    unreferenced = [o for o in cached if o not in refs]
    totals: dict[str, Any] = {
        "cache_objects": len(cached),
        "cache_bytes": cache_bytes,
        "shared_bytes": sum(cached[o][0] for o in cached if o in shared),
        "unreferenced_objects": len(unreferenced),
        "unreferenced_bytes": sum(cached[o][0] for o in unreferenced),
        "only_local_bytes": None,
        "only_remote_bytes": None,
        "gc_would_free": plan.freed,
        "logical_bytes": cache_bytes,
        "stored_bytes": usage.on_disk,
        "dedup_ratio": _ratio(cache_bytes, usage.on_disk),
        "chunked_objects": sum(1 for o in cached if o in usage.recipes and o not in usage.whole),
    }
    if on_remote is not None:
        sizes = {o: u[0].size for o, u in refs.items() if u}
        totals["only_local_bytes"] = sum(cached[o][0] for o in cached if o not in on_remote)
        totals["only_remote_bytes"] = sum(sizes.get(o, 0) for o in on_remote if o not in cached)
    return {"remote": plan.remote, "rules": _rules_json(plan.rules), "totals": totals,
            "models": out_models,
            "gc_kept": {rule: {"objects": n, "bytes": b}
                        for rule, (n, b) in plan.kept_by_rule().items()},
            "problems": plan.problems + [p for p in refs.problems if p not in plan.problems]}


def _print_du(report: dict[str, Any]) -> None:
    totals = report["totals"]
    ratio = f", dedup {totals['dedup_ratio']:.2f}x" if totals["dedup_ratio"] else ""
    typer.echo(f"cache: {totals['cache_objects']} object(s), {human_size(totals['cache_bytes'])}"
               f" ({human_size(totals['shared_bytes'])} shared by several versions or models);"
               f" stored in {human_size(totals['stored_bytes'])}{ratio}")
    for model in report["models"]:
        name = model["model"] if model["model"] != "?" else "(invalid model files)"
        typer.echo(f"  {name}: {human_size(model['cached_bytes'])} cached of "
                   f"{human_size(model['bytes'])} named, stored in "
                   f"{human_size(model['stored_bytes'])}")
        if model["dedup_ratio"]:
            typer.echo(f"    versions: {human_size(model['versions_logical_bytes'])} in "
                       f"{human_size(model['versions_stored_bytes'])}, dedup ratio "
                       f"{model['dedup_ratio']:.2f}x")
        for ver in model["versions"]:
            shared = (f", {human_size(ver['shared_bytes'])} shared" if ver["shared_bytes"]
                      else "")
            typer.echo(f"    {ver['version']}: {human_size(ver['cached_bytes'])} cached of "
                       f"{human_size(ver['bytes'])}, stored in "
                       f"{human_size(ver['stored_bytes'])}{shared}")
    if totals["unreferenced_objects"]:
        typer.echo(f"  named by no model file: {totals['unreferenced_objects']} object(s), "
                   f"{human_size(totals['unreferenced_bytes'])}")
    if report["remote"] is not None:
        typer.echo(f"remote {report['remote']}: {human_size(totals['only_local_bytes'])} only "
                   f"in the cache, {human_size(totals['only_remote_bytes'])} only on the remote")
    else:
        typer.echo("no model remote: every cached byte is the only copy")
    typer.echo(f"`git model gc` would free {human_size(totals['gc_would_free'])}")
    remote_gc = report.get("remote_gc")
    if remote_gc is not None:
        packs = remote_gc["packs"]
        typer.echo(f"`git model gc --remote` would free {human_size(remote_gc['would_free'])} "
                   f"on {remote_gc['remote']}: {remote_gc['objects']} object(s) "
                   f"({remote_gc['chunked_objects']} chunked), {packs['delete']} pack(s) "
                   f"deleted, {packs['rewrite']} rewritten")
    for problem in report["problems"]:
        err(f"warning: {problem}")


# -- fsck ---------------------------------------------------------------------------------------

class _Phases:
    """One progress bar per phase of fsck (hashing the cache, downloading from the remote)."""

    def __init__(self) -> None:
        self.bar: ProgressBar | None = None

    def phase(self, what: str) -> None:
        self.close()
        self.bar = ProgressBar(what)

    def __call__(self, nbytes: int) -> None:
        if self.bar is not None:
            self.bar(nbytes)

    def plan(self, count: int, nbytes: int) -> None:
        if self.bar is not None:
            self.bar.plan(count, nbytes)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _fsck_json(report: Any) -> dict[str, Any]:
    from dataclasses import asdict

    data = asdict(report)
    data["ok"] = not report.failed
    return data


def _print_fsck(report: Any) -> None:
    from gitmodel.fsck import Finding

    rate = (f" at {report.cache_bytes / report.hash_seconds / (1 << 20):.0f} MiB/s"
            if report.hash_seconds > 0 and report.cache_bytes else "")
    typer.echo(f"hashed {report.cache_objects} cache object(s), {human_size(report.cache_bytes)} "
               f"in {report.hash_seconds:.1f} s{rate} ({report.jobs} thread(s)); model files "
               f"name {report.referenced} object(s)"
               + (f", {report.only_on_remote} of them only on {report.remote}"
                  if report.only_on_remote else ""))
    if report.remote_hashed:
        typer.echo(f"downloaded and hashed {report.remote_hashed} object(s) from {report.remote}")
    # by model, then the versions (and commits, worktrees) that name each object: what a user
    # asks is "which of my models and versions are hurt?"
    by_model: dict[str, list[Finding]] = {}
    for finding in report.findings:
        for model in dict.fromkeys(u.model for u in finding.uses) or ["(named by no model file)"]:
            by_model.setdefault(model, []).append(finding)
    for model in sorted(by_model):
        typer.echo(f"model {model}")
        for finding in by_model[model]:
            state = "repaired" if finding.repaired else finding.problem
            typer.echo(f"  {state:14} {finding.oid} ({human_size(finding.size)}): "
                       f"{finding.detail}")
            names = [f"{u.version} ({u.model_file})" for u in finding.uses if u.model == model]
            if names:
                more = f" and {finding.more_uses} more" if finding.more_uses else ""
                typer.echo(f"  {'':14} named by {', '.join(names)}{more}")
            if finding.quarantined_to:
                typer.echo(f"  {'':14} the corrupt bytes are in {finding.quarantined_to}")
    if report.packs_checked:
        typer.echo(f"checked {report.chunks_checked} chunk(s) in {report.packs_checked} "
                   "pack(s) against their BLAKE3 ids")
    for pack in report.packs:
        state = "repaired" if pack.repaired else pack.problem
        typer.echo(f"pack {pack.pack}: {state}: {pack.detail}")
    if report.orphans:
        total = sum(o.size for o in report.orphans)
        typer.echo(f"orphaned: {len(report.orphans)} object(s), {human_size(total)} named by no "
                   "model file in any worktree, stash, branch, tag or version "
                   "(`git model gc` frees them)")
        for orphan in report.orphans:
            why = f" (rescued from {orphan.rescued_from})" if orphan.rescued_from else ""
            typer.echo(f"  {orphan.oid} {human_size(orphan.size)}{why}")
    for stray in report.strays:
        err(f"warning: {stray} under the cache's objects/ is not an object; move it away")
    for problem in report.problems:
        err(f"warning: {problem}")
    for note in report.notes:
        err(f"note: {note}")
    counts = {p: len(report.of(p)) for p in
              ("corrupt", "unreadable", "missing", "not-on-remote", "remote-corrupt")}
    counts["bad pack"] = len(report.packs)
    repaired = sum(1 for f in report.findings if f.repaired) + sum(
        1 for p in report.packs if p.repaired)
    summary = ", ".join(f"{n} {p}" for p, n in counts.items() if n)
    if not summary:
        typer.echo("fsck: every object is where it should be, with the right bytes")
    else:
        typer.echo(f"fsck: {summary}" + (f" ({repaired} repaired)" if repaired else ""))


@app.command()
def fsck(
    remote: Annotated[str | None, typer.Option(
        "--remote", "-r", help="Also check that this remote (name or URL) has every object "
                               "a commit names.")] = None,
    repair: Annotated[bool, typer.Option(
        "--repair", help="Move corrupt objects to the cache's quarantine/ and download good "
                         "copies from the remote (verified).")] = False,
    deep: Annotated[bool, typer.Option(
        "--deep", help="With --remote: download and hash the remote's copies too.")] = False,
    jobs: Annotated[int | None, typer.Option(
        "--jobs", "-j", min=1, max=256, help="Hashing threads (default: one per core).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Rehash the cache; check that every model file's objects exist."""
    from gitmodel import fsck as fsck_mod
    from gitmodel.errors import GitmodelError

    if deep and remote is None:
        raise GitmodelError("--deep checks a remote's copies: name it with --remote NAME")
    ws = api.open_workspace()
    bars = _Phases()
    try:
        report = fsck_mod.fsck(ws, remote_name=remote, repair=repair, deep=deep, jobs=jobs,
                               progress=bars, plan=bars.plan, phase=bars.phase)
    finally:
        bars.close()
    if as_json:
        dump_json(_fsck_json(report))
    else:
        _print_fsck(report)
    if report.failed:
        raise typer.Exit(1)
