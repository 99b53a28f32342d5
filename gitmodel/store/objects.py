"""Whole-file objects in the content-addressed cache: atomic put, verified materialize.

Layout (private to this package, so packs of chunks can sit beside whole-file objects later):
``<root>/objects/<hex[:2]>/<hex[2:]>`` holds the bytes of ``sha256:<hex>``, read-only;
``<root>/tmp/`` holds writes in progress, renamed into place only once their hash is known.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path

from gitmodel.errors import CorruptObjectError, GitmodelError, ObjectMissingError
from gitmodel.hashing import (
    OID_PREFIX,
    Progress,
    copy_hashing,
    copy_immutable_hashing,
    hash_file,
    same_stat,
    settled,
)

OID_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)


class LinkMode(StrEnum):
    """How an object gets into the work tree."""

    AUTO = "auto"  # reflink where the filesystem can, else copy
    COPY = "copy"
    HARDLINK = "hardlink"  # opt-in: an in-place write to the artifact would write into the cache


def is_oid(text: str) -> bool:
    return bool(OID_RE.fullmatch(text))


def _reflink(source: int, target: int) -> bool:
    try:
        import fcntl

        fcntl.ioctl(target, _FICLONE, source)
    except OSError:
        return False
    return True


class ObjectStore:
    def __init__(self, root: Path, *, fsync: bool = False) -> None:
        self.root = root
        self.fsync = fsync

    # -- naming ---------------------------------------------------------------------------
    def _path(self, oid: str) -> Path:
        if not is_oid(oid):
            raise GitmodelError(f"not an object id: {oid!r} (expected sha256:<64 hex digits>)")
        hexdigest = oid[len(OID_PREFIX):]
        return self.root / "objects" / hexdigest[:2] / hexdigest[2:]

    def _tmp_dir(self) -> Path:
        tmp = self.root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        return tmp

    def _replace(self, tmp_path: Path, target: Path) -> None:
        """``os.replace(tmp_path, target)``, freeing a large old file in the background."""
        if not _replace_in_background(tmp_path, target, self.root / "trash"):
            os.replace(tmp_path, target)

    def has(self, oid: str) -> bool:
        return self._path(oid).is_file()

    def size(self, oid: str) -> int:
        return self._path(oid).stat().st_size

    def oids(self) -> Iterator[str]:
        objects = self.root / "objects"
        if not objects.is_dir():
            return
        for prefix in sorted(objects.iterdir()):
            for entry in sorted(prefix.iterdir()):
                yield OID_PREFIX + prefix.name + entry.name

    def same_inode(self, oid: str, path: Path) -> bool:
        """Whether ``path`` is a hard link to the object (so a write to it writes the cache)."""
        try:
            return os.path.samefile(self._path(oid), path)
        except OSError:
            return False

    # -- writing --------------------------------------------------------------------------
    def _finish(self, tmp_path: Path, oid: str) -> None:
        """Rename a fully written temp file into place as ``oid`` (read-only)."""
        final = self._path(oid)
        if final.is_file():
            tmp_path.unlink()
            # touched, so that `git model gc` (store/gc.py) sees it as young: an add that found
            # its object already here must not lose it to a gc that planned a moment before
            with contextlib.suppress(OSError):  # another user's object in a shared cache
                os.utime(final)
            return
        os.chmod(tmp_path, 0o444)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp_path, final)

    def put_file(self, source: Path, progress: Progress | None = None) -> tuple[str, int]:
        """Copy ``source`` into the cache while hashing it; return (oid, size).

        A settled file (not written in the last moments) is copied by the kernel while a thread
        hashes it, and kept only if its stat did not move meanwhile: a write during the copy
        would otherwise leave an object whose bytes differ from its name. Anything else, or a
        kernel that cannot copy, takes one pass that hashes exactly the bytes it writes.
        """
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp_dir(), prefix="put-")
        tmp_path = Path(tmp_name)
        try:
            with open(source, "rb") as src, os.fdopen(fd, "wb") as dst:
                before = os.fstat(src.fileno())
                copied = None
                if settled(before, time.time_ns()):
                    copied = copy_immutable_hashing(source, dst.fileno(), progress)
                    if copied is not None and not same_stat(before, os.stat(source)):
                        copied = None  # written while copied: redo in one consistent pass
                if copied is None:
                    src.seek(0)
                    dst.seek(0)
                    dst.truncate()
                    copied = copy_hashing(src, dst, progress)
                oid, size = copied
                if self.fsync:
                    dst.flush()
                    os.fsync(dst.fileno())
            self._finish(tmp_path, oid)
        except BaseException as exc:
            with contextlib.suppress(FileNotFoundError):
                tmp_path.unlink()
            _name_the_place(exc, tmp_path.parent, source)
            raise
        return oid, size

    def put_verified(self, tmp_path: Path, expected_oid: str, source: str) -> None:
        """Adopt a file written elsewhere (a download) only if it hashes to ``expected_oid``."""
        oid, _ = hash_file(tmp_path)
        if oid != expected_oid:
            tmp_path.unlink()
            raise CorruptObjectError(expected_oid, oid, source)
        self._finish(tmp_path, oid)

    def new_temp_file(self) -> Path:
        fd, name = tempfile.mkstemp(dir=self._tmp_dir(), prefix="get-")
        os.close(fd)
        return Path(name)

    # -- reading --------------------------------------------------------------------------

    def object_path(self, oid: str) -> Path:
        """Where the object's bytes are, for readers (remote uploads). Never write to it."""
        path = self._path(oid)
        if not path.is_file():
            raise ObjectMissingError(oid)
        return path

    def verify(self, oid: str) -> None:
        """Rehash the object; raise if it is missing or its bytes do not match its name."""
        path = self.object_path(oid)
        actual, _ = hash_file(path)
        if actual != oid:
            raise CorruptObjectError(oid, actual, f"cache object {path}")

    def materialize(
        self,
        oid: str,
        target: Path,
        *,
        mode: LinkMode = LinkMode.AUTO,
        progress: Progress | None = None,
    ) -> None:
        """Put the object's bytes at ``target``, verified, replacing what was there atomically.

        The bytes are hashed in the same pass as the copy and renamed into place only if they
        match ``oid``: a corrupt object raises :class:`CorruptObjectError` and leaves ``target``
        as it was.
        """
        source = self.object_path(oid)
        target.parent.mkdir(parents=True, exist_ok=True)
        if mode is LinkMode.HARDLINK:
            self.verify(oid)
            tmp = target.parent / f".{target.name}.gitmodel-tmp-{os.getpid()}"
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            try:
                os.link(source, tmp)
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                    raise
                mode = LinkMode.COPY
            else:
                os.replace(tmp, target)
                return
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        tmp_path = Path(tmp_name)
        try:
            with open(source, "rb") as src, os.fdopen(fd, "wb") as dst:
                if mode is LinkMode.AUTO and _reflink(src.fileno(), dst.fileno()):
                    dst.flush()
                    actual, _ = hash_file(tmp_path, progress)
                else:
                    # objects are read-only and named by their hash, so the kernel may copy
                    # while a thread hashes the same bytes; a mismatch still stops the rename
                    copied = copy_immutable_hashing(source, dst.fileno(), progress)
                    if copied is None:
                        src.seek(0)
                        dst.seek(0)
                        dst.truncate()
                        copied = copy_hashing(src, dst, progress)
                    actual = copied[0]
                if self.fsync:
                    dst.flush()
                    os.fsync(dst.fileno())
            if actual != oid:
                raise CorruptObjectError(oid, actual, f"cache object {source}")
            os.chmod(tmp_path, 0o644 & ~_umask())
            self._replace(tmp_path, target)
        except BaseException as exc:
            with contextlib.suppress(FileNotFoundError):
                tmp_path.unlink()
            _name_the_place(exc, target, source)
            raise


