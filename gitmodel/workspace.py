"""Artifacts in the work tree: where they are, whether they match their model files, and
bringing them back (materialize), without ever losing bytes the user made.

Every write into the work tree goes through :func:`safe_target`, because model files come from
clones and are untrusted: they must not be able to plant a hook, overwrite code, or follow a
symlink out of the repo (docs/design.md, decision 8).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from gitmodel import git, modelfile
from gitmodel.config import Config
from gitmodel.config import load as load_config
from gitmodel.errors import (
    DuplicateModelError,
    GitmodelError,
    InvalidModelFileError,
    ModelNotFoundError,
    ObjectMissingError,
    UnsafePathError,
)
from gitmodel.hashing import Progress, StatCache
from gitmodel.modelfile import ModelFile, ParseCache
from gitmodel.store import ObjectStore


class State(StrEnum):
    CLEAN = "clean"
    MODIFIED = "modified"  # bytes not in the cache: an edit not yet added
    STALE = "stale"  # bytes of another cached version
    MISSING = "missing"  # not materialized (its object may not be fetched yet either)
    BROKEN = "broken"  # bytes corrupt or lost: a cache object written in place
    CONFLICTED = "conflicted"  # a merge left the model file unresolved


@dataclass(frozen=True)
class Model:
    """A model file in the work tree, parsed."""

    model_file: str  # repo-relative
    spec: ModelFile

    @property
    def base_dir(self) -> str:
        # model_file is a normalized repo-relative path (from the index): its folder is what
        # precedes the last "/"; status asks this several times per file, PurePosixPath is slow
        return self.model_file.rpartition("/")[0]

    def repo_path(self, relative: str) -> str:
        return f"{self.base_dir}/{relative}" if self.base_dir else relative

    @property
    def artifact_path(self) -> str:
        return self.repo_path(self.spec.artifact)

    def file_targets(self) -> list[tuple[str, modelfile.FileEntry]]:
        return [(self.repo_path(f.path), f) for f in self.spec.files]


@dataclass
class Workspace:
    """One work tree with its shared cache and stat cache."""

    repo: git.Repo
    config: Config
    store: ObjectStore
    stat_cache: StatCache
    parsed: ParseCache  # model files parsed before, by their bytes

    @classmethod
    def open(cls, repo: git.Repo, config: Config) -> Workspace:
        return cls(
            repo=repo,
            config=config,
            store=ObjectStore(repo.model_dir, fsync=config.fsync,
                              chunk_threshold=config.chunk_threshold),
            stat_cache=StatCache(repo.model_dir / "stat.sqlite"),
            parsed=ParseCache(repo.model_dir / "parsed-model-files"),
        )

    @property
    def root(self) -> Path:
        return self.repo.root


def open_workspace(cwd: Path | str | None = None) -> Workspace:
    """The work tree around ``cwd`` (default: the current folder) with its settings."""
    repo = git.find_repo(cwd)
    return Workspace.open(repo, load_config(repo.root))


# -- paths ------------------------------------------------------------------------------------

def safe_target(root: Path, relative: str) -> Path:
    """The absolute path for repo-relative ``relative``, if writing there is safe.

    Refuses unsafe syntax and any existing folder on the way that is a symlink (a cloned repo
    could otherwise commit ``models -> ../../.git/hooks`` and a model file writing through it).
    """
    try:
        modelfile.check_relative_path(relative, "path")
    except ValueError as exc:
        raise UnsafePathError(f"refusing to write {relative!r}: {exc}") from None
    current = root
    parts = relative.split("/")
    for part in parts[:-1]:
        current = current / part
        if current.is_symlink():
            raise UnsafePathError(
                f"refusing to write {relative}: {current.relative_to(root)} is a symlink; "
                "artifacts must live in real folders of the repo"
            )
        if current.exists() and not current.is_dir():
            raise UnsafePathError(f"refusing to write {relative}: {current.relative_to(root)} "
                                  "is a file, not a folder")
    return root / relative


class Tracked:
    """Files git tracks, for asking "is this path, or anything under this folder, one of
    them?" ignoring case (on macOS and Windows ``AAA.sh`` is ``aaa.sh``)."""

    def __init__(self, paths: Iterable[str] = ()) -> None:
        self.files: dict[str, str] = {}
        self.folders: set[str] = set()
        self.add(paths)

    def add(self, paths: Iterable[str]) -> None:
        for path in paths:
            key = path.casefold()
            self.files.setdefault(key, path)
            self.folders.update(_ancestors(key))

    def hit(self, path: str) -> str | None:
        """The tracked file that is ``path`` or lies under it, if any."""
        key = path.casefold()
        if key in self.files:
            return self.files[key]
        if key in self.folders:
            return min(p for k, p in self.files.items() if k.startswith(key + "/"))
        return None


