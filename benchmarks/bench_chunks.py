#!/usr/bin/env python3
"""Chunked storage (issue 11): a checkpoint series in the cache, on a remote, and at a version
switch, for gitmodel beside Git LFS and DVC, on the same bytes.

    python benchmarks/bench_chunks.py [--size 512] [--checkpoints 8] [--tensors 64]
                                      [--rewrite 6] [--repeat 3] [--peers lfs dvc]
                                      [--curve] [--out run.json] [--write-results]

The series: N checkpoints of one safetensors file (a real 8-byte header length, JSON header and
tensor bytes) of T tensors totalling SIZE MiB; checkpoint 0 is all fresh bytes and each later
one rewrites K tensors (chosen by the seed) with fresh bytes and changes the header's step; a
second series rewrites every tensor every time ("no shared bytes", a full fine-tune). Every
byte comes from the seed, and each checkpoint is written in 4 MiB pieces, never held whole.

Columns, each in its own scratch repo with its own directory remote, fed the same checkpoints:
gitmodel (the default store), gitmodel with `[store] chunk-threshold = "off"` (whole-file
objects: the store as it was before issue 11, measured in the same run), Git LFS (a bare repo
as its file:// remote) and DVC (a directory remote). Every add's record, every restored file and
every pulled file is checked against the checkpoint's digest; a wrong result fails its row and
the run (exit 1). See benchmarks/README.md, "Chunked storage".
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (
    HERE,
    MIB,
    Env,
    check_source,
    corrupt,
    find_dvc,
    format_header,
    header_fields,
    load_average,
    machine,
    machine_line,
    rmtree,
    sha256_of,
    spread,
    write_results,
)

try:  # a dependency of gitmodel itself: its XOF makes fresh bytes at ~1.7 GB/s, 20x random's
    import blake3
except ImportError:  # pragma: no cover - only without gitmodel's dependencies
    blake3 = None  # type: ignore[assignment]

RESULTS = HERE / "RESULTS-chunks.md"
PEER_DVC = "/work/peers/dvc/bin/dvc"
NAME = "model.safetensors"
PIECE = 4 * MIB
HEADER_ROOM = 4096  # the JSON header is padded with spaces to a multiple of this
DROP_CACHES = Path("/proc/sys/vm/drop_caches")
COLUMNS = (("gitmodel", "gitmodel"), ("whole", "gitmodel, whole files"), ("lfs", "git-lfs"),
           ("dvc", "dvc"), ("ref", "reference"))
ROWS = (  # key, label, unit: the order of the table
    ("series.cache", "cache after {n} adds", "MiB"),
    ("series.remote", "remote after pushing all {n}", "MiB"),
    ("series.upload", "bytes uploaded pushing v{last} after v{last_1}", "MiB"),
    ("series.dedup", "dedup ratio (logical ÷ stored)", "x"),
    ("series.add0", "add+commit of v0", "s"),
    ("series.add", "add+commit of v1…v{last} (median)", "s"),
    ("switch.warm", "version switch v{last_1}↔v{last}, warm", "s"),
    ("switch.unchunked", "version switch of an unchunked {mib} MiB model", "s"),
    ("switch.cold", "version switch, cold (page cache dropped)", "s"),
    ("pull", "pull {mib} MiB from a directory remote into a fresh clone", "s"),
    ("ref.cp", "`cp` of one {mib} MiB checkpoint", "s"),
    ("ref.sha", "one sha256 pass over it", "s"),
    ("series.rss", "peak RSS of adding v0 ({mib} MiB), ru_maxrss (mapped file pages count)",
     "MiB"),
    ("series.anon", "peak anonymous memory of adding a {mib} MiB checkpoint (RssAnon of the "
     "tree, sampled)", "MiB"),
    ("fresh.cache", "no shared bytes: cache after {n} adds", "MiB"),
    ("fresh.add", "no shared bytes: add+commit of v1…v{last} (median)", "s"),
)
STORES = {"gitmodel": ".git/model", "whole": ".git/model", "lfs": ".git/lfs/objects",
          "dvc": ".dvc/cache"}


# -- the checkpoint series -----------------------------------------------------------------------

@dataclass(frozen=True)
class Series:
    """N checkpoints of one safetensors file; ``shared=False``: every tensor rewritten each time."""

    size: int  # bytes of the whole file, header included
    tensors: int
    checkpoints: int
    rewrite: int
    seed: int = 11
    shared: bool = True

    @property
    def tag(self) -> str:
        return "shared" if self.shared else "fresh"

    def header_room(self) -> int:
        """The padded header length: the JSON of T tensors with room to spare, 8-byte aligned."""
        sample = self._json([10**12] * self.tensors, 0)
        return -(-(len(sample) + 64) // HEADER_ROOM) * HEADER_ROOM

    def tensor_sizes(self) -> list[int]:
        payload = self.size - 8 - self.header_room()
        if payload < 4 * self.tensors:
            raise SystemExit(f"--size {self.size // MIB} MiB is too small for {self.tensors} "
                             "tensors and their header")
        base = payload // self.tensors // 4 * 4  # F32: whole elements
        return [base] * (self.tensors - 1) + [payload - base * (self.tensors - 1)]

    def _json(self, sizes: Sequence[int], step: int) -> bytes:
        table: dict[str, object] = {"__metadata__": {"format": "pt", "step": f"{step:08d}"}}
        offset = 0
        for i, n in enumerate(sizes):
            table[f"layers.{i:03d}.weight"] = {"dtype": "F32", "shape": [n // 4],
                                               "data_offsets": [offset, offset + n]}
            offset += n
        return json.dumps(table, separators=(",", ":")).encode()

    def header(self, version: int) -> bytes:
        room = self.header_room()
        text = self._json(self.tensor_sizes(), version)
        assert len(text) <= room
        return len(text.ljust(room)).to_bytes(8, "little") + text.ljust(room)

    def rewritten(self, version: int) -> list[int]:
        """The tensors checkpoint ``version`` writes fresh (all of them in checkpoint 0)."""
        if version == 0 or not self.shared:
            return list(range(self.tensors))
        rng = random.Random(f"{self.seed}-{version}")
        return sorted(rng.sample(range(self.tensors), min(self.rewrite, self.tensors)))

    def origins(self, version: int) -> list[int]:
        """For each tensor, the checkpoint whose fresh bytes it holds in ``version``."""
        origin = [0] * self.tensors
        for v in range(1, version + 1):
            for i in self.rewritten(v):
                origin[i] = v
        return origin

    def pieces(self, version: int) -> Iterator[bytes]:
        yield self.header(version)
        for i, (n, origin) in enumerate(zip(self.tensor_sizes(), self.origins(version),
                                            strict=True)):
            key = f"gitmodel bench_chunks {self.seed} {self.tag} {i} {origin}".encode()
            if blake3 is not None:
                stream = blake3.blake3(key)
                for off in range(0, n, PIECE):
                    yield stream.digest(length=min(PIECE, n - off), seek=off)
            else:
                rng = random.Random(key)
                for off in range(0, n, PIECE):
                    yield rng.randbytes(min(PIECE, n - off))

    def new_bytes(self, version: int) -> int:
        """Bytes of ``version`` that no earlier checkpoint holds: its header and fresh tensors."""
        sizes = self.tensor_sizes()
        return 8 + self.header_room() + sum(sizes[i] for i in self.rewritten(version))

    def unique_bytes(self) -> int:
        return sum(self.new_bytes(v) for v in range(self.checkpoints))


class Checkpoints:
    """Writes checkpoints of a series into work trees, and remembers each one's digests."""

    def __init__(self, series: Series, started: float) -> None:
        self.series = series
        self.digests: dict[int, tuple[str, str]] = {}  # version -> (sha256, md5)
        self.started = started
        self.placed = 0

    def write(self, version: int, path: Path) -> None:
        path.unlink(missing_ok=True)  # a tool may have left it read-only or linked to its cache
        first = version not in self.digests
        sha, md5 = hashlib.sha256(), hashlib.md5()
        with open(path, "wb") as stream:
            for piece in self.series.pieces(version):
                stream.write(piece)
                if first:
                    sha.update(piece)
                    md5.update(piece)
        if first:
            self.digests[version] = (sha.hexdigest(), md5.hexdigest())
        # an mtime clearly in the past, a different second each time (as bench.py's place)
        self.placed += 1
        old = self.started - 100_000 + 2 * self.placed
        os.utime(path, (old, old))
        os.sync()  # written back before the timed step, which would otherwise pay for it

    def sha256(self, version: int) -> str:
        return self.digests[version][0]


