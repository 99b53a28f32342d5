"""Storage lifecycle speed (issue 10): what is referenced, `du`, and local `gc`, beside
`git lfs prune` and `dvc gc` on comparable repos.

Builds repos with ``git fast-import`` (no hooks, no hashing of real bytes):

    reference repo: --models model files changed round-robin over --commits commits, a version
        tag (annotated, with gitmodel's trailers) on every commits/tags-th commit, a prod stage
        per model, and a side branch merged back every 500 commits:
        gitmodel.retention.referenced()            target <= 5 s at 300 x 10,000 x 1,000
        gitmodel.retention.needed_locally()        (default rules)
    cache repo: --objects objects of 4 KiB in a real cache (and a directory remote), named by
        model files over --objects/4 commits:
        git model du                               target <= 1 s at 1,000 objects
        git model gc --grace 0 --keep-days 0 --keep-versions 0   (removes 3/4 of them)
        remote gc of its directory remote, release-untagged-after = 1d (all but the tips),
            timed in-process, its backend's listing calls counted (target: a constant few)
        git lfs prune / dvc gc on the same objects as LFS pointers / .dvc files, and
            dvc gc --cloud on a DVC directory remote holding them, when installed

Run: python benchmarks/bench_gc.py [--models 300] [--commits 10000] [--tags 1000]
     [--objects 1000] [--repeat 3] [--dvc PATH] [--no-peers] [--write-results]
Results: benchmarks/RESULTS-gc.md (only with --write-results).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (
    HERE,
    PROJECT,
    bench_parser,
    find_dvc,
    header,
    load_average,
    machine_line,
    scratch,
    spread,
    write_results,
)

RESULTS = HERE / "RESULTS-gc.md"
OBJECT_SIZE = 4096
GIT_LFS = "/usr/bin/git-lfs"
PEER_DVC = "/work/peers/dvc/bin/dvc"


def fake_oid(*parts: object) -> str:
    return hashlib.sha256("-".join(map(str, parts)).encode()).hexdigest()


def model_file(name: str, oid: str, size: int, n: int) -> str:
    return ("format = 1\n"
            f'name = "{name}"\n'
            f'artifact = "{name}.pt"\n'
            f'description = "change {n}"\n'
            "[[files]]\n"
            f'path = "{name}.pt"\n'
            f'oid = "sha256:{oid}"\n'
            f"size = {size}\n")


class Stream:
    """A ``git fast-import`` stream, built in memory."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.mark = 0

    def data(self, text: str) -> None:
        raw = text.encode()
        self.parts.append(f"data {len(raw)}\n".encode() + raw + b"\n")

    def commit(self, ref: str, when: int, message: str, files: dict[str, str],
               merge: int | None = None, first: bool = False) -> int:
        self.mark += 1
        self.parts.append(f"commit {ref}\nmark :{self.mark}\n".encode())
        self.parts.append(f"committer Bench <bench@example.com> {when} +0000\n".encode())
        self.data(message)
        if merge is not None:
            self.parts.append(f"merge :{merge}\n".encode())
        if first:
            self.parts.append(b"deleteall\n")
        for path, content in files.items():
            self.parts.append(f"M 100644 inline {path}\n".encode())
            self.data(content)
        return self.mark

    def tag(self, name: str, mark: int, when: int, message: str) -> None:
        self.parts.append(f"tag {name}\nfrom :{mark}\n".encode())
        self.parts.append(f"tagger Bench <bench@example.com> {when} +0000\n".encode())
        self.data(message)

    def bytes(self) -> bytes:
        return b"".join(self.parts)


def git(root: Path, *args: str, input: bytes | None = None) -> str:
    return subprocess.run(["git", *args], cwd=root, input=input, capture_output=True,
                          check=True).stdout.decode()


