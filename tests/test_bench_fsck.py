"""benchmarks/bench_fsck.py at a tiny size: it runs, passes its own checks (an intact cache
passes, a flipped byte is found) and reports both rates in one table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_fsck_runs_small_and_checks_itself(tmp_path: Path) -> None:
    out = tmp_path / "fsck.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_fsck.py"),
                           "--size-mib", "2", "--objects", "2", "--repeat", "1",
                           "--tmpdir", str(tmp_path), "--json", str(out)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "| sha256, one core (this process) |" in proc.stdout
    assert "| `git model fsck` (whole command) |" in proc.stdout
    assert "FAILED" not in proc.stdout
    data = json.loads(out.read_text())
    assert data["bytes"] == 2 << 20 and data["objects"] == 2 and data["failures"] == []
    assert len(data["fsck_s"]) == len(data["sha256_one_core_s"]) == 1
    assert not any(p.name.startswith("gitmodel-bench-fsck-") for p in tmp_path.iterdir())
