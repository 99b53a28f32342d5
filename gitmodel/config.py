"""Project configuration: the committed ``.gitmodel.toml``, overridden per clone by ``git config``.

The committed file holds what a team shares (remotes, stage policy, size limits); ``git config
model.<key>`` in a clone overrides a key for that clone only (for example ``model.link hardlink``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from gitmodel import git
from gitmodel.errors import ConfigError
from gitmodel.store import LinkMode

CONFIG_FILE = ".gitmodel.toml"
DEFAULT_MAX_BINARY_SIZE = 10 * 1024 * 1024
MODEL_EXTENSIONS = (
    ".safetensors", ".pt", ".pth", ".bin", ".onnx", ".gguf", ".h5", ".keras", ".pkl", ".joblib",
    ".ckpt",
)


@dataclass(frozen=True)
class Config:
    link: LinkMode = LinkMode.AUTO
    fsync: bool = False
    max_binary_size: int = DEFAULT_MAX_BINARY_SIZE
    auto_fetch: bool = True
    remotes: dict[str, str] = field(default_factory=dict)
    default_remote: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


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


def load(root: Path) -> Config:
    """Read ``.gitmodel.toml`` (if any) and apply ``git config model.*`` overrides."""
    path = root / CONFIG_FILE
    doc: dict[str, Any] = {}
    if path.is_file():
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise ConfigError(f"{CONFIG_FILE} is not valid TOML ({exc}); fix or delete it") from None
    core = doc.get("core", {})
    check = doc.get("check", {})
    remote_table = doc.get("remote", {})
    if not all(isinstance(t, dict) for t in (core, check, remote_table)):
        raise ConfigError(f"{CONFIG_FILE}: [core], [check] and [remote] must be tables")
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

    try:
        link_mode = LinkMode(link)
    except ValueError:
        raise ConfigError(
            f"link mode {link!r} is not one of auto, copy, hardlink; "
            f"fix core.link in {CONFIG_FILE} or `git config model.link`"
        ) from None
    if not isinstance(fsync, bool):
        raise ConfigError(f"{CONFIG_FILE}: core.fsync must be true or false")
    try:
        max_binary_size = int(max_size)
    except (TypeError, ValueError):
        raise ConfigError(f"check.max_binary_size {max_size!r} must be a number of bytes") from None

    remotes: dict[str, str] = {}
    default_remote = None
    for name, table in remote_table.items():
        if not isinstance(table, dict) or not isinstance(table.get("url"), str):
            raise ConfigError(f"{CONFIG_FILE}: [remote.{name}] needs a url string")
        remotes[name] = table["url"]
        if table.get("default"):
            default_remote = name
    return Config(link=link_mode, fsync=fsync, max_binary_size=max_binary_size,
                  auto_fetch=bool(auto_fetch), remotes=remotes, default_remote=default_remote,
                  raw=doc)


def _git_overrides(root: Path) -> dict[str, str]:
    out = git.run(["config", "--get-regexp", r"^model\."], root, check=False)
    overrides = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        overrides[key.split(".", 1)[1].lower()] = value
    return overrides


def write_default(root: Path) -> bool:
    """Create ``.gitmodel.toml`` with the defaults if it does not exist; True if created."""
    path = root / CONFIG_FILE
    if path.exists():
        return False
    path.write_text(
        "# gitmodel project settings (docs/config.md); `git config model.<key>` overrides per clone\n"
        + tomli_w.dumps(DEFAULT_DOCUMENT),
        encoding="utf-8",
    )
    return True
