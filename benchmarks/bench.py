#!/usr/bin/env python3
"""Reproducible benchmarks for gitmodel, beside Git LFS and DVC when they are installed.

Standard library only. Every scratch repo lives in a temp dir with its own HOME and git config
(GIT_CONFIG_NOSYSTEM=1, a fixed identity), so the user's configuration is never read or touched.

    python benchmarks/bench.py [--size-mib 512] [--models 300] [--repeat 3] [--only NAME...]
                               [--json out.json] [--write-results]

See benchmarks/README.md for what each row means.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

MIB = 1 << 20
CHUNK = 4 * MIB
TOOLS = ("gitmodel", "lfs", "dvc")
SECTIONS = ("floor", "add", "switch", "hooks", "commit", "version", "status", "readd", "rss")
HERE = Path(__file__).resolve().parent
OBSERVATIONS = "## Observations (by hand)"


# -- results ------------------------------------------------------------------------------------

@dataclass
class Row:
    """One measured quantity: a median per tool (None when not measured) and gitmodel's target."""

    key: str
    label: str
    unit: str  # "s", "ms" or "MiB"
    values: dict[str, float | None] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)
    target: str = ""
    limit: float | None = None  # gitmodel's value must be <= limit (same unit) to meet the target
    met: bool | None = None
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


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "ms":
        return f"{value:.1f} ms"
    return f"{value:.1f} {unit}"


# -- environment ---------------------------------------------------------------------------------

class Env:
    """An isolated place to build scratch repos and run git, git-lfs, dvc and git-model in."""

    def __init__(self, root: Path, dvc: str | None, lfs: bool) -> None:
        self.root = root
        self.home = root / "home"
        self.home.mkdir(parents=True)
        self.counter = 0
        bindir = str(Path(sys.executable).parent)  # the real git-model, not a pyenv shim
        keep = ("PATH", "LANG", "TERM", "TMPDIR", "USER", "LOGNAME", "SHELL")
        env = {k: v for k, v in os.environ.items() if k in keep}
        env["PATH"] = bindir + os.pathsep + env.get("PATH", os.defpath)
        env.update({
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "Bench Mark",
            "GIT_AUTHOR_EMAIL": "bench@example.invalid",
            "GIT_COMMITTER_NAME": "Bench Mark",
            "GIT_COMMITTER_EMAIL": "bench@example.invalid",
            "GIT_TERMINAL_PROMPT": "0",
            "LC_ALL": "C",
            "DVC_NO_ANALYTICS": "1",
            "DVC_SITE_CACHE_DIR": str(root / "dvc-site-cache"),
            "DVC_GLOBAL_CONFIG_DIR": str(self.home / ".config" / "dvc"),
            "DVC_SYSTEM_CONFIG_DIR": str(root / "dvc-system"),
        })
        if dvc:
            # dvc's hooks run `dvc` from PATH; appended, so its venv's python shadows nothing
            env["PATH"] += os.pathsep + str(Path(dvc).resolve().parent)
        self.env = env
        self.dvc = dvc
        self.lfs = lfs
        for key, value in (("user.name", "Bench Mark"), ("user.email", "bench@example.invalid"),
                           ("init.defaultBranch", "main"), ("advice.detachedHead", "false"),
                           ("gc.auto", "0"), ("commit.gpgsign", "false")):
            self.run(["git", "config", "--global", key, value], self.home)
        if lfs:
            # filters go into the temp HOME's config; hooks are installed per repo below
            self.run(["git", "lfs", "install", "--skip-repo"], self.home)

    def run(self, cmd: Sequence[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(list(cmd), cwd=cwd, env=self.env, stdin=subprocess.DEVNULL,
                              capture_output=True, check=False)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} (in {cwd}) exited {proc.returncode}:\n"
                               f"{proc.stdout.decode(errors='replace')}"
                               f"{proc.stderr.decode(errors='replace')}")
        return proc

    def timed(self, cmds: Sequence[Sequence[str]], cwd: Path) -> float:
        """Wall-clock seconds to run ``cmds`` one after another (each must succeed)."""
        started = time.perf_counter()
        for cmd in cmds:
            self.run(cmd, cwd)
        return time.perf_counter() - started

    def fresh_dir(self, name: str) -> Path:
        self.counter += 1
        path = self.root / f"{self.counter:03d}-{name}"
        path.mkdir()
        return path

    def new_repo(self, tool: str, name: str) -> Path:
        """An empty repo with one commit, set up for ``tool`` (gitmodel, lfs, dvc or plain)."""
        repo = self.fresh_dir(f"{tool}-{name}")
        self.run(["git", "init", "-q"], repo)
        (repo / "train.py").write_text("print('train')\n")
        if tool == "gitmodel":
            self.run(["git", "model", "install"], repo)
        elif tool == "lfs":
            self.run(["git", "lfs", "install", "--local"], repo)
            self.run(["git", "lfs", "track", "*.bin"], repo)
        elif tool == "dvc":
            assert self.dvc
            self.run([self.dvc, "init", "-q"], repo)
            self.run([self.dvc, "config", "core.analytics", "false"], repo)
        self.run(["git", "add", "-A"], repo)
        self.run(["git", "commit", "-q", "-m", "init"], repo)
        return repo

    def add_cmds(self, tool: str, name: str, message: str) -> list[list[str]]:
        """The commands that record artifact ``name`` and commit it."""
        if tool == "gitmodel":
            return [["git", "model", "add", name], ["git", "commit", "-q", "-m", message]]
        if tool == "lfs":
            return [["git", "add", name], ["git", "commit", "-q", "-m", message]]
        assert self.dvc
        return [[self.dvc, "add", "-q", name], ["git", "add", f"{name}.dvc", ".gitignore"],
                ["git", "commit", "-q", "-m", message]]


