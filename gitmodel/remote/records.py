"""What this clone knows of its remotes: which one a command uses, and which oids each is known to hold."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitmodel.config import Config, remote_from_history
from gitmodel.errors import RemoteError
from gitmodel.remote.backends import DEFAULT_JOBS, ObjectRemote, open_remote
from gitmodel.store import is_oid
from gitmodel.workspace import Workspace

# -- what a remote is known to hold -----------------------------------------------------------

class RemoteRecord:
    """Oids this clone has seen on a remote (uploaded, or found there), so the pre-push hook can
    decide "nothing new" without importing a backend or asking the network.

    A hint only: an explicit `git model push` asks the remote again. A remote gc (from any
    clone) can make it wrong, so it holds only while the remote's list of gc records is the one
    it was last checked against (:meth:`revalidate`, one listing; docs/remotes.md).
    """

    def __init__(self, model_dir: Path, url: str) -> None:
        digest = hashlib.sha256(url.encode()).hexdigest()[:16]
        self.path = model_dir / "remotes" / f"{digest}.oids"
        # the digest of the remote's gc record keys the oids were last checked against; its
        # mtime is when, which the shell hook's tag shortcut reads (gitmodel/hooks/hook.sh)
        self.generation_path = self.path.with_suffix(".gc")
        self.url = url

    def revalidate(self, gc_keys: Iterable[str]) -> bool:
        """Check the record against the remote's gc record keys (``gitmodel/gc/`` listed once):
        when they differ from the last check, a remote gc ran since and may have removed any
        oid listed, so forget them all. Returns whether the record still holds."""
        generation = hashlib.sha256("\n".join(sorted(gc_keys)).encode()).hexdigest()
        try:
            before = self.generation_path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            before = None
        holds = before == generation
        if not holds:
            self.forget()
        self.generation_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.generation_path.with_name(f"{self.generation_path.name}.{os.getpid()}")
        tmp.write_text(generation + "\n", encoding="utf-8")
        tmp.replace(self.generation_path)  # also refreshes the mtime when unchanged
        return holds

    def known(self) -> set[str]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return set()
        return {line for line in text.splitlines() if is_oid(line)}

    def add(self, oids: Iterable[str]) -> None:
        lines = "".join(f"{oid}\n" for oid in oids)
        if not lines:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.path.exists()
        # O_APPEND: concurrent appends of whole short lines do not interleave
        with open(self.path, "a", encoding="utf-8") as stream:
            if fresh:
                stream.write(f"# objects seen on {self.url}\n")
            stream.write(lines)

    def forget(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        with contextlib.suppress(FileNotFoundError):
            self.generation_path.unlink()


# -- choosing a remote ------------------------------------------------------------------------

@dataclass(frozen=True)
class NamedRemote:
    name: str
    url: str
    options: dict[str, Any] = field(default_factory=dict)
    # where it was found when the checked-out .gitmodel.toml names none, for messages:
    # "refs/remotes/origin/HEAD", "refs/tags/m@v2.0.0"
    found_at: str = ""

    @property
    def label(self) -> str:
        """``origin (URL)``, and where it came from when not from the checked-out config."""
        found = f", named at {self.found_at}" if self.found_at else ""
        return f"{self.name} ({self.url}{found})"


NO_REMOTE = ("no model remote is configured (neither in .gitmodel.toml nor in this repository's "
             "newer commits); add one with `git model remote add origin URL --default` (a "
             "directory or s3://BUCKET/PATH) and commit .gitmodel.toml")


def choose_remote(config: Config, name: str | None = None, *, root: Path | None = None
                  ) -> NamedRemote:
    """The remote called ``name`` (a configured name, or a URL), else the default one. With
    ``root``, a clone whose checked-out config names no remote at all looks for one in its newer
    commits (the git remotes' default branches, then the newest tag; see
    :func:`gitmodel.config.history_refs`), as a commit older than `git model remote add` needs."""
    if name is not None:
        if name in config.remotes:
            return NamedRemote(name, config.remotes[name], config.remote_options.get(name, {}))
        if "://" in name or name.startswith(("/", ".", "~")):
            return NamedRemote(name, name)
        known = ", ".join(sorted(config.remotes)) or "none"
        raise RemoteError(f"no model remote named {name!r} (remotes: {known}); add one with "
                          f"`git model remote add {name} URL`")
    if config.default_remote is None:
        if config.remotes:
            raise RemoteError(f"no default model remote among {', '.join(sorted(config.remotes))}"
                              "; pass --remote NAME or mark one with "
                              "`git model remote add NAME URL --default`")
        found = remote_from_history(root) if root is not None else None
        if found is None:
            raise RemoteError(NO_REMOTE)
        return NamedRemote(found.name, found.url, found.options, found_at=found.where)
    name = config.default_remote
    return NamedRemote(name, config.remotes[name], config.remote_options.get(name, {}))


def record_for(ws: Workspace, url: str) -> RemoteRecord:
    return RemoteRecord(ws.repo.model_dir, url)


def open_named(ws: Workspace, remote: NamedRemote, *, quick: bool = False,
               jobs: int = DEFAULT_JOBS) -> ObjectRemote:
    return open_remote(remote.url, remote.options, base=ws.root, quick=quick, jobs=jobs)
