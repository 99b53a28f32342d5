"""benchmarks/bench_gc.py runs at small sizes and reports every row it promises; without
--write-results it leaves the published RESULTS-gc.md as it was."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_gc_runs_small(tmp_path: Path) -> None:
    published = ROOT / "benchmarks" / "RESULTS-gc.md"
    before = published.read_bytes() if published.exists() else None
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_gc.py"),
                           "--models", "5", "--commits", "60", "--tags", "10", "--objects", "40",
                           "--repeat", "1", "--no-peers"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [line for line in proc.stdout.splitlines()
            if line.startswith("| ") and not line.startswith(("| what", "| ---"))]
    assert len(rows) == 7, proc.stdout
    assert "(60 objects)" in rows[0]  # one object per commit, every one referenced
    assert "removes 36 of 40" in rows[5]  # all but the 4 checked-out model files
    # remote gc releases the same 36 and lists in a constant few calls, counted
    assert "gc --remote" in rows[6] and "removes 36 of 40" in rows[6], rows[6]
    calls = int(rows[6].split(" listing calls")[0].rsplit(" ", 1)[1])
    assert 1 <= calls <= 8 and rows[6].endswith("| yes |"), rows[6]
    assert (published.read_bytes() if published.exists() else None) == before
