"""Project configuration: the committed ``.gitmodel.toml``, overridden per clone by ``git config``.

The committed file holds what a team shares (remotes, stage policy, size limits); ``git config
model.<key>`` in a clone overrides a key for that clone only (for example ``model.link hardlink``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitmodel import git
from gitmodel.errors import ConfigError, GitmodelError
from gitmodel.store import DEFAULT_CHUNK_THRESHOLD, LinkMode

CONFIG_FILE = ".gitmodel.toml"
DEFAULT_MAX_BINARY_SIZE = 10 * 1024 * 1024
MIN_CHUNK_THRESHOLD = 64 << 10
MIN_MAX_BINARY_SIZE = 64 * 1024  # hooks/hook.sh relies on it
MODEL_EXTENSIONS = (
    ".safetensors", ".pt", ".pth", ".bin", ".onnx", ".gguf", ".h5", ".keras", ".pkl", ".joblib",
    ".ckpt",
)


@dataclass(frozen=True)
class Retention:
    """``[retention]``: which reachable objects a remote gc may release (docs/config.md). None
    means "never": the defaults keep everything reachable."""

    keep_versions: int | None = None  # the newest K registered versions per model; None: all
    release_deregistered_after: float | None = None  # seconds after a deregistration/deprecation
    release_untagged_after: float | None = None  # seconds after a commit no tag names
    grace: float = 14 * 86400.0  # unreachable objects uploaded less than this ago are kept
    # seconds after its last push that another clone's repository record is forgotten; None:
    # never (a record is only forgotten by --forget-repo)
    forget_repos_after: float | None = None


_RETENTION_KEYS = ("keep-versions", "release-deregistered-after", "release-untagged-after",
                   "grace", "forget-repos-after")


def _duration_of(table: dict[str, Any], section: str, key: str, default: str | None
                 ) -> float | None:
    """``table[key]`` as seconds (``default`` when absent; None when that is None too), the
    error naming ``section.key`` in .gitmodel.toml."""
    if key not in table:
        return None if default is None else parse_duration(default, "the default")
    return parse_duration(table[key], f"{section}.{key} in {CONFIG_FILE}")


def parse_retention(table: object) -> Retention:
    """The ``[retention]`` table, strictly: a typo in a rule that deletes must never be read as
    "no rule", so an unknown key or a bad value is an error naming it."""
    if not isinstance(table, dict):
        raise ConfigError(f"{CONFIG_FILE}: [retention] must be a table")
    unknown = sorted(set(table) - set(_RETENTION_KEYS))
    if unknown:
        raise ConfigError(f"{CONFIG_FILE}: [retention] has no key {unknown[0]!r} (its keys: "
                          f"{', '.join(_RETENTION_KEYS)}; docs/config.md)")

    def duration(key: str, default: str | None = None) -> float | None:
        return _duration_of(table, "retention", key, default)

    keep = table.get("keep-versions", "all")
    return Retention(
        keep_versions=None if keep == "all" else parse_count(
            keep, f"retention.keep-versions in {CONFIG_FILE} (or \"all\")"),
        release_deregistered_after=duration("release-deregistered-after"),
        release_untagged_after=duration("release-untagged-after"),
        grace=duration("grace", "14d") or 0.0,
        forget_repos_after=duration("forget-repos-after"),
    )


@dataclass(frozen=True)
class GcSettings:
    """``[gc]``: how long the local cache keeps what it no longer strictly needs (docs/config.md,
    docs/storage.md). The defaults are issue 10's."""

    grace: float = 3600.0  # seconds: an object younger than this is kept (an add in flight)
    keep_days: int = 7  # commits on local branches made in the last N days
    keep_versions: int = 2  # the newest N registered versions of each model
    keep_rescued: float = 30 * 86400.0  # seconds a rescued copy is kept
    # a pack whose dead chunk bytes are at least this fraction of its chunk bytes is rewritten
    # (docs/storage.md, "Packs": lower thresholds move more bytes per byte freed)
    pack_rewrite_dead: float = 0.5


