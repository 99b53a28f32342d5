"""What every benchmark script shares: the isolated environment, the machine description, the
summary of samples (median with min-max), and the machine-readable header of a RESULTS file.

Standard library only. The header is an HTML comment at the top of each RESULTS file:

    <!-- benchmark-results
    commit: <40 hex digits, the commit of this repository that was measured>
    dirty: no
    command: python benchmarks/bench.py --size-mib 256 ...
    date: 2026-12-01T21:40:00Z
    machine: 2 x AMD EPYC, 24105 MiB, Linux-6.18..., ext4 temp dir
    load: 1.52 1.20 0.98 (1, 5, 15 min, at the start)
    -->

`tests/test_benchmarks.py` checks that every RESULTS file has one, that it names a commit that
is an ancestor of HEAD, and that the tree was clean there (the rule: README.md, "Freshness").
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

MIB = 1 << 20
CHUNK = 4 * MIB
HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
HEADER_START = "<!-- benchmark-results"
HEADER_KEYS = ("commit", "dirty", "command", "date", "machine", "load")
# what a benchmark measures: an edit here, uncommitted, makes the measured commit a lie
MEASURED_PATHS = ("gitmodel", "benchmarks/*.py", "pyproject.toml")


# -- samples ------------------------------------------------------------------------------------

def spread(samples: Sequence[float], unit: str = "s") -> str:
    """``median (min-max)`` in ``unit`` ("s", "ms" or anything else printed as is)."""
    if not samples:
        return "-"
    med, low, high = statistics.median(samples), min(samples), max(samples)
    if unit == "s":
        return f"{med:.3f} s ({low:.3f}-{high:.3f})"
    if unit == "ms":
        return f"{med:.1f} ms ({low:.1f}-{high:.1f})"
    return f"{med:.1f} {unit} ({low:.1f}-{high:.1f})"


# -- the measured commit and the header ---------------------------------------------------------

def _git(*args: str) -> str:
    # read-only: GIT_OPTIONAL_LOCKS=0 keeps `git status` from rewriting the index
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    proc = subprocess.run(["git", *args], cwd=PROJECT, env=env, capture_output=True, text=True,
                          check=False)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def measured_commit() -> tuple[str, bool]:
    """This repository's HEAD and whether the measured files differ from it."""
    head = _git("rev-parse", "HEAD") or "unknown"
    dirty = _git("status", "--porcelain", "--untracked-files=no", "--", *MEASURED_PATHS)
    return head, bool(dirty)


def check_source(bindir: str) -> str | None:
    """Why the gitmodel beside ``bindir``'s python is not this repository's source, or None."""
    proc = subprocess.run([str(Path(bindir) / "python"), "-c",
                           "import gitmodel, os; print(os.path.dirname(gitmodel.__file__))"],
                          capture_output=True, text=True, check=False)
    where = Path(proc.stdout.strip() or "?").resolve()
    if where != (PROJECT / "gitmodel").resolve():
        return f"the gitmodel measured is {where}, not this repository's {PROJECT / 'gitmodel'}"
    return None


def command_line(argv: Sequence[str]) -> str:
    script = Path(sys.argv[0]).resolve()
    try:
        shown = str(script.relative_to(PROJECT))
    except ValueError:
        shown = str(script)
    return shlex.join(["python", shown, *argv])


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min)"


def machine_line(tmp: Path | None = None) -> str:
    parts = [f"{os.cpu_count()} x {cpu_model()}", memory(), platform.platform(),
             f"Python {platform.python_version()}"]
    if tmp is not None:
        parts.append(f"{fs_type(tmp)} temp dir")
    return ", ".join(parts)


def header_fields(argv: Sequence[str], load: str, machine: str) -> dict[str, str]:
    """The fields of a RESULTS file's header; ``machine`` is :func:`machine_line`'s."""
    commit, dirty = measured_commit()
    return {
        "commit": commit,
        "dirty": "yes" if dirty else "no",
        "command": command_line(argv),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine,
        "load": load,
    }


def format_header(fields: dict[str, str]) -> str:
    return "\n".join([HEADER_START, *[f"{k}: {v}" for k, v in fields.items()], "-->", ""])


def header(argv: Sequence[str], load: str, machine: str) -> str:
    return format_header(header_fields(argv, load, machine))


