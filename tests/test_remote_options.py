"""An S3 remote's keys (docs/remotes.md "Configuration", docs/config.md): `region`, `profile`,
the endpoint from fsspec's `FSSPEC_S3_ENDPOINT_URL`, and `--jobs`. The loopback S3 server is
moto's, reached by the unmodified s3fs/botocore client in a real `git model` process; what the
client did is read on the server side, from the requests it received (the signature's scope
names the region and the access key, so the profile is visible too)."""

from __future__ import annotations

import hashlib
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import Repo, free_port, random_bytes

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

BUCKET = "models"
CREDENTIAL = re.compile(r"Credential=([A-Za-z0-9]+)/\d{8}/([a-z0-9-]+)/s3/aws4_request")


@dataclass
class Seen:
    method: str
    path: str
    query: str
    authorization: str


@dataclass
class Recorder:
    """WSGI middleware in front of moto's app: every request the server received, how many
    PUTs were in flight at most, and an optional delay on each PUT (so overlaps show)."""

    app: Callable[..., Iterable[bytes]]
    requests: list[Seen] = field(default_factory=list)
    put_delay: float = 0.0
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        seen = Seen(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""),
                    environ.get("QUERY_STRING", ""), environ.get("HTTP_AUTHORIZATION", ""))
        is_put = seen.method == "PUT" and "/objects/" in seen.path
        with self.lock:
            self.requests.append(seen)
            if is_put:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if is_put and self.put_delay:
                time.sleep(self.put_delay)
            return list(self.app(environ, start_response))
        finally:
            if is_put:
                with self.lock:
                    self.in_flight -= 1

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.put_delay = 0.0
            self.max_in_flight = 0

    def scopes(self) -> set[tuple[str, str]]:
        """(access key, region) of every signed request."""
        return {(m.group(1), m.group(2)) for r in self.requests
                if (m := CREDENTIAL.search(r.authorization))}

    def object_puts(self) -> list[Seen]:
        return [r for r in self.requests if r.method == "PUT" and "/objects/" in r.path]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Recorder]]:
    port = free_port()
    moto = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    wsgi = moto._server
    assert wsgi is not None
    recorder = Recorder(wsgi.app)
    wsgi.app = recorder  # werkzeug's handler calls server.app for each request
    yield f"http://127.0.0.1:{port}", recorder
    moto.stop()


@pytest.fixture
def s3(server: tuple[str, Recorder], monkeypatch: pytest.MonkeyPatch,
       tmp_path: Path) -> Iterator[tuple[str, Recorder, Any]]:
    """An empty bucket; no region, endpoint or credentials in the environment unless a test
    sets them (and no ~/.aws files: HOME is the test's own)."""
    import s3fs

    endpoint, recorder = server
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset",
                                                  method="POST")).read()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL",
                 "AWS_ENDPOINT_URL_S3", "FSSPEC_S3_ENDPOINT_URL", "FSSPEC_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    fs = s3fs.S3FileSystem(endpoint_url=endpoint, key="testing", secret="testing",
                           skip_instance_cache=True)
    fs.mkdir(BUCKET)
    recorder.reset()
    yield endpoint, recorder, fs


def key_of(data: bytes, prefix: str) -> str:
    digest = hashlib.sha256(data).hexdigest()
    return f"{BUCKET}/{prefix}/objects/{digest[:2]}/{digest[2:]}"


def add(repo: Repo, count: int, seed: int) -> list[bytes]:
    blobs = [random_bytes(20_000, seed + i) for i in range(count)]
    for i, data in enumerate(blobs):
        repo.write(f"models/m{i}.safetensors", data)
    repo.model("add", *(f"models/m{i}.safetensors" for i in range(count)))
    return blobs


def test_region_signs_every_request_for_that_region(s3: tuple[str, Recorder, Any], repo: Repo,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint, recorder, fs = s3
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    [data] = add(repo, 1, 1)
    repo.model("remote", "add", "origin", f"s3://{BUCKET}/eu", "--default", "--endpoint-url",
               endpoint, "--region", "eu-west-3")
    assert 'region = "eu-west-3"' in (repo.root / ".gitmodel.toml").read_text()
    repo.model("push")
    assert recorder.object_puts() and recorder.scopes() == {("testing", "eu-west-3")}
    assert fs.exists(key_of(data, "eu"))  # (the test's own client, us-east-1, from here on)


def test_profile_takes_that_profiles_keys(s3: tuple[str, Recorder, Any], repo: Repo,
                                          tmp_path: Path) -> None:
    endpoint, recorder, fs = s3
    (tmp_path / "aws-credentials").write_text(
        "[default]\naws_access_key_id = AKIADEFAULTPROFILE01\naws_secret_access_key = d\n"
        "[team]\naws_access_key_id = AKIATEAMPROFILE00001\naws_secret_access_key = t\n")
    [data] = add(repo, 1, 2)
    repo.model("remote", "add", "origin", f"s3://{BUCKET}/team", "--default", "--endpoint-url",
               endpoint, "--profile", "team", "--region", "us-east-1")
    assert 'profile = "team"' in (repo.root / ".gitmodel.toml").read_text()
    repo.model("push")
    assert recorder.object_puts() and recorder.scopes() == {("AKIATEAMPROFILE00001", "us-east-1")}
    assert fs.exists(key_of(data, "team"))
    # without the key, the same clone signs with the default profile
    recorder.reset()
    repo.model("remote", "add", "origin", f"s3://{BUCKET}/team", "--default", "--endpoint-url",
               endpoint, "--region", "us-east-1", "--force")
    assert "uploaded" not in repo.model("push").stdout  # already there
    assert recorder.scopes() == {("AKIADEFAULTPROFILE01", "us-east-1")}


def test_endpoint_from_fsspec_s3_endpoint_url(s3: tuple[str, Recorder, Any], repo: Repo,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint, recorder, fs = s3
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("FSSPEC_S3_ENDPOINT_URL", endpoint)  # nothing else names the endpoint
    [data] = add(repo, 1, 3)
    repo.model("remote", "add", "origin", f"s3://{BUCKET}/env", "--default")
    assert "endpoint_url" not in (repo.root / ".gitmodel.toml").read_text()
    assert "uploaded 1 object(s)" in repo.model("push").stdout
    assert fs.exists(key_of(data, "env")) and recorder.object_puts()
    clone = repo.root.parent / "clone"
    repo.commit("remote")
    Repo(repo.root.parent).git("clone", "-q", str(repo.root), str(clone))
    Repo(clone).model("install")  # fetches through the same endpoint
    assert (clone / "models/m0.safetensors").read_bytes() == data


@pytest.mark.parametrize("jobs", [1, 3])
def test_jobs_caps_the_uploads_in_flight(s3: tuple[str, Recorder, Any], repo: Repo,
                                         monkeypatch: pytest.MonkeyPatch, jobs: int) -> None:
    endpoint, recorder, fs = s3
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    blobs = add(repo, 6, 10)
    repo.model("remote", "add", "origin", f"s3://{BUCKET}/jobs", "--default", "--endpoint-url",
               endpoint)
    recorder.put_delay = 0.3  # every upload takes a while, so the parallel ones overlap
    out = repo.model("push", "--jobs", str(jobs))
    assert "uploaded 6 object(s)" in out.stdout
    assert len(recorder.object_puts()) == 6
    assert recorder.max_in_flight == jobs
    assert all(fs.exists(key_of(b, "jobs")) for b in blobs)


def test_jobs_must_be_at_least_one(repo: Repo) -> None:
    result = repo.model("push", "--jobs", "0", check=False)
    assert result.returncode == 2 and "--jobs" in result.stderr
