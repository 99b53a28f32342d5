"""Whole-file replacement: a reader sees the old bytes or the new ones, never half.

One helper for the small files gitmodel rewrites in place (model files, ``.gitignore`` lines,
cached remote indexes, a directory remote's records), so each of them gets the same temp
naming and the same clean-up when the write fails.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` whole (temp file beside it + rename). The temp name is
    random, so two threads or processes writing the same path never share one; on any failure
    the temp file is removed and the error raised. ``path``'s folder must exist."""
    tmp = path.with_name(f".{path.name}.gitmodel-{os.urandom(8).hex()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
