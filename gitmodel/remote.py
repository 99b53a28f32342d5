"""Remotes: where model objects are shared — a directory, or any fsspec URL (``s3://`` first).

The interface is object-level (DESIGN.md decision 9): a batched "which of these oids do you
have", and put/get by oid, so another backend (a Git LFS batch-API server speaks the same sha256
oids) can sit beside these two later.

Layout on every remote (docs/remotes.md): ``<url>/objects/<hex[:2]>/<hex[2:]>`` holds the bytes of
``sha256:<hex>``, like the cache; ``<url>/tmp/`` holds uploads in progress on backends whose
writes are not atomic.

Costs that shaped this module (measured here): importing fsspec takes 0.15 s and s3fs 0.5 s, so a
directory remote is served with the standard library alone, fsspec is imported only when a
transfer to another URL really happens, and the pre-push hook decides "nothing new" from a local
record of what each remote already holds (:class:`RemoteRecord`) without any import or request.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from gitmodel import git, modelfile
from gitmodel.config import CONFIG_FILE, Config, parse_remotes
from gitmodel.errors import CorruptObjectError, GitmodelError, RemoteError, VersionError
from gitmodel.hashing import CHUNK_SIZE, OID_PREFIX, Progress
from gitmodel.semver import ModelSpec, Register, parse_spec, parse_tag
from gitmodel.store import ObjectStore, is_oid
from gitmodel.workspace import Model, Workspace, load_models, select_models

DEFAULT_JOBS = 8
# Above this many oids one listing of the remote's objects/ answers "which do you have" in one
# paginated call (1,000 keys a page on S3); below it, a concurrent lookup per oid is cheaper than
# listing a large remote. s3fs answers a lookup of an absent key with two requests (HEAD, then a
# LIST to rule out a folder), so per-oid lookups cost 2.4x the time of the upload of 40 x 1 MiB
# objects on loopback (benchmarks/RESULTS-remote.md).
LIST_THRESHOLD = 8
# Backends where an object appears under its key only once the PUT (or the whole multipart
# upload) completes, so uploading straight to the final key never shows a partial object.
ATOMIC_PUT_SCHEMES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory"})
# What to `pip install` for a scheme whose fsspec backend is missing.
EXTRAS = {"s3": "gitmodel[s3]", "s3a": "gitmodel[s3]", "gs": "gcsfs", "gcs": "gcsfs",
          "az": "adlfs", "abfs": "adlfs", "abfss": "adlfs", "ssh": "paramiko", "sftp": "paramiko"}


class Cancelled(Exception):
    """A transfer stopped because another one failed or the user pressed Ctrl-C."""


class RemoteObjectMissing(RemoteError):
    def __init__(self, oid: str, url: str) -> None:
        self.oid = oid
        super().__init__(f"{url} does not have object {oid}")


def object_key(oid: str) -> str:
    """Where ``oid`` lives below a remote's root (the same split as the cache)."""
    if not is_oid(oid):
        raise GitmodelError(f"not an object id: {oid!r}")
    hexdigest = oid[len(OID_PREFIX):]
    return f"objects/{hexdigest[:2]}/{hexdigest[2:]}"


def _oid_of_key(key: str) -> str | None:
    parts = key.rstrip("/").rsplit("/", 2)
    if len(parts) < 3:
        return None
    oid = OID_PREFIX + parts[-2] + parts[-1]
    return oid if is_oid(oid) else None


class ObjectRemote(Protocol):
    """What gitmodel needs of a remote: a batched existence check, and put/get by oid."""

    url: str

    def has(self, oids: Sequence[str]) -> set[str]:
        """The subset of ``oids`` the remote holds (one batched question)."""
        ...

    def upload(self, oid: str, source: Path, progress: Progress) -> None:
        """Store ``source`` as ``oid``; never visible under its final name until complete."""
        ...

    def download(self, oid: str, target: Path, progress: Progress) -> None:
        """Write the remote's bytes of ``oid`` to ``target`` (the caller verifies them)."""
        ...

    def where(self, oid: str) -> str:
        """A URL naming the object, for messages."""
        ...


def _copy(source: Path, target: Path, progress: Progress) -> None:
    with open(source, "rb") as src, open(target, "wb") as dst:
        while chunk := src.read(CHUNK_SIZE):
            dst.write(chunk)
            progress(len(chunk))


