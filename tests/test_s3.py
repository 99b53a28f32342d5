"""Remotes on S3-compatible storage: moto's ThreadedMotoServer on 127.0.0.1, reached through the
unmodified s3fs/botocore client with the endpoint in the environment, as a user points gitmodel
at MinIO."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import socket
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Repo, empty_s3_bucket, random_bytes, sha256_file

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

ART = "models/m.safetensors"
BUCKET = "models"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An empty bucket on the loopback server; the endpoint and fake credentials in the env."""
    yield empty_s3_bucket(s3_endpoint, monkeypatch, BUCKET)


def oid_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def key_of(data: bytes, prefix: str = "repo") -> str:
    digest = hashlib.sha256(data).hexdigest()
    return f"{BUCKET}/{prefix}/objects/{digest[:2]}/{digest[2:]}"


def alice_with_versions(repo: Repo, tmp_path: Path, url: str) -> tuple[bytes, bytes, Path]:
    origin = tmp_path / "origin.git"
    repo.git("init", "-q", "--bare", str(origin))
    repo.git("remote", "add", "origin", str(origin))
    repo.model("remote", "add", "origin", url, "--default")
    repo.commit("model remote")
    v1, v2 = random_bytes(200_000, 1), random_bytes(300_000, 2)
    repo.write(ART, v1)
    repo.model("add", ART)
    repo.commit("v1")
    repo.git("tag", "-a", "m@v1.0.0", "-m", "m v1.0.0")
    repo.write(ART, v2)
    repo.model("add", ART)
    repo.commit("v2")
    repo.git("tag", "-a", "m#prod#1", "-m", "prod", "m@v1.0.0^{commit}")
    return v1, v2, origin


def clone(tmp_path: Path, origin: Path, name: str = "bob") -> Repo:
    Repo(tmp_path).git("clone", "-q", str(origin), str(tmp_path / name))
    bob = Repo(tmp_path / name)
    bob.model("install")
    return bob


def test_hook_push_then_pull_and_checkout_fetch(s3: Any, repo: Repo, tmp_path: Path) -> None:
    v1, v2, origin = alice_with_versions(repo, tmp_path, f"s3://{BUCKET}/repo")
    pushed = repo.git("push", "origin", "main", "--follow-tags")
    assert "uploaded 2 model object(s)" in pushed.stderr
    assert s3.exists(key_of(v1)) and s3.exists(key_of(v2))
    bob = clone(tmp_path, origin)
    bob.model("pull")
    assert sha256_file(bob.root / ART) == hashlib.sha256(v2).hexdigest()
    bob.git("checkout", "-q", "m@v1.0.0")  # fetched by the hook
    assert sha256_file(bob.root / ART) == hashlib.sha256(v1).hexdigest()


def test_partial_pull_and_get_of_a_stage(s3: Any, repo: Repo, tmp_path: Path) -> None:
    v1, _v2, origin = alice_with_versions(repo, tmp_path, f"s3://{BUCKET}/repo")
    repo.git("push", "-q", "origin", "main", "--follow-tags")
    repo.git("push", "-q", "origin", "m#prod#1")
    bob = clone(tmp_path, origin)
    out = json.loads(bob.model("fetch", "m@v1.0.0", "--json").stdout)
    assert out["transferred"] == [oid_of(v1)] and out["bytes"] == len(v1)
    deploy = tmp_path / "deploy"
    Repo(tmp_path).model("get", str(origin), "m#prod", "-o", str(deploy), cwd=tmp_path)
    assert sha256_file(deploy / "m.safetensors") == hashlib.sha256(v1).hexdigest()


def test_endpoint_from_the_remote_option(s3: Any, repo: Repo, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch,
                                         s3_endpoint: str) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    repo.write(ART, random_bytes(50_000, 5))
    repo.model("add", ART)
    repo.model("remote", "add", "minio", f"s3://{BUCKET}/opt", "--default", "--endpoint-url",
               s3_endpoint)
    repo.model("push")
    assert s3.exists(key_of(random_bytes(50_000, 5), "opt"))


def test_tampered_object_on_s3_is_rejected(s3: Any, repo: Repo, tmp_path: Path) -> None:
    _v1, v2, origin = alice_with_versions(repo, tmp_path, f"s3://{BUCKET}/repo")
    repo.git("push", "-q", "origin", "main")
    s3.pipe(key_of(v2), b"tampered")
    bob = clone(tmp_path, origin)
    result = bob.model("pull", check=False)
    assert result.returncode == 1
    assert "corrupt" in result.stderr and f"s3://{BUCKET}/repo" in result.stderr
    assert not (bob.root / ".git" / "model" / "objects").exists() or not any(
        (bob.root / ".git" / "model" / "objects").rglob("*"))


