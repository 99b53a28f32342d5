"""What the registry says about models: list, show, history, diff, resolve (a version's bytes
outside the work tree), checkout of a version, rollback, check-ref and verify. Returns
dataclasses; nothing here prints.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitmodel import git, modelfile
from gitmodel import semver as v
from gitmodel.errors import (
    CorruptObjectError,
    GitmodelError,
    ModelNotFoundError,
    ObjectMissingError,
)
from gitmodel.modelfile import FileEntry, ModelFile
from gitmodel.registry import (
    ASSIGNMENT,
    DEPRECATION,
    DEREGISTRATION,
    REGISTRATION,
    UNASSIGNMENT,
    Event,
    ModelState,
    Registry,
    StagePolicy,
    VersionInfo,
    model_file_of,
    models_at,
    parse_refs,
    parse_version_spec,
    read,
    resolve_version,
    stage_policy,
)
from gitmodel.tagging import (
    TagResult,
    assign,
    deprecate,
    deregister,
    flatten,
    repo_at,
    tag_version,
    unassign,
)

# -- reading commands ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelSummary:
    """One line of ``git model list``."""

    name: str
    latest: str | None  # greatest non-prerelease version
    greatest: str | None  # greatest version, prereleases included (gto's "latest")
    stages: dict[str, str]  # stage -> version
    versions: int
    deprecated: bool
    size: int | None  # bytes of the latest (else greatest) version, else of the work tree
    model_file: str | None  # in the work tree


def list_models(cwd: Path | str | None = None) -> tuple[list[ModelSummary], list[str]]:
    """Every model, with or without versions; and warnings about tags the registry ignored.

    Three git processes in all: rev-parse (find the repo), for-each-ref, ls-files.
    """
    repo = repo_at(cwd)
    registry = read(repo.root)
    warnings = list(registry.warnings)
    work_tree: dict[str, tuple[str, int]] = {}
    parsed = modelfile.ParseCache(repo.model_dir / "parsed-model-files")  # shared with status
    for path in git.ls_files(repo.root, [modelfile.PATHSPEC]):
        target = repo.root / path
        try:
            if target.is_symlink() or not target.is_file():
                continue
            spec = parsed.loads(modelfile.read_bytes(target), path)
        except OSError:
            continue
        except GitmodelError as exc:
            warnings.append(str(exc))
            continue
        work_tree[spec.name] = (path, spec.size)
    parsed.save()
    summaries = []
    for name in sorted(set(registry.models) | set(work_tree)):
        state = registry.models.get(name, ModelState(name))
        shown = state.latest or state.greatest
        size = shown.size if shown is not None else None
        wt = work_tree.get(name)
        if size is None and wt is not None:
            size = wt[1]
        summaries.append(ModelSummary(
            name=name, latest=state.latest.version if state.latest else None,
            greatest=state.greatest.version if state.greatest else None,
            stages={s: ver.version for s, ver in state.stages.items()},
            versions=len(state.active_versions), deprecated=state.deprecated, size=size,
            model_file=wt[0] if wt else None))
    return summaries, warnings


@dataclass(frozen=True)
class ModelVersion:
    """What ``show SPEC`` reports: a version (or the work tree's model) with its model file."""

    name: str
    version: str | None  # None: the work tree's model file
    commit: str | None
    tag: str | None
    tagger: str | None
    tagger_email: str | None
    date: str | None
    stages: tuple[str, ...]
    active: bool
    signed: bool
    subject: str | None
    model_file: str
    artifact: str  # repo-relative
    files: tuple[FileEntry, ...]
    size: int
    description: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    code_commit: str
    spec: ModelFile = field(repr=False, compare=False)


def _artifact_path(model_file_path: str, spec: ModelFile) -> str:
    parent = model_file_path.rpartition("/")[0]
    return f"{parent}/{spec.artifact}" if parent else spec.artifact


def _from_version(root: Path, ver: VersionInfo,
                  read_file: tuple[str, ModelFile, bytes] | None = None) -> ModelVersion:
    path, spec, _ = read_file or model_file_of(root, ver)
    return ModelVersion(
        name=ver.model, version=ver.version, commit=ver.commit, tag=ver.tag, tagger=ver.tagger,
        tagger_email=ver.tagger_email, date=ver.date, stages=ver.stages, active=ver.active,
        signed=ver.signed, subject=ver.subject, model_file=path,
        artifact=_artifact_path(path, spec), files=spec.files, size=spec.size,
        description=spec.description, params=spec.params, metrics=spec.metrics,
        code_commit=spec.code_commit, spec=spec)


def show(spec_text: str, cwd: Path | str | None = None) -> ModelVersion:
    """The version ``spec_text`` names (``NAME@…``, ``NAME#STAGE``), or the work tree's model
    for a bare ``NAME``."""
    repo = repo_at(cwd)
    spec = v.parse_spec(spec_text)
    if spec.range is None and spec.stage is None:
        return _work_tree_model(repo.root, spec.name)
    registry = read(repo.root, spec.name)
    return _from_version(repo.root, resolve_version(registry, spec))


def _work_tree_model(root: Path, name: str) -> ModelVersion:
    from gitmodel.workspace import find_model, load_models

    loaded = load_models(root, strict=False)
    model = find_model(loaded.models, name)
    if model is None:
        known = ", ".join(sorted(m.spec.name for m in loaded.models)) or "none yet"
        raise ModelNotFoundError(f"no model named {name!r} in the work tree (models: {known})")
    s = model.spec
    return ModelVersion(
        name=s.name, version=None, commit=None, tag=None, tagger=None, tagger_email=None,
        date=None, stages=(), active=True, signed=False, subject=None,
        model_file=model.model_file, artifact=model.artifact_path, files=s.files, size=s.size,
        description=s.description, params=s.params, metrics=s.metrics,
        code_commit=s.code_commit, spec=s)


def history(name: str, cwd: Path | str | None = None) -> list[Event]:
    """Registrations, deregistrations, stage moves and deprecations of ``name``, newest first."""
    repo = repo_at(cwd)
    return list(reversed(read(repo.root, name).model(name).events))


def list_versions(name: str, cwd: Path | str | None = None) -> list[VersionInfo]:
    """Every active version of ``name``, greatest first."""
    repo = repo_at(cwd)
    return read(repo.root, name).model(name).active_versions


def current_stages(name: str, cwd: Path | str | None = None) -> dict[str, VersionInfo]:
    """Stage -> the version ``NAME#STAGE`` resolves to."""
    repo = repo_at(cwd)
    return dict(read(repo.root, name).model(name).stages)


# -- diff ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ValueChange:
    key: str
    old: Any
    new: Any
    delta: float | None = None  # new - old, for numbers


@dataclass(frozen=True)
class FileChange:
    path: str  # relative to the artifact's folder, as in the model file
    status: str  # added, removed, modified
    old_oid: str | None
    new_oid: str | None
    old_size: int | None
    new_size: int | None


@dataclass(frozen=True)
class ModelDiff:
    old: ModelVersion
    new: ModelVersion
    params: tuple[ValueChange, ...]
    metrics: tuple[ValueChange, ...]
    files: tuple[FileChange, ...]


def _changes(old: Mapping[str, Any], new: Mapping[str, Any], with_delta: bool
             ) -> tuple[ValueChange, ...]:
    a, b = flatten(old), flatten(new)
    out = []
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if x == y and (key in a) == (key in b):
            continue
        delta = None
        numeric = (int, float)
        if (with_delta and isinstance(x, numeric) and isinstance(y, numeric)
                and not isinstance(x, bool) and not isinstance(y, bool)):
            delta = metric_delta(x, y)
        out.append(ValueChange(key, x, y, delta))
    return tuple(out)


def metric_delta(old: float, new: float) -> float:
    """``new - old`` as the numbers were written: 0.93 - 0.91 is 0.02, not 0.020000000000000018.

    A float's ``repr`` is the shortest decimal that reads back as it, which is what the user (or
    their metrics file) wrote whenever that had at most 15 significant digits; subtracting those
    decimals exactly and rounding once to a float gives the delta they would compute by hand, so
    it prints, compares and serializes as their numbers do (issue 7). Integers stay exact."""
    if isinstance(old, int) and isinstance(new, int):
        return new - old
    if not (math.isfinite(old) and math.isfinite(new)):
        return new - old
    import decimal  # only a diff needs it

    with decimal.localcontext() as ctx:
        ctx.prec = 40  # more than the 17 digits of any repr: one rounding, in float()
        return float(decimal.Decimal(repr(new)) - decimal.Decimal(repr(old)))


def diff(old_spec: str, new_spec: str, cwd: Path | str | None = None) -> ModelDiff:
    """What changed between two versions: params, metrics (with deltas) and files."""
    old = show(old_spec, cwd)
    new = show(new_spec, cwd)
    a = {f.path: f for f in old.files}
    b = {f.path: f for f in new.files}
    files = []
    for path in sorted(set(a) | set(b)):
        x, y = a.get(path), b.get(path)
        if x is not None and y is not None and x.oid == y.oid:
            continue
        status = "added" if x is None else "removed" if y is None else "modified"
        files.append(FileChange(path, status, x.oid if x else None, y.oid if y else None,
                                x.size if x else None, y.size if y else None))
    return ModelDiff(old, new, _changes(old.params, new.params, False),
                     _changes(old.metrics, new.metrics, True), tuple(files))


# -- resolve: a version's bytes, outside the work tree ---------------------------------------

def resolve(spec_text: str, cwd: Path | str | None = None) -> Path:
    """Materialize the artifact of the version ``spec_text`` names into a read-only folder of
    the cache (``<git common dir>/model/resolved/<key>/``) and return its path.

    The work tree is not touched. The folder is keyed by the artifact's files and oids, so two
    versions with the same bytes share it, and a second call costs one directory check.
    """
    from gitmodel.store import ObjectStore

    repo = repo_at(cwd)
    spec = v.parse_spec(spec_text)
    if spec.range is None and spec.stage is None:
        model = _work_tree_model(repo.root, spec.name)
        files, artifact = model.files, model.spec.artifact
    else:
        ver = resolve_version(read(repo.root, spec.name), spec)
        _, parsed, _ = model_file_of(repo.root, ver)
        files, artifact = parsed.files, parsed.artifact
    import hashlib  # here, not at the top: `list` and `show` need neither (~3 ms of start-up)
    import tempfile

    name = artifact.rpartition("/")[2]
    listing = "".join(f"{f.oid} {f.size} {f.path}\n" for f in sorted(files, key=lambda f: f.path))
    key = hashlib.sha256(f"{artifact}\n{listing}".encode()).hexdigest()[:32]
    base = repo.model_dir / "resolved" / key
    result = base / name
    if base.is_dir():
        return result
    store = ObjectStore(repo.model_dir)
    missing = [f for f in files if not store.has(f.oid)]
    if missing:
        raise ObjectMissingError(missing[0].oid, f" ({missing[0].path}); run `git model pull`")
    parent = base.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=parent, prefix=".tmp-"))
    try:
        prefix = artifact.rpartition("/")[0]
        for f in files:
            rel = f.path[len(prefix) + 1:] if prefix else f.path
            modelfile.check_relative_path(rel, "path")
            store.materialize(f.oid, tmp / rel)
        for dirpath, _dirs, names in os.walk(tmp):
            for fname in names:
                os.chmod(Path(dirpath, fname), 0o444)
        try:
            os.rename(tmp, base)
        except OSError:
            if not base.is_dir():  # not a concurrent resolve that won the race
                raise
    finally:
        if tmp.exists():
            _remove_tree(tmp)
    return result