class DirectoryRemote:
    """A remote in a local (or mounted network) directory, served without fsspec.

    An upload is written under ``tmp/`` and renamed into place, so a reader never sees a partial
    object (a rename is atomic within one file system).
    """

    def __init__(self, url: str, root: Path) -> None:
        self.url = url
        self.root = root

    def where(self, oid: str) -> str:
        return str(self.root / object_key(oid))

    def has(self, oids: Sequence[str]) -> set[str]:
        return {oid for oid in oids if (self.root / object_key(oid)).is_file()}

    def upload(self, oid: str, source: Path, progress: Progress) -> None:
        final = self.root / object_key(oid)
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = tmp_dir / f"{oid[len(OID_PREFIX):]}.{uuid.uuid4().hex}"
        try:
            _copy(source, tmp, progress)
            os.chmod(tmp, 0o444)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    def download(self, oid: str, target: Path, progress: Progress) -> None:
        source = self.root / object_key(oid)
        if not source.is_file():
            raise RemoteObjectMissing(oid, self.url)
        _copy(source, target, progress)


class FsspecRemote:
    """A remote at any URL fsspec has a backend for (s3://, gs://, az://, ssh://...)."""

    def __init__(self, url: str, fs: Any, root: str, scheme: str, jobs: int = DEFAULT_JOBS) -> None:
        self.url = url
        self.fs = fs
        self.root = root.rstrip("/")
        self.scheme = scheme
        self.jobs = jobs

    def where(self, oid: str) -> str:
        return f"{self.url.rstrip('/')}/{object_key(oid)}"

    def _path(self, oid: str) -> str:
        return f"{self.root}/{object_key(oid)}"

    def has(self, oids: Sequence[str]) -> set[str]:
        wanted = set(oids)
        if not wanted:
            return set()
        if len(wanted) > LIST_THRESHOLD:
            try:
                listed = self.fs.find(f"{self.root}/objects")
            except FileNotFoundError:
                listed = []
            present = {_oid_of_key(str(key)) for key in listed}
            return wanted & {o for o in present if o}
        found: set[str] = set()
        lock = threading.Lock()

        def probe(oid: str, _progress: Progress) -> None:
            try:
                self.fs.info(self._path(oid))
            except FileNotFoundError:
                return
            with lock:
                found.add(oid)

        run_parallel(sorted(wanted), probe, self.jobs)
        return found

    def upload(self, oid: str, source: Path, progress: Progress) -> None:
        final = self._path(oid)
        callback = _fsspec_callback(progress)
        if self.scheme in ATOMIC_PUT_SCHEMES:
            # An object store shows a key only once its PUT (or CompleteMultipartUpload) is done;
            # an interrupted multipart upload leaves no object under the key.
            self.fs.put_file(str(source), final, callback=callback)
            return
        tmp = f"{self.root}/tmp/{oid[len(OID_PREFIX):]}.{uuid.uuid4().hex}"
        with contextlib.suppress(Exception):
            self.fs.makedirs(f"{self.root}/tmp", exist_ok=True)
            self.fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
        try:
            self.fs.put_file(str(source), tmp, callback=callback)
            self.fs.mv(tmp, final)
        except BaseException:
            with contextlib.suppress(Exception):
                self.fs.rm_file(tmp)
            raise

    def download(self, oid: str, target: Path, progress: Progress) -> None:
        try:
            self.fs.get_file(self._path(oid), str(target), callback=_fsspec_callback(progress))
        except FileNotFoundError as exc:
            if "bucket" in str(exc).lower():
                raise
            raise RemoteObjectMissing(oid, self.url) from None


def _fsspec_callback(progress: Progress) -> Any:
    from fsspec.callbacks import Callback

    class _Relay(Callback):
        """Passes fsspec's byte counts on to gitmodel's progress callback."""

        seen = 0

        def relative_update(self, inc: int = 1) -> None:
            self.seen += inc
            progress(inc)

        def absolute_update(self, value: int) -> None:
            delta, self.seen = value - self.seen, value
            if delta > 0:
                progress(delta)

    return _Relay()


def scheme_of(url: str) -> str:
    head, sep, _ = url.partition("://")
    if not sep or "/" in head or not head.replace("+", "").replace("-", "").isalnum():
        return ""
    return head.lower()


