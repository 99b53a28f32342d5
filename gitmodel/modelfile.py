"""Parse, validate and write model files (docs/model-file.md is the spec; keep the two in step).

A model file is the small TOML file committed beside an artifact: the pointer (path, oid and size of
every file of the artifact) plus the model's metadata. Model files come from clones, so they are
untrusted input: every rule here is checked on read, and every failure is an
:class:`InvalidModelFileError` naming the file and the field.
"""

from __future__ import annotations

import contextlib
import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from gitmodel.errors import InvalidModelFileError

FORMAT_VERSION = 1
SUFFIX = ".model.toml"
PATHSPEC = f"*{SUFFIX}"
MAX_MODEL_FILE_BYTES = 1 << 20  # refused before parsing: no model file comes close
MAX_SIZE = 1 << 53
# tomllib's cost grows with the square of a dotted key's length (``a.a.a… = 1`` of 20,000 parts
# takes 18 s, found by tests/test_fuzz.py); no model file needs more than a few parts (the deepest
# is a nested param, ``params.optimizer.lr``), so a key or table header of this many is refused
# before parsing. What is left is linear in the size: a few seconds for the worst MiB.
MAX_KEY_PARTS = 32
_KEY_PART = r"""(?:[A-Za-z0-9_-]++|"(?:[^"\\\n]|\\.)*+"|'[^'\n]*+')"""
_DEEP_KEY = re.compile(
    rf"^[ \t]*\[{{0,2}}[ \t]*(?:{_KEY_PART}[ \t]*\.[ \t]*){{{MAX_KEY_PARTS - 1}}}", re.MULTILINE
)
NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9\-/_]*[a-z0-9])?$")
_OID_RE = OID_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_COMMIT_RE = re.compile(r"^([0-9a-f]{40}|[0-9a-f]{64})?$")
_UNSAFE_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")

Scalar = str | int | float | bool


@dataclass(frozen=True)
class FileEntry:
    """One file of an artifact: its path relative to the model file's directory."""

    path: str
    oid: str
    size: int


@dataclass(frozen=True)
class DataInput:
    """A training-data input: a path relative to the repo root and the hash of its content.

    ``source`` is "" (hashed by gitmodel), "lfs" (oid and size from its Git LFS pointer) or
    "dvc" (``pointer`` is the .dvc file, ``md5`` its hash, ``oid`` the .dvc file's sha256)."""

    path: str
    oid: str
    size: int
    source: str = ""
    pointer: str = ""
    md5: str = ""


@dataclass(frozen=True)
class LockFile:
    """A lock or requirements file git tracks at the code commit: its path and blob id."""

    path: str
    blob: str


@dataclass(frozen=True)
class Environment:
    """The Python environment a model was made in (docs/model-file.md, "Environment")."""

    python: str = ""
    implementation: str = ""
    os: str = ""
    machine: str = ""
    kind: str = ""  # "process", "venv", "conda", "path" or ""
    distributions: int = 0
    listing: str = ""  # oid of the full package list, kept in the cache
    skipped: tuple[str, ...] = ()
    accelerator: dict[str, str] = field(default_factory=dict)
    packages: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    """The command that made a model (docs/model-file.md, "Run")."""

    command: tuple[str, ...] = ()
    started: str = ""
    ended: str = ""
    duration: float | None = None
    exit: int | None = None
    host: str = ""


@dataclass(frozen=True)
class ModelFile:
    name: str
    artifact: str  # relative to the model file's directory
    files: tuple[FileEntry, ...]
    description: str = ""
    created: str = ""
    author: str = ""
    code_commit: str = ""
    code_dirty: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    data: tuple[DataInput, ...] = ()
    locks: tuple[LockFile, ...] = ()
    environment: Environment | None = None
    run: Run | None = None

    @property
    def is_directory(self) -> bool:
        return not (len(self.files) == 1 and self.files[0].path == self.artifact)

    @property
    def oids(self) -> set[str]:
        return {f.oid for f in self.files}

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def with_metadata(self, **changes: Any) -> ModelFile:
        return replace(self, **changes)


def model_file_path_for(artifact: str) -> str:
    """The model file committed beside ``artifact`` (a repo-relative path)."""
    return artifact.rstrip("/") + SUFFIX


def is_model_file_path(path: str) -> bool:
    return path.endswith(SUFFIX)


