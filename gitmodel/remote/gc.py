"""Remote gc: what a remote may remove under the retention rules, and removing it safely.

The plan (:func:`plan_remote_gc`) keeps every object a model file names in any commit reachable
from any ref (:func:`gitmodel.retention.referenced`), unless a ``[retention]`` rule releases
every use of it; a version in a stage, a worktree's or stash's model and a branch tip's model
are never released. Objects nothing names are removed once older than the grace period, from
the remote's own upload time. Objects other repositories pushed here are kept unless every
recorded repository's pushed refs are reachable here (or the user forgets one explicitly).

Running it (:func:`run_plan`) follows the protocol in docs/remotes.md ("Remote gc"): archive
and verify first, write the plan as a pending gc record, re-read the push ledger and drop what
a concurrent push relied on, delete, then mark the record done (it stays, as the release log
checkouts consult). A killed gc leaves only a pending record naming objects that are either
gone or still there; the next gc finishes the record from what the remote holds.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gitmodel import git, modelfile, registry, retention
from gitmodel.config import Retention
from gitmodel.errors import CorruptObjectError, GitmodelError, RemoteError
from gitmodel.hashing import hash_file
from gitmodel.remote import ledger
from gitmodel.remote import packgc as rpackgc
from gitmodel.remote.backends import DirectoryRemote, ObjectRemote, RemoteObject, explain
from gitmodel.remote.ledger import Removal
from gitmodel.remote.packgc import RemotePackPlan, RemotePackSweep
from gitmodel.remote.records import NamedRemote, choose_remote, open_named, record_for
from gitmodel.store.packgc import DEFAULT_REWRITE_DEAD
from gitmodel.workspace import Workspace

DAY = 86400
BATCH = 1000  # deletes per request (S3's DeleteObjects limit)
# a gc rewriting packs refreshes its pending record this often (pushes wait while it is fresh)
ALIVE_SECONDS = 60.0

Progress = Callable[[str, int, int], None]
"""Called as (phase, done, total): "archiving", "deleting"."""


@dataclass(frozen=True)
class Kept:
    """Why a remote object stays: the first reason found, for `--json` and the summary."""

    oid: str
    size: int
    reason: str  # "stage", "worktree", "tip", "version", "commit", "young", "pushed",
    # "other repository", "unknown time"
    detail: str


@dataclass
class RemoteGcPlan:
    remote: str
    remove: list[Removal] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)
    archive_to: str = ""
    forgotten: list[str] = field(default_factory=list)  # repository records to forget
    # (id, last push) of the records among them that forget-repos-after expired
    expired: list[tuple[str, str]] = field(default_factory=list)
    finished_records: list[str] = field(default_factory=list)  # killed gcs' records finished
    problems: list[str] = field(default_factory=list)  # model files that did not parse, etc.
    listed: int = 0  # objects the inventory found
    grace: float = 14 * DAY  # seconds: the grace period the plan was made with
    # the push ledger's entries when the plan was made: a later one relied on what it names
    pushes_seen: list[str] = field(default_factory=list, repr=False)
    # chunked objects: what the pack pass does once the released recipes are gone
    packs: RemotePackPlan = field(default_factory=RemotePackPlan)
    recipes_listed: int = 0
    # what the pack verdicts were made from, to judge again when a push spares a recipe
    indexed: list[rpackgc.IndexedPack] = field(default_factory=list, repr=False)
    live: set[bytes] = field(default_factory=set, repr=False)
    relied_packs: set[str] = field(default_factory=set, repr=False)
    unsure: bool = False
    rewrite_dead: float = DEFAULT_REWRITE_DEAD
    now: float = 0.0

    @property
    def remove_bytes(self) -> int:
        """The bytes the gc frees: objects, recipes, and the pack pass."""
        return sum(r.stored for r in self.remove) + self.packs.freed

    @property
    def released_bytes(self) -> int:
        """The bytes of the objects it removes, counted whole (a chunked one as its size)."""
        return sum(r.size for r in self.remove)

    @property
    def kept_bytes(self) -> int:
        return sum(k.size for k in self.kept)

    def kept_by_reason(self) -> dict[str, tuple[int, int]]:
        """reason -> (objects, bytes)."""
        out: dict[str, tuple[int, int]] = {}
        for k in self.kept:
            count, size = out.get(k.reason, (0, 0))
            out[k.reason] = (count + 1, size + k.size)
        return out


@dataclass
class RemoteGcResult:
    plan: RemoteGcPlan
    removed: list[str] = field(default_factory=list)
    freed: int = 0
    archived: list[str] = field(default_factory=list)
    spared: list[str] = field(default_factory=list)  # planned, then relied on by a push
    record: str = ""  # the gc record's key under gitmodel/
    seconds: float = 0.0
    packs: RemotePackSweep = field(default_factory=RemotePackSweep)
    spared_packs: list[str] = field(default_factory=list)  # a push relied on them meanwhile


# -- the rules ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Verdict:
    keep: bool
    reason: str  # Kept.reason when kept; the rule's text when released
    detail: str
    model: str = ""
    version: str = ""


def _rule_text(key: str, value: float) -> str:
    """The rule as written in [retention]: ``keep-versions = 2``, ``release-untagged-after =
    30d`` (whole days, or the seconds when not a whole number of days)."""
    if key == "keep-versions":
        return f"{key} = {int(value)}"
    days = value / DAY
    return f"{key} = {int(days)}d" if days == int(days) else f"{key} = {int(value)}s"


class _Rules:
    """The [retention] rules applied to one use of an object."""

    def __init__(self, rules: Retention, reg: registry.Registry, tagged: set[str],
                 tips: dict[str, str], now: float) -> None:
        self.rules = rules
        self.reg = reg
        self.tagged = tagged  # commits some tag points at
        self.tips = tips  # oid -> the ref whose tip names it
        self.now = now
        self.version_commits: dict[tuple[str, str], list[registry.VersionInfo]] = {}
        for state in reg.models.values():
            for ver in state.versions:
                self.version_commits.setdefault((state.name, ver.commit), []).append(ver)

    def version(self, state: registry.ModelState, ver: registry.VersionInfo) -> _Verdict:
        name = f"{ver.model}@{ver.version}"
        if ver.stages:
            return _Verdict(True, "stage", f"{name} is in stage {', '.join(ver.stages)}")
        rules = self.rules
        after = rules.release_deregistered_after
        if (not ver.active or state.deprecated) and after is not None:
            since = self._inactive_since(state, ver)
            if since is not None and self.now - since >= after:
                return _Verdict(False, _rule_text("release-deregistered-after", after),
                                name, ver.model, ver.version)
        if rules.keep_versions is not None:
            newest = [v.version for v in state.active_versions[:rules.keep_versions]]
            if ver.version not in newest:
                return _Verdict(False, _rule_text("keep-versions", rules.keep_versions),
                                name, ver.model, ver.version)
        return _Verdict(True, "version", f"{name} is registered")

    def _inactive_since(self, state: registry.ModelState, ver: registry.VersionInfo
                        ) -> int | None:
        times = [e.timestamp for e in state.events
                 if (e.kind == registry.DEREGISTRATION and e.version == ver.version)
                 or e.kind == registry.DEPRECATION]
        return max(times) if times else None

    def use(self, use: retention.Use) -> _Verdict:
        if use.rule != retention.REACHABLE:
            return _Verdict(True, "stage" if use.stage else "worktree", use.where)
        if use.version is not None:
            name, _, version = use.version.rpartition("@")
            state = self.reg.models.get(name)
            ver = state.find(version) if state is not None else None
            if state is None or ver is None:
                return _Verdict(True, "version", use.where)
            return self.version(state, ver)
        commit = use.commit or ""
        versions = self.version_commits.get((use.model, commit))
        if versions:
            # the version uses of this commit decide: the commit is kept through them
            verdicts = [self.version(self.reg.models[use.model], v) for v in versions]
            kept = [v for v in verdicts if v.keep]
            return kept[0] if kept else verdicts[0]
        if commit in self.tagged:
            return _Verdict(True, "commit", f"{use.where} (tagged)")
        after = self.rules.release_untagged_after
        if after is not None and use.time is not None and self.now - use.time >= after:
            return _Verdict(False, _rule_text("release-untagged-after", after), use.where,
                            use.model, f"commit {commit[:12]}")
        return _Verdict(True, "commit", use.where)


def _tagged_and_tips(root: Path) -> tuple[set[str], dict[str, str]]:
    """Commits some tag points at, and oid -> ref of every model file at a branch tip (local
    and remote-tracking): a tip's model is the one a user checks out, never released."""
    out = git.for_each_ref(root, "%(refname) %(objectname) %(*objectname)",
                           ["refs/tags/", "refs/heads/", "refs/remotes/"])
    tagged: set[str] = set()
    tip_refs: dict[str, str] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        ref, target = parts[0], parts[-1]
        if ref.startswith("refs/tags/"):
            tagged.add(target)
        elif not ref.endswith("/HEAD"):
            tip_refs.setdefault(target, ref)
    trees = git.tree_ids(root, sorted(tip_refs))
    files = git.tree_files(root, sorted(set(trees.values())), modelfile.PATHSPEC)
    blobs: dict[str, str] = {}
    for commit, tree in trees.items():
        for path, blob in files.get(tree, {}).items():
            blobs.setdefault(blob, f"{tip_refs[commit]} {path}")
    tips: dict[str, str] = {}
    contents = git.read_blobs(root, sorted(blobs))
    for blob, where in blobs.items():
        data = contents.get(blob)
        if data is None:
            continue
        try:
            spec = modelfile.loads(data, where)
        except GitmodelError:
            continue  # retention keeps every oid a broken file mentions
        for entry in spec.files:
            tips.setdefault(entry.oid, where)
    return tagged, tips