def _remove_tree(path: Path) -> None:
    import shutil

    for dirpath, _dirs, names in os.walk(path):
        os.chmod(dirpath, 0o755)
        for fname in names:
            with contextlib.suppress(OSError):
                os.chmod(Path(dirpath, fname), 0o644)
    shutil.rmtree(path, ignore_errors=True)


# -- checkout of a version, rollback --------------------------------------------------------------

@dataclass(frozen=True)
class VersionCheckout:
    version: ModelVersion
    written_model_file: bool


def version_model(spec_text: str, root: Path) -> tuple[ModelVersion, bytes]:
    """The version ``spec_text`` names with its model file's exact bytes."""
    spec = parse_version_spec(spec_text)
    ver = resolve_version(read(root, spec.name), spec)
    read_file = model_file_of(root, ver)
    return _from_version(root, ver, read_file), read_file[2]


def write_model_file(root: Path, path: str, data: bytes) -> bool:
    """Write a model file's bytes into the work tree (atomically); False if already equal."""
    from gitmodel.workspace import safe_target

    target = safe_target(root, path)
    if target.is_file() and not target.is_symlink() and target.read_bytes() == data:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.gitmodel-tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return True


@dataclass(frozen=True)
class Rollback:
    model: str
    version: str
    commit: str  # the new commit
    model_file: str