def case_insensitive(root: Path) -> bool:
    """Whether the work tree's file system folds case (macOS, Windows): then ``AAA.sh`` would
    overwrite a tracked ``aaa.sh``. A stat, not a git call."""
    return (root / ".git").exists() and (root / ".GIT").exists()


def tracked_pathspecs(root: Path, paths: Iterable[str]) -> list[str]:
    """Pathspecs matching ``paths`` and everything under them, literally; ignoring case only
    where the file system does (an icase pathspec costs git a compare per index entry: 46 ms
    for 500 artifacts in a 20,000-file index here, against 3 ms)."""
    magic = "icase,literal" if case_insensitive(root) else "literal"
    return [f":({magic}){p}" for p in sorted(set(paths))]


def tracked_paths(root: Path, paths: Iterable[str]) -> Tracked:
    """What git tracks (in the index) among ``paths`` and under them: one ``ls-files`` call
    however many paths, so a hook checks every model it restores at once."""
    specs = tracked_pathspecs(root, paths)
    return Tracked(git.ls_files(root, specs) if specs else ())


def check_not_tracked(root: Path, paths: Iterable[str], model_file: str,
                      tracked: Tracked | None = None) -> None:
    """A model file must never name a file that git tracks (it would overwrite code).

    ``tracked`` is what git tracks among these paths, asked beforehand for many models at once
    (:func:`tracked_paths`, plus the files of the tree being checked out where the index is not
    written yet); without it the index is asked here.
    """
    paths = list(paths)
    if not paths:
        return
    if tracked is None:
        tracked = tracked_paths(root, paths)
    for path in paths:
        hit = tracked.hit(path)
        if hit is not None:
            raise UnsafePathError(
                f"model file {model_file} names {hit}, which git tracks, so gitmodel does not "
                "write there and git's copy is left as it is; a model file may only point at "
                "untracked artifacts (fix or remove the model file)"
            )


# -- overlapping artifacts --------------------------------------------------------------------

@dataclass(frozen=True)
class Claim:
    """The part of the work tree a model file writes: its artifact (and, for a folder,
    everything under it)."""

    model_file: str
    artifact: str  # repo-relative


def claim_of(model: Model) -> Claim:
    return Claim(model.model_file, model.artifact_path)


def _ancestors(path: str) -> Iterator[str]:
    parts = path.split("/")
    for i in range(1, len(parts)):
        yield "/".join(parts[:i])


def overlapping(claims: Iterable[Claim], model_files: Iterable[str] = ()) -> dict[str, str]:
    """Model file -> the problem that refuses it (for :class:`InvalidModelFileError`), for
    every model file whose artifact overlaps another's (the same path, or one inside the other's
    folder, ignoring case as macOS and Windows do) or covers a model file: two model files must
    never write the same bytes (issue 9).

    Both sides of an overlap are refused: gitmodel cannot tell which one the user meant.
    """
    claims = list(claims)
    by_path: dict[str, list[Claim]] = {}
    for claim in claims:
        by_path.setdefault(claim.artifact.casefold(), []).append(claim)
    files = {p.casefold(): p for p in [*model_files, *(c.model_file for c in claims)]}
    refused: dict[str, str] = {}

    def refuse(claim: Claim, why: str) -> None:
        refused.setdefault(claim.model_file, f"{why}; two model files must never write the same "
                                              "path: fix one of them, or remove it with `git rm`")

    for key, same in by_path.items():
        for claim in same:
            for other in same:
                if other is not claim:
                    refuse(claim, f"its artifact {claim.artifact} is also the artifact of "
                                  f"{other.model_file}")
            for folder in _ancestors(key):
                for outer in by_path.get(folder, []):
                    refuse(claim, f"its artifact {claim.artifact} is inside {outer.artifact}, "
                                  f"the artifact of {outer.model_file}")
                    refuse(outer, f"its artifact {outer.artifact} holds {claim.artifact}, the "
                                  f"artifact of {claim.model_file}")
            if key in files:
                refuse(claim, f"its artifact {claim.artifact} is the model file {files[key]}")
    for key, model_file in files.items():
        for folder in _ancestors(key):
            for outer in by_path.get(folder, []):
                refuse(outer, f"its artifact {outer.artifact} holds the model file {model_file}")
    return refused


