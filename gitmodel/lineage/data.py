"""Training-data inputs (docs/model-file.md, "Data inputs"): a file's sha256 or a folder's
listing oid (both through the stat cache, so unchanged data is hashed once), or, read from a
pointer without reading the data, a Git LFS file's oid or a DVC-tracked path's md5."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

from gitmodel import git, modelfile
from gitmodel.errors import GitmodelError
from gitmodel.hashing import Progress, StatCache
from gitmodel.modelfile import DataInput

LFS_POINTER_MAX = 1024  # Git LFS's own limit for a pointer file
DVC_FILE_MAX = 64 << 10
_LFS = re.compile(rb"^version https://git-lfs\.github\.com/spec/v1\n"
                  rb"(?:[a-z0-9.-]+ [^\n]*\n)*?oid sha256:([0-9a-f]{64})\n"
                  rb"size (0|[1-9][0-9]{0,15})\n(?:[a-z0-9.-]+ [^\n]*\n)*\Z")
_MD5 = re.compile(r"^[0-9a-f]{32}(\.dir)?$")


def lfs_pointer(data: bytes) -> tuple[str, int] | None:
    """(oid, size) of a Git LFS pointer file's bytes, or None when they are not one."""
    if len(data) > LFS_POINTER_MAX:
        return None
    match = _LFS.match(data)
    if match is None:
        return None
    size = int(match.group(2))
    if size >= modelfile.MAX_SIZE:
        return None
    return "sha256:" + match.group(1).decode(), size


def lfs_input(root: Path, rel: str, commit: str) -> DataInput | None:
    """``rel`` as an LFS input when git tracks it as an LFS pointer at ``commit`` and the work
    tree's file is that pointer or a file of the pointer's size (LFS's checked-out content);
    otherwise None, and the file is hashed."""
    if not commit:
        return None
    spec = f"{commit}:{rel}"
    check = git.run(["cat-file", "--batch-check=%(objecttype) %(objectsize)"], root,
                    input=f"{spec}\n".encode()).split()
    if len(check) != 2 or check[0] != "blob" or int(check[1]) > LFS_POINTER_MAX:
        return None
    blob = git.read_blobs(root, [spec]).get(spec)
    pointer = lfs_pointer(blob or b"")
    if pointer is None:
        return None
    oid, size = pointer
    try:
        here = (root / rel).stat().st_size
    except OSError:
        here = None  # not checked out: the pointer is all there is
    if here is not None and here != size and here != len(blob or b""):
        return None  # changed since the commit: what is there now is what was trained on
    return DataInput(rel, oid, size, source="lfs")


def dvc_input(root: Path, rel: str) -> DataInput | None:
    """``rel`` as a DVC input when it is a ``.dvc`` file or ``rel.dvc`` exists beside it, read
    from that pointer (its ``outs``) without reading the data; None when neither is so."""
    if rel.endswith(".dvc"):
        pointer_rel = rel
    elif (root / f"{rel}.dvc").is_file():
        pointer_rel = f"{rel}.dvc"
    else:
        return None
    pointer = root / pointer_rel
    try:
        with open(pointer, "rb") as stream:
            data = stream.read(DVC_FILE_MAX + 1)
    except OSError:
        return None
    if len(data) > DVC_FILE_MAX:
        raise GitmodelError(f"--data {rel}: {pointer_rel} is over {DVC_FILE_MAX} bytes; it is "
                            "not a DVC file")
    import yaml  # only a DVC input needs it

    try:
        # BaseLoader reads every scalar as a string: an md5 of digits only is not an integer
        doc = yaml.load(data.decode("utf-8"), Loader=yaml.BaseLoader)
    except (UnicodeDecodeError, yaml.YAMLError):
        raise GitmodelError(f"--data {rel}: {pointer_rel} is not a valid DVC file (YAML)") from None
    outs = doc.get("outs") if isinstance(doc, dict) else None
    if not isinstance(outs, list) or len(outs) != 1 or not isinstance(outs[0], dict):
        raise GitmodelError(f"--data {rel}: {pointer_rel} must have one entry under 'outs'")
    out = outs[0]
    md5, out_path, size = out.get("md5"), out.get("path"), out.get("size", "0")
    if not isinstance(md5, str) or not _MD5.fullmatch(md5):
        raise GitmodelError(f"--data {rel}: {pointer_rel} records no md5 (run `dvc commit` "
                            "first)")
    size = int(size) if isinstance(size, str) and size.isdigit() and len(size) < 17 else 0
    if size >= modelfile.MAX_SIZE:
        size = 0
    base = pointer_rel.rpartition("/")[0]
    if not isinstance(out_path, str):
        raise GitmodelError(f"--data {rel}: {pointer_rel} names no 'path' under 'outs'")
    data_rel = f"{base}/{out_path}" if base else out_path
    try:
        modelfile.check_relative_path(data_rel, "the data path")
    except ValueError as exc:
        raise GitmodelError(f"--data {rel}: {pointer_rel}'s outs path: {exc}") from None
    oid = "sha256:" + hashlib.sha256(data).hexdigest()
    return DataInput(data_rel, oid, size, source="dvc", pointer=pointer_rel, md5=md5)


def hashed_input(root: Path, rel: str, stat_cache: StatCache, files: Callable[[str], list[str]],
                 progress: Progress | None) -> DataInput:
    """A file's oid, or for a folder the oid of its sorted listing, through the stat cache."""
    target = root / rel
    if target.is_file():
        oid, size = stat_cache.oid_of(target, progress)
        return DataInput(rel, oid, size)
    if target.is_dir():
        listing = hashlib.sha256()
        total = 0
        for file_rel in files(rel):
            oid, size = stat_cache.oid_of(root / file_rel, progress)
            listing.update(f"{oid} {size} {file_rel[len(rel) + 1:]}\n".encode())
            total += size
        return DataInput(rel, "sha256:" + listing.hexdigest(), total)
    raise GitmodelError(f"--data {rel}: no such file or folder")


def data_input(root: Path, rel: str, commit: str, stat_cache: StatCache,
               files: Callable[[str], list[str]], progress: Progress | None) -> DataInput:
    """What a ``--data`` input records: a DVC pointer's, an LFS pointer's, else the hash."""
    found = dvc_input(root, rel)
    if found is None and not (root / rel).is_dir():
        found = lfs_input(root, rel, commit)
    return found or hashed_input(root, rel, stat_cache, files, progress)