# -- other repositories ---------------------------------------------------------------------

def _unread_repositories(root: Path, records: Sequence[ledger.RepositoryRecord],
                         own: str) -> list[tuple[ledger.RepositoryRecord, list[str]]]:
    """The repository records whose pushed tips are not all reachable from this clone's refs,
    with the refs that are not."""
    tips = sorted({sha for r in records if r.id != own for sha in r.tips.values()})
    if not tips:
        return []
    # a pushed tag's tip is its tag object: peeled to the commit it names (one call, answers in
    # input order)
    check = git.run(["cat-file", "--batch-check=%(objectname) %(objecttype)"], root,
                    input="".join(f"{t}^{{commit}}\n" for t in tips).encode())
    peeled: dict[str, str] = {}
    for tip, line in zip(tips, check.splitlines(), strict=False):
        if line.endswith(" commit"):
            peeled[tip] = line.split()[0]
    present = set(peeled)
    unreachable: set[str] = set()
    if present:
        # a tip is reachable from a ref exactly when rev-list does not list it
        commits = sorted(set(peeled.values()))
        out = git.run(["rev-list", "--stdin", "--not", "--branches", "--tags", "--remotes"],
                      root, input="".join(f"{c}\n" for c in commits).encode())
        listed = set(out.split())
        unreachable = {tip for tip, commit in peeled.items() if commit in listed}
    bad = []
    for record in records:
        if record.id == own:
            continue
        missing = [ref for ref, sha in sorted(record.tips.items())
                   if sha not in present or sha in unreachable]
        if missing:
            bad.append((record, missing))
    return bad


