"""The records a remote keeps about itself under ``gitmodel/`` (docs/remotes.md, "Remote gc"):
which repositories push here, what each push relied on, and what each remote gc removed.

They let a remote gc that runs in one clone keep what another repository needs, let a push that
races a gc put back an object the gc deleted, and let a checkout of a released version say why
its bytes are gone (and where an archive holds them). Every record is a small JSON document
written whole in one step (one PUT on an object store, a rename on a directory), so a reader
never sees half of one.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitmodel import git
from gitmodel.errors import GitmodelError, RemoteError
from gitmodel.remote.backends import ObjectRemote, explain
from gitmodel.store import ObjectStore, is_oid

FORMAT = 1
REPOS = "repos"  # repos/<clone id>.json: one per clone that pushes here, its pushed refs' tips
PUSHES = "pushes"  # pushes/<time>-<uuid>.json: the oids one push relied on
GC = "gc"  # gc/<time>-<uuid>.json: one remote gc's plan, then its result (kept: the release log)
# A pending gc record older than this is a gc that was killed: a push stops waiting for it.
PLAN_STALE_SECONDS = 15 * 60
PLAN_POLL_SECONDS = 0.2
# A push rewrites its unchanged repository record once this old, so "written" is the last push
# within a day: what [retention] forget-repos-after counts from.
REFRESH_SECONDS = 86400.0


def _stamp(now: float) -> str:
    # sortable by time, unique by the uuid: names never collide, so nothing is overwritten
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)) + "-" + uuid.uuid4().hex[:12]


def _iso(now: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))


def parse_iso(text: str) -> float | None:
    """The seconds of a time :func:`_iso` wrote, None for anything else (records are
    untrusted)."""
    import calendar

    try:
        return float(calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")))
    except (ValueError, OverflowError):
        return None


def _load(remote: ObjectRemote, key: str) -> dict[str, Any] | None:
    data = remote.get_record(key)
    if data is None:
        return None
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        raise RemoteError(f"the record {remote.url}/gitmodel/{key} is not valid JSON; whoever "
                          "wrote it should remove it (remote gc refuses to run past it)") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise RemoteError(f"the record {remote.url}/gitmodel/{key} is not a gitmodel record of "
                          f"format {FORMAT}; upgrade gitmodel or remove the record")
    return doc


def _dump(doc: dict[str, Any]) -> bytes:
    return (json.dumps({"format": FORMAT, **doc}, indent=1, sort_keys=True) + "\n").encode()


# -- who pushes here ----------------------------------------------------------------------------

def clone_id(model_dir: Path) -> str:
    """This clone's id on remotes (made once, kept in ``.git/model/clone-id``)."""
    path = model_dir / "clone-id"
    try:
        text = path.read_text(encoding="utf-8").strip()
        if len(text) == 32 and all(c in "0123456789abcdef" for c in text):
            return text
    except FileNotFoundError:
        pass
    model_dir.mkdir(parents=True, exist_ok=True)
    text = uuid.uuid4().hex
    tmp = path.with_name(f"clone-id.{uuid.uuid4().hex}")
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(path)
    return text


@dataclass(frozen=True)
class RepositoryRecord:
    """One clone that pushes to the remote, and the refs it pushed to its git remote."""

    id: str
    url: str  # the git remote it pushed refs to, for messages ("" when unknown)
    written: str
    tips: dict[str, str] = field(default_factory=dict)  # ref on the git remote -> commit


def read_repositories(remote: ObjectRemote) -> list[RepositoryRecord]:
    records = []
    for key in remote.list_records(REPOS):
        doc = _load(remote, key)
        if doc is None:
            continue  # forgotten between the listing and the read
        tips = doc.get("tips", {})
        if not isinstance(tips, dict):
            raise RemoteError(f"the record {remote.url}/gitmodel/{key} has no tips table")
        records.append(RepositoryRecord(str(doc.get("id", "")), str(doc.get("url", "")),
                                        str(doc.get("written", "")),
                                        {str(k): str(v) for k, v in tips.items()}))
    return records


