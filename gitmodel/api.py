"""The public Python API. Every function returns values and raises :class:`GitmodelError`
subclasses; nothing here prints (the CLI does).
"""

from __future__ import annotations

import json
import os
import time
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitmodel import config as config_mod
from gitmodel import git, locking, modelfile
from gitmodel import workspace as workspace_mod
from gitmodel.errors import (
    ConfigError,
    GitError,
    GitmodelError,
    InvalidModelFileError,
    ObjectMissingError,
    UnsafePathError,
)
from gitmodel.fileio import write_atomic
from gitmodel.hashing import Progress
from gitmodel.modelfile import DataInput, FileEntry, ModelFile
from gitmodel.workspace import (
    Model,
    ModelStatus,
    RestoreResult,
    State,
    Workspace,
    check_unique_names,
    load_model,
    load_models,
    mark_synced,
    model_status,
    restore,
    select_models,
)

if TYPE_CHECKING:
    from gitmodel.tagging import TagResult


def open_workspace(cwd: Path | str | None = None) -> Workspace:
    return workspace_mod.open_workspace(cwd)  # where the hook finds it without importing api


# -- add --------------------------------------------------------------------------------------

@dataclass
class AddResult:
    name: str
    model_file: str
    artifact: str
    files: int
    size: int
    changed: bool  # the bytes differ from the previous model file (or it is new)
    hashed: int  # bytes actually read (0 when the stat cache knew every file)
    dropped: list[str] = field(default_factory=list)  # metadata dropped because the bytes changed
    # the bytes changed and the description was carried over from the previous model file: it
    # says what the model is, where params and metrics measured the old bytes (issue 7)
    kept_description: bool = False
    untracked: list[str] = field(default_factory=list)  # paths removed from git's index
    # lineage that could not be recorded whole: environment metadata skipped, a command the
    # model-file rules cannot hold (issue 12: `add` never fails because of it)
    notes: list[str] = field(default_factory=list)
    environment: modelfile.Environment | None = None  # as recorded (None: none recorded)


@dataclass(frozen=True)
class Recording:
    """What an `add` records of how the model was made, beside its bytes (issue 12).

    ``environment`` is which Python environment to read: ``"process"`` (this process, for
    training code calling the API), ``"cli"`` (the active venv or conda environment, else the
    ``python3`` on PATH) or ``""`` (none). ``command`` (None: no ``[run]``) with the times and
    exit status when `git model run` measured them."""

    environment: str = ""
    command: tuple[str, ...] | None = None
    started: float | None = None
    ended: float | None = None
    exit_status: int | None = None


def _repo_relative(ws: Workspace, path: Path | str) -> str:
    """``path`` as a repo-relative posix path, refusing paths outside the repo or symlinked."""
    given = Path(path)
    absolute = given if given.is_absolute() else Path.cwd() / given
    absolute = Path(os.path.normpath(absolute))
    root = ws.root.resolve()
    try:
        relative = absolute.relative_to(root)
    except ValueError:
        try:
            relative = absolute.resolve().relative_to(root)
        except ValueError:
            raise UnsafePathError(f"{path} is outside the repository {root}") from None
    if not relative.parts:
        raise UnsafePathError(f"{path} is the repository itself; name an artifact (a file or "
                              "folder) inside it")
    current = root
    for part in relative.parts:
        current = current / part
        if current.is_symlink():
            raise UnsafePathError(
                f"{current.relative_to(root)} is a symlink; gitmodel adds real files only "
                "(add the file it points to instead)"
            )
    rel = relative.as_posix()
    try:
        modelfile.check_relative_path(rel, "path")
    except ValueError as exc:
        raise UnsafePathError(f"cannot add {path}: {exc}") from None
    return rel