# -- loading ----------------------------------------------------------------------------------

def model_file_paths(root: Path) -> list[str]:
    return git.ls_files(root, [modelfile.PATHSPEC])


def load_model(root: Path, model_file: str, parsed: ParseCache | None = None) -> Model:
    """The model file ``model_file`` (repo-relative) parsed, through ``parsed`` if given."""
    path = safe_target(root, model_file)
    if path.is_symlink() or not path.is_file():
        raise InvalidModelFileError(model_file, "not a regular file")
    spec = (parsed or modelfile).loads(modelfile.read_bytes(path), model_file)
    return Model(model_file, spec)


@dataclass
class LoadedModels:
    models: list[Model]
    errors: list[GitmodelError] = field(default_factory=list)
    conflicted: set[str] = field(default_factory=set)


def load_models(root: Path, *, strict: bool = True, conflicts: bool = True,
                parsed: ParseCache | None = None) -> LoadedModels:
    """Every model file in the index that exists in the work tree, parsed (through ``parsed``,
    if given) and checked (and, with ``conflicts``, which of them a merge left unresolved)."""
    # one ls-files for both the paths and the unmerged ones (a git process is ~2 ms here)
    paths, unmerged = git.index_paths(root, [modelfile.PATHSPEC])
    result = LoadedModels([], conflicted=unmerged if conflicts else set())
    for path in paths:
        if not (root / path).exists() and not (root / path).is_symlink():
            continue
        try:
            result.models.append(load_model(root, path, parsed))
        except GitmodelError as exc:
            if strict:
                raise
            result.errors.append(exc)
    check_unique_names(result.models)
    refused = overlapping((claim_of(m) for m in result.models), paths)
    if refused:
        errors = [InvalidModelFileError(path, problem) for path, problem in refused.items()]
        if strict:
            raise errors[0]
        result.models = [m for m in result.models if m.model_file not in refused]
        result.errors += errors
    if not strict and result.models:
        # status and pull show a model file naming a tracked file as the error it is (one git
        # call); strict callers refuse it where they would write (restore)
        tracked = tracked_paths(root, [m.artifact_path for m in result.models])
        kept = []
        for model in result.models:
            try:
                check_not_tracked(root, [model.artifact_path], model.model_file, tracked)
                kept.append(model)
            except UnsafePathError as exc:
                result.errors.append(exc)
        result.models = kept
    return result


def check_unique_names(models: Iterable[Model]) -> None:
    seen: dict[str, Model] = {}
    for model in models:
        key = model.spec.name.casefold()
        if key in seen:
            other = seen[key]
            raise DuplicateModelError(
                f"model name {model.spec.name!r} is used by both {other.model_file} and "
                f"{model.model_file} (names must be unique, ignoring case); "
                "rename one with `git model add ARTIFACT --name NEW`"
            )
        seen[key] = model


def select_models(models: list[Model], names: Sequence[str], where: str = "this work tree"
                  ) -> list[Model]:
    """``models`` named by ``names`` (a name, model file or artifact path each); all of them
    when ``names`` is empty; ModelNotFoundError naming the models there are otherwise."""
    if not names:
        return models
    chosen = []
    for wanted in names:
        model = find_model(models, wanted)
        if model is None:
            known = ", ".join(sorted(m.spec.name for m in models)) or "none yet"
            raise ModelNotFoundError(f"no model named {wanted!r} in {where} (models: {known})")
        chosen.append(model)
    return chosen


def find_model(models: Iterable[Model], name_or_path: str) -> Model | None:
    wanted = name_or_path.rstrip("/")
    for model in models:
        if wanted in (model.spec.name, model.model_file, model.artifact_path):
            return model
    return None


# -- status -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class FileStatus:
    path: str  # repo-relative
    state: State
    expected: str
    actual: str | None = None


