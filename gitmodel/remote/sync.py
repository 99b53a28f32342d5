"""A clone and its remote: push, fetch, pull, what is unpushed, and the hooks' side (the
pre-push upload and fetch-on-checkout)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from gitmodel.errors import GitmodelError, ObjectMissingError, RemoteError
from gitmodel.hashing import Progress
from gitmodel.remote.backends import ObjectRemote, directory_of, explain
from gitmodel.remote.needs import Need, _unique, needs_of_specs, needs_of_versions, needs_of_worktree
from gitmodel.remote.parallel import DEFAULT_JOBS
from gitmodel.remote.records import NamedRemote, RemoteRecord, choose_remote, open_named, record_for
from gitmodel.remote.transfer import Plan, TransferReport, fetch_objects, push_objects
from gitmodel.workspace import Model, Workspace, load_models

# -- the hooks' side --------------------------------------------------------------------------

@dataclass
class PrePushResult:
    remote: str | None = None
    report: TransferReport | None = None
    warning: str | None = None


def pre_push_upload(ws: Workspace, git_remote: str, needs: Sequence[Need],
                    *, progress: Progress | None = None, plan: Plan | None = None,
                    updates: Sequence[tuple[str, str, str, str]] = ()) -> PrePushResult:
    """Upload ``needs`` (:func:`needs_of_push`) to the model remote named like the git remote,
    else the default one. Objects the local record lists cost no existence check, once one
    listing of the remote's gc records shows no gc ran since the record was last checked.
    ``updates`` (the hook's stdin lines) go into this clone's repository record on the remote."""
    if not needs:
        return PrePushResult()
    config = ws.config
    name = git_remote if git_remote in config.remotes else None
    try:
        target = choose_remote(config, name, root=ws.root)
    except RemoteError:
        if config.remotes:
            raise
        return PrePushResult(warning=(
            "these commits name model objects but no model remote is configured, so others "
            "cannot get the bytes; add one with `git model remote add origin URL --default` "
            "and commit .gitmodel.toml"))
    record = RemoteRecord(ws.repo.model_dir, target.url)
    remote = open_named(ws, target, quick=False)
    # A remote gc anywhere may have removed what the record lists: one listing of the gc
    # records tells (docs/remotes.md, "The pre-push hook"); a changed list drops the record.
    from gitmodel.remote import ledger

    try:
        gc_keys = remote.list_records(ledger.GC)
    except GitmodelError:
        raise
    except Exception as exc:
        raise explain(exc, remote, "listing the gc records of") from None
    known = record.known() if record.revalidate(gc_keys) else set()
    if all(n.oid in known for n in needs):
        report = TransferReport(remote.url, skipped=len(_unique(needs)))
    else:
        report = push_objects(ws.store, remote, needs, record=record_for(ws, remote.url),
                              progress=progress, plan=plan, skip_known=True)
    settle(ws, remote, needs, report, git_remote=git_remote, updates=updates)
    return PrePushResult(target.url, report)


def settle(ws: Workspace, remote: ObjectRemote, needs: Sequence[Need], report: TransferReport,
           *, git_remote: str | None = None,
           updates: Sequence[tuple[str, str, str, str]] = ()) -> None:
    """A push's side of the remote gc protocol (:func:`gitmodel.remote.ledger.settle_push`):
    record the push and this clone's pushed refs, then put back what a concurrent gc removed."""
    import time

    from gitmodel.remote import ledger

    url, tips = ledger.git_remote_tips(ws.root, git_remote)
    again = ledger.settle_push(ws.store, remote, [n.oid for n in needs], ws.repo.model_dir,
                               git_url=url, tips=tips, updates=updates,
                               started=time.time() - report.seconds)
    if again:
        report.transferred += again
        report.bytes += sum(ws.store.size(oid) for oid in again)
        report.reuploaded = again


class CheckoutFetcher:
    """The ``fetch`` callback of a hook's restore: fetches missing objects from the default
    remote with short timeouts, and after one failure stops trying for the rest of the hook, so
    a checkout with no network still finishes within seconds (the artifact is reported missing).

    With no ``target``, the remote is looked for only when an object is missing (in the clone's
    newer commits: :func:`choose_remote`), so a checkout that needs nothing asks git nothing more.
    """

    def __init__(self, ws: Workspace, target: NamedRemote | None = None) -> None:
        self.ws = ws
        self.target = target
        self.remote: ObjectRemote | None = None
        self.problems: list[str] = []
        self.fetched = 0
        self.failed = False
        self.no_remote = False  # no model remote anywhere: nothing to fetch from

    @property
    def remote_name(self) -> str:
        return self.target.name if self.target is not None else "?"

    def __call__(self, oids: list[str]) -> None:
        if self.failed:
            return
        if self.target is None:
            try:
                self.target = choose_remote(self.ws.config, root=self.ws.root)
            except GitmodelError as exc:
                self.failed = self.no_remote = True
                self.problems.append(str(exc))
                return
        try:
            if self.remote is None:
                self.remote = open_named(self.ws, self.target, quick=True)
            report = fetch_objects(self.ws.store, self.remote,
                                   [Need(o, 0, "?", "?") for o in oids],
                                   record=record_for(self.ws, self.remote.url))
            from_archives(self.ws, report, quick=True)
            self.fetched += len(report.transferred)
            unexplained = [n.oid for n in report.absent if n.oid not in report.released]
            for oid, note in report.released.items():
                if oid in {n.oid for n in report.absent}:
                    self.problems.append(note + _archive_advice(report, oid))
            if unexplained:
                self.problems.append(f"remote {self.target.label} does not have "
                                     f"{', '.join(unexplained)}; whoever "
                                     "committed them should run `git model push`")
        except Exception as exc:  # a checkout must never fail because a remote did
            self.failed = True
            self.problems.append(f"could not fetch missing objects from {self.target.label}: "
                                 f"{exc}; `git model pull` finishes the job later")


def checkout_fetcher(ws: Workspace) -> CheckoutFetcher | None:
    """The callback for fetch-on-checkout, or None when auto-fetch is off."""
    if not ws.config.auto_fetch:
        return None
    if ws.config.default_remote is None and ws.config.remotes:
        return None  # several remotes, none the default: a command names one with --remote
    if ws.config.default_remote is None:
        return CheckoutFetcher(ws)
    return CheckoutFetcher(ws, choose_remote(ws.config))


def missing_objects_error(missing: Sequence[tuple[Model, ObjectMissingError]],
                          fetcher: CheckoutFetcher | None) -> ObjectMissingError:
    """One error for every model a checkout left alone because its objects are not in the
    cache, with the next step that fits: pull, add a remote, or push from where the bytes are."""
    if fetcher is None:
        advice = "run `git model pull` to fetch {it}"
    elif fetcher.no_remote:
        advice = ("no model remote is configured to fetch {it} from: add one with `git model "
                  "remote add origin URL --default`, commit .gitmodel.toml, and run `git model "
                  "push` where the bytes are")
    elif fetcher.failed:
        advice = fetcher.problems[-1] if fetcher.problems else "run `git model pull` later"
    elif any("retention rule" in p or "remote gc" in p for p in fetcher.problems):
        # the remote's gc records say why: a rule released the version (maybe to an archive)
        advice = "; ".join(p.replace("{", "{{").replace("}", "}}") for p in fetcher.problems)
    else:
        label = fetcher.target.label if fetcher.target is not None else "the default remote"
        advice = (f"remote {label} does not have {{it}}: whoever committed {{it}} should run "
                  "`git model push`")
    model, first = missing[0]
    if len(missing) == 1:
        return ObjectMissingError(first.oid, f" (model {model.spec.name}, {model.model_file}); "
                                  "the artifact was left as it is: "
                                  + advice.format(it="it"))
    error = ObjectMissingError(first.oid)
    listed = ", ".join(f"{m.spec.name} ({e.oid})" for m, e in missing)
    error.args = (f"{len(missing)} models were left as they are, their objects are not in the "
                  f"cache: {listed}; " + advice.format(it="them"),)
    return error


# -- the commands' side: push, fetch, pull ------------------------------------------------------

def push(ws: Workspace, names: Sequence[str] = (), *, all_versions: bool = False,
         remote_name: str | None = None, jobs: int = DEFAULT_JOBS,
         progress: Progress | None = None, plan: Plan | None = None) -> TransferReport:
    """Upload the work tree's models (or ``names``), and with ``all_versions`` every registered
    version's objects; the remote is asked once which it already has."""
    needs = needs_of_worktree(ws, names)
    if all_versions and names:
        for name in names:
            needs += needs_of_versions(ws, name)
    elif all_versions:
        needs += needs_of_versions(ws)
    target = choose_remote(ws.config, remote_name, root=ws.root)
    remote = open_named(ws, target, jobs=jobs)
    report = push_objects(ws.store, remote, needs, record=record_for(ws, remote.url), jobs=jobs,
                          progress=progress, plan=plan)
    settle(ws, remote, needs, report)
    return report


def fetch(ws: Workspace, specs: Sequence[str] = (), *, all_versions: bool = False,
          remote_name: str | None = None, jobs: int = DEFAULT_JOBS,
          progress: Progress | None = None, plan: Plan | None = None) -> TransferReport:
    """Download what ``specs`` need into the cache (nothing in the work tree changes)."""
    needs = needs_of_specs(ws, specs, all_versions)
    target = choose_remote(ws.config, remote_name, root=ws.root)
    remote = open_named(ws, target, jobs=jobs)
    report = fetch_objects(ws.store, remote, needs, record=record_for(ws, remote.url), jobs=jobs,
                           progress=progress, plan=plan)
    from_archives(ws, report, jobs=jobs, progress=progress)
    return report


def _archive_advice(report: TransferReport, oid: str) -> str:
    archive = report.archives.get(oid)
    if not archive:
        return ""
    return (f"; add the archive as a remote (`git model remote add archive {archive}`) to "
            "fetch it from there")


def configured_remote_at(ws: Workspace, url: str) -> NamedRemote | None:
    """The configured remote whose URL is ``url`` (a directory compared by its resolved path):
    in the checked-out ``.gitmodel.toml``, else in the one at a branch tip (an archive is
    usually added long after the versions it ends up holding, so an old commit's file does not
    name it). Asked only when an object is missing, so the extra reads cost a checkout nothing."""
    wanted = directory_of(url, ws.root)

    def matches(candidate: str) -> bool:
        here = directory_of(candidate, ws.root)
        return candidate.rstrip("/") == url.rstrip("/") or (wanted is not None and
                                                            here == wanted)

    for name, candidate in ws.config.remotes.items():
        if matches(candidate):
            return NamedRemote(name, candidate, ws.config.remote_options.get(name, {}))
    from gitmodel import git
    from gitmodel.config import CONFIG_FILE, ConfigError, parse_remotes

    refs = git.for_each_ref(ws.root, "%(refname)", ["refs/heads/", "refs/remotes/"]).split()
    blobs = git.read_blobs(ws.root, [f"{ref}:{CONFIG_FILE}" for ref in refs])
    for ref in refs:
        data = blobs.get(f"{ref}:{CONFIG_FILE}")
        if data is None:
            continue
        try:
            import tomllib

            remotes, _, options = parse_remotes(tomllib.loads(data.decode()).get("remote", {}))
        except (ConfigError, ValueError, UnicodeDecodeError, RecursionError):
            continue
        for name, candidate in remotes.items():
            if matches(candidate):
                return NamedRemote(name, candidate, options.get(name, {}),
                                   found_at=ref)
    return None


def from_archives(ws: Workspace, report: TransferReport, *, jobs: int = DEFAULT_JOBS,
                  progress: Progress | None = None, quick: bool = False) -> None:
    """Fetch what a remote gc archived before removing it, from each archive that is a
    configured remote; what comes from there leaves ``report.absent``."""
    by_archive: dict[str, list[Need]] = {}
    for need in report.absent:
        archive = report.archives.get(need.oid)
        if archive:
            by_archive.setdefault(archive, []).append(need)
    for url, needs in by_archive.items():
        target = configured_remote_at(ws, url)
        if target is None:
            continue  # the message names the archive and how to add it
        source = open_named(ws, target, quick=quick, jobs=jobs)
        got = fetch_objects(ws.store, source, needs, record=record_for(ws, source.url),
                            jobs=jobs, progress=progress)
        fetched = set(got.transferred) | {n.oid for n in needs if ws.store.has(n.oid)}
        report.transferred += got.transferred
        report.bytes += got.bytes
        report.absent = [n for n in report.absent if n.oid not in fetched]
        for oid in fetched:
            report.released.pop(oid, None)
            report.archives.pop(oid, None)


@dataclass
class PullResult:
    report: TransferReport
    restored: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def pull(ws: Workspace, specs: Sequence[str] = (), *, remote_name: str | None = None,
         jobs: int = DEFAULT_JOBS, progress: Progress | None = None,
         plan: Plan | None = None) -> PullResult:
    """Fetch, then restore every artifact of the work tree whose bytes are now all cached and
    that is missing or stale (an artifact with unadded changes is left alone)."""
    from gitmodel.workspace import State, mark_synced, model_status, restore

    result = PullResult(fetch(ws, specs, remote_name=remote_name, jobs=jobs, progress=progress,
                              plan=plan))
    loaded = load_models(ws.root, strict=False)
    for model in loaded.models:
        if model.model_file in loaded.conflicted:
            continue
        if not all(ws.store.has(e.oid) for _, e in model.file_targets()):
            continue
        state = model_status(ws, model).state
        if state not in (State.MISSING, State.STALE, State.BROKEN):
            continue
        try:
            written = restore(ws, model)
        except GitmodelError as exc:
            result.errors.append(str(exc))
            continue
        mark_synced(ws, [model])
        if written.written:
            result.restored.append(model.spec.name)
    return result


def unpushed(ws: Workspace, names: Sequence[str] = (), remote_name: str | None = None
             ) -> tuple[str, dict[str, list[str]]]:
    """(remote url, model name -> oids the remote lacks) for the work tree's models; asks the
    remote once, and trusts nothing from the local record."""
    target = choose_remote(ws.config, remote_name, root=ws.root)
    remote = open_named(ws, target)
    needs = needs_of_worktree(ws, names)
    try:
        present = remote.has(sorted({n.oid for n in needs}))
    except Exception as exc:
        raise explain(exc, remote, "asking what is on") from None
    record_for(ws, remote.url).add(sorted(present))
    missing: dict[str, list[str]] = {}
    for need in needs:
        missing.setdefault(need.model, [])
        if need.oid not in present and need.oid not in missing[need.model]:
            missing[need.model].append(need.oid)
    return remote.url, missing