def _artifact_files(ws: Workspace, rel: str) -> list[str]:
    """Repo-relative files of the artifact at ``rel`` (itself, or every file in the folder)."""
    target = ws.root / rel
    if not target.exists():
        raise GitmodelError(f"{rel} does not exist; train or copy the model there first")
    if target.is_file():
        return [rel]
    if not target.is_dir():
        raise GitmodelError(f"{rel} is neither a file nor a folder")
    files = []
    for dirpath, dirnames, filenames in os.walk(target):
        dirnames.sort()
        for name in dirnames:
            if Path(dirpath, name).is_symlink():
                raise UnsafePathError(f"{Path(dirpath, name).relative_to(ws.root)} is a symlink; "
                                      "gitmodel adds real files only")
        for name in sorted(filenames):
            full = Path(dirpath, name)
            if full.is_symlink():
                raise UnsafePathError(f"{full.relative_to(ws.root)} is a symlink; "
                                      "gitmodel adds real files only")
            files.append(full.relative_to(ws.root).as_posix())
    if not files:
        raise GitmodelError(f"{rel} is an empty folder; there is nothing to add")
    return sorted(files)


def load_values_file(path: Path | str) -> dict[str, Any]:
    """Params or metrics from a YAML, JSON or TOML file (a table at the top)."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise GitmodelError(f"cannot read {path}: {exc.strerror}") from None
    suffix = source.suffix.lower()
    try:
        if suffix == ".json":
            data = json.loads(text)
        elif suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            import yaml  # imported here: only --params/--metrics files need it

            data = yaml.safe_load(text)
        else:
            raise GitmodelError(f"{path}: use a .yaml, .yml, .json or .toml file")
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise GitmodelError(f"{path} is not valid {suffix[1:].upper()}: {_one_line(exc)}") from None
    except Exception as exc:
        if type(exc).__module__.startswith("yaml"):  # PyYAML's messages span several lines
            raise GitmodelError(f"{path} is not valid YAML: {_one_line(exc)}") from None
        raise
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise GitmodelError(f"{path} must hold a mapping of names to values at the top")
    return _toml_safe(data, str(path))


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _toml_safe(value: Any, where: str) -> Any:
    """TOML has no null; refuse values it cannot hold rather than write a broken file."""
    if isinstance(value, dict):
        return {str(k): _toml_safe(v, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_toml_safe(v, where) for v in value]
    if value is None:
        raise GitmodelError(f"{where}: null values cannot be stored in a model file")
    return value


def parse_assignments(items: Iterable[str], what: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise GitmodelError(f"--{what} {item!r}: expected KEY=VALUE, for example lr=3e-4")
        values[key.strip()] = modelfile.parse_scalar(raw.strip())
    return values



def _ignore_line(rel: str, is_dir: bool) -> tuple[Path, str]:
    """The .gitignore in the artifact's folder (repo-relative) and the anchored line for it."""
    parent, _, name = rel.rpartition("/")
    return Path(parent) / ".gitignore", f"/{name}/" if is_dir else f"/{name}"


def _ignore_artifact(ws: Workspace, rel: str, is_dir: bool) -> str | None:
    """Add the artifact's ignore line to its folder's .gitignore; return the line if it was
    added (None if it was there). Read, modify and write happen under the add lock."""
    gitignore_rel, line = _ignore_line(rel, is_dir)
    gitignore = ws.root / gitignore_rel
    existing = gitignore.read_text(encoding="utf-8") if gitignore.exists() else ""
    if line in existing.splitlines():
        return None
    prefix = "" if not existing or existing.endswith("\n") else "\n"
    write_atomic(gitignore, f"{existing}{prefix}{line}\n".encode())
    return line


def _unignore(ws: Workspace, rel: str, is_dir: bool) -> None:
    """Take back the one ignore line a failed add wrote, leaving every other line as it is now
    (not as it was when the add began: another command may have added its own since)."""
    gitignore_rel, line = _ignore_line(rel, is_dir)
    gitignore = ws.root / gitignore_rel
    try:
        lines = gitignore.read_text(encoding="utf-8").splitlines(keepends=True)
    except FileNotFoundError:
        return
    kept = [ln for ln in lines if ln.rstrip("\n") != line]
    if not kept:
        gitignore.unlink()
    elif kept != lines:
        write_atomic(gitignore, "".join(kept).encode())