def git_remote_tips(root: Path, git_remote: str | None) -> tuple[str, dict[str, str]]:
    """(URL, ref on the git remote -> commit) as this clone last saw its git remote: the tips
    of ``refs/remotes/NAME/*``, which are on the git server for any other clone to fetch."""
    names = git.run(["remote"], root, check=False).split()
    name = git_remote if git_remote in names else ("origin" if "origin" in names else
                                                   (names[0] if names else None))
    if name is None:
        return "", {}
    url = git.run(["remote", "get-url", name], root, check=False).strip()
    out = git.for_each_ref(root, "%(refname) %(objectname) %(objecttype)",
                           [f"refs/remotes/{name}/"])
    tips = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == "commit" and not parts[0].endswith("/HEAD"):
            tips["refs/heads/" + parts[0][len(f"refs/remotes/{name}/"):]] = parts[1]
    return url, tips


def record_repository(remote: ObjectRemote, model_dir: Path, *, git_url: str = "",
                      tips: dict[str, str] | None = None,
                      updates: Sequence[tuple[str, str, str, str]] = (),
                      now: float | None = None) -> None:
    """Write this clone's repository record: ``tips`` (default: the ones recorded before) with
    ``updates`` (the pre-push hook's lines: local ref, local sha, remote ref, remote sha) applied."""
    ident = clone_id(model_dir)
    key = f"{REPOS}/{ident}.json"
    doc = _load(remote, key) or {}
    if tips is None:
        tips = {str(k): str(v) for k, v in dict(doc.get("tips", {})).items()}
    tips = dict(tips)
    for _, local, remote_ref, _ in updates:
        if local == git.ZERO_OID:
            tips.pop(remote_ref, None)  # a deleted branch or tag protects nothing any more
        else:
            tips[remote_ref] = local
    when = time.time() if now is None else now
    written = parse_iso(str(doc.get("written", "")))
    if (doc and tips == doc.get("tips") and (git_url or doc.get("url", "")) == doc.get("url")
            and written is not None and when - written < REFRESH_SECONDS):
        return  # nothing new, and refreshed lately: no write
    remote.put_record(key, _dump({"id": ident, "url": git_url or doc.get("url", ""),
                                  "written": _iso(when), "tips": tips}))


def forget_repository(remote: ObjectRemote, ident: str) -> bool:
    key = f"{REPOS}/{ident}.json"
    if remote.get_record(key) is None:
        return False
    remote.delete_record(key)
    return True


# -- what each push relied on ----------------------------------------------------------------

def record_push(remote: ObjectRemote, model_dir: Path | None, oids: Iterable[str],
                now: float | None = None, *, packs: Iterable[str] = (),
                complete: bool | None = None, key: str = "") -> str:
    """Write the ledger entry of one push: every oid it uploaded or found present. A gc that
    planned to delete one of them drops it (see :func:`gitmodel.remote.gc.run_plan`).

    A chunked push also writes one between its packs and its recipes, naming the remote
    ``packs`` its recipes rely on, with ``complete`` False; and rewrites it (same ``key``) with
    ``complete`` True once its recipes are up. While incomplete it keeps those packs from any
    gc planned meanwhile (:func:`relied_packs`)."""
    when = time.time() if now is None else now
    key = key or f"{PUSHES}/{_stamp(when)}.json"
    doc: dict[str, Any] = {"clone": clone_id(model_dir) if model_dir is not None else "",
                           "written": _iso(when), "oids": sorted(set(oids))}
    relied = sorted(set(packs))
    if relied:
        doc["packs"] = relied
    if complete is not None:
        doc["complete"] = complete
    remote.put_record(key, _dump(doc))
    return key


def relied_packs(remote: ObjectRemote, keys: Iterable[str]) -> set[str]:
    """The packs named by those of the ledger entries ``keys`` whose push has not marked them
    complete: its recipes may not be up yet, so no recipe a gc can list keeps their chunks."""
    found: set[str] = set()
    for key in keys:
        doc = _load(remote, key)
        if doc is not None and doc.get("complete") is False:
            found.update(p for p in doc.get("packs", []) if _is_pack_name(p))
    return found


def _is_pack_name(name: object) -> bool:
    return (isinstance(name, str) and len(name) == 64
            and all(c in "0123456789abcdef" for c in name))


