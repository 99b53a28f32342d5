"""Tests of the benchmark harness itself and of the published RESULTS files.

The RESULTS rule (benchmarks/README.md, "Freshness"): each RESULTS file is written by its script
with a header naming the commit it measured, and that commit must be an ancestor of HEAD with a
clean tree of the measured files. Fast: the harness runs at 1 MiB, one repetition.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
sys.path.insert(0, str(BENCH))

import harness  # noqa: E402

# which script writes which file
WRITERS = {
    "RESULTS.md": "benchmarks/bench.py",
    "RESULTS-latency.md": "benchmarks/bench_latency.py",
    "RESULTS-registry.md": "benchmarks/bench_registry.py",
    "RESULTS-remote.md": "benchmarks/bench_remote.py",
    "RESULTS-gc.md": "benchmarks/bench_gc.py",
    "RESULTS-fsck.md": "benchmarks/bench_fsck.py",
}


def run_bench(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BENCH / "bench.py"), "--tools", "gitmodel",
                           "--size-mib", "1", "--repeat", "1", "--tmpdir", str(tmp_path), *args],
                          capture_output=True, text=True, check=False, timeout=120)


def switch_row(stdout: str) -> str:
    rows = [line for line in stdout.splitlines() if line.startswith("| version switch, 1 MiB")]
    assert len(rows) == 1, stdout
    return rows[0]


def test_a_corrupted_restore_fails_the_benchmark(tmp_path: Path) -> None:
    proc = run_bench("--only", "switch", "--corrupt-restore", tmp_path=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert switch_row(proc.stdout).rstrip(" |").endswith("FAILED")
    assert "model.bin has sha256" in proc.stderr
    assert "(the version checked out)" in proc.stderr


def test_an_intact_switch_passes_its_checks(tmp_path: Path) -> None:
    # the control for the test above: the same run without the damage passes every check
    proc = run_bench("--only", "switch", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "FAILED" not in proc.stdout + proc.stderr
    assert switch_row(proc.stdout).rstrip(" |").endswith(("yes", "NO"))


def test_add_and_status_checks_pass_on_real_results(tmp_path: Path) -> None:
    # the model file, status-of-one and status-of-N checks read gitmodel's real output
    proc = run_bench("--only", "readd", "status", "--models", "3", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "| status, 3 unchanged models" in proc.stdout
    assert "| re-add unchanged 1 MiB" in proc.stdout


def test_a_header_that_names_no_full_commit_is_refused() -> None:
    good = harness.header(["--repeat", "1"], "0.1 0.1 0.1", "a machine")
    fields = harness.read_header(good + "# body\n")
    assert fields["command"].endswith("--repeat 1")
    short = good.replace(fields["commit"], fields["commit"][:12])
    with pytest.raises(ValueError, match="full commit"):
        harness.read_header(short)
    with pytest.raises(ValueError, match="lacks load"):
        harness.read_header(good.replace("load: 0.1 0.1 0.1\n", ""))
    with pytest.raises(ValueError, match="does not start"):
        harness.read_header("# Benchmark results\n" + good)


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)


def in_git_checkout() -> bool:
    return git("rev-parse", "--is-inside-work-tree").stdout.strip() == "true"


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_results_file_names_its_command_and_a_clean_ancestor_commit(name: str) -> None:
    fields = harness.read_header((BENCH / name).read_text(encoding="utf-8"))
    assert fields["command"].startswith(f"python {WRITERS[name]} "), fields["command"]
    assert "--write-results" in fields["command"].split()
    assert fields["dirty"] == "no", f"{name} was measured with uncommitted edits"
    assert fields["machine"] and fields["date"] and fields["load"]
    if not in_git_checkout():
        pytest.skip("not a git checkout (an unpacked sdist): no history to compare with")
    ancestor = git("merge-base", "--is-ancestor", fields["commit"], "HEAD")
    assert ancestor.returncode == 0, (
        f"{name} names commit {fields['commit'][:12]}, which is not an ancestor of HEAD: "
        f"regenerate it with `{fields['command']}`")


def test_results_json_is_the_run_of_results_md() -> None:
    data = json.loads((BENCH / "results.json").read_text(encoding="utf-8"))
    md = harness.read_header((BENCH / "RESULTS.md").read_text(encoding="utf-8"))
    assert data["header"] == md
    assert all(row["samples"] or row["values"] for row in data["rows"])