def build_reference_repo(root: Path, models: int, commits: int, tags: int) -> None:
    """Model files changed round-robin; a tag every commits/tags commits; merges of a side
    branch every 500 commits; commits a minute apart, ending now (so keep-days sees a week)."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    stream = Stream()
    start = int(time.time()) - commits * 60
    every = max(1, commits // max(tags, 1))
    versions: dict[str, int] = {}
    last: dict[str, int] = {}
    for n in range(commits):
        name = f"m{n % models:03d}"
        path = f"models/{name}.pt.model.toml"
        oid = fake_oid(name, n)
        content = model_file(name, oid, 1000 + n, n)
        when = start + n * 60
        if n % 500 == 499:  # a side-branch commit, then a merge into main
            side = stream.commit("refs/heads/side", when, f"side {n}", {path: content})
            mark = stream.commit("refs/heads/main", when, f"merge {n}", {}, merge=side)
        else:
            mark = stream.commit("refs/heads/main", when, f"change {n}", {path: content},
                                 first=n == 0)
            if n == 0:
                stream.parts.append(b"reset refs/heads/side\n" + f"from :{mark}\n".encode())
        last[name] = mark
        if n % every == every - 1 and len(versions) < tags * 2:
            versions[name] = versions.get(name, 0) + 1
            ver = f"v1.{versions[name]}.0"
            stream.tag(f"{name}@{ver}", mark, when,
                       f"Register {name} {ver}\n\nModel-Name: {name}\nModel-Version: {ver}\n"
                       f"Model-File: {path}\nModel-Oid: sha256:{oid}\nModel-Size: {1000 + n}\n")
    when = start + commits * 60
    for name, mark in sorted(last.items()):
        if name in versions:
            when += 1
            stream.tag(f"{name}#prod#1", mark, when,
                       f"Assign {name} to prod\n\nModel-Name: {name}\nModel-Stage: prod\n")
    git(root, "fast-import", "--quiet", input=stream.bytes())
    git(root, "checkout", "-q", "main")


def gm(*args: str) -> list[str]:
    return [sys.executable, "-m", "gitmodel", *args]


def timed(cmd: Sequence[str], root: Path) -> float:
    started = time.perf_counter()
    subprocess.run(list(cmd), cwd=root, check=True, capture_output=True)
    return time.perf_counter() - started


def in_process(fn: str, root: Path, repeat: int, *, cold: bool) -> tuple[list[float], int]:
    """Time gitmodel.retention.FN in a fresh interpreter (what a command pays), ``repeat``
    times; return the seconds and the number of objects it found. ``cold``: without the
    parsed-blob cache an earlier run leaves (a first du or gc in a clone)."""
    code = (
        "import sys, time; from pathlib import Path; from gitmodel import retention\n"
        "t = time.perf_counter()\n"
        + ("r = retention.referenced(Path('.'))\n" if fn == "referenced" else
           "r = retention.needed_locally(Path('.'), retention.Rules(), time.time())\n")
        + "print(time.perf_counter() - t, len(r))\n")
    samples = []
    found = 0
    for _ in range(repeat):
        if cold:
            (root / ".git" / "model" / "model-files.jsonl").unlink(missing_ok=True)
        out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                             text=True, check=True, env={**os.environ,
                                                         "PYTHONPATH": str(PROJECT)})
        seconds, count = out.stdout.split()
        samples.append(float(seconds))
        found = int(count)
    return samples, found


def build_cache_repo(root: Path, remote: Path, objects: int) -> list[tuple[str, bytes]]:
    """A gitmodel repo whose cache holds ``objects`` real 4 KiB objects (also in a directory
    remote), named by 4 model files changed over objects/4 commits."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    blobs = [os.urandom(OBJECT_SIZE) for _ in range(objects)]
    ids = [hashlib.sha256(b).hexdigest() for b in blobs]
    for base in (root / ".git" / "model" / "objects", remote / "objects"):
        for oid, data in zip(ids, blobs, strict=True):
            path = base / oid[:2] / oid[2:]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            os.chmod(path, 0o444)
    stream = Stream()
    start = int(time.time()) - 30 * 86400  # a month ago: only the tips count for keep-days
    for n, oid in enumerate(ids):
        name = f"m{n % 4}"
        stream.commit("refs/heads/main", start + n, f"change {n}",
                      {f"models/{name}.pt.model.toml": model_file(name, oid, OBJECT_SIZE, n)},
                      first=n == 0)
    git(root, "fast-import", "--quiet", input=stream.bytes())
    git(root, "checkout", "-q", "main")
    subprocess.run(gm("install"), cwd=root, check=True, capture_output=True)
    subprocess.run(gm("remote", "add", "origin", str(remote), "--default"), cwd=root, check=True,
                   capture_output=True)
    git(root, "commit", "-q", "-m", "settings", "--no-verify")
    # objects older than the grace period, as a week-old cache would be
    old = time.time() - 7 * 86400
    for path in (root / ".git" / "model" / "objects").glob("*/*"):
        os.utime(path, (old, old))
    return list(zip(ids, blobs, strict=True))


