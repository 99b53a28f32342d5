#!/usr/bin/env python3
"""Reproducible benchmarks for gitmodel, beside Git LFS and DVC when they are installed.

Standard library only. Every scratch repo lives in a temp dir with its own HOME and git config
(GIT_CONFIG_NOSYSTEM=1, a fixed identity), so the user's configuration is never read or touched.

    python benchmarks/bench.py [--size-mib 512] [--models 30 100 300] [--repeat 5]
                               [--only NAME...] [--json out.json] [--write-results]

Every result is checked, not only timed: each add's record (gitmodel's model file, the LFS
pointer, the .dvc file) must name the artifact's digest and size, every restored artifact must
hash to the version checked out, and every status must report the state the repo is in. A check
that fails marks its row FAILED and makes the run exit 1. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (
    HERE,
    MIB,
    Env,
    check_source,
    corrupt,
    find_dvc,
    format_header,
    header_fields,
    load_average,
    machine,
    machine_line,
    rmtree,
    sha256_of,
    spread,
    write_random,
    write_results,
)

TOOLS = ("gitmodel", "lfs", "dvc")
SECTIONS = ("floor", "add", "switch", "hooks", "commit", "status", "readd", "rss")
RESULTS = HERE / "RESULTS.md"


# -- results ------------------------------------------------------------------------------------

@dataclass
class Row:
    """One measured quantity: samples per tool, their median, and gitmodel's target."""

    key: str
    label: str
    unit: str  # "s", "ms" or "MiB"
    values: dict[str, float | None] = field(default_factory=dict)  # medians
    samples: dict[str, list[float]] = field(default_factory=dict)
    target: str = ""
    limit: float | None = None  # gitmodel's median must be <= limit (same unit) to meet the target
    floor: float | None = None  # the workload's physical floor (same unit), for the ratio
    met: bool | None = None
    failures: list[str] = field(default_factory=list)  # checks of the results that failed
    note: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    machine: dict[str, str] = field(default_factory=dict)
    args: dict[str, object] = field(default_factory=dict)

    def row(self, key: str, label: str, unit: str, target: str = "", limit: float | None = None) -> Row:
        for existing in self.rows:
            if existing.key == key:
                return existing
        new = Row(key, label, unit, target=target, limit=limit)
        self.rows.append(new)
        return new

    def get(self, key: str, tool: str = "gitmodel") -> float | None:
        for r in self.rows:
            if r.key == key:
                return r.values.get(tool)
        return None

    @property
    def failed(self) -> bool:
        return any(r.failures for r in self.rows)


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def drop_dirty() -> None:
    """Flush dirty pages so one timed step does not pay for the writes of the one before."""
    os.sync()



def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as stream:
        while chunk := stream.read(MIB):
            digest.update(chunk)
    return digest.hexdigest()



# -- the benchmarks ------------------------------------------------------------------------------