def open_remote(url: str, options: dict[str, Any] | None = None, *, base: Path | None = None,
                quick: bool = False, jobs: int = DEFAULT_JOBS) -> ObjectRemote:
    """The backend for ``url``. ``base`` resolves a relative directory; ``quick`` uses short
    timeouts and no retries, for hooks that must never hold a checkout up for long."""
    options = dict(options or {})
    scheme = scheme_of(url)
    if scheme in ("", "file"):
        path = Path(url[len("file://"):] if scheme == "file" else url).expanduser()
        if not path.is_absolute():
            if base is None:
                raise RemoteError(f"remote {url!r} is a relative path; give an absolute path "
                                  "or URL (with `--remote`)")
            path = base / path
        return DirectoryRemote(url, Path(os.path.normpath(path)))
    try:
        import fsspec
    except ImportError:  # pragma: no cover - fsspec is a dependency
        raise RemoteError("fsspec is not installed; reinstall gitmodel") from None
    try:
        cls = fsspec.get_filesystem_class(scheme)
    except ValueError:
        raise RemoteError(f"remote {url}: no backend knows the {scheme}:// scheme; use a path, "
                          "file://, s3://, gs://, az:// or another fsspec URL") from None
    except ImportError:
        extra = EXTRAS.get(scheme, f"the fsspec backend for {scheme}://")
        raise RemoteError(f"remote {url} needs {extra}, which is not installed: "
                          f"`pip install '{extra}'`") from None
    kwargs: dict[str, Any] = {}
    if scheme in ("s3", "s3a"):
        if options.get("endpoint_url"):
            kwargs["endpoint_url"] = options["endpoint_url"]
        if options.get("profile"):
            kwargs["profile"] = options["profile"]
        if options.get("region"):
            kwargs["client_kwargs"] = {"region_name": options["region"]}
        kwargs["config_kwargs"] = (
            {"connect_timeout": 2, "read_timeout": 20, "retries": {"max_attempts": 1}}
            if quick else {"connect_timeout": 10, "read_timeout": 60,
                           "retries": {"max_attempts": 1}})
        kwargs["skip_instance_cache"] = True
        kwargs["max_concurrency"] = 8
    try:
        fs = fsspec.filesystem(scheme, **kwargs)
    except ImportError:
        extra = EXTRAS.get(scheme, f"the fsspec backend for {scheme}://")
        raise RemoteError(f"remote {url} needs {extra}: `pip install '{extra}'`") from None
    if hasattr(fs, "retries"):
        # s3fs retries connection errors, timeouts and SlowDown with a short backoff of its own;
        # botocore's retries on top of them made a dead endpoint take 5-20 s to report (measured)
        fs.retries = 1 if quick else 3
    return FsspecRemote(url, fs, cls._strip_protocol(url), scheme, jobs)


def explain(exc: BaseException, remote: ObjectRemote, doing: str) -> RemoteError:
    """A message a user can act on for a failure of ``doing`` against ``remote``."""
    if isinstance(exc, RemoteError):
        return exc
    text = str(exc) or type(exc).__name__
    names = {c.__name__ for c in type(exc).__mro__}
    lowered = text.lower()
    url = remote.url
    if isinstance(exc, PermissionError) or "accessdenied" in lowered.replace(" ", "") or \
            "invalidaccesskeyid" in lowered.replace(" ", "") or "signature" in lowered:
        return RemoteError(f"{doing} {url}: access denied ({text}); check the credentials "
                           "(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE) and that they "
                           "may read and write this bucket")
    if "bucket" in lowered and ("not exist" in lowered or "nosuchbucket" in lowered):
        bucket = url.split("://", 1)[-1].split("/", 1)[0]
        return RemoteError(f"{doing} {url}: the bucket {bucket!r} does not exist; create it "
                           "or fix the remote's url (`git model remote list`)")
    if names & {"EndpointConnectionError", "ConnectTimeoutError", "ConnectionError",
                "ClientConnectorError", "ServerDisconnectedError", "ReadTimeoutError",
                "TimeoutError", "ConnectionRefusedError"} or "connect" in lowered:
        return RemoteError(f"{doing} {url}: cannot reach the storage endpoint ({text}); check "
                           "the network and the endpoint (AWS_ENDPOINT_URL or the remote's "
                           "endpoint_url)")
    if isinstance(exc, FileNotFoundError):
        return RemoteError(f"{doing} {url}: not found ({text})")
    return RemoteError(f"{doing} {url} failed: {type(exc).__name__}: {text}")


# -- running transfers in parallel ------------------------------------------------------------

def run_parallel(items: Sequence[Any], work: Callable[[Any, Progress], None], jobs: int,
                 progress: Progress | None = None) -> None:
    """Run ``work(item, progress)`` on up to ``jobs`` threads; the first failure stops the rest.

    The threads are daemons and the main thread waits in short joins, so Ctrl-C lands at once:
    the workers' progress calls then raise :class:`Cancelled`, and whatever they wrote is a temp
    file, never an object under its final name.
    """
    if not items:
        return
    cancel = threading.Event()
    lock = threading.Lock()
    pending = iter(items)
    errors: list[BaseException] = []

    def tick(nbytes: int) -> None:
        if cancel.is_set():
            raise Cancelled()
        if progress is not None:
            with lock:
                progress(nbytes)

    def worker() -> None:
        while not cancel.is_set():
            with lock:
                item = next(pending, _END)
            if item is _END:
                return
            try:
                work(item, tick)
            except BaseException as exc:
                with lock:
                    if not isinstance(exc, Cancelled) or not errors:
                        errors.append(exc)
                cancel.set()
                return

    threads = [threading.Thread(target=worker, name="gitmodel-transfer", daemon=True)
               for _ in range(max(1, min(jobs, len(items))))]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.1)
    except BaseException:
        cancel.set()
        raise
    real = [e for e in errors if not isinstance(e, Cancelled)]
    if real or errors:
        raise (real or errors)[0]