def write_random(path: Path, size: int, seed: int) -> None:
    """``size`` pseudo-random bytes from ``seed`` (the same bytes on every run)."""
    rng = random.Random(seed)
    with open(path, "wb") as stream:
        left = size
        while left:
            n = min(CHUNK, left)
            stream.write(rng.randbytes(n))
            left -= n


def drop_dirty() -> None:
    """Flush dirty pages so one timed step does not pay for the writes of the one before."""
    os.sync()


def rmtree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def tool_version(env: Env, cmd: Sequence[str]) -> str:
    try:
        out = env.run(cmd, env.home, check=False)
    except OSError:
        return "not found"
    text = (out.stdout or out.stderr).decode(errors="replace").strip().splitlines()
    return text[0] if text else "?"


def fs_type(path: Path) -> str:
    try:
        out = subprocess.run(["df", "--output=fstype", str(path)], capture_output=True, text=True,
                             check=True).stdout.split()
        return out[-1]
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "unknown"


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

    def log(self, message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    def record(self, row: Row, tool: str, samples: list[float], scale: float = 1.0) -> None:
        scaled = [s * scale for s in samples]
        row.samples[tool] = [round(s, 6) for s in scaled]
        row.values[tool] = median(scaled)

    def ensure_source(self) -> Path:
        if not self.source.exists():
            self.log(f"writing {self.args.size_mib} MiB of seeded random bytes")
            write_random(self.source, self.size, seed=1)
        return self.source

    def place(self, repo: Path, name: str, source: Path) -> None:
        (repo / name).unlink(missing_ok=True)
        shutil.copyfile(source, repo / name)
        # an mtime clearly in the past, so no tool takes the file for racily clean, and a
        # different second each time, so no tool takes a new version for the old one
        self.placed += 1
        old = self.started - 100_000 + 2 * self.placed
        os.utime(repo / name, (old, old))
        # written back before the timed step, as the floor's `cp` source is: otherwise the step
        # competes with the writeback of this copy and measures the disk (1.4 s against 0.15 s
        # for the same `cp` here), for every tool alike
        os.sync()

    # 1. floor
    def floor(self) -> None:
        source = self.ensure_source()
        sha_row = self.report.row("floor.sha256", f"floor: python sha256 of {self.args.size_mib} MiB",
                                  "s")
        cp_row = self.report.row("floor.cp", f"floor: cp of {self.args.size_mib} MiB", "s")
        sum_row = self.report.row("floor.sum", "floor for add (sha256 + cp)", "s")
        shas, cps = [], []
        for _ in range(self.args.repeat):
            drop_dirty()
            started = time.perf_counter()
            digest = hashlib.sha256()
            with open(source, "rb") as stream:
                while chunk := stream.read(MIB):
                    digest.update(chunk)
            shas.append(time.perf_counter() - started)
            target = self.env.root / "cp-target.bin"
            drop_dirty()
            cps.append(self.env.timed([["cp", str(source), str(target)]], self.env.root))
            target.unlink()
        self.record(sha_row, "floor", shas)
        self.record(cp_row, "floor", cps)
        sum_row.values["floor"] = median(shas) + median(cps)

    # 2. add + commit, 7. re-add unchanged
    def add(self, fsync: bool, readd: bool) -> None:
        source = self.ensure_source()
        floor = self.report.get("floor.sum", "floor")
        key = "add.fsync" if fsync else "add"
        label = f"add+commit {self.args.size_mib} MiB" + (" (fsync on)" if fsync else "")
        target, limit = "≤ floor + 0.25 s", (floor + 0.25 if floor is not None else None)
        if fsync:
            target, limit = "(informational)", None
        row = self.report.row(key, label, "s", target, limit)
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
                if readd:
                    drop_dirty()
                    again.append(self.env.timed([self.readd_cmd(tool)], repo))
                    stat.append(self.env.timed([self.status_cmd(tool)], repo))
                rmtree(repo)
            self.log(f"add {tool}{' fsync' if fsync else ''}: {median(samples):.3f} s")
            self.record(row, tool, samples)
            if readd:
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
        return [self.env.dvc, "status", "-q"]

    # 3. version switch
    def switch(self) -> None:
        source = self.ensure_source()
        second = self.env.root / f"random2-{self.args.size_mib}MiB.bin"
        if not second.exists():
            write_random(second, self.size, seed=2)
        row = self.report.row("switch", f"version switch, {self.args.size_mib} MiB", "s",
                              "≤ 0.45 s", 0.45)
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
            self.switch_samples(tool, repo, v1, v2, second, row, next_row, own_row)
            if tool == "gitmodel":
                self.env.run(["git", "config", "model.link", "hardlink"], repo)
                for rev in (v1, v2):  # the artifact now in place is a copy; link it once
                    self.env.run(["git", "checkout", "-q", rev], repo)
                self.switch_samples(tool, repo, v1, v2, second, link_row, None, None)
            rmtree(repo)

    def switch_samples(self, tool: str, repo: Path, v1: str, v2: str, second: Path, row: Row,
                       next_row: Row | None, own_row: Row | None) -> None:
        switches, statuses, owns = [], [], []
        for _ in range(self.args.repeat):
            for rev in (v1, v2):
                cmds = [["git", "checkout", "-q", rev]]
                if tool == "dvc":
                    assert self.env.dvc
                    cmds.append([self.env.dvc, "checkout", "-q"])
                drop_dirty()
                switches.append(self.env.timed(cmds, repo))
                statuses.append(self.env.timed([["git", "status", "--porcelain"]], repo))
                owns.append(self.env.timed([self.status_cmd(tool)], repo))
        expected = hashlib.sha256(second.read_bytes()).hexdigest()
        got = hashlib.sha256((repo / "model.bin").read_bytes()).hexdigest()
        if expected != got:
            self.report.notes.append(f"switch/{tool}: the artifact after switching back does not "
                                     "match v2")
        self.log(f"switch {tool}: {median(switches):.3f} s, git status "
                 f"{median(statuses) * 1000:.1f} ms")
        self.record(row, tool, switches)
        if next_row is not None:
            self.record(next_row, tool, statuses, 1000)
        if own_row is not None:
            self.record(own_row, tool, owns, 1000)

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
            diff = (median(with_hooks) - median(without)) * 1000
            row.values[tool] = diff
            row.samples[tool] = [round(s * 1000, 3) for s in with_hooks]
            self.record(base, tool, without, 1000)
            self.log(f"hooks checkout {tool}: +{diff:.1f} ms")
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
            diff = (median(with_hooks) - median(without)) * 1000
            row.values[tool] = diff
            row.samples[tool] = [round(s * 1000, 3) for s in with_hooks]
            self.record(base, tool, without, 1000)
            self.log(f"hooks commit {tool}: +{diff:.1f} ms")
            rmtree(repo)

    # 6. --version, status of N unchanged models
    def version(self) -> None:
        row = self.report.row("version", "`--version`", "s", "≤ 0.12 s", 0.12)
        cmds = {"gitmodel": ["git", "model", "--version"], "lfs": ["git", "lfs", "version"],
                "dvc": [self.env.dvc or "dvc", "--version"]}
        for tool in self.tools:
            self.env.run(cmds[tool], self.env.home)  # warm the page cache
            samples = [self.env.timed([cmds[tool]], self.env.home)
                       for _ in range(max(self.args.repeat, 10))]
            self.record(row, tool, samples)

    def status(self) -> None:
        n = self.args.models
        row = self.report.row("status", f"status, {n} unchanged models", "s", "≤ 0.25 s", 0.25)
        add_row = self.report.row("status.add", f"add {n} small models in one call (setup)", "s")
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
            add_row.values[tool] = self.env.timed(cmds, repo)
            self.env.run(self.status_cmd(tool), repo)  # warm
            samples = [self.env.timed([self.status_cmd(tool)], repo)
                       for _ in range(max(self.args.repeat, 5))]
            self.log(f"status {tool}: {median(samples):.3f} s")
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
            repo = self.env.new_repo(tool, "rss")
            self.place(repo, "model.bin", big)
            cmd = self.env.add_cmds(tool, "model.bin", "rss")[0]
            probe = ("import resource, subprocess, sys\n"
                     "code = subprocess.run(sys.argv[1:]).returncode\n"
                     "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
                     "sys.exit(code)\n")
            out = self.env.run([sys.executable, "-c", probe, *cmd], repo)
            kib = int(out.stdout.decode().split()[-1])
            row.values[tool] = kib / 1024
            self.log(f"rss {tool}: {kib / 1024:.1f} MiB")
            rmtree(repo)
        if big != self.source:
            big.unlink()


# -- output -------------------------------------------------------------------------------------

COLUMNS = (("gitmodel", "gitmodel"), ("lfs", "git-lfs"), ("dvc", "dvc"), ("floor", "floor"))


def judge(report: Report) -> None:
    for row in report.rows:
        value = row.values.get("gitmodel")
        if row.limit is not None and value is not None:
            row.met = value <= row.limit


def table(report: Report) -> str:
    used = [(k, h) for k, h in COLUMNS if any(r.values.get(k) is not None for r in report.rows)]
    header = ["what", *[h for _, h in used], "target (gitmodel)", "met"]
    lines = [header]
    for row in report.rows:
        met = "" if row.met is None else ("yes" if row.met else "NO")
        target = row.target
        if row.limit is not None and ("floor" in target or "status" in target):
            target = f"{target} = {fmt(row.limit, row.unit)}"
        lines.append([row.label, *[fmt(row.values.get(k), row.unit) for k, _ in used], target, met])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = ["| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)) + " |"
           for line in lines]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def machine(env: Env, tmp: Path) -> dict[str, str]:
    git_version = tool_version(env, ["git", "--version"])
    info = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "nproc": str(os.cpu_count()),
        "cpu": _cpu_model(),
        "memory": _memory(),
        "os": platform.platform(),
        "python": f"{platform.python_version()} ({sys.executable})",
        "git": git_version,
        "temp dir": str(tmp),
        "temp dir filesystem": fs_type(tmp),
        "gitmodel": tool_version(env, ["git", "model", "--version"]),
        "gitmodel source": _source_revision(),
        "git-lfs": tool_version(env, ["git", "lfs", "version"]) if env.lfs else "not installed",
        "dvc": tool_version(env, [env.dvc, "--version"]) if env.dvc else "not installed",
    }
    return info


