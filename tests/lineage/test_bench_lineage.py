"""benchmarks/bench_lineage.py stays runnable: a small run captures every fake distribution."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_lineage.py"


def test_bench_lineage_runs_and_captures_every_distribution(tmp_path: Path) -> None:
    out = tmp_path / "numbers.json"
    proc = subprocess.run([sys.executable, str(BENCH), "--dists", "25", "--repeat", "2",
                           "--max-description-kib", "2", "--tmpdir", str(tmp_path),
                           "--json", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "| cpu_ms |" in proc.stdout
    numbers = json.loads(out.read_text())
    assert numbers["dists"] == 25 and len(numbers["cpu_ms"]) == 2
