"""What the cache and the remotes must keep: every object a model file names, and why (issue 10).

Two questions, one pass over refs and history each (never one git process per commit):

- :func:`referenced` — every object named by a model file in any worktree (HEAD, index, work
  tree), any stash entry, or any commit reachable from any ref (branches, tags, remote-tracking
  branches), each with the commits, versions and stages it belongs to. fsck checks these exist;
  remote gc evaluates its retention rules over them.
- :func:`needed_locally` — what the local cache must keep under :class:`Rules` (docs/storage.md):
  always every worktree's HEAD, index and work tree, every stash entry, every commit an
  in-progress merge, rebase, cherry-pick or revert points at (``MERGE_HEAD``, ``ORIG_HEAD``,
  ``rebase-merge/``…: :func:`gitmodel.git.operation_commits`) and every version in a stage;
  by rule the commits of local branches of the last ``keep_days`` days, the newest
  ``keep_versions`` versions of each model, objects younger than ``grace`` and rescued copies
  younger than ``keep_rescued``.

The git work is a constant number of processes whatever the size of the history:
``worktree list``, the stash reflog, ``for-each-ref`` (the registry), one ``git log --all -m
--raw`` restricted to model files, one ``rev-list``-like ``git log`` of the keep-days window, a
``cat-file --batch-check`` and a ``diff-tree --stdin`` for the trees read whole, one
``cat-file --batch`` for every model-file blob, and an ``ls-files`` per worktree.

A model file in history that fails to parse is reported in :attr:`References.problems` and every
``sha256:<64 hex>`` in its bytes is kept: a broken file may still name the bytes someone needs,
and keeping too much is the only safe mistake. Nothing here prints or deletes.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from gitmodel import git, modelfile, registry
from gitmodel.errors import GitmodelError
from gitmodel.store import ObjectStore, is_oid
from gitmodel.store import gc as store_gc
from gitmodel.store.gc import Scratch

# Why an object is kept (Use.rule); the CLI counts bytes by these names, --json reports them.
ALWAYS = "always"  # a worktree's HEAD, index or work tree, a stash entry, an in-progress
# merge's or rebase's commits, a stage's version
KEEP_DAYS = "keep-days"  # a commit on a local branch made in the last N days
KEEP_VERSIONS = "keep-versions"  # one of a model's newest N registered versions
GRACE = "grace"  # put into the cache less than the grace period ago (an add in flight)
RESCUED = "rescued"  # bytes gitmodel saved before replacing them, kept for a while
UNPUSHED = "unpushed"  # no remote has it (decided by store gc, which asks the remote)
REACHABLE = "reachable"  # named by a commit reachable from a ref (referenced() only)
RULES = (ALWAYS, KEEP_DAYS, KEEP_VERSIONS, GRACE, RESCUED, UNPUSHED, REACHABLE)

DAY = 86400
_OID_IN_TEXT = re.compile(rb"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class Rules:
    """The local cache's retention rules (``[gc]`` in .gitmodel.toml, docs/config.md)."""

    grace: float = 3600.0  # seconds
    keep_days: float = 7.0
    keep_versions: int = 2
    keep_rescued: float = 30 * DAY  # seconds a rescued copy is kept after it was saved


@dataclass(frozen=True)
class Use:
    """One reason an object is kept: which model file names it, where, and under which rule."""

    oid: str
    size: int
    model: str  # "?" when the model file that names it did not parse
    model_file: str  # repo-relative path of the model file ("" for grace and rescued)
    where: str  # "worktree /x HEAD", "stash@{0}", "version churn@v1.2.0", "branch main @abc…"
    rule: str  # one of RULES
    commit: str | None = None  # the commit whose tree holds the model file, when there is one
    time: int | None = None  # that commit's committer time (seconds since the epoch)
    version: str | None = None  # "churn@v1.2.0" when the use is a registered version
    stage: str | None = None  # "prod" when that version is in a stage