def rollback(name: str, version: str, *, cwd: Path | str | None = None) -> Rollback:
    """A new commit whose model file for ``name`` is ``version``'s; history is not rewritten."""
    from gitmodel import config as config_mod
    from gitmodel.workspace import Model, Workspace, mark_synced, restore

    repo = repo_at(cwd)
    root = repo.root
    spec_text = f"{name}@{version}"
    chosen, data = version_model(spec_text, root)
    head = git.head_commit(root)
    if head is not None:
        now, _ = models_at(root, head)
        if name in now and now[name][0] != chosen.model_file:
            raise GitmodelError(f"{name}'s model file moved from {chosen.model_file} to "
                                f"{now[name][0]} since {chosen.version}; move it back first")
        if name in now and now[name][1].oids == chosen.spec.oids and \
                now[name][1] == chosen.spec:
            raise GitmodelError(f"HEAD already holds {name} {chosen.version}; nothing to roll back")
    ws = Workspace.open(repo, config_mod.load(root))
    model = Model(chosen.model_file, chosen.spec)
    target = root / chosen.model_file
    saved = target.read_bytes() if target.is_file() else None
    write_model_file(root, chosen.model_file, data)
    try:
        restore(ws, model)
        git.add(root, [chosen.model_file])
        commit = git.commit_only(
            root, f"Roll back {name} to {chosen.version}\n\nThe model file is the one of "
                  f"{chosen.tag} ({chosen.commit}).\n", [chosen.model_file])
    except BaseException:
        if saved is not None:
            write_model_file(root, chosen.model_file, saved)
        raise
    mark_synced(ws, [model])
    return Rollback(name, chosen.version or "", commit, chosen.model_file)