def add(
    paths: Sequence[Path | str],
    *,
    name: str | None = None,
    params: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    data: Sequence[Path | str] = (),
    description: str | None = None,
    progress: Progress | None = None,
    plan: Callable[[int, int], None] | None = None,
    cwd: Path | str | None = None,
    recording: Recording | None = None,
) -> list[AddResult]:
    """Cache the artifacts at ``paths``, write their model files, and stage them.

    All model files of one call are written and staged together (one ``git add``), and if
    staging fails every file is put back as it was. ``plan(files, nbytes)`` is told, before any
    hashing, how many files and bytes the stat cache does not know (what ``progress`` will count),
    so a progress bar can show a total, as push and pull do.

    Lock files at the code commit are recorded for every model whose bytes are new; the
    environment and the command as ``recording`` asks (none by default).
    """
    ws = open_workspace(cwd)
    if name is not None and len(paths) != 1:
        raise GitmodelError("--name needs exactly one path")
    if not paths:
        raise GitmodelError("name at least one artifact (a file or folder) to add")
    models = load_models(ws.root, conflicts=False).models
    if plan is not None:
        plan(*_to_hash(ws, paths, data))
    provenance = _Provenance(ws, recording or Recording())
    plans = []
    for path in paths:
        step = _plan_add(ws, models, path, name, params, metrics, data, description, progress,
                         provenance)
        models = [m for m in models if m.model_file != step.model.model_file] + [step.model]
        plans.append(step)
    # one look at the index for all of them: artifacts git tracks (to untrack), and what is
    # staged for the model files and ignore files (a re-add of unchanged bytes stages nothing)
    # the index and the .gitignore files are shared with every other add: one at a time
    with locking.held(ws.repo.worktree_state_dir / "add.lock", "staging models"):
        index = git.index_blobs(ws.root, sorted(
            {p for step in plans for p in (step.artifact, step.model.model_file, step.gitignore)}))
        for step in plans:
            step.tracked[:] = [p for p in index
                               if p == step.artifact or p.startswith(step.artifact + "/")]
        try:
            _write_and_stage(ws, plans, index)
        except GitError as exc:
            if "index.lock" not in exc.stderr:
                raise
            raise GitmodelError(locking.index_lock_problem(
                ws.repo.git_dir / "index.lock", ws.root)) from None
    mark_synced(ws, [step.model for step in plans])
    return [step.result for step in plans]


def _to_hash(ws: Workspace, paths: Sequence[Path | str],
             data: Sequence[Path | str]) -> tuple[int, int]:
    """(files, bytes) that adding ``paths`` with inputs ``data`` will hash: files the stat cache
    does not know (or, for an artifact, whose object the cache lacks). A path that is wrong
    counts nothing: adding it reports the problem."""
    files = nbytes = 0
    seen: set[str] = set()
    for is_input, path in [*((False, p) for p in paths), *((True, d) for d in data)]:
        try:
            rel = _repo_relative(ws, path)
            listed = _artifact_files(ws, rel)
        except GitmodelError:
            continue
        for file_rel in listed:
            if file_rel in seen:
                continue
            seen.add(file_rel)
            target = ws.root / file_rel
            try:
                stat = target.stat()
            except OSError:
                continue
            known = ws.stat_cache.lookup(target, stat)
            if known is None or not (is_input or ws.store.has(known)):
                files += 1
                nbytes += stat.st_size
    return files, nbytes