_END = object()


# -- what a remote is known to hold -----------------------------------------------------------

class RemoteRecord:
    """Oids this clone has seen on a remote (uploaded, or found there), so the pre-push hook can
    decide "nothing new" without importing a backend or asking the network.

    A hint only: an explicit `git model push` asks the remote again.
    """

    def __init__(self, model_dir: Path, url: str) -> None:
        digest = hashlib.sha256(url.encode()).hexdigest()[:16]
        self.path = model_dir / "remotes" / f"{digest}.oids"
        self.url = url

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


# -- what needs moving ------------------------------------------------------------------------

@dataclass(frozen=True)
class Need:
    """One object and who needs it (for messages naming the model and version)."""

    oid: str
    size: int
    model: str
    version: str  # "v1.2.0", "the work tree", "commit 1a2b3c4d5e6f"


def needs_of_model(model: Model, version: str) -> list[Need]:
    return [Need(e.oid, e.size, model.spec.name, version) for _, e in model.file_targets()]


def needs_of_worktree(ws: Workspace, names: Sequence[str] = ()) -> list[Need]:
    models = load_models(ws.root).models
    needs: list[Need] = []
    for model in select_models(models, names, "the work tree"):
        needs += needs_of_model(model, "the work tree")
    return needs


def model_at(root: Path, commit: str, name: str) -> Model | None:
    """Model ``name`` as the tree of ``commit`` holds it (None when it has no model file)."""
    from gitmodel import registry

    found, _errors = registry.models_at(root, commit)
    if name not in found:
        return None
    path, spec = found[name]
    return Model(path, spec)


def needs_of_versions(ws: Workspace, spec: str | None = None) -> list[Need]:
    """Objects of every registered version, or of the versions ``spec`` picks (``NAME`` for all
    of a model's versions; ``NAME@v1.2.0``, ``NAME@^1``, ``NAME#prod`` for the one it resolves
    to, by the registry's rules)."""
    from gitmodel import registry

    if spec is None:
        chosen = [ver for state in registry.read(ws.root).models.values()
                  for ver in state.active_versions]
    else:
        parsed = parse_spec(spec)
        reg = registry.read(ws.root, parsed.name)
        if parsed.range is None and parsed.stage is None:
            chosen = reg.model(parsed.name).active_versions
            if not chosen:
                raise VersionError(f"{parsed.name} has no registered versions here "
                                   "(`git fetch --tags`?)")
        else:
            chosen = [registry.resolve_version(reg, parsed)]
    needs: list[Need] = []
    for ver in chosen:
        path, model_spec, _ = registry.model_file_of(ws.root, ver)
        needs += needs_of_model(Model(path, model_spec), ver.version)
    return needs


def needs_of_push(ws: Workspace, git_remote: str,
                  updates: Sequence[tuple[str, str, str, str]]) -> list[Need]:
    """Objects named by every model file version in the commits being pushed that the git remote
    does not have yet, and by the version tags being pushed."""
    shas = [local for _, local, _, _ in updates if local != git.ZERO_OID]
    if not shas:
        return []
    # --raw lists the blob of every added or modified model file in every new commit, not only
    # at the tips: each pushed commit must be restorable from the remote.
    out = git.run(["log", "--no-renames", "--diff-filter=AM", "--format=", "--raw", "-z",
                   "--no-abbrev", *shas, "--not", f"--remotes={git_remote}", "--",
                   modelfile.PATHSPEC], ws.root)
    fields = [f for f in out.split("\0") if f.strip("\n")]
    blobs: dict[str, str] = {}
    for meta, path in zip(fields[::2], fields[1::2], strict=False):
        parts = meta.strip("\n").lstrip(":").split()
        if len(parts) >= 5 and modelfile.is_model_file_path(path):
            blobs[parts[3]] = path
    contents = git.read_blobs(ws.root, sorted(blobs))
    needs: list[Need] = []
    for blob, path in sorted(blobs.items(), key=lambda item: item[1]):
        data = contents.get(blob)
        if data is None:
            continue
        needs += needs_of_model(Model(path, modelfile.loads(data, path)),
                                f"a pushed commit ({path})")
    for _, local, remote_ref, _ in updates:
        if local == git.ZERO_OID or not remote_ref.startswith("refs/tags/"):
            continue
        event = parse_tag(remote_ref[len("refs/tags/"):])
        if not isinstance(event, Register):
            continue
        commit = git.run(["rev-parse", "--verify", f"{local}^{{commit}}"], ws.root).strip()
        model = model_at(ws.root, commit, event.name)
        if model is None:
            raise GitmodelError(f"{remote_ref[len('refs/tags/'):]}: commit {commit[:12]} has no "
                                f"model file for {event.name}; delete the tag or re-tag the "
                                "right commit")
        needs += needs_of_model(model, f"v{event.version}")
    return needs


