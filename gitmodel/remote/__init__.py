"""Remotes: where model objects are shared — a directory, or any fsspec URL (``s3://`` first).

The interface is object-level (docs/design.md, decision 9): a batched "which of these oids do you
have", and put/get by oid, so another backend (a Git LFS batch-API server speaks the same sha256
oids) can sit beside these two later.

This package owns everything between the cache and a remote, one module per job:

- :mod:`.backends` — the directory and fsspec backends, ``open_remote``, error explanations
- :mod:`.parallel` — threads that transfer together and stop together (Ctrl-C, first failure)
- :mod:`.transfer` — push and fetch of objects, with progress and a report
- :mod:`.packs` — chunked objects on a remote: which chunks it lacks (its pack indexes, cached),
  packs up before indexes before recipes, byte-range reads of packs on the way down
- :mod:`.needs` — which objects a work tree, a version or a push needs
- :mod:`.records` — which remote a command uses, and what each is known to hold
- :mod:`.sync` — a clone's push, fetch, pull, and the hooks' upload and fetch-on-checkout
- :mod:`.get_version` — one version into a directory, without a clone
- :mod:`.ledger` — the records a remote keeps under ``gitmodel/``: who pushes there, what each
  push relied on, what each remote gc removed (the release log checkouts consult)
- :mod:`.gc` — remote gc: the plan under ``[retention]``, and the protocol that runs it (imported
  only by ``git model gc --remote``, never by a hook)

Costs that shaped it (measured here): importing fsspec takes 0.15 s and s3fs 0.5 s, so a
directory remote is served with the standard library alone, fsspec is imported only when a
transfer to another URL really happens, and the pre-push hook decides "nothing new" from a local
record of what each remote already holds (:class:`RemoteRecord`) without any import or request.
Importing this package imports no backend library.
"""

from __future__ import annotations

from gitmodel.remote.backends import (
    ATOMIC_PUT_SCHEMES,
    EXTRAS,
    LIST_THRESHOLD,
    DirectoryRemote,
    FsspecRemote,
    ObjectRemote,
    RemoteObjectMissing,
    directory_of,
    explain,
    missing_directory,
    object_key,
    open_remote,
    scheme_of,
)
from gitmodel.remote.get_version import GetResult, get
from gitmodel.remote.needs import (
    Need,
    model_at,
    needs_of_model,
    needs_of_push,
    needs_of_specs,
    needs_of_versions,
    needs_of_worktree,
)
from gitmodel.remote.parallel import DEFAULT_JOBS, Cancelled, run_parallel
from gitmodel.remote.records import NamedRemote, RemoteRecord, choose_remote, open_named, record_for
from gitmodel.remote.sync import (
    CheckoutFetcher,
    PrePushResult,
    PullResult,
    checkout_fetcher,
    fetch,
    missing_objects_error,
    pre_push_upload,
    pull,
    push,
    unpushed,
)
from gitmodel.remote.transfer import (
    Plan,
    TransferReport,
    absent_error,
    fetch_objects,
    push_objects,
)

__all__ = [
    "ATOMIC_PUT_SCHEMES",
    "DEFAULT_JOBS",
    "EXTRAS",
    "LIST_THRESHOLD",
    "Cancelled",
    "CheckoutFetcher",
    "DirectoryRemote",
    "FsspecRemote",
    "GetResult",
    "NamedRemote",
    "Need",
    "ObjectRemote",
    "Plan",
    "PrePushResult",
    "PullResult",
    "RemoteObjectMissing",
    "RemoteRecord",
    "TransferReport",
    "absent_error",
    "checkout_fetcher",
    "choose_remote",
    "directory_of",
    "explain",
    "fetch",
    "fetch_objects",
    "get",
    "missing_directory",
    "missing_objects_error",
    "model_at",
    "needs_of_model",
    "needs_of_push",
    "needs_of_specs",
    "needs_of_versions",
    "needs_of_worktree",
    "object_key",
    "open_named",
    "open_remote",
    "pre_push_upload",
    "pull",
    "push",
    "push_objects",
    "record_for",
    "run_parallel",
    "scheme_of",
    "unpushed",
]