@dataclass(frozen=True)
class ModelStatus:
    name: str
    model_file: str
    artifact: str
    state: State
    detail: str
    files: tuple[FileStatus, ...] = ()


_SEVERITY = [State.BROKEN, State.MODIFIED, State.STALE, State.MISSING, State.CLEAN]


def current_oid(ws: Workspace, path: Path, progress: Progress | None = None) -> str | None:
    """The oid of the bytes at ``path`` (None when absent)."""
    try:
        return ws.stat_cache.oid_of(path, progress)[0]
    except FileNotFoundError:
        return None


def file_status(ws: Workspace, relative: str, entry: modelfile.FileEntry,
                progress: Progress | None = None) -> FileStatus:
    target = ws.root / relative
    if target.is_symlink():
        return FileStatus(relative, State.MODIFIED, entry.oid, "symlink")
    if not target.exists():
        # an object not fetched yet is a normal state of a fresh clone, not damage (issue 7)
        return FileStatus(relative, State.MISSING, entry.oid)
    actual = current_oid(ws, target, progress)
    if actual == entry.oid:
        return FileStatus(relative, State.CLEAN, entry.oid, actual)
    if actual is not None and ws.store.same_inode(entry.oid, target):
        # A hard-linked artifact written in place: the cache object itself is now wrong.
        return FileStatus(relative, State.BROKEN, entry.oid, actual)
    if actual is not None and ws.store.has(actual):
        return FileStatus(relative, State.STALE, entry.oid, actual)
    return FileStatus(relative, State.MODIFIED, entry.oid, actual)


def extra_files(ws: Workspace, model: Model) -> list[str]:
    """Files inside a directory artifact that its model file does not list."""
    if not model.spec.is_directory:
        return []
    top = ws.root / model.artifact_path
    if not top.is_dir() or top.is_symlink():
        return []
    listed = {rel for rel, _ in model.file_targets()}
    extras = []
    for dirpath, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if d.lower() != ".git"]
        for name in files:
            rel = Path(dirpath, name).relative_to(ws.root).as_posix()
            if rel not in listed:
                extras.append(rel)
    return sorted(extras)


def model_status(ws: Workspace, model: Model, conflicted: bool = False,
                 progress: Progress | None = None) -> ModelStatus:
    spec = model.spec
    if conflicted:
        return ModelStatus(spec.name, model.model_file, model.artifact_path, State.CONFLICTED,
                           "merge conflict: pick a side with `git checkout --ours/--theirs "
                           f"{model.model_file}`, then `git model checkout {spec.name}`")
    files = tuple(file_status(ws, rel, entry, progress) for rel, entry in model.file_targets())
    states = {f.state for f in files}
    extras = extra_files(ws, model)
    if extras:
        states.add(State.MODIFIED)
    state = next(s for s in _SEVERITY if s in states)
    detail = {
        State.CLEAN: "artifact matches the model file",
        State.MODIFIED: f"artifact changed since `git model add`: run `git model add "
                        f"{model.artifact_path}` to keep it, or `git model checkout {spec.name} "
                        "--force` to discard",
        State.STALE: f"artifact holds another cached version: run `git model checkout "
                     f"{spec.name}`",
        State.MISSING: f"artifact not in the work tree: run `git model checkout {spec.name}`",
        State.BROKEN: "object corrupt: run `git model pull`, or "
                      f"`git model add {model.artifact_path}` from the original file",
    }[state]
    if state in (State.MISSING, State.STALE) and any(
        f.state is state and not ws.store.has(f.expected) for f in files
    ):
        # `git model checkout` cannot help until the bytes are here
        where = "not in the work tree" if state is State.MISSING else "holds another version"
        detail = f"artifact {where} and its bytes not fetched yet: run " \
                 f"`git model pull {spec.name}`"
    if state is State.BROKEN and any(
        f.state is State.BROKEN and f.actual is not None for f in files
    ):
        detail = ("the artifact is a hard link to the cache and was written in place, so the "
                  "cache object is corrupt: `git model add` it again")
    return ModelStatus(spec.name, model.model_file, model.artifact_path, state, detail, files)


# -- rescue -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rescue:
    """Bytes saved into the cache before gitmodel replaced or removed them."""

    path: str
    oid: str
    size: int
    when: str