def _unique(needs: Iterable[Need]) -> list[Need]:
    seen: dict[str, Need] = {}
    for need in needs:
        seen.setdefault(need.oid, need)
    return list(seen.values())


# -- choosing a remote ------------------------------------------------------------------------

@dataclass(frozen=True)
class NamedRemote:
    name: str
    url: str
    options: dict[str, Any] = field(default_factory=dict)


def choose_remote(config: Config, name: str | None = None) -> NamedRemote:
    """The remote called ``name`` (a configured name, or a URL), else the default one."""
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
        raise RemoteError("no model remote is configured; add one with "
                          "`git model remote add origin s3://BUCKET/PATH --default` "
                          "(or a directory path) and commit .gitmodel.toml")
    name = config.default_remote
    return NamedRemote(name, config.remotes[name], config.remote_options.get(name, {}))


def record_for(ws: Workspace, url: str) -> RemoteRecord:
    return RemoteRecord(ws.repo.model_dir, url)


def open_named(ws: Workspace, remote: NamedRemote, *, quick: bool = False,
               jobs: int = DEFAULT_JOBS) -> ObjectRemote:
    return open_remote(remote.url, remote.options, base=ws.root, quick=quick, jobs=jobs)


# -- push and fetch ---------------------------------------------------------------------------

@dataclass
class TransferReport:
    remote: str
    transferred: list[str] = field(default_factory=list)
    bytes: int = 0
    skipped: int = 0  # objects already where they were going
    seconds: float = 0.0
    absent: list[Need] = field(default_factory=list)  # fetch: objects the remote lacks


Plan = Callable[[int, int], None]
"""Called once before a transfer with (objects to move, bytes to move)."""


