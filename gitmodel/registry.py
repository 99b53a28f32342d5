"""Versions and stages, read from git tags in one ``git for-each-ref`` (docs/tags.md, issue 3).

The registry is the set of annotated tags of GTO's grammar (``NAME@vX.Y.Z``, ``NAME#STAGE#N``…).
:func:`read` asks git for every tag under ``refs/tags`` with its peeled commit, tagger, date,
subject, signature and trailers in ONE process, and folds them into :class:`ModelState` objects
the way iterative's ``gto`` 1.10 does, so both tools report the same versions and stages:

- a version is active while the later of its register and deregister tags is a register tag;
- a stage is on a version while the later of its assign and unassign tags at that version's
  commit is an assign tag; ``NAME#STAGE`` is the active version whose latest assign tag is the
  most recent (``gto show``'s default ``--sort timestamp``);
- a model is deprecated while its latest tag of any kind is a deprecate tag.

"Later" is by tagger date, which git and gto keep in whole seconds. gitmodel therefore writes each
tag of a model at least one second after the model's previous tag (see :func:`_tag_date`), so the
two tools never have to break a tie. For tags made elsewhere that do tie, gitmodel orders by the
tag's ``#N`` (the true order of creation) where gto falls back to how it happened to list them.

Writers here create tags (tag, assign, unassign, deprecate, deregister) and a rollback commit;
the CLI (cli_registry.py) prints. Nothing here prints.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gitmodel import git, modelfile
from gitmodel import semver as v
from gitmodel.errors import (
    ConfigError,
    CorruptObjectError,
    GitmodelError,
    InvalidModelFileError,
    ModelNotFoundError,
    ObjectMissingError,
    VersionError,
)
from gitmodel.modelfile import FileEntry, ModelFile

# -- reading tags -------------------------------------------------------------------------------

_FIELDS = (
    "%(refname:lstrip=2)", "%(objecttype)", "%(objectname)", "%(*objecttype)", "%(*objectname)",
    "%(taggername)", "%(taggeremail:trim)", "%(taggerdate:unix)", "%(contents:subject)",
    "%(contents:signature)", "%(trailers:only,unfold)",
)
# Fields end with US (0x1f), records with NUL: neither occurs in a tag name, and git strips NUL
# from messages. for-each-ref adds a newline after each record.
_FORMAT = "%1f".join(_FIELDS) + "%00"

REGISTRATION = "registration"
DEREGISTRATION = "deregistration"
ASSIGNMENT = "assignment"
UNASSIGNMENT = "unassignment"
DEPRECATION = "deprecation"
_KIND = {v.Register: REGISTRATION, v.Deregister: DEREGISTRATION, v.Assign: ASSIGNMENT,
         v.Unassign: UNASSIGNMENT, v.Deprecate: DEPRECATION}


def _trailer_values(raw: str, key: str) -> tuple[str, ...]:
    """Values of trailer ``key`` in git's ``%(trailers:only,unfold)`` text (``Key: value`` lines).

    Read on demand: parsing every tag's trailers up front was a third of `list`'s time at
    10,000 tags (benchmarks/RESULTS-registry.md).
    """
    if key not in raw:
        return ()
    prefix = key + ":"
    return tuple(line[len(prefix):].strip() for line in raw.splitlines()
                 if line.startswith(prefix))


def _trailer_dict(raw: str) -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    for line in raw.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            found.setdefault(key.strip(), []).append(value.strip())
    return {k: tuple(vals) for k, vals in found.items()}


@dataclass(frozen=True)
class Event:
    """One registry tag: a registration, deregistration, (un)assignment or deprecation."""

    kind: str  # gto's event names: registration, assignment, ...
    model: str
    tag: str
    commit: str
    timestamp: int  # tagger date, seconds since the epoch
    tagger: str
    tagger_email: str
    subject: str
    version: str | None  # "v1.2.3"; for (un)assignments the version at that commit
    stage: str | None
    number: int | None  # the tag's #N
    signed: bool
    raw_trailers: str = field(default="", repr=False, compare=False)

    @property
    def date(self) -> str:
        return _iso(self.timestamp)

    @property
    def trailers(self) -> dict[str, tuple[str, ...]]:
        return _trailer_dict(self.raw_trailers)

    def order_key(self) -> tuple[int, int, str]:
        return (self.timestamp, self.number if self.number is not None else -1, self.tag)

    def trailer(self, key: str) -> str | None:
        values = _trailer_values(self.raw_trailers, key)
        return values[0] if values else None


@dataclass(frozen=True)
class VersionInfo:
    """A registered version of a model, as its tags say (no tree is read)."""

    model: str
    version: str  # as in the tag: "v1.2.3"
    semver: v.Version
    commit: str
    tag: str
    timestamp: int
    tagger: str
    tagger_email: str
    subject: str
    signed: bool
    active: bool  # not deregistered
    stages: tuple[str, ...] = ()  # stages that currently resolve to this version
    raw_trailers: str = field(default="", repr=False, compare=False)

    @property
    def date(self) -> str:
        return _iso(self.timestamp)

    @property
    def model_file(self) -> str | None:
        """From the Model-File trailer (None for tags gitmodel did not write)."""
        values = _trailer_values(self.raw_trailers, "Model-File")
        return values[0] if values else None

    @property
    def oids(self) -> tuple[str, ...]:
        """From the Model-Oid trailers."""
        return _trailer_values(self.raw_trailers, "Model-Oid")

    @property
    def size(self) -> int | None:
        """From the Model-Size trailer."""
        values = _trailer_values(self.raw_trailers, "Model-Size")
        return int(values[0]) if values and values[0].isdigit() else None


@dataclass
class ModelState:
    """Everything the tags say about one model."""

    name: str
    versions: list[VersionInfo] = field(default_factory=list)  # greatest first, all of them
    stages: dict[str, VersionInfo] = field(default_factory=dict)  # stage -> current version
    deprecated: bool = False
    events: list[Event] = field(default_factory=list)  # oldest first
    numbers: list[v.TagEvent] = field(default_factory=list)  # every parsed tag, for #N

    @property
    def active_versions(self) -> list[VersionInfo]:
        return [ver for ver in self.versions if ver.active]

    @property
    def latest(self) -> VersionInfo | None:
        """The greatest active version that is not a prerelease (``NAME@latest``)."""
        return next((ver for ver in self.active_versions if not ver.semver.is_prerelease), None)

    @property
    def greatest(self) -> VersionInfo | None:
        """The greatest active version, prereleases included (what gto calls latest)."""
        return next(iter(self.active_versions), None)

    def find(self, version: str) -> VersionInfo | None:
        for ver in self.versions:
            if ver.version == version:
                return ver
        return None

    def ever_assigned(self, ver: VersionInfo, stage: str) -> bool:
        return any(e.kind == ASSIGNMENT and e.stage == stage and e.version == ver.version
                   for e in self.events)

    def stage_active_on(self, ver: VersionInfo, stage: str) -> bool:
        last = None
        for e in self.events:
            if e.stage == stage and e.version == ver.version and e.kind in (ASSIGNMENT,
                                                                             UNASSIGNMENT):
                last = e
        return last is not None and last.kind == ASSIGNMENT


@dataclass
class Registry:
    models: dict[str, ModelState] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    tags: set[str] = field(default_factory=set)  # every tag name, of any kind

    def model(self, name: str) -> ModelState:
        state = self.models.get(name)
        if state is None:
            raise ModelNotFoundError(
                f"model {name!r} has no versions; register one with "
                f"`git model tag {name} v0.1.0` (`git model list` shows every model)"
            )
        return state


def _iso(timestamp: int) -> str:
    return _dt.datetime.fromtimestamp(timestamp, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read(root: Path, name: str | None = None) -> Registry:
    """The registry of the repo at ``root``, from one ``git for-each-ref refs/tags``.

    With ``name``, only that model's tags are read (``NAME@*`` and ``NAME#*``): what every
    command about one model needs, at a cost that does not grow with other models' tags.
    """
    if name is None:
        patterns = ["refs/tags"]
    else:
        tagname = name.replace(":", "=")
        patterns = [f"refs/tags/{tagname}@*", f"refs/tags/{tagname}#*"]
    out = git.for_each_ref(root, _FORMAT, patterns)
    return parse_refs(out)


# Nearly every tag in a big registry is a plain ``name@vX.Y.Z``: read those with one regex and
# share one Version per distinct version text, and leave every other form to semver.parse_tag.
# At 10,000 tags this halves the Python side of `list` (benchmarks/RESULTS-registry.md);
# tests/test_registry.py checks that both readings agree.
_PLAIN_REGISTER = re.compile(
    r"([a-z0-9](?:[a-z0-9_/-]*[a-z0-9])?)@v(0|[1-9][0-9]{0,17})\.(0|[1-9][0-9]{0,17})"
    r"\.(0|[1-9][0-9]{0,17})", re.ASCII)


def parse_tag_fast(name: str, cache: dict[str, v.Version] | None = None) -> v.TagEvent | None:
    """:func:`gitmodel.semver.parse_tag`, with a fast path for plain register tags."""
    match = _PLAIN_REGISTER.fullmatch(name)
    if match is None or "//" in name:
        return v.parse_tag(name)
    text = name[len(match[1]) + 2:]
    version = cache.get(text) if cache is not None else None
    if version is None:
        version = v.Version(int(match[2]), int(match[3]), int(match[4]))
        if cache is not None:
            cache[text] = version
    return v.Register(match[1], version)


def parse_refs(out: str) -> Registry:
    """Fold ``for-each-ref`` output (see ``_FORMAT``) into a :class:`Registry`."""
    registry = Registry()
    raw: dict[str, list[Event]] = {}
    semvers: dict[str, v.Version] = {}
    seen_versions: dict[str, v.Version] = {}
    nfields = len(_FIELDS)
    for record in out.split("\0"):
        record = record.lstrip("\n")
        if not record:
            continue
        fields = record.split("\x1f")
        if len(fields) != nfields:
            registry.warnings.append(f"could not read tag record {fields[0]!r}; ignored")
            continue
        (name, otype, _oid, ptype, poid, tagger, email, date, subject, signature,
         trailers) = fields
        registry.tags.add(name)
        parsed = parse_tag_fast(name, seen_versions)
        if parsed is None:
            # Tags such as v1.0 or release-3 are the code's own; only near-misses of the
            # grammar (an '@' or '#' in them) are likely registry tags made by hand.
            if ("@" in name or "#" in name) and not name.endswith("@created"):
                registry.warnings.append(
                    f"tag {name} does not follow the registry grammar (NAME@vX.Y.Z, "
                    "NAME#STAGE#N, ...; see docs/tags.md) and was ignored"
                )
            continue
        if otype != "tag":
            registry.warnings.append(
                f"tag {name} is a lightweight tag, which the registry ignores (as gto does); "
                f"recreate it annotated: git tag -f -a {name} {name}^{{}} -m '...'"
            )
            continue
        if ptype != "commit":
            registry.warnings.append(f"tag {name} points at a {ptype or 'tag'}, not a commit; "
                                     "ignored")
            continue
        kind = _KIND[type(parsed)]
        version = stage = None
        if isinstance(parsed, v.Register | v.Deregister):
            version = parsed.version.tag_text
            semvers[version] = parsed.version
        elif isinstance(parsed, v.Assign | v.Unassign):
            stage = parsed.stage
        event = Event(kind, parsed.name, name, poid, int(date) if date.isdigit() else 0, tagger,
                      email, subject, version, stage, parsed.number, bool(signature),
                      trailers)
        events = raw.get(parsed.name)
        if events is None:
            events = raw[parsed.name] = []
            registry.models[parsed.name] = ModelState(parsed.name)
        events.append(event)
        registry.models[parsed.name].numbers.append(parsed)
    for name, events in raw.items():
        _fold(registry.models[name], events, semvers, registry.warnings)
    return registry


def _fold(state: ModelState, events: list[Event], semvers: Mapping[str, v.Version],
          warnings: list[str]) -> None:
    events.sort(key=Event.order_key)
    # 1. versions: the later of register/deregister wins
    direct: dict[str, list[Event]] = {}
    for e in events:
        if e.version is not None:
            direct.setdefault(e.version, []).append(e)
    latest_reg: dict[str, Event] = {}
    active: dict[str, bool] = {}
    for text, evs in direct.items():
        registrations = [e for e in evs if e.kind == REGISTRATION]
        if not registrations:
            warnings.append(f"tag {evs[0].tag} deregisters {state.name} {text}, which was never "
                            "registered; ignored")
            continue
        latest_reg[text] = registrations[-1]
        active[text] = evs[-1].kind == REGISTRATION
    by_commit: dict[str, list[str]] = {}
    for text, reg in latest_reg.items():
        by_commit.setdefault(reg.commit, []).append(text)
    # 2. (un)assignments name a commit; the version is the one registered there
    resolved: list[Event] = []
    for e in events:
        if e.kind in (ASSIGNMENT, UNASSIGNMENT):
            candidates = by_commit.get(e.commit, [])
            named = e.trailer("Model-Version") if len(candidates) > 1 else None
            pick = named if named in candidates else None
            if pick is None and candidates:
                # a prerelease and its release may share a commit: the release wins
                pick = max(candidates, key=lambda c: (active[c], semvers[c].precedence_key()))
            if pick is None:
                warnings.append(f"tag {e.tag}: no version of {state.name} is registered at "
                                f"commit {e.commit[:12]}; ignored")
                continue
            e = replace(e, version=pick)
        elif e.kind == DEREGISTRATION and e.version not in latest_reg:
            continue
        resolved.append(e)
    state.events = resolved
    # 3. stages: per (version, stage) the later of assign/unassign wins; per stage the version
    #    with the most recent active assignment is current
    last: dict[tuple[str, str], Event] = {}
    last_assign: dict[tuple[str, str], Event] = {}
    for e in resolved:
        if e.stage is not None and e.version is not None:
            last[(e.version, e.stage)] = e
            if e.kind == ASSIGNMENT:
                last_assign[(e.version, e.stage)] = e
    current: dict[str, Event] = {}
    for key, e in last.items():
        if e.kind != ASSIGNMENT or not active[key[0]]:
            continue
        held = current.get(key[1])
        if held is None or last_assign[key].order_key() > held.order_key():
            current[key[1]] = last_assign[key]
    stages_of: dict[str, list[str]] = {}
    for stage, e in sorted(current.items()):
        assert e.version is not None
        stages_of.setdefault(e.version, []).append(stage)
    infos = {}
    for text, reg in latest_reg.items():
        infos[text] = VersionInfo(
            state.name, text, semvers[text], reg.commit, reg.tag, reg.timestamp, reg.tagger,
            reg.tagger_email, reg.subject, reg.signed, active[text],
            tuple(stages_of.get(text, ())), reg.raw_trailers)
    state.versions = sorted(infos.values(), key=lambda i: (i.semver.precedence_key(),
                                                           i.semver.build), reverse=True)
    state.stages = {stage: infos[e.version] for stage, e in sorted(current.items())
                    if e.version is not None}
    state.deprecated = bool(resolved) and resolved[-1].kind == DEPRECATION


# -- resolving specs ----------------------------------------------------------------------------

def resolve_version(registry: Registry, spec: v.ModelSpec) -> VersionInfo:
    """The version ``NAME@RANGE`` or ``NAME#STAGE`` picks; VersionError naming what exists."""
    state = registry.model(spec.name)
    if spec.stage is not None:
        found = state.stages.get(spec.stage)
        if found is None:
            held = ", ".join(f"{s}={ver.version}" for s, ver in state.stages.items()) or "none"
            raise VersionError(f"no version of {spec.name} is in stage {spec.stage} "
                               f"(stages: {held})")
        return found
    assert spec.range is not None
    active = state.active_versions
    if spec.range.is_latest:
        found = state.latest
    else:
        best = spec.range.best(ver.semver for ver in active)
        found = next((ver for ver in active if best is not None and ver.semver == best), None)
    if found is None:
        listing = ", ".join(ver.version for ver in active) or "none"
        extra = ""
        gone = [ver.version for ver in state.versions if not ver.active]
        if gone:
            extra = f"; deregistered: {', '.join(gone)}"
        raise VersionError(f"no version of {spec.name} matches {spec.range} "
                           f"(versions: {listing}{extra})")
    return found