def _source_revision() -> str:
    """The commit of the gitmodel source being measured (an editable install runs the work tree)."""
    import gitmodel  # type: ignore[import-not-found,unused-ignore]

    folder = Path(gitmodel.__file__).resolve().parent
    # read-only: GIT_OPTIONAL_LOCKS=0 keeps `git status` from rewriting that repo's index
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}

    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=folder, env=env, capture_output=True, text=True,
                              check=False)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    head = git("rev-parse", "--short=12", "HEAD") or "unknown commit"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".")
    return f"{folder} at {head}" + (" + uncommitted edits" if dirty else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) // 1024} MiB"
    except OSError:
        pass
    return "unknown"


def results_markdown(report: Report) -> str:
    args = report.args
    lines = [
        "# Benchmark results",
        "",
        "Written by `python benchmarks/bench.py --write-results` "
        f"(`--size-mib {args['size_mib']} --models {args['models']} --repeat {args['repeat']} "
        f"--hook-repeat {args['hook_repeat']} --rss-mib {args['rss_mib']}`). "
        "Wall-clock medians; the page cache is warm (the files were just written), and "
        "`sync` runs before each timed add and switch. What each row means: README.md.",
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
    if report.notes:
        lines += ["## Notes", "", *[f"- {n}" for n in report.notes], ""]
    return "\n".join(lines)


# -- main ----------------------------------------------------------------------------------------

def find_dvc(given: str | None) -> str | None:
    if given:
        return given if Path(given).exists() or shutil.which(given) else None
    return shutil.which("dvc")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--size-mib", type=int, default=512, help="artifact size for add/switch")
    parser.add_argument("--models", type=int, default=300, help="model count for status")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of the slow steps")
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
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
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
    if shutil.which("git-model", path=str(Path(sys.executable).parent)) is None:
        print("git-model is not installed beside this Python; run `pip install -e .` first",
              file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="gitmodel-bench-", dir=args.tmpdir))
    try:
        env = Env(tmp, dvc, lfs)
        report.machine = machine(env, tmp)
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
            "version": bench.version,
            "status": bench.status,
            "rss": bench.rss,
        }
        if ("add" in sections or "readd" in sections) and "floor" not in sections:
            bench.floor()
        for name in SECTIONS:
            if name in sections:
                bench.log(f"== {name}")
                steps[name]()
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            rmtree(tmp)
    judge(report)
    print(table(report))
    for note in report.notes:
        print(f"note: {note}")
    if args.json_out:
        args.json_out.write_text(json.dumps({"machine": report.machine, "args": report.args,
                                             "rows": [asdict(r) for r in report.rows],
                                             "notes": report.notes}, indent=2) + "\n")
    if args.write_results:
        results = HERE / "RESULTS.md"
        kept = ""  # a hand-written section at the end survives a rewrite
        if results.exists():
            old = results.read_text(encoding="utf-8")
            if OBSERVATIONS in old:
                kept = old[old.index(OBSERVATIONS):]
        results.write_text(results_markdown(report) + ("\n" + kept if kept else ""), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