# -- measuring -----------------------------------------------------------------------------------

def run_measured(env: Env, cmds: Sequence[Sequence[str]], cwd: Path,
                 sample: bool = False) -> tuple[float, float, float | None]:
    """Wall seconds of ``cmds`` one after another; the peak RSS (MiB) of any process they ran
    (wait4's rusage covers a command and every descendant it waited for: git -> git-model,
    git -> git-lfs filter-process, dvc; no wrapper process in the timing); and with ``sample``
    the peak anonymous memory of the whole process tree, sampled from /proc every 20 ms.

    ru_maxrss counts the pages of a file a process maps, so a tool that hashes an artifact over
    mmap "uses" its size without allocating it; RssAnon is what it allocated."""
    started = time.perf_counter()
    peak = 0.0
    anon: list[int] = [0]
    for cmd in cmds:
        with tempfile.TemporaryFile() as out:
            proc = subprocess.Popen(list(cmd), cwd=cwd, env=env.env, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT)
            done = threading.Event()
            sampler = threading.Thread(target=sample_anon, args=(proc.pid, done, anon))
            if sample:
                sampler.start()
            _, status, usage = os.wait4(proc.pid, 0)
            done.set()
            if sample:
                sampler.join()
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode != 0:
                out.seek(0)
                raise RuntimeError(f"{' '.join(cmd)} (in {cwd}) exited {proc.returncode}:\n"
                                   f"{out.read().decode(errors='replace')}")
            peak = max(peak, usage.ru_maxrss / 1024)
    return time.perf_counter() - started, peak, (anon[0] / 1024 if sample else None)


