"""Backends: a directory (standard library only) and any fsspec URL, behind one object-level interface.

Layout on every remote (docs/remotes.md): ``<url>/objects/<hex[:2]>/<hex[2:]>`` holds the bytes of
``sha256:<hex>``, like the cache; chunked objects are ``<url>/recipes/<hex[:2]>/<hex[2:]>`` over
``<url>/packs/pack-<name>.pack`` + ``.idx`` (docs/store-format.md, "On a remote"; the protocol is
:mod:`gitmodel.remote.packs`); ``<url>/tmp/`` holds uploads in progress on backends whose
writes are not atomic; ``<url>/gitmodel/`` holds small JSON records (which repositories push
here, what each push relied on, what each remote gc removed: :mod:`gitmodel.remote.gc`).
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from gitmodel.errors import GitmodelError, RemoteError
from gitmodel.fileio import write_atomic
from gitmodel.hashing import CHUNK_SIZE, OID_PREFIX, Progress
from gitmodel.remote.parallel import DEFAULT_JOBS, run_parallel
from gitmodel.store import is_oid

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
EXTRAS = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs",
          "az": "adlfs", "abfs": "adlfs", "abfss": "adlfs", "ssh": "paramiko", "sftp": "paramiko"}


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


def recipe_key(oid: str) -> str:
    """Where the recipe of a chunked ``oid`` lives below a remote's root."""
    return "recipes/" + object_key(oid)[len("objects/"):]


PACKS = "packs"  # pack-<name>.pack and pack-<name>.idx, side by side (docs/store-format.md)


class RemoteKeyMissing(RemoteError):
    def __init__(self, key: str, url: str) -> None:
        self.key = key
        super().__init__(f"{url} does not have {key}")


