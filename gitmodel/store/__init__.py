"""The local object store: everything that knows how model bytes sit on disk under
``<git common dir>/model/`` (layout private to this package).

``objects`` holds objects, whole or chunked (atomic put, verified materialize); ``packs`` the
chunked store's formats (recipes, pack indexes, pack writing), ``chunking`` where files are cut;
the lifecycle of those bytes (usage, clean-up, verification) are modules of this package too.
Callers import the names below from ``gitmodel.store``, never a module's private helpers.
"""

from gitmodel.store.objects import (
    DEFAULT_CHUNK_THRESHOLD,
    DEFERRED_DELETE_BYTES,
    OID_RE,
    LinkMode,
    ObjectStore,
    is_oid,
)

__all__ = ["DEFAULT_CHUNK_THRESHOLD", "DEFERRED_DELETE_BYTES", "OID_RE", "LinkMode", "ObjectStore", "is_oid"]
