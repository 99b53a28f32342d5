"""Everyday latency (issue 7, part 6): the commands a user types all day, beside Git LFS and DVC.

Times, as a user runs them (a fresh process each time, through `git model`):

    git model --version                       target <= 0.05 s  (git lfs version, dvc --version)
    git model -h (Typer builds the whole CLI) (informational)   (git lfs help, dvc -h)
    git model add of one small (4 KiB) file   (informational)   (git add with LFS, dvc add)
    git model status, 1 model                 target <= 0.10 s  (git lfs status, dvc status)
    git model status, N unchanged models      target <= 0.15 s at 300
    git model list, a few models and versions target <= 0.10 s  (git lfs ls-files, dvc list .)
    one TAB of `git model <TAB>` completion   target: instant (<= 0.05 s)
    the hooks when no model changed: importing gitmodel.hook, the post-checkout script of a
    checkout that moves no model file (git lfs's beside it), the Python hook with nothing to do

and counts the git processes each gitmodel command starts (GIT_TRACE). Every row is run
--repeat times, the tools interleaved so that a burst of load elsewhere hits all of them alike;
the table shows the median wall-clock time with min-max, and the JSON every sample with CPU time.

Several gitmodel installs can be compared in one run (for example before and after a change):
--git-model LABEL=DIR, where DIR holds that install's `git-model` and `python`. Their bytecode is
compiled first (`compileall`, what `pip install .` does), so that an editable install under
PYTHONDONTWRITEBYTECODE=1 is not measured compiling itself; --no-compile measures them as they
are. Peers are found on PATH (`git lfs`, `dvc`) or given with --dvc; absent ones are skipped.

Run: python benchmarks/bench_latency.py [--models 300] [--few 3] [--versions 4] [--repeat 20]
     [--git-model before=/tmp/base/.venv/bin] [--dvc /path/to/venv/bin/dvc] [--write-results]
Results: benchmarks/RESULTS-latency.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (
    HERE,
    Env,
    check_source,
    find_dvc,
    header,
    load_average,
    machine,
    machine_line,
    rmtree,
    tool_version,
    write_results,
)

RESULTS = HERE / "RESULTS-latency.md"
GIT_COMPLETION = Path("/usr/share/bash-completion/completions/git")


@dataclass
class Sample:
    wall: float
    cpu: float  # user + system of the process and its children


@dataclass
class Row:
    key: str
    label: str
    target: float | None = None  # seconds, judged on the first gitmodel column
    cells: dict[str, list[Sample]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # git processes, by column


def run_timed(cmd: Sequence[str], cwd: Path, env: dict[str, str]) -> Sample:
    started = time.perf_counter()
    proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} (in {cwd}) exited {proc.returncode}: "
                           f"{err.decode(errors='replace')}")
    return Sample(wall, usage.ru_utime + usage.ru_stime)


class Latency:
    def __init__(self, env: Env, args: argparse.Namespace, variants: dict[str, str]) -> None:
        self.env = env
        self.args = args
        self.variants = variants  # label -> folder holding git-model and python
        self.rows: list[Row] = []
        self.notes: list[str] = []

    def log(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def env_for(self, column: str) -> dict[str, str]:
        env = dict(self.env.env)
        if column in self.variants:
            env["PATH"] = self.variants[column] + os.pathsep + env["PATH"]
        return env

    def measure(self, row: Row, commands: dict[str, tuple[list[str], Path]],
                prepare: Callable[[str, Path], None] | None = None) -> None:
        """Run each column's command --repeat times, interleaved, after one warm-up run;
        ``prepare(column, cwd)`` runs, untimed, before each."""
        for column, (cmd, cwd) in commands.items():
            if prepare:
                prepare(column, cwd)
            run_timed(cmd, cwd, self.env_for(column))
            row.cells[column] = []
        for _ in range(self.args.repeat):
            for column, (cmd, cwd) in commands.items():
                if prepare:
                    prepare(column, cwd)
                row.cells[column].append(run_timed(cmd, cwd, self.env_for(column)))
        self.rows.append(row)
        summary = ", ".join(f"{c} {statistics.median(s.wall for s in row.cells[c]):.3f} s"
                            for c in row.cells)
        self.log(f"{row.label}: {summary}")

    def git_processes(self, row: Row, cmd: list[str], cwd: Path,
                      prepare: Callable[[str, Path], None] | None = None) -> None:
        for column in self.variants:
            if prepare:  # each install gets the same work (a second `add` would be a no-op)
                prepare(column, cwd)
            trace = self.env.root / "trace.log"
            env = {**self.env_for(column), "GIT_TRACE": str(trace)}
            subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, check=True)
            lines = trace.read_text().splitlines()
            trace.unlink()
            row.counts[column] = sum("trace: built-in:" in line for line in lines)

    # -- scratch repos -----------------------------------------------------------------------
    def files(self, repo: Path, n: int, ext: str) -> list[str]:
        models = repo / "models"
        models.mkdir(exist_ok=True)
        rng = random.Random(n)
        old = time.time() - 10  # settled: a stat cache may trust them
        names = []
        for i in range(n):
            path = models / f"m{i:04d}{ext}"
            path.write_bytes(rng.randbytes(4096))
            os.utime(path, (old, old))
            names.append(f"models/{path.name}")
        return names

    def repo(self, tool: str, n: int) -> Path:
        run = self.env.run
        repo = self.env.new_repo(tool, f"{n}")
        if tool == "gitmodel":
            names = self.files(repo, n, ".pt")
            run(["git", "model", "add", *names], repo)
        elif tool == "lfs":
            self.files(repo, n, ".bin")
            run(["git", "add", "models"], repo)
        else:
            assert self.env.dvc
            names = self.files(repo, n, ".bin")
            run([self.env.dvc, "add", "-q", *names], repo)
            run(["git", "add", "-A"], repo)
        run(["git", "commit", "-q", "-m", "models"], repo)
        return repo

    def registry_repo(self) -> Path:
        """--few models with --versions versions each (a commit per version), a stage each."""
        run = self.env.run
        repo = self.repo("gitmodel", self.args.few)
        names = [f"m{i:04d}" for i in range(self.args.few)]
        for v in range(self.args.versions):
            if v:
                (repo / "train.py").write_text(f"print('train {v}')\n")
                run(["git", "commit", "-q", "-a", "-m", f"retrain {v}"], repo)
            for name in names:
                run(["git", "model", "tag", name, f"v1.{v}.0", "-m", f"v1.{v}.0"], repo)
        for name in names:
            run(["git", "model", "assign", name, "v1.0.0", "prod"], repo)
        return repo

    # -- rows --------------------------------------------------------------------------------
    def gitmodel_cmds(self, args: list[str], repo: Path) -> dict[str, tuple[list[str], Path]]:
        return {label: (["git", "model", *args], repo) for label in self.variants}

    def peers(self, lfs: list[str] | None, dvc: list[str] | None, lfs_repo: Path | None,
              dvc_repo: Path | None) -> dict[str, tuple[list[str], Path]]:
        cmds = {}
        if lfs is not None and lfs_repo is not None and self.env.lfs:
            cmds["git-lfs"] = (lfs, lfs_repo)
        if dvc is not None and dvc_repo is not None:
            cmds["dvc"] = (dvc, dvc_repo)
        return cmds

    def run_all(self) -> None:
        env, dvc = self.env, self.env.dvc
        floors = Row("floor", "floor: `python -c pass` (gitmodel's interpreter), `git rev-parse`")
        first = next(iter(self.variants))
        scratch = env.fresh_dir("floor")
        env.run(["git", "init", "-q"], scratch)
        self.measure(floors, {"python": ([str(Path(self.variants[first]) / "python"), "-c",
                                          "pass"], scratch),
                              "git": (["git", "rev-parse", "--git-dir"], scratch)})

        row = Row("version", "`--version`", 0.05)
        self.measure(row, {**self.gitmodel_cmds(["--version"], scratch),
                           **self.peers(["git", "lfs", "version"], [dvc, "--version"] if dvc
                                        else None, scratch, scratch)})

        # -h builds every Typer command: the path --version skips, so time both
        row = Row("help", "`-h` (Typer builds the whole CLI)")
        self.measure(row, {**self.gitmodel_cmds(["-h"], scratch),
                           **self.peers(["git", "lfs", "help"], [dvc, "-h"] if dvc else None,
                                        scratch, scratch)})

        tools = ["gitmodel", *(["lfs"] if env.lfs else []), *(["dvc"] if dvc else [])]
        self.small_add(tools)
        for n, target in ((1, 0.10), (self.args.models, 0.15)):
            repos = {tool: self.repo(tool, n) for tool in tools}
            row = Row(f"status{n}", f"status, {n} unchanged model(s)", target)
            self.measure(row, {**self.gitmodel_cmds(["status"], repos["gitmodel"]),
                               **self.peers(["git", "lfs", "status"],
                                            [dvc, "status"] if dvc else None,
                                            repos.get("lfs"), repos.get("dvc"))})
            self.git_processes(row, ["git", "model", "status"], repos["gitmodel"])
            for repo in repos.values():
                rmtree(repo)

        self.hooks()
        reg = self.registry_repo()
        few = self.args.few
        lfs_few = self.repo("lfs", few) if env.lfs else None
        dvc_few = self.repo("dvc", few) if dvc else None
        row = Row("list", f"list, {few} models x {self.args.versions} versions, a stage each", 0.10)
        self.measure(row, {**self.gitmodel_cmds(["list"], reg),
                           **self.peers(["git", "lfs", "ls-files"],
                                        [dvc, "list", "."] if dvc else None, lfs_few, dvc_few)})
        self.git_processes(row, ["git", "model", "list"], reg)
        self.notes.append("`list` has no exact peer: the git-lfs and dvc columns are the nearest "
                          "listing each has (`git lfs ls-files`, `dvc list .`) on a repo of as "
                          "many files.")
        self.completion(reg)

    def hooks(self) -> None:
        """What the hooks cost when nothing about models changed (issue 8, section 5): importing
        the hook module, the post-checkout script of a checkout that moves no model file (sh
        and one git call, no Python), and the Python hook run with nothing to restore."""
        row = Row("hook.import", "hook: `python -c 'import gitmodel.hook'`")
        scratch = self.env.fresh_dir("hook-import")
        self.measure(row, {label: ([str(Path(folder) / "python"), "-c", "import gitmodel.hook"],
                                   scratch) for label, folder in self.variants.items()})
        repos = {}
        for label, folder in self.variants.items():
            repo = self.repo("gitmodel", 1)
            # this install's hooks (the repo was set up by the first one on PATH)
            self.env.run([str(Path(folder) / "git-model"), "install"], repo)
            (repo / "train.py").write_text("print('code only')\n")
            self.env.run(["git", "commit", "-q", "-a", "-m", "code only"], repo)
            repos[label] = repo
        lfs_repo = None
        if self.env.lfs:
            lfs_repo = self.repo("lfs", 1)
            (lfs_repo / "train.py").write_text("print('code only')\n")
            self.env.run(["git", "commit", "-q", "-a", "-m", "code only"], lfs_repo)
        hook_args = ["HEAD~1", "HEAD", "1"]
        row = Row("hook.checkout", "post-checkout hook, a checkout that moves no model file")
        cmds = {label: ([str(repo / ".git" / "hooks" / "post-checkout"), *hook_args], repo)
                for label, repo in repos.items()}
        if lfs_repo is not None:
            cmds["git-lfs"] = ([str(lfs_repo / ".git" / "hooks" / "post-checkout"), *hook_args],
                               lfs_repo)
        self.measure(row, cmds)
        first = next(iter(self.variants))
        self.git_processes(row, [str(repos[first] / ".git" / "hooks" / "post-checkout"),
                                 *hook_args], repos[first])
        row = Row("hook.python", "the Python hook run with nothing to restore "
                                 "(`python -m gitmodel.hook post-checkout`)")
        py_args = ["-m", "gitmodel.hook", "post-checkout", "HEAD", "HEAD", "0"]
        self.measure(row, {label: ([str(Path(self.variants[label]) / "python"), *py_args], repo)
                           for label, repo in repos.items()})
        self.git_processes(row, ["python", *py_args], repos[first])
        for repo in [*repos.values(), *([lfs_repo] if lfs_repo else [])]:
            rmtree(repo)

    def small_add(self, tools: list[str]) -> None:
        """`add` of one 4 KiB file whose bytes change before every run (a new version each)."""
        repos = {tool: self.repo(tool, 1) for tool in tools}
        rng = random.Random(7)
        old = time.time() - 10

        def prepare(column: str, cwd: Path) -> None:
            path = cwd / "models" / ("small.bin" if column in ("git-lfs", "dvc") else "small.pt")
            path.write_bytes(rng.randbytes(4096))
            os.utime(path, (old, old))

        dvc = self.env.dvc
        lfs_repo, dvc_repo = repos.get("lfs"), repos.get("dvc")
        row = Row("add", "add of one small file (4 KiB, new bytes each run)")
        cmds = {label: (["git", "model", "add", "models/small.pt"], repos["gitmodel"])
                for label in self.variants}
        cmds.update(self.peers(["git", "add", "models/small.bin"],
                               [dvc, "add", "-q", "models/small.bin"] if dvc else None,
                               lfs_repo, dvc_repo))
        self.measure(row, cmds, prepare)
        self.git_processes(row, ["git", "model", "add", "models/small.pt"], repos["gitmodel"],
                           prepare)
        for repo in repos.values():
            rmtree(repo)

    def completion(self, repo: Path) -> None:
        """One TAB, timed inside one bash (its start-up is not part of a TAB)."""
        bash = shutil.which("bash")
        if bash is None:
            self.notes.append("completion rows skipped: bash is not installed")
            return
        # the first install that has completion (an older one being compared may not)
        for first in self.variants:
            env = self.env_for(first)
            made = subprocess.run(["git", "model", "completion", "bash"], cwd=repo, env=env,
                                  capture_output=True, text=True, check=False)
            if made.returncode == 0:
                break
        else:
            self.notes.append("completion rows skipped: no gitmodel here has `completion`")
            return
        script = made.stdout
        via_git = GIT_COMPLETION.is_file()
        n = self.args.repeat
        lines = {"complete.cmd": "git model st", "complete.names": "git model status ",
                 "complete.versions": "git model assign m0000 ",
                 "complete.remote": "git model push --remote "}
        body = [f"source '{GIT_COMPLETION}'" if via_git else "", 'eval "$S"',
                'tab () { read -ra COMP_WORDS <<< "$1"; [[ $1 == *" " ]] && COMP_WORDS+=("")',
                '  COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMP_LINE=$1; COMP_POINT=${#1}',
                '  COMPREPLY=(); ' + ("__git_wrap__git_main" if via_git else "_git_model") + "; }"]
        for key, line in lines.items():
            body.append(f"tab '{line}'")  # warm
            body.append(f"for ((i = 0; i < {n}; i++)); do s=$EPOCHREALTIME; tab '{line}'; "
                        f"e=$EPOCHREALTIME; echo \"{key} $s $e\"; done")
        out = subprocess.run([bash, "--norc", "--noprofile", "-c", "\n".join(body)], cwd=repo,
                             env={**env, "S": script}, capture_output=True, text=True,
                             check=True)
        samples: dict[str, list[Sample]] = {}
        for rec in out.stdout.split("\n"):
            parts = rec.split()
            if len(parts) == 3:
                wall = float(parts[2]) - float(parts[1])
                samples.setdefault(parts[0], []).append(Sample(wall, wall))
        labels = {"complete.cmd": "TAB: a command name", "complete.names": "TAB: model names",
                  "complete.versions": "TAB: versions of a model",
                  "complete.remote": "TAB: model remotes"}
        for key, label in labels.items():
            row = Row(key, label + (" (through git's completion)" if via_git else ""), 0.05)
            row.cells[first] = samples[key]
            self.rows.append(row)
        # what a Python helper per TAB would cost (the alternative not taken)
        row = Row("complete.python", "a Python helper per TAB instead (reads the registry)")
        python = str(Path(self.variants[first]) / "python")
        self.measure(row, {first: ([python, "-c", "from gitmodel import registry as r; "
                                    "r.read(__import__('pathlib').Path('.'))"], repo)})


# -- output -------------------------------------------------------------------------------------

def cell(samples: list[Sample] | None) -> str:
    if not samples:
        return "-"
    walls = [s.wall for s in samples]
    med = statistics.median(walls)
    if med < 0.01:
        return f"{med * 1000:.1f} ms ({min(walls) * 1000:.1f}-{max(walls) * 1000:.1f})"
    return f"{med:.3f} s ({min(walls):.3f}-{max(walls):.3f})"


def table(bench: Latency) -> str:
    columns = [*bench.variants, "git-lfs", "dvc"]
    columns = [c for c in columns if any(c in r.cells for r in bench.rows)]
    head = ["what", *[f"gitmodel ({c})" if c in bench.variants else c for c in columns],
            "target", "met", "git processes"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    judged = next(iter(bench.variants))
    for row in bench.rows:
        if row.key == "floor":
            continue
        values = [cell(row.cells.get(c)) for c in columns]
        met = ""
        if row.target is not None and judged in row.cells:
            med = statistics.median(s.wall for s in row.cells[judged])
            met = "yes" if med <= row.target else "NO"
        target = f"≤ {row.target:.2f} s" if row.target is not None else ""
        counts = ", ".join(f"{c}: {n}" for c, n in row.counts.items())
        out.append("| " + " | ".join([row.label, *values, target, met, counts]) + " |")
    return "\n".join(out)


def results_markdown(bench: Latency, info: dict[str, str]) -> str:
    a = bench.args
    floor = next(r for r in bench.rows if r.key == "floor")
    return "\n".join([
        "# Everyday latency",
        "",
        "Written by the command in the header above"
        + (" (bytecode compiled first)" if not a.no_compile else " (bytecode as installed)")
        + ". Each cell: the median wall-clock time of a fresh process, with min-max over the "
        "runs, tools interleaved; the JSON (`--json`) has every sample with its CPU time. "
        "`met` judges the first gitmodel column.",
        "",
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in info.items()],
        f"- floor: `python -c pass` {cell(floor.cells['python'])}, "
        f"`git rev-parse` {cell(floor.cells['git'])}",
        "",
        "## Results",
        "",
        table(bench),
        "",
        *(["## Notes", "", *[f"- {n}" for n in bench.notes], ""] if bench.notes else []),
    ])


def compile_bytecode(bindir: str, env: dict[str, str]) -> None:
    python = str(Path(bindir) / "python")
    where = subprocess.run([python, "-c", "import gitmodel, os; print(os.path.dirname("
                            "gitmodel.__file__))"], env=env, capture_output=True, text=True,
                           check=True).stdout.strip()
    subprocess.run([python, "-m", "compileall", "-q", where], env=env, capture_output=True,
                   check=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", type=int, default=300, help="models in the big status repo")
    p.add_argument("--few", type=int, default=3, help="models in the list repo")
    p.add_argument("--versions", type=int, default=4, help="versions of each model there")
    p.add_argument("--repeat", type=int, default=20, help="timed runs of each command")
    p.add_argument("--git-model", action="append", default=[], metavar="LABEL=DIR",
                   help="a gitmodel install to time (DIR has its git-model and python); "
                        "repeatable; default: the one beside this Python")
    p.add_argument("--dvc", help="the dvc executable (default: dvc on PATH)")
    p.add_argument("--no-lfs", action="store_true", help="leave git-lfs out")
    p.add_argument("--no-compile", action="store_true",
                   help="do not compile the gitmodel installs' bytecode first (and keep this "
                        "shell's PYTHONDONTWRITEBYTECODE)")
    p.add_argument("--tmpdir", help="where scratch repos go")
    p.add_argument("--json", type=Path, help="write every sample here")
    p.add_argument("--write-results", action="store_true", help=f"rewrite {RESULTS.name}")
    p.add_argument("--keep", action="store_true", help="keep the scratch repos")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    load = load_average()
    variants: dict[str, str] = {}
    for item in args.git_model or [f"this={Path(sys.executable).parent}"]:
        label, sep, folder = item.partition("=")
        if not sep or not (Path(folder) / "git-model").exists():
            sys.exit(f"--git-model {item}: expected LABEL=DIR with DIR/git-model")
        variants[label] = str(Path(folder).absolute())
    if args.write_results and (problem := check_source(next(iter(variants.values())))):
        sys.exit(f"refusing to write results: {problem}")
    dvc = find_dvc(args.dvc)
    lfs = not args.no_lfs and subprocess.run(["git", "lfs", "version"], capture_output=True,
                                             check=False).returncode == 0
    tmp = Path(tempfile.mkdtemp(prefix="gitmodel-latency-", dir=args.tmpdir))
    try:
        env = Env(tmp / "env", dvc, lfs)
        env.env["PATH"] = next(iter(variants.values())) + os.pathsep + env.env["PATH"]
        if not args.no_compile:
            for folder in variants.values():
                compile_bytecode(folder, env.env)
        elif "PYTHONDONTWRITEBYTECODE" in os.environ:
            # as they are: an install without bytecode stays without it, run after run
            env.env["PYTHONDONTWRITEBYTECODE"] = os.environ["PYTHONDONTWRITEBYTECODE"]
        bench = Latency(env, args, variants)
        if not lfs:
            bench.notes.append("git-lfs column skipped: `git lfs` is not installed")
        if not dvc:
            bench.notes.append("dvc column skipped: dvc not found (pass --dvc PATH)")
        bench.run_all()
        info = machine(env, tmp)
        info["load average at the start"] = load
        info["load average at the end"] = load_average()
        described = machine_line(tmp)
        for label, folder in variants.items():
            info[f"gitmodel ({label})"] = (tool_version(env, [str(Path(folder) / "git-model"),
                                                             "--version"]) + f" in {folder}")
        info["PYTHONDONTWRITEBYTECODE"] = os.environ.get("PYTHONDONTWRITEBYTECODE", "unset")
        print(table(bench))
        if args.json:
            args.json.write_text(json.dumps({
                "machine": info, "args": {k: str(v) for k, v in vars(args).items()},
                "rows": [{"key": r.key, "label": r.label, "target": r.target,
                          "git_processes": r.counts,
                          "samples": {c: [[s.wall, s.cpu] for s in ss]
                                      for c, ss in r.cells.items()}} for r in bench.rows],
            }, indent=1))
        if args.write_results:
            write_results(RESULTS, header(argv, load, described), results_markdown(bench, info))
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            rmtree(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
