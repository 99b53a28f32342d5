"""What needs moving: the objects a work tree, a version or a push names, and who needs each."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gitmodel import git, modelfile
from gitmodel.errors import GitmodelError, VersionError
from gitmodel.semver import Register, parse_spec, parse_tag
from gitmodel.workspace import Model, Workspace, load_models, select_models

# -- what needs moving ------------------------------------------------------------------------

@dataclass(frozen=True)
class Need:
    """One object and who needs it (for messages naming the model and version)."""

    oid: str
    size: int
    model: str
    version: str  # "v1.2.0", "the work tree", "commit 1a2b3c4d5e6f"


def needs_of_model(model: Model, version: str) -> list[Need]:
    return [Need(e.oid, e.size, model.spec.name, version) for _, e in model.file_targets()]


def needs_of_worktree(ws: Workspace, names: Sequence[str] = ()) -> list[Need]:
    models = load_models(ws.root).models
    needs: list[Need] = []
    for model in select_models(models, names, "the work tree"):
        needs += needs_of_model(model, "the work tree")
    return needs


def model_at(root: Path, commit: str, name: str) -> Model | None:
    """Model ``name`` as the tree of ``commit`` holds it (None when it has no model file)."""
    from gitmodel import registry

    found, _errors = registry.models_at(root, commit)
    if name not in found:
        return None
    path, spec = found[name]
    return Model(path, spec)


def needs_of_versions(ws: Workspace, spec: str | None = None) -> list[Need]:
    """Objects of every registered version, or of the versions ``spec`` picks (``NAME`` for all
    of a model's versions; ``NAME@v1.2.0``, ``NAME@^1``, ``NAME#prod`` for the one it resolves
    to, by the registry's rules)."""
    from gitmodel import registry

    if spec is None:
        chosen = [ver for state in registry.read(ws.root).models.values()
                  for ver in state.active_versions]
    else:
        parsed = parse_spec(spec)
        reg = registry.read(ws.root, parsed.name)
        if parsed.range is None and parsed.stage is None:
            chosen = reg.model(parsed.name).active_versions
            if not chosen:
                raise VersionError(f"{parsed.name} has no registered versions here "
                                   "(`git fetch --tags`?)")
        else:
            chosen = [registry.resolve_version(reg, parsed)]
    needs: list[Need] = []
    for ver in chosen:
        path, model_spec, _ = registry.model_file_of(ws.root, ver)
        needs += needs_of_model(Model(path, model_spec), ver.version)
    return needs


def needs_of_push(ws: Workspace, git_remote: str,
                  updates: Sequence[tuple[str, str, str, str]]) -> list[Need]:
    """Objects named by every model file version in the commits being pushed that the git remote
    does not have yet, and by the version tags being pushed."""
    shas = [local for _, local, _, _ in updates if local != git.ZERO_OID]
    if not shas:
        return []
    # --raw lists the blob of every added or modified model file in every new commit, not only
    # at the tips: each pushed commit must be restorable from the remote.
    out = git.run(["log", "--no-renames", "--diff-filter=AM", "--format=", "--raw", "-z",
                   "--no-abbrev", *shas, "--not", f"--remotes={git_remote}", "--",
                   modelfile.PATHSPEC], ws.root)
    fields = [f for f in out.split("\0") if f.strip("\n")]
    blobs: dict[str, str] = {}
    for meta, path in zip(fields[::2], fields[1::2], strict=False):
        parts = meta.strip("\n").lstrip(":").split()
        if len(parts) >= 5 and modelfile.is_model_file_path(path):
            blobs[parts[3]] = path
    contents = git.read_blobs(ws.root, sorted(blobs))
    needs: list[Need] = []
    for blob, path in sorted(blobs.items(), key=lambda item: item[1]):
        data = contents.get(blob)
        if data is None:
            continue
        needs += needs_of_model(Model(path, modelfile.loads(data, path)),
                                f"a pushed commit ({path})")
    for _, local, remote_ref, _ in updates:
        if local == git.ZERO_OID or not remote_ref.startswith("refs/tags/"):
            continue
        event = parse_tag(remote_ref[len("refs/tags/"):])
        if not isinstance(event, Register):
            continue
        commit = git.run(["rev-parse", "--verify", f"{local}^{{commit}}"], ws.root).strip()
        model = model_at(ws.root, commit, event.name)
        if model is None:
            raise GitmodelError(f"{remote_ref[len('refs/tags/'):]}: commit {commit[:12]} has no "
                                f"model file for {event.name}; delete the tag or re-tag the "
                                "right commit")
        needs += needs_of_model(model, f"v{event.version}")
    return needs


def _unique(needs: Iterable[Need]) -> list[Need]:
    seen: dict[str, Need] = {}
    for need in needs:
        seen.setdefault(need.oid, need)
    return list(seen.values())


def needs_of_specs(ws: Workspace, specs: Sequence[str], all_versions: bool = False) -> list[Need]:
    """The work tree's models with no ``specs``; otherwise each spec: ``NAME@VERSION`` for one
    version, ``NAME`` for the model in the work tree."""
    if not specs:
        needs = needs_of_worktree(ws)
        return needs + needs_of_versions(ws) if all_versions else needs
    needs = []
    for spec in specs:
        if "@" in spec or "#" in spec:
            needs += needs_of_versions(ws, spec)
        else:
            needs += needs_of_worktree(ws, [spec])
            if all_versions:
                needs += needs_of_versions(ws, spec)
    return needs
