"""gitmodel: version machine-learning models beside the code that made them.

The public Python API (issue 3) is imported lazily, so ``import gitmodel`` stays cheap for the
hooks, which import only the core::

    import gitmodel
    path = gitmodel.resolve("classifier#prod")   # Path to that version's artifact, read-only
    meta = gitmodel.show("classifier@^1")        # a dataclass: version, commit, files, metrics…
    gitmodel.versions("classifier")              # active versions, greatest first
    gitmodel.stages("classifier")                # {"prod": VersionInfo(...), ...}
    gitmodel.diff("classifier@v1.0.0", "classifier@v1.1.0")
    gitmodel.add("models/m.pt", metrics={"auc": 0.91})   # from a training script: + environment, argv
    gitmodel.tag("classifier", bump="minor")

Every function takes ``cwd=`` (default: the current directory), returns dataclasses, never
prints, and raises :class:`gitmodel.errors.GitmodelError` subclasses.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not from typing: hooks and the filter import this package, typing costs ~3 ms

__version__ = "0.1.0"

# public name -> function in gitmodel.catalog
_REGISTRY_API = {
    "resolve": "resolve",
    "show": "show",
    "stages": "current_stages",
    "versions": "list_versions",
    "diff": "diff",
}

if TYPE_CHECKING:
    from typing import Any

    from gitmodel.api import assign, tag
    from gitmodel.api import track as add
    from gitmodel.catalog import current_stages as stages
    from gitmodel.catalog import diff, resolve, show
    from gitmodel.catalog import list_versions as versions


# public name -> function in gitmodel.api: tracking from training code (issue 12)
_TRACKING_API = {"add": "track", "tag": "tag", "assign": "assign"}


def __getattr__(name: str) -> Any:
    if name in _TRACKING_API:
        from gitmodel import api

        return getattr(api, _TRACKING_API[name])
    target = _REGISTRY_API.get(name)
    if target is None:
        raise AttributeError(f"module 'gitmodel' has no attribute {name!r}")
    from gitmodel import catalog

    return getattr(catalog, target)


def __dir__() -> list[str]:
    return sorted([*globals(), *_REGISTRY_API, *_TRACKING_API])


__all__ = ["__version__", "add", "assign", "diff", "resolve", "show", "stages", "tag",
           "versions"]