class CallCounter:
    """Requests a backend made, by kind ("list", "probe", "get", "put", "range"), so tests can
    hold the protocol to a constant number of listings however many objects there are."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def __call__(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self.counts[kind] += n

    def __getitem__(self, kind: str) -> int:
        return self.counts[kind]


def _oid_of_key(key: str) -> str | None:
    parts = key.rstrip("/").rsplit("/", 2)
    if len(parts) < 3:
        return None
    oid = OID_PREFIX + parts[-2] + parts[-1]
    return oid if is_oid(oid) else None


RECORDS = "gitmodel"  # the prefix of the records below a remote's root (never an object key)


@dataclass(frozen=True)
class RemoteObject:
    """One object as a listing of the remote shows it."""

    oid: str
    size: int
    # the remote's own time of the upload (seconds since the epoch); None when the backend does
    # not say, and then gc never counts the object as old enough to remove
    uploaded: float | None


def _record_key(key: str) -> str:
    # records are named by gitmodel itself; refuse anything that could leave the prefix
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") for p in parts):
        raise GitmodelError(f"not a record key: {key!r}")
    return f"{RECORDS}/{key}"


class ObjectRemote(Protocol):
    """What gitmodel needs of a remote: a batched existence check, and put/get by oid; and, for
    chunked objects (:mod:`gitmodel.remote.packs`), put/get/byte ranges by key and one listing
    of ``packs/``."""

    url: str
    calls: CallCounter

    def has(self, oids: Sequence[str]) -> set[str]:
        """The subset of ``oids`` the remote holds, whole or chunked (one batched question)."""
        ...

    def locate(self, oids: Sequence[str], *, chunked_first: Collection[str] = ()
               ) -> dict[str, str]:
        """``oid -> "recipe" | "object"`` for each of ``oids`` the remote holds (a recipe when
        it has both and found it first); ``chunked_first`` are asked about as recipes first."""
        ...

    def list_packs(self) -> dict[str, int]:
        """Every file under ``packs/`` (``pack-<name>.pack`` / ``.idx``) with its size: one
        listing (paginated by the backend)."""
        ...

    def put_key(self, key: str, source: Path, progress: Progress) -> None:
        """Store ``source`` at ``key``, never visible there until complete."""
        ...

    def put_bytes(self, key: str, data: bytes) -> None:
        """Store ``data`` at ``key``, whole or not at all."""
        ...

    def get_bytes(self, key: str) -> bytes:
        """The bytes at ``key`` (:class:`RemoteKeyMissing` when there are none)."""
        ...

    def read_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``start`` up to ``end`` (exclusive) of ``key``: one request."""
        ...

    def upload(self, oid: str, source: Path, progress: Progress) -> None:
        """Store ``source`` as ``oid``; never visible under its final name until complete."""
        ...

    def download(self, oid: str, target: Path, progress: Progress) -> None:
        """Write the remote's bytes of ``oid`` to ``target`` (the caller verifies them); a
        chunked object is rebuilt from its recipe and packs, each chunk checked."""
        ...

    def get_object(self, oid: str, target: Path, progress: Progress) -> None:
        """Write the remote's whole-file object ``oid`` to ``target`` in one GET, asking
        nothing first (the caller verifies the bytes); :class:`RemoteObjectMissing` when the
        remote holds no whole object under that oid (it may hold a recipe: see :meth:`locate`)."""
        ...

    def where(self, oid: str) -> str:
        """A URL naming the object, for messages."""
        ...

    def inventory(self) -> dict[str, RemoteObject]:
        """Every object with its size and upload time, in one listing (paginated by the
        backend: one request per 1,000 keys on S3)."""
        ...

    def delete(self, oids: Sequence[str]) -> None:
        """Remove ``oids`` (absent ones are no error); batched where the backend can."""
        ...

    def put_record(self, key: str, data: bytes) -> None:
        """Write a small record under ``gitmodel/KEY``, whole or not at all."""
        ...

    def get_record(self, key: str) -> bytes | None:
        """The bytes of record ``gitmodel/KEY``, or None when there is none."""
        ...

    def list_records(self, prefix: str) -> list[str]:
        """The keys (relative to ``gitmodel/``) of every record below ``gitmodel/PREFIX/``."""
        ...

    def delete_record(self, key: str) -> None:
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
        self.calls = CallCounter()

    def where(self, oid: str) -> str:
        return str(self.root / object_key(oid))

    def has(self, oids: Sequence[str]) -> set[str]:
        return set(self.locate(oids))

    def locate(self, oids: Sequence[str], *, chunked_first: Collection[str] = ()
               ) -> dict[str, str]:
        # every push and fetch asks this first: a typo or an unmounted share must not quietly
        # become a new, empty remote on local disk (issue 7)
        self.check_exists()
        found: dict[str, str] = {}
        for oid in oids:
            self.calls("probe")
            if (self.root / recipe_key(oid)).is_file():
                found[oid] = "recipe"
            elif (self.root / object_key(oid)).is_file():
                found[oid] = "object"
        return found

    def list_packs(self) -> dict[str, int]:
        self.check_exists()
        self.calls("list")
        try:
            with os.scandir(self.root / PACKS) as entries:
                return {e.name: e.stat().st_size for e in entries
                        if e.name.startswith("pack-") and e.is_file()}
        except FileNotFoundError:
            return {}

    def _key_path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") for p in parts):
            raise GitmodelError(f"not a remote key: {key!r}")
        return self.root / key

    def put_key(self, key: str, source: Path, progress: Progress) -> None:
        self.calls("put")
        self._place(key, lambda tmp: _copy(source, tmp, progress))

    def put_bytes(self, key: str, data: bytes) -> None:
        self.calls("put")
        self._place(key, lambda tmp: tmp.write_bytes(data))

    def _place(self, key: str, write: Any) -> None:
        final = self._key_path(key)
        tmp_dir = self.root / "tmp"
        self.check_exists()
        tmp_dir.mkdir(exist_ok=True)
        tmp = tmp_dir / f"{final.name[:64]}.{uuid.uuid4().hex}"
        try:
            write(tmp)
            os.chmod(tmp, 0o444)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    def get_bytes(self, key: str) -> bytes:
        self.calls("get")
        try:
            return self._key_path(key).read_bytes()
        except FileNotFoundError:
            raise RemoteKeyMissing(key, self.url) from None

    def read_range(self, key: str, start: int, end: int) -> bytes:
        self.calls("range")
        try:
            with open(self._key_path(key), "rb") as stream:
                return os.pread(stream.fileno(), end - start, start)
        except FileNotFoundError:
            raise RemoteKeyMissing(key, self.url) from None

    def check_exists(self) -> None:
        if not self.root.is_dir():
            raise RemoteError(missing_directory(self.url, self.root))

    def upload(self, oid: str, source: Path, progress: Progress) -> None:
        self.put_key(object_key(oid), source, progress)

    def download(self, oid: str, target: Path, progress: Progress) -> None:
        try:
            self.get_object(oid, target, progress)
        except RemoteObjectMissing:
            # a chunked object: its bytes rebuilt from the packs (gitmodel.remote.packs)
            from gitmodel.remote.packs import download_whole

            download_whole(self, oid, target, progress)

    def get_object(self, oid: str, target: Path, progress: Progress) -> None:
        self.calls("get")
        try:  # the source is opened first: a missing object leaves target as it was
            _copy(self.root / object_key(oid), target, progress)
        except FileNotFoundError:
            self.check_exists()  # an unmounted share says so, not "every object is missing"
            raise RemoteObjectMissing(oid, self.url) from None

    def inventory(self) -> dict[str, RemoteObject]:
        self.check_exists()
        found: dict[str, RemoteObject] = {}
        objects = self.root / "objects"
        if not objects.is_dir():
            return found
        # one walk: a scandir per fan-out folder, sizes and times from the same entries
        with os.scandir(objects) as fans:
            for fan in fans:
                if not fan.is_dir():
                    continue
                with os.scandir(fan.path) as entries:
                    for entry in entries:
                        oid = OID_PREFIX + fan.name + entry.name
                        if not is_oid(oid) or not entry.is_file():
                            continue
                        info = entry.stat()
                        found[oid] = RemoteObject(oid, info.st_size, info.st_mtime)
        return found

    def delete(self, oids: Sequence[str]) -> None:
        for oid in oids:
            with contextlib.suppress(FileNotFoundError):
                (self.root / object_key(oid)).unlink()

    def put_record(self, key: str, data: bytes) -> None:
        final = self.root / _record_key(key)
        self.check_exists()
        final.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(final, data)

    def get_record(self, key: str) -> bytes | None:
        try:
            return (self.root / _record_key(key)).read_bytes()
        except FileNotFoundError:
            return None

    def list_records(self, prefix: str) -> list[str]:
        base = self.root / _record_key(prefix)
        if not base.is_dir():
            return []
        top = self.root / RECORDS
        return sorted(str(p.relative_to(top)) for p in base.rglob("*")
                      if p.is_file() and not p.name.startswith("."))

    def delete_record(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.root / _record_key(key)).unlink()


