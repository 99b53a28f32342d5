"""``git model fsck``: is every object a model file names somewhere, and are its bytes right?

Three sources, each read once: the cache (every object rehashed on every core,
:mod:`gitmodel.store.verify`), what model files name (:func:`gitmodel.retention.referenced`: every
worktree, stash, branch, tag and version), and a remote (one batched existence question; with
``deep``, every object it holds that this repository names, downloaded and hashed).

An object is **corrupt** when its cached bytes hash to another name, **missing** when a model file
names it and neither the cache nor the remote has it, **orphaned** when the cache holds it and no
model file names it (gc's to free, not an error). With a remote named explicitly, an object that a
commit names but the remote lacks is **not on the remote** (a clone could not restore it). Repair
moves each corrupt object into the cache's quarantine and downloads a good copy, adopted only when
its sha256 matches; a corrupt copy on the remote (found by ``deep``) is replaced by the cache's
good one and downloaded again to check. Nothing here prints.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from gitmodel.errors import CorruptObjectError, GitmodelError, ObjectMissingError, RemoteError
from gitmodel.hashing import Progress, hash_file
from gitmodel.remote.backends import ObjectRemote, explain
from gitmodel.retention import REACHABLE, Use, referenced
from gitmodel.store import ObjectStore
from gitmodel.store.packcheck import PackCheck
from gitmodel.store.verify import quarantine, rehash
from gitmodel.workspace import Workspace, rescued

Plan = Callable[[int, int], None]
Phase = Callable[[str], None]
"""Called with what fsck starts doing next ("hashing the cache", "asking origin")."""

SHOWN_USES = 5  # uses listed per object; the rest are counted


@dataclass(frozen=True)
class Where:
    """One model file that names an object: which model, which version (or commit), where."""

    model: str
    model_file: str
    version: str  # "churn@v1.2.0", or where the model file is: "branch main @1a2b3c4d5e6f ..."
    commit: str | None = None


@dataclass
class Finding:
    """One object with a problem, and every model file version that names it."""

    oid: str
    size: int
    problem: str  # "corrupt", "unreadable", "missing", "not-on-remote", "remote-corrupt"
    detail: str
    uses: list[Where] = field(default_factory=list)
    more_uses: int = 0  # uses beyond the first SHOWN_USES
    repaired: bool = False
    quarantined_to: str | None = None


@dataclass(frozen=True)
class Orphan:
    oid: str
    size: int
    rescued_from: str | None = None  # bytes gitmodel saved before replacing this path


@dataclass
class PackFinding:
    """A pack with bad chunks, or one that cannot be read at all."""

    pack: str
    problem: str  # "bad-chunks", "damaged"
    detail: str
    bad_chunks: int = 0
    repaired: bool = False
    quarantined_to: str | None = None
    rescued_chunks: int = 0


@dataclass
class FsckReport:
    cache_objects: int = 0
    cache_bytes: int = 0
    hash_seconds: float = 0.0
    jobs: int = 1
    referenced: int = 0
    remote: str | None = None  # the URL asked, when one was
    remote_asked: int = 0
    remote_hashed: int = 0
    only_on_remote: int = 0  # named, not in the cache, on the remote: fine (gc freed them)
    findings: list[Finding] = field(default_factory=list)
    packs: list[PackFinding] = field(default_factory=list)
    packs_checked: int = 0
    chunks_checked: int = 0
    orphans: list[Orphan] = field(default_factory=list)
    strays: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # model files that could not be read
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """Whether anything is corrupt or missing (after repair): the exit status."""
        return (any(not f.repaired for f in self.findings)
                or any(not p.repaired for p in self.packs))

    def of(self, problem: str) -> list[Finding]:
        return [f for f in self.findings if f.problem == problem]


def _version_of(use: Use) -> str:
    return use.version or use.where


def _wheres(uses: Iterable[Use]) -> list[Where]:
    seen: dict[tuple[str, str, str], tuple[bool, Where]] = {}
    for use in uses:
        where = Where(use.model, use.model_file, _version_of(use), use.commit)
        seen.setdefault((where.model, where.version, where.model_file),
                        (use.version is None, where))
    # registered versions first (what a user names), then the rest in the order history gave
    ordered = sorted(seen.values(), key=lambda item: (item[1].model, item[0]))
    return [where for _, where in ordered]


def _finding(oid: str, size: int, problem: str, detail: str, uses: list[Use]) -> Finding:
    wheres = _wheres(uses)
    return Finding(oid, size or max((u.size for u in uses), default=0), problem, detail,
                   wheres[:SHOWN_USES], max(0, len(wheres) - SHOWN_USES))


def fsck(ws: Workspace, *, remote_name: str | None = None, repair: bool = False,
         deep: bool = False, jobs: int | None = None, progress: Progress | None = None,
         plan: Plan | None = None, phase: Phase | None = None) -> FsckReport:
    """Check the cache and every object model files name; see the module's doc.

    ``remote_name`` names the remote to check (existence of everything named; content too with
    ``deep``); without it the default remote, if one is configured, is asked only about objects
    the cache lacks or holds corrupt, and not at all when there are none.
    """
    say = phase or (lambda _what: None)
    store = ws.store
    report = FsckReport()
    # the walk of refs and model files (git processes, mostly waiting on them) runs while the
    # cache is hashed, so a large cache pays for it once rather than on top
    from concurrent.futures import ThreadPoolExecutor

    say("hashing the cache")
    with ThreadPoolExecutor(1, thread_name_prefix="gitmodel-refs") as walker:
        walking = walker.submit(referenced, ws.root)
        hashed = rehash(store, jobs=jobs, progress=progress, plan=plan)
        refs = walking.result()
    report.referenced = len(refs)
    report.problems = list(refs.problems)
    report.cache_objects, report.cache_bytes = hashed.checked, hashed.bytes
    report.hash_seconds, report.jobs = hashed.seconds, hashed.jobs
    report.strays = hashed.strays
    corrupt = {c.oid: c for c in hashed.corrupt}
    unreadable = {u.oid: u for u in hashed.unreadable}
    cached = {o for o in store.oids() if o not in report.strays}
    good = cached - set(corrupt) - set(unreadable)

    explicit = remote_name is not None
    absent_here = sorted(set(refs) - cached)
    ask = sorted(set(refs) | cached) if explicit else sorted(set(absent_here) | set(corrupt))
    remote = None
    on_remote: set[str] = set()
    unasked = ""
    if ask:
        remote, unasked = _open_remote(ws, remote_name)
    if remote is not None:
        report.remote = remote.url
        say(f"asking {remote.url} which of {len(ask)} object(s) it has")
        try:
            on_remote = remote.has(ask)
        except Exception as exc:
            if explicit:
                raise explain(exc, remote, "asking what is on") from None
            unasked = f"the default remote could not be asked: {explain(exc, remote, 'asking')}"
        else:
            report.remote_asked = len(ask)

    for oid, bad in sorted(corrupt.items()):
        report.findings.append(_finding(oid, bad.size, "corrupt",
                                        bad.detail or f"its bytes hash to {bad.actual}",
                                        refs.get(oid, [])))
    if hashed.packs is not None:
        report.packs_checked = hashed.packs.packs
        report.chunks_checked = hashed.packs.chunks
        for pack, why in sorted(hashed.packs.damaged.items()):
            report.packs.append(PackFinding(pack.name, "damaged", why))
        for pack in sorted(set(hashed.packs.bad_chunks.values())):
            count = len(hashed.packs.bad_in(pack))
            report.packs.append(PackFinding(pack.name, "bad-chunks",
                                            f"{count} chunk(s) do not match their id",
                                            bad_chunks=count))
    for oid, problem in sorted(unreadable.items()):
        report.findings.append(_finding(oid, 0, "unreadable", problem.error, refs.get(oid, [])))
    for oid in absent_here:
        if oid in on_remote:
            report.only_on_remote += 1
            continue
        where = (f" nor on {remote.url}" if remote is not None and not unasked
                 else f", and {unasked}")
        report.findings.append(_finding(oid, 0, "missing", f"not in the cache{where}",
                                        refs[oid]))
    if explicit and remote is not None:
        for oid in sorted(set(refs) - on_remote):
            committed = [u for u in refs[oid] if u.rule == REACHABLE or u.version]
            if committed and oid in good:
                report.findings.append(_finding(
                    oid, store.size(oid), "not-on-remote",
                    f"a commit names it and {remote.url} lacks it: `git model push` it",
                    refs[oid]))
    if deep and remote is not None:
        _deep(ws, remote, sorted(on_remote), report, refs, good, repair, progress, plan, say)

    rescued_from = {r.oid: r.path for r in rescued(ws)}
    for oid in sorted(cached - set(refs)):
        with contextlib.suppress(OSError):
            report.orphans.append(Orphan(oid, store.size(oid), rescued_from.get(oid)))

    if repair:
        if hashed.packs is not None:
            _rescue_packs(store, hashed.packs, report, say)
        _repair(ws, remote, on_remote, report, say)
    if unasked:
        report.notes.append(unasked)
    return report


def _open_remote(ws: Workspace, name: str | None) -> tuple[ObjectRemote | None, str]:
    """The remote to ask (the named one, else the default), or None and why not."""
    from gitmodel.remote import choose_remote, open_named

    try:
        target = choose_remote(ws.config, name, root=ws.root)
    except RemoteError as exc:
        if name is not None:
            raise
        return None, str(exc)
    return open_named(ws, target), ""


def _deep(ws: Workspace, remote: ObjectRemote, oids: list[str], report: FsckReport,
          refs: dict[str, list[Use]], good: set[str], repair: bool, progress: Progress | None,
          plan: Plan | None, say: Phase) -> None:
    """Download and hash every object of ``oids`` from ``remote``; a download that matches and
    that the cache lacks (or holds corrupt) is adopted when repairing."""
    from gitmodel.remote import run_parallel

    store = ws.store
    sizes = {o: max((u.size for u in refs.get(o, [])), default=0) for o in oids}
    for oid in oids:
        if not sizes[oid] and oid in good:
            sizes[oid] = store.size(oid)
    say(f"downloading and hashing {len(oids)} object(s) from {remote.url}")
    if plan is not None:
        plan(len(oids), sum(sizes.values()))
    lock = threading.Lock()

    def check(oid: str, tick: Progress) -> None:
        tmp = store.new_temp_file()
        try:
            try:
                remote.download(oid, tmp, tick)
            except Exception as exc:
                raise explain(exc, remote, f"downloading {oid} from") from None
            actual, size = hash_file(tmp)
            with lock:
                report.remote_hashed += 1
            if actual != oid:
                with lock:
                    report.findings.append(_finding(
                        oid, size, "remote-corrupt",
                        f"{remote.where(oid)} hashes to {actual}: `git model fsck --remote "
                        "NAME --deep --repair` in a clone whose copy is good replaces it",
                        refs.get(oid, [])))
            elif repair and oid not in good:
                store.put_verified(tmp, oid, remote.where(oid))
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    run_parallel(oids, check, 8, progress)


def _repair(ws: Workspace, remote: ObjectRemote | None, on_remote: set[str], report: FsckReport,
            say: Phase) -> None:
    """Quarantine every corrupt object, then put a verified copy from the remote in its place.

    Object by object rather than through ``fetch_objects``: one corrupt copy on the remote must
    not stop the others from healing, and each finding says what became of its object."""
    store = ws.store
    broken = report.of("corrupt")
    if broken:
        say(f"repairing {len(broken)} corrupt object(s)")
    remote_bad = {f.oid for f in report.of("remote-corrupt")}
    for finding in broken:
        try:
            moved = quarantine(store, finding.oid)
        except ObjectMissingError:
            pass  # removed since it was hashed (a gc meanwhile): fetch it all the same
        else:
            finding.quarantined_to = str(moved.path)
        if store.has(finding.oid):  # a --deep download already put a good copy back
            finding.repaired = True
            continue
        if remote is None or finding.oid not in on_remote or finding.oid in remote_bad:
            finding.detail += ("; moved to the quarantine, and no remote has a good copy: "
                               "`git model add` the original file again")
            continue
        tmp = store.new_temp_file()
        try:
            try:
                remote.download(finding.oid, tmp, lambda _n: None)
            except (KeyboardInterrupt, GitmodelError):
                raise
            except Exception as exc:
                raise explain(exc, remote, f"downloading {finding.oid} from") from None
            store.put_verified(tmp, finding.oid, remote.where(finding.oid))
        except CorruptObjectError as exc:
            finding.detail += (f"; moved to the quarantine, and the copy on {remote.url} is "
                               f"corrupt too (hashes to {exc.actual})")
            continue
        except GitmodelError as exc:
            finding.detail += f"; moved to the quarantine, and the download failed: {exc}"
            continue
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        finding.repaired = True
    if remote is not None:
        for finding in report.of("remote-corrupt"):
            _reupload(store, remote, finding)


def _rescue_packs(store: ObjectStore, packs: PackCheck, report: FsckReport,
                  say: Phase) -> None:
    """Each pack with bad chunks, or unreadable: its good chunks into a new pack, then it and
    its index into ``quarantine/packs/`` (so no later add reuses a bad chunk, and gc never
    copies one). The objects that needed its bad chunks are repaired next, from the remote."""
    from gitmodel.locking import held
    from gitmodel.store.gc import LOCK
    from gitmodel.store.packcheck import rescue_pack

    by_name = {p.pack: p for p in report.packs}
    targets = sorted(set(packs.bad_chunks.values()) | set(packs.damaged))
    if not targets:
        return
    say(f"rescuing the good chunks of {len(targets)} pack(s)")
    with held(store.root / LOCK, "repairing packs (git model fsck --repair)"):
        for pack in targets:
            finding = by_name[pack.name]
            try:
                done = rescue_pack(store.root, pack, packs.bad_in(pack), fsync=store.fsync)
            except (GitmodelError, OSError) as exc:
                finding.detail += f"; the rescue failed: {exc}"
                continue
            finding.repaired = True
            finding.rescued_chunks = done.rescued
            finding.quarantined_to = str(done.quarantined_to)
            finding.detail += (f"; {done.rescued} good chunk(s) rescued into a new pack, the "
                               f"pack moved to {done.quarantined_to}")
    store.forget_chunk_map()


def _reupload(store: ObjectStore, remote: ObjectRemote, finding: Finding) -> None:
    """Replace a remote's corrupt copy with the cache's good one, then download it again and
    hash it: the repair counts only once the remote serves the right bytes."""
    oid = finding.oid
    if not store.has(oid):
        finding.detail += "; this cache has no good copy to upload either"
        return
    tmp = store.new_temp_file()
    try:
        try:
            with store.whole_file(oid) as path:
                remote.upload(oid, path, lambda _n: None)
            remote.download(oid, tmp, lambda _n: None)
        except (KeyboardInterrupt, GitmodelError):
            raise
        except Exception as exc:
            raise explain(exc, remote, f"replacing the corrupt copy of {oid} on") from None
        actual, _ = hash_file(tmp)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    if actual != oid:
        finding.detail += f"; uploaded this cache's copy, but the remote still serves {actual}"
        return
    finding.detail += "; replaced with this cache's good copy"
    finding.repaired = True