class _Provenance:
    """Who made a model, from which commit, and whether the tree was dirty: asked of git once
    per `add`, however many models it adds."""

    def __init__(self, ws: Workspace, recording: Recording) -> None:
        self.ws = ws
        self.recording = recording
        self._values: tuple[str, str, str, bool] | None = None
        self._lineage: _Lineage | None = None

    def get(self) -> tuple[str, str, str, bool]:
        if self._values is None:
            root = self.ws.root
            commit = git.head_commit(root) or ""
            dirty = bool(commit) and git.is_dirty(
                root, exclude=[modelfile.PATHSPEC, ".gitignore", "**/.gitignore",
                               config_mod.CONFIG_FILE])
            self._values = (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                            git.identity(root), commit, dirty)
        return self._values

    def lineage(self) -> _Lineage:
        """Lock files, environment and run: read once per `add`, for the models whose bytes are
        new (lineage describes how the bytes were made)."""
        if self._lineage is None:
            from gitmodel import lineage
            from gitmodel.lineage import locks, run

            recording = self.recording
            notes: list[str] = []
            commit = self.get()[2]
            environment = None
            if recording.environment:
                target = (lineage.process_target() if recording.environment == "process"
                          else lineage.cli_target())
                captured = lineage.capture(target)
                lineage.save_listing(self.ws.repo.model_dir, captured)
                environment = captured.environment
                if environment.skipped:
                    notes.append(f"environment: skipped {len(environment.skipped)} item(s) it "
                                 "could not read (`git model show NAME --env` lists them)")
            made = None
            if recording.command is not None:
                record_host = self.ws.config.raw.get("lineage", {}).get("record-host") is not False
                made, note = run.make_run(recording.command, record_host=record_host,
                                          started=recording.started, ended=recording.ended,
                                          exit_status=recording.exit_status)
                if note:
                    notes.append(note)
            self._lineage = _Lineage(locks.lock_files(self.ws.root, commit), environment, made,
                                     notes)
        return self._lineage


@dataclass(frozen=True)
class _Lineage:
    locks: tuple[modelfile.LockFile, ...]
    environment: modelfile.Environment | None
    run: modelfile.Run | None
    notes: list[str]


@dataclass
class _AddPlan:
    model: Model
    text: str
    artifact: str
    is_dir: bool
    tracked: list[str]
    result: AddResult

    @property
    def gitignore(self) -> str:
        """The .gitignore in the artifact's folder (repo-relative)."""
        parent = self.artifact.rpartition("/")[0]
        return f"{parent}/.gitignore" if parent else ".gitignore"