def test_missing_bucket_is_named(s3: Any, repo: Repo) -> None:
    repo.write(ART, random_bytes(10_000, 6))
    repo.model("add", ART)
    repo.model("remote", "add", "origin", "s3://no-such-bucket/x", "--default")
    result = repo.model("push", check=False)
    assert result.returncode == 1
    assert "bucket 'no-such-bucket' does not exist" in result.stderr


def test_unreachable_endpoint(repo: Repo, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    _v1, _v2, origin = alice_with_versions(repo, tmp_path, f"s3://{BUCKET}/repo")
    result = repo.model("push", check=False)
    assert result.returncode == 1 and "cannot reach" in result.stderr
    pushed = repo.git("push", "origin", "main", check=False)
    assert pushed.returncode != 0 and "push refused" in pushed.stderr
    repo.git("push", "-q", "--no-verify", "origin", "main", "--tags")
    bob = clone(tmp_path, origin)
    started = time.monotonic()
    checkout = bob.git("checkout", "-q", "m@v1.0.0")
    assert time.monotonic() - started < 15
    assert "could not fetch" in checkout.stderr and not (bob.root / ART).exists()


def test_wrong_credentials_say_access_denied(s3: Any, repo: Repo,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import moto.settings

    repo.write(ART, random_bytes(10_000, 7))
    repo.model("add", ART)
    repo.model("remote", "add", "origin", f"s3://{BUCKET}/repo", "--default")
    # from now on the server checks keys against its (empty) IAM, as real S3 would
    monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG1")
    result = repo.model("push", check=False)
    assert result.returncode == 1
    assert "access denied" in result.stderr and "credentials" in result.stderr


def test_no_credentials_say_what_was_looked_for(s3: Any, repo: Repo, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 7: "NoCredentialsError: Unable to locate credentials" led nowhere."""
    repo.write(ART, random_bytes(10_000, 8))
    repo.model("add", ART)
    repo.model("remote", "add", "origin", f"s3://{BUCKET}/repo", "--default")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role on loopback
    result = repo.model("push", check=False)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    for hint in ("no credentials found", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                 "AWS_PROFILE", "~/.aws/credentials", "--profile"):
        assert hint in lines[0], hint
    # with a profile named on the remote, the message names that profile and where it is read
    repo.model("remote", "add", "origin", f"s3://{BUCKET}/repo", "--default", "--profile",
               "team", "--force")
    named = repo.model("push", check=False)
    assert named.returncode == 1 and "Traceback" not in named.stderr
    assert len(named.stderr.strip().splitlines()) == 1
    assert "'team'" in named.stderr and "~/.aws/credentials" in named.stderr


class RequestLog(logging.Handler):
    """The request lines moto's werkzeug server logs, one per request it received."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # (werkzeug colours some lines, e.g. a 404, with ANSI escapes: drop them)
        text = re.sub(r"\x1b\[[0-9;]*m", "", record.getMessage())
        match = re.search(r'"([A-Z]+) (\S+) HTTP/', text)
        if match:
            self.lines.append(f"{match.group(1)} {urllib.parse.unquote(match.group(2))}")


@pytest.fixture
def request_log() -> Iterator[RequestLog]:
    logger = logging.getLogger("werkzeug")
    handler = RequestLog()
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def object_lookups(lines: list[str], prefix: str) -> list[str]:
    """Requests that ask about one object key (HEAD it, or list with the key as the prefix)."""
    key = re.compile(rf"/{BUCKET}/{prefix}/objects/[0-9a-f]{{2}}/[0-9a-f]{{62}}$|"
                     rf"prefix={prefix}/objects/[0-9a-f]{{2}}/[0-9a-f]{{62}}")
    return [ln for ln in lines if not ln.startswith("PUT") and key.search(ln)]


def objects_listings(lines: list[str], prefix: str) -> list[str]:
    """Listings of every key under objects/ (no delimiter: the whole tree, page by page)."""
    return [ln for ln in lines if ln.startswith(f"GET /{BUCKET}?") and "list-type=2" in ln
            and f"prefix={prefix}/objects/&delimiter=&" in ln]


def split_records(lines: list[str], prefix: str) -> tuple[list[str], list[str]]:
    """(requests about objects, requests about gitmodel/ records). After its uploads a push
    writes its ledger entry and repository record and lists the gc records (the remote gc
    protocol, docs/remotes.md): a constant handful, whatever the number of objects."""
    records = [ln for ln in lines if f"{prefix}/gitmodel" in ln]
    return [ln for ln in lines if ln not in records], records


@pytest.mark.parametrize("count", [3, 8, 9, 12])
def test_existence_check_lists_once_above_8_objects(s3: Any, repo: Repo, count: int,
                                                    request_log: RequestLog) -> None:
    """docs/remotes.md: a batch of more than 8 objects is answered by one listing of objects/,
    a smaller one by a lookup per object. Counted on the server, from the requests it got."""
    blobs = [random_bytes(10_000, 40 + i) for i in range(count)]
    for i, data in enumerate(blobs):
        repo.write(f"models/m{i}.safetensors", data)
    repo.model("add", *(f"models/m{i}.safetensors" for i in range(count)))
    repo.model("remote", "add", "origin", f"s3://{BUCKET}/batch", "--default")
    out = repo.model("push")
    assert f"uploaded {count} object(s)" in out.stdout
    lines, records = split_records(request_log.lines, "batch")
    puts = [ln for ln in lines if ln.startswith("PUT") and "/objects/" in ln]
    assert len(puts) == count, lines
    if count > 8:
        assert len(objects_listings(lines, "batch")) == 1, lines
        assert object_lookups(lines, "batch") == [], lines
    else:
        assert objects_listings(lines, "batch") == [], lines
        heads = [ln for ln in object_lookups(lines, "batch") if ln.startswith("HEAD")]
        assert len(heads) == count, lines
    # once everything is there, the question is all the push asks: one listing above 8
    # objects (s3fs adds a folder check only when a listing comes back empty, as above), else
    # one HEAD per object, which finds it
    request_log.lines.clear()
    assert "everything is already on" in repo.model("push").stdout
    lines, records = split_records(request_log.lines, "batch")
    assert len(records) <= 6, records
    if count > 8:
        assert lines == objects_listings(lines, "batch") and len(lines) == 1, lines
    else:
        assert len(lines) == count and all(ln.startswith("HEAD") for ln in lines), lines
        assert len(object_lookups(lines, "batch")) == count, lines
    assert all(s3.exists(key_of(b, "batch")) for b in blobs)


def fetch_fixture(tmp_path: Path, count: int, prefix: str, *, chunk_threshold: int | None = None
                  ) -> tuple[Any, list[Any], Any]:
    """``count`` objects of 20-40 KB pushed to s3://BUCKET/PREFIX from a store: (the source
    store, their needs, the remote)."""
    from gitmodel.remote import Need, open_remote, push_objects
    from gitmodel.store import ObjectStore

    src = ObjectStore(tmp_path / "src", chunk_threshold=chunk_threshold)
    needs = []
    for i in range(count):
        path = tmp_path / f"f{i}"
        path.write_bytes(random_bytes(20_000 + 1000 * i, 700 + i))
        oid, size = src.put_file(path)
        needs.append(Need(oid, size, f"m{i}", "v1.0.0"))
    remote = open_remote(f"s3://{BUCKET}/{prefix}")
    push_objects(src, remote, needs)
    return src, needs, remote


def leftovers(store: Any) -> list[str]:
    tmp = store.root / "tmp"
    return sorted(p.name for p in tmp.iterdir()) if tmp.is_dir() else []


def test_fetch_asks_for_each_small_object_by_its_get_alone(s3: Any, tmp_path: Path,
                                                           request_log: RequestLog) -> None:
    """No listing of objects/ and no HEAD before the GETs: a fetch of 12 small objects is 12
    requests to the server, one GET per object, each verified into the cache."""
    from gitmodel.remote import fetch_objects, open_remote
    from gitmodel.store import ObjectStore

    src, needs, _ = fetch_fixture(tmp_path, 12, "many")
    request_log.lines.clear()
    down = ObjectStore(tmp_path / "down")
    report = fetch_objects(down, open_remote(f"s3://{BUCKET}/many"), needs)
    assert sorted(report.transferred) == sorted(n.oid for n in needs) and not report.absent
    assert report.bytes == sum(n.size for n in needs)
    lines = [ln for ln in request_log.lines if f"/{BUCKET}/many/" in ln or "many/" in ln]
    assert len(lines) == 12 and all(ln.startswith("GET /models/many/objects/") for ln in lines), \
        lines
    for need in needs:
        assert down.object_path(need.oid).read_bytes() == src.object_path(need.oid).read_bytes()
    assert leftovers(down) == []


def test_fetch_of_a_missing_object_names_it_and_keeps_the_rest(s3: Any, tmp_path: Path) -> None:
    """The GET's own 404 is the answer: the object is reported absent (named with its model,
    version and remote), nothing of it is in the cache or left in tmp/, the others arrive."""
    from gitmodel.remote import fetch_objects, open_remote
    from gitmodel.remote.transfer import absent_error

    _, needs, _ = fetch_fixture(tmp_path, 10, "gone")
    lost = needs[3]
    s3.rm(key_of_oid(lost.oid, "gone"))
    from gitmodel.store import ObjectStore

    down = ObjectStore(tmp_path / "down")
    report = fetch_objects(down, open_remote(f"s3://{BUCKET}/gone"), needs)
    assert report.absent == [lost]
    assert sorted(report.transferred) == sorted(n.oid for n in needs if n is not lost)
    assert not down.has(lost.oid) and leftovers(down) == []
    message = str(absent_error(report))
    assert lost.oid in message and f"s3://{BUCKET}/gone" in message
    assert "model m3, v1.0.0" in message and "git model push" in message


def test_fetch_refuses_a_tampered_small_object(s3: Any, tmp_path: Path) -> None:
    from gitmodel.errors import RemoteError
    from gitmodel.remote import fetch_objects, open_remote
    from gitmodel.store import ObjectStore

    _, needs, _ = fetch_fixture(tmp_path, 3, "bad")
    bad = needs[1]
    s3.pipe(key_of_oid(bad.oid, "bad"), b"not the bytes" * 1000)
    down = ObjectStore(tmp_path / "down")
    with pytest.raises(RemoteError) as caught:
        fetch_objects(down, open_remote(f"s3://{BUCKET}/bad"), [bad])
    assert bad.oid in str(caught.value) and "corrupt" in str(caught.value)
    assert not down.has(bad.oid) and leftovers(down) == []


def test_fetch_of_a_small_object_the_remote_holds_as_a_recipe(s3: Any, tmp_path: Path) -> None:
    """A clone that chunks smaller files pushed a recipe: the GET of the whole object finds
    nothing, and the object comes down as its chunks, verified."""
    from gitmodel.remote import fetch_objects, open_remote
    from gitmodel.store import ObjectStore

    src, needs, _ = fetch_fixture(tmp_path, 2, "small-recipes", chunk_threshold=10_000)
    assert all(src.is_chunked(n.oid) for n in needs)
    down = ObjectStore(tmp_path / "down")
    report = fetch_objects(down, open_remote(f"s3://{BUCKET}/small-recipes"), needs)
    assert sorted(report.transferred) == sorted(n.oid for n in needs) and not report.absent
    for need in needs:
        down.materialize(need.oid, tmp_path / "out")
        with src.whole_file(need.oid) as path:
            assert (tmp_path / "out").read_bytes() == path.read_bytes()
        (tmp_path / "out").unlink()


def key_of_oid(oid: str, prefix: str) -> str:
    digest = oid.removeprefix("sha256:")
    return f"{BUCKET}/{prefix}/objects/{digest[:2]}/{digest[2:]}"


def test_fetch_of_a_chunked_object_reads_recipe_and_index_by_one_get_each(
        s3: Any, tmp_path: Path, request_log: RequestLog) -> None:
    """One lookup of the recipe (the object is large, so it is asked for as a recipe first),
    then one GET for the recipe and for each index, with no HEAD before them (s3fs asks a key's
    size before a whole read unless told to read it in one request), then the pack ranges."""
    from gitmodel.remote import fetch_objects, open_remote
    from gitmodel.store import ObjectStore

    src, needs, _ = fetch_fixture(tmp_path, 1, "chunked", chunk_threshold=10_000)
    assert src.is_chunked(needs[0].oid)
    request_log.lines.clear()
    down = ObjectStore(tmp_path / "down", chunk_threshold=10_000)
    report = fetch_objects(down, open_remote(f"s3://{BUCKET}/chunked"), needs)
    assert report.transferred == [needs[0].oid]
    lines = [ln for ln in request_log.lines if "/chunked/" in ln or "prefix=chunked/" in ln]
    heads = [ln for ln in lines if ln.startswith("HEAD")]
    assert len(heads) == 1 and "/chunked/recipes/" in heads[0], lines
    recipe_gets = [ln for ln in lines if ln.startswith("GET") and "/chunked/recipes/" in ln]
    index_gets = [ln for ln in lines if ln.startswith("GET") and ln.endswith(".idx")]
    assert len(recipe_gets) == 1 and len(index_gets) == 1, lines