def sample_anon(root: int, done: threading.Event, peak: list[int]) -> None:
    """Until ``done``: the largest sum of RssAnon (KiB) over ``root`` and its descendants."""
    while not done.wait(0.02):
        children: dict[int, list[int]] = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    stat = Path(entry.path, "stat").read_text()
                except OSError:
                    continue
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
        total, todo = 0, [root]
        while todo:
            pid = todo.pop()
            todo += children.get(pid, [])
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            if m := re.search(r"^RssAnon:\s+(\d+)", status, re.M):
                total += int(m.group(1))
        peak[0] = max(peak[0], total)


def disk_usage(path: Path) -> int:
    """What `du -s` counts, in bytes: allocated blocks, each inode once (hard links)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            st = os.lstat(os.path.join(root, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total




def can_drop_caches() -> bool:
    try:
        with open(DROP_CACHES, "w") as stream:
            stream.write("1\n")
        return True
    except OSError:
        return False


def drop_caches() -> None:
    os.sync()
    with open(DROP_CACHES, "w") as stream:
        stream.write("3\n")


def find_key(doc: object, pattern: str) -> object:
    """The first value under a key matching ``pattern`` anywhere in a JSON document."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            if re.search(pattern, str(key)) and isinstance(value, (int, float, str)):
                return value
        for value in doc.values():
            if (found := find_key(value, pattern)) is not None:
                return found
    if isinstance(doc, list):
        for value in doc:
            if (found := find_key(value, pattern)) is not None:
                return found
    return None


# -- results -------------------------------------------------------------------------------------