def _plan_add(ws: Workspace, models: list[Model], path: Path | str, name: str | None,
              params: dict[str, Any] | None, metrics: dict[str, Any] | None,
              data: Sequence[Path | str], description: str | None,
              progress: Progress | None, provenance: _Provenance) -> _AddPlan:
    rel = _repo_relative(ws, path)
    if modelfile.is_model_file_path(rel) or rel == config_mod.CONFIG_FILE:
        raise GitmodelError(f"{rel} is gitmodel's own file; add the artifact it describes")
    model_file_rel = modelfile.model_file_path_for(rel)
    existing: ModelFile | None = None
    if (ws.root / model_file_rel).exists():
        existing = _read_model(ws, model_file_rel)
    for other in models:
        if other.model_file != model_file_rel and rel.startswith(other.artifact_path + "/"):
            raise GitmodelError(f"{rel} is inside the artifact of model {other.spec.name}")
    model_name = name or (existing.name if existing else modelfile.normalize_name(
        Path(rel).name.split(".")[0] if not (ws.root / rel).is_dir() else Path(rel).name))
    if not model_name or not modelfile.NAME_RE.fullmatch(model_name) or "//" in model_name:
        raise GitmodelError(
            f"model name {model_name!r} is not valid: use lowercase letters, digits, '-', '_' "
            "or '/', starting and ending with a letter or digit (pass --name)"
        )
    is_dir = (ws.root / rel).is_dir()
    files = _artifact_files(ws, rel)
    base = rel.rpartition("/")[0]
    hashed = 0
    entries = []
    for file_rel in files:
        target = ws.root / file_rel
        stat = target.stat()
        known = ws.stat_cache.lookup(target, stat)
        if known is not None and ws.store.has(known):
            oid, size = known, stat.st_size
        else:
            started = time.time_ns()
            oid, size = ws.store.put_file(target, progress)
            hashed += size
            after = target.stat()
            if (after.st_mtime_ns, after.st_size) == (stat.st_mtime_ns, stat.st_size):
                ws.stat_cache.record(target, after, oid, started)
        entries.append(FileEntry(file_rel[len(base) + 1:] if base else file_rel, oid, size))
    artifact = rel[len(base) + 1:] if base else rel
    candidate = Model(model_file_rel, ModelFile(name=model_name, artifact=artifact,
                                                files=tuple(entries)))
    check_unique_names([m for m in models if m.model_file != model_file_rel] + [candidate])

    changed = existing is None or {(f.path, f.oid) for f in existing.files} != {
        (f.path, f.oid) for f in entries}
    dropped: list[str] = []
    kept_description = False
    if existing is not None and not changed:
        new_params = {**existing.params, **(params or {})}
        new_metrics = {**existing.metrics, **(metrics or {})}
        new_data = {d.path: d for d in existing.data}
        new_description = existing.description if description is None else description
        created, author = existing.created, existing.author
        commit, dirty = existing.code_commit, existing.code_dirty
        locks, environment, made, notes = (existing.locks, existing.environment, existing.run,
                                           [])
    else:
        new_params, new_metrics, new_data = dict(params or {}), dict(metrics or {}), {}
        new_description = description if description is not None else (
            existing.description if existing is not None else "")
        kept_description = description is None and bool(new_description)
        if existing is not None:
            dropped += [f"param {k}" for k in existing.params if k not in new_params]
            dropped += [f"metric {k}" for k in existing.metrics if k not in new_metrics]
            dropped += [f"data {d.path}" for d in existing.data]
        created, author, commit, dirty = provenance.get()
        recorded = provenance.lineage()
        locks, environment, made = recorded.locks, recorded.environment, recorded.run
        notes = list(recorded.notes)
    for data_path in data:
        entry = _data_input(ws, data_path, commit, progress)
        new_data[entry.path] = entry
        dropped = [d for d in dropped if d != f"data {entry.path}"]
    spec = ModelFile(
        name=model_name, artifact=artifact, files=tuple(entries), description=new_description,
        created=created, author=author, code_commit=commit, code_dirty=dirty,
        params=new_params, metrics=new_metrics, data=tuple(new_data.values()),
        locks=locks, environment=environment, run=made,
    )
    text = modelfile.dumps(spec)
    modelfile.loads(text.encode(), model_file_rel)  # never write what we could not read back
    tracked: list[str] = []  # filled by add() from one look at the index for every plan
    result = AddResult(name=model_name, model_file=model_file_rel, artifact=rel,
                       files=len(entries), size=spec.size, changed=changed, hashed=hashed,
                       dropped=dropped, kept_description=kept_description, untracked=tracked,
                       notes=notes, environment=environment)
    return _AddPlan(Model(model_file_rel, spec), text, rel, is_dir, tracked, result)


def _already_staged(ws: Workspace, plans: list[_AddPlan], index: dict[str, str]) -> bool:
    """Whether every model file would be written as it is on disk and in the index, with its
    ignore line in place: then `add` need not run `git add` (one git call instead)."""
    expected: dict[str, bytes] = {}
    for plan in plans:
        if plan.tracked:
            return False
        model_file = ws.root / plan.model.model_file
        data = plan.text.encode()
        if not model_file.is_file() or model_file.read_bytes() != data:
            return False
        expected[plan.model.model_file] = data
        name = plan.artifact.rpartition("/")[2]
        gitignore = ws.root / plan.gitignore
        line = f"/{name}/" if plan.is_dir else f"/{name}"
        if not gitignore.is_file():
            return False
        ignore_data = gitignore.read_bytes()
        if line not in ignore_data.decode("utf-8", "replace").splitlines():
            return False
        expected[plan.gitignore] = ignore_data
    return all(index.get(path) == git.blob_id(data) for path, data in expected.items())


