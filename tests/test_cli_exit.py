"""Exit codes a script relies on (docs/commands.md): 3 for an unexpected error, with the
traceback in a crash log the message names, and 130 when a real process gets Ctrl-C (SIGINT)
mid-hash or mid-transfer. Real processes, real files; nothing is mocked."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Repo, random_bytes

ART = "models/m.safetensors"
# what docs/commands.md and docs/remotes.md promise on Ctrl-C ("exits 130 with a clean message")
INTERRUPTED = b"interrupted; nothing half-written was kept, run the command again to finish"
BIG = 256 << 20  # long enough to hash or copy that SIGINT lands while the bytes move


def crash_log(stderr: str) -> Path:
    match = re.search(r"the details are in (\S+); please report it", stderr)
    assert match, stderr
    return Path(match.group(1))


@pytest.fixture
def objects_is_a_file(repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """A cache whose objects/ is a plain file (a disk tool, a bad copy): a condition gitmodel
    does not anticipate, so writing an object into it fails with NotADirectoryError."""
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))  # where tempfile puts the crash log
    (tmp_path / "tmp").mkdir()
    cache = repo.root / ".git" / "model"
    cache.mkdir(exist_ok=True)
    (cache / "objects").write_text("not a folder\n")
    repo.write(ART, random_bytes(5000, 1))
    return repo


def test_an_unexpected_error_exits_3_and_names_a_crash_log(objects_is_a_file: Repo,
                                                          tmp_path: Path) -> None:
    result = objects_is_a_file.model("add", ART, check=False)
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: unexpected NotADirectoryError: ")
    assert lines[1].startswith("this is a bug in gitmodel; the details are in ")
    log = crash_log(result.stderr)
    assert log.parent == tmp_path / "tmp" and log.name.startswith("gitmodel-crash-")
    text = log.read_text()
    assert text.startswith("git-model ") and "python " in text.splitlines()[0]
    assert "argv: " in text and "'add'" in text and ART in text
    assert "Traceback (most recent call last):" in text
    assert text.rstrip().splitlines()[-1].startswith("NotADirectoryError: ")


def test_an_unexpected_error_is_one_json_object_with_the_log(objects_is_a_file: Repo,
                                                            tmp_path: Path) -> None:
    repo = objects_is_a_file
    cache_objects = repo.root / ".git" / "model" / "objects"
    cache_objects.unlink()
    store = tmp_path / "store"
    store.mkdir()
    repo.model("remote", "add", "origin", str(store), "--default")
    repo.model("add", ART)
    repo.model("push")
    for path in cache_objects.glob("*/*"):
        path.chmod(0o644)
        path.unlink()
    for folder in cache_objects.iterdir():
        folder.rmdir()
    cache_objects.rmdir()
    cache_objects.write_text("not a folder\n")
    result = repo.model("fetch", "--json", check=False)
    assert result.returncode == 3, result.stderr
    data = json.loads(result.stdout)
    assert data["code"] == 3 and data["kind"] == "unexpected"
    assert data["error"].startswith("unexpected NotADirectoryError")
    assert Path(data["log"]) == crash_log(result.stderr) and Path(data["log"]).is_file()


def big_file(path: Path) -> bytes:
    block = random_bytes(1 << 20, 7)
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        for i in range(BIG >> 20):
            chunk = block[:-4] + i.to_bytes(4, "big")  # no two MiB alike
            out.write(chunk)
            digest.update(chunk)
    return digest.digest()


def interrupt_when(args: list[str], cwd: Path, label: bytes) -> tuple[int, bytes, bytes]:
    """Run the CLI with stderr on a pseudo-terminal (so it draws its progress bar), send SIGINT
    as soon as the bar for ``label`` shows bytes moving, and return (exit code, stdout, all the
    terminal showed)."""
    main, secondary = pty.openpty()
    # SIGINT as a terminal delivers it: a test run started in the background (a CI runner, `&`)
    # passes SIGINT on ignored, and Python then rightly never turns it into a KeyboardInterrupt
    proc = subprocess.Popen([sys.executable, "-m", "gitmodel", *args], cwd=cwd,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=secondary,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    os.close(secondary)
    seen = b""
    sent = False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until the pty closes: EOF, or EIO once it exited
        ready, _, _ = select.select([main], [], [], 0.05)
        if not ready:
            continue
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
        if not sent and re.search(label + rb": +[0-9.]+% ", seen):
            proc.send_signal(signal.SIGINT)
            sent = True
    stdout, _ = proc.communicate(timeout=60)
    os.close(main)
    assert sent, f"the {label!r} bar never showed: {seen[-400:]!r}"
    return proc.returncode, stdout, seen


def test_ctrl_c_mid_hash_exits_130_and_adds_nothing(repo: Repo) -> None:
    big_file(repo.root / ART)
    code, stdout, seen = interrupt_when(["add", ART], repo.root, b"hashing")
    assert code == 130, seen[-400:]
    assert b"Traceback" not in seen
    assert b"added" not in stdout
    assert not (repo.root / ART).with_name("m.safetensors.model.toml").exists()
    cache = repo.root / ".git" / "model"
    assert not list((cache / "objects").glob("*/*")) if (cache / "objects").exists() else True
    assert not (cache / "tmp").exists() or not list((cache / "tmp").iterdir())
    assert repo.git("diff", "--cached", "--name-only").stdout == ""
    repo.model("add", ART)  # and the command run again finishes the job
    assert INTERRUPTED in seen, seen[-400:]


def test_ctrl_c_mid_push_exits_130_and_leaves_no_partial_object(repo: Repo,
                                                                tmp_path: Path) -> None:
    digest = big_file(repo.root / ART)
    repo.model("add", ART)
    store = tmp_path / "store"
    store.mkdir()
    repo.model("remote", "add", "origin", str(store), "--default")
    code, stdout, seen = interrupt_when(["push"], repo.root, b"uploading")
    assert code == 130, seen[-400:]
    assert b"Traceback" not in seen
    assert b"uploaded" not in stdout
    assert not list((store / "objects").glob("*/*")) if (store / "objects").exists() else True
    # every worker stopped and removed its temp file before the process exited
    # (gitmodel/remote/parallel.py's contract), so nothing changes on the remote from now on
    leftover = list((store / "tmp").iterdir())
    time.sleep(0.5)
    assert not list((store / "objects").glob("*/*")) if (store / "objects").exists() else True
    # a big file is chunked: interrupted, no recipe is there yet (recipes go up last)
    assert not list(store.glob("recipes/*/*"))
    again = repo.model("push")
    assert "uploaded 1 object(s)" in again.stdout
    [obj] = (store / "recipes").glob("*/*")
    assert obj.parent.name + obj.name == digest.hex()
    assert not leftover, leftover
    assert INTERRUPTED in seen, seen[-400:]