def parse_version_spec(text: str) -> v.ModelSpec:
    spec = v.parse_spec(text)
    if spec.range is None and spec.stage is None:
        raise VersionError(f"{text!r} names no version: use NAME@v1.2.3, NAME@^1, NAME@latest "
                           "or NAME#STAGE")
    return spec


# -- stage policy (the committed .gitmodel.toml) ------------------------------------------------

@dataclass(frozen=True)
class StagePolicy:
    allowed: tuple[str, ...] | None = None  # None: any stage
    order: tuple[str, ...] = ()  # promotion order, e.g. dev, staging, prod


def stage_policy(raw: Mapping[str, Any]) -> StagePolicy:
    """``[stages] allowed = [...]``, ``order = [...]`` from the project config."""
    table = raw.get("stages")
    if table is None:
        return StagePolicy()
    if not isinstance(table, dict):
        raise ConfigError(".gitmodel.toml: [stages] must be a table")
    lists: dict[str, tuple[str, ...] | None] = {}
    for key in ("allowed", "order"):
        value = table.get(key)
        if value is None:
            lists[key] = None
            continue
        if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
            raise ConfigError(f".gitmodel.toml: stages.{key} must be a list of stage names")
        try:
            lists[key] = tuple(v.check_stage(s) for s in value)
        except VersionError as exc:
            raise ConfigError(f".gitmodel.toml: stages.{key}: {exc}") from None
    allowed, order = lists["allowed"], lists["order"] or ()
    if allowed is not None:
        outside = [s for s in order if s not in allowed]
        if outside:
            raise ConfigError(f".gitmodel.toml: stages.order names {outside[0]}, which is not "
                              "in stages.allowed")
    return StagePolicy(allowed, order)


