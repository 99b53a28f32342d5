"""Writing the registry: annotated tags for register, assign, unassign, deregister and
deprecate (docs/tags.md), with trailers that `git for-each-ref` reads back. Nothing here prints.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitmodel import git, modelfile
from gitmodel import semver as v
from gitmodel.errors import (
    GitmodelError,
    ModelNotFoundError,
    ObjectMissingError,
    VersionError,
)
from gitmodel.registry import (
    ASSIGNMENT,
    DEPRECATION,
    DEREGISTRATION,
    REGISTRATION,
    UNASSIGNMENT,
    ModelState,
    _load_policy,
    models_at,
    read,
    resolve_version,
)

# -- writing tags -------------------------------------------------------------------------------

@dataclass(frozen=True)
class TagResult:
    tag: str
    kind: str
    model: str
    version: str | None
    stage: str | None
    commit: str
    signed: bool = False


def repo_at(cwd: Path | str | None) -> git.Repo:
    return git.find_repo(cwd)


def _tag_date(state: ModelState | None) -> str | None:
    """A tagger date one second after the model's latest tag, when now is not later already.

    git and gto order tags by tagger date in whole seconds; two tags of one model in the same
    second (a script that assigns and unassigns) would leave their order to chance.
    """
    if state is None or not state.events:
        return None
    latest = max(e.timestamp for e in state.events)
    now = int(time.time())
    if now > latest:
        return None
    offset = time.localtime().tm_gmtoff // 60
    sign = "+" if offset >= 0 else "-"
    return f"@{latest + 1} {sign}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"


def _message(subject: str, user_message: str | None, trailers: list[tuple[str, str]]) -> str:
    """Subject (or the user's text) then a blank line and the trailer block, as git reads it."""
    head = (user_message or "").strip() or subject
    lines = [f"{key}: {value}" for key, value in trailers
             if value and "\n" not in value and "\r" not in value]
    return f"{head}\n\n" + "\n".join(lines) + "\n"


def flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _choose_version(state: ModelState | None, version: str | None, bump: str | None,
                    pre: str | None) -> v.Version:
    existing = [ver.semver for ver in state.versions] if state else []
    greatest = max(existing, default=None)
    if version is not None:
        if bump is not None:
            raise VersionError("give either a version or --bump, not both")
        base = v.Version.parse(version)
        return v.next_prerelease(base, pre, existing) if pre else base
    if bump is None and pre is None:
        raise VersionError("give a version (v1.2.0) or --bump major|minor|patch")
    if bump is not None and bump not in ("major", "minor", "patch"):
        raise VersionError(f"--bump {bump!r}: expected major, minor or patch")
    if greatest is None:
        base = {"major": v.Version(1, 0, 0), "minor": v.Version(0, 1, 0),
                "patch": v.Version(0, 0, 1), None: v.Version(0, 1, 0)}[bump]
    elif bump is None:  # --pre alone: the next prerelease of the current line
        base = greatest.release if greatest.is_prerelease else greatest.bump("patch")
    else:
        base = greatest.bump(bump)
    return v.next_prerelease(base, pre, existing) if pre else base


def tag_version(name: str | None = None, version: str | None = None, *, bump: str | None = None,
                pre: str | None = None, message: str | None = None, force: bool = False,
                sign: bool = False, rev: str = "HEAD",
                cwd: Path | str | None = None) -> TagResult:
    """Register a version: an annotated tag ``NAME@vX.Y.Z`` on ``rev`` (HEAD)."""
    from gitmodel import config as config_mod
    from gitmodel.store import ObjectStore
    from gitmodel.workspace import State, Workspace, load_model, model_status

    repo = repo_at(cwd)
    root = repo.root
    commit = git.resolve_commit(root, rev)
    if commit is None:
        raise GitmodelError(f"{rev} names no commit; commit the model file first")
    found, errors = models_at(root, commit)
    if name is None:
        if len(found) != 1:
            names = ", ".join(sorted(found)) or "none"
            raise ModelNotFoundError(f"name the model to tag: commit {commit[:12]} has "
                                     f"{len(found)} models ({names})")
        name = next(iter(found))
    v.check_name(name)
    if name not in found:
        detail = f"; {errors[0]}" if errors else ""
        in_work_tree = any(p.endswith(modelfile.SUFFIX) and _model_name_of(root, p) == name
                           for p in git.ls_files(root, [modelfile.PATHSPEC]))
        if in_work_tree:
            raise ModelNotFoundError(
                f"commit {commit[:12]} has no model file for {name}: commit it first "
                f"(git commit), then tag{detail}")
        names = ", ".join(sorted(found)) or "none"
        raise ModelNotFoundError(f"unknown model {name!r} (models at {rev}: {names}); a new "
                                 f"model starts with `git model add PATH --name {name}`{detail}")
    path, spec = found[name]
    cfg = config_mod.load(root)
    store = ObjectStore(repo.model_dir, fsync=cfg.fsync)
    missing = [f for f in spec.files if not store.has(f.oid)]
    if missing and cfg.default_remote is not None:
        # bytes a teammate already pushed are as good as cached: ask the default remote once
        from gitmodel.remote import choose_remote, open_named

        ws = Workspace.open(repo, cfg)
        try:
            remote = open_named(ws, choose_remote(cfg), quick=True)
            on_remote = remote.has([f.oid for f in missing])
        except GitmodelError:
            on_remote = set()
        missing = [f for f in missing if f.oid not in on_remote]
    if missing:
        raise ObjectMissingError(
            missing[0].oid, f" ({name}: {missing[0].path}); a version must name bytes someone "
            f"can restore: `git model pull`, or `git model add` the real file and commit")
    if commit == git.head_commit(root):
        committed = git.read_blobs(root, [f"{commit}:{path}"])[f"{commit}:{path}"]
        target = root / path
        on_disk = target.read_bytes() if target.is_file() else None
        if on_disk is not None and on_disk != committed:
            raise GitmodelError(f"{path} differs from commit {commit[:12]}: commit it "
                                "(`git commit`) before tagging, so the version holds it")
        if on_disk is not None:
            ws = Workspace.open(repo, cfg)
            model = load_model(root, path)
            status = model_status(ws, model)
            if status.state is State.MODIFIED:
                raise GitmodelError(
                    f"{model.artifact_path} was modified but not added: `git model add "
                    f"{model.artifact_path}` and commit it, or `git model checkout {name} "
                    "--force` to drop the change, then tag")
    registry = read(root, name)
    state = registry.models.get(name)
    chosen = _choose_version(state, version, bump, pre)
    tagname = v.format_register(name, chosen)
    if state is not None:
        for ver in state.versions:
            if ver.semver.same_precedence(chosen):
                raise VersionError(f"{name} {ver.version} already exists ({ver.tag} on "
                                   f"{ver.commit[:12]}); versions are never reused: pick "
                                   "another (--bump patch)")
        same_major = [ver for ver in state.versions if ver.semver.major == chosen.major]
        top = max(same_major, key=lambda i: i.semver.precedence_key(), default=None)
        if top is not None and chosen < top.semver and not force:
            raise VersionError(f"{name} {chosen.tag_text} is not greater than {top.version}, "
                               f"the greatest on its major line; pass --force for a backport")
        for ver in state.active_versions:
            if ver.commit == commit and ver.semver.core != chosen.core and not force:
                raise VersionError(f"commit {commit[:12]} is already {name} {ver.version}; "
                                   "tag a new commit (only a prerelease and its release may "
                                   "share one), or pass --force")
    if tagname in registry.tags:
        raise VersionError(f"tag {tagname} already exists")
    total = sum(f.size for f in spec.files)
    trailers = [("Model-Name", name), ("Model-Version", chosen.tag_text), ("Model-File", path)]
    trailers += [("Model-Oid", f.oid) for f in spec.files]
    trailers += [("Model-Size", str(total)), ("Model-Commit", commit)]
    for key, value in sorted(flatten(spec.metrics).items()):
        if isinstance(value, int | float | str | bool):
            trailers.append(("Metric", f"{key}={value}"))
    text = _message(f"Register {name} {chosen.tag_text}", message, trailers)
    git.create_tag(root, tagname, commit, text, sign=sign, date=_tag_date(state))
    return TagResult(tagname, REGISTRATION, name, chosen.tag_text, None, commit, sign)


def _model_name_of(root: Path, path: str) -> str | None:
    try:
        data = (root / path).read_bytes()
        return modelfile.loads(data, path).name
    except (OSError, GitmodelError):
        return None


def assign(name: str, version: str, stage: str, *, force: bool = False,
           message: str | None = None, cwd: Path | str | None = None) -> TagResult:
    """Put ``stage`` on a version: the tag ``NAME#STAGE#N`` on the version's commit."""
    repo = repo_at(cwd)
    v.check_stage(stage)
    policy = _load_policy(repo.root)
    if policy.allowed is not None and stage not in policy.allowed:
        raise VersionError(f"stage {stage!r} is not allowed (stages.allowed in .gitmodel.toml: "
                           f"{', '.join(policy.allowed)})")
    registry = read(repo.root, name)
    state = registry.model(name)
    ver = resolve_version(registry, v.ModelSpec(name, range=v.parse_range(version)))
    if stage in policy.order and not force:
        index = policy.order.index(stage)
        if index > 0:
            before = policy.order[index - 1]
            if not state.ever_assigned(ver, before):
                raise VersionError(
                    f"{name} {ver.version} was never in {before}, which comes before {stage} "
                    f"(stages.order in .gitmodel.toml): `git model assign {name} {ver.version} "
                    f"{before}` first, or pass --force")
    current = state.stages.get(stage)
    if current is not None and current.version == ver.version and not force:
        raise VersionError(f"{name} {ver.version} is already in {stage}")
    number = v.next_tag_number(state.numbers, name)
    tagname = v.format_assign(name, stage, number)
    trailers = [("Model-Name", name), ("Model-Version", ver.version), ("Model-Stage", stage),
                ("Model-Commit", ver.commit)]
    text = _message(f"Assign {name} {ver.version} to {stage}", message, trailers)
    git.create_tag(repo.root, tagname, ver.commit, text, date=_tag_date(state))
    return TagResult(tagname, ASSIGNMENT, name, ver.version, stage, ver.commit)


def unassign(name: str, stage: str, version: str | None = None, *, message: str | None = None,
             cwd: Path | str | None = None) -> TagResult:
    """Take ``stage`` off a version (default: the one it points at): ``NAME#STAGE!#N``."""
    repo = repo_at(cwd)
    registry = read(repo.root, name)
    state = registry.model(name)
    if version is None:
        ver = resolve_version(registry, v.ModelSpec(name, stage=stage))
    else:
        ver = resolve_version(registry, v.ModelSpec(name, range=v.parse_range(version)))
        if not state.stage_active_on(ver, stage):
            raise VersionError(f"{name} {ver.version} is not in {stage}")
    number = v.next_tag_number(state.numbers, name)
    tagname = v.format_unassign(name, stage, number)
    trailers = [("Model-Name", name), ("Model-Version", ver.version), ("Model-Stage", stage),
                ("Model-Commit", ver.commit)]
    text = _message(f"Unassign {stage} from {name} {ver.version}", message, trailers)
    git.create_tag(repo.root, tagname, ver.commit, text, date=_tag_date(state))
    return TagResult(tagname, UNASSIGNMENT, name, ver.version, stage, ver.commit)


def deregister(name: str, version: str, *, message: str | None = None,
               cwd: Path | str | None = None) -> TagResult:
    """Withdraw a version: ``NAME@vX.Y.Z!`` on its commit. Its stages go with it."""
    repo = repo_at(cwd)
    registry = read(repo.root, name)
    state = registry.model(name)
    ver = resolve_version(registry, v.ModelSpec(name, range=v.parse_range(version)))
    tagname = v.format_deregister(name, ver.semver)
    if tagname in registry.tags:
        number = v.next_tag_number(state.numbers, name)
        tagname = v.format_deregister(name, ver.semver, number)
    trailers = [("Model-Name", name), ("Model-Version", ver.version), ("Model-Commit", ver.commit)]
    text = _message(f"Deregister {name} {ver.version}", message, trailers)
    git.create_tag(repo.root, tagname, ver.commit, text, date=_tag_date(state))
    return TagResult(tagname, DEREGISTRATION, name, ver.version, None, ver.commit)


def deprecate(name: str, *, message: str | None = None,
              cwd: Path | str | None = None) -> TagResult:
    """Deprecate the whole model: ``NAME@deprecated`` (``#N`` from the second time)."""
    repo = repo_at(cwd)
    registry = read(repo.root, name)
    state = registry.model(name)
    if state.deprecated:
        raise VersionError(f"{name} is already deprecated")
    tagname = v.format_deprecate(name)
    if tagname in registry.tags:
        tagname = v.format_deprecate(name, v.next_tag_number(state.numbers, name))
    target = state.greatest.commit if state.greatest else git.head_commit(repo.root)
    if target is None:
        raise GitmodelError("nothing to tag: the repository has no commit")
    text = _message(f"Deprecate {name}", message, [("Model-Name", name)])
    git.create_tag(repo.root, tagname, target, text, date=_tag_date(state))
    return TagResult(tagname, DEPRECATION, name, None, None, target)