class Bench:
    def __init__(self, env: Env, report: Report, args: argparse.Namespace, tools: list[str]) -> None:
        self.env = env
        self.report = report
        self.args = args
        self.tools = tools
        self.size = args.size_mib * MIB
        self.source = env.root / f"random-{args.size_mib}MiB.bin"
        self.started = time.time()
        self.placed = 0
        self.digests: dict[Path, tuple[str, str, int]] = {}  # sha256, md5, size

    def log(self, message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    def record(self, row: Row, tool: str, samples: list[float], scale: float = 1.0) -> None:
        scaled = [s * scale for s in samples]
        row.samples[tool] = [round(s, 6) for s in scaled]
        row.values[tool] = median(scaled)

    def fail(self, row: Row, tool: str, problem: str) -> None:
        row.failures.append(f"{tool}: {problem}")
        self.log(f"FAILED {row.label} / {tool}: {problem}")

    def ensure_source(self) -> Path:
        if not self.source.exists():
            self.log(f"writing {self.args.size_mib} MiB of seeded random bytes")
            write_random(self.source, self.size, seed=1)
        return self.source

    def digest(self, path: Path) -> tuple[str, str, int]:
        if path not in self.digests:
            self.digests[path] = (sha256_of(path), md5_of(path), path.stat().st_size)
        return self.digests[path]

    def place(self, repo: Path, name: str, source: Path) -> None:
        (repo / name).unlink(missing_ok=True)
        shutil.copyfile(source, repo / name)
        # an mtime clearly in the past, so no tool takes the file for racily clean, and a
        # different second each time, so no tool takes a new version for the old one
        self.placed += 1
        old = self.started - 100_000 + 2 * self.placed
        os.utime(repo / name, (old, old))
        # written back before the timed step: otherwise the step competes with the writeback of
        # this copy and measures the disk, for every tool alike
        os.sync()

    # -- checks: each returns what is wrong, or None --------------------------------------------
    def check_recorded(self, tool: str, repo: Path, name: str, source: Path) -> str | None:
        """The committed record of ``name`` names ``source``'s digest and size."""
        sha, md5, size = self.digest(source)
        got: list[object]
        want: list[object]
        if tool == "gitmodel":
            shown = self.env.run(["git", "show", f"HEAD:{name}.model.toml"], repo, check=False)
            if shown.returncode != 0:
                return f"{name}.model.toml is not in the commit"
            files = tomllib.loads(shown.stdout.decode()).get("files", [])
            got = [(f.get("path"), f.get("oid"), f.get("size")) for f in files]
            want = [(name, f"sha256:{sha}", size)]
        elif tool == "lfs":
            shown = self.env.run(["git", "show", f"HEAD:{name}"], repo, check=False)
            text = shown.stdout.decode(errors="replace")
            got = [(m.group(1), int(n.group(1))) if (m := re.search(r"^oid sha256:(\w+)$", text, re.M))
                   and (n := re.search(r"^size (\d+)$", text, re.M)) else None]
            want = [(sha, size)]
        else:
            shown = self.env.run(["git", "show", f"HEAD:{name}.dvc"], repo, check=False)
            text = shown.stdout.decode(errors="replace")
            got = [(m.group(1), int(n.group(1))) if (m := re.search(r"md5: (\w+)", text))
                   and (n := re.search(r"size: (\d+)", text)) else None]
            want = [(md5, size)]
        if got != want:
            return f"the commit records {got}, expected {want}"
        return None

    def check_artifact(self, repo: Path, name: str, source: Path) -> str | None:
        """The artifact in the work tree has ``source``'s bytes."""
        path = repo / name
        if not path.is_file():
            return f"{name} is missing"
        got, want = sha256_of(path), self.digest(source)[0]
        if got != want:
            return f"{name} has sha256 {got[:12]}, expected {want[:12]} (the version checked out)"
        return None

    def check_status(self, tool: str, text: str, names: Sequence[str]) -> str | None:
        """The tool's own status reports every one of ``names`` unchanged."""
        if tool == "gitmodel":
            states = {}
            for line in text.splitlines():
                parts = line.split()
                if len(parts) >= 3 and not line.startswith(" "):
                    states[parts[2]] = parts[0]
            bad = {n: states.get(n, "absent") for n in names if states.get(n) != "clean"}
            return f"`git model status` reports {bad}" if bad else None
        if tool == "lfs":
            listed = [n for n in names if n in text]
            return f"`git lfs status` lists {listed} as changed" if listed else None
        if "up to date" not in text:
            return f"`dvc status` says {text.strip()[:200]!r}, not up to date"
        return None

    def check_git_status(self, text: str) -> str | None:
        return f"`git status --porcelain` reports {text.strip()[:200]!r}" if text.strip() else None

    # 1. the physical floor, measured once per run
    def floor(self) -> None:
        source = self.ensure_source()
        mib = self.args.size_mib
        sha_row = self.report.row("floor.sha256", f"floor: one sha256 pass over {mib} MiB", "s")
        cp_row = self.report.row("floor.cp", f"floor: one `cp` of {mib} MiB", "s")
        shas, cps = [], []
        for _ in range(max(self.args.repeat, 5)):
            drop_dirty()
            started = time.perf_counter()
            sha256_of(source)
            shas.append(time.perf_counter() - started)
            target = self.env.root / "cp-target.bin"
            drop_dirty()
            cps.append(self.env.timed([["cp", str(source), str(target)]], self.env.root))
            target.unlink()
        self.record(sha_row, "floor", shas)
        self.record(cp_row, "floor", cps)
        both = self.report.row("floor", f"floor of add and switch: max(sha256, cp) of {mib} MiB", "s")
        both.values["floor"] = max(median(shas), median(cps))
        binding = "sha256 pass" if median(shas) >= median(cps) else "copy"
        both.note = f"the {binding} binds"

    def floor_value(self) -> float | None:
        return self.report.get("floor", "floor")

    # 2. add + commit, 7. re-add unchanged
    def add(self, fsync: bool, readd: bool) -> None:
        source = self.ensure_source()
        floor = self.floor_value()
        key = "add.fsync" if fsync else "add"
        label = f"add+commit {self.args.size_mib} MiB" + (" (fsync on)" if fsync else "")
        target, limit = "≤ floor + 0.25 s", (floor + 0.25 if floor is not None else None)
        if fsync:
            target, limit = "(informational)", None
        row = self.report.row(key, label, "s", target, limit)
        row.floor = floor
        tools = ["gitmodel"] if fsync else self.tools
        readd_row = self.report.row("readd", f"re-add unchanged {self.args.size_mib} MiB", "s",
                                    "≤ status of that repo")
        readd_status = self.report.row("readd.status", "status of that repo (1 model)", "s")
        for tool in tools:
            samples, again, stat = [], [], []
            for i in range(self.args.repeat):
                repo = self.env.new_repo(tool, "add")
                if fsync:
                    self.env.run(["git", "config", "model.fsync", "true"], repo)
                self.place(repo, "model.bin", source)
                drop_dirty()
                samples.append(self.env.timed(self.env.add_cmds(tool, "model.bin", f"add {i}"), repo))
                if problem := self.check_recorded(tool, repo, "model.bin", source):
                    self.fail(row, tool, problem)
                    break
                if readd:
                    drop_dirty()
                    again.append(self.env.timed([self.readd_cmd(tool)], repo))
                    if problem := self.check_recorded(tool, repo, "model.bin", source):
                        self.fail(readd_row, tool, problem)
                    started = time.perf_counter()
                    out = self.env.run(self.status_cmd(tool), repo)
                    stat.append(time.perf_counter() - started)
                    if problem := self.check_status(tool, out.stdout.decode(), ["model.bin"]):
                        self.fail(readd_status, tool, problem)
                rmtree(repo)
            self.log(f"add {tool}{' fsync' if fsync else ''}: {median(samples):.3f} s")
            self.record(row, tool, samples)
            if readd and again:
                self.record(readd_row, tool, again)
                self.record(readd_status, tool, stat)
        if readd:
            status_cost = readd_status.values.get("gitmodel")
            readd_row.limit = status_cost + 0.01 if status_cost is not None else None
            readd_row.note = "limit checked: ≤ status + 10 ms (noise)"

    def readd_cmd(self, tool: str) -> list[str]:
        if tool == "gitmodel":
            return ["git", "model", "add", "model.bin"]
        if tool == "lfs":
            return ["git", "add", "model.bin"]
        assert self.env.dvc
        return [self.env.dvc, "add", "-q", "model.bin"]

    def status_cmd(self, tool: str) -> list[str]:
        if tool == "gitmodel":
            return ["git", "model", "status"]
        if tool == "lfs":
            return ["git", "lfs", "status"]
        assert self.env.dvc
        return [self.env.dvc, "status"]

    # 3. version switch
    def switch(self) -> None:
        source = self.ensure_source()
        second = self.env.root / f"random2-{self.args.size_mib}MiB.bin"
        if not second.exists():
            write_random(second, self.size, seed=2)
        row = self.report.row("switch", f"version switch, {self.args.size_mib} MiB", "s",
                              "≤ 0.45 s", 0.45)
        row.floor = self.floor_value()
        next_row = self.report.row("switch.status", "next `git status`", "ms", "milliseconds (≤ 20 ms)",
                                   20.0)
        own_row = self.report.row("switch.ownstatus", "next `git model|lfs|dvc status`", "ms")
        link_row = self.report.row("switch.hardlink", "version switch, `model.link hardlink`", "s",
                                   "(informational)")
        for tool in self.tools:
            repo = self.env.new_repo(tool, "switch")
            self.place(repo, "model.bin", source)
            for cmd in self.env.add_cmds(tool, "model.bin", "v1"):
                self.env.run(cmd, repo)
            v1 = self.env.run(["git", "rev-parse", "HEAD"], repo).stdout.decode().strip()
            self.place(repo, "model.bin", second)
            for cmd in self.env.add_cmds(tool, "model.bin", "v2"):
                self.env.run(cmd, repo)
            v2 = self.env.run(["git", "rev-parse", "HEAD"], repo).stdout.decode().strip()
            versions = {v1: source, v2: second}
            ok = self.switch_samples(tool, repo, versions, row, next_row, own_row)
            if ok and tool == "gitmodel":
                self.env.run(["git", "config", "model.link", "hardlink"], repo)
                for rev in (v1, v2):  # the artifact now in place is a copy; link it once
                    self.env.run(["git", "checkout", "-q", rev], repo)
                self.switch_samples(tool, repo, versions, link_row, None, None)
            rmtree(repo)

    def switch_samples(self, tool: str, repo: Path, versions: dict[str, Path], row: Row,
                       next_row: Row | None, own_row: Row | None) -> bool:
        """Switch back and forth --repeat times, checking every restore; False on a failure."""
        switches, statuses, owns = [], [], []
        ok = True
        for _ in range(self.args.repeat):
            for rev, expected in versions.items():
                cmds = [["git", "checkout", "-q", rev]]
                if tool == "dvc":
                    assert self.env.dvc
                    cmds.append([self.env.dvc, "checkout", "-q"])
                drop_dirty()
                switches.append(self.env.timed(cmds, repo))
                if self.args.corrupt_restore:
                    corrupt(repo / "model.bin")
                started = time.perf_counter()
                porcelain = self.env.run(["git", "status", "--porcelain"], repo)
                statuses.append(time.perf_counter() - started)
                started = time.perf_counter()
                own = self.env.run(self.status_cmd(tool), repo)
                owns.append(time.perf_counter() - started)
                problem = self.check_artifact(repo, "model.bin", expected)
                if problem:
                    self.fail(row, tool, f"after `git checkout {rev[:8]}`: {problem}")
                    ok = False
                    break
                if next_row is not None and (problem := self.check_git_status(
                        porcelain.stdout.decode(errors="replace"))):
                    self.fail(next_row, tool, problem)
                if own_row is not None and (problem := self.check_status(
                        tool, own.stdout.decode(errors="replace"), ["model.bin"])):
                    self.fail(own_row, tool, problem)
            if not ok:
                break
        self.log(f"switch {tool}: {median(switches):.3f} s, git status "
                 f"{median(statuses) * 1000:.1f} ms")
        self.record(row, tool, switches)
        if next_row is not None:
            self.record(next_row, tool, statuses, 1000)
        if own_row is not None:
            self.record(own_row, tool, owns, 1000)
        return ok
    # 4. hook overhead on a checkout that moves no model file, 5. on a commit of code
    def hook_repo(self, tool: str, kind: str) -> tuple[Path, Path, Path]:
        repo = self.env.new_repo(tool, kind)
        small = self.env.root / "small-model.bin"
        if not small.exists():
            write_random(small, MIB, seed=3)
        self.place(repo, "model.bin", small)
        for cmd in self.env.add_cmds(tool, "model.bin", "model"):
            self.env.run(cmd, repo)
        if tool == "dvc":
            assert self.env.dvc
            self.env.run([self.env.dvc, "install"], repo)
        hooks = repo / ".git" / "hooks"
        off = repo / ".git" / "hooks.off"
        return repo, hooks, off

    def hook_overhead(self, row: Row, base: Row, tool: str, with_hooks: list[float],
                      without: list[float]) -> None:
        """The median with hooks minus the median without; the spread is each run with hooks
        minus that same median without."""
        floor = median(without)
        row.samples[tool] = [round((s - floor) * 1000, 3) for s in with_hooks]
        row.values[tool] = (median(with_hooks) - floor) * 1000
        self.record(base, tool, without, 1000)

    def hooks(self) -> None:
        n = self.args.hook_repeat
        row = self.report.row("hooks.checkout", "hooks: added to a checkout moving no model", "ms",
                              "≤ 15 ms", 15.0)
        base = self.report.row("hooks.checkout.base", "  checkout without hooks", "ms")
        for tool in self.tools:
            repo, hooks, off = self.hook_repo(tool, "hooks")
            self.env.run(["git", "checkout", "-q", "-b", "other"], repo)
            (repo / "train.py").write_text("print('train, other')\n")
            self.env.run(["git", "commit", "-q", "-am", "other"], repo)
            with_hooks: list[float] = []
            without: list[float] = []
            for i in range(n):
                # interleaved so drift in the machine's speed hits both alike
                for enabled, samples in ((True, with_hooks), (False, without)):
                    if not enabled:
                        hooks.rename(off)
                    branch = "main" if i % 2 == 0 else "other"
                    samples.append(self.env.timed([["git", "checkout", "-q", branch]], repo))
                    self.env.run(["git", "checkout", "-q", "other" if branch == "main" else "main"],
                                 repo)
                    if not enabled:
                        off.rename(hooks)
            self.hook_overhead(row, base, tool, with_hooks, without)
            if problem := self.check_artifact(repo, "model.bin", self.env.root / "small-model.bin"):
                self.fail(row, tool, problem)
            self.log(f"hooks checkout {tool}: +{row.values[tool]:.1f} ms")
            rmtree(repo)

    def commit(self) -> None:
        n = self.args.hook_repeat
        row = self.report.row("hooks.commit", "hooks: added to a commit of code only", "ms",
                              "≤ 60 ms", 60.0)
        base = self.report.row("hooks.commit.base", "  commit without hooks", "ms")
        for tool in self.tools:
            repo, hooks, off = self.hook_repo(tool, "commit")
            with_hooks: list[float] = []
            without: list[float] = []
            counter = 0
            for _ in range(n):
                for enabled, samples in ((True, with_hooks), (False, without)):
                    counter += 1
                    (repo / "train.py").write_text(f"print('train {counter}')\n")
                    self.env.run(["git", "add", "train.py"], repo)
                    if not enabled:
                        hooks.rename(off)
                    samples.append(self.env.timed([["git", "commit", "-q", "-m", f"c{counter}"]], repo))
                    if not enabled:
                        off.rename(hooks)
            self.hook_overhead(row, base, tool, with_hooks, without)
            if problem := self.check_artifact(repo, "model.bin", self.env.root / "small-model.bin"):
                self.fail(row, tool, problem)
            self.log(f"hooks commit {tool}: +{row.values[tool]:.1f} ms")
            rmtree(repo)

    # 6. status of N unchanged models, at several N
    def status(self) -> None:
        for n in self.args.models:
            self.status_at(n)

    def status_at(self, n: int) -> None:
        limit = 0.25 if n <= 300 else None
        row = self.report.row(f"status.{n}", f"status, {n} unchanged models", "s",
                              "≤ 0.25 s at ≤ 300" if limit else "", limit)
        add_row = self.report.row(f"status.add.{n}", f"add {n} small models in one call (setup)",
                                  "s")
        for tool in self.tools:
            repo = self.env.new_repo(tool, "status")
            models = repo / "models"
            models.mkdir()
            rng = random.Random(4)
            old = time.time() - 10
            names = []
            for i in range(n):
                path = models / f"m{i:04d}.bin"
                path.write_bytes(rng.randbytes(4096))
                os.utime(path, (old, old))
                names.append(f"models/{path.name}")
            if tool == "gitmodel":
                cmds = [["git", "model", "add", *names], ["git", "commit", "-q", "-m", "models"]]
            elif tool == "lfs":
                cmds = [["git", "add", "models"], ["git", "commit", "-q", "-m", "models"]]
            else:
                assert self.env.dvc
                cmds = [[self.env.dvc, "add", "-q", *names], ["git", "add", "-A"],
                        ["git", "commit", "-q", "-m", "models"]]
            self.record(add_row, tool, [self.env.timed(cmds, repo)])
            self.env.run(self.status_cmd(tool), repo)  # warm
            samples = []
            for _ in range(max(self.args.repeat, 5)):
                started = time.perf_counter()
                out = self.env.run(self.status_cmd(tool), repo)
                samples.append(time.perf_counter() - started)
                if problem := self.check_status(tool, out.stdout.decode(errors="replace"), names):
                    self.fail(row, tool, problem)
                    break
            self.log(f"status {n} {tool}: {median(samples):.3f} s")
            self.record(row, tool, samples)
            rmtree(repo)

    # 7. peak RSS of adding a large file
    def rss(self) -> None:
        size_mib = self.args.rss_mib
        row = self.report.row("rss", f"peak RSS of add, {size_mib} MiB", "MiB", "well under 100 MiB",
                              100.0)
        big = self.env.root / f"random-{size_mib}MiB.bin"
        if size_mib == self.args.size_mib:
            big = self.ensure_source()
        elif not big.exists():
            self.log(f"writing {size_mib} MiB for the RSS run")
            write_random(big, size_mib * MIB, seed=5)
        for tool in self.tools:
            samples = []
            for i in range(min(self.args.repeat, 3)):
                repo = self.env.new_repo(tool, "rss")
                self.place(repo, "model.bin", big)
                cmds = self.env.add_cmds(tool, "model.bin", "rss")
                probe = ("import resource, subprocess, sys\n"
                         "code = subprocess.run(sys.argv[1:]).returncode\n"
                         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
                         "sys.exit(code)\n")
                out = self.env.run([sys.executable, "-c", probe, *cmds[0]], repo)
                samples.append(int(out.stdout.decode().split()[-1]) / 1024)
                for cmd in cmds[1:]:
                    self.env.run(cmd, repo)
                if i == 0 and (problem := self.check_recorded(tool, repo, "model.bin", big)):
                    self.fail(row, tool, problem)
                rmtree(repo)
            self.record(row, tool, samples)
            self.log(f"rss {tool}: {median(samples):.1f} MiB")
        if big != self.source:
            big.unlink()


# -- output -------------------------------------------------------------------------------------

COLUMNS = (("gitmodel", "gitmodel"), ("lfs", "git-lfs"), ("dvc", "dvc"), ("floor", "floor"))


def judge(report: Report) -> None:
    for row in report.rows:
        value = row.values.get("gitmodel")
        if row.limit is not None and value is not None:
            row.met = value <= row.limit


def cell(row: Row, tool: str) -> str:
    samples = row.samples.get(tool)
    value = row.values.get(tool)
    if value is None:
        return "-"
    text = spread(samples, row.unit) if samples and len(samples) > 1 else spread([value], row.unit)
    if len(samples or []) == 1:
        text = text.split(" (")[0]
    if row.floor and tool != "floor":
        text += f" = {value / row.floor:.1f}x floor"
    return text


def table(report: Report) -> str:
    used = [(k, h) for k, h in COLUMNS if any(r.values.get(k) is not None for r in report.rows)]
    header_row = ["what", *[h for _, h in used], "target (gitmodel median)", "met"]
    lines = [header_row]
    for row in report.rows:
        if not row.values and not row.failures:
            continue  # a row of a section that did not run
        met = "" if row.met is None else ("yes" if row.met else "NO")
        if row.failures:
            met = "FAILED"
        target = row.target
        if row.limit is not None and ("floor" in target or "status" in target):
            target = f"{target} = {spread([row.limit], row.unit).split(' (')[0]}"
        label = row.label + (f" ({row.note})" if row.note and row.key == "floor" else "")
        lines.append([label, *[cell(row, k) for k, _ in used], target, met])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header_row))]
    out = ["| " + " | ".join(cell_.ljust(widths[i]) for i, cell_ in enumerate(line)) + " |"
           for line in lines]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def results_markdown(report: Report, argv: Sequence[str]) -> str:
    failures = [f for r in report.rows for f in r.failures]
    lines = [
        "# Benchmark results",
        "",
        "Written by the command in the header above (`bench.py --write-results`). Each cell: the "
        "median wall-clock time over the runs, with min-max; a target is met only when "
        "gitmodel's median meets it. Every add's record, every restored artifact and every "
        "status output was checked (README.md, \"What is checked\"); a FAILED row is a result "
        "that was wrong. `results.json` has every sample. The page cache is warm (the files "
        "were just written), and `sync` runs before each timed add and switch.",
        "",
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in report.machine.items()],
        "",
        "## Results",
        "",
        table(report),
        "",
    ]
    notes = [*report.notes, *(f"check failed: {f}" for f in failures)]
    if notes:
        lines += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    return "\n".join(lines)


