"""What ``git commit`` and ``git push`` must refuse: the pre-commit and pre-push validation.

The installed hooks and the pre-commit framework (``.pre-commit-hooks.yaml``) run the same
checks, so a model file is judged the same way however the commit is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from gitmodel import git, modelfile
from gitmodel.config import MODEL_EXTENSIONS
from gitmodel.errors import GitmodelError
from gitmodel.workspace import Model, Workspace, check_unique_names, current_oid, safe_target

BINARY_SNIFF_BYTES = 8000  # git's own rule: a NUL in the first 8000 bytes means binary


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB"


def check_staged(ws: Workspace) -> list[Problem]:
    """Problems with what is staged for the next commit (empty when it may proceed)."""
    changes = [c for c in git.staged_changes(ws.root) if c[0] != "D"]
    if not changes:
        return []
    problems: list[Problem] = []
    staged_models = [(blob, path) for _, blob, path in changes
                     if modelfile.is_model_file_path(path)]
    others = [(blob, path) for _, blob, path in changes
              if not modelfile.is_model_file_path(path)]
    problems += _large_files(ws, others)
    if staged_models:
        problems += _model_files(ws, staged_models)
    return problems


def _large_files(ws: Workspace, files: list[tuple[str, str]]) -> list[Problem]:
    limit = ws.config.max_binary_size
    sizes = git.object_sizes(ws.root, sorted({blob for blob, _ in files}))
    problems = []
    for blob, path in files:
        size = sizes.get(blob, 0)
        if size <= limit:
            continue
        known_format = PurePosixPath(path).suffix.lower() in MODEL_EXTENSIONS
        binary = b"\0" in git.read_blob_prefix(ws.root, blob, BINARY_SNIFF_BYTES)
        if known_format or binary:
            kind = "a model file" if known_format else "a binary file"
            problems.append(Problem(path, (
                f"{kind} of {_mib(size)} is staged into git (the limit is {_mib(limit)}); "
                f"keep it out of git history with `git rm --cached {path} && "
                f"git model add {path}`"
            )))
    return problems


def _model_files(ws: Workspace, staged: list[tuple[str, str]]) -> list[Problem]:
    problems = []
    # every model file in the index, to check that names stay unique
    all_paths = git.ls_files(ws.root, [modelfile.PATHSPEC])
    blobs = git.read_blobs(ws.root, [f":{p}" for p in all_paths])
    staged_paths = {p for _, p in staged}
    models = []
    for path in all_paths:
        data = blobs.get(f":{path}")
        if data is None:
            continue
        try:
            models.append(Model(path, modelfile.loads(data, path)))
        except GitmodelError as exc:
            if path in staged_paths:
                problems.append(Problem(path, f"{exc}; fix it or run `git model add` again"))
    try:
        check_unique_names(models)
    except GitmodelError as exc:
        problems.append(Problem(".", str(exc)))
    for model in models:
        if model.model_file not in staged_paths:
            continue
        problems += _model_problems(ws, model)
    return problems


def _model_problems(ws: Workspace, model: Model) -> list[Problem]:
    problems = []
    targets = model.file_targets()
    try:
        for rel, _ in targets:
            safe_target(ws.root, rel)
        tracked = git.run(["ls-files", "-z", "--", *[f":(literal){r}" for r, _ in targets]],
                          ws.root)
        if tracked.strip("\0"):
            first = tracked.split("\0")[0]
            problems.append(Problem(model.model_file, (
                f"names {first}, which git tracks; a model file may only point at untracked "
                f"artifacts (`git rm --cached {first}`, then `git model add`)"
            )))
    except GitmodelError as exc:
        problems.append(Problem(model.model_file, str(exc)))
        return problems
    for rel, entry in targets:
        if not ws.store.has(entry.oid):
            problems.append(Problem(model.model_file, (
                f"names object {entry.oid} for {rel}, which is not in the cache, so nobody "
                f"could restore it; run `git model add {model.artifact_path}` with the real file"
            )))
            continue
        target = ws.root / rel
        if target.is_file() and not target.is_symlink():
            actual = current_oid(ws, target)
            if actual != entry.oid:
                problems.append(Problem(model.model_file, (
                    f"{rel} changed since `git model add`; run `git model add "
                    f"{model.artifact_path}` to commit the new bytes, or `git model checkout "
                    f"{model.spec.name} --force` to drop them"
                )))
    return problems


def check_push(ws: Workspace, updates: list[tuple[str, str, str, str]]) -> list[Problem]:
    """Objects that commits about to be pushed need but this clone does not have."""
    problems: list[Problem] = []
    zero = git.ZERO_OID
    for _local_ref, local_sha, _remote_ref, _remote_sha in updates:
        if local_sha == zero:
            continue
        out = git.run(["log", "--format=", "--name-only", "-z", "--no-renames",
                       "--diff-filter=AM", local_sha, "--not", "--remotes", "--",
                       modelfile.PATHSPEC], ws.root)
        paths = sorted({p.strip("\n") for p in out.split("\0") if p.strip("\n")})
        if not paths:
            continue
        blobs = git.read_blobs(ws.root, [f"{local_sha}:{p}" for p in paths])
        for path in paths:
            data = blobs.get(f"{local_sha}:{path}")
            if data is None:
                continue
            try:
                spec = modelfile.loads(data, path)
            except GitmodelError as exc:
                problems.append(Problem(path, str(exc)))
                continue
            for entry in spec.files:
                if not ws.store.has(entry.oid):
                    problems.append(Problem(path, (
                        f"{local_sha[:12]} needs object {entry.oid} ({entry.path}), which is not "
                        "in this clone's cache; run `git model pull` or `git model add` it, then "
                        "push again"
                    )))
    problems += _pushed_versions(ws, updates)
    return problems


def _pushed_versions(ws: Workspace, updates: list[tuple[str, str, str, str]]) -> list[Problem]:
    """A pushed version tag (``refs/tags/NAME@vX.Y.Z``) needs its version's objects, even when
    its commit is already on the remote and so escapes the commit walk above."""
    from gitmodel import registry, semver

    problems = []
    for _local_ref, local_sha, remote_ref, _remote_sha in updates:
        if local_sha == git.ZERO_OID or not remote_ref.startswith("refs/tags/"):
            continue
        tag = remote_ref[len("refs/tags/"):]
        event = semver.parse_tag(tag)
        if not isinstance(event, semver.Register):
            continue
        commit = git.resolve_commit(ws.root, local_sha)
        if commit is None:
            continue
        found, _errors = registry.models_at(ws.root, commit)
        if event.name not in found:
            problems.append(Problem(tag, f"commit {commit[:12]} has no model file for "
                                         f"{event.name}; delete the tag or re-tag the right commit"))
            continue
        path, spec = found[event.name]
        for entry in spec.files:
            if not ws.store.has(entry.oid):
                problems.append(Problem(tag, (
                    f"version needs object {entry.oid} ({entry.path} of {path}), which is not in "
                    "this clone's cache; run `git model pull "
                    f"{tag}` (or `git model add` it), then push again"
                )))
    return problems