class References(dict[str, list[Use]]):
    """oid -> every :class:`Use` of it, plus what could not be read (never a reason to drop)."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def add(self, use: Use) -> None:
        self.setdefault(use.oid, []).append(use)

    def rules_of(self, oid: str) -> set[str]:
        return {u.rule for u in self.get(oid, ())}


@dataclass(frozen=True)
class _Parsed:
    """A model-file blob, read once however many commits hold it."""

    name: str
    files: tuple[tuple[str, int], ...]  # (oid, size)
    problem: str | None = None


Progress = Callable[[str], None]

# Valid model-file blobs already parsed, one JSON line each: a blob id names its bytes forever, so
# an entry never goes stale, and the next du or gc skips ``cat-file`` and TOML for it (half of
# the reference pass at 10,000 blobs). Only valid files are kept: a broken one is read, and
# reported, every time. A line that does not read back exactly is ignored (parsed again).
PARSED_CACHE = "model-files.jsonl"
_PARSED_VERSION = f"{modelfile.FORMAT_VERSION}.1"
_BLOB_RE = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")


def _load_parsed(path: Path) -> dict[str, _Parsed]:
    import json

    found: dict[str, _Parsed] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return found
    for line in text.splitlines():
        try:
            entry = json.loads(line)
            if entry.get("v") != _PARSED_VERSION or not _BLOB_RE.fullmatch(entry["blob"]):
                continue
            name = entry["name"]
            files = tuple((str(oid), int(size)) for oid, size in entry["files"])
        except (ValueError, TypeError, KeyError, AttributeError):
            continue
        if (isinstance(name, str) and modelfile.NAME_RE.fullmatch(name) and files
                and all(is_oid(oid) and 0 <= size < modelfile.MAX_SIZE for oid, size in files)):
            found[entry["blob"]] = _Parsed(name, files)
    return found


def _remember_parsed(path: Path, fresh: list[tuple[str, _Parsed]]) -> None:
    import json

    if not fresh:
        return
    lines = "".join(json.dumps({"v": _PARSED_VERSION, "blob": blob, "name": p.name,
                                "files": [list(f) for f in p.files]}) + "\n"
                    for blob, p in fresh)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # one write(2) on an O_APPEND descriptor: two runs at once never interleave their lines
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, lines.encode())
        finally:
            os.close(fd)
    except OSError:
        pass  # a read-only cache: only the next run's speed depends on it


def _short(commit: str) -> str:
    return commit[:12]


def _day(timestamp: int) -> str:
    return _dt.datetime.fromtimestamp(timestamp, _dt.UTC).strftime("%Y-%m-%d")


def _ref_label(ref: str) -> str:
    for prefix, kind in (("refs/heads/", "branch"), ("refs/tags/", "tag"),
                         ("refs/remotes/", "remote branch")):
        if ref.startswith(prefix):
            return f"{kind} {ref[len(prefix):]}"
    return ref or "commit"


@dataclass
class _Scan:
    """Everything read from git for one question; blobs parsed lazily, each once."""

    root: Path
    repo: git.Repo
    problems: list[str] = field(default_factory=list)
    parsed: dict[str, _Parsed] = field(default_factory=dict)

    cache: dict[str, _Parsed] | None = None

    def parse(self, blobs: Iterable[str], where: dict[str, str] | None = None) -> None:
        """Read and parse every blob of ``blobs`` not parsed yet: from the parsed-blob cache
        when an earlier run read it, else in one ``cat-file --batch`` (then remembered)."""
        wanted = [b for b in dict.fromkeys(blobs) if b not in self.parsed and b != git.ZERO_OID]
        if not wanted:
            return
        if self.cache is None:
            self.cache = _load_parsed(self.repo.model_dir / PARSED_CACHE)
        unread = []
        for blob in wanted:
            known = self.cache.get(blob)
            if known is not None:
                self.parsed[blob] = known
            else:
                unread.append(blob)
        if not unread:
            return
        data = git.read_blobs(self.root, unread)
        fresh = []
        for blob in unread:
            raw = data.get(blob)
            label = (where or {}).get(blob, f"blob {blob[:12]}")
            if raw is None:
                self.problems.append(f"{label}: git has no blob {blob} (a shallow or partial "
                                     "clone?); the objects it names cannot be known")
                self.parsed[blob] = _Parsed("?", (), "missing")
                continue
            parsed = self.parse_bytes(raw, label)
            self.parsed[blob] = parsed
            if parsed.problem is None:
                fresh.append((blob, parsed))
        _remember_parsed(self.repo.model_dir / PARSED_CACHE, fresh)

    def parse_bytes(self, raw: bytes, label: str) -> _Parsed:
        try:
            spec = modelfile.loads(raw, label)
        except GitmodelError as exc:
            # keep whatever it might name: an object id anywhere in the bytes
            oids = tuple(dict.fromkeys((m.decode(), 0) for m in _OID_IN_TEXT.findall(raw)))
            self.problems.append(f"{exc}; keeping the {len(oids)} object(s) it mentions")
            return _Parsed("?", oids, str(exc))
        return _Parsed(spec.name, tuple((f.oid, f.size) for f in spec.files))


def _uses(parsed: _Parsed, path: str, where: str, rule: str, **extra: object) -> list[Use]:
    return [Use(oid, size, parsed.name, path, where, rule, **extra)  # type: ignore[arg-type]
            for oid, size in parsed.files]


def _worktree_uses(scan: _Scan, out: References, trees: dict[str, dict[str, str]],
                   head_trees: dict[str, str], worktrees: list[git.Worktree]) -> None:
    """HEAD, index (every stage of a conflict) and work tree of every worktree: always kept."""
    pathspec = [modelfile.PATHSPEC]
    index_blobs: list[tuple[str, str, str]] = []  # (blob, path, where)
    disk: list[tuple[Path, str, str]] = []
    for wt in worktrees:
        label = f"worktree {wt.path}"
        if wt.head and wt.head in head_trees:
            for path, blob in trees.get(head_trees[wt.head], {}).items():
                index_blobs.append((blob, path, f"{label} HEAD"))
        if wt.git_dir is not None:
            try:
                entries = git.index_entries_of(wt.git_dir, wt.path, pathspec)
            except GitmodelError as exc:
                scan.problems.append(f"{label}: its index could not be read ({exc})")
                entries = {}
            for path, stages in entries.items():
                for stage, blob in stages.items():
                    what = "index" if stage == 0 else f"index (conflict side {stage})"
                    index_blobs.append((blob, path, f"{label} {what}"))
        if wt.path.is_dir():
            try:
                paths = git.ls_files(wt.path, pathspec, others=True)
            except GitmodelError as exc:
                scan.problems.append(f"{label}: its model files could not be listed ({exc})")
                paths = []
            for path in paths:
                disk.append((wt.path / path, path, f"{label} work tree"))
    scan.parse((b for b, _, _ in index_blobs), {b: f"{w} {p}" for b, p, w in index_blobs})
    for blob, path, where in index_blobs:
        for use in _uses(scan.parsed[blob], path, where, ALWAYS):
            out.add(use)
    for file, path, where in disk:
        try:
            if file.is_symlink() or not file.is_file():
                continue
            raw = file.read_bytes()
        except OSError:
            continue  # deleted meanwhile: its index entry and HEAD are counted above
        blob = git.blob_id(raw)
        if blob not in scan.parsed:
            scan.parsed[blob] = scan.parse_bytes(raw, f"{where} {path}")
        for use in _uses(scan.parsed[blob], path, where, ALWAYS):
            out.add(use)


def _stash_revs(stashes: list[str]) -> list[tuple[str, str]]:
    """(rev, label) of each stash entry's trees: the work tree, the index (``^2``) and the
    untracked files (``^3``, when ``stash -u`` made one)."""
    revs = []
    for n, commit in enumerate(stashes):
        revs.append((commit, f"stash@{{{n}}}"))
        revs.append((f"{commit}^2", f"stash@{{{n}}} index"))
        revs.append((f"{commit}^3", f"stash@{{{n}}} untracked"))
    return revs


@dataclass
class _Base:
    """What both questions read: worktrees, stashes, the registry and the trees read whole."""

    scan: _Scan
    worktrees: list[git.Worktree]
    stashes: list[str]
    registry: registry.Registry
    tree_of: dict[str, str]  # rev -> tree id
    trees: dict[str, dict[str, str]]  # tree id -> {model-file path: blob}
    # (commit, label) of each commit an in-progress merge or rebase points at
    operations: list[tuple[str, str]] = field(default_factory=list)


def _read_base(root: Path, extra_revs: Iterable[str] = ()) -> _Base:
    repo = git.find_repo(root)
    scan = _Scan(repo.root, repo)
    worktrees = git.worktrees(repo.root, repo.common_dir)
    stashes = git.stash_commits(repo.root)
    reg = registry.read(repo.root)
    scan.problems += reg.warnings
    operations = [(commit, f"worktree {wt.path} {name}") for wt in worktrees
                  if wt.git_dir is not None for commit, name in git.operation_commits(wt.git_dir)]
    revs = [wt.head for wt in worktrees if wt.head]
    revs += [rev for rev, _ in _stash_revs(stashes)]
    revs += [commit for commit, _ in operations]
    revs += list(extra_revs)
    tree_of = git.tree_ids(repo.root, list(dict.fromkeys(revs)))
    trees = git.tree_files(repo.root, list(tree_of.values()), modelfile.PATHSPEC)
    return _Base(scan, worktrees, stashes, reg, tree_of, trees, operations)


def _always(base: _Base, out: References) -> None:
    """The uses every question keeps: worktrees, stash entries, versions in a stage."""
    scan = base.scan
    _worktree_uses(scan, out, base.trees, base.tree_of, base.worktrees)
    stash_files = []
    for rev, label in _stash_revs(base.stashes) + base.operations:
        tree = base.tree_of.get(rev)
        if tree is None:
            continue  # no ^3: the stash kept no untracked files (or a stale id in a file)
        stash_files += [(blob, path, label) for path, blob in base.trees[tree].items()]
    scan.parse((b for b, _, _ in stash_files), {b: f"{w} {p}" for b, p, w in stash_files})
    for blob, path, where in stash_files:
        for use in _uses(scan.parsed[blob], path, where, ALWAYS):
            out.add(use)


def _version_files(base: _Base, versions: list[registry.VersionInfo]
                   ) -> dict[tuple[str, str], tuple[str, str]]:
    """(model, version) -> (model-file path, blob) of each version, from its tag's Model-File
    trailer where gitmodel wrote one, else by finding the model's file in the commit's tree."""
    scan = base.scan
    found: dict[tuple[str, str], tuple[str, str]] = {}
    specs = {}
    for ver in versions:
        if ver.model_file:
            specs[(ver.model, ver.version)] = (ver.model_file, f"{ver.commit}:{ver.model_file}")
    blobs = git.read_blobs(scan.root, [s for _, s in specs.values()])
    untrailered = []
    for ver in versions:
        key = (ver.model, ver.version)
        if key in specs:
            path, spec = specs[key]
            raw = blobs.get(spec)
            if raw is not None:
                blob = git.blob_id(raw)
                if blob not in scan.parsed:
                    scan.parsed[blob] = scan.parse_bytes(raw, f"{ver.tag} {path}")
                if scan.parsed[blob].name in (ver.model, "?"):
                    found[key] = (path, blob)
                    continue
        untrailered.append(ver)
    if untrailered:
        tree_of = git.tree_ids(scan.root, [ver.commit for ver in untrailered])
        trees = git.tree_files(scan.root, list(tree_of.values()), modelfile.PATHSPEC)
        scan.parse(blob for tree in trees.values() for blob in tree.values())
        for ver in untrailered:
            files = trees.get(tree_of.get(ver.commit, ""), {})
            match = [(p, b) for p, b in files.items() if scan.parsed[b].name == ver.model]
            if match:
                found[(ver.model, ver.version)] = match[0]
            else:
                # a broken model file may be this version's: keep what each names
                broken = [(p, b) for p, b in files.items() if scan.parsed[b].name == "?"]
                if broken:
                    found[(ver.model, ver.version)] = broken[0]
                scan.problems.append(f"version {ver.tag}: no model file named {ver.model!r} "
                                     f"in commit {_short(ver.commit)}")
    return found


def _version_uses(base: _Base, out: References, versions: list[registry.VersionInfo],
                  rule: str, files: dict[tuple[str, str], tuple[str, str]]) -> None:
    for ver in versions:
        key = (ver.model, ver.version)
        if key not in files:
            continue
        path, blob = files[key]
        name = f"{ver.model}@{ver.version}"
        for use in _uses(base.scan.parsed[blob], path, f"version {name}", rule,
                         commit=ver.commit, time=ver.timestamp, version=name):
            out.add(use)


def _stage_uses(base: _Base, out: References,
                files: dict[tuple[str, str], tuple[str, str]]) -> None:
    for state in base.registry.models.values():
        for stage, ver in sorted(state.stages.items()):
            key = (ver.model, ver.version)
            if key not in files:
                continue
            path, blob = files[key]
            name = f"{ver.model}@{ver.version}"
            for use in _uses(base.scan.parsed[blob], path, f"stage {stage} \u2192 {name}",
                             ALWAYS, commit=ver.commit, time=ver.timestamp, version=name,
                             stage=stage):
                out.add(use)


def referenced(root: Path, progress: Progress | None = None) -> References:
    """Every object any model file names: in any worktree (HEAD, index, work tree), stash entry,
    or commit reachable from any ref, with the versions and stages it belongs to."""
    say = progress or (lambda _what: None)
    say("reading worktrees, stashes and the registry")
    base = _read_base(root)
    out = References()
    _always(base, out)
    say("reading the history of model files")
    starts = [wt.head for wt in base.worktrees if wt.head] + base.stashes
    history = git.model_file_history(base.scan.root, list(dict.fromkeys(starts)),
                                     modelfile.PATHSPEC)
    introduced: dict[str, list[tuple[str, git.HistoryCommit]]] = {}
    for commit in history:
        seen = set()
        for changes in commit.changes.values():
            for change in changes:
                if change.blob != git.ZERO_OID and (change.blob, change.path) not in seen:
                    seen.add((change.blob, change.path))
                    introduced.setdefault(change.blob, []).append((change.path, commit))
    say(f"reading {len(introduced)} model-file versions")
    base.scan.parse(introduced, {b: f"commit {_short(c.commit)} {p}"
                                 for b, uses in introduced.items() for p, c in uses[:1]})
    for blob, where in introduced.items():
        parsed = base.scan.parsed[blob]
        for path, commit in where:
            label = f"{_ref_label(commit.source)} @{_short(commit.commit)} {_day(commit.time)}"
            for use in _uses(parsed, path, label, REACHABLE, commit=commit.commit,
                             time=commit.time):
                out.add(use)
    versions = [ver for state in base.registry.models.values() for ver in state.versions]
    files = _version_files(base, versions)
    _version_uses(base, out, versions, REACHABLE, files)
    _stage_uses(base, out, files)
    out.problems = list(dict.fromkeys(base.scan.problems))
    return out


def needed_locally(root: Path, rules: Rules, now: float, *,
                   cache_times: dict[str, tuple[int, float]] | None = None,
                   progress: Progress | None = None) -> References:
    """What the local cache must keep under ``rules`` at time ``now``: see the module's doc.

    ``cache_times`` (oid -> (size, newest of mtime and ctime)) is what store gc read of the
    cache; objects younger than ``rules.grace`` are kept under GRACE. Rescued copies (the
    rescue log) younger than ``rules.keep_rescued`` are kept under RESCUED.
    """
    say = progress or (lambda _what: None)
    say("reading worktrees, stashes and the registry")
    since = int(now - rules.keep_days * DAY)
    repo = git.find_repo(root)
    window = (git.commits_since(repo.root, since, ["--branches"])
              if rules.keep_days > 0 else [])
    in_window = {c for c, _, _, _ in window}
    boundary = {parents[0] for _, _, parents, _ in window
                if parents and parents[0] not in in_window}
    base = _read_base(repo.root, sorted(boundary))
    out = References()
    _always(base, out)
    files = _version_files(base, [
        ver for state in base.registry.models.values()
        for ver in ([*state.stages.values()] +
                    (state.active_versions[:rules.keep_versions] if rules.keep_versions > 0
                     else []))])
    _stage_uses(base, out, files)
    for state in base.registry.models.values():
        if rules.keep_versions > 0:
            _version_uses(base, out, state.active_versions[:rules.keep_versions],
                          KEEP_VERSIONS, files)
    if window:
        say(f"reading the model files of {len(window)} recent commits")
        _window_uses(base.scan, base.tree_of, base.trees, out, window, KEEP_DAYS)
    if cache_times:
        for oid, (size, when) in cache_times.items():
            age = now - when
            if age < rules.grace:
                out.add(Use(oid, size, "", "", f"added {_age(age)} ago", GRACE, time=int(when)))
    _rescued_uses(repo, out, rules, now, cache_times or {})
    out.problems = list(dict.fromkeys(base.scan.problems))
    return out


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("d", DAY), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def named_since(root: Path, since: int, refs: Iterable[str] = ("--branches",), *,
                rule: str = KEEP_DAYS, progress: Progress | None = None) -> References:
    """Every object named by a model file in the tree of any commit reachable from ``refs``
    (rev-list arguments: ``--branches``, ``--all``, ``--tags``…) made at or after ``since``,
    whether or not that commit changed the model file; each :class:`Use` names the newest such
    commit on its line of history. The keep-days rule is this over ``--branches``; remote
    retention rules ("untagged commits older than N days") can ask the same over ``--all``."""
    say = progress or (lambda _what: None)
    repo = git.find_repo(root)
    window = git.commits_since(repo.root, since, list(refs))
    in_window = {c for c, _, _, _ in window}
    boundary = sorted({parents[0] for _, _, parents, _ in window
                       if parents and parents[0] not in in_window})
    tree_of = git.tree_ids(repo.root, boundary)
    trees = git.tree_files(repo.root, list(tree_of.values()), modelfile.PATHSPEC)
    scan = _Scan(repo.root, repo)
    out = References()
    if window:
        say(f"reading the model files of {len(window)} commits")
        _window_uses(scan, tree_of, trees, out, window, rule)
    out.problems = list(dict.fromkeys(scan.problems))
    return out


def _window_uses(scan: _Scan, tree_of: dict[str, str], trees: dict[str, dict[str, str]],
                 out: References, window: list[tuple[str, int, tuple[str, ...], str]],
                 rule: str) -> None:
    """The model files in the tree of every commit of the window, without listing a tree per
    commit: each commit's tree is its first parent's with the commit's own changes applied (the
    first parent read whole, in ``trees``, when it lies outside the window). An entry is
    recorded when a commit replaces it (under the parent, the last commit that had it) and at
    the window's tips, so the work is the number of changes, not commits times model files."""
    in_window = {c for c, _, _, _ in window}
    meta = {c: (c, t, source) for c, t, _, source in window}
    history = {c.commit: c for c in git.model_file_history(
        scan.root, sorted(in_window), modelfile.PATHSPEC, all_refs=False, walk=False)}
    children: dict[str, int] = {}
    for _, _, parents, _ in window:
        if parents:
            children[parents[0]] = children.get(parents[0], 0) + 1
    snapshots: dict[str, dict[str, str]] = {}
    last_in: dict[tuple[str, str], tuple[str, int, str]] = {}  # (path, blob) -> newest commit

    def record(entry: tuple[str, str], where: tuple[str, int, str]) -> None:
        current = last_in.get(entry)
        if current is None or where[1] > current[1]:
            last_in[entry] = where

    for commit, _time, parents, _source in reversed(window):  # parents before children
        first = parents[0] if parents else None
        if first is None:
            snap: dict[str, str] = {}
        elif first in snapshots:
            snap = snapshots[first] if children.get(first, 0) <= 1 else dict(snapshots[first])
        else:
            tree = tree_of.get(first)
            snap = dict(trees.get(tree, {})) if tree else {}
        found = history.get(commit)
        if found is not None:
            for change in found.changes.get(first or git.EMPTY_TREE, []):
                old = snap.get(change.path)
                if old is not None and old != change.blob and first in in_window:
                    record((change.path, old), meta[first])
                if change.blob == git.ZERO_OID:
                    snap.pop(change.path, None)
                else:
                    snap[change.path] = change.blob
        if first is not None and first in snapshots:
            children[first] -= 1
            if children[first] <= 0:
                del snapshots[first]
        snapshots[commit] = snap
    for commit, snap in snapshots.items():  # the tips: every entry they still hold
        for entry in snap.items():
            record(entry, meta[commit])
    scan.parse({blob for _, blob in last_in})
    for (path, blob), (commit, time, source) in last_in.items():
        branch = source.removeprefix("refs/heads/")
        label = f"{'branch ' if rule == KEEP_DAYS else ''}{branch} @{_short(commit)} {_day(time)}"
        for use in _uses(scan.parsed[blob], path, label, rule, commit=commit, time=time):
            out.add(use)