def push_oids(remote: ObjectRemote, keys: Iterable[str]) -> set[str]:
    return read_pushes(remote, keys)[0]


def read_pushes(remote: ObjectRemote, keys: Iterable[str]) -> tuple[set[str], set[str]]:
    """(oids, pack names) the ledger entries ``keys`` name."""
    oids: set[str] = set()
    packs: set[str] = set()
    for key in keys:
        doc = _load(remote, key)
        if doc is not None:
            oids.update(o for o in doc.get("oids", []) if isinstance(o, str) and is_oid(o))
            packs.update(p for p in doc.get("packs", []) if _is_pack_name(p))
    return oids, packs


# -- what gc removed -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Removal:
    """One object a remote gc removes (or removed), and why."""

    oid: str
    size: int  # the object's bytes
    reason: str  # "released" (a retention rule) or "unreachable"
    rule: str = ""  # the rule that released it, as written in [retention]
    model: str = ""
    version: str = ""  # "v1.2.0", or "commit 1a2b3c4d5e6f"
    whole: bool = True  # held whole (objects/…) on the remote
    chunked: bool = False  # held as a recipe (recipes/…); its chunks go with the pack pass
    recipe_bytes: int = 0

    @property
    def stored(self) -> int:
        """The bytes deleting its keys frees by itself (a chunked object's chunks are freed,
        if at all, by the pack pass)."""
        return (self.size if self.whole else 0) + (self.recipe_bytes if self.chunked else 0)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"oid": self.oid, "size": self.size, "reason": self.reason,
                               "rule": self.rule, "model": self.model, "version": self.version}
        if self.chunked:
            doc.update(whole=self.whole, chunked=True, recipe_bytes=self.recipe_bytes)
        return doc


@dataclass(frozen=True)
class GcRecord:
    key: str
    state: str  # "pending" (planned, deletes may be under way) or "done"
    started: str
    finished: str
    archive: str  # the URL released objects were copied to and verified on ("" for none)
    removals: dict[str, Removal]
    # the remote packs it deletes or rewrites (names): a push that relied on one uploads
    # its chunks again before its recipes (gitmodel.remote.packs.push_chunked)
    packs: tuple[str, ...] = ()
    # a pending gc still at work rewrites its record with this time now and then (between pack
    # rewrites): a push waits for it as long as it is alive, not only 15 minutes from its start
    alive: str = ""


def write_gc_record(remote: ObjectRemote, key: str, *, state: str, started: float,
                    removals: Sequence[Removal], archive: str,
                    finished: float | None = None, packs: Sequence[str] = (),
                    alive: float | None = None) -> None:
    doc: dict[str, Any] = {
        "state": state, "started": _iso(started),
        "finished": _iso(finished) if finished is not None else "", "archive": archive,
        "remove": [r.to_json() for r in removals]}
    if packs:
        doc["packs"] = sorted(set(packs))
    if alive is not None:
        doc["alive"] = _iso(alive)
    remote.put_record(key, _dump(doc))


def finish_interrupted(remote: ObjectRemote, record: GcRecord, present: set[str]) -> None:
    """Mark a killed gc's pending record done, naming only what is really gone (an object a
    push put back is still there, so it was never released)."""
    gone = [r for oid, r in sorted(record.removals.items()) if oid not in present]
    doc: dict[str, Any] = {
        "state": "done", "started": record.started, "finished": _iso(time.time()),
        "archive": record.archive, "remove": [r.to_json() for r in gone],
        "note": "finished by a later gc: the gc that wrote it was interrupted"}
    if record.packs:
        doc["packs"] = list(record.packs)
    remote.put_record(record.key, _dump(doc))


def new_gc_key(now: float) -> str:
    return f"{GC}/{_stamp(now)}.json"


