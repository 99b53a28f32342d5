"""Push and fetch objects between the cache and a remote: one batched question, then parallel transfers."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from gitmodel.errors import CorruptObjectError, RemoteError
from gitmodel.hashing import Progress
from gitmodel.remote import packs
from gitmodel.remote.backends import ObjectRemote, RemoteObjectMissing, explain
from gitmodel.remote.needs import Need, _unique
from gitmodel.remote.parallel import DEFAULT_JOBS, Cancelled, run_parallel
from gitmodel.remote.records import RemoteRecord
from gitmodel.store import ObjectStore

# -- push and fetch ---------------------------------------------------------------------------

@dataclass
class TransferReport:
    remote: str
    transferred: list[str] = field(default_factory=list)
    bytes: int = 0
    skipped: int = 0  # objects already where they were going
    seconds: float = 0.0
    absent: list[Need] = field(default_factory=list)  # fetch: objects the remote lacks
    # fetch: why the remote lacks them, when a remote gc removed them (one sentence each)
    released: dict[str, str] = field(default_factory=dict)
    archives: dict[str, str] = field(default_factory=dict)  # oid -> archive URL holding it
    reuploaded: list[str] = field(default_factory=list)  # push: put back after a remote gc


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
    chunked = {n.oid for n in unique if store.is_chunked(n.oid)}
    try:
        present = remote.locate([n.oid for n in unique], chunked_first=chunked)
    except Exception as exc:
        raise explain(exc, remote, "asking what is on") from None
    if record is not None:
        record.add(sorted(present))
    todo = [n for n in unique if n.oid not in present]
    report.skipped += len(unique) - len(todo)
    # a chunked object goes up as the packs of the chunks the remote lacks, then its recipe
    # (gitmodel.remote.packs); one that the remote holds whole (an older push) is left so
    chunk_todo = [n for n in todo if n.oid in chunked]
    todo = [n for n in todo if n.oid not in chunked]
    pack_plan = None
    if chunk_todo:
        try:
            pack_plan = packs.plan_push(store, remote, [n.oid for n in chunk_todo], jobs=jobs)
        except (Cancelled, KeyboardInterrupt, RemoteError):
            raise
        except Exception as exc:
            raise explain(exc, remote, "reading the pack indexes of") from None
    if plan is not None:
        plan(len(todo) + len(chunk_todo),
             sum(n.size for n in todo) + (pack_plan.bytes if pack_plan else 0))
    lock = threading.Lock()

    def upload(need: Need, tick: Progress) -> None:
        try:
            # a whole-file object (chunked ones went to chunk_todo: gitmodel.remote.packs)
            with store.whole_file(need.oid) as path:
                remote.upload(need.oid, path, tick)
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

    def sent_recipe(oid: str) -> None:
        if record is not None:
            record.add([oid])
        with lock:
            report.transferred.append(oid)

    try:
        run_parallel(todo, upload, jobs, progress)
        if pack_plan is not None:
            report.bytes += packs.push_chunked(store, remote, pack_plan, jobs=jobs,
                                               progress=progress, uploaded=sent_recipe)
    finally:
        report.seconds = time.monotonic() - started
    return report


def fetch_objects(store: ObjectStore, remote: ObjectRemote, needs: Sequence[Need], *,
                  record: RemoteRecord | None = None, jobs: int = DEFAULT_JOBS,
                  progress: Progress | None = None, plan: Plan | None = None) -> TransferReport:
    """Download the objects of ``needs`` missing from the cache, each verified by sha256 before
    it enters the cache. Objects the remote lacks are listed in ``report.absent``.

    An object below the chunk threshold is asked for by its GET alone: no listing, no lookup
    first (a missing one is the GET's own answer, and only those are looked up afterwards, as
    recipes). Larger ones are looked up first (one request each, or one listing above
    :data:`~gitmodel.remote.backends.LIST_THRESHOLD`), since a recipe is fetched as chunks."""
    started = time.monotonic()
    report = TransferReport(remote.url)
    unique = _unique(needs)
    wanted = [n for n in unique if not store.has(n.oid)]
    report.skipped = len(unique) - len(wanted)
    if not wanted:
        return report
    threshold = store.chunk_threshold or packs.DEFAULT_CHUNK_THRESHOLD
    large = [n for n in wanted if n.size >= threshold]
    present = _locate(remote, large, chunked_first=large)
    whole = [n for n in wanted if n.size < threshold or present.get(n.oid) == "object"]
    chunk_todo = [n for n in large if present.get(n.oid) == "recipe"]
    by_oid = {n.oid: n for n in wanted}
    lock = threading.Lock()
    not_whole: list[Need] = []  # asked for whole, and the remote had no whole object

    def describe(oid: str) -> str:
        need = by_oid[oid]
        return f"{oid} (model {need.model}, {need.version})"

    def download(need: Need, tick: Progress) -> None:
        tmp = store.new_temp_file()
        try:
            try:
                remote.get_object(need.oid, tmp, tick)
            except RemoteObjectMissing:
                with lock:
                    not_whole.append(need)
                return
            except (Cancelled, KeyboardInterrupt):
                raise
            except Exception as exc:
                raise explain(exc, remote, f"downloading {describe(need.oid)} from") from None
            try:
                store.put_verified(tmp, need.oid, remote.where(need.oid))
            except CorruptObjectError as exc:
                raise RemoteError(
                    f"object {describe(need.oid)} on remote {remote.url} is corrupt: its bytes "
                    f"hash to {exc.actual}, so it was not put in the cache; whoever can should "
                    f"delete {remote.where(need.oid)} and push it again from a clone that has "
                    "the right bytes") from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        with lock:
            report.transferred.append(need.oid)
            report.bytes += store.size(need.oid)

    def fetched(oid: str) -> None:
        with lock:
            report.transferred.append(oid)

    def plan_chunked(todo: list[Need]) -> packs.FetchPlan:
        try:
            pack_plan = packs.plan_fetch(store, remote, [n.oid for n in todo], jobs=jobs,
                                         describe=describe)
        except (Cancelled, KeyboardInterrupt, RemoteError):
            raise
        except Exception as exc:
            raise explain(exc, remote, "reading the recipes and pack indexes of") from None
        report.bytes += pack_plan.meta_bytes
        return pack_plan

    def fetch_planned(pack_plan: packs.FetchPlan) -> None:
        got = packs.fetch_chunked(store, remote, pack_plan, jobs=jobs, progress=progress,
                                  describe=describe, fetched=fetched)
        report.bytes += got.bytes

    try:
        # planned before anything moves, so that the plan callback gets the whole total
        pack_plan = plan_chunked(chunk_todo) if chunk_todo else None
        if plan is not None:
            plan(len(whole) + len(chunk_todo),
                 sum(n.size for n in whole) + (pack_plan.bytes if pack_plan else 0))
        run_parallel(whole, download, jobs, progress)
        if pack_plan is not None:
            fetch_planned(pack_plan)
        report.absent = [n for n in large if n.oid not in present]
        if not_whole:
            # no whole object there: a recipe (pushed by a clone that chunks smaller files),
            # one that arrived meanwhile, or nothing at all
            late = _locate(remote, not_whole, chunked_first=not_whole)
            present.update(late)
            asked = list(not_whole)
            not_whole.clear()
            run_parallel([n for n in asked if late.get(n.oid) == "object"], download, jobs,
                         progress)
            report.absent += [n for n in asked if n.oid not in late] + not_whole
            again = [n for n in asked if late.get(n.oid) == "recipe"]
            if again:
                fetch_planned(plan_chunked(again))
        if report.absent:
            _explain_absent(remote, report)
    finally:
        report.seconds = time.monotonic() - started
        if record is not None:
            absent = {n.oid for n in report.absent}
            record.add(sorted({*report.transferred, *present} - absent))
    return report


def _locate(remote: ObjectRemote, needs: Sequence[Need], *, chunked_first: Sequence[Need]
            ) -> dict[str, str]:
    if not needs:
        return {}
    try:
        return remote.locate([n.oid for n in needs],
                             chunked_first=[n.oid for n in chunked_first])
    except Exception as exc:
        raise explain(exc, remote, "asking what is on") from None


def _explain_absent(remote: ObjectRemote, report: TransferReport) -> None:
    """Look the missing objects up in the remote's gc records (one listing): a version released
    by a retention rule is named as such, with the archive that holds it."""
    from gitmodel.remote.ledger import released

    try:
        found = released(remote, [n.oid for n in report.absent])
    except Exception:  # explaining must never turn "missing" into a failure of its own
        return
    for need in report.absent:
        item = found.get(need.oid)
        if item is None:
            continue
        if not item.removal.model and need.model != "?":
            from dataclasses import replace

            item = replace(item, removal=replace(item.removal, model=need.model,
                                                  version=need.version))
        report.released[need.oid] = item.describe(remote.url)
        if item.archive:
            report.archives[need.oid] = item.archive


def absent_error(report: TransferReport) -> RemoteError:
    first = report.absent[0]
    more = f" (and {len(report.absent) - 1} more)" if len(report.absent) > 1 else ""
    note = report.released.get(first.oid)
    if note is not None:
        archive = report.archives.get(first.oid)
        advice = (f"add it as a remote (`git model remote add archive {archive}`) and fetch "
                  "again to get the bytes from there" if archive else
                  "the bytes are gone from the remote; a clone whose cache still has them can "
                  "`git model push` them back")
        return RemoteError(f"{note}{more}; {advice}")
    return RemoteError(
        f"remote {report.remote} does not have {first.oid} (model {first.model}, "
        f"{first.version}){more}; whoever committed that version should run `git model push` "
        "from a clone that has it")