def lfs_repo(root: Path, objects: list[tuple[str, bytes]]) -> Path:
    """The same objects as Git LFS pointers over the same commits, their bytes in .git/lfs."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    stream = Stream()
    start = int(time.time()) - 30 * 86400
    for n, (oid, data) in enumerate(objects):
        pointer = (f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\n"
                   f"size {len(data)}\n")
        files = {f"models/m{n % 4}.pt": pointer}
        if n == 0:
            files[".gitattributes"] = "*.pt filter=lfs diff=lfs merge=lfs -text\n"
        stream.commit("refs/heads/main", start + n, f"change {n}", files, first=n == 0)
        path = root / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    git(root, "fast-import", "--quiet", input=stream.bytes())
    git(root, "lfs", "install", "--local")
    git(root, "-c", "filter.lfs.smudge=git-lfs smudge --skip", "checkout", "-q", "main")
    # as if pushed: prune keeps what it thinks is unpushed
    git(root, "update-ref", "refs/remotes/origin/main", "main")
    git(root, "config", "remote.origin.url", str(root))
    return root


def dvc_repo(root: Path, dvc: str, objects: list[tuple[str, bytes]]) -> Path:
    """The same objects as DVC-tracked files (md5 in .dvc files) over the same commits."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    subprocess.run([dvc, "init", "-q"], cwd=root, check=True, capture_output=True)
    git(root, "commit", "-q", "-m", "dvc init")
    stream = Stream()
    start = int(time.time()) - 30 * 86400
    head = git(root, "rev-parse", "HEAD").strip()
    stream.parts.append(f"reset refs/heads/main\nfrom {head}\n".encode())
    for n, (_oid, data) in enumerate(objects):
        md5 = hashlib.md5(data).hexdigest()
        name = f"m{n % 4}.pt"
        dvcfile = f"outs:\n- md5: {md5}\n  size: {len(data)}\n  hash: md5\n  path: {name}\n"
        stream.commit("refs/heads/main", start + n, f"change {n}", {f"models/{name}.dvc": dvcfile})
        path = root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    git(root, "fast-import", "--quiet", "--force", input=stream.bytes())
    git(root, "reset", "-q", "--hard", "main")
    return root


def cache_count(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file())


def timed_from(folders: Sequence[Path], cmd: Sequence[str], cwd: Path, repeat: int,
               spare_root: Path) -> list[float]:
    """Time ``cmd`` ``repeat`` times, each on fresh copies of ``folders`` (a gc removes what
    the next run must find again): copied aside once, put back before every run."""
    spares = []
    for folder in folders:
        digest = hashlib.sha256(str(folder).encode()).hexdigest()[:12]
        spare = spare_root / f"spare-{folder.name}-{digest}"
        if not spare.exists():
            shutil.copytree(folder, spare)
        spares.append(spare)
    samples = []
    for _ in range(repeat):
        for folder, spare in zip(folders, spares, strict=True):
            shutil.rmtree(folder, ignore_errors=True)
            shutil.copytree(spare, folder)
        samples.append(timed(cmd, cwd))
    return samples