def push_objects(store: ObjectStore, remote: ObjectRemote, needs: Sequence[Need], *,
                 record: RemoteRecord | None = None, jobs: int = DEFAULT_JOBS,
                 progress: Progress | None = None, plan: Plan | None = None,
                 skip_known: bool = False) -> TransferReport:
    """Upload the objects of ``needs`` that ``remote`` lacks (asked in one batch)."""
    started = time.monotonic()
    unique = _unique(needs)
    report = TransferReport(remote.url)
    lost = [n for n in unique if not store.has(n.oid)]
    if lost:
        first = lost[0]
        raise RemoteError(
            f"cannot push {first.oid} (model {first.model}, {first.version}): it is not in this "
            f"clone's cache{f' (and {len(lost) - 1} more)' if len(lost) > 1 else ''}; "
            "`git model pull` it or `git model add` the original file, then push again")
    if skip_known and record is not None:
        known = record.known()
        report.skipped += sum(1 for n in unique if n.oid in known)
        unique = [n for n in unique if n.oid not in known]
    if not unique:
        return report
    try:
        present = remote.has([n.oid for n in unique])
    except Exception as exc:
        raise explain(exc, remote, "asking what is on") from None
    if record is not None:
        record.add(sorted(present))
    todo = [n for n in unique if n.oid not in present]
    report.skipped += len(unique) - len(todo)
    if plan is not None:
        plan(len(todo), sum(n.size for n in todo))
    lock = threading.Lock()

    def upload(need: Need, tick: Progress) -> None:
        try:
            remote.upload(need.oid, store.object_path(need.oid), tick)
        except (Cancelled, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise explain(exc, remote, f"uploading {need.oid} (model {need.model}, "
                                       f"{need.version}) to") from None
        if record is not None:
            record.add([need.oid])
        with lock:
            report.transferred.append(need.oid)
            report.bytes += need.size

    try:
        run_parallel(todo, upload, jobs, progress)
    finally:
        report.seconds = time.monotonic() - started
    return report


def fetch_objects(store: ObjectStore, remote: ObjectRemote, needs: Sequence[Need], *,
                  record: RemoteRecord | None = None, jobs: int = DEFAULT_JOBS,
                  progress: Progress | None = None, plan: Plan | None = None) -> TransferReport:
    """Download the objects of ``needs`` missing from the cache, each verified by sha256 before
    it enters the cache. Objects the remote lacks are listed in ``report.absent``."""
    started = time.monotonic()
    report = TransferReport(remote.url)
    unique = _unique(needs)
    wanted = [n for n in unique if not store.has(n.oid)]
    report.skipped = len(unique) - len(wanted)
    if not wanted:
        return report
    try:
        present = remote.has([n.oid for n in wanted])
    except Exception as exc:
        raise explain(exc, remote, "asking what is on") from None
    report.absent = [n for n in wanted if n.oid not in present]
    todo = [n for n in wanted if n.oid in present]
    if record is not None:
        record.add(sorted(present))
    if plan is not None:
        plan(len(todo), sum(n.size for n in todo))
    lock = threading.Lock()

    def download(need: Need, tick: Progress) -> None:
        tmp = store.new_temp_file()
        try:
            try:
                remote.download(need.oid, tmp, tick)
            except (Cancelled, KeyboardInterrupt):
                raise
            except Exception as exc:
                raise explain(exc, remote, f"downloading {need.oid} (model {need.model}, "
                                           f"{need.version}) from") from None
            try:
                store.put_verified(tmp, need.oid, remote.where(need.oid))
            except CorruptObjectError as exc:
                raise RemoteError(
                    f"object {need.oid} (model {need.model}, {need.version}) on remote "
                    f"{remote.url} is corrupt: its bytes hash to {exc.actual}, so it was not put "
                    f"in the cache; whoever can should delete {remote.where(need.oid)} and push "
                    "it again from a clone that has the right bytes") from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        with lock:
            report.transferred.append(need.oid)
            report.bytes += os.path.getsize(store.object_path(need.oid))

    try:
        run_parallel(todo, download, jobs, progress)
    finally:
        report.seconds = time.monotonic() - started
    return report


def absent_error(report: TransferReport) -> RemoteError:
    first = report.absent[0]
    more = f" (and {len(report.absent) - 1} more)" if len(report.absent) > 1 else ""
    return RemoteError(
        f"remote {report.remote} does not have {first.oid} (model {first.model}, "
        f"{first.version}){more}; whoever committed that version should run `git model push` "
        "from a clone that has it")


# -- the hooks' side --------------------------------------------------------------------------

@dataclass
class PrePushResult:
    remote: str | None = None
    report: TransferReport | None = None
    warning: str | None = None


def pre_push_upload(ws: Workspace, git_remote: str, needs: Sequence[Need],
                    *, progress: Progress | None = None, plan: Plan | None = None
                    ) -> PrePushResult:
    """Upload ``needs`` (:func:`needs_of_push`) to the model remote named like the git remote,
    else the default one. Known-present objects cost no request and no import."""
    if not needs:
        return PrePushResult()
    config = ws.config
    if not config.remotes:
        return PrePushResult(warning=(
            "these commits name model objects but no model remote is configured, so others "
            "cannot get the bytes; add one with `git model remote add origin URL --default`"))
    name = git_remote if git_remote in config.remotes else None
    target = choose_remote(config, name)
    known = RemoteRecord(ws.repo.model_dir, target.url).known()
    if all(n.oid in known for n in needs):
        return PrePushResult(target.url, TransferReport(target.url, skipped=len(_unique(needs))))
    remote = open_named(ws, target, quick=False)
    report = push_objects(ws.store, remote, needs, record=record_for(ws, remote.url),
                          progress=progress, plan=plan, skip_known=True)
    return PrePushResult(target.url, report)


class CheckoutFetcher:
    """The ``fetch`` callback of a hook's restore: fetches missing objects from the default
    remote with short timeouts, and after one failure stops trying for the rest of the hook, so
    a checkout with no network still finishes within seconds (the artifact is reported missing).
    """

    def __init__(self, ws: Workspace, target: NamedRemote) -> None:
        self.ws = ws
        self.target = target
        self.remote: ObjectRemote | None = None
        self.problems: list[str] = []
        self.fetched = 0
        self.failed = False

    def __call__(self, oids: list[str]) -> None:
        if self.failed:
            return
        try:
            if self.remote is None:
                self.remote = open_named(self.ws, self.target, quick=True)
            report = fetch_objects(self.ws.store, self.remote,
                                   [Need(o, 0, "?", "?") for o in oids],
                                   record=record_for(self.ws, self.remote.url))
            self.fetched += len(report.transferred)
            if report.absent:
                self.problems.append(f"remote {self.target.name} ({self.target.url}) does not "
                                     f"have {', '.join(n.oid for n in report.absent)}")
        except Exception as exc:  # a checkout must never fail because a remote did
            self.failed = True
            self.problems.append(f"could not fetch missing objects from {self.target.name}: "
                                 f"{exc}; `git model pull` finishes the job later")


def checkout_fetcher(ws: Workspace) -> CheckoutFetcher | None:
    """The callback for fetch-on-checkout, or None when auto-fetch is off or no remote is set."""
    if not ws.config.auto_fetch or ws.config.default_remote is None:
        return None
    try:
        return CheckoutFetcher(ws, choose_remote(ws.config))
    except GitmodelError:
        return None


# -- get: one version into a directory, without a clone ----------------------------------------

@dataclass
class GetResult:
    name: str
    version: str
    commit: str
    tag: str
    remote: str
    files: list[str]
    report: TransferReport
    note: str = ""


def get(repo_url: str, spec_text: str, output: Path, *, remote_url: str | None = None,
        jobs: int = DEFAULT_JOBS, progress: Progress | None = None,
        plan: Plan | None = None) -> GetResult:
    """Write one version's artifact into ``output``, without a clone: a shallow fetch of that
    model's tags (and their commits, at depth 1) into a temporary bare repo, resolved by the
    same registry rules as in a clone, then only that version's objects, verified."""
    import tempfile

    from gitmodel import registry

    spec = parse_spec(spec_text)
    if spec.range is None and spec.stage is None:
        spec = parse_spec(f"{spec.name}@latest")
    local = Path(repo_url)
    if local.exists():
        repo_url = str(local.resolve())
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".gitmodel-get-", dir=output.parent) as tmp:
        bare = Path(tmp) / "repo.git"
        git.run(["init", "-q", "--bare", str(bare)], None)
        url = repo_url if not local.exists() else f"file://{repo_url}"
        refs = _tags_to_fetch(url, spec)
        if not refs:
            raise VersionError(f"{repo_url} has no registered versions of {spec.name}")
        try:
            git.run(["fetch", "-q", "--depth", "1", "--no-tags", "--stdin", url], bare,
                    input="".join(f"+{r}:{r}\n" for r in refs).encode())
        except GitmodelError as exc:
            raise RemoteError(f"cannot fetch the tags of {spec.name} from {repo_url}: {exc}"
                              ) from None
        reg = registry.read(bare, spec.name)
        if not reg.model(spec.name).versions:
            raise VersionError(f"{repo_url} has no registered versions of {spec.name}")
        ver = registry.resolve_version(reg, spec)
        note = f"stage {spec.stage}: {ver.tag}" if spec.stage is not None else ""
        path, model_spec, _ = registry.model_file_of(bare, ver)
        model = Model(path, model_spec)
        options: dict[str, Any] = {}
        if remote_url is None:
            remote_url, options = _default_remote_at(bare, ver.commit, ver.tag)
        base = local if local.is_dir() else None
        remote = open_remote(remote_url, options, base=base, jobs=jobs)
        store = ObjectStore(Path(tmp) / "cache")
        version = ver.version
        report = fetch_objects(store, remote, needs_of_model(model, version), jobs=jobs,
                               progress=progress, plan=plan)
        if report.absent:
            raise absent_error(report)
        written = []
        artifact = model.spec.artifact
        for entry in model.spec.files:
            if model.spec.is_directory:
                relative = entry.path[len(artifact) + 1:] if entry.path.startswith(
                    artifact + "/") else entry.path
            else:
                relative = Path(entry.path).name
            modelfile.check_relative_path(relative, "path")
            target = output / relative
            store.materialize(entry.oid, target)
            written.append(relative)
    return GetResult(spec.name, version, ver.commit, ver.tag, remote_url, written, report, note)