def missing_directory(url: str, root: Path, again: str | None = None) -> str:
    """The one line for a directory remote that is not there; ``again`` is the command that
    creates it (default: re-adding the remote with ``--create``)."""
    again = again or f"git model remote add NAME {url} --create --force"
    where = url if Path(url) == root else f"{url} ({root})"  # a relative URL: say where
    return (f"the directory remote {where} does not exist: mount the share or fix the "
            f"path; to start a new remote there, `{again}`")


def directory_of(url: str, base: Path) -> Path | None:
    """The directory a path or ``file://`` remote names (relative to ``base``), else None."""
    scheme = scheme_of(url)
    if scheme not in ("", "file"):
        return None
    path = Path(url[len("file://"):] if scheme == "file" else url).expanduser()
    return Path(os.path.normpath(base / path))


class FsspecRemote:
    """A remote at any URL fsspec has a backend for (s3://, gs://, az://, ssh://...)."""

    def __init__(self, url: str, fs: Any, root: str, scheme: str, jobs: int = DEFAULT_JOBS,
                 profile: str | None = None) -> None:
        self.url = url
        self.profile = profile  # the remote's `profile` option, named when credentials fail
        self.fs = fs
        self.root = root.rstrip("/")
        self.scheme = scheme
        self.jobs = jobs
        self.calls = CallCounter()
        # s3fs's cat_file of a whole key first asks its size (a HEAD) to decide whether to
        # read it in parallel parts; the keys read whole here (recipes, indexes, records) are
        # small, so one GET reads each
        self._one_get: dict[str, Any] = {"max_concurrency": 1} if scheme in ("s3", "s3a") else {}

    def where(self, oid: str) -> str:
        return f"{self.url.rstrip('/')}/{object_key(oid)}"

    def _path(self, oid: str) -> str:
        return f"{self.root}/{object_key(oid)}"

    def has(self, oids: Sequence[str]) -> set[str]:
        return set(self.locate(oids))

    def _listed(self, folder: str) -> set[str]:
        self.calls("list")
        try:
            listed = self.fs.find(f"{self.root}/{folder}")
        except FileNotFoundError:
            listed = []
        present = {_oid_of_key(str(key)) for key in listed}
        return {o for o in present if o}

    def locate(self, oids: Sequence[str], *, chunked_first: Collection[str] = ()
               ) -> dict[str, str]:
        wanted = set(oids)
        found: dict[str, str] = {}
        if not wanted:
            return found
        first = set(chunked_first) & wanted
        if len(wanted) > LIST_THRESHOLD:
            # one listing per kind, and the second only when the first left some unanswered:
            # a remote of whole objects only is asked exactly what it was asked before recipes
            order = [("recipes", "recipe"), ("objects", "object")]
            if len(first) * 2 < len(wanted):
                order.reverse()
            for folder, kind in order:
                rest = wanted - set(found)
                if not rest:
                    break
                found.update(dict.fromkeys(rest & self._listed(folder), kind))
            return found
        lock = threading.Lock()

        def probe(oid: str, _progress: Progress) -> None:
            keys = [(recipe_key(oid), "recipe"), (object_key(oid), "object")]
            if oid not in first:
                keys.reverse()
            for key, kind in keys:
                self.calls("probe")
                try:
                    self.fs.info(f"{self.root}/{key}")
                except FileNotFoundError:
                    continue
                with lock:
                    found[oid] = kind
                return

        run_parallel(sorted(wanted), probe, self.jobs)
        return found

    def list_packs(self) -> dict[str, int]:
        self.calls("list")
        with contextlib.suppress(Exception):
            self.fs.invalidate_cache(f"{self.root}/{PACKS}")
        try:
            listed = self.fs.ls(f"{self.root}/{PACKS}", detail=True)
        except FileNotFoundError:
            return {}
        out: dict[str, int] = {}
        for info in listed:
            name = str(info.get("name", "")).rstrip("/").rsplit("/", 1)[-1]
            if name.startswith("pack-") and info.get("type", "file") == "file":
                out[name] = int(info.get("size") or 0)
        return out

    def _key_path(self, key: str) -> str:
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") for p in parts):
            raise GitmodelError(f"not a remote key: {key!r}")
        return f"{self.root}/{key}"

    def put_bytes(self, key: str, data: bytes) -> None:
        self.calls("put")
        self._place(self._key_path(key), lambda dest: self.fs.pipe_file(dest, data))

    def get_bytes(self, key: str) -> bytes:
        self.calls("get")
        try:
            return bytes(self.fs.cat_file(self._key_path(key), **self._one_get))
        except FileNotFoundError as exc:
            if "bucket" in str(exc).lower():
                raise
            raise RemoteKeyMissing(key, self.url) from None

    def read_range(self, key: str, start: int, end: int) -> bytes:
        self.calls("range")
        try:
            return bytes(self.fs.cat_file(self._key_path(key), start=start, end=end))
        except FileNotFoundError as exc:
            if "bucket" in str(exc).lower():
                raise
            raise RemoteKeyMissing(key, self.url) from None

    def upload(self, oid: str, source: Path, progress: Progress) -> None:
        self.put_key(object_key(oid), source, progress)

    def put_key(self, key: str, source: Path, progress: Progress) -> None:
        self.calls("put")
        callback = _fsspec_callback(progress)
        self._place(self._key_path(key),
                    lambda dest: self.fs.put_file(str(source), dest, callback=callback))

    def _place(self, final: str, write: Callable[[str], object]) -> None:
        """Make ``final`` appear whole: ``write(path)`` straight to it where the store shows a
        key only once its PUT (or CompleteMultipartUpload) is done, so an interrupted upload
        leaves nothing under the key; elsewhere into ``tmp/`` and then moved into place."""
        if self.scheme in ATOMIC_PUT_SCHEMES:
            write(final)
            return
        tmp = f"{self.root}/tmp/{final.rsplit('/', 1)[-1][:64]}.{uuid.uuid4().hex}"
        with contextlib.suppress(Exception):
            self.fs.makedirs(f"{self.root}/tmp", exist_ok=True)
            self.fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
        try:
            write(tmp)
            self.fs.mv(tmp, final)
        except BaseException:
            with contextlib.suppress(Exception):
                self.fs.rm_file(tmp)
            raise

    def download(self, oid: str, target: Path, progress: Progress) -> None:
        try:
            self.get_object(oid, target, progress)
        except RemoteObjectMissing:
            # a chunked object: its bytes rebuilt from the packs (gitmodel.remote.packs)
            from gitmodel.remote.packs import download_whole

            download_whole(self, oid, target, progress)

    def get_object(self, oid: str, target: Path, progress: Progress) -> None:
        # one GET: s3fs's get_file sends GetObject first and opens the target only once the
        # object answered, so a missing object costs one request and writes nothing
        self.calls("get")
        try:
            self.fs.get_file(self._path(oid), str(target), callback=_fsspec_callback(progress))
        except FileNotFoundError as exc:
            if "bucket" in str(exc).lower():
                raise
            raise RemoteObjectMissing(oid, self.url) from None

    def inventory(self) -> dict[str, RemoteObject]:
        # find(detail=True) is one paginated listing (ListObjectsV2: 1,000 keys a request on
        # S3) that carries each key's size and LastModified: no request per object
        with contextlib.suppress(Exception):
            self.fs.invalidate_cache()
        try:
            listed = self.fs.find(f"{self.root}/objects", detail=True)
        except FileNotFoundError:
            return {}
        found: dict[str, RemoteObject] = {}
        for key, info in listed.items():
            oid = _oid_of_key(str(key))
            if oid is None or info.get("type", "file") != "file":
                continue
            found[oid] = RemoteObject(oid, int(info.get("size") or 0), _uploaded(info))
        return found

    def delete(self, oids: Sequence[str]) -> None:
        if not oids:
            return
        # s3fs sends one DeleteObjects request per 1,000 keys
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm([self._path(oid) for oid in oids])

    def put_record(self, key: str, data: bytes) -> None:
        self._place(f"{self.root}/{_record_key(key)}", lambda dest: self.fs.pipe_file(dest, data))

    def get_record(self, key: str) -> bytes | None:
        try:
            return bytes(self.fs.cat_file(f"{self.root}/{_record_key(key)}", **self._one_get))
        except FileNotFoundError:
            return None

    def list_records(self, prefix: str) -> list[str]:
        base = f"{self.root}/{RECORDS}/"
        with contextlib.suppress(Exception):
            self.fs.invalidate_cache()
        try:
            listed = self.fs.find(base + prefix.strip("/"))
        except FileNotFoundError:
            return []
        out = []
        for key in listed:
            text = str(key)
            at = text.find(base)
            if at >= 0:
                out.append(text[at + len(base):])
        return sorted(out)

    def delete_record(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(f"{self.root}/{_record_key(key)}")


def _uploaded(info: dict[str, Any]) -> float | None:
    """The upload time in a listing entry: S3's LastModified, else the backend's mtime."""
    for key in ("LastModified", "last_modified", "mtime", "updated", "created"):
        value = info.get(key)
        if value is None:
            continue
        if hasattr(value, "timestamp"):
            return float(value.timestamp())
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            from datetime import datetime
            with contextlib.suppress(ValueError):
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return None


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
        # a connection for every transfer thread (botocore keeps 10 unless told), and as many
        # parallel parts of one large whole object as there are jobs
        kwargs["config_kwargs"]["max_pool_connections"] = max(10, jobs)
        kwargs["skip_instance_cache"] = True
        kwargs["max_concurrency"] = max(1, jobs)
    try:
        fs = fsspec.filesystem(scheme, **kwargs)
    except ImportError:
        extra = EXTRAS.get(scheme, f"the fsspec backend for {scheme}://")
        raise RemoteError(f"remote {url} needs {extra}: `pip install '{extra}'`") from None
    if hasattr(fs, "retries"):
        # s3fs retries connection errors, timeouts and SlowDown with a short backoff of its own;
        # botocore's retries on top of them made a dead endpoint take 5-20 s to report (measured)
        fs.retries = 1 if quick else 3
    return FsspecRemote(url, fs, cls._strip_protocol(url), scheme, jobs,
                        profile=options.get("profile") or None)


def credentials_hint(text: str, profile: str | None) -> str:
    """What botocore (under s3fs) looked for, in its order, and where to set it."""
    if profile:
        return (f"no usable credentials ({text}): the remote's profile {profile!r} is read from "
                "~/.aws/credentials and ~/.aws/config (AWS_SHARED_CREDENTIALS_FILE, "
                "AWS_CONFIG_FILE); add it there with `aws configure --profile "
                f"{profile}`, or fix the remote's profile option in .gitmodel.toml")
    return (f"no credentials found ({text}): botocore looked for AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, then AWS_PROFILE's (or the default) profile in "
            "~/.aws/credentials and ~/.aws/config, then an instance or container role; set "
            "those variables, run `aws configure`, or name a profile for this remote with "
            "`git model remote add NAME URL --profile PROFILE --force`")


def explain(exc: BaseException, remote: ObjectRemote, doing: str) -> RemoteError:
    """A message a user can act on for a failure of ``doing`` against ``remote``."""
    if isinstance(exc, RemoteError):
        return exc
    text = str(exc) or type(exc).__name__
    names = {c.__name__ for c in type(exc).__mro__}
    lowered = text.lower()
    url = remote.url
    if names & {"NoCredentialsError", "PartialCredentialsError", "ProfileNotFound",
                "CredentialRetrievalError"} or "unable to locate credentials" in lowered:
        return RemoteError(f"{doing} {url}: {credentials_hint(text, getattr(remote, 'profile', None))}")
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