# Remote gc in a fresh interpreter, its backend's listing methods wrapped here (not in gitmodel)
# to count the listing calls it makes; prints "seconds calls removed".
REMOTE_GC = """
import sys, time
from pathlib import Path
from gitmodel.config import Retention
from gitmodel.remote import backends
from gitmodel.remote.gc import remote_gc
calls = [0]
def counting(method):
    def wrapped(*args, **kwargs):
        calls[0] += 1
        return method(*args, **kwargs)
    return wrapped
for cls in {backends.DirectoryRemote, *(getattr(backends, n) for n in dir(backends)
                                        if n.endswith("Remote") and isinstance(getattr(backends, n), type))}:
    for name in ("inventory", "list_records"):
        if name in vars(cls):
            setattr(cls, name, counting(vars(cls)[name]))
t = time.perf_counter()
result = remote_gc(Path("."), "origin", rules=Retention(release_untagged_after=86400.0),
                   confirm=lambda plan: True)
print(time.perf_counter() - t, calls[0], len(result.removed))
"""


def remote_gc_run(root: Path) -> tuple[float, int, int]:
    out = subprocess.run([sys.executable, "-c", REMOTE_GC], cwd=root, capture_output=True,
                         text=True, check=True, env={**os.environ, "PYTHONPATH": str(PROJECT)})
    seconds, calls, removed = out.stdout.split()
    return float(seconds), int(calls), int(removed)