def _tags_to_fetch(url: str, spec: ModelSpec) -> list[str]:
    """The tag refs ``get`` needs, from ``git ls-remote``: for an exact version only its tag
    (and a deregistration of it), so one commit crosses the network; for a range or a stage
    every tag of the model, since stages are resolved by tag dates as in a clone."""
    try:
        out = git.run(["ls-remote", "--tags", "--refs", url], None)
    except GitmodelError as exc:
        raise RemoteError(f"cannot list the tags of {url}: {exc}") from None
    tagname = spec.name.replace(":", "=")
    at, hash_ = f"refs/tags/{tagname}@", f"refs/tags/{tagname}#"
    refs = [line.split("\t", 1)[1] for line in out.splitlines() if "\t" in line]
    refs = [r for r in refs if r.startswith((at, hash_))]
    if spec.range is not None and spec.range.exact is not None and refs:
        exact = at + spec.range.exact.tag_text
        chosen = [r for r in refs if r == exact or r.startswith(exact + "!")]
        if not chosen:
            versions = sorted({r[len(at):] for r in refs
                               if isinstance(parse_tag(r[len("refs/tags/"):]), Register)})
            raise VersionError(f"{url} has no version {spec.range.exact.tag_text} of "
                               f"{spec.name} (versions: {', '.join(versions) or 'none'})")
        refs = chosen
    return refs


def _default_remote_at(bare: Path, commit: str, tag: str) -> tuple[str, dict[str, Any]]:
    import tomllib

    data = git.read_blobs(bare, [f"{commit}:{CONFIG_FILE}"]).get(f"{commit}:{CONFIG_FILE}")
    if data is None:
        raise RemoteError(f"{tag} has no {CONFIG_FILE}, so it names no model remote; pass "
                          "--remote URL")
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RemoteError(f"{CONFIG_FILE} at {tag} is not valid TOML ({exc}); pass --remote URL"
                          ) from None
    remotes, default, options = parse_remotes(doc.get("remote", {}))
    if default is None:
        raise RemoteError(f"{CONFIG_FILE} at {tag} names no default model remote; pass "
                          "--remote URL")
    return remotes[default], options.get(default, {})