@dataclass(frozen=True)
class Config:
    link: LinkMode = LinkMode.AUTO
    fsync: bool = False
    # [store] chunk-threshold: files of at least this many bytes are chunked; None: never
    chunk_threshold: int | None = DEFAULT_CHUNK_THRESHOLD
    max_binary_size: int = DEFAULT_MAX_BINARY_SIZE
    auto_fetch: bool = True
    remotes: dict[str, str] = field(default_factory=dict)
    default_remote: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    # [remote.NAME] keys besides url/default, e.g. endpoint_url for MinIO (never credentials)
    remote_options: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def gc(self) -> GcSettings:
        """``[gc]``, parsed when asked (by du and gc) rather than by load(): a typo there must
        not stop a checkout's hook."""
        return parse_gc(self.raw.get("gc", {}))

    @property
    def retention(self) -> Retention:
        """``[retention]``, parsed when remote gc asks (like ``[gc]``: never in a hook)."""
        return parse_retention(self.raw.get("retention", {}))


DEFAULT_DOCUMENT: dict[str, Any] = {
    "core": {"link": "auto", "fsync": False},
    "check": {"max_binary_size": DEFAULT_MAX_BINARY_SIZE},
}


def _parse_bool(value: str, key: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "yes", "on", "1"):
        return True
    if lowered in ("false", "no", "off", "0"):
        return False
    raise ConfigError(f"git config model.{key} is {value!r}; use true or false")