def _rescued_uses(repo: git.Repo, out: References, rules: Rules, now: float,
                  cache_times: dict[str, tuple[int, float]]) -> None:
    from gitmodel.workspace import RESCUE_LOG

    log = repo.model_dir / RESCUE_LOG
    try:
        text = log.read_text(encoding="utf-8")
    except OSError:
        return
    import json

    for line in text.splitlines():
        try:
            entry = json.loads(line)
            oid, path, when = str(entry["oid"]), str(entry["path"]), str(entry["when"])
            saved = _dt.datetime.strptime(when, "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=_dt.UTC).timestamp()
        except (ValueError, TypeError, KeyError):
            continue
        if now - saved < rules.keep_rescued:
            size = cache_times.get(oid, (int(entry.get("size", 0) or 0), 0.0))[0]
            out.add(Use(oid, size, "", path, f"rescued from {path} on {when[:10]}", RESCUED,
                        time=int(saved)))




# -- the local gc plan ------------------------------------------------------------------------

# A kept object is counted once, under the first of its rules in this order (the strongest).
_PRIORITY = (ALWAYS, KEEP_VERSIONS, KEEP_DAYS, GRACE, RESCUED, UNPUSHED)


@dataclass
class LocalPlan:
    """What local gc would do: every cached object either kept (with its reasons) or removed."""

    rules: Rules
    remote: str | None  # the remote asked, "" when none is configured
    cached: dict[str, tuple[int, float]]  # oid -> (size, time) of every cache object
    needed: References
    on_remote: set[str]  # of the objects asked about: those the remote has
    remove: list[tuple[str, int]]  # (oid, size) released: not needed and on the remote
    unpushed: list[tuple[str, int]]  # not needed, but no remote has them
    unpushed_removed: bool  # --unpushed: the unpushed ones are in ``remove`` too
    scratch: list[Scratch] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _unpushed_set: set[str] | None = field(default=None, repr=False)

    def reason(self, oid: str) -> str | None:
        """The rule an object is kept under (None when it is removed)."""
        rules = self.needed.rules_of(oid)
        for rule in _PRIORITY:
            if rule in rules:
                return rule
        if not self.unpushed_removed and oid in self._unpushed_ids:
            return UNPUSHED
        return None

    @property
    def _unpushed_ids(self) -> set[str]:
        if self._unpushed_set is None:
            self._unpushed_set = {oid for oid, _ in self.unpushed}
        return self._unpushed_set

    def kept_by_rule(self) -> dict[str, tuple[int, int]]:
        """rule -> (objects, bytes) kept under it, each object counted once."""
        counts: dict[str, tuple[int, int]] = {rule: (0, 0) for rule in _PRIORITY}
        removed = {oid for oid, _ in self.remove}
        unpushed = {oid for oid, _ in self.unpushed}
        for oid, (size, _) in self.cached.items():
            if oid in removed:
                continue
            rules = self.needed.rules_of(oid)
            rule = next((r for r in _PRIORITY if r in rules), UNPUSHED if oid in unpushed
                        else None)
            if rule is None:
                continue
            objects, nbytes = counts[rule]
            counts[rule] = (objects + 1, nbytes + size)
        return counts

    @property
    def freed(self) -> int:
        return sum(size for _, size in self.remove) + sum(s.size for s in self.scratch)


def plan_local(root: Path, rules: Rules, now: float, store: ObjectStore, *,
               remote_has: Callable[[list[str]], set[str]] | None, remote: str | None,
               unpushed: bool = False, progress: Progress | None = None) -> LocalPlan:
    """Decide what local gc removes: the cache objects nothing here needs (:func:`needed_locally`)
    that the remote has, asked in ONE batched call (never trusted from a local record); with
    ``unpushed``, also those no remote has. Nothing is deleted here."""
    cached = store_gc.object_times(store)
    needed = needed_locally(root, rules, now, cache_times=cached, progress=progress)
    candidates = sorted(oid for oid in cached if oid not in needed)
    on_remote: set[str] = set()
    if candidates and remote_has is not None:
        if progress:
            progress(f"asking {remote} which of {len(candidates)} objects it has")
        on_remote = remote_has(candidates)
    remove = [(oid, cached[oid][0]) for oid in candidates if oid in on_remote]
    lonely = [(oid, cached[oid][0]) for oid in candidates if oid not in on_remote]
    if unpushed:
        remove += lonely
    scratch = store_gc.scratch(store, now, grace=rules.grace,
                               resolved_age=rules.keep_days * DAY)
    return LocalPlan(rules, remote, cached, needed, on_remote, remove, lonely, unpushed,
                     scratch, list(needed.problems))


def still_young(store: ObjectStore, rules: Rules) -> Callable[[str], bool]:
    """For store gc's last look before each unlink: whether the object was (re)written within
    the grace period since the plan was made (an add that found it there touches nothing, but
    a fetch or an add that raced the plan renames a fresh copy into place)."""
    import time

    def young(oid: str) -> bool:
        times = store_gc.object_times_of(store, oid)
        return times is not None and time.time() - times < rules.grace
    return young


def expired_rescue(plan: LocalPlan, store: ObjectStore) -> Callable[[str], bool]:
    """Whether a rescue-log line is expired and its object gone from the cache (then the line
    says nothing useful any more)."""
    import json

    kept = {u.oid for uses in plan.needed.values() for u in uses if u.rule == RESCUED}

    def drop(line: str) -> bool:
        try:
            oid = str(json.loads(line)["oid"])
        except (ValueError, TypeError, KeyError):
            return False
        return oid not in kept and not store.has(oid) if is_oid(oid) else False
    return drop


__all__ = [
    "ALWAYS", "GRACE", "KEEP_DAYS", "KEEP_VERSIONS", "REACHABLE", "RESCUED", "RULES", "UNPUSHED",
    "LocalPlan", "References", "Rules", "Use", "named_since", "needed_locally", "plan_local",
    "referenced",
]