def read_header(text: str) -> dict[str, str]:
    """The header's fields; ValueError when the text does not start with a complete one."""
    if not text.startswith(HEADER_START + "\n"):
        raise ValueError(f"does not start with {HEADER_START!r}")
    body, sep, _ = text[len(HEADER_START) + 1:].partition("\n-->")
    if not sep:
        raise ValueError("header not closed with -->")
    fields: dict[str, str] = {}
    for line in body.splitlines():
        key, colon, value = line.partition(": ")
        if not colon or key not in HEADER_KEYS:
            raise ValueError(f"unexpected header line {line!r}")
        fields[key] = value.strip()
    missing = [k for k in HEADER_KEYS if k not in fields]
    if missing:
        raise ValueError(f"header lacks {', '.join(missing)}")
    if not re.fullmatch(r"[0-9a-f]{40}", fields["commit"]):
        raise ValueError(f"commit {fields['commit']!r} is not a full commit id")
    return fields


def write_results(path: Path, head: str, body: str) -> None:
    path.write_text(head + body.rstrip("\n") + "\n", encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)


# -- what every script's main() starts with ----------------------------------------------------

def bench_parser(doc: str | None, results: Path, repeat: int) -> argparse.ArgumentParser:
    """The arguments every benchmark takes (--repeat, --write-results, --keep), its own added
    by the caller."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0] if doc else None)
    parser.add_argument("--repeat", type=int, default=repeat)
    parser.add_argument("--write-results", action="store_true", help=f"rewrite {results.name}")
    parser.add_argument("--keep", action="store_true", help="keep the temp repos")
    return parser


def scratch(prefix: str, write_results: bool) -> Path:
    """A temp folder with its own HOME, git identity and no system git config, for one run;
    refuses --write-results from a dirty tree or another venv (:func:`check_source`). Compiles
    gitmodel once: PYTHONDONTWRITEBYTECODE would make every timed run recompile it (30-50 ms)."""
    if write_results and (problem := check_source(str(Path(sys.executable).parent))):
        sys.exit(f"refusing to write results: {problem}")
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    home = tmp / "home"
    home.mkdir()
    os.environ.update({"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1",
                       "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
                       "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com"})
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(PROJECT / "gitmodel")],
                   check=True)
    return tmp


# -- the isolated environment -------------------------------------------------------------------

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

    def run(self, cmd: Sequence[str], cwd: Path, check: bool = True,
            stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(list(cmd), cwd=cwd, env=self.env, input=stdin,
                              stdin=None if stdin is not None else subprocess.DEVNULL,
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


def sha256_of(path: Path) -> str:
    """The hex sha256 of ``path``, read in 1 MiB pieces: the check every benchmark's restore
    is held to."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(MIB):
            digest.update(chunk)
    return digest.hexdigest()


def corrupt(path: Path) -> None:
    """Flip one byte in the middle of ``path`` (--corrupt-restore: a test of a benchmark's
    checks)."""
    with open(path, "r+b") as stream:
        stream.seek(path.stat().st_size // 2)
        byte = stream.read(1)
        stream.seek(-1, os.SEEK_CUR)
        stream.write(bytes([byte[0] ^ 0xFF]))


def write_random(path: Path, size: int, seed: int) -> None:
    """``size`` pseudo-random bytes from ``seed`` (the same bytes on every run)."""
    rng = random.Random(seed)
    with open(path, "wb") as stream:
        left = size
        while left:
            n = min(CHUNK, left)
            stream.write(rng.randbytes(n))
            left -= n


def rmtree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def find_dvc(given: str | None) -> str | None:
    if given:
        return given if Path(given).exists() or shutil.which(given) else None
    return shutil.which("dvc")


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


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) // 1024} MiB"
    except OSError:
        pass
    return "unknown"


def machine(env: Env, tmp: Path) -> dict[str, str]:
    """The long machine description of a RESULTS file's "Machine" section."""
    commit, dirty = measured_commit()
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu_model(),
        "memory": memory(),
        "os": platform.platform(),
        "python": f"{platform.python_version()} ({sys.executable})",
        "git": tool_version(env, ["git", "--version"]),
        "temp dir filesystem": fs_type(tmp),
        "gitmodel": tool_version(env, ["git", "model", "--version"]),
        "gitmodel source": f"{PROJECT / 'gitmodel'} at {commit[:12]}"
                           + (" + uncommitted edits" if dirty else ""),
        "git-lfs": tool_version(env, ["git", "lfs", "version"]) if env.lfs else "not installed",
        "dvc": tool_version(env, [env.dvc, "--version"]) if env.dvc else "not installed",
    }
