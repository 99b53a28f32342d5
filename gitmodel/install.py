"""Install and uninstall gitmodel's git hooks, keeping (and still running) hooks of other tools.

A hook that another tool put in place is moved to ``<hook>.gitmodel-chained`` and run by ours; the
name is our own so it never collides with the pre-commit framework's ``<hook>.legacy``, which the
framework uses when it is installed after us (it then runs our hook as its legacy hook).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from gitmodel import __version__, git, modelfile
from gitmodel.config import write_default
from gitmodel.errors import InstallError

HOOKS = ("pre-commit", "post-checkout", "post-merge", "post-rewrite", "pre-push")
MARKER = "gitmodel-hook-version"
CHAINED_SUFFIX = ".gitmodel-chained"
ATTRIBUTES_LINE = f"{modelfile.PATHSPEC} merge=binary filter=gitmodel"
FILTER_KEY = "filter.gitmodel.process"
TEMPLATE = Path(__file__).with_name("hooks") / "hook.sh"


@dataclass
class InstallResult:
    hooks_dir: Path
    installed: list[str] = field(default_factory=list)
    upgraded: list[str] = field(default_factory=list)
    chained: list[str] = field(default_factory=list)  # foreign hooks kept and still run
    via_legacy: list[str] = field(default_factory=list)  # already run by pre-commit's .legacy
    created: list[str] = field(default_factory=list)  # repo files created or changed


def is_ours(path: Path) -> bool:
    try:
        with open(path, "rb") as stream:
            return MARKER.encode() in stream.read(4096)
    except (FileNotFoundError, IsADirectoryError):
        return False


def render(hook: str, python: str = sys.executable) -> str:
    if "'" in python:
        raise InstallError(f"cannot install hooks for a Python whose path contains a quote: {python}")
    return (TEMPLATE.read_text(encoding="utf-8")
            .replace("@HOOK@", hook).replace("@PYTHON@", python)
            .replace("@VERSION@", __version__).replace("@PATHSPEC@", modelfile.PATHSPEC))


def _check_hooks_path(repo: git.Repo) -> None:
    origin = git.run(["config", "--show-origin", "--get", "core.hooksPath"], repo.root, check=False)
    if not origin.strip():
        return
    source = origin.split("\t", 1)[0]
    local_configs = {f"file:{p}" for p in (repo.common_dir / "config", repo.git_dir / "config.worktree")}
    resolved = {f"file:{Path(s.removeprefix('file:')).resolve()}" for s in local_configs}
    if source not in local_configs and f"file:{Path(source.removeprefix('file:')).resolve()}" not in resolved:
        where = source.removeprefix("file:")
        raise InstallError(
            f"core.hooksPath is set in {where}, outside this repo, so installing there would "
            "change the hooks of every repo that uses it; set it for this repo only with "
            "`git config --local core.hooksPath .git/hooks` (or another folder), then run "
            "`git model install` again"
        )


def install(repo: git.Repo, python: str = sys.executable) -> InstallResult:
    _check_hooks_path(repo)
    hooks_dir = git.hooks_dir(repo)
    hooks_dir.mkdir(parents=True, exist_ok=True)
    result = InstallResult(hooks_dir)
    for hook in HOOKS:
        path = hooks_dir / hook
        chained = hooks_dir / (hook + CHAINED_SUFFIX)
        legacy = hooks_dir / (hook + ".legacy")
        text = render(hook, python)
        if path.exists() and not is_ours(path):
            if is_ours(legacy):
                # The pre-commit framework was installed after us and runs our hook as its
                # legacy hook; replace that copy so it is current, and leave the framework's.
                _write(legacy, text)
                result.via_legacy.append(hook)
                continue
            if chained.exists():
                raise InstallError(
                    f"{path} is not gitmodel's and {chained.name} already exists; merge the "
                    f"two by hand into {chained.name} and run `git model install` again"
                )
            os.replace(path, chained)
            result.chained.append(hook)
        elif path.exists():
            if path.read_text(encoding="utf-8", errors="replace") == text:
                continue
            result.upgraded.append(hook)
        else:
            result.installed.append(hook)
        _write(path, text)
    git.config_set(repo.root, FILTER_KEY, filter_command(python))
    if write_default(repo.root):
        result.created.append(".gitmodel.toml")
    if _ensure_attributes(repo.root):
        result.created.append(".gitattributes")
    if result.created:
        git.add(repo.root, result.created)
    return result


def filter_command(python: str = sys.executable) -> str:
    """The filter process git starts: an isolated interpreter without site (`-I -S`), which
    finds gitmodel where this one did; see gitmodel/filter.py for why start-up matters there."""
    package_parent = str(Path(__file__).resolve().parent.parent)
    if "'" in package_parent or '"' in package_parent:
        raise InstallError(f"cannot install the filter for a path with quotes: {package_parent}")
    code = (f"import sys; sys.path.insert(0, {package_parent!r}); "
            "from gitmodel.filter import main; sys.exit(main())")
    return f"'{python}' -I -S -c \"{code}\""


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".gitmodel-tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)


def _ensure_attributes(root: Path) -> bool:
    """Mark model files ``merge=binary`` (a line-wise merge could pair one side's oid with the
    other side's metrics, inventing a model that never existed) and ``filter=gitmodel`` (so
    ``reset --hard`` and ``stash``, which run no hook, restore artifacts too). A clone without
    gitmodel installed has no such filter defined, and git then passes the files through."""
    path = root / ".gitattributes"
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    if ATTRIBUTES_LINE in existing.splitlines():
        return False
    prefix = "" if not existing or existing.endswith("\n") else "\n"
    with open(path, "a", encoding="utf-8") as stream:
        stream.write(f"{prefix}{ATTRIBUTES_LINE}\n")
    return True


@dataclass
class UninstallResult:
    hooks_dir: Path
    removed: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)


def uninstall(repo: git.Repo) -> UninstallResult:
    hooks_dir = git.hooks_dir(repo)
    result = UninstallResult(hooks_dir)
    git.config_unset(repo.root, FILTER_KEY)
    for hook in HOOKS:
        path = hooks_dir / hook
        chained = hooks_dir / (hook + CHAINED_SUFFIX)
        legacy = hooks_dir / (hook + ".legacy")
        if is_ours(legacy):
            legacy.unlink()
            result.removed.append(hook + ".legacy")
        if is_ours(path):
            path.unlink()
            result.removed.append(hook)
            if chained.exists():
                os.replace(chained, path)
                result.restored.append(hook)
    return result


def installed(repo: git.Repo) -> bool:
    hooks_dir = git.hooks_dir(repo)
    return all(is_ours(hooks_dir / h) or is_ours(hooks_dir / f"{h}.legacy") for h in HOOKS)
