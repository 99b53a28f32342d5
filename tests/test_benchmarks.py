"""Tests of the benchmark harness itself and of the published RESULTS files.

The RESULTS rule (benchmarks/README.md, "Freshness"): each RESULTS file is written by its script
with a header naming the commit it measured, and that commit must be an ancestor of HEAD with a
clean tree of the measured files. Fast: the harness runs at 1 MiB, one repetition.
"""

from __future__ import annotations

import itertools
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
    "RESULTS-chunks.md": "benchmarks/bench_chunks.py",
}
# written only by the lead's full-size run: may be absent until then, checked once it exists
UNPUBLISHED = {"RESULTS-chunks.md"}


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
    if name in UNPUBLISHED and not (BENCH / name).exists():
        pytest.skip(f"{name} is not published yet")
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


# -- bench_chunks.py: the checkpoint series (issue 11) ------------------------------------------

import bench_chunks  # noqa: E402

SMALL = ["--size", "8", "--checkpoints", "3", "--tensors", "8", "--rewrite", "2", "--repeat", "1",
         "--peers", "--no-cold"]


def run_chunks(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BENCH / "bench_chunks.py"), *SMALL,
                           "--tmpdir", str(tmp_path), *args],
                          capture_output=True, text=True, check=False, timeout=600)


def table_rows(stdout: str) -> dict[str, list[str]]:
    rows = {}
    for line in stdout.splitlines():
        if line.startswith("| ") and not line.startswith(("| what", "|--")):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def test_bench_chunks_runs_small_and_checks_every_row(tmp_path: Path) -> None:
    published = BENCH / "RESULTS-chunks.md"
    before = published.read_bytes() if published.exists() else None
    out, written = tmp_path / "run.json", tmp_path / "RESULTS-chunks.md"
    # `--write`, to a file of the test's: the header names the canonical --write-results
    proc = run_chunks("--out", str(out), "--write", "--results", str(written), tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "FAILED" not in proc.stdout + proc.stderr
    rows = table_rows(proc.stdout)
    for label in ("cache after 3 adds", "remote after pushing all 3",
                  "bytes uploaded pushing v2 after v1", "add+commit of v0",
                  "add+commit of v1…v2 (median)", "version switch v1↔v2, warm",
                  "version switch of an unchunked 8 MiB model",
                  "pull 8 MiB from a directory remote into a fresh clone",
                  "peak RSS of adding v0 (8 MiB), ru_maxrss (mapped file pages count)",
                  "peak anonymous memory of adding a 8 MiB checkpoint (RssAnon of the tree, "
                  "sampled)",
                  "no shared bytes: cache after 3 adds",
                  "no shared bytes: add+commit of v1…v2 (median)"):
        assert label in rows, proc.stdout
        assert rows[label][0] != "-", (label, proc.stdout)  # gitmodel measured it
    assert "not measured" in rows["version switch, cold (page cache dropped)"][0]
    assert "bench_remote.py" in proc.stdout  # the S3 row is referenced, not re-measured
    data = json.loads(out.read_text())
    series = bench_chunks.Series(8 << 20, 8, 3, 2)
    assert data["unique_bytes"] == series.unique_bytes()
    by_key = {r["key"]: r for r in data["rows"]}
    # the whole-file column stores every version whole: chunk-threshold "off" was honoured
    whole_cache = by_key["series.cache"]["samples"]["whole"][0]
    assert whole_cache >= 3 * 8, whole_cache
    # an upload of v2 after v1 is at least v2's new bytes, whatever the store
    for column, (uploaded,) in by_key["series.upload"]["samples"].items():
        assert uploaded * (1 << 20) >= series.new_bytes(2) * 0.99, column
    assert (published.read_bytes() if published.exists() else None) == before
    text = written.read_text(encoding="utf-8")
    fields = harness.read_header(text)
    assert fields["command"].startswith("python benchmarks/bench_chunks.py ")
    assert "--write-results" in fields["command"].split()
    assert "| cache after 3 adds " in text and "RESULTS-remote.md" in text


def test_bench_chunks_fails_on_a_corrupted_switch(tmp_path: Path) -> None:
    proc = run_chunks("--corrupt-restore", "--no-whole", tmp_path=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    row = table_rows(proc.stdout)["version switch v1↔v2, warm"]
    assert row[-1] == "FAILED", proc.stdout
    assert "has sha256" in proc.stderr and "(v1)" in proc.stderr


def test_the_series_is_safetensors_sharing_exactly_the_unrewritten_tensors(
        tmp_path: Path) -> None:
    series = bench_chunks.Series(1 << 20, 8, 3, 2, seed=5)
    points = bench_chunks.Checkpoints(series, started=0.0)
    files = []
    for v in range(3):
        path = tmp_path / f"v{v}.safetensors"
        points.write(v, path)
        files.append(path.read_bytes())
    again = tmp_path / "again"
    points.write(2, again)
    assert again.read_bytes() == files[2]  # the seed decides every byte
    tensors = []
    for data in files:
        assert len(data) == series.size
        length = int.from_bytes(data[:8], "little")
        header = json.loads(data[8:8 + length])
        assert header.pop("__metadata__")["format"] == "pt"
        body = data[8 + length:]
        spans = sorted(h["data_offsets"] for h in header.values())
        assert spans[0][0] == 0 and spans[-1][1] == len(body)
        assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
        assert all(h["dtype"] == "F32" and h["shape"] == [(e - s) // 4]
                   for h in header.values() for s, e in [h["data_offsets"]])
        tensors.append({name: body[s:e] for name, h in header.items()
                        for s, e in [h["data_offsets"]]})
    for v in (1, 2):
        changed = {n for n in tensors[v] if tensors[v][n] != tensors[v - 1][n]}
        assert changed == {f"layers.{i:03d}.weight" for i in series.rewritten(v)}
        assert len(changed) == 2
    fresh = bench_chunks.Series(1 << 20, 8, 3, 2, seed=5, shared=False)
    assert fresh.rewritten(1) == list(range(8))
    assert fresh.unique_bytes() == 3 * series.size
    assert series.unique_bytes() == series.size + series.new_bytes(1) + series.new_bytes(2)