def expired_repositories(records: Sequence[ledger.RepositoryRecord], own: str,
                         after: float | None, now: float) -> list[tuple[str, str]]:
    """(id, last push) of every other clone's record no push refreshed for ``after`` seconds
    (``[retention] forget-repos-after``; None: none ever expires). A record whose time does not
    parse never expires: forgetting is the step that lets its objects go."""
    if after is None:
        return []
    found = []
    for record in records:
        written = ledger.parse_iso(record.written)
        if record.id != own and written is not None and now - written >= after:
            found.append((record.id, record.written))
    return sorted(found)


def refusal(remote_url: str, bad: Sequence[tuple[ledger.RepositoryRecord, list[str]]]) -> str:
    first, refs = bad[0]
    more = f" (and {len(bad) - 1} more repositories)" if len(bad) > 1 else ""
    where = f" pushed to {first.url}" if first.url else ""
    shown = ", ".join(refs[:3]) + (f" and {len(refs) - 3} more" if len(refs) > 3 else "")
    return (f"remote gc of {remote_url} refused: another repository (id {first.id}{where}, "
            f"last push {first.written}) needs objects there, and this clone cannot read its "
            f"refs {shown}{more}; `git fetch` that repository's refs into this one (its "
            "branches or tags), or, if it no longer matters, name it with `--forget-repo "
            f"{first.id}`")


