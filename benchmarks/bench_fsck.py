"""`git model fsck` of a cache against one core's sha256 rate, measured in the same run (issue 10).

Target: fsck of 4 GiB runs at >= 1.6x one core's sha256 rate on a two-core machine (threads hash
two objects at once; hashlib releases the GIL while it hashes).

A scratch repo (isolated HOME, like every benchmark here) gets --objects artifacts of
--size-mib / --objects MiB each from a seeded PRNG, added and committed; the artifacts are then
deleted so the disk holds one copy (fsck reads the cache, not the work tree). Each repetition
times, interleaved so a burst of load elsewhere hits both alike:

- **sha256, one core**: this process hashes every cache object in turn (1 MiB unbuffered reads
  into one buffer, the cheapest single-threaded loop), the floor of any single-core fsck;
- **git model fsck**: the whole command (process start, the walk of refs and model files, the
  rehash) and, from its --json, the rehash alone (``hash_seconds``).

The page cache is warm for both (the objects were just written, and both read them every round):
the rate is the hashing's, not the disk's. The ratio compares the medians. Every fsck must pass
(exit 0, every object checked, nothing found); at the end one byte of one object is flipped and
fsck must report exactly that object corrupt, or the benchmark fails.

Run: python benchmarks/bench_fsck.py [--size-mib 4096] [--objects 16] [--repeat 3]
     [--jobs N] [--tmpdir DIR] [--json FILE] [--write-results]
Results (with --write-results): benchmarks/RESULTS-fsck.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (
    HERE,
    MIB,
    Env,
    check_source,
    header,
    load_average,
    machine_line,
    rmtree,
    spread,
    write_random,
    write_results,
)

RESULTS = HERE / "RESULTS-fsck.md"
TARGET_RATIO = 1.6


def cache_objects(repo: Path) -> list[Path]:
    objects = repo / ".git" / "model" / "objects"
    return sorted(p for p in objects.rglob("*") if p.is_file())


def sha256_one_core(paths: list[Path]) -> float:
    """Seconds to hash every file of ``paths`` one after another on this thread."""
    buffer = bytearray(4 * MIB)
    view = memoryview(buffer)
    started = time.perf_counter()
    for path in paths:
        digest = hashlib.sha256()
        with open(path, "rb", buffering=0) as stream:
            while n := stream.readinto(view):
                digest.update(view[:n])
        if "sha256:" + digest.hexdigest() != "sha256:" + path.parent.name + path.name:
            raise RuntimeError(f"{path} does not hash to its name: the setup is broken")
    return time.perf_counter() - started


def run_fsck(env: Env, repo: Path, jobs: int | None) -> tuple[float, dict[str, Any]]:
    """Wall-clock seconds of one fsck, and its --json report (with its exit code, stderr and the
    CPU seconds it used: CPU over wall near 2 shows both cores hashing, whatever the load)."""
    import resource

    cmd = ["git", "model", "fsck", "--json", *(["--jobs", str(jobs)] if jobs else [])]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = env.run(cmd, repo, check=False)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        report = {}
    report["_exit"] = proc.returncode
    report["_cpu"] = cpu
    report["_stderr"] = proc.stderr.decode(errors="replace")
    return seconds, report


def build(env: Env, size: int, objects: int) -> Path:
    repo = env.new_repo("gitmodel", "fsck")
    each = max(1, size // objects)
    (repo / "models").mkdir()
    for i in range(objects):
        name = f"models/m{i:03d}.bin"
        write_random(repo / name, each, 1000 + i)
        env.run(["git", "model", "add", name], repo)
        # one copy on disk: fsck reads the cache, and a 4 GiB run need not hold 8 GiB
        (repo / name).unlink()
    env.run(["git", "commit", "-q", "-m", "models"], repo)
    return repo


def flip_one_byte(path: Path) -> None:
    os.chmod(path, 0o644)
    with open(path, "r+b") as stream:
        stream.seek(os.path.getsize(path) // 2)
        byte = stream.read(1)
        stream.seek(-1, os.SEEK_CUR)
        stream.write(bytes([byte[0] ^ 0xFF]))
    os.chmod(path, 0o444)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--size-mib", type=int, default=4096, help="total bytes in the cache")
    p.add_argument("--objects", type=int, default=16, help="how many objects they are split into")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--jobs", type=int, default=None, help="fsck --jobs (default: its own)")
    p.add_argument("--tmpdir", type=Path, default=None)
    p.add_argument("--keep", action="store_true", help="keep the scratch folder")
    p.add_argument("--json", type=Path, help="write every sample here")
    p.add_argument("--write-results", action="store_true", help=f"rewrite {RESULTS.name}")
    args = p.parse_args(argv)
    load = load_average()
    if args.write_results and (problem := check_source(str(Path(sys.executable).parent))):
        p.error(problem)
    size = args.size_mib * MIB
    tmp = Path(tempfile.mkdtemp(prefix="gitmodel-bench-fsck-", dir=args.tmpdir))
    failures: list[str] = []
    try:
        env = Env(tmp, dvc=None, lfs=False)
        print(f"building a cache of {args.objects} objects, {args.size_mib} MiB ...",
              file=sys.stderr)
        repo = build(env, size, args.objects)
        paths = cache_objects(repo)
        total = sum(p.stat().st_size for p in paths)
        if len(paths) != args.objects:
            failures.append(f"the cache holds {len(paths)} objects, not {args.objects}")
        sha_s: list[float] = []
        fsck_s: list[float] = []
        hash_s: list[float] = []
        cpu_s: list[float] = []
        jobs_used = 0
        sha256_one_core(paths)  # warm the page cache and the interpreter
        for _ in range(args.repeat):
            sha_s.append(sha256_one_core(paths))
            seconds, report = run_fsck(env, repo, args.jobs)
            fsck_s.append(seconds)
            cpu_s.append(report["_cpu"] / seconds)
            hash_s.append(float(report.get("hash_seconds", 0.0)))
            jobs_used = int(report.get("jobs", 0))
            if (report["_exit"] != 0 or report.get("cache_objects") != len(paths)
                    or report.get("findings") != []):
                failures.append(f"fsck of an intact cache did not pass: exit {report['_exit']}, "
                                f"{report.get('cache_objects')} objects checked, findings "
                                f"{report.get('findings')} {report['_stderr'].strip()}")
        # the check of the check: a damaged object must be found, and only it
        victim = paths[len(paths) // 2]
        flip_one_byte(victim)
        _, report = run_fsck(env, repo, args.jobs)
        found = [(f["oid"], f["problem"]) for f in report.get("findings", [])]
        expected = [("sha256:" + victim.parent.name + victim.name, "corrupt")]
        if report["_exit"] != 1 or found != expected:
            failures.append(f"fsck of a cache with one flipped byte reported {found} "
                            f"(exit {report['_exit']}), not {expected}")
        described = machine_line(tmp)
    finally:
        if not args.keep:
            rmtree(tmp)

    def rate(seconds: list[float]) -> float:
        return total / statistics.median(seconds) / MIB if seconds and min(seconds) > 0 else 0.0

    one_core, whole, hashing = rate(sha_s), rate(fsck_s), rate(hash_s)
    ratio = whole / one_core if one_core else 0.0
    ratio_hashing = hashing / one_core if one_core else 0.0
    met = "yes" if ratio >= TARGET_RATIO else "NO"
    lines = [
        f"fsck of {args.objects} objects, {total / MIB:.0f} MiB, {args.repeat} repetition(s), "
        f"{os.cpu_count()} cores, fsck hashing threads: {jobs_used}; load average {load} at "
        f"the start, {load_average()} at the end (other work on the machine takes cores from "
        "both rows alike, but from the two-thread row first)",
        "",
        "| what | time: median (min-max) | rate (median) | vs one core |",
        "| --- | --- | --- | --- |",
        f"| sha256, one core (this process) | {spread(sha_s)} | {one_core:.0f} MiB/s | 1.00x |",
        f"| `git model fsck` (whole command) | {spread(fsck_s)} | {whole:.0f} MiB/s | "
        f"{ratio:.2f}x (target >= {TARGET_RATIO}x: {met}); CPU/wall "
        f"{statistics.median(cpu_s) if cpu_s else 0:.2f} |",
        f"| its rehash alone (`hash_seconds`) | {spread(hash_s)} | {hashing:.0f} MiB/s | "
        f"{ratio_hashing:.2f}x |",
    ]
    if failures:
        lines += ["", "FAILED:", *[f"- {f}" for f in failures]]
    body = "\n".join(lines)
    print(body)
    if args.json:
        args.json.write_text(json.dumps({
            "args": vars(args) | {"json": str(args.json), "tmpdir": str(args.tmpdir)},
            "bytes": total, "objects": args.objects, "jobs": jobs_used,
            "sha256_one_core_s": sha_s, "fsck_s": fsck_s, "fsck_hash_s": hash_s,
            "fsck_cpu_per_wall": cpu_s,
            "ratio": ratio, "ratio_hashing": ratio_hashing, "failures": failures,
        }, indent=2) + "\n")
    if args.write_results and not failures:
        write_results(RESULTS, header(argv, load, described),
                      "# fsck: rehash rate against one core's sha256\n\n" + body)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