# Code points HFS+ ignores when it compares names, so ".g\u200cit" is ".git" on macOS (the list git
# itself skips in is_hfs_dotgit, utf8.c).
_HFS_IGNORED = dict.fromkeys([0x200C, 0x200D, 0x200E, 0x200F, *range(0x202A, 0x202F),
                              *range(0x206A, 0x2070), 0xFEFF])
# Files git reads from the work tree: an artifact must never be one, anywhere in the repo.
GIT_SPECIAL_NAMES = (".git", ".gitmodules", ".gitattributes", ".gitignore")
# NTFS 8.3 short names of those: GIT~1 is .git, GITMOD~1 is .gitmodules, and so on.
_SHORT_NAME_RE = re.compile(r"git(?:mod|att|ign)?[a-z]{0,3}~[0-9]+")


def git_alias(part: str) -> str | None:
    """The git special file (``.git``, ``.gitmodules``…) that path component ``part`` names on
    some file system, or None. Superset of what git's verify_path refuses with core.protectNTFS
    and core.protectHFS: HFS+ ignores some code points, NTFS drops trailing dots and spaces,
    ends a name at ``:`` (a data stream) and knows 8.3 short names, and both ignore case."""
    name = part.translate(_HFS_IGNORED).split(":", 1)[0].rstrip(". ").lower()
    if name in GIT_SPECIAL_NAMES:
        return name
    if _SHORT_NAME_RE.fullmatch(name):
        return "the short name of a '.git…' file"
    return None


def check_relative_path(path: object, what: str) -> str:
    """Return ``path`` if it is a safe relative ``/``-separated path, else raise ValueError."""
    if not isinstance(path, str) or not path:
        raise ValueError(f"{what} must be a non-empty string")
    if _UNSAFE_CHARS.search(path):
        raise ValueError(f"{what} {path!r} contains a backslash or control character")
    if path.startswith("/"):
        raise ValueError(f"{what} {path!r} must be relative")
    for part in path.split("/"):
        if part in ("", ".", ".."):
            raise ValueError(f"{what} {path!r} has an empty, '.' or '..' component")
        alias = git_alias(part)
        if alias is not None:
            # git reads these (or, on macOS and Windows, this name is one of them): a model file
            # from a clone must not be able to write one
            which = (f"a {alias!r} component" if alias == part.lower() else
                     f"a component {part!r}, which is {alias} on macOS or Windows")
            raise ValueError(f"{what} {path!r} has {which}: git reads such files itself, so a "
                             "model file may not write one; rename the artifact")
    return path


def _sort_tables(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sort_tables(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sort_tables(v) for v in value]
    return value


def dumps(model: ModelFile) -> str:
    """Canonical TOML: fixed key order, sorted params and metrics, so diffs show only changes."""
    doc: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "name": model.name,
        "artifact": model.artifact,
        "description": model.description,
        "created": model.created,
        "author": model.author,
        "code": {"commit": model.code_commit, "dirty": model.code_dirty},
        "files": [{"path": f.path, "oid": f.oid, "size": f.size}
                  for f in sorted(model.files, key=lambda f: f.path)],
        "params": _sort_tables(model.params),
        "metrics": _sort_tables(model.metrics),
        "data": [_data_table(d) for d in sorted(model.data, key=lambda d: d.path)],
        "lock": [{"path": lock.path, "blob": lock.blob}
                 for lock in sorted(model.locks, key=lambda lock: lock.path)],
    }
    for key in ("data", "lock"):
        if not doc[key]:
            del doc[key]
    if model.environment is not None:
        doc["environment"] = _environment_table(model.environment)
    if model.run is not None:
        doc["run"] = _run_table(model.run)
    import tomli_w  # only `add` writes model files; every hook and filter run reads them

    header = "# gitmodel model file, format 1 (docs/model-file.md). Written by `git model add`.\n"
    return header + tomli_w.dumps(doc)


def _data_table(entry: DataInput) -> dict[str, Any]:
    table: dict[str, Any] = {"path": entry.path, "oid": entry.oid, "size": entry.size}
    for key in ("source", "pointer", "md5"):
        if getattr(entry, key):
            table[key] = getattr(entry, key)
    return table