def _load_policy(root: Path) -> StagePolicy:
    from gitmodel import config as config_mod

    return stage_policy(config_mod.load(root).raw)


# -- model files at a commit --------------------------------------------------------------------

def models_at(root: Path, commit: str) -> tuple[dict[str, tuple[str, ModelFile]], list[str]]:
    """Model files in the tree of ``commit`` by model name: (path, parsed), plus errors."""
    paths = git.tree_paths(root, commit, modelfile.SUFFIX)
    blobs = git.read_blobs(root, [f"{commit}:{p}" for p in paths])
    found: dict[str, tuple[str, ModelFile]] = {}
    errors = []
    for path in paths:
        data = blobs.get(f"{commit}:{path}")
        if data is None:
            continue
        try:
            spec = modelfile.loads(data, path)
        except GitmodelError as exc:
            errors.append(str(exc))
            continue
        found[spec.name] = (path, spec)
    return found, errors


def model_file_of(root: Path, ver: VersionInfo) -> tuple[str, ModelFile, bytes]:
    """The model file of version ``ver``, read from its commit: (path, parsed, bytes)."""
    if ver.model_file:
        spec_key = f"{ver.commit}:{ver.model_file}"
        data = git.read_blobs(root, [spec_key]).get(spec_key)
        if data is not None:
            parsed = modelfile.loads(data, f"{ver.model_file} at {ver.tag}")
            if parsed.name == ver.model:
                return ver.model_file, parsed, data
    found, errors = models_at(root, ver.commit)
    if ver.model in found:
        path, parsed = found[ver.model]
        key = f"{ver.commit}:{path}"
        return path, parsed, git.read_blobs(root, [key])[key] or b""
    detail = f" ({errors[0]})" if errors else ""
    raise InvalidModelFileError(ver.tag, f"commit {ver.commit[:12]} has no model file for "
                                         f"{ver.model}{detail}")


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