# -- the plan -------------------------------------------------------------------------------

def plan_remote_gc(ws: Workspace, remote: ObjectRemote, *, rules: Retention | None = None,
                   forget_repos: Sequence[str] = (), now: float | None = None,
                   grace: float | None = None, archive_to: str = "",
                   rewrite_dead: float | None = None) -> RemoteGcPlan:
    """What a gc of ``remote`` would remove now, and why it keeps the rest (no writes, but
    the remote's recipes and pack indexes are cached in this clone as they are read)."""
    now = time.time() if now is None else now
    rules = rules or ws.config.retention
    grace_seconds = rules.grace if grace is None else grace
    plan = RemoteGcPlan(remote.url, archive_to=archive_to, now=now,
                        rewrite_dead=(ws.config.gc.pack_rewrite_dead if rewrite_dead is None
                                      else rewrite_dead))
    try:
        repositories = ledger.read_repositories(remote)
        gc_records = ledger.read_gc_records(remote)
        pushes = remote.list_records(ledger.PUSHES)
        # packs chunked pushes rely on whose recipes may not be up yet: read before the
        # recipes are listed, so an entry marked complete here means its recipes are listed
        window = max(grace_seconds, 2 * ledger.PLAN_STALE_SECONDS)
        cut = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now - window))
        plan.relied_packs = ledger.relied_packs(
            remote, [k for k in pushes if k.removeprefix(f"{ledger.PUSHES}/") >= cut])
        whole = remote.inventory()
        recipes = rpackgc.list_recipes(remote)
    except GitmodelError:
        raise
    except Exception as exc:
        raise explain(exc, remote, "listing") from None
    plan.recipes_listed = len(recipes)
    try:
        read, damaged = rpackgc.read_recipes(remote, recipes,
                                             rpackgc.recipe_cache_dir(ws.store, remote))
    except GitmodelError:
        raise
    except Exception as exc:
        raise explain(exc, remote, "reading the recipes of") from None
    plan.packs.recipes = read
    inventory = _merge(whole, recipes, read)
    plan.listed = len(inventory)
    plan.grace = grace_seconds
    plan.pushes_seen = sorted(pushes)
    own = ledger.clone_id(ws.repo.model_dir)
    known = {r.id for r in repositories}
    for ident in forget_repos:
        if ident not in known:
            raise RemoteError(f"--forget-repo {ident}: {remote.url} has no record of a "
                              f"repository with that id (recorded: {', '.join(sorted(known)) or 'none'})")
    plan.expired = expired_repositories(repositories, own, rules.forget_repos_after, now)
    plan.forgotten = list(dict.fromkeys([*forget_repos, *(i for i, _ in plan.expired)]))
    bad = _unread_repositories(ws.root, [r for r in repositories if r.id not in plan.forgotten],
                               own)
    if bad:
        raise RemoteError(refusal(remote.url, bad))
    # a killed gc from this clone, or one pending far too long: finish its record first
    plan.finished_records = [r.key for r in gc_records if r.state == "pending" and (
        ledger.is_stale(r, ledger.PLAN_STALE_SECONDS) or own in r.key or r.started == "")]

    refs = retention.referenced(ws.root)
    plan.problems = list(refs.problems)
    reg = registry.read(ws.root)
    tagged, tips = _tagged_and_tips(ws.root)
    judge = _Rules(rules, reg, tagged, tips, now)
    relied_on: set[str] | None = None  # read only when an unreachable object is old enough
    for oid, obj in sorted(inventory.items()):
        size = obj.size
        held = _Held(oid in whole, oid in recipes, recipes[oid].size if oid in recipes else 0)
        uses = refs.get(oid)
        if uses:
            verdict = _judge(judge, uses, tips.get(oid))
            # (a recent push does not protect a released object: `push --all-versions` relies
            # on every version, and would keep a rule from ever taking effect; the clones that
            # push here must have their pushed refs readable here instead)
            if verdict.keep:
                plan.kept.append(Kept(oid, size, verdict.reason, verdict.detail))
            else:
                plan.remove.append(Removal(oid, size, "released", verdict.reason,
                                           verdict.model, verdict.version, held.whole,
                                           held.chunked, held.recipe_bytes))
            continue
        young = _young(obj, now, grace_seconds)
        if young is None and relied_on is None:
            relied_on = _recent_push_oids(remote, pushes, now - grace_seconds)
        if young is not None:
            plan.kept.append(Kept(oid, size, young[0], young[1]))
        elif relied_on is not None and oid in relied_on:
            plan.kept.append(Kept(oid, size, "pushed",
                                  "a push relied on it within the grace period"))
        else:
            plan.remove.append(Removal(oid, size, "unreachable", whole=held.whole,
                                       chunked=held.chunked, recipe_bytes=held.recipe_bytes))
    _plan_packs(ws, remote, plan, read, damaged, grace_seconds)
    return plan


