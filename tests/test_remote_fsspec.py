"""The fsspec backend on a store without atomic writes (docs/remotes.md "Never a partial object
under its final name": other fsspec backends write to tmp/ and move).

gitmodel/remote/backends.py serves paths and file:// itself (DirectoryRemote), and puts straight
to the final key on object stores (ATOMIC_PUT_SCHEMES: s3, gs, az, memory…). fsspec's `local://`
protocol is a real file system reached through fsspec, not in that set, so it takes the
temp-then-move path, the one ssh:// and the rest take. A real `git model push` uploads while this
test watches the remote's folders from outside, as another reader would."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import Repo

SIZE = 16 << 20
COUNT = 6


def test_push_through_fsspec_never_shows_a_partial_object(repo: Repo, tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    repo.model("remote", "add", "origin", f"local://{store}", "--default")
    # whole-file objects here (tests/test_remote_packs.py covers packs, which go through the
    # same put_key path)
    repo.git("config", "model.chunkThreshold", "off")
    blobs = [os.urandom(SIZE) for _ in range(COUNT)]
    for i, data in enumerate(blobs):
        repo.write(f"models/m{i}.bin", data)
    repo.model("add", *(f"models/m{i}.bin" for i in range(COUNT)))
    proc = subprocess.Popen([sys.executable, "-m", "gitmodel", "push", "--jobs", "2"],
                            cwd=repo.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    partial: list[tuple[str, int]] = []
    tmp_seen = 0
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        for path in store.glob("objects/*/*"):
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue
            if size != SIZE:
                partial.append((path.name, size))
        if (store / "tmp").is_dir() and any((store / "tmp").iterdir()):
            tmp_seen += 1
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert f"uploaded {COUNT} object(s)" in stdout
    assert partial == [], partial[:5]
    assert tmp_seen, "no upload went through tmp/"
    assert not list((store / "tmp").iterdir())
    expected = {hashlib.sha256(b).hexdigest() for b in blobs}
    landed = {p.parent.name + p.name: p for p in store.glob("objects/*/*")}
    assert set(landed) == expected
    for digest, path in landed.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    # a fresh clone of the cache's contents comes back through the same backend
    for path in (repo.root / ".git/model/objects").glob("*/*"):
        path.chmod(0o644)
        path.unlink()
    for i in range(COUNT):
        (repo.root / f"models/m{i}.bin").unlink()
    repo.model("pull")
    assert (repo.root / "models/m0.bin").read_bytes() == blobs[0]