def _write_and_stage(ws: Workspace, plans: list[_AddPlan], index: dict[str, str]) -> None:
    """Write every model file and ignore line, untrack artifacts, and stage, in one git add;
    on failure put every file back as it was."""
    touched: dict[Path, bytes | None] = {}  # model files: each is this add's own
    ignored: list[_AddPlan] = []  # plans whose ignore line this add wrote

    if _already_staged(ws, plans, index):
        return  # re-adding unchanged bytes with no new metadata: nothing to write or stage
    to_stage: list[str] = []
    to_untrack: list[str] = []
    try:
        for plan in plans:
            model_file_abs = ws.root / plan.model.model_file
            if model_file_abs not in touched:
                touched[model_file_abs] = (model_file_abs.read_bytes()
                                           if model_file_abs.exists() else None)
            write_atomic(model_file_abs, plan.text.encode())
            if _ignore_artifact(ws, plan.artifact, plan.is_dir) is not None:
                ignored.append(plan)
            to_stage += [plan.model.model_file, plan.gitignore]
            if plan.tracked:
                to_untrack.append(plan.artifact)
        if to_untrack:
            git.rm_cached(ws.root, to_untrack)
        git.add(ws.root, sorted(set(to_stage)))
    except BaseException:
        # leave the work tree as it was: model files back, and only our own ignore lines out
        for path, content in touched.items():
            if content is None:
                path.unlink(missing_ok=True)
            else:
                write_atomic(path, content)
        for plan in ignored:
            _unignore(ws, plan.artifact, plan.is_dir)
        raise


def _read_model(ws: Workspace, model_file_rel: str) -> ModelFile:
    return load_model(ws.root, model_file_rel).spec


def _data_input(ws: Workspace, path: Path | str, commit: str,
                progress: Progress | None) -> DataInput:
    """A --data input: a DVC or Git LFS pointer's hash (read without the data), else a file's
    oid, or for a folder the oid of its sorted file listing (docs/model-file.md)."""
    from gitmodel.lineage import data as data_mod

    rel = _repo_relative(ws, path)
    return data_mod.data_input(ws.root, rel, commit, ws.stat_cache,
                               lambda folder: _artifact_files(ws, folder), progress)


# -- tracking from training code ------------------------------------------------------------------

def track(path: Path | str, *, name: str | None = None, params: dict[str, Any] | None = None,
          metrics: dict[str, Any] | None = None, data: Sequence[Path | str] = (),
          description: str | None = None, cwd: Path | str | None = None) -> AddResult:
    """``gitmodel.add``: what `git model add` does, called from a training script, which also
    records the script's environment (this interpreter's installed packages) and its command
    line. The command is ``sys.orig_argv``, the interpreter and its options included
    (``python -m pkg.train --lr 3e-4``), which ``sys.argv`` loses: re-running it needs them."""
    import sys

    argv = tuple(getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv])
    return add([path], name=name, params=_from_code(params, "params") if params else None,
               metrics=_from_code(metrics, "metrics") if metrics else None, data=data,
               description=description, cwd=cwd,
               recording=Recording(environment="process", command=argv))[0]


def _from_code(value: Any, where: str) -> Any:
    """Params or metrics a training script passed, as TOML can hold them: numpy scalars (what
    ``loss.item()`` was not called on) become Python numbers, tuples arrays."""
    if isinstance(value, dict):
        return {str(k): _from_code(v, where) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_from_code(v, where) for v in value]
    if value is None:
        raise GitmodelError(f"{where}: None cannot be stored in a model file (TOML has no null)")
    if isinstance(value, str | int | float | bool):
        return value
    item = getattr(value, "item", None)  # numpy and torch scalars
    if callable(item):
        plain = item()
        if isinstance(plain, str | int | float | bool):
            return plain
    raise GitmodelError(f"{where}: a {type(value).__name__} cannot be stored in a model file; "
                        "pass numbers, strings, booleans, lists or dicts")


def tag(name: str, version: str | None = None, *, bump: str | None = None,
        message: str | None = None, cwd: Path | str | None = None) -> TagResult:
    """``gitmodel.tag``: register a version of ``name`` on HEAD (``version`` such as
    ``v1.2.0``, or ``bump`` = major/minor/patch after the greatest), as `git model tag`."""
    from gitmodel import tagging

    return tagging.tag_version(name, version, bump=bump, message=message, cwd=cwd)


def assign(name: str, version: str, stage: str, *, message: str | None = None,
           cwd: Path | str | None = None) -> TagResult:
    """``gitmodel.assign``: put ``stage`` (prod, staging…) on a version, as `git model assign`."""
    from gitmodel import tagging

    return tagging.assign(name, version, stage, message=message, cwd=cwd)


