"""The lock and requirement files at the code commit (docs/model-file.md, "Lock files"): their
paths and git blob ids, read from git's tree in one call, never from the work tree."""

from __future__ import annotations

from pathlib import Path

from gitmodel import git, modelfile
from gitmodel.modelfile import LockFile

LOCK_NAMES = ("pyproject.toml", "uv.lock", "poetry.lock", "Pipfile.lock", "environment.yml",
              "environment.yaml")
# `**/` matches no folder too, so these find the files at the root and in every subfolder
PATHSPECS = [f":(glob)**/{name}" for name in LOCK_NAMES] + [":(glob)**/requirements*.txt"]


def is_lock_file(path: str) -> bool:
    name = path.rpartition("/")[2]
    return name in LOCK_NAMES or (name.startswith("requirements") and name.endswith(".txt"))


def lock_files(root: Path, commit: str) -> tuple[LockFile, ...]:
    """The lock files git tracks at ``commit`` (none for an empty one), sorted by path, at most
    the model file's bound; a path the model-file rules refuse is left out."""
    if not commit:
        return ()
    out = git.run_bytes(["-c", "core.quotepath=off", "diff-tree", "-r", "--no-abbrev", "-z",
                         "--no-renames", git.EMPTY_TREE, commit, "--", *PATHSPECS], root)
    fields = out.split(b"\0")
    found: dict[str, LockFile] = {}
    for meta, raw_path in zip(fields[0::2], fields[1::2], strict=False):
        parts = meta.decode().split()
        if len(parts) < 5 or not parts[1].startswith("100"):  # regular files, not symlinks
            continue
        path = raw_path.decode("utf-8", "surrogateescape")
        try:
            modelfile.check_relative_path(path, "lock path")
        except ValueError:
            continue
        if is_lock_file(path):
            found[path] = LockFile(path, parts[3])
    return tuple(found[p] for p in sorted(found)[:modelfile.MAX_LOCKS])
