"""One exception hierarchy: every error a user can meet carries a message they can act on."""

from __future__ import annotations

import errno
import os

# An OSError with one of these errnos is the user's to fix, not a bug in gitmodel (issue 9): what
# to do about it.
_ENVIRONMENT_ADVICE = {
    errno.ENOSPC: "free some space on that file system",
    errno.EDQUOT: "free some space: your disk quota there is used up",
    errno.EROFS: "that file system is mounted read-only; remount it or work elsewhere",
    errno.EACCES: "check the owner and permissions of that path",
    errno.EPERM: "check the owner and permissions of that path",
    errno.EMFILE: "too many open files: raise the limit (`ulimit -n`) or pass fewer --jobs",
    errno.ENFILE: "the system is out of file handles: close some programs",
}


def environment_problem(exc: BaseException) -> str | None:
    """One line for an OSError a user fixes (full disk, quota, read-only file system,
    permissions, open-file limit), or None for any other exception."""
    if not isinstance(exc, OSError) or exc.errno not in _ENVIRONMENT_ADVICE:
        return None
    where = f" ({exc.filename})" if exc.filename else ""
    free = ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT) and exc.filename:
        folder = os.path.dirname(os.path.abspath(os.fsdecode(exc.filename)))
        try:
            stat = os.statvfs(folder)
            free = f", {stat.f_bavail * stat.f_frsize / (1 << 20):.1f} MiB free there"
        except OSError:
            pass
        needed = getattr(exc, "needed_bytes", None)  # set where gitmodel knows the size
        if isinstance(needed, int):
            free += f" of the {needed / (1 << 20):.1f} MiB it needed"
    return (f"{exc.strerror or os.strerror(exc.errno)}{where}{free}: "
            f"{_ENVIRONMENT_ADVICE[exc.errno]}, then run the command again "
            "(nothing half-written was kept)")


class GitmodelError(Exception):
    """Base of every error gitmodel raises on purpose; the CLI maps it to exit code 1."""


class NotARepositoryError(GitmodelError):
    """The current directory is not inside a git work tree."""


class GitError(GitmodelError):
    """A git command failed."""

    def __init__(self, args: list[str], returncode: int, stderr: str) -> None:
        self.command = args
        self.returncode = returncode
        self.stderr = stderr.strip()
        detail = self.stderr.splitlines()[-1] if self.stderr else f"exit code {returncode}"
        super().__init__(f"git {' '.join(args)} failed: {detail}")


class InvalidModelFileError(GitmodelError):
    """A model file could not be parsed or broke a rule of docs/model-file.md."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"invalid model file {path}: {problem}")


class UnsafePathError(GitmodelError):
    """A path would escape the work tree, touch .git, follow a symlink or overwrite code."""


class ObjectMissingError(GitmodelError):
    """An object named by a model file is not in the cache."""

    def __init__(self, oid: str, hint: str = "") -> None:
        self.oid = oid
        super().__init__(f"object {oid} is not in the cache{hint}")


class CorruptObjectError(GitmodelError):
    """A cached object's bytes do not hash to its name."""

    def __init__(self, oid: str, actual: str, where: str) -> None:
        self.oid = oid
        self.actual = actual
        super().__init__(
            f"object {oid} is corrupt: its bytes hash to {actual} ({where}); "
            "delete it and restore it with `git model add` from the original file or a pull"
        )


class ModelNotFoundError(GitmodelError):
    """No model of that name or path exists."""


class DuplicateModelError(GitmodelError):
    """Two model files claim the same name (or names that differ only by case)."""


class ConfigError(GitmodelError):
    """The gitmodel configuration is invalid."""


class InstallError(GitmodelError):
    """Hooks could not be installed or uninstalled."""


class ConflictError(GitmodelError):
    """A model file is left unresolved by a merge."""


class VersionError(GitmodelError):
    """A version, tag or version spec is invalid or matches nothing."""


class RemoteError(GitmodelError):
    """A remote could not be reached or did not have what was asked."""


class StoreFormatError(GitmodelError):
    """A file of the chunked store (an index, a recipe, a pack) breaks docs/store-format.md."""

    def __init__(self, source: str, problem: str) -> None:
        self.source = source
        self.problem = problem
        super().__init__(
            f"{source} is damaged: {problem}; run `git model fsck --repair` to restore it from "
            "a remote (or delete it and add the original file again)"
        )


class CorruptChunkError(CorruptObjectError):
    """A chunk's bytes (from a remote, or a local pack) do not hash to its BLAKE3 id."""

    def __init__(self, chunk_id: bytes, actual: bytes, where: str) -> None:
        self.oid = "blake3:" + chunk_id.hex()
        self.actual = "blake3:" + actual.hex()
        GitmodelError.__init__(
            self, f"chunk {chunk_id.hex()} from {where} is corrupt: its bytes hash to "
                  f"{actual.hex()}; nothing from it was kept: try again, or repair the source "
                  "with `git model fsck --repair`")