@dataclass
class Row:
    key: str
    label: str
    unit: str  # "s" or "MiB" or "x"
    samples: dict[str, list[float]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # a column's text after its value
    target: str = ""
    limit: float | None = None  # gitmodel's median must be <= this
    judged: str = "gitmodel"  # the column the target is about
    met: bool | None = None
    failures: list[str] = field(default_factory=list)

    def value(self, column: str) -> float | None:
        samples = self.samples.get(column)
        return statistics.median(samples) if samples else None


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    machine: dict[str, str] = field(default_factory=dict)

    def row(self, key: str, label: str, unit: str, target: str = "") -> Row:
        for existing in self.rows:
            if existing.key == key:
                existing.target = existing.target or target
                return existing
        new = Row(key, label, unit, target=target)
        self.rows.append(new)
        return new

    def value(self, key: str, column: str) -> float | None:
        for row in self.rows:
            if row.key == key:
                return row.value(column)
        return None

    @property
    def failures(self) -> list[str]:
        return [f for r in self.rows for f in r.failures]


def cell(row: Row, column: str) -> str:
    samples = row.samples.get(column)
    if not samples:
        return row.notes.get(column, "-")
    if row.unit == "MiB":
        text = f"{statistics.median(samples):,.1f} MiB"
    elif row.unit == "x":
        text = f"{statistics.median(samples):.3f}x"
    elif len(samples) == 1:
        text = f"{samples[0]:.3f} s"
    else:
        text = spread(samples)
    extra = row.notes.get(column)
    return f"{text} {extra}" if extra else text


def table(report: Report, rows: Sequence[Row] | None = None) -> str:
    rows = [r for r in (report.rows if rows is None else rows) if r.samples or r.failures
            or r.notes]
    used = [(k, h) for k, h in COLUMNS if any(r.samples.get(k) or r.notes.get(k) for r in rows)]
    lines = [["what", *[h for _, h in used], "target", "met"]]
    for row in rows:
        met = "" if row.met is None else ("yes" if row.met else "NO")
        if row.failures:
            met = "FAILED"
        lines.append([row.label, *[cell(row, k) for k, _ in used], row.target, met])
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = ["| " + " | ".join(c.ljust(widths[i]) for i, c in enumerate(line)) + " |"
           for line in lines]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


# -- one column's repos --------------------------------------------------------------------------

@dataclass
class Rig:
    """A scratch repo of one column, with a bare git remote and the column's object remote."""

    column: str
    repo: Path
    bare: Path
    remote_store: Path  # where the column's pushed bytes land

    @property
    def tool(self) -> str:
        return "gitmodel" if self.column == "whole" else self.column

    @property
    def store(self) -> Path:
        return self.repo / STORES[self.column]


class Bench:
    def __init__(self, env: Env, report: Report, args: argparse.Namespace,
                 columns: list[str]) -> None:
        self.env = env
        self.report = report
        self.args = args
        self.columns = columns
        self.started = time.time()
        self.cold = False
        self.anon = 0.0
        self.revs: dict[int, str] = {}

    def log(self, message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    def fail(self, row: Row, column: str, problem: str) -> None:
        row.failures.append(f"{column}: {problem}")
        self.log(f"FAILED {row.label} / {column}: {problem}")

    def series(self, size_mib: int, shared: bool = True, checkpoints: int | None = None) -> Series:
        return Series(size_mib * MIB, self.args.tensors, checkpoints or self.args.checkpoints,
                      self.args.rewrite, self.args.seed, shared)

    # -- setting up ------------------------------------------------------------------------------
    def rig(self, column: str, name: str) -> Rig:
        env = self.env
        tool = "gitmodel" if column == "whole" else column
        bare = env.fresh_dir(f"{column}-{name}-origin.git")
        env.run(["git", "init", "-q", "--bare"], bare)
        repo = env.new_repo(tool, name)
        env.run(["git", "remote", "add", "origin", str(bare)], repo)
        if tool == "gitmodel":
            remote = env.fresh_dir(f"{column}-{name}-objects")
            env.run(["git", "model", "remote", "add", "origin", str(remote), "--default"], repo)
            if column == "whole":
                set_chunk_threshold_off(repo / ".gitmodel.toml")
            env.run(["git", "add", ".gitmodel.toml"], repo)
        elif tool == "lfs":
            env.run(["git", "lfs", "track", "*.safetensors"], repo)
            env.run(["git", "add", ".gitattributes"], repo)
            remote = bare / "lfs" / "objects"  # git-lfs pushes to a file:// remote's lfs/ dir
        else:
            assert env.dvc
            remote = env.fresh_dir(f"{column}-{name}-objects")
            env.run([env.dvc, "remote", "add", "-d", "origin", str(remote)], repo)
            env.run(["git", "add", ".dvc/config"], repo)
        env.run(["git", "commit", "-q", "--allow-empty", "-m", "remote"], repo)
        env.run(["git", "push", "-q", "origin", "main"], repo)
        return Rig(column, repo, bare, remote)

    @contextlib.contextmanager
    def rigged(self, column: str, name: str) -> Iterator[Rig]:
        """A rig, deleted afterwards whatever happened (at 2 GiB a series is tens of GiB)."""
        rig = self.rig(column, name)
        try:
            yield rig
        finally:
            if not self.args.keep:
                for path in (rig.repo, rig.bare, rig.remote_store):
                    rmtree(path)

    def push_cmds(self, rig: Rig) -> list[list[str]]:
        # gitmodel's and git-lfs's pre-push hooks upload what the pushed commits need
        cmds = [["git", "push", "-q", "origin", "main"]]
        if rig.tool == "dvc":
            assert self.env.dvc
            cmds.append([self.env.dvc, "push", "-q"])
        return cmds

    def switch_cmds(self, rig: Rig, rev: str) -> list[list[str]]:
        cmds = [["git", "checkout", "-q", rev]]
        if rig.tool == "dvc":
            assert self.env.dvc
            cmds.append([self.env.dvc, "checkout", "-q"])
        return cmds

    # -- checks: each returns what is wrong, or None -------------------------------------------
    def check_recorded(self, rig: Rig, points: Checkpoints, version: int) -> str | None:
        sha, md5 = points.digests[version]
        size = points.series.size
        if rig.tool == "gitmodel":
            shown = self.env.run(["git", "show", f"HEAD:{NAME}.model.toml"], rig.repo,
                                 check=False)
            if shown.returncode != 0:
                return f"{NAME}.model.toml is not in the commit"
            files = tomllib.loads(shown.stdout.decode()).get("files", [])
            got: object = [(f.get("path"), f.get("oid"), f.get("size")) for f in files]
            want: object = [(NAME, f"sha256:{sha}", size)]
        elif rig.tool == "lfs":
            text = self.env.run(["git", "show", f"HEAD:{NAME}"], rig.repo,
                                check=False).stdout.decode(errors="replace")
            got = (re.findall(r"^oid sha256:(\w+)$", text, re.M),
                   re.findall(r"^size (\d+)$", text, re.M))
            want = ([sha], [str(size)])
        else:
            text = self.env.run(["git", "show", f"HEAD:{NAME}.dvc"], rig.repo,
                                check=False).stdout.decode(errors="replace")
            got = (re.findall(r"md5: (\w+)", text), re.findall(r"size: (\d+)", text))
            want = ([md5], [str(size)])
        return None if got == want else f"v{version}: the commit records {got}, expected {want}"

    def check_file(self, path: Path, points: Checkpoints, version: int) -> str | None:
        if not path.is_file():
            return f"{path.name} is missing"
        got, want = sha256_of(path), points.sha256(version)
        if got != want:
            return f"{path.name} has sha256 {got[:12]}, expected {want[:12]} (v{version})"
        return None

    # -- the series ------------------------------------------------------------------------------
    def add_series(self, rig: Rig, points: Checkpoints, push: bool, row: Row,
                   sample: bool = False) -> tuple[list[float], list[float], list[int], bool]:
        """Add and commit every checkpoint (pushing after each when ``push``): the add times,
        their peak RSS, the remote's size after each push, and whether every record held (a
        wrong one fails ``row``). ``sample``: sample the first add's anonymous memory into
        ``self.anon`` (the sampler costs CPU, so never during an add whose time is judged)."""
        times: list[float] = []
        peaks: list[float] = []
        remote_sizes: list[int] = []
        self.revs = {}
        for v in range(points.series.checkpoints):
            points.write(v, rig.repo / NAME)
            seconds, peak, anon = run_measured(
                self.env, self.env.add_cmds(rig.tool, NAME, f"v{v}"), rig.repo,
                sample=sample and v == 0)
            times.append(seconds)
            peaks.append(peak)
            if anon is not None:
                self.anon = anon
            if problem := self.check_recorded(rig, points, v):
                self.fail(row, rig.column, problem)
                return times, peaks, remote_sizes, False
            self.revs[v] = self.env.run(["git", "rev-parse", "HEAD"],
                                        rig.repo).stdout.decode().strip()
            if push:
                self.env.timed(self.push_cmds(rig), rig.repo)
                remote_sizes.append(disk_usage(rig.remote_store) if rig.remote_store.exists()
                                    else 0)
        return times, peaks, remote_sizes, True

    def shared_series(self, column: str) -> None:
        series = self.series(self.args.size)
        mib = self.args.size
        n = series.checkpoints
        with self.rigged(column, "series") as rig:
            self.log(f"{column}: adding {n} checkpoints of {mib} MiB")
            self.measure_series(rig, series, n)

    def measure_series(self, rig: Rig, series: Series, n: int) -> None:
        column, points, unique = rig.column, self.points, series.unique_bytes()
        times, peaks, remote_sizes, ok = self.add_series(
            rig, points, True, self.report.row("series.add0", "", "s"))
        rows = self.report
        add0 = rows.row("series.add0", "add+commit of v0", "s", "≤ one sha256 pass + 0.2 s")
        add0.samples[column] = [times[0]]
        if len(times) > 1:
            rows.row("series.add", "", "s").samples[column] = times[1:]
        rss = rows.row("series.rss", "", "MiB", "(informational)")
        rss.samples[column] = [peaks[0]]
        if not ok:
            return
        cache = rows.row("series.cache", f"cache after {n} adds", "MiB", "≤ 1.02x unique")
        stored = disk_usage(rig.store)
        cache.samples[column] = [stored / MIB]
        cache.notes[column] = f"= {stored / unique:.3f}x unique"
        remote = rows.row("series.remote", f"remote after pushing all {n}", "MiB",
                          "≤ 1.02x unique")
        remote.samples[column] = [remote_sizes[-1] / MIB]
        remote.notes[column] = f"= {remote_sizes[-1] / unique:.3f}x unique"
        if remote_sizes[-1] < unique * 0.99:
            self.fail(remote, column, f"the remote holds {remote_sizes[-1]} bytes, fewer than "
                                      f"the series' {unique} unique bytes: a push lost some")
        if n >= 2:
            new = series.new_bytes(n - 1)
            up = rows.row("series.upload", f"bytes uploaded pushing v{n - 1} after v{n - 2}",
                          "MiB", f"≤ 1.1x its new bytes ({1.1 * new / MIB:,.1f} MiB)")
            delta = remote_sizes[-1] - remote_sizes[-2]
            up.samples[column] = [delta / MIB]
            up.notes[column] = f"= {delta / new:.2f}x new"
            up.limit = 1.1 * new / MIB
        if rig.tool == "gitmodel":
            self.dedup(rig, column, stored, series)
        self.log(f"{column}: cache {stored / MIB:,.1f} MiB, remote {remote_sizes[-1] / MIB:,.1f}"
                 f" MiB, add v0 {times[0]:.3f} s")
        if n >= 2:
            self.switch(rig, points, n)
        self.reference(rig, points, n)
        self.pull(rig, points, n)

    def dedup(self, rig: Rig, column: str, stored: int, series: Series) -> None:
        row = self.report.row("series.dedup", "dedup ratio (logical ÷ stored)", "x",
                              "(reported)")
        logical = series.size * series.checkpoints
        out = self.env.run(["git", "model", "du", "--json"], rig.repo, check=False)
        reported = None
        if out.returncode == 0:
            reported = find_key(json.loads(out.stdout.decode() or "{}"), r"dedup[_-]?ratio")
        if isinstance(reported, (int, float)):
            row.samples[column] = [float(reported)]
            row.notes[column] = "(`git model du`)"
        else:
            row.samples[column] = [logical / stored]
            row.notes[column] = "(computed here: `git model du` reports none)"

    def switch(self, rig: Rig, points: Checkpoints, n: int) -> None:
        a, b = n - 2, n - 1
        warm = self.report.row("switch.warm", f"version switch v{a}↔v{b}, warm", "s",
                               "≤ 1.3x `cp` + 50 ms, verified")
        samples = []
        for _ in range(self.args.repeat):
            for v in (a, b):
                os.sync()
                samples.append(self.env.timed(self.switch_cmds(rig, self.revs[v]), rig.repo))
                if self.args.corrupt_restore:
                    corrupt(rig.repo / NAME)
                if problem := self.check_file(rig.repo / NAME, points, v):
                    self.fail(warm, rig.column, f"after checkout of v{v}: {problem}")
                    return
        warm.samples[rig.column] = samples
        if rig.column == "whole":
            unchunked = self.report.row(
                "switch.unchunked", f"version switch of an unchunked {self.args.size} MiB model "
                "(`chunk-threshold = \"off\"`)", "s", "≤ 1.3x `cp` + 50 ms, verified")
            unchunked.samples["gitmodel"] = samples
        self.log(f"{rig.column}: warm switch {statistics.median(samples):.3f} s")
        cold = self.report.row("switch.cold", "version switch, cold (page cache dropped)", "s",
                               "measured and reported")
        if not self.cold:
            cold.notes[rig.column] = "not measured"
            return
        samples = []
        for i in range(max(1, min(self.args.repeat, 3))):
            v = (a, b)[i % 2]
            drop_caches()
            samples.append(self.env.timed(self.switch_cmds(rig, self.revs[v]), rig.repo))
            if problem := self.check_file(rig.repo / NAME, points, v):
                self.fail(cold, rig.column, f"after checkout of v{v}: {problem}")
                return
        cold.samples[rig.column] = samples

    def reference(self, rig: Rig, points: Checkpoints, n: int) -> None:
        """`cp` of the checked-out file and one sha256 pass over it, once (the first column)."""
        cp_row = self.report.row("ref.cp", f"`cp` of one {self.args.size} MiB checkpoint", "s")
        sha_row = self.report.row("ref.sha", "one sha256 pass over it", "s")
        if cp_row.samples:
            return
        self.env.run(["git", "checkout", "-q", self.revs[n - 1]], rig.repo)
        if rig.tool == "dvc":
            self.env.run(self.switch_cmds(rig, self.revs[n - 1])[-1], rig.repo)
        source, copy = rig.repo / NAME, self.env.root / "cp-target"
        cps, shas = [], []
        for _ in range(max(self.args.repeat, 3)):
            os.sync()
            cps.append(self.env.timed([["cp", str(source), str(copy)]], self.env.root))
            copy.unlink()
            started = time.perf_counter()
            sha256_of(source)
            shas.append(time.perf_counter() - started)
        cp_row.samples["ref"] = cps
        sha_row.samples["ref"] = shas

    def pull(self, rig: Rig, points: Checkpoints, n: int) -> None:
        row = self.report.row("pull", f"pull {self.args.size} MiB from a directory remote into "
                              "a fresh clone", "s", "≤ one sha256 pass + one `cp`")
        samples = []
        for _ in range(max(1, min(self.args.repeat, 3))):
            clone = self.env.fresh_dir(f"{rig.column}-clone")
            clone.rmdir()
            skip = ["-c", "filter.lfs.smudge=git-lfs smudge --skip",
                    "-c", "filter.lfs.process=git-lfs filter-process --skip"]
            self.env.run(["git", *(skip if rig.tool == "lfs" else []), "clone", "-q",
                          str(rig.bare), str(clone)], self.env.root)
            if rig.tool == "gitmodel":
                # else install's post-checkout fetches and restores, leaving the pull nothing
                self.env.run(["git", "config", "model.autofetch", "false"], clone)
                self.env.run(["git", "model", "install"], clone)
                cmd = ["git", "model", "pull"]
            elif rig.tool == "lfs":
                self.env.run(["git", "lfs", "install", "--local"], clone)
                cmd = ["git", "lfs", "pull"]
            else:
                assert self.env.dvc
                cmd = [self.env.dvc, "pull", "-q"]
            if (clone / NAME).is_file() and (clone / NAME).stat().st_size == points.series.size:
                self.fail(row, rig.column, f"{NAME} was restored before `{' '.join(cmd)}`: "
                                           "the row would time nothing")
                rmtree(clone)
                return
            os.sync()
            samples.append(self.env.timed([cmd], clone))
            problem = self.check_file(clone / NAME, points, n - 1)
            rmtree(clone)
            if problem:
                self.fail(row, rig.column, f"after `{' '.join(cmd)}`: {problem}")
                return
        row.samples[rig.column] = samples
        self.log(f"{rig.column}: pull {statistics.median(samples):.3f} s")

    def fresh_series(self, column: str) -> None:
        """The series with no shared bytes: only what it costs to store and to add."""
        series = self.series(self.args.size, shared=False)
        n = series.checkpoints
        with self.rigged(column, "fresh") as rig:
            self.log(f"{column}: adding {n} checkpoints sharing no bytes")
            times, _, _, ok = self.add_series(rig, self.fresh_points, False,
                                              self.report.row("fresh.add", "", "s"), sample=True)
            if not ok:
                return
            stored = disk_usage(rig.store)
        anon = self.report.row("series.anon", "", "MiB", "< 100 MiB")
        anon.samples[column] = [self.anon]
        if len(times) > 1:
            self.report.row("fresh.add", "", "s").samples[column] = times[1:]
        row = self.report.row("fresh.cache", f"no shared bytes: cache after {n} adds", "MiB",
                              "≤ 1.02x whole files")
        row.samples[column] = [stored / MIB]
        row.notes[column] = f"= {stored / series.unique_bytes():.3f}x unique"

    # -- the growth curve ------------------------------------------------------------------------
    def curve(self, column: str) -> None:
        for factor in (1, 2, 4):
            size = self.args.size * factor
            series = self.series(size, checkpoints=2)
            points = Checkpoints(series, self.started)
            with self.rigged(column, f"curve{factor}") as rig:
                self.curve_at(rig, points, factor)

    def curve_at(self, rig: Rig, points: Checkpoints, factor: int) -> None:
        column, size = rig.column, self.args.size * factor
        label = f"curve {factor}x ({size:,} MiB):"
        add0 = self.report.row(f"curve{factor}.add0", f"{label} add+commit of v0", "s")
        times, _, _, ok = self.add_series(rig, points, False, add0)
        if not ok:
            return
        add0.samples[column] = [times[0]]
        add1 = self.report.row(f"curve{factor}.add", f"{label} add+commit of v1", "s")
        add1.samples[column] = [times[1]]
        row = self.report.row(f"curve{factor}.switch", f"{label} version switch, warm", "s")
        samples = []
        for _ in range(self.args.repeat):
            for v in (0, 1):
                os.sync()
                samples.append(self.env.timed(self.switch_cmds(rig, self.revs[v]), rig.repo))
                if problem := self.check_file(rig.repo / NAME, points, v):
                    self.fail(row, column, problem)
                    return
        row.samples[column] = samples
        self.log(f"{column}: curve {size} MiB done")

    def run(self) -> None:
        n, mib = self.args.checkpoints, self.args.size
        for key, label, unit in ROWS:  # the table's order
            self.report.row(key, label.format(n=n, last=n - 1, last_1=n - 2, mib=mib), unit)
        self.points = Checkpoints(self.series(self.args.size), self.started)
        self.fresh_points = Checkpoints(self.series(self.args.size, shared=False), self.started)
        self.cold = not self.args.no_cold and can_drop_caches()
        if not self.cold:
            self.report.notes.append(
                "cold switch not measured: " + ("--no-cold" if self.args.no_cold else
                                                f"{DROP_CACHES} is not writable here (needs root)"))
        parts = [self.shared_series, self.fresh_series] + ([self.curve] if self.args.curve else [])
        for part in parts:
            for column in self.columns:
                try:
                    part(column)
                except RuntimeError as exc:  # a command failed: the row says so, the run goes on
                    self.fail(self.report.row("error", "a command failed", "s"), column,
                              str(exc).strip()[:2000])


def set_chunk_threshold_off(path: Path) -> None:
    """``[store] chunk-threshold = "off"`` in a .gitmodel.toml (added to a [store] table that
    `install` may already have written)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    setting = 'chunk-threshold = "off"'
    if "[store]" not in lines:
        lines += ["", "[store]", setting]
    else:
        at = lines.index("[store]") + 1
        end = next((i for i in range(at, len(lines)) if lines[i].startswith("[")), len(lines))
        lines = [line for i, line in enumerate(lines)
                 if not (at <= i < end and line.replace(" ", "").startswith("chunk-threshold="))]
        lines.insert(at, setting)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# -- judging and writing -------------------------------------------------------------------------

def judge(report: Report, unique: int) -> None:
    """Set each row's limit and whether gitmodel's median meets it; ``unique``: the series'
    unique bytes."""
    sha, cp = report.value("ref.sha", "ref"), report.value("ref.cp", "ref")
    whole_add = report.value("series.add", "whole")
    limits: dict[str, float | None] = {
        "series.add0": sha + 0.2 if sha is not None else None,
        "series.add": 0.7 * whole_add if whole_add is not None else None,
        "series.anon": 100.0,
        "switch.warm": 1.3 * cp + 0.05 if cp is not None else None,
        "switch.unchunked": 1.3 * cp + 0.05 if cp is not None else None,
        "pull": sha + cp if sha is not None and cp is not None else None,
    }
    whole_fresh = report.value("fresh.cache", "whole")
    limits["fresh.cache"] = 1.02 * whole_fresh if whole_fresh is not None else None
    whole_fresh_add = report.value("fresh.add", "whole")
    limits["fresh.add"] = 1.1 * whole_fresh_add if whole_fresh_add is not None else None
    for row in report.rows:
        if row.key == "series.add":
            row.target = "≤ 0.7x whole files"
        if row.key == "fresh.add":
            row.target = "≤ 1.1x whole files"
        limit = limits.get(row.key, row.limit)
        if row.key in ("series.cache", "series.remote"):
            limit = 1.02 * unique / MIB
        value = row.value(row.judged)
        if limit is not None and value is not None:
            row.limit = limit
            row.met = value <= limit
            unit = "MiB" if row.unit == "MiB" else "s"
            if "=" not in row.target and row.key not in ("series.upload", "series.anon",
                                                         "series.cache", "series.remote"):
                row.target += f" = {limit:,.3f} {unit}" if unit == "s" else \
                    f" = {limit:,.1f} {unit}"


def results_markdown(report: Report, args: argparse.Namespace, series: Series) -> str:
    main = [r for r in report.rows if not r.key.startswith("curve")]
    curve = [r for r in report.rows if r.key.startswith("curve")]
    lines = [
        "# Chunked storage: a checkpoint series (issue 11)",
        "",
        "Written by the command in the header above (`bench_chunks.py --write-results`). "
        f"The series: {series.checkpoints} checkpoints of a {args.size} MiB safetensors file of "
        f"{series.tensors} tensors, each later one rewriting {series.rewrite} of them with fresh "
        f"bytes: {series.unique_bytes() / MIB:,.1f} MiB of unique bytes (the no-shared-bytes "
        f"series rewrites all {series.tensors}). Times: median (min-max) of the runs; sizes: "
        "`du` of the store (`.git/model`, `.git/lfs/objects`, `.dvc/cache`) and of the "
        "directory remote. \"gitmodel, whole files\" is gitmodel with `[store] chunk-threshold "
        "= \"off\"`: the store as it was before chunking, in the same run. Every add's record, "
        "every switch and every pull was checked against the checkpoint's sha256. The pull "
        "from the loopback S3 server (1 x 512 MiB and 200 x 1 MiB against raw s3fs) is "
        "`bench_remote.py`'s: [RESULTS-remote.md](RESULTS-remote.md).",
        "",
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in report.machine.items()],
        "",
        "## Results",
        "",
        table(report, main),
        "",
    ]
    if curve:
        lines += ["## Growth curve", "", table(report, curve), ""]
    notes = [*report.notes, *(f"check failed: {f}" for f in report.failures)]
    if notes:
        lines += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    return "\n".join(lines)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=512, help="MiB per checkpoint (default 512)")
    parser.add_argument("--checkpoints", type=int, default=8, help="checkpoints in the series")
    parser.add_argument("--tensors", type=int, default=64, help="tensors per checkpoint")
    parser.add_argument("--rewrite", type=int, default=6, help="tensors each checkpoint rewrites")
    parser.add_argument("--seed", type=int, default=11, help="of every byte in the series")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of switch and pull")
    parser.add_argument("--peers", nargs="*", choices=("lfs", "dvc"), default=["lfs", "dvc"],
                        help="peer tools beside gitmodel (none: `--peers` alone)")
    parser.add_argument("--dvc", help=f"the dvc executable (default: {PEER_DVC} or PATH)")
    parser.add_argument("--no-whole", action="store_true",
                        help="skip the whole-file (chunk-threshold off) column")
    parser.add_argument("--no-cold", action="store_true",
                        help="do not drop the page cache (the cold switch row)")
    parser.add_argument("--curve", action="store_true",
                        help="also add and switch at 1x, 2x and 4x --size")
    parser.add_argument("--tmpdir", type=Path, help="where scratch repos go")
    parser.add_argument("--out", type=Path, help="write every sample here (JSON)")
    parser.add_argument("--write-results", "--write", dest="write", action="store_true",
                        help=f"write benchmarks/{RESULTS.name}")
    parser.add_argument("--results", type=Path, default=RESULTS, help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    # a test of the checks themselves (tests/test_benchmarks.py): damage every switched-to file
    parser.add_argument("--corrupt-restore", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.size, args.checkpoints, args.tensors, args.repeat) < 1 or args.rewrite < 0:
        parser.error("sizes and counts must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    load = load_average()
    report = Report()
    bindir = str(Path(sys.executable).parent)
    if not (Path(bindir) / "git-model").exists():
        print("git-model is not installed beside this Python; run `pip install -e .` first",
              file=sys.stderr)
        return 2
    if args.write and (problem := check_source(bindir)):
        print(f"refusing to write results: {problem}", file=sys.stderr)
        return 2
    columns = ["gitmodel"] + ([] if args.no_whole else ["whole"])
    lfs = "lfs" in args.peers and shutil.which("git-lfs") is not None
    dvc = find_dvc(args.dvc or (PEER_DVC if os.path.exists(PEER_DVC) else None)) \
        if "dvc" in args.peers else None
    if "lfs" in args.peers:
        if lfs:
            columns.append("lfs")
        else:
            report.notes.append("git-lfs not installed: its column is skipped")
    if "dvc" in args.peers:
        if dvc:
            columns.append("dvc")
        else:
            report.notes.append("dvc not found (--dvc PATH): its column is skipped")
    if blake3 is None:
        report.notes.append("blake3 missing: the series came from random.Random (slower)")
    tmp = Path(tempfile.mkdtemp(prefix="gitmodel-bench-chunks-", dir=args.tmpdir))
    try:
        env = Env(tmp, dvc, lfs)
        report.machine = machine(env, tmp)
        report.machine["load average at the start"] = load
        described = machine_line(tmp)
        bench = Bench(env, report, args, columns)
        bench.run()
        report.machine["load average at the end"] = load_average()
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            rmtree(tmp)
    series = bench.series(args.size)
    judge(report, series.unique_bytes())
    print(table(report, [r for r in report.rows if not r.key.startswith("curve")]))
    if args.curve:
        print()
        print(table(report, [r for r in report.rows if r.key.startswith("curve")]))
    print("S3 pull (1 x 512 MiB, 200 x 1 MiB vs raw s3fs): python benchmarks/bench_remote.py "
          "(RESULTS-remote.md)")
    for note in report.notes:
        print(f"note: {note}")
    for failure in report.failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    # `--write` is an alias: the header names the canonical flag the freshness test looks for
    shown = ["--write-results" if a == "--write" else a for a in argv]
    fields = header_fields(shown, load, described)
    if args.out:
        args.out.write_text(json.dumps({"header": fields, "machine": report.machine,
                                        "args": {k: str(v) for k, v in vars(args).items()},
                                        "unique_bytes": series.unique_bytes(),
                                        "rows": [asdict(r) for r in report.rows],
                                        "notes": report.notes}, indent=1) + "\n")
    if args.write:
        write_results(args.results, format_header(fields), results_markdown(report, args, series))
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