_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def parse_size(value: object, where: str) -> int:
    """A byte count: an integer, or git's style of size (``512k``, ``50m``, ``1g``; ``50MiB`` and
    ``50MB`` are read the same way, in units of 1024)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower().removesuffix("b").removesuffix("i")
        unit = text[-1:] if text[-1:] in ("k", "m", "g") else ""
        digits = text[:len(text) - len(unit)]
        digits = digits.strip()
        if digits.isascii() and digits.isdigit():
            return int(digits) * _SIZE_UNITS[unit]
    raise ConfigError(f"{where} is {value!r}: give a number of bytes, or one like 50m or 1g")


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: object, where: str) -> float:
    """Seconds in a duration such as ``90s``, ``30m``, ``1h``, ``14d`` or ``2w`` (a number and one
    unit; ``0`` alone is allowed). Anything else is a :class:`ConfigError` naming ``where``."""
    if isinstance(value, int) and not isinstance(value, bool) and value == 0:
        return 0.0
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "0":
            return 0.0
        unit = text[-1:]
        digits = text[:-1].strip()
        if unit in _DURATION_UNITS and digits.isascii() and digits.isdigit() and len(digits) < 10:
            return float(int(digits) * _DURATION_UNITS[unit])
    raise ConfigError(f"{where} is {value!r}: give a duration such as 90s, 30m, 1h, 14d or 2w "
                      "(a whole number and one unit), or 0")


def parse_count(value: object, where: str) -> int:
    """A whole number of at least 0 (``keep-days``, ``keep-versions``), from TOML or text."""
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**9:
        return value
    raise ConfigError(f"{where} is {value!r}: give a whole number, 0 or more")


_GC_KEYS = ("grace", "keep-days", "keep-versions", "keep-rescued", "pack-rewrite-dead")


def parse_gc(table: object) -> GcSettings:
    """The ``[gc]`` table, strictly: unknown keys and bad values are errors, not defaults."""
    if not isinstance(table, dict):
        raise ConfigError(f"{CONFIG_FILE}: [gc] must be a table")
    unknown = sorted(set(table) - set(_GC_KEYS))
    if unknown:
        raise ConfigError(f"{CONFIG_FILE}: [gc] has no key {unknown[0]!r} (its keys: "
                          f"{', '.join(_GC_KEYS)}; docs/config.md)")
    defaults = GcSettings()
    return GcSettings(
        grace=_duration_of(table, "gc", "grace", "1h") or 0.0,
        keep_days=parse_count(table.get("keep-days", defaults.keep_days),
                              f"gc.keep-days in {CONFIG_FILE}"),
        keep_versions=parse_count(table.get("keep-versions", defaults.keep_versions),
                                  f"gc.keep-versions in {CONFIG_FILE}"),
        keep_rescued=_duration_of(table, "gc", "keep-rescued", "30d") or 0.0,
        pack_rewrite_dead=parse_fraction(table.get("pack-rewrite-dead",
                                                   defaults.pack_rewrite_dead),
                                         f"gc.pack-rewrite-dead in {CONFIG_FILE}"),
    )


def parse_fraction(value: object, where: str) -> float:
    """A share from 0 to 1, as a number (0.5) or a percentage ("50%")."""
    number: object = value
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            number = None
    if (isinstance(number, (int, float)) and not isinstance(number, bool)
            and 0.0 <= float(number) <= 1.0):
        return float(number)
    raise ConfigError(f"{where} is {value!r}: give a share from 0 to 1 (0.5) or a percentage "
                      "(\"50%\")")


def parse_chunk_threshold(value: object, where: str) -> int | None:
    """``[store] chunk-threshold``: a size (at least 64 KiB, one average chunk and then some),
    or ``"off"`` (never chunk)."""
    if isinstance(value, str) and value.strip().lower() in ("off", "false", "never"):
        return None
    threshold = parse_size(value, where)
    if threshold < MIN_CHUNK_THRESHOLD:
        raise ConfigError(f"{where} is {value!r}: chunking a file below {MIN_CHUNK_THRESHOLD} "
                          "bytes buys nothing; give a larger size, or \"off\"")
    return threshold


def load(root: Path) -> Config:
    """Read ``.gitmodel.toml`` (if any) and apply ``git config model.*`` overrides."""
    path = root / CONFIG_FILE
    doc: dict[str, Any] = {}
    if path.exists() and not path.is_file():
        raise ConfigError(f"{path} is not a file; move it away so gitmodel can read its "
                          "settings (docs/config.md)")
    if path.is_file():
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise ConfigError(f"{CONFIG_FILE} is not valid TOML ({exc}); fix or delete it") from None
    core = doc.get("core", {})
    check = doc.get("check", {})
    remote_table = doc.get("remote", {})
    store = doc.get("store", {})
    if not all(isinstance(t, dict) for t in (core, check, remote_table, store)):
        raise ConfigError(f"{CONFIG_FILE}: [core], [check], [store] and [remote] must be tables")
    link = str(core.get("link", "auto"))
    fsync = core.get("fsync", False)
    max_size = check.get("max_binary_size", DEFAULT_MAX_BINARY_SIZE)
    auto_fetch = core.get("auto_fetch", True)

    overrides = _git_overrides(root)
    link = overrides.get("link", link)
    if "fsync" in overrides:
        fsync = _parse_bool(overrides["fsync"], "fsync")
    if "maxbinarysize" in overrides:
        max_size = overrides["maxbinarysize"]
    if "autofetch" in overrides:
        auto_fetch = _parse_bool(overrides["autofetch"], "autofetch")
    if "chunkthreshold" in overrides:
        chunk_threshold = parse_chunk_threshold(overrides["chunkthreshold"],
                                                "git config model.chunkThreshold")
    else:
        chunk_threshold = parse_chunk_threshold(
            store.get("chunk-threshold", DEFAULT_CHUNK_THRESHOLD),
            f"store.chunk-threshold in {CONFIG_FILE}")

    try:
        link_mode = LinkMode(link)
    except ValueError:
        raise ConfigError(
            f"link mode {link!r} is not one of auto, copy, hardlink; "
            f"fix core.link in {CONFIG_FILE} or `git config model.link`"
        ) from None
    if not isinstance(fsync, bool):
        raise ConfigError(f"{CONFIG_FILE}: core.fsync must be true or false, not {fsync!r}")
    if not isinstance(auto_fetch, bool):
        # a quoted "false" is a true value to bool(): refuse it rather than guess
        raise ConfigError(f"{CONFIG_FILE}: core.auto_fetch must be true or false (no quotes), "
                          f"not {auto_fetch!r}")
    source = ("git config model.maxBinarySize" if "maxbinarysize" in overrides
              else f"check.max_binary_size in {CONFIG_FILE}")
    max_binary_size = parse_size(max_size, source)
    if max_binary_size < MIN_MAX_BINARY_SIZE:
        # the pre-commit hook skips Python when every staged file is smaller than this
        raise ConfigError(f"check.max_binary_size {max_binary_size} is below the smallest limit, "
                          f"{MIN_MAX_BINARY_SIZE} bytes; raise it")

    remotes, default_remote, remote_options = parse_remotes(remote_table)
    if remotes:
        _remember_remotes(root, overrides, remotes, default_remote, remote_options)
    else:
        remotes, default_remote, remote_options = _remembered_remotes(overrides)
    return Config(link=link_mode, fsync=fsync, chunk_threshold=chunk_threshold,
                  max_binary_size=max_binary_size,
                  auto_fetch=auto_fetch, remotes=remotes, default_remote=default_remote,
                  raw=doc, remote_options=remote_options)


REMOTE_OPTIONS = ("endpoint_url", "region", "profile")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def parse_remotes(
    remote_table: Any,
) -> tuple[dict[str, str], str | None, dict[str, dict[str, Any]]]:
    """(url by name, the default remote's name, extra options by name) of a ``[remote]`` table."""
    if not isinstance(remote_table, dict):
        raise ConfigError(f"{CONFIG_FILE}: [remote] must be a table")
    remotes: dict[str, str] = {}
    options: dict[str, dict[str, Any]] = {}
    default_remote = None
    for name, table in remote_table.items():
        if not isinstance(table, dict) or not isinstance(table.get("url"), str):
            raise ConfigError(f"{CONFIG_FILE}: [remote.{name}] needs a url string")
        remotes[name] = table["url"]
        options[name] = {k: v for k, v in table.items() if k in REMOTE_OPTIONS}
        if table.get("default"):
            default_remote = name
    if default_remote is None and len(remotes) == 1:
        default_remote = next(iter(remotes))  # one remote is the default without saying so
    return remotes, default_remote, options


def _read_document(root: Path) -> tuple[dict[str, Any], str]:
    """The committed config as a document, and its leading comment lines (kept on rewrite)."""
    path = root / CONFIG_FILE
    if not path.is_file():
        return dict(DEFAULT_DOCUMENT), "# gitmodel project settings; `git config model.<key>` " \
            "overrides per clone\n"
    text = path.read_text(encoding="utf-8")
    try:
        doc = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise ConfigError(f"{CONFIG_FILE} is not valid TOML ({exc}); fix or delete it") from None
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line + "\n")
    return doc, "".join(lines)