# -- lineage ------------------------------------------------------------------------------------

@dataclass
class EnvironmentReport:
    """The environment a version was made in: what its model file records, and the full package
    list from the cache (None when this clone's cache does not hold it: it was recorded on
    another machine, or before lineage was recorded)."""

    name: str
    version: str | None  # None: the work tree's model file
    model_file: str
    environment: modelfile.Environment | None
    packages: list[tuple[str, str]] | None


def environment_of(spec: str, *, cwd: Path | str | None = None) -> EnvironmentReport:
    """``git model show --env``: the recorded environment of ``spec`` (``NAME``, ``NAME@v1.2.0``,
    ``NAME#prod``) with its full package list when the cache has it."""
    from gitmodel import catalog, lineage

    mv = catalog.show(spec, cwd)
    env = mv.spec.environment
    packages = None
    if env is not None and env.listing:
        packages = lineage.load_listing(git.find_repo(cwd).model_dir, env.listing)
    return EnvironmentReport(mv.name, mv.version, mv.model_file, env, packages)


# -- status / checkout --------------------------------------------------------------------------

def status(names: Sequence[str] = (), *, cwd: Path | str | None = None,
           progress: Progress | None = None) -> tuple[list[ModelStatus], list[str]]:
    """Status of each model (or of ``names``), and the model files that could not be read."""
    ws = open_workspace(cwd)
    loaded = load_models(ws.root, strict=False, parsed=ws.parsed)
    ws.parsed.save()
    models = select_models(loaded.models, names)
    # one read of the stat cache for every file, instead of one query per file
    ws.stat_cache.prefetch(ws.root / rel for m in models for rel, _ in m.file_targets())
    statuses = [model_status(ws, m, m.model_file in loaded.conflicted, progress) for m in models]
    return statuses, [str(e) for e in loaded.errors]


def checkout(names: Sequence[str] = (), *, force: bool = False, cwd: Path | str | None = None,
             progress: Progress | None = None) -> list[RestoreResult]:
    """Make artifacts match their model files (all, or ``names``).

    A version spec (``NAME@v1.0.0``, ``NAME@^1``, ``NAME#prod``) instead writes that version's
    model file and artifact into the work tree, without moving HEAD.
    """
    ws = open_workspace(cwd)
    from gitmodel.remote import checkout_fetcher

    fetch = checkout_fetcher(ws)  # missing objects come from the default remote, as in hooks
    specs = [n for n in names if "@" in n or "#" in n]
    names = [n for n in names if n not in specs]
    results = []
    if specs:
        from gitmodel import catalog

        for spec in specs:
            chosen, data = catalog.version_model(spec, ws.root)
            model = Model(chosen.model_file, chosen.spec)
            # the artifact first: a missing object leaves both files as they were
            results.append(restore(ws, model, force=force, progress=progress, fetch=fetch))
            catalog.write_model_file(ws.root, chosen.model_file, data)
            mark_synced(ws, [model])
        if not names:
            return results
    loaded = load_models(ws.root)
    missing: list[tuple[Model, ObjectMissingError]] = []
    for model in select_models(loaded.models, names):
        if model.model_file in loaded.conflicted:
            raise GitmodelError(
                f"{model.model_file} has a merge conflict: pick a side with `git checkout "
                f"--ours {model.model_file}` (or --theirs), then run this again"
            )
        try:
            results.append(restore(ws, model, force=force, progress=progress, fetch=fetch))
        except ObjectMissingError as exc:  # the others are still restored; all are reported
            missing.append((model, exc))
            continue
        mark_synced(ws, [model])
    if missing:
        from gitmodel.remote import missing_objects_error

        raise missing_objects_error(missing, fetch)
    return results


__all__ = [
    "AddResult", "ConfigError", "EnvironmentReport", "GitmodelError", "InvalidModelFileError",
    "Recording", "State", "add", "assign", "checkout", "environment_of", "status", "tag", "track",
]