@dataclass(frozen=True)
class _Held:
    whole: bool
    chunked: bool
    recipe_bytes: int


def _merge(whole: dict[str, RemoteObject], recipes: dict[str, RemoteObject],
           read: dict[str, rpackgc.Recipe]) -> dict[str, RemoteObject]:
    """One entry per oid held whole, as a recipe, or both: its size (a chunked object's from
    its recipe) and its latest upload time (None when either is unknown)."""
    out = dict(whole)
    for oid, obj in recipes.items():
        size = read[oid].size if oid in read else obj.size
        other = whole.get(oid)
        if other is None:
            out[oid] = RemoteObject(oid, size, obj.uploaded)
            continue
        times = [obj.uploaded, other.uploaded]
        out[oid] = RemoteObject(oid, other.size, None if None in times
                                else max(t for t in times if t is not None))
    return out


def _plan_packs(ws: Workspace, remote: ObjectRemote, plan: RemoteGcPlan,
                read: dict[str, rpackgc.Recipe], damaged: dict[str, str], grace: float) -> None:
    """The pack pass: live chunks from the recipes gc keeps, each pack judged."""
    going = {r.oid for r in plan.remove if r.chunked}
    kept_damaged = {oid: why for oid, why in damaged.items() if oid not in going}
    for why in kept_damaged.values():
        plan.packs.problems.append(why)
    plan.unsure = bool(kept_damaged)
    if plan.unsure:
        plan.packs.problems.append("no remote pack was rewritten or deleted: a damaged recipe "
                                   "hides which chunks are needed (its clone should push it "
                                   "again)")
    plan.live = {c for oid, recipe in read.items() if oid not in going
                 for c, _ in recipe.chunks}
    try:
        listing = rpackgc.list_packs(remote)
        plan.indexed = rpackgc.read_indexes(ws.store, remote, listing)
    except GitmodelError:
        raise
    except Exception as exc:
        raise explain(exc, remote, "reading the pack indexes of") from None
    for item in plan.indexed:
        if item.index is None and item.idx is not None:
            plan.packs.problems.append(f"remote pack index pack-{item.name}.idx was refused "
                                       f"({item.why}); gc leaves that pack as it is")
    _judge_packs(plan, grace)


def _judge_packs(plan: RemoteGcPlan, grace: float) -> None:
    plan.packs.packs = rpackgc.judge_packs(plan.indexed, plan.live, plan.now, grace=grace,
                                           rewrite_dead=plan.rewrite_dead,
                                           relied=plan.relied_packs, unsure=plan.unsure)


def _judge(judge: _Rules, uses: list[retention.Use], tip: str | None) -> _Verdict:
    if tip is not None:
        return _Verdict(True, "tip", f"the model at {tip}")
    released = None
    for use in uses:
        verdict = judge.use(use)
        if verdict.keep:
            return verdict
        released = released or verdict
    assert released is not None
    return released


def _young(obj: RemoteObject, now: float, grace: float) -> tuple[str, str] | None:
    if obj.uploaded is None:
        return ("unknown time", "the remote does not say when it was uploaded")
    age = now - obj.uploaded
    if age < grace:
        return ("young", f"uploaded {age / DAY:.1f} days ago (grace {grace / DAY:g} days)")
    return None


def _recent_push_oids(remote: ObjectRemote, keys: Sequence[str], since: float) -> set[str]:
    """Oids named by the ledger entries of pushes made after ``since`` (their names sort by
    time): an old object a recent push found present and did not upload is kept like a fresh
    upload."""
    cut = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(since))
    recent = [k for k in keys if k.removeprefix(f"{ledger.PUSHES}/") >= cut]
    return ledger.push_oids(remote, recent)


