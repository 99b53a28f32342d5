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

This module reads and resolves; tagging.py writes tags and catalog.py answers the commands
(list, show, history, diff, resolve, check-ref, verify). Nothing here prints.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gitmodel import git, modelfile
from gitmodel import semver as v
from gitmodel.errors import (
    ConfigError,
    GitmodelError,
    InvalidModelFileError,
    ModelNotFoundError,
    VersionError,
)
from gitmodel.modelfile import ModelFile

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
    10,000 tags (benchmarks/NOTES.md).
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
    root: Path | None = None  # the repo read, so that an error can say which models exist

    def model(self, name: str) -> ModelState:
        state = self.models.get(name)
        if state is None:
            if self.root is not None:
                raise no_such_model(self.root, name)
            raise ModelNotFoundError(
                f"model {name!r} has no versions (`git model list` shows every model; a new "
                "model first needs `git model add PATH`, a commit, then `git model tag`)")
        return state


def no_such_model(root: Path, name: str) -> ModelNotFoundError:
    """The error for a model without versions, naming what exists and the next command: a model
    whose model file is in the index needs `git model tag`; any other name `git model add`
    (issue 7: advising `tag` for a model that does not exist led to "unknown model")."""
    staged = set()
    for path in git.ls_files(root, [modelfile.PATHSPEC]):
        try:
            staged.add(modelfile.loads((root / path).read_bytes(), path).name)
        except (OSError, GitmodelError):
            continue
    if name in staged:
        return ModelNotFoundError(f"model {name!r} has no versions yet; register one with "
                                  f"`git model tag {name} v0.1.0`")
    known = sorted(staged | set(read(root).models))
    shown = ", ".join(known[:10]) + (f" and {len(known) - 10} more" if len(known) > 10 else "")
    return ModelNotFoundError(
        f"unknown model {name!r} ({f'models: {shown}' if known else 'no models yet'}); "
        f"a new model starts with `git model add PATH --name {name}`")


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
    registry = parse_refs(out)
    registry.root = root
    return registry


# Nearly every tag in a big registry is a plain ``name@vX.Y.Z``: read those with one regex and
# share one Version per distinct version text, and leave every other form to semver.parse_tag.
# At 10,000 tags this halves the Python side of `list` (benchmarks/NOTES.md);
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