def read_gc_records(remote: ObjectRemote, since: float | None = None) -> list[GcRecord]:
    """Every gc record (one listing, a GET each); with ``since``, only those of gcs started
    after it, by the time in their names."""
    records = []
    keys = remote.list_records(GC)
    if since is not None:
        cut = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(since))
        keys = [k for k in keys if k.removeprefix(f"{GC}/") >= cut]
    for key in keys:
        doc = _load(remote, key)
        if doc is None:
            continue
        removals = {}
        for item in doc.get("remove", []):
            if isinstance(item, dict) and is_oid(str(item.get("oid", ""))):
                chunked = item.get("chunked") is True
                removal = Removal(str(item["oid"]), _int(item.get("size")),
                                  str(item.get("reason", "")), str(item.get("rule", "")),
                                  str(item.get("model", "")), str(item.get("version", "")),
                                  whole=item.get("whole", True) is not False, chunked=chunked,
                                  recipe_bytes=_int(item.get("recipe_bytes")))
                removals[removal.oid] = removal
        packs = doc.get("packs", [])
        records.append(GcRecord(key, str(doc.get("state", "")), str(doc.get("started", "")),
                                str(doc.get("finished", "")), str(doc.get("archive", "")),
                                removals,
                                tuple(p for p in packs if _is_pack_name(p))
                                if isinstance(packs, list) else (),
                                str(doc.get("alive", ""))))
    return records


def _int(value: object) -> int:
    # records are untrusted: a size that is not a whole number counts as 0
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


@dataclass(frozen=True)
class Released:
    """Why a remote lacks an object: a gc removed it (by a rule, or as unreachable)."""

    oid: str
    removal: Removal
    date: str  # when the gc that removed it finished
    archive: str  # where a copy was verified before the delete ("" for none)

    def describe(self, remote_url: str) -> str:
        what = f"{self.removal.model} {self.removal.version}".strip() or self.oid
        if self.removal.reason == "released":
            why = f"released by the retention rule {self.removal.rule} on {self.date[:10]}"
        else:
            why = f"removed by remote gc on {self.date[:10]} as unreachable"
        where = (f"; an archived copy is on {self.archive}" if self.archive
                 else "; no archive holds it")
        return f"{what} ({self.oid}) was {why} from {remote_url}{where}"


def released(remote: ObjectRemote, oids: Iterable[str]) -> dict[str, Released]:
    """Which of ``oids`` a finished remote gc removed, newest record first."""
    wanted = set(oids)
    found: dict[str, Released] = {}
    if not wanted:
        return found
    # a pending record counts too: the caller asks only about objects the remote lacks, and a
    # killed gc's deletes are as real as a finished one's
    for record in sorted(read_gc_records(remote), key=lambda r: r.key, reverse=True):
        for oid in wanted & set(record.removals):
            found.setdefault(oid, Released(oid, record.removals[oid],
                                           record.finished or record.started, record.archive))
    return found


def release_note(remote: ObjectRemote, oids: Sequence[str]) -> str | None:
    """One sentence on why ``remote`` lacks ``oids``, when a gc removed any of them."""
    try:
        found = released(remote, oids)
    except Exception:  # a message helper must never turn "missing" into a crash
        return None
    if not found:
        return None
    first = found[sorted(found)[0]]
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return first.describe(remote.url) + more


# -- the push's side of the gc protocol ---------------------------------------------------------

def settle_push(store: ObjectStore, remote: ObjectRemote, oids: Sequence[str], model_dir: Path,
                *, git_url: str = "", tips: dict[str, str] | None = None,
                updates: Sequence[tuple[str, str, str, str]] = (),
                stale_after: float = PLAN_STALE_SECONDS,
                started: float | None = None) -> list[str]:
    """After a push's uploads: write its ledger entry and repository record, then put back any
    of its objects that a remote gc removed meanwhile. Returns the oids uploaded again.

    The order is what closes the race with a gc (docs/remotes.md): the ledger entry is written
    first, then the gc records are read. A gc re-reads the ledger after writing its plan, so
    either it sees this push and keeps its objects, or this push sees its plan, waits for its
    deletes to finish, and uploads again what they removed — never trusting the existence check
    it made before them.

    Only the records of gcs that started less than ``stale_after`` (plus as much again for
    clocks that disagree) before the push (``started``) are read: an older gc was done, or
    killed, before this push asked the remote what it has, so that answer already counts it."""
    wanted = sorted(set(oids))
    if not wanted:
        return []
    since = (time.time() if started is None else started) - 2 * stale_after
    try:
        record_push(remote, model_dir, wanted)
        record_repository(remote, model_dir, git_url=git_url, tips=tips, updates=updates)
        involved = _wait_for_plans(remote, set(wanted), stale_after, since)
        if not involved:
            return repair_recipes(store, remote, wanted)
        present = remote.has(sorted(involved))
    except GitmodelError:
        raise
    except Exception as exc:
        raise explain(exc, remote, "recording the push on") from None
    again = [oid for oid in sorted(involved) if oid not in present]
    for oid in again:
        if not store.has(oid):
            raise RemoteError(f"a remote gc removed {oid} from {remote.url} while this push "
                              "relied on it, and this clone's cache no longer has it; `git "
                              "model add` the file again and push")
    chunked = [oid for oid in again if store.is_chunked(oid)]
    for oid in again:
        if oid in chunked:
            continue
        try:
            with store.whole_file(oid) as path:
                remote.upload(oid, path, lambda _n: None)
        except Exception as exc:
            raise explain(exc, remote, f"uploading {oid} again to") from None
    if chunked:
        _push_chunked_again(store, remote, chunked)
    return again


