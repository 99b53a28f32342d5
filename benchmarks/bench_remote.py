"""Remote costs: S3 throughput against raw s3fs, and the pre-push hook's "nothing new" paths.

    python benchmarks/bench_remote.py [--big-mib 512] [--small 200] [--repeat 3] [--jobs 8]
                                      [--big-layout chunked|whole] [--hook-repeat 15]
                                      [--write-results]

Starts moto's S3 server in a separate process on 127.0.0.1 (so the server does not share the
client's GIL), then for a single large object and for many 1 MiB objects measures:

* raw s3fs: ``fs.put_file``/``fs.get_file`` for one object, ``fs.put``/``fs.get`` of the list
  for many (s3fs's own batched concurrency: every file's coroutine at once);
* gitmodel: :func:`gitmodel.remote.push_objects` / :func:`fetch_objects` (existence check per
  batch, parallel jobs, and on fetch a sha256 verification before the object enters the cache).

Both clients get the same concurrency: a pool of max(10, --jobs) connections (botocore's
default is 10) and --jobs parallel parts for one large whole object (s3fs's max_concurrency);
gitmodel runs --jobs transfers at once. The bytes are incompressible and share nothing, so a
chunked store moves as many bytes as raw s3fs. The large object is stored as a workspace
stores it (``--big-layout chunked``, the default: FastCDC chunks in packs, pulled as byte ranges
of packs) or ``whole`` (one object, as stores from before chunking, or with chunking off, keep
it); the 1 MiB files are below the chunk threshold, so they are whole objects either way.

raw and gitmodel interleaved, --repeat times each (median with min-max), with the CPU seconds
(user+sys) of this process (the client) and of the server process per transfer: on a shared
machine the ratio of the two, measured in the same minutes, says more than seconds do. Then a partial fetch of
one of two versions, counting the bytes moved and the oids in the cache. Then the installed
pre-push hook, run as git runs it (remote name and URL as arguments, the pushed refs on stdin),
for the pushes that have nothing new to upload: a branch whose new commits touch no model file,
a version tag made by `git model tag` (Model-Oid trailers, objects cached and recorded), and a
tag made by hand (no trailers: Python decides); each path is checked (`sh -x` shows whether
Python started), beside a bare Python start. Results: benchmarks/RESULTS-remote.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    HERE,
    Env,
    check_source,
    header,
    load_average,
    machine_line,
    spread,
    write_results,
)

from gitmodel.remote import Need, fetch_objects, open_remote, push_objects
from gitmodel.store import DEFAULT_CHUNK_THRESHOLD, ObjectStore

RESULTS = HERE / "RESULTS-remote.md"
ZERO = "0" * 40

MIB = 1 << 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    code = ("import time; from moto.server import ThreadedMotoServer; "
            f"s = ThreadedMotoServer(ip_address='127.0.0.1', port={port}, verbose=False); "
            "s.start(); time.sleep(10**6)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{url}/moto-api/").read()
            return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("moto server did not start")


def write_random(path: Path, size: int, seed: int) -> None:
    """``size`` incompressible bytes (BLAKE3's output stream for ``seed``): no two MiB alike,
    so content-defined chunking finds nothing to share, within a file or between files."""
    from blake3 import blake3

    stream = blake3(hashlib.sha256(str(seed).encode()).digest())
    with open(path, "wb") as out:
        done = 0
        while done < size:
            step = min(size - done, 4 * MIB)
            out.write(stream.digest(length=step, seek=done))
            done += step


def server_cpu(pid: int) -> float:
    """CPU seconds (user+sys) the server process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client_cpu() -> float:
    times = os.times()
    return times.user + times.system


class Samples:
    """Wall seconds, client CPU seconds and server CPU seconds of each run of one transfer."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.server: list[float] = []


def interleaved(pairs: Sequence[tuple[Callable[[], object], Callable[[], None]]],
                repeat: int, server: int) -> list[Samples]:
    """Samples of each (fn, reset) pair, the pairs taking turns ``repeat`` times."""
    out = [Samples() for _ in pairs]
    for _ in range(repeat):
        for samples, (fn, reset) in zip(out, pairs, strict=True):
            reset()
            cpu, served = client_cpu(), server_cpu(server)
            started = time.perf_counter()
            fn()
            samples.wall.append(time.perf_counter() - started)
            samples.cpu.append(client_cpu() - cpu)
            samples.server.append(server_cpu(server) - served)
    return out


def hook_paths(work: Path, repeat: int) -> tuple[dict[str, list[float]], list[str]]:
    """The installed pre-push hook on pushes with nothing new, each path checked."""
    env = Env(work / "hook-env", None, False)
    origin = env.fresh_dir("origin.git")
    env.run(["git", "init", "-q", "--bare"], origin)
    repo = env.fresh_dir("work")
    run = env.run
    run(["git", "init", "-q"], repo)
    run(["git", "model", "install"], repo)
    run(["git", "model", "remote", "add", "origin", str(work / "store"), "--create", "--default"],
        repo)
    (repo / "train.py").write_text("print('train')\n")
    (repo / "model.bin").write_bytes(os.urandom(1 << 20))
    run(["git", "model", "add", "model.bin"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-q", "-m", "model"], repo)
    run(["git", "remote", "add", "origin", str(origin)], repo)
    run(["git", "model", "tag", "model", "v1.0.0"], repo)
    run(["git", "tag", "-a", "model@v2.0.0", "-m", "made by hand"], repo)
    # the push through the hook uploads the object and records it for the model remote
    run(["git", "push", "-q", "origin", "main", "model@v1.0.0"], repo)
    (repo / "train.py").write_text("print('train 2')\n")
    run(["git", "commit", "-q", "-am", "code only"], repo)

    def rev(ref: str) -> str:
        return run(["git", "rev-parse", ref], repo).stdout.decode().strip()

    cases: dict[str, tuple[str, bool]] = {
        "branch": (f"refs/heads/main {rev('HEAD')} refs/heads/main {rev('origin/main')}", False),
        "tag": (f"refs/tags/model@v1.0.0 {rev('model@v1.0.0')} refs/tags/model@v1.0.0 {ZERO}",
                False),
        "hand tag": (f"refs/tags/model@v2.0.0 {rev('model@v2.0.0')} refs/tags/model@v2.0.0 {ZERO}",
                     True),
    }
    hook = str(repo / ".git" / "hooks" / "pre-push")
    problems = []
    for key, (line, needs_python) in cases.items():
        traced = run(["sh", "-x", hook, "origin", str(origin)], repo, stdin=line.encode() + b"\n")
        started_python = b"gitmodel.hook" in traced.stderr
        if started_python != needs_python:
            problems.append(f"pre-push {key}: Python {'started' if started_python else 'did not start'}"
                            f", expected it {'to' if needs_python else 'not to'}")
    python = str(Path(sys.executable).parent / "python")
    samples: dict[str, list[float]] = {k: [] for k in [*cases, "python"]}
    for _ in range(repeat):
        for key, (line, _) in cases.items():
            started = time.perf_counter()
            run([hook, "origin", str(origin)], repo, stdin=line.encode() + b"\n")
            samples[key].append(time.perf_counter() - started)
        started = time.perf_counter()
        run([python, "-c", "pass"], repo)
        samples["python"].append(time.perf_counter() - started)
    return samples, problems


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser()
    parser.add_argument("--big-mib", type=int, default=512)
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--hook-repeat", type=int, default=15)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--big-layout", choices=["chunked", "whole"], default="chunked",
                        help="how the cache and the remote keep the large object")
    parser.add_argument("--write-results", action="store_true", help=f"rewrite {RESULTS.name}")
    args = parser.parse_args(argv)
    if args.write_results and (problem := check_source(str(Path(sys.executable).parent))):
        sys.exit(f"refusing to write results: {problem}")
    load = load_average()

    server, endpoint = start_server()
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint})
    import s3fs

    # the same pool and the same parallel parts of one object as gitmodel's own s3fs instance
    fs = s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True,
                           max_concurrency=args.jobs,
                           config_kwargs={"max_pool_connections": max(10, args.jobs)})
    fs.mkdir("bench")
    work = Path(tempfile.mkdtemp(prefix="gitmodel-bench-remote-"))
    rows: list[tuple[str, Samples, Samples, int]] = []
    chunked = args.big_layout == "chunked"
    threshold = DEFAULT_CHUNK_THRESHOLD if chunked else None
    try:
        src = ObjectStore(work / "src", chunk_threshold=threshold)
        cases: dict[str, list[Need]] = {}
        sources: dict[str, Path] = {}  # oid -> the file raw s3fs uploads
        big = work / "big.bin"
        write_random(big, args.big_mib * MIB, 1)
        oid, size = src.put_file(big)
        if src.is_chunked(oid) != chunked:
            sys.exit(f"the large object is {'not ' if chunked else ''}chunked in the store")
        sources[oid] = big
        cases[f"1 x {args.big_mib} MiB ({args.big_layout})"] = [Need(oid, size, "big", "v1")]
        small_dir = work / "small"
        small_dir.mkdir()
        needs = []
        for i in range(args.small):
            path = small_dir / f"{i:04d}.bin"
            write_random(path, MIB, 100 + i)
            oid, size = src.put_file(path)
            sources[oid] = path
            needs.append(Need(oid, size, f"s{i}", "v1"))
        cases[f"{args.small} x 1 MiB"] = needs

        for label, case in cases.items():
            total = sum(n.size for n in case)
            local = [sources[n.oid] for n in case]
            raw_keys = [f"bench/raw/{n.oid[7:]}" for n in case]
            down = work / "down"

            def clear(prefix: str) -> Callable[[], None]:
                def reset() -> None:
                    if fs.exists(f"bench/{prefix}"):
                        fs.rm(f"bench/{prefix}", recursive=True)
                return reset

            def raw_put(local: list[Path] = local, keys: list[str] = raw_keys) -> None:
                if len(local) == 1:
                    fs.put_file(str(local[0]), keys[0])
                else:
                    fs.put([str(p) for p in local], keys)

            remote = open_remote("s3://bench/gm", jobs=args.jobs)
            remote.has([case[0].oid])  # open the connection pool, as raw `fs` already has

            def gm_push(case: list[Need] = case, remote: Any = remote) -> None:
                push_objects(src, remote, case, jobs=args.jobs)

            raw_up, gm_up = interleaved([(raw_put, clear("raw")), (gm_push, clear("gm"))],
                                        args.repeat, server.pid)

            def clear_down(down: Path = down) -> None:
                shutil.rmtree(down, ignore_errors=True)
                down.mkdir()

            def raw_get(keys: list[str] = raw_keys, down: Path = down) -> None:
                targets = [str(down / k.rsplit("/", 1)[1]) for k in keys]
                if len(keys) == 1:
                    fs.get_file(keys[0], targets[0])
                else:
                    fs.get(keys, targets)

            def gm_fetch(case: list[Need] = case, down: Path = down, remote: Any = remote) -> None:
                # the store of a workspace: the same chunk threshold as the one pushed from
                fetch_objects(ObjectStore(down / "cache", chunk_threshold=threshold), remote,
                              case, jobs=args.jobs)

            raw_down, gm_down = interleaved([(raw_get, clear_down), (gm_fetch, clear_down)],
                                            args.repeat, server.pid)
            rows.append((f"push {label}", raw_up, gm_up, total))
            rows.append((f"pull {label}", raw_down, gm_down, total))

        # partial fetch: two "versions" on the remote, fetch one, count what moved
        v1, v2 = cases[f"{args.small} x 1 MiB"][:10], cases[f"{args.small} x 1 MiB"][10:30]
        remote = open_remote("s3://bench/partial", jobs=args.jobs)
        push_objects(src, remote, v1 + v2, jobs=args.jobs)
        partial = ObjectStore(work / "partial")
        report = fetch_objects(partial, remote, v1, jobs=args.jobs)
        exact = set(partial.oids()) == {n.oid for n in v1}
        partial_line = (f"partial fetch of one version (10 of 30 objects on the remote): moved "
                        f"{report.bytes / MIB:.0f} MiB = that version's "
                        f"{sum(n.size for n in v1) / MIB:.0f} MiB; cache holds exactly its oids: "
                        f"{exact}")
        hooks, problems = hook_paths(work, args.hook_repeat)
        described = machine_line(work)
    finally:
        server.kill()
        shutil.rmtree(work, ignore_errors=True)

    import botocore  # type: ignore[import-untyped]
    import fsspec
    import moto

    med = statistics.median

    def ms(key: str) -> str:
        return spread([x * 1000 for x in hooks[key]], "ms")
    lines = [
        "# Remote benchmarks",
        "",
        "Written by the command in the header above. Each cell: the median over the runs with "
        "min-max, raw s3fs and gitmodel taking turns. The S3 server is moto's "
        "`ThreadedMotoServer` in its own process on 127.0.0.1; both clients talk to it in the "
        f"same run. gitmodel runs with `--jobs {args.jobs}`; its pull includes the sha256 "
        "verification of every object before it enters the cache, its push the one existence "
        "check of the batch.",
        "",
        f"- machine: {described}",
        f"- s3fs/fsspec {fsspec.__version__}, botocore {botocore.__version__}, "
        f"moto {moto.__version__}",
        f"- load average at the start: {load}; at the end: {load_average()}",
        "",
        "## S3 transfers against raw s3fs",
        "",
        "| transfer | raw s3fs | gitmodel | raw MiB/s | gitmodel MiB/s | gitmodel / raw "
        "(medians) | met (≥ 95 %) | client CPU raw / gitmodel | server CPU raw / gitmodel |",
        "| --- | --- | --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for label, raw, gm, total in rows:
        ratio = med(raw.wall) / med(gm.wall)
        lines.append(f"| {label} | {spread(raw.wall)} | {spread(gm.wall)} | "
                     f"{total / MIB / med(raw.wall):.0f} | {total / MIB / med(gm.wall):.0f} | "
                     f"{100 * ratio:.0f} % | {'yes' if ratio >= 0.95 else 'NO'} | "
                     f"{med(raw.cpu):.2f} / {med(gm.cpu):.2f} s | "
                     f"{med(raw.server):.2f} / {med(gm.server):.2f} s |")
    lines += [
        "",
        partial_line,
        "",
        "## pre-push hook, nothing new to upload",
        "",
        "A 1 MiB model pushed once through the hook to a directory model remote, then the "
        "installed hook run as git runs it for each push below (which path ran is checked "
        "with `sh -x`: whether it started Python).",
        "",
        "| push | time | what runs |",
        "| --- | --- | --- |",
        f"| a branch whose new commits touch no model file | {ms('branch')} "
        "| sh + one `git log` |",
        f"| a version tag from `git model tag`, objects cached and recorded | "
        f"{ms('tag')} | sh + a few git calls, no Python |",
        f"| a version tag made by hand (no Model-Oid trailers) | {ms('hand tag')} "
        "| Python + gitmodel's core, no backend import, no request |",
        f"| for reference: `python -c pass` | {ms('python')} | |",
        "",
    ]
    if problems:
        lines += ["## Checks that failed", "", *[f"- {p}" for p in problems], ""]
    text = "\n".join(lines)
    print(text)
    if args.write_results:
        write_results(RESULTS, header(argv, load, described), text)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