def _repo(cwd: Path | str | None) -> git.Repo:
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


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
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

    repo = _repo(cwd)
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
        raise ModelNotFoundError(f"unknown model {name!r} (models at {rev}: {names}){detail}")
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
    for key, value in sorted(_flatten(spec.metrics).items()):
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
    repo = _repo(cwd)
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
    repo = _repo(cwd)
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
    repo = _repo(cwd)
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
    repo = _repo(cwd)
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
    repo = _repo(cwd)
    registry = read(repo.root)
    warnings = list(registry.warnings)
    work_tree: dict[str, tuple[str, int]] = {}
    for path in git.ls_files(repo.root, [modelfile.PATHSPEC]):
        target = repo.root / path
        try:
            if target.is_symlink() or not target.is_file():
                continue
            with open(target, "rb") as stream:
                spec = modelfile.loads(stream.read(modelfile.MAX_MODEL_FILE_BYTES + 1), path)
        except OSError:
            continue
        except GitmodelError as exc:
            warnings.append(str(exc))
            continue
        work_tree[spec.name] = (path, spec.size)
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
    repo = _repo(cwd)
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
    repo = _repo(cwd)
    return list(reversed(read(repo.root, name).model(name).events))


def list_versions(name: str, cwd: Path | str | None = None) -> list[VersionInfo]:
    """Every active version of ``name``, greatest first."""
    repo = _repo(cwd)
    return read(repo.root, name).model(name).active_versions


def current_stages(name: str, cwd: Path | str | None = None) -> dict[str, VersionInfo]:
    """Stage -> the version ``NAME#STAGE`` resolves to."""
    repo = _repo(cwd)
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
    a, b = _flatten(old), _flatten(new)
    out = []
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if x == y and (key in a) == (key in b):
            continue
        delta = None
        numeric = (int, float)
        if (with_delta and isinstance(x, numeric) and isinstance(y, numeric)
                and not isinstance(x, bool) and not isinstance(y, bool)):
            delta = y - x
        out.append(ValueChange(key, x, y, delta))
    return tuple(out)


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

    repo = _repo(cwd)
    spec = v.parse_spec(spec_text)
    if spec.range is None and spec.stage is None:
        model = _work_tree_model(repo.root, spec.name)
        files, artifact = model.files, model.spec.artifact
    else:
        ver = resolve_version(read(repo.root, spec.name), spec)
        _, parsed, _ = model_file_of(repo.root, ver)
        files, artifact = parsed.files, parsed.artifact
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

    repo = _repo(cwd)
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
    repo = _repo(cwd)
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

    repo = _repo(cwd)
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