def _environment_table(env: Environment) -> dict[str, Any]:
    table: dict[str, Any] = {"python": env.python, "implementation": env.implementation,
                             "os": env.os, "machine": env.machine, "kind": env.kind,
                             "distributions": env.distributions, "listing": env.listing}
    if env.skipped:
        table["skipped"] = list(env.skipped)
    if env.accelerator:
        table["accelerator"] = dict(sorted(env.accelerator.items()))
    if env.packages:
        table["packages"] = dict(sorted(env.packages.items()))
    return table


def _run_table(run: Run) -> dict[str, Any]:
    table: dict[str, Any] = {"command": list(run.command), "started": run.started,
                             "ended": run.ended}
    if run.duration is not None:
        table["duration"] = float(run.duration)
    if run.exit is not None:
        table["exit"] = run.exit
    table["host"] = run.host
    return table


def read_bytes(path: Path) -> bytes:
    """A model file's bytes, up to one byte over the limit (so that :func:`loads` refuses an
    oversized one without reading it all). ``read(limit)`` would allocate the whole MiB first:
    ~0.1 ms a file, a tenth of `status` at 300 models."""
    with open(path, "rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        return stream.read(min(size, MAX_MODEL_FILE_BYTES) + 1)


def loads(data: bytes, source: str) -> ModelFile:
    """Parse and validate a model file's bytes; ``source`` names it in errors."""
    if len(data) > MAX_MODEL_FILE_BYTES:
        raise InvalidModelFileError(
            source, f"{len(data)} bytes is over the {MAX_MODEL_FILE_BYTES}-byte limit"
        )
    try:
        text = data.decode("utf-8")
        if text.count(".") >= MAX_KEY_PARTS - 1 and _DEEP_KEY.search(text):
            raise InvalidModelFileError(
                source, f"a key or table name has {MAX_KEY_PARTS} or more dotted parts; "
                "a model file's keys have a few"
            )
        doc = tomllib.loads(text)
    except UnicodeDecodeError:
        raise InvalidModelFileError(source, "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidModelFileError(source, f"not valid TOML ({exc})") from None
    except RecursionError:
        raise InvalidModelFileError(source, "not valid TOML (nested too deeply)") from None
    try:
        return _from_document(doc)
    except ValueError as exc:
        raise InvalidModelFileError(source, str(exc)) from None


# -- a cache of parsed model files ------------------------------------------------------------

# tomllib is pure Python: parsing is ~60 % of `git model status` at 300 models (benchmarks/
# NOTES.md), though model files rarely change. So what a parse returned is kept, keyed on the
# file's exact bytes (never a digest of them: a crafted model file must not be able to collide
# with another), and reused while this gitmodel's parser is the one that wrote it.
_CACHE_EXTRA = 512  # entries kept beyond those used by the run that writes the cache


def _record(model: ModelFile) -> tuple[Any, ...]:
    return (model.name, model.artifact, tuple((f.path, f.oid, f.size) for f in model.files),
            model.description, model.created, model.author, model.code_commit,
            model.code_dirty, model.params, model.metrics,
            tuple((d.path, d.oid, d.size, d.source, d.pointer, d.md5) for d in model.data),
            tuple((lock.path, lock.blob) for lock in model.locks),
            None if (env := model.environment) is None else (
                env.python, env.implementation, env.os, env.machine, env.kind,
                env.distributions, env.listing, env.skipped, env.accelerator, env.packages),
            None if (run := model.run) is None else (
                run.command, run.started, run.ended, run.duration, run.exit, run.host))


def _from_record(rec: tuple[Any, ...]) -> ModelFile:
    (name, artifact, files, description, created, author, commit, dirty, params, metrics,
     data, locks, env, run) = rec
    return ModelFile(name=name, artifact=artifact,
                     files=tuple(FileEntry(p, o, s) for p, o, s in files),
                     description=description, created=created, author=author,
                     code_commit=commit, code_dirty=dirty, params=params, metrics=metrics,
                     data=tuple(DataInput(*d) for d in data),
                     locks=tuple(LockFile(p, b) for p, b in locks),
                     environment=None if env is None else Environment(*env),
                     run=None if run is None else Run(*run))


def _parser_fingerprint() -> tuple[Any, ...]:
    """What the cached parses depend on: Python (tomllib, marshal), this gitmodel, and this
    module's source (an edited rule in a development checkout invalidates them)."""
    import sys

    from gitmodel import __version__

    try:
        source = os.stat(__file__)
        where: tuple[int, int] = (source.st_size, source.st_mtime_ns)
    except OSError:
        where = (0, 0)
    return (sys.version, __version__, FORMAT_VERSION, where)


class ParseCache:
    """Parsed model files by their exact bytes, in one ``marshal`` file (one read and a C-speed
    load for all of them). It is a cache: an unreadable or foreign file is ignored, a failed
    write is dropped, and two processes writing at once leave one of them. Only parses that
    succeeded are kept; model files holding TOML dates (which marshal cannot store) are parsed
    every time. Like the stat cache, it lives in the common dir, which only the user writes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[bytes, tuple[Any, ...]] | None = None
        self._used: dict[bytes, tuple[Any, ...]] = {}
        self._changed = False

    def _load(self) -> dict[bytes, tuple[Any, ...]]:
        if self._entries is None:
            import marshal

            self._entries = {}
            try:
                fingerprint, entries = marshal.loads(self.path.read_bytes())
                if fingerprint == _parser_fingerprint() and isinstance(entries, dict):
                    self._entries = entries
            except (OSError, ValueError, EOFError, TypeError):
                pass  # absent, or written by another Python or gitmodel: start again
        return self._entries

    def loads(self, data: bytes, source: str) -> ModelFile:
        """:func:`loads`, answered from the cache when these exact bytes were parsed before."""
        record = self._load().get(data)
        if record is not None:
            try:
                model = _from_record(record)
            except (TypeError, ValueError):
                model = None  # not what this code writes: parse again
            if model is not None:
                self._used[data] = record
                return model
        model = loads(data, source)
        self._used[data] = _record(model)
        self._changed = True
        return model

    def save(self) -> None:
        """Write the cache if this run parsed anything new (atomically: temp file, rename)."""
        if not self._changed:
            return
        import marshal

        kept = dict(self._used)
        for data, record in self._load().items():
            if len(kept) >= len(self._used) + _CACHE_EXTRA:
                break
            kept.setdefault(data, record)
        kept = {k: v for k, v in kept.items() if _marshallable(v)}
        temp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            temp.write_bytes(marshal.dumps((_parser_fingerprint(), kept)))
            os.replace(temp, self.path)
        except OSError:  # a read-only or full cache dir: parse again next time
            with contextlib.suppress(OSError):
                temp.unlink()
        self._changed = False


def _marshallable(record: tuple[Any, ...]) -> bool:
    import marshal

    try:
        marshal.dumps(record)
    except ValueError:  # a TOML date or time in params or metrics
        return False
    return True


def _require(doc: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str = "") -> Any:
    label = f"{where}{key}"
    if key not in doc:
        raise ValueError(f"field '{label}' is missing")
    value = doc[key]
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise ValueError(f"field '{label}' must be a {_toml_type(names)}")
    return value


def _toml_type(python_name: str) -> str:
    return {"str": "string", "int": "integer", "bool": "boolean", "dict": "table",
            "list": "array"}.get(python_name, python_name)


def _check_oid(value: object, label: str) -> str:
    if not isinstance(value, str) or not _OID_RE.fullmatch(value):
        raise ValueError(f"field '{label}' must be 'sha256:' and 64 lowercase hex digits")
    return value


def _check_size(value: object, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < MAX_SIZE:
        raise ValueError(f"field '{label}' must be an integer from 0 to 2^53-1")
    return value


def _from_document(doc: dict[str, Any]) -> ModelFile:
    version = _require(doc, "format", int)
    if version != FORMAT_VERSION:
        raise ValueError(
            f"field 'format' is {version}, which this gitmodel does not know "
            f"(it reads format {FORMAT_VERSION}); upgrade gitmodel"
        )
    name = _require(doc, "name", str)
    if not NAME_RE.fullmatch(name):
        raise ValueError(
            f"field 'name' {name!r} must be lowercase letters, digits, '-', '_' or '/', "
            "starting and ending with a letter or digit"
        )
    try:
        artifact = check_relative_path(_require(doc, "artifact", str), "field 'artifact'")
    except ValueError:
        raise
    raw_files = _require(doc, "files", list)
    if not raw_files:
        raise ValueError("field 'files' must list at least one file")
    files = []
    seen: set[str] = set()
    for i, entry in enumerate(raw_files):
        where = f"files[{i}]."
        if not isinstance(entry, dict):
            raise ValueError(f"field 'files[{i}]' must be a table")
        path = check_relative_path(_require(entry, "path", str, where), f"field '{where}path'")
        if path != artifact and not path.startswith(artifact + "/"):
            raise ValueError(f"field '{where}path' {path!r} is not inside artifact {artifact!r}")
        if path.lower() in seen:
            raise ValueError(f"field '{where}path' {path!r} is listed twice (or differs by case)")
        seen.add(path.lower())
        files.append(FileEntry(path, _check_oid(entry.get("oid"), f"{where}oid"),
                               _check_size(entry.get("size"), f"{where}size")))
    # A file may not also be a folder of another file ("a" and "a/b").
    for path in seen:
        parent = PurePosixPath(path).parent
        while str(parent) not in (".", ""):
            if str(parent) in seen:
                raise ValueError(f"field 'files' lists {parent} both as a file and a folder")
            parent = parent.parent
    code = doc.get("code", {})
    if not isinstance(code, dict):
        raise ValueError("field 'code' must be a table")
    commit = code.get("commit", "")
    if not isinstance(commit, str) or not _COMMIT_RE.fullmatch(commit):
        raise ValueError("field 'code.commit' must be a full commit id or empty")
    dirty = code.get("dirty", False)
    if not isinstance(dirty, bool):
        raise ValueError("field 'code.dirty' must be a boolean")
    raw_data = doc.get("data", [])
    if not isinstance(raw_data, list):
        raise ValueError("field 'data' must be an array of tables")
    data = []
    for i, entry in enumerate(raw_data):
        where = f"data[{i}]."
        if not isinstance(entry, dict):
            raise ValueError(f"field 'data[{i}]' must be a table")
        data.append(_data_input(entry, where))
    strings = {}
    for key in ("description", "created", "author"):
        value = doc.get(key, "")
        if not isinstance(value, str):
            raise ValueError(f"field '{key}' must be a string")
        strings[key] = value
    tables = {}
    for key in ("params", "metrics"):
        value = doc.get(key, {})
        if not isinstance(value, dict):
            raise ValueError(f"field '{key}' must be a table")
        tables[key] = value
    return ModelFile(
        name=name, artifact=artifact, files=tuple(sorted(files, key=lambda f: f.path)),
        description=strings["description"], created=strings["created"],
        author=strings["author"], code_commit=commit, code_dirty=dirty,
        params=tables["params"], metrics=tables["metrics"],
        data=tuple(sorted(data, key=lambda d: d.path)),
        locks=_locks(doc.get("lock", [])),
        environment=None if "environment" not in doc else _environment(doc["environment"]),
        run=None if "run" not in doc else _run(doc["run"]),
    )


# -- lineage fields (docs/model-file.md, "Lineage") ---------------------------------------------
# A model file from a clone is untrusted, and these are the fields a command prints: each has a
# character rule and a bound, and the error names the field but never echoes the value.

TOKEN_RE = re.compile(r"^[A-Za-z0-9._+!~-]{1,64}$")
PACKAGE_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,98}[a-z0-9])?$")
_HOST_RE = re.compile(r"^[A-Za-z0-9._-]{1,253}$")
_TIME_RE = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)?$")
_MD5_RE = re.compile(r"^[0-9a-f]{32}(\.dir)?$")
_BLOB_RE = re.compile(r"^([0-9a-f]{40}|[0-9a-f]{64})$")
# control characters (Cc) and the bidirectional formatting characters a terminal obeys
_NOT_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
DATA_SOURCES = ("", "lfs", "dvc")
ENVIRONMENT_KINDS = ("", "process", "venv", "conda", "path")
ACCELERATOR_KEYS = ("cuda", "cudnn", "nccl", "nvidia-driver", "rocm")
MAX_LOCKS = 256
MAX_PACKAGES = 256
MAX_DISTRIBUTIONS = 100_000
MAX_SKIPPED = 32
MAX_SKIPPED_CHARS = 200
MAX_COMMAND_ITEMS = 256
MAX_ARGUMENT_CHARS = 4096
MAX_COMMAND_CHARS = 65536
MAX_DURATION = 1e9
MAX_EXIT = 255


def is_text(value: str) -> bool:
    """Whether ``value`` is "text" in the spec's sense: printable without a terminal obeying it."""
    return _NOT_TEXT.search(value) is None


def check_token(value: object, label: str, *, empty: bool = True) -> str:
    if not isinstance(value, str) or not ((empty and value == "") or TOKEN_RE.fullmatch(value)):
        raise ValueError(f"field '{label}' must be 1 to 64 characters from A-Z a-z 0-9 . _ + ! ~ -"
                         + (" (or empty)" if empty else ""))
    return value


def _check_text(value: object, label: str, limit: int) -> str:
    if not isinstance(value, str):
        raise ValueError(f"field '{label}' must be a string")
    if len(value) > limit:
        raise ValueError(f"field '{label}' is over {limit} characters")
    if not is_text(value):
        raise ValueError(f"field '{label}' holds a control or bidirectional formatting character")
    return value


def _table(value: object, label: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"field '{label}' must be a table")
    return value


def _string(table: dict[str, Any], key: str, label: str) -> str:
    value = table.get(key, "")
    if not isinstance(value, str):
        raise ValueError(f"field '{label}' must be a string")
    return value


def _data_input(entry: dict[str, Any], where: str) -> DataInput:
    path = check_relative_path(_require(entry, "path", str, where), f"field '{where}path'")
    oid = _check_oid(entry.get("oid"), f"{where}oid")
    size = _check_size(entry.get("size"), f"{where}size")
    source = _string(entry, "source", f"{where}source")
    pointer = _string(entry, "pointer", f"{where}pointer")
    md5 = _string(entry, "md5", f"{where}md5")
    if source not in DATA_SOURCES:
        raise ValueError(f"field '{where}source' must be \"\", \"lfs\" or \"dvc\"")
    if source == "dvc":
        check_relative_path(pointer, f"field '{where}pointer'")
        if not pointer.endswith(".dvc"):
            raise ValueError(f"field '{where}pointer' must name a .dvc file")
        if not _MD5_RE.fullmatch(md5):
            raise ValueError(f"field '{where}md5' must be 32 lowercase hex digits, "
                             "optionally followed by '.dir'")
    elif pointer or md5:
        raise ValueError(f"fields '{where}pointer' and '{where}md5' are only for "
                         "source = \"dvc\"")
    return DataInput(path, oid, size, source, pointer, md5)


def _locks(raw: object) -> tuple[LockFile, ...]:
    if not isinstance(raw, list):
        raise ValueError("field 'lock' must be an array of tables")
    if len(raw) > MAX_LOCKS:
        raise ValueError(f"field 'lock' lists more than {MAX_LOCKS} files")
    locks: dict[str, LockFile] = {}
    for i, entry in enumerate(raw):
        where = f"lock[{i}]."
        if not isinstance(entry, dict):
            raise ValueError(f"field 'lock[{i}]' must be a table")
        path = check_relative_path(_require(entry, "path", str, where), f"field '{where}path'")
        blob = entry.get("blob")
        if not isinstance(blob, str) or not _BLOB_RE.fullmatch(blob):
            raise ValueError(f"field '{where}blob' must be a git blob id (40 or 64 lowercase "
                             "hex digits)")
        if path in locks:
            raise ValueError(f"field '{where}path' is listed twice")
        locks[path] = LockFile(path, blob)
    return tuple(locks[p] for p in sorted(locks))


def _environment(raw: object) -> Environment:
    table = _table(raw, "environment")
    tokens = {key: check_token(table.get(key, ""), f"environment.{key}")
              for key in ("python", "implementation", "os", "machine")}
    kind = _string(table, "kind", "environment.kind")
    if kind not in ENVIRONMENT_KINDS:
        raise ValueError("field 'environment.kind' must be one of "
                         + ", ".join(f'"{k}"' for k in ENVIRONMENT_KINDS))
    count = table.get("distributions", 0)
    if isinstance(count, bool) or not isinstance(count, int) or not (
            0 <= count <= MAX_DISTRIBUTIONS):
        raise ValueError(f"field 'environment.distributions' must be an integer from 0 to "
                         f"{MAX_DISTRIBUTIONS}")
    listing = table.get("listing", "")
    if listing != "":
        _check_oid(listing, "environment.listing")
    skipped = table.get("skipped", [])
    if not isinstance(skipped, list):
        raise ValueError("field 'environment.skipped' must be an array of strings")
    if len(skipped) > MAX_SKIPPED:
        raise ValueError(f"field 'environment.skipped' has more than {MAX_SKIPPED} entries")
    for i, item in enumerate(skipped):
        _check_text(item, f"environment.skipped[{i}]", MAX_SKIPPED_CHARS)
    accelerator = _table(table.get("accelerator", {}), "environment.accelerator")
    for key, value in accelerator.items():
        if key in ACCELERATOR_KEYS:
            check_token(value, f"environment.accelerator.{key}", empty=False)
    packages = _table(table.get("packages", {}), "environment.packages")
    if len(packages) > MAX_PACKAGES:
        raise ValueError(f"field 'environment.packages' has more than {MAX_PACKAGES} entries")
    for key, value in packages.items():
        if not PACKAGE_NAME_RE.fullmatch(key):
            raise ValueError("field 'environment.packages' has a key that is not a normalized "
                             "package name (lowercase letters, digits and '-', at most 100)")
        check_token(value, f"environment.packages.{key}", empty=False)
    return Environment(
        python=tokens["python"], implementation=tokens["implementation"], os=tokens["os"],
        machine=tokens["machine"], kind=kind, distributions=count, listing=listing,
        skipped=tuple(skipped),
        # unknown accelerator keys are ignored, never kept: nothing checked them
        accelerator={k: accelerator[k] for k in sorted(accelerator) if k in ACCELERATOR_KEYS},
        packages=dict(sorted(packages.items())),
    )


def check_command(command: object, label: str = "run.command") -> tuple[str, ...]:
    """``command`` as the spec's ``run.command``, else ValueError naming what breaks the rule."""
    if not isinstance(command, list | tuple):
        raise ValueError(f"field '{label}' must be an array of strings")
    if len(command) > MAX_COMMAND_ITEMS:
        raise ValueError(f"field '{label}' has more than {MAX_COMMAND_ITEMS} items")
    total = 0
    for i, item in enumerate(command):
        _check_text(item, f"{label}[{i}]", MAX_ARGUMENT_CHARS)
        total += len(item)
    if total > MAX_COMMAND_CHARS:
        raise ValueError(f"field '{label}' is over {MAX_COMMAND_CHARS} characters in all")
    return tuple(command)


def _run(raw: object) -> Run:
    table = _table(raw, "run")
    command = check_command(table.get("command", []))
    times = {}
    for key in ("started", "ended"):
        value = table.get(key, "")
        if not isinstance(value, str) or not _TIME_RE.fullmatch(value):
            raise ValueError(f"field 'run.{key}' must be UTC YYYY-MM-DDTHH:MM:SSZ or empty")
        times[key] = value
    duration = table.get("duration")
    if duration is not None:
        if isinstance(duration, bool) or not isinstance(duration, int | float) or not (
                0 <= duration <= MAX_DURATION):  # NaN fails both comparisons
            raise ValueError("field 'run.duration' must be a number of seconds from 0 to 1e9")
        duration = float(duration)
    status = table.get("exit")
    if status is not None and (isinstance(status, bool) or not isinstance(status, int)
                               or not -MAX_EXIT <= status <= MAX_EXIT):
        raise ValueError("field 'run.exit' must be an integer from -255 to 255")
    host = table.get("host", "")
    if not isinstance(host, str) or not (host == "" or _HOST_RE.fullmatch(host)):
        raise ValueError("field 'run.host' must be a host name (A-Z a-z 0-9 . _ -, at most 253) "
                         "or empty")
    return Run(command=command, started=times["started"], ended=times["ended"],
               duration=duration, exit=status, host=host)


def normalize_name(stem: str) -> str:
    """GTO's artifact-name rule: lower-case, other characters to '-', trimmed to alnum ends."""
    lowered = re.sub(r"[^a-z0-9\-/_]", "-", stem.lower())
    return re.sub(r"^[^a-z0-9]+|[^a-z0-9]+$", "", lowered)


def parse_scalar(text: str) -> Scalar:
    """``--param lr=3e-4``: TOML's reading of a bare value, else the text as a string."""
    try:
        doc = tomllib.loads(f"v = {text}")
    except (tomllib.TOMLDecodeError, RecursionError):
        return text
    if list(doc) != ["v"]:  # "1\nw = 2" is more than one value: keep the text as it is
        return text
    value = doc["v"]
    if isinstance(value, str | int | float | bool):
        return value
    return text