# -- running it -----------------------------------------------------------------------------

def run_plan(ws: Workspace, remote: ObjectRemote, plan: RemoteGcPlan, *,
             archive: ObjectRemote | None = None, progress: Progress | None = None,
             before_delete: Callable[[], None] | None = None) -> RemoteGcResult:
    """Carry ``plan`` out by the protocol in the module's doc. ``before_delete`` runs once the
    plan is on the remote and the ledger re-read (tests race a push against it). Records are
    stamped with the real time, whatever ``now`` the plan was judged at."""
    started = time.monotonic()
    when = time.time()
    say = progress or (lambda _phase, _done, _total: None)
    result = RemoteGcResult(plan)
    try:
        pushes_before = set(plan.pushes_seen)
        _finish_killed(remote, plan)
        for ident in plan.forgotten:
            ledger.forget_repository(remote, ident)
        removals = list(plan.remove)
        touched = _touched(plan)
        if not removals and not touched:
            return result
        if archive is not None:
            result.archived = _archive(ws, remote, archive,
                                       [r for r in removals if r.reason == "released"], say)
        key = ledger.new_gc_key(when)
        key = key.replace(".json", f"-{ledger.clone_id(ws.repo.model_dir)}.json")
        result.record = key
        archive_url = _url_of(archive) if archive is not None else ""
        ledger.write_gc_record(remote, key, state="pending", started=when, removals=removals,
                               archive=archive_url, packs=touched)
        # pushes since the plan was computed: what they relied on is no longer ours to delete
        fresh = set(remote.list_records(ledger.PUSHES)) - pushes_before
        relied, relied_packs = ledger.read_pushes(remote, sorted(fresh))
        spared = {r.oid for r in removals if r.oid in relied}
        if spared or relied_packs & set(touched):
            removals = [r for r in removals if r.oid not in spared]
            result.spared = sorted(spared)
            # a spared recipe's chunks are live again, and a relied-on pack stays
            plan.live |= {c for oid in spared if oid in plan.packs.recipes
                          for c, _ in plan.packs.recipes[oid].chunks}
            plan.relied_packs |= relied_packs
            _judge_packs(plan, plan.grace)
            result.spared_packs = sorted(relied_packs & set(touched))
            touched = _touched(plan)
            ledger.write_gc_record(remote, key, state="pending", started=when,
                                   removals=removals, archive=archive_url, packs=touched)
        if before_delete is not None:
            before_delete()
        oids = [r.oid for r in removals if r.whole]
        for at in range(0, len(oids), BATCH):
            batch = oids[at:at + BATCH]
            remote.delete(batch)
            say("deleting", min(at + BATCH, len(oids)), len(oids))
        # recipes before any pack: the chunks still needed are those of the recipes that stay
        from gitmodel.remote.backends import recipe_key

        recipe_keys = [recipe_key(r.oid) for r in removals if r.chunked]
        for at in range(0, len(recipe_keys), BATCH):
            rpackgc.delete_keys(remote, recipe_keys[at:at + BATCH])
        result.removed = [r.oid for r in removals]
        last_sign = [time.monotonic()]

        def rewrote(done: int, total: int) -> None:
            say("rewriting", done, total)
            if time.monotonic() - last_sign[0] > ALIVE_SECONDS:
                # still at work: a push waiting on this record keeps waiting
                ledger.write_gc_record(remote, key, state="pending", started=when,
                                       removals=removals, archive=archive_url, packs=touched,
                                       alive=time.time())
                last_sign[0] = time.monotonic()

        result.packs = rpackgc.sweep(ws.store, remote, plan.packs.packs, progress=rewrote)
        result.freed = sum(r.stored for r in removals) + result.packs.freed
        ledger.write_gc_record(remote, key, state="done", started=when, removals=removals,
                               archive=archive_url, finished=time.time(),
                               packs=[*result.packs.deleted,
                                      *(old for old, _ in result.packs.rewritten)])
        _prune_ledger(remote, pushes_before, when - max(plan.grace,
                                                        2 * ledger.PLAN_STALE_SECONDS))
    except GitmodelError:
        raise
    except Exception as exc:
        raise explain(exc, remote, "remote gc of") from None
    finally:
        result.seconds = time.monotonic() - started
    # this clone's hint of what the remote holds is now wrong for what went: drop it whole
    record_for(ws, remote.url).forget()
    return result