RESCUE_LOG = "rescued.jsonl"


def rescue(ws: Workspace, relative: str, progress: Progress | None = None) -> Rescue:
    target = ws.root / relative
    oid, size = ws.store.put_file(target, progress)
    entry = Rescue(relative, oid, size, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    log = ws.repo.model_dir / RESCUE_LOG
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as stream:
        stream.write(json.dumps(entry.__dict__) + "\n")
    return entry


def rescued(ws: Workspace) -> list[Rescue]:
    log = ws.repo.model_dir / RESCUE_LOG
    if not log.exists():
        return []
    entries = []
    for line in log.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError, TypeError):
            entries.append(Rescue(**json.loads(line)))
    return entries


# -- restore ----------------------------------------------------------------------------------

@dataclass
class RestoreResult:
    model: str
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    rescued: list[Rescue] = field(default_factory=list)


def restore(ws: Workspace, model: Model, *, force: bool = False,
            progress: Progress | None = None,
            fetch: Callable[[list[str]], None] | None = None,
            tracked: Tracked | None = None) -> RestoreResult:
    """Make ``model``'s artifact match its model file.

    Bytes that are about to be replaced and are not in the cache are rescued first (unless
    ``force``). Every object is checked before anything is touched, so a missing object leaves
    the old bytes alone. ``tracked``: see :func:`check_not_tracked`.
    """
    result = RestoreResult(model.spec.name)
    targets = model.file_targets()
    # The artifact itself as a pathspec also covers every tracked file inside a folder artifact,
    # which restoring would otherwise treat as an extra file and remove.
    check_not_tracked(ws.root, [model.artifact_path, *(rel for rel, _ in targets)],
                      model.model_file, tracked)
    paths = {rel: safe_target(ws.root, rel) for rel, _ in targets}
    missing = [e.oid for _, e in targets if not ws.store.has(e.oid)]
    if missing and fetch is not None:
        fetch(sorted(set(missing)))
        missing = [e.oid for _, e in targets if not ws.store.has(e.oid)]
    if missing:
        raise ObjectMissingError(
            missing[0],
            f" (model {model.spec.name}, {model.model_file}); the artifact was left as it is: "
            "run `git model pull` to fetch it",
        )
    top = ws.root / model.artifact_path
    if top.is_symlink():
        raise UnsafePathError(f"refusing to replace {model.artifact_path}: it is a symlink; "
                              "move it away and run `git model checkout` again")
    if model.spec.is_directory and top.exists() and not top.is_dir():
        _make_room(ws, model.artifact_path, result, force, progress)
    elif not model.spec.is_directory and top.is_dir():
        raise UnsafePathError(f"refusing to replace folder {model.artifact_path} with a file; "
                              "move it away and run `git model checkout` again")
    for rel, entry in targets:
        target = paths[rel]
        if target.is_symlink():
            raise UnsafePathError(f"refusing to replace {rel}: it is a symlink")
        if target.exists():
            if current_oid(ws, target) == entry.oid:
                continue
            _make_room(ws, rel, result, force, progress, remove=False)
        ws.store.materialize(entry.oid, target, mode=ws.config.link, progress=progress)
        ws.stat_cache.record_written(target, target.stat(), entry.oid)
        result.written.append(rel)
    for rel in extra_files(ws, model):
        _make_room(ws, rel, result, force, progress)
    return result


def _make_room(ws: Workspace, rel: str, result: RestoreResult, force: bool,
               progress: Progress | None, *, remove: bool = True) -> None:
    """Rescue ``rel``'s bytes if the cache lacks them; then (optionally) delete it."""
    target = ws.root / rel
    if not force:
        oid = current_oid(ws, target, progress)
        if oid is not None and not ws.store.has(oid):
            result.rescued.append(rescue(ws, rel, progress))
    if remove:
        target.unlink()
        ws.stat_cache.forget(target)
        result.removed.append(rel)