# -- main ----------------------------------------------------------------------------------------

def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--size-mib", type=int, default=512, help="artifact size for add/switch")
    parser.add_argument("--models", type=int, nargs="+", default=[30, 100, 300],
                        help="model counts for the status growth curve")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions of the slow steps")
    parser.add_argument("--hook-repeat", type=int, default=30,
                        help="repetitions of each hook-overhead checkout/commit")
    parser.add_argument("--rss-mib", type=int, default=2048, help="artifact size for peak RSS")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, metavar="NAME",
                        help=f"run only these sections: {', '.join(SECTIONS)}")
    parser.add_argument("--tools", nargs="+", choices=TOOLS, default=list(TOOLS),
                        help="tools to measure (lfs and dvc are skipped when not installed)")
    parser.add_argument("--dvc", help="path of the dvc executable (default: dvc on PATH)")
    parser.add_argument("--tmpdir", type=Path, help="where scratch repos go (default: system temp)")
    parser.add_argument("--json", type=Path, dest="json_out", help="write all numbers here")
    parser.add_argument("--write-results", action="store_true",
                        help="write benchmarks/RESULTS.md with the machine description")
    parser.add_argument("--results", type=Path, default=RESULTS, help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    # a test of the checks themselves (tests/test_benchmarks.py): damage every restored artifact
    parser.add_argument("--corrupt-restore", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    load = load_average()
    sections = args.only or list(SECTIONS)
    report = Report(args={k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()})
    tools = ["gitmodel"]
    lfs = "lfs" in args.tools and shutil.which("git-lfs") is not None
    dvc = find_dvc(args.dvc) if "dvc" in args.tools else None
    if "lfs" in args.tools:
        if lfs:
            tools.append("lfs")
        else:
            report.notes.append("git-lfs not installed: its columns are skipped "
                                "(apt-get install git-lfs)")
    if "dvc" in args.tools:
        if dvc:
            tools.append("dvc")
        else:
            report.notes.append("dvc not found (give --dvc PATH or put it on PATH): its columns "
                                "are skipped")
    bindir = str(Path(sys.executable).parent)
    if not (Path(bindir) / "git-model").exists():
        print("git-model is not installed beside this Python; run `pip install -e .` first",
              file=sys.stderr)
        return 2
    if args.write_results and (problem := check_source(bindir)):
        print(f"refusing to write results: {problem}", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="gitmodel-bench-", dir=args.tmpdir))
    try:
        env = Env(tmp, dvc, lfs)
        report.machine = machine(env, tmp)
        report.machine["load average at the start"] = load
        described = machine_line(tmp)
        bench = Bench(env, report, args, tools)

        def add() -> None:
            bench.add(fsync=False, readd="readd" in sections)
            bench.add(fsync=True, readd=False)

        def readd() -> None:
            if "add" not in sections:  # else measured within add
                bench.add(fsync=False, readd=True)

        steps: dict[str, Callable[[], None]] = {
            "floor": bench.floor,
            "add": add,
            "readd": readd,
            "switch": bench.switch,
            "hooks": bench.hooks,
            "commit": bench.commit,
            "status": bench.status,
            "rss": bench.rss,
        }
        if {"add", "readd", "switch"} & set(sections) and "floor" not in sections:
            bench.floor()
        for name in SECTIONS:
            if name in sections:
                bench.log(f"== {name}")
                steps[name]()
        report.machine["load average at the end"] = load_average()
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            rmtree(tmp)
    judge(report)
    print(table(report))
    for note in report.notes:
        print(f"note: {note}")
    failures = [f for r in report.rows for f in r.failures]
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    fields = header_fields(argv, load, described)
    head = format_header(fields)
    if args.json_out:
        args.json_out.write_text(json.dumps({"header": fields, "machine": report.machine,
                                             "args": report.args,
                                             "rows": [asdict(r) for r in report.rows],
                                             "notes": report.notes}, indent=1) + "\n")
    if args.write_results:
        write_results(args.results, head, results_markdown(report, argv))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
