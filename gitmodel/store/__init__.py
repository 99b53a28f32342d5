"""The local object store: everything that knows how model bytes sit on disk under
``<git common dir>/model/`` (layout private to this package).

``objects`` holds whole-file objects (atomic put, verified materialize); the lifecycle of those
bytes (usage, clean-up, verification) and chunked packs grow beside it as modules of this package.
Callers import the names below from ``gitmodel.store``, never a module's private helpers.
"""

from gitmodel.store.objects import (
    DEFERRED_DELETE_BYTES,
    OID_RE,
    LinkMode,
    ObjectStore,
    is_oid,
)

__all__ = ["DEFERRED_DELETE_BYTES", "OID_RE", "LinkMode", "ObjectStore", "is_oid"]
