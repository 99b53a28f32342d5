"""How much a pack rewrite threshold moves and frees: a checkpoint series added to a real chunked
store one version at a time, each add followed by a gc that keeps the newest ``--keep`` versions,
for each threshold of ``[gc] pack-rewrite-dead``. Prints a markdown table: bytes copied by
rewrites, bytes the packs hold at the end against the live bytes, and packs on disk.

    python benchmarks/bench_pack_rewrite.py --size-mib 8 --versions 16 --keep 2
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gitmodel.store import ObjectStore
from gitmodel.store import gc as store_gc
from gitmodel.store.packgc import plan_packs, read_recipes, sweep

LATER = 10_000.0


def series(size: int, versions: int, changed: float, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    data = bytearray(rng.randbytes(size))
    out = []
    tensor = size // 64
    for _ in range(versions):
        for t in rng.sample(range(64), max(1, int(64 * changed))):  # rewrite some tensors
            data[t * tensor:(t + 1) * tensor] = rng.randbytes(tensor)
        out.append(bytes(data))
    return out


def run(datas: list[bytes], keep: int, threshold: float, work: Path) -> dict[str, float]:
    store = ObjectStore(work / f"cache-{threshold}", chunk_threshold=64 << 10)
    oids: list[str] = []
    moved = 0
    started = time.monotonic()
    for data in datas:
        source = work / "src"
        source.write_bytes(data)
        oids.append(store.put_file(source)[0])
        if len(oids) > keep:
            gone = oids[-keep - 1]
            store_gc.remove(store, [(gone, len(data))], [])
            plan = plan_packs(store.root, time.time() + LATER, grace=60, rewrite_dead=threshold)
            moved += sweep(store.root, plan, fsync=False).moved

    seconds = time.monotonic() - started
    packs = list((store.root / "packs").glob("*.pack"))
    on_disk = sum(p.stat().st_size for p in packs)
    recipes, _ = read_recipes(store.root)
    live = {c: length for r in recipes.values() for c, length in r.chunks}
    return {"moved": moved, "on_disk": on_disk, "live": sum(live.values()),
            "packs": len(packs), "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=float, default=8)
    parser.add_argument("--versions", type=int, default=16)
    parser.add_argument("--keep", type=int, default=2)
    parser.add_argument("--changed", type=float, default=6 / 64)
    parser.add_argument("--thresholds", default="0.01,0.25,0.5,0.75,1.0")
    args = parser.parse_args()
    datas = series(int(args.size_mib * (1 << 20)), args.versions, args.changed, 2026)
    print(f"{args.versions} versions of {args.size_mib} MiB, {args.changed:.1%} of tensors "
          f"rewritten each, newest {args.keep} kept, gc after every add\n")
    print("| pack-rewrite-dead | copied by rewrites | packs hold | live | overhead | packs |")
    print("| --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for threshold in (float(t) for t in args.thresholds.split(",")):
            r = run(datas, args.keep, threshold, Path(tmp))
            mib = 1 << 20
            print(f"| {threshold:.0%} | {r['moved'] / mib:.1f} MiB | {r['on_disk'] / mib:.1f} MiB"
                  f" | {r['live'] / mib:.1f} MiB | {r['on_disk'] / r['live']:.2f}x | "
                  f"{r['packs']:.0f} |")



if __name__ == "__main__":
    main()
