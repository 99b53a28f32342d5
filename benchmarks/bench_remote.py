"""Remote transfer throughput: gitmodel push/fetch against raw s3fs put/get, same loopback server.

    python benchmarks/bench_remote.py [--big-mib 512] [--small 200] [--repeat 2]

Starts moto's S3 server in a separate process on 127.0.0.1 (so the server does not share the
client's GIL), then for a single large object and for many 1 MiB objects measures:

* raw s3fs: ``fs.put_file``/``fs.get_file`` for one object, ``fs.put``/``fs.get`` of the list
  for many (s3fs's own batched concurrency);
* gitmodel: :func:`gitmodel.remote.push_objects` / :func:`fetch_objects` (existence check per
  batch, parallel jobs, and on fetch a sha256 verification before the object enters the cache).

Then a partial fetch of one of two versions, counting the bytes moved and the oids in the cache.
Prints a Markdown table (benchmarks/RESULTS-remote.md holds a run).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gitmodel.remote import Need, fetch_objects, open_remote, push_objects
from gitmodel.store import ObjectStore

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
    block = hashlib.sha256(str(seed).encode()).digest() * (MIB // 32)
    with open(path, "wb") as out:
        left = size
        counter = 0
        while left:
            chunk = hashlib.sha256(f"{seed}-{counter}".encode()).digest() + block[32:]
            out.write(chunk[:min(left, MIB)])
            left -= min(left, MIB)
            counter += 1


def timed(fn: Callable[[], object], repeat: int, reset: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(repeat):
        reset()
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--big-mib", type=int, default=512)
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=8)
    args = parser.parse_args()

    server, endpoint = start_server()
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint})
    import s3fs

    fs = s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True)
    fs.mkdir("bench")
    work = Path(tempfile.mkdtemp(prefix="gitmodel-bench-remote-"))
    rows: list[tuple[str, float, float, int]] = []
    try:
        src = ObjectStore(work / "src")
        cases: dict[str, list[Need]] = {}
        big = work / "big.bin"
        write_random(big, args.big_mib * MIB, 1)
        oid, size = src.put_file(big)
        cases[f"1 x {args.big_mib} MiB"] = [Need(oid, size, "big", "v1")]
        small_dir = work / "small"
        small_dir.mkdir()
        needs = []
        for i in range(args.small):
            path = small_dir / f"{i:04d}.bin"
            write_random(path, MIB, 100 + i)
            oid, size = src.put_file(path)
            needs.append(Need(oid, size, f"s{i}", "v1"))
        cases[f"{args.small} x 1 MiB"] = needs

        for label, case in cases.items():
            total = sum(n.size for n in case)
            local = [src.object_path(n.oid) for n in case]
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

            raw_up = timed(raw_put, args.repeat, clear("raw"))
            gm_up = timed(gm_push, args.repeat, clear("gm"))

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
                fetch_objects(ObjectStore(down / "cache"), remote, case, jobs=args.jobs)

            raw_down = timed(raw_get, args.repeat, clear_down)
            gm_down = timed(gm_fetch, args.repeat, clear_down)
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
    finally:
        server.kill()
        shutil.rmtree(work, ignore_errors=True)

    print("| transfer | raw s3fs | gitmodel | raw MiB/s | gitmodel MiB/s | gitmodel / raw |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, raw, gm, total in rows:
        print(f"| {label} | {raw:.2f} s | {gm:.2f} s | {total / MIB / raw:.0f} | "
              f"{total / MIB / gm:.0f} | {100 * raw / gm:.0f} % |")
    print()
    print(partial_line)


if __name__ == "__main__":
    main()