def dvc_remote(repo: Path, dvc: str, remote: Path) -> None:
    """A DVC directory remote holding every cached object, as after `dvc push` of each commit."""
    remote.mkdir(parents=True)
    subprocess.run([dvc, "remote", "add", "-d", "store", str(remote)], cwd=repo, check=True,
                   capture_output=True)
    shutil.copytree(repo / ".dvc" / "cache" / "files", remote / "files")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = bench_parser(__doc__, RESULTS, repeat=3)
    parser.add_argument("--models", type=int, default=300)
    parser.add_argument("--commits", type=int, default=10_000)
    parser.add_argument("--tags", type=int, default=1_000)
    parser.add_argument("--objects", type=int, default=1_000)
    parser.add_argument("--dvc", default=None, help="the dvc executable (default: the peer)")
    parser.add_argument("--no-peers", action="store_true", help="skip git lfs prune and dvc gc")
    opts = parser.parse_args(argv)
    load = load_average()
    tmp = scratch("bench-gc-", opts.write_results)
    rows: list[str] = []
    try:
        ref_root = tmp / "reference"
        build_reference_repo(ref_root, opts.models, opts.commits, opts.tags)
        ntags = len(git(ref_root, "tag", "-l").split())
        git(ref_root, "pack-refs", "--all")
        referenced, nref = in_process("referenced", ref_root, opts.repeat, cold=True)
        warm, _ = in_process("referenced", ref_root, opts.repeat, cold=False)
        needed, nneeded = in_process("needed", ref_root, opts.repeat, cold=False)
        size = f"{opts.models} models, {opts.commits} commits, {ntags} tags"
        rows.append(f"| `retention.referenced()`, {size} ({nref} objects), first run | ≤ 5 s | "
                    f"{spread(referenced)} | "
                    f"{'yes' if statistics.median(referenced) <= 5 else 'NO'} |")
        rows.append(f"| the same, model files already read once | ≤ 5 s | {spread(warm)} | "
                    f"{'yes' if statistics.median(warm) <= 5 else 'NO'} |")
        rows.append(f"| `retention.needed_locally()`, default rules ({nneeded} objects) | | "
                    f"{spread(needed)} | |")
        if not opts.keep:
            shutil.rmtree(ref_root)

        cache_root, remote = tmp / "cache-repo", tmp / "remote"
        objects = build_cache_repo(cache_root, remote, opts.objects)
        du = [timed(gm("du", "--json"), cache_root) for _ in range(opts.repeat)]
        rows.append(f"| `git model du`, {opts.objects}-object cache, directory remote | ≤ 1 s | "
                    f"{spread(du)} | {'yes' if statistics.median(du) <= 1 else 'NO'} |")
        dry = [timed(gm("gc", "--dry-run", "--grace", "0", "--keep-days", "0",
                        "--keep-versions", "0"), cache_root) for _ in range(opts.repeat)]
        rows.append(f"| `git model gc --dry-run` (same cache) | | {spread(dry)} | |")
        store = cache_root / ".git" / "model" / "objects"
        before = cache_count(store)
        runs = timed_from([store], gm("gc", "--grace", "0", "--keep-days", "0",
                                      "--keep-versions", "0"), cache_root, opts.repeat, tmp)
        after = cache_count(store)
        rows.append(f"| `git model gc` (removes {before - after} of {before}) | | "
                    f"{spread(runs)} | |")
        # remote gc: release-untagged-after releases every commit's model but the tips'
        remote_spare = tmp / "remote-spare"
        shutil.copytree(remote, remote_spare)
        remote_runs, calls, removed = [], 0, 0
        for _ in range(opts.repeat):
            shutil.rmtree(remote)
            shutil.copytree(remote_spare, remote)
            seconds, calls, removed = remote_gc_run(cache_root)
            remote_runs.append(seconds)
        per = calls * 1000 / max(opts.objects, 1)
        rows.append(f"| `git model gc --remote`, directory remote, release-untagged-after "
                    f"(removes {removed} of {opts.objects}), in-process; {calls} listing calls, "
                    f"{per:.1f} per 1,000 objects | constant listing calls | "
                    f"{spread(remote_runs)} | {'yes' if calls <= 8 else 'NO'} |")
        if not opts.no_peers and os.path.exists(GIT_LFS):
            lfs = lfs_repo(tmp / "lfs", objects)
            lfs_store = lfs / ".git" / "lfs" / "objects"
            prune = timed_from([lfs_store], ["git", "-c", "lfs.pruneoffsetdays=0",
                                             "-c", "lfs.fetchrecentrefsdays=0",
                                             "-c", "lfs.fetchrecentcommitsdays=0", "lfs",
                                             "prune"], lfs, opts.repeat, tmp)
            rows.append(f"| `git lfs prune` (removes {opts.objects - cache_count(lfs_store)} "
                        f"of {opts.objects}) | | {spread(prune)} | |")
        dvc = find_dvc(opts.dvc or (PEER_DVC if os.path.exists(PEER_DVC) else None))
        if not opts.no_peers and dvc:
            repo = dvc_repo(tmp / "dvc", dvc, objects)
            dvc_store = repo / ".dvc" / "cache"
            gc_times = timed_from([dvc_store], [dvc, "gc", "--workspace", "--force", "-q"],
                                  repo, opts.repeat, tmp)
            rows.append(f"| `dvc gc --workspace` (removes "
                        f"{opts.objects - cache_count(dvc_store)} of {opts.objects}) | | "
                        f"{spread(gc_times)} | |")
            dvc_store_remote = tmp / "dvc-remote"
            dvc_remote(repo, dvc, dvc_store_remote)
            cloud = timed_from([dvc_store, dvc_store_remote / "files"],
                               [dvc, "gc", "--workspace", "--cloud", "--force", "-q"], repo,
                               opts.repeat, tmp)
            rows.append(f"| `dvc gc --workspace --cloud`, directory remote (removes "
                        f"{opts.objects - cache_count(dvc_store_remote / 'files')} of "
                        f"{opts.objects} there) | | {spread(cloud)} | |")
        described = machine_line(tmp)
    finally:
        if opts.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    text = "\n".join([
        "# Storage lifecycle: references, du, gc (issue 10)",
        "",
        f"Median (min-max) of {opts.repeat} runs; each command in a fresh process. Peers "
        "remove by their own rules (git lfs prune: objects not in recent refs or the "
        "checkout; dvc gc --workspace: all but the checkout), on the same objects.",
        "",
        "| what | target | time | met |",
        "| --- | --- | --- | --- |",
        *rows,
        "",
    ])
    print(text)
    if opts.write_results:
        write_results(RESULTS, header(argv, load, described), text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
