"""What recording the environment adds to `git model add` (issue 12: <= 30 ms at 300 installed
distributions).

A scratch folder gets a fake virtual environment laid out as `python -m venv` makes one
(``pyvenv.cfg``, ``lib/pythonX.Y/site-packages``) holding --dists distributions, each a
``NAME-VERSION.dist-info`` folder with a METADATA file of a realistic size (a header, then a
description of 1 to --max-description-kib KiB, as long READMEs make them) and a RECORD file, plus
the packages themselves as folders. Each repetition times, from a warm page cache, what `add`
does for the environment: find the target from ``VIRTUAL_ENV`` (:func:`cli_target`), read every
distribution's metadata (:func:`capture`), and keep the listing in a cache folder
(:func:`save_listing`, written once; later rounds find it). Both CPU time (user+sys of this
process, the number that is not moved by other load on the machine) and wall time are reported,
minimum and median.

Run: python benchmarks/bench_lineage.py [--dists 300] [--repeat 20]
     [--max-description-kib 64] [--tmpdir DIR] [--json FILE] [--check]
--check exits 1 when the median CPU time is over the 30 ms target.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gitmodel.lineage.environment import capture, cli_target, save_listing

TARGET_MS = 30.0


def make_venv(root: Path, count: int, max_description_kib: int, seed: int = 12) -> Path:
    rng = random.Random(seed)
    xy = f"{sys.version_info[0]}.{sys.version_info[1]}"
    venv = root / "venv"
    site = venv / "lib" / f"python{xy}" / "site-packages"
    site.mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text(f"home = /usr/bin\ninclude-system-site-packages = false\n"
                                     f"version = {xy}.4\n")
    for i in range(count):
        name = f"package_{i:04d}"
        version = f"{rng.randint(0, 9)}.{rng.randint(0, 40)}.{rng.randint(0, 9)}"
        info = site / f"{name}-{version}.dist-info"
        info.mkdir()
        description = "lorem ipsum dolor sit amet\n" * (
            rng.randint(1, max_description_kib) * 1024 // 27)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: {version}\n"
            f"Summary: package {i}\nRequires-Python: >=3.8\nRequires-Dist: numpy>=1.20\n"
            f"Classifier: Programming Language :: Python :: 3\n\n{description}")
        (info / "RECORD").write_text("".join(f"{name}/m{j}.py,sha256=x,10\n" for j in range(20)))
        (info / "WHEEL").write_text("Wheel-Version: 1.0\n")
        (site / name).mkdir()
    return venv


def measure(venv: Path, cache: Path, repeat: int) -> tuple[list[float], list[float], int]:
    cpu, wall = [], []
    found = 0
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        target = cli_target({"VIRTUAL_ENV": str(venv)})
        result = capture(target)
        save_listing(cache, result)
        cpu.append((time.process_time() - c0) * 1e3)
        wall.append((time.perf_counter() - w0) * 1e3)
        found = result.environment.distributions
    return cpu, wall, found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dists", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--max-description-kib", type=int, default=64)
    parser.add_argument("--tmpdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 when the median CPU time is over {TARGET_MS:g} ms")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-lineage-", dir=args.tmpdir) as tmp:
        venv = make_venv(Path(tmp), args.dists, args.max_description_kib)
        measure(venv, Path(tmp) / "cache", 2)  # warm the page cache and write the listing
        cpu, wall, found = measure(venv, Path(tmp) / "cache", args.repeat)
    if found != args.dists:
        print(f"FAILED: captured {found} distributions of {args.dists}", file=sys.stderr)
        return 1
    rows = {"cpu_ms": cpu, "wall_ms": wall}
    print(f"environment capture, {args.dists} distributions, {args.repeat} rounds "
          f"(load {os.getloadavg()[0]:.2f}):")
    print("| measure | min | median | target |")
    print("| --- | --- | --- | --- |")
    for label, samples in rows.items():
        print(f"| {label} | {min(samples):.2f} | {statistics.median(samples):.2f} | "
              f"<= {TARGET_MS:g} |")
    if args.json is not None:
        args.json.write_text(json.dumps({"dists": args.dists, **rows}, indent=2) + "\n")
    if args.check and statistics.median(cpu) > TARGET_MS:
        print(f"over target: median CPU {statistics.median(cpu):.2f} ms", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
