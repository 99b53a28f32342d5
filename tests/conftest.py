"""Every test runs against real git in a temp dir, with its own HOME and no system git config."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytester"]  # tests/test_conftest.py runs an inner pytest

# Tests that may skip when CI is set, with the reason. Everything else that skips under CI fails
# instead: a skip there once hid what every new machine lacked (issue 8). .ci/run installs what
# the skipping tests need (man-db, openssh-client, zsh).
CI_SKIPS_ALLOWED: dict[str, str] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if (os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail")
            and item.nodeid not in CI_SKIPS_ALLOWED):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = (f"skipped under CI ({reason}): CI runs every test; make .ci/run install "
                           "what it needs, or list it in CI_SKIPS_ALLOWED in tests/conftest.py "
                           "with the reason")


IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.com",
}


@pytest.fixture(autouse=True)
def isolated_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("GIT_CONFIG_GLOBAL", raising=False)
    for key in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_TRACE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in IDENTITY.items():
        monkeypatch.setenv(key, value)
    (home / ".gitconfig").write_text(
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
        "[protocol \"file\"]\n\tallow = always\n"
    )


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Repo:
    root: Path

    def git(self, *args: str, check: bool = True, input: str | None = None) -> Result:
        proc = subprocess.run(["git", *args], cwd=self.root, capture_output=True, text=True,
                              input=input)
        if check and proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def model(self, *args: str, check: bool = True, cwd: Path | None = None) -> Result:
        """Run the CLI in a real process, as `git model` would."""
        proc = subprocess.run([sys.executable, "-m", "gitmodel", *args], cwd=cwd or self.root,
                              capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise AssertionError(f"git model {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def write(self, rel: str, data: bytes | str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            data = data.encode()
        path.write_bytes(data)
        return path

    def commit(self, message: str = "commit", *args: str) -> None:
        self.git("commit", "-q", "-m", message, *args)


def make_repo(path: Path, *, install: bool = True) -> Repo:
    path.mkdir(parents=True, exist_ok=True)
    repo = Repo(path)
    repo.git("init", "-q")
    repo.write("train.py", "print('training')\n")
    repo.git("add", "train.py")
    repo.commit("initial")
    if install:
        repo.model("install")
        repo.commit("gitmodel settings")
    return repo


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return make_repo(tmp_path / "repo")


@pytest.fixture
def bare_repo(tmp_path: Path) -> Repo:
    return make_repo(tmp_path / "plain", install=False)


def random_bytes(size: int, seed: int) -> bytes:
    """Deterministic incompressible bytes."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}-{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


@pytest.fixture
def chdir(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    def go(path: Path) -> None:
        monkeypatch.chdir(path)
    yield go
    os.chdir(os.path.dirname(__file__))


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """An S3-protocol server on loopback (moto's ThreadedMotoServer, as s3fs's own tests use),
    for the unmodified s3fs/botocore client; callers reset it (POST /moto-api/reset) and make
    their buckets. tests/test_s3.py still has a module-scoped copy of its own."""
    pytest.importorskip("s3fs")
    moto_server = pytest.importorskip("moto.server")
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def empty_s3_bucket(endpoint: str, monkeypatch: pytest.MonkeyPatch, bucket: str) -> Any:
    """Reset the loopback S3 server, make ``bucket`` on it and point the environment at it with
    fake credentials, as a user points gitmodel at MinIO; returns the s3fs filesystem."""
    import urllib.request

    import s3fs

    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset",
                                                  method="POST")).read()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    fs = s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True)
    fs.mkdir(bucket)
    return fs


def run_on_pty(args: list[str], cwd: Path) -> tuple[int, str, bytes]:
    """Run the CLI with stderr on a pseudo-terminal, as a user's shell does, so it draws its
    progress bars: (exit code, stdout, every byte the terminal showed)."""
    import pty

    main, secondary = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "gitmodel", *args], cwd=cwd,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=secondary,
                            text=True)
    os.close(secondary)
    seen = b""
    while True:  # until the pty closes: EOF, or EIO once the process exited
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    out, _ = proc.communicate(timeout=60)
    os.close(main)
    return proc.returncode, out, seen