__all__ = [
    "Need", "ObjectRemote", "RemoteRecord", "TransferReport", "choose_remote", "fetch_objects",
    "get", "needs_of_push", "needs_of_versions", "needs_of_worktree", "open_remote",
    "pre_push_upload", "push_objects",
]


# -- the commands' side: push, fetch, pull ------------------------------------------------------

def push(ws: Workspace, names: Sequence[str] = (), *, all_versions: bool = False,
         remote_name: str | None = None, jobs: int = DEFAULT_JOBS,
         progress: Progress | None = None, plan: Plan | None = None) -> TransferReport:
    """Upload the work tree's models (or ``names``), and with ``all_versions`` every registered
    version's objects; the remote is asked once which it already has."""
    needs = needs_of_worktree(ws, names)
    if all_versions and names:
        for name in names:
            needs += needs_of_versions(ws, name)
    elif all_versions:
        needs += needs_of_versions(ws)
    target = choose_remote(ws.config, remote_name)
    remote = open_named(ws, target, jobs=jobs)
    return push_objects(ws.store, remote, needs, record=record_for(ws, remote.url), jobs=jobs,
                        progress=progress, plan=plan)


def needs_of_specs(ws: Workspace, specs: Sequence[str], all_versions: bool = False) -> list[Need]:
    """The work tree's models with no ``specs``; otherwise each spec: ``NAME@VERSION`` for one
    version, ``NAME`` for the model in the work tree."""
    if not specs:
        needs = needs_of_worktree(ws)
        return needs + needs_of_versions(ws) if all_versions else needs
    needs = []
    for spec in specs:
        if "@" in spec or "#" in spec:
            needs += needs_of_versions(ws, spec)
        else:
            needs += needs_of_worktree(ws, [spec])
            if all_versions:
                needs += needs_of_versions(ws, spec)
    return needs


def fetch(ws: Workspace, specs: Sequence[str] = (), *, all_versions: bool = False,
          remote_name: str | None = None, jobs: int = DEFAULT_JOBS,
          progress: Progress | None = None, plan: Plan | None = None) -> TransferReport:
    """Download what ``specs`` need into the cache (nothing in the work tree changes)."""
    needs = needs_of_specs(ws, specs, all_versions)
    target = choose_remote(ws.config, remote_name)
    remote = open_named(ws, target, jobs=jobs)
    return fetch_objects(ws.store, remote, needs, record=record_for(ws, remote.url), jobs=jobs,
                         progress=progress, plan=plan)


@dataclass
class PullResult:
    report: TransferReport
    restored: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def pull(ws: Workspace, specs: Sequence[str] = (), *, remote_name: str | None = None,
         jobs: int = DEFAULT_JOBS, progress: Progress | None = None,
         plan: Plan | None = None) -> PullResult:
    """Fetch, then restore every artifact of the work tree whose bytes are now all cached and
    that is missing or stale (an artifact with unadded changes is left alone)."""
    from gitmodel.workspace import State, mark_synced, model_status, restore

    result = PullResult(fetch(ws, specs, remote_name=remote_name, jobs=jobs, progress=progress,
                              plan=plan))
    loaded = load_models(ws.root, strict=False)
    for model in loaded.models:
        if model.model_file in loaded.conflicted:
            continue
        if not all(ws.store.has(e.oid) for _, e in model.file_targets()):
            continue
        state = model_status(ws, model).state
        if state not in (State.MISSING, State.STALE, State.BROKEN):
            continue
        try:
            written = restore(ws, model)
        except GitmodelError as exc:
            result.errors.append(str(exc))
            continue
        mark_synced(ws, [model])
        if written.written:
            result.restored.append(model.spec.name)
    return result


def unpushed(ws: Workspace, names: Sequence[str] = (), remote_name: str | None = None
             ) -> tuple[str, dict[str, list[str]]]:
    """(remote url, model name -> oids the remote lacks) for the work tree's models; asks the
    remote once, and trusts nothing from the local record."""
    target = choose_remote(ws.config, remote_name)
    remote = open_named(ws, target)
    needs = needs_of_worktree(ws, names)
    try:
        present = remote.has(sorted({n.oid for n in needs}))
    except Exception as exc:
        raise explain(exc, remote, "asking what is on") from None
    record_for(ws, remote.url).add(sorted(present))
    missing: dict[str, list[str]] = {}
    for need in needs:
        missing.setdefault(need.model, [])
        if need.oid not in present and need.oid not in missing[need.model]:
            missing[need.model].append(need.oid)
    return remote.url, missing