# -- CI: check-ref --------------------------------------------------------------------------------

@dataclass(frozen=True)
class RefCheck:
    ref: str
    tag: str
    registry: bool  # the tag follows the registry grammar
    event: str | None  # registration, assignment, ...
    model: str | None
    version: str | None
    stage: str | None
    commit: str | None
    tagger: str | None
    date: str | None
    current: bool | None  # for an assignment: NAME#STAGE still points at this version
    problems: tuple[str, ...] = ()


def check_ref(ref: str, cwd: Path | str | None = None) -> RefCheck:
    """What the pushed tag ``ref`` (``refs/tags/X`` or ``X``) did, for a CI pipeline.

    Raises when the answer could be wrong: the tag is not in this clone, or (for a stage tag)
    the version tags it depends on were not fetched.
    """
    repo = repo_at(cwd)
    tag = ref.removeprefix("refs/tags/")
    parsed = v.parse_tag(tag)
    if parsed is None:
        return RefCheck(ref, tag, False, None, None, None, None, None, None, None, None)
    registry = read(repo.root, parsed.name)
    fetch_hint = ("fetch them first: `git fetch --force --tags origin` (CI checkouts are "
                  "shallow and tagless by default; with actions/checkout use fetch-depth: 0)")
    if tag not in registry.tags:
        raise GitmodelError(f"tag {tag} is not in this clone; {fetch_hint}")
    state = registry.models.get(parsed.name)
    event = next((e for e in state.events if e.tag == tag), None) if state else None
    if event is None:
        problem = next((w for w in registry.warnings if f"tag {tag}" in w), "")
        if isinstance(parsed, v.Assign | v.Unassign):
            raise GitmodelError(f"tag {tag} names a stage, but no version tag of "
                                f"{parsed.name} at its commit is in this clone; {fetch_hint}")
        raise GitmodelError(f"tag {tag} is not a registry event here: {problem or 'ignored'}")
    assert state is not None
    current = None
    if event.kind == ASSIGNMENT and event.stage is not None:
        held = state.stages.get(event.stage)
        current = held is not None and held.version == event.version
    problems = []
    if git.is_shallow(repo.root):
        problems.append("this clone is shallow; registry answers need every tag: "
                        "`git fetch --tags --force` (fetch-depth: 0)")
    return RefCheck(ref, tag, True, event.kind, event.model, event.version, event.stage,
                    event.commit, event.tagger, event.date, current, tuple(problems))