def _push_chunked_again(store: ObjectStore, remote: ObjectRemote, oids: Sequence[str]) -> None:
    from gitmodel.remote import packs

    try:
        plan = packs.plan_push(store, remote, oids)
        packs.push_chunked(store, remote, plan)
    except GitmodelError:
        raise
    except Exception as exc:
        raise explain(exc, remote, "uploading chunked objects again to") from None


def repair_recipes(store: ObjectStore, remote: ObjectRemote, oids: Sequence[str]) -> list[str]:
    """Of ``oids`` (chunked here), the ones whose recipe is on ``remote`` while some chunk it
    lists is in no indexed pack there (a damaged or hand-deleted pack): their missing chunks are
    uploaded, then the recipes again. Returns them. Costs one listing of ``packs/`` (indexes
    from the local cache); a push calls it, never trusting a recipe it found present."""
    from gitmodel.remote import packs

    chunked = [oid for oid in oids if store.is_chunked(oid)]
    if not chunked:
        return []
    try:
        there = packs.remote_chunks(remote, packs.index_cache_dir(store, remote))
        lacking = [oid for oid in chunked
                   if any(there.locate(c) is None for c, _ in store.recipe(oid).chunks)]
        if not lacking:
            return []
        # only where the remote holds a recipe: an object held whole there needs no chunks
        held = remote.locate(lacking, chunked_first=lacking)
        broken = [oid for oid in lacking if held.get(oid) == "recipe"]
        if broken:
            packs.push_chunked(store, remote, packs.plan_push(store, remote, broken))
    except GitmodelError:
        raise
    except Exception as exc:
        raise explain(exc, remote, "checking the chunks of recipes on") from None
    return broken


def wait_for_packs(remote: ObjectRemote, packs: set[str], since: float,
                   stale_after: float = PLAN_STALE_SECONDS) -> set[str]:
    """The packs of ``packs`` a gc started after ``since`` deletes or rewrites, once no pending
    gc names them (a chunked push's check before it uploads its recipes)."""
    return _wait_for_plans(remote, packs, stale_after, since,
                           named=lambda record: set(record.packs))


def _wait_for_plans(remote: ObjectRemote, wanted: set[str], stale_after: float,
                    since: float, named: Any = None) -> set[str]:
    """The oids of ``wanted`` named by a recent gc record, once no pending gc names them."""
    started = time.monotonic()
    while True:
        records = read_gc_records(remote, since)
        involved: set[str] = set()
        pending = False
        for record in records:
            hit = wanted & (named(record) if named is not None else set(record.removals))
            if not hit:
                continue
            involved |= hit
            if record.state == "pending" and not is_stale(record, stale_after):
                pending = True
        if not pending or time.monotonic() - started > stale_after:
            return involved
        time.sleep(PLAN_POLL_SECONDS)


def is_stale(record: GcRecord, stale_after: float) -> bool:
    """Whether a pending record was left by a killed gc: neither its start nor its last sign of
    life is within ``stale_after``."""
    started = parse_iso(record.started)
    alive = parse_iso(record.alive) if record.alive else None
    latest = max(t for t in (started, alive) if t is not None) if started or alive else None
    return latest is None or time.time() - latest > stale_after