def remove_artifact(ws: Workspace, files: list[tuple[str, str]],
                    tracked: Tracked | None = None) -> tuple[list[str], list[str]]:
    """Delete the files of a model that is gone from the commit, if their bytes are cached.

    Returns (removed, kept): a file whose bytes the cache lacks, or that git tracks (in
    ``tracked``, asked here when not given), is kept, never deleted.
    """
    removed, kept = [], []
    if tracked is None:
        tracked = tracked_paths(ws.root, [rel for rel, _ in files])
    for rel, _oid in files:
        try:
            target = safe_target(ws.root, rel)
        except UnsafePathError:
            continue
        if target.is_symlink() or not target.is_file():
            continue
        actual = current_oid(ws, target)
        if actual is not None and ws.store.has(actual) and tracked.hit(rel) is None:
            target.unlink()
            ws.stat_cache.forget(target)
            removed.append(rel)
            _prune_empty_dirs(ws.root, target.parent)
        else:
            kept.append(rel)
    return removed, kept


def _prune_empty_dirs(root: Path, folder: Path) -> None:
    while folder != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


# -- what this work tree has materialized (for hooks) -----------------------------------------

SYNC_RECORD = "synced.json"


def content_hash(path: Path) -> str | None:
    import hashlib  # not at the top: `status` needs no hashing when the stat cache knows

    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except (FileNotFoundError, IsADirectoryError):
        return None


def load_sync_record(ws: Workspace) -> dict[str, dict[str, object]]:
    path = ws.repo.worktree_state_dir / SYNC_RECORD
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_sync_record(ws: Workspace, record: dict[str, dict[str, object]]) -> None:
    folder = ws.repo.worktree_state_dir
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (SYNC_RECORD + ".tmp")
    tmp.write_text(json.dumps(record, sort_keys=True), encoding="utf-8")
    os.replace(tmp, folder / SYNC_RECORD)


def record_entry(model: Model, digest: str | None) -> dict[str, object]:
    return {"sha256": digest, "artifact": model.artifact_path,
            "files": [[rel, e.oid] for rel, e in model.file_targets()]}


def mark_synced(ws: Workspace, models: Iterable[Model]) -> None:
    record = load_sync_record(ws)
    for model in models:
        record[model.model_file] = record_entry(model, content_hash(ws.root / model.model_file))
    save_sync_record(ws, record)


@dataclass
class SyncReport:
    restored: list[RestoreResult] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    # of removed and kept: files a model still here no longer lists (an older version of a
    # folder without them), by path -> model name; the others' model file is gone
    left_model: dict[str, str] = field(default_factory=dict)
    conflicted: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # models left as they were: objects not cached

    @property
    def rescued(self) -> list[Rescue]:
        return [r for result in self.restored for r in result.rescued]