def _url_of(remote: ObjectRemote) -> str:
    # a directory is recorded by its resolved path, so a clone elsewhere can match it
    return str(remote.root) if isinstance(remote, DirectoryRemote) else remote.url


def _touched(plan: RemoteGcPlan) -> list[str]:
    """The packs the plan deletes or rewrites."""
    return [p.name for p in plan.packs.of("delete", "orphan", "rewrite")]


def _finish_killed(remote: ObjectRemote, plan: RemoteGcPlan) -> None:
    if not plan.finished_records:
        return
    present = set(remote.inventory()) | set(rpackgc.list_recipes(remote))
    for record in ledger.read_gc_records(remote):
        if record.key in plan.finished_records and record.state == "pending":
            ledger.finish_interrupted(remote, record, present)


def _prune_ledger(remote: ObjectRemote, keys: set[str], before: float) -> None:
    """Push ledger entries older than the grace period protect nothing any more."""
    cut = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(before))
    for key in sorted(keys):
        if key.removeprefix(f"{ledger.PUSHES}/") < cut:
            with contextlib.suppress(Exception):
                remote.delete_record(key)


def _archive(ws: Workspace, remote: ObjectRemote, archive: ObjectRemote,
             removals: Sequence[Removal], say: Progress) -> list[str]:
    """Copy each released object to ``archive`` and verify the copy there by downloading and
    hashing it; any failure stops the gc before anything is deleted."""
    oids = [r.oid for r in removals]
    try:
        there = archive.has(oids)
    except Exception as exc:
        raise explain(exc, archive, "asking what is on") from None
    done: list[str] = []
    for n, oid in enumerate(oids, 1):
        tmp = ws.store.new_temp_file()
        check = ws.store.new_temp_file()
        try:
            if oid not in there:
                remote.download(oid, tmp, lambda _n: None)
                _verify(tmp, oid, remote.where(oid))
                try:
                    archive.upload(oid, tmp, lambda _n: None)
                except Exception as exc:
                    raise explain(exc, archive, f"archiving {oid} to") from None
            archive.download(oid, check, lambda _n: None)
            _verify(check, oid, archive.where(oid))
        finally:
            for path in (tmp, check):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        done.append(oid)
        say("archiving", n, len(oids))
    return done


def _verify(path: Path, oid: str, where: str) -> None:
    actual, _ = hash_file(path)
    if actual != oid:
        raise RemoteError(f"remote gc stopped before deleting anything: "
                          f"{CorruptObjectError(oid, actual, where)}")


# -- what the CLI calls --------------------------------------------------------------------------

def remote_gc(root: Path, remote_name: str | None = None, *, dry_run: bool = False,
              archive_to: str | None = None, forget_repos: Sequence[str] = (),
              now: float | None = None, grace: float | None = None,
              rules: Retention | None = None,
              confirm: Callable[[RemoteGcPlan], bool] | None = None,
              progress: Progress | None = None) -> RemoteGcResult:
    """Plan a gc of the remote ``remote_name`` (default: the default remote) and, unless
    ``dry_run``, run it once ``confirm(plan)`` says yes (the CLI shows the plan and asks, or
    passes ``--yes``). With no ``confirm`` nothing is deleted: removing is always explicit."""
    from gitmodel import config as config_mod

    repo = git.find_repo(root)
    ws = Workspace.open(repo, config_mod.load(repo.root))
    rules = rules or ws.config.retention  # a bad [retention] is an error before anything else
    target = choose_remote(ws.config, remote_name, root=ws.root)
    remote = open_named(ws, target)
    archive: ObjectRemote | None = None
    archive_label = ""
    if archive_to is not None:
        chosen: NamedRemote = choose_remote(ws.config, archive_to, root=ws.root)
        if chosen.url == target.url:
            raise RemoteError("--archive-to names the remote being cleaned; name another one")
        archive = open_named(ws, chosen)
        archive_label = _url_of(archive)
    plan = plan_remote_gc(ws, remote, rules=rules, forget_repos=forget_repos, now=now,
                          grace=grace, archive_to=archive_label)
    if dry_run or confirm is None or not confirm(plan):
        return RemoteGcResult(plan)
    return run_plan(ws, remote, plan, archive=archive, progress=progress)