def _write_document(root: Path, doc: dict[str, Any], header: str) -> None:
    import tomli_w  # only writers need it; the hooks read settings on every run

    path = root / CONFIG_FILE
    tmp = path.with_name(CONFIG_FILE + ".tmp")
    tmp.write_text(header + tomli_w.dumps(doc), encoding="utf-8")
    tmp.replace(path)


def add_remote(root: Path, name: str, url: str, *, default: bool = False,
               options: dict[str, Any] | None = None, replace: bool = False,
               before_write: Callable[[], None] | None = None) -> None:
    """Write ``[remote.NAME]`` into the committed config (credentials never go there);
    ``before_write`` runs once the name is known to be free (to check the remote itself)."""
    if not name or not set(name) <= _NAME_CHARS:
        raise ConfigError(f"remote name {name!r}: use letters, digits, '-', '_' or '.'")
    if not url.strip():
        raise ConfigError("the remote url is empty")
    doc, header = _read_document(root)
    table = doc.setdefault("remote", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{CONFIG_FILE}: [remote] must be a table")
    if name in table and not replace:
        raise ConfigError(f"remote {name!r} already exists ({table[name].get('url')}); "
                          f"remove it first with `git model remote remove {name}`")
    if before_write is not None:
        before_write()
    entry: dict[str, Any] = {"url": url}
    for key, value in (options or {}).items():
        if value is not None:
            entry[key] = value
    if default:
        for other in table.values():
            if isinstance(other, dict):
                other.pop("default", None)
        entry["default"] = True
    table[name] = entry
    _write_document(root, doc, header)


def remove_remote(root: Path, name: str) -> None:
    doc, header = _read_document(root)
    table = doc.get("remote")
    if not isinstance(table, dict) or name not in table:
        raise ConfigError(f"no remote named {name!r}")
    del table[name]
    if not table:
        del doc["remote"]
    _write_document(root, doc, header)


# A commit made before `git model remote add` has no [remote] in its .gitmodel.toml, yet checking
# it out must still fetch from the team's remote. So each clone remembers the last remotes it
# saw committed in its local git config (model.remote.NAME.url, model.defaultRemote), and uses
# them wherever the checked-out config names none.
_REMEMBERED_PREFIX = "remote."


def _remembered_remotes(
    overrides: dict[str, str],
) -> tuple[dict[str, str], str | None, dict[str, dict[str, Any]]]:
    remotes: dict[str, str] = {}
    options: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        if not key.startswith(_REMEMBERED_PREFIX):
            continue
        name, _, option = key[len(_REMEMBERED_PREFIX):].rpartition(".")
        if not name:
            continue
        if option == "url":
            remotes[name] = value
        else:
            wanted = {o.replace("_", ""): o for o in REMOTE_OPTIONS}.get(option)
            if wanted:
                options.setdefault(name, {})[wanted] = value
    default = overrides.get("defaultremote")
    if default not in remotes:
        default = next(iter(remotes)) if len(remotes) == 1 else None
    return remotes, default, {name: options.get(name, {}) for name in remotes}


def _remember_remotes(root: Path, overrides: dict[str, str], remotes: dict[str, str],
                      default: str | None, options: dict[str, dict[str, Any]]) -> None:
    wanted = {f"remote.{name}.url": url for name, url in remotes.items()}
    for name, opts in options.items():
        for key, value in opts.items():
            wanted[f"remote.{name}.{key.replace('_', '')}"] = str(value)
    if default is not None:
        wanted["defaultremote"] = default
    current = {k: v for k, v in overrides.items()
               if k.startswith(_REMEMBERED_PREFIX) or k == "defaultremote"}
    if current == wanted:
        return
    try:
        for key in current:
            if key not in wanted:
                git.config_unset(root, f"model.{key}")
        for key, value in wanted.items():
            if current.get(key) != value:
                git.config_set(root, f"model.{key}", value)
    except GitmodelError:
        pass  # remembering is a convenience; a read-only .git/config must not break a command


@dataclass(frozen=True)
class CommittedRemote:
    """The default model remote a commit's ``.gitmodel.toml`` names, and which commit that was."""

    name: str
    url: str
    options: dict[str, Any]
    where: str  # the ref it was read from, for messages: "refs/remotes/origin/HEAD", a tag


def default_remote_in(data: bytes | None) -> tuple[str, str, dict[str, Any]] | None:
    """(name, url, options) of the default remote a ``.gitmodel.toml``'s bytes name, or None
    when they name none. Raises :class:`ConfigError` when they are not valid TOML."""
    if data is None:
        return None
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ConfigError(f"{CONFIG_FILE} is not valid TOML ({exc})") from None
    remotes, default, options = parse_remotes(doc.get("remote", {}))
    if default is None:
        return None
    return default, remotes[default], options.get(default, {})


def remote_named_at(git_dir: Path, refs: list[str]) -> CommittedRemote | None:
    """The default remote named by the first of ``refs`` whose ``.gitmodel.toml`` names one
    (one ``cat-file --batch`` for all of them); an invalid file is passed over."""
    specs = [f"{ref}:{CONFIG_FILE}" for ref in refs]
    blobs = git.read_blobs(git_dir, specs)
    for ref, spec in zip(refs, specs, strict=True):
        try:
            found = default_remote_in(blobs.get(spec))
        except (ConfigError, GitmodelError):
            continue
        if found is not None:
            return CommittedRemote(*found, where=ref)
    return None


def history_refs(git_dir: Path) -> list[str]:
    """Where to look for a remote when the checked-out commit names none, best first: each git
    remote's default branch (``refs/remotes/*/HEAD``), then every tag, newest first. Teams tag
    before they set up a remote (issue 7), so older commits name none while newer ones do."""
    out = git.run(["for-each-ref", "--sort=-creatordate", "--format=%(refname)",
                   "refs/remotes/", "refs/tags/"], git_dir)
    refs = out.split()
    heads = [r for r in refs if r.startswith("refs/remotes/") and r.endswith("/HEAD")]
    return heads + [r for r in refs if r.startswith("refs/tags/")]


def remote_from_history(root: Path) -> CommittedRemote | None:
    """The remote this clone's newer commits name (see :func:`history_refs`), remembered in the
    clone's git config like a checked-out one, so the next command finds it at once."""
    found = remote_named_at(root, history_refs(root))
    if found is not None:
        options = {found.name: found.options}
        _remember_remotes(root, _git_overrides(root), {found.name: found.url}, found.name, options)
    return found


def _git_overrides(root: Path) -> dict[str, str]:
    out = git.run(["config", "--get-regexp", r"^model\."], root, check=False)
    overrides = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        overrides[key.split(".", 1)[1].lower()] = value
    return overrides


def write_default(root: Path) -> bool:
    """Create ``.gitmodel.toml`` with the defaults if it does not exist; True if created."""
    import tomli_w

    path = root / CONFIG_FILE
    if path.exists():
        return False
    path.write_text(
        "# gitmodel project settings (docs/config.md); `git config model.<key>` overrides per clone\n"
        + tomli_w.dumps(DEFAULT_DOCUMENT),
        encoding="utf-8",
    )
    return True
