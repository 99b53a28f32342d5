"""What ``git commit`` and ``git push`` must refuse: the pre-commit and pre-push validation.

The installed hooks and the pre-commit framework (``.pre-commit-hooks.yaml``) run the same
checks, so a model file is judged the same way however the commit is made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from gitmodel import git, modelfile
from gitmodel.config import MODEL_EXTENSIONS
from gitmodel.errors import GitmodelError
from gitmodel.workspace import (
    Model,
    Workspace,
    check_unique_names,
    claim_of,
    current_oid,
    overlapping,
    safe_target,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitmodel.remote import Need

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
    problems += _staged_artifacts(ws, [path for _, path in others])
    problems += _large_files(ws, others)
    if staged_models:
        problems += _model_files(ws, staged_models)
    return problems


def model_files_for(path: str) -> list[str]:
    """The model files that would describe ``path`` as (part of) an artifact: one beside it,
    and one beside each folder it is in (a folder artifact)."""
    candidates = [modelfile.model_file_path_for(path)]
    folder = path
    while "/" in folder:
        folder = folder.rpartition("/")[0]
        candidates.append(modelfile.model_file_path_for(folder))
    return candidates


def _staged_artifacts(ws: Workspace, paths: list[str]) -> list[Problem]:
    """Files staged into git that a model file in the index describes, whatever their size: an
    artifact belongs in the cache; staged, it is the symptom of a lost ignore line (issue 9)."""
    wanted = {c: p for p in paths for c in model_files_for(p)}
    if not wanted:
        return []
    present = git.index_blobs(ws.root, sorted(wanted))
    problems = []
    for model_file in sorted(present):
        path = wanted[model_file]
        artifact = model_file.removesuffix(modelfile.SUFFIX)
        problems.append(Problem(path, (
            f"is {'the artifact' if artifact == path else 'inside the artifact'} of "
            f"{model_file}, so its bytes belong in the cache, not in git: "
            f"`git rm --cached {path}` (and `git model add {artifact}` puts its ignore line back)"
        )))
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
            # docs/ say "model file" for the committed TOML only: a raw weights file staged into
            # git is an artifact gitmodel should be caching (issue 7)
            kind = "a model artifact" if known_format else "a binary file"
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
    # two model files must never write the same path (issue 9): refused here, so it never
    # reaches a teammate's checkout
    refused = overlapping((claim_of(m) for m in models), all_paths)
    problems += [Problem(path, problem) for path, problem in sorted(refused.items())]
    models = [m for m in models if m.model_file not in refused]
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


def missing_objects(ws: Workspace, needs: Sequence[Need]) -> list[Problem]:
    """What a push would need but this clone does not have (``needs`` from
    :func:`gitmodel.remote.needs_of_push`: every new commit's model files and every pushed
    version): nobody could restore a version that points at those bytes."""
    problems = []
    seen: set[str] = set()
    for need in needs:
        if need.oid in seen or ws.store.has(need.oid):
            continue
        seen.add(need.oid)
        if need.version.startswith("v"):
            where, fix = f"{need.model}@{need.version}", f"`git model pull {need.model}@{need.version}`"
        else:
            where, fix = f"{need.model} ({need.version})", "`git model pull`"
        problems.append(Problem(where, (
            f"needs object {need.oid}, which is not in this clone's cache; run {fix} (or "
            "`git model add` the original file), then push again")))
    return problems