def _name_the_place(exc: BaseException, path: Path, source: Path) -> None:
    """A write(2) that fails (a full disk) names no file: name the one being written, and the
    bytes it needed (the size of ``source``), so the user is told where space ran out and how
    much to free."""
    if not isinstance(exc, OSError):
        return
    if exc.filename is None:
        exc.filename = str(path)
    if not hasattr(exc, "needed_bytes"):
        with contextlib.suppress(OSError):
            exc.needed_bytes = os.stat(source).st_size  # type: ignore[attr-defined]


# Replacing a large file frees its blocks inside rename(2): 0.1-0.25 s for 512 MiB on ext4 here,
# a third of a version switch. Above this size the old file is moved aside and deleted by a
# detached `rm`, so git (and the user) need not wait for the filesystem.
DEFERRED_DELETE_BYTES = 64 << 20


def _replace_in_background(tmp_path: Path, target: Path, trash: Path) -> bool:
    try:
        if target.is_symlink() or not target.is_file():
            return False
        if target.stat().st_size < DEFERRED_DELETE_BYTES:
            return False
        trash.mkdir(parents=True, exist_ok=True)
        aside = trash / f"{os.getpid()}-{time.monotonic_ns()}"
        os.rename(target, aside)  # EXDEV when the cache is on another filesystem
    except OSError:
        return False
    os.replace(tmp_path, target)
    try:
        subprocess.Popen(["rm", "-f", "--", str(aside)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    except OSError:
        aside.unlink()
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