# -- verify -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ObjectCheck:
    path: str
    oid: str
    problem: str | None  # None: present and rehashed to its name


@dataclass(frozen=True)
class Verification:
    model: str
    version: str
    tag: str
    signed: bool
    signature_ok: bool | None  # None when unsigned
    signature_report: str
    trailers_match: bool  # the signed Model-Oid trailers equal the model file's oids
    objects: tuple[ObjectCheck, ...]

    @property
    def objects_ok(self) -> bool:
        return all(o.problem is None for o in self.objects)

    @property
    def ok(self) -> bool:
        return self.signature_ok is not False and self.trailers_match and self.objects_ok


def verify(spec_text: str, cwd: Path | str | None = None) -> Verification:
    """Check a version's tag signature (when signed) and rehash every object it names."""
    from gitmodel.store import ObjectStore

    repo = repo_at(cwd)
    spec = parse_version_spec(spec_text)
    ver = resolve_version(read(repo.root, spec.name), spec)
    signature_ok: bool | None = None
    report = "the tag is not signed"
    if ver.signed:
        signature_ok, report = git.verify_tag(repo.root, ver.tag)
    _, parsed, _ = model_file_of(repo.root, ver)
    trailers_match = not ver.oids or set(ver.oids) == parsed.oids
    store = ObjectStore(repo.model_dir)
    checks = []
    for f in parsed.files:
        problem = None
        try:
            store.verify(f.oid)
        except ObjectMissingError:
            problem = "missing from the cache"
        except CorruptObjectError as exc:
            problem = f"corrupt: its bytes hash to {exc.actual}"
        checks.append(ObjectCheck(f.path, f.oid, problem))
    return Verification(ver.model, ver.version, ver.tag, ver.signed, signature_ok, report,
                        trailers_match, tuple(checks))


__all__ = [
    "ASSIGNMENT", "DEPRECATION", "DEREGISTRATION", "REGISTRATION", "UNASSIGNMENT", "Event",
    "ModelDiff", "ModelState", "ModelSummary", "ModelVersion", "RefCheck", "Registry",
    "Rollback", "StagePolicy", "TagResult", "Verification", "VersionInfo", "assign",
    "check_ref", "current_stages", "deprecate", "deregister", "diff", "history",
    "list_models", "list_versions", "parse_refs", "read", "resolve", "resolve_version",
    "rollback", "show", "stage_policy", "tag_version", "unassign", "verify",
]