def sync(ws: Workspace, progress: Progress | None = None,
         fetch: Callable[[list[str]], None] | None = None, *,
         written: dict[str, bytes] | None = None,
         index: dict[str, dict[int, str]] | None = None,
         tracked: Tracked | None = None) -> SyncReport:
    """Bring artifacts in line with the model files that git just moved.

    Only model files whose bytes differ from what this work tree last materialized are touched,
    so an artifact the user is editing under an unchanged model file is left alone. A model file
    that disappeared takes its artifact with it when those bytes are cached.

    ``written`` (the filter): model file -> the bytes git wrote there; only those are applied
    and nothing is removed. ``index``: the index entries of the model files
    (:func:`git.index_entries`), when the caller has read them. ``tracked``: what git tracks
    among the artifacts ``written`` names and the files their previous versions left, when the
    caller asked already (the filter asks in the same call that reads the index), with the files
    of the tree being checked out that the index may not hold yet.

    Every model file in the index is read, so that one whose artifact overlaps another's is
    refused; what git tracks among all the artifacts to write is asked in one git call.
    """
    import hashlib  # here: `status` imports this module and needs no hashing

    report = SyncReport()
    record = load_sync_record(ws)
    if index is None:
        index = git.index_entries(ws.root, [modelfile.PATHSPEC])
    paths = sorted(index)
    conflicted = {p for p, stages in index.items() if 0 not in stages}
    new_record: dict[str, dict[str, object]] = {} if written is None else dict(record)
    claims: list[Claim] = []
    changed: list[tuple[Model, str]] = []
    for path in paths:
        previous = record.get(path)
        wanted = written is None or path in written
        try:
            data = written[path] if written is not None and path in written else \
                read_model_file(ws.root, path)
        except FileNotFoundError:
            if previous is not None:
                new_record[path] = previous
            continue
        except GitmodelError as exc:
            if wanted:
                report.errors.append(str(exc))
            continue
        if path in conflicted:
            if wanted:
                report.conflicted.append(path)
            if previous is not None:
                new_record[path] = previous
            continue
        digest = hashlib.sha256(data).hexdigest()
        unchanged = previous is not None and previous.get("sha256") == digest
        if previous is not None and unchanged:
            new_record[path] = previous
            claim = _recorded_claim(path, previous)
            if claim is not None:
                claims.append(claim)
                continue
        try:
            model = Model(path, modelfile.loads(data, path))
        except GitmodelError as exc:
            if wanted and not unchanged:
                report.errors.append(str(exc))
                new_record[path] = _refused_entry(digest)
            continue
        claims.append(claim_of(model))
        if wanted and not unchanged:
            changed.append((model, digest))
    refused = overlapping(claims, paths)
    ready = []
    for model, digest in changed:
        if model.model_file in refused:
            report.errors.append(str(InvalidModelFileError(model.model_file,
                                                           refused[model.model_file])))
            new_record[model.model_file] = _refused_entry(digest)
        else:
            ready.append((model, digest))
    vanished = [] if written is not None else [
        entry for path, entry in record.items() if path not in new_record and path not in index]
    if tracked is None:
        # one look at the index for everything this sync may write or delete
        tracked = tracked_paths(ws.root, [
            *(model.artifact_path for model, _ in ready),
            *(rel for model, _ in ready
              for rel, _ in recorded_files(record.get(model.model_file))),
            *(rel for entry in vanished for rel, _ in recorded_files(entry)),
        ])
    for model, digest in ready:
        entry = _apply(ws, model, digest, record.get(model.model_file), report, tracked,
                       progress, fetch)
        if entry is None:
            new_record.pop(model.model_file, None)
        else:
            new_record[model.model_file] = entry
    for entry in vanished:
        removed, kept = remove_artifact(ws, recorded_files(entry), tracked)
        report.removed += removed
        report.kept += kept
    save_sync_record(ws, new_record)
    return report


def read_model_file(root: Path, path: str) -> bytes:
    """A model file's bytes from the work tree (FileNotFoundError when it is not there)."""
    target = safe_target(root, path)
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise InvalidModelFileError(path, "not a regular file")
    with open(target, "rb") as stream:
        return stream.read(modelfile.MAX_MODEL_FILE_BYTES + 1)


def _apply(ws: Workspace, model: Model, digest: str, previous: dict[str, object] | None,
           report: SyncReport, tracked: Tracked, progress: Progress | None,
           fetch: Callable[[list[str]], None] | None) -> dict[str, object] | None:
    """Materialize what ``model`` names; return its new record entry, or None if it failed."""
    # Files this model file no longer lists leave with the old version.
    now = {rel for rel, _ in model.file_targets()}
    gone = [(rel, oid) for rel, oid in recorded_files(previous) if rel not in now]
    if gone:
        removed, kept = remove_artifact(ws, gone, tracked)
        report.removed += removed
        report.kept += kept
        report.left_model.update((rel, model.spec.name) for rel in removed + kept)
    try:
        report.restored.append(restore(ws, model, progress=progress, fetch=fetch,
                                       tracked=tracked))
    except ObjectMissingError:
        report.missing.append(model.spec.name)
        return None
    except (InvalidModelFileError, UnsafePathError) as exc:
        report.errors.append(str(exc))
        return _refused_entry(digest)
    except GitmodelError as exc:
        report.errors.append(str(exc))
        return None
    return record_entry(model, digest)


def _refused_entry(digest: str) -> dict[str, object]:
    """The record of a model file refused as it is: said once (the hook and the filter of one
    git command both see it), not again until its bytes change. It wrote nothing."""
    return {"sha256": digest, "refused": True, "files": []}


def _recorded_claim(path: str, entry: dict[str, object]) -> Claim | None:
    artifact = entry.get("artifact")
    return Claim(path, artifact) if isinstance(artifact, str) else None


def recorded_files(entry: dict[str, object] | None) -> list[tuple[str, str]]:
    if not entry:
        return []
    files = entry.get("files")
    if not isinstance(files, list):
        return []
    return [(str(f[0]), str(f[1])) for f in files if isinstance(f, list) and len(f) == 2]
