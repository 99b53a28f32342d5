"""Registry speed at scale (issue 3): 10,000 version tags over 200 models.

Builds a repo with ``git fast-import`` (one commit and one annotated, trailer-carrying version tag
per version, plus a prod and a staging assignment per model), then times the real CLI as a user
runs it (a fresh ``python -m gitmodel`` process each time, best of N):

    list --json, show NAME#prod, history NAME    target <= 0.5 s each
    tag (a real model whose object is cached)    target <= 0.3 s
    gitmodel.resolve(NAME@vX) in-process          target <= 0.2 s plus the copy
    git processes started by `list` (GIT_TRACE)   target <= 3

Run: python benchmarks/bench_registry.py [--models 200] [--versions 50] [--repeat 5]
Results are recorded in benchmarks/RESULTS-registry.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FAKE_OID = "sha256:" + "ab" * 32


def model_file(name: str, version: int) -> str:
    return (
        "format = 1\n"
        f'name = "{name}"\n'
        f'artifact = "{name}.pt"\n'
        f'description = "version {version}"\n'
        "[[files]]\n"
        f'path = "{name}.pt"\n'
        f'oid = "{FAKE_OID}"\n'
        f"size = {1000 + version}\n"
        "[metrics]\n"
        f"accuracy = {0.5 + version / 1000}\n"
    )


def fast_import_stream(models: int, versions: int, start: int) -> bytes:
    out: list[bytes] = []

    def data(text: str) -> None:
        raw = text.encode()
        out.append(f"data {len(raw)}\n".encode() + raw + b"\n")

    mark = 0
    when = start
    for j in range(versions):
        for i in range(models):
            name = f"m{i:03d}"
            path = f"models/{name}.pt.model.toml"
            mark += 1
            when += 1
            out.append(f"commit refs/heads/main\nmark :{mark}\n".encode())
            out.append(f"committer Bench <bench@example.com> {when} +0000\n".encode())
            data(f"{name} v1.{j}.0")
            if mark == 1:
                out.append(b"deleteall\n")
            content = model_file(name, j)
            out.append(f"M 100644 inline {path}\n".encode())
            data(content)
            tag = f"{name}@v1.{j}.0"
            trailers = (f"Register {name} v1.{j}.0\n\nModel-Name: {name}\nModel-Version: v1.{j}.0\n"
                        f"Model-File: {path}\nModel-Oid: {FAKE_OID}\nModel-Size: {1000 + j}\n"
                        f"Metric: accuracy={0.5 + j / 1000}\n")
            out.append(f"tag {tag}\nfrom :{mark}\n".encode())
            out.append(f"tagger Bench <bench@example.com> {when} +0000\n".encode())
            data(trailers)
    # stages: prod on the second-to-last version, staging on the last, for every model
    marks_of = {}
    mark = 0
    for j in range(versions):
        for i in range(models):
            mark += 1
            marks_of[(i, j)] = mark
    for i in range(models):
        name = f"m{i:03d}"
        for n, (stage, j) in enumerate((("prod", versions - 2), ("staging", versions - 1)), 1):
            when += 1
            out.append(f"tag {name}#{stage}#{n}\nfrom :{marks_of[(i, j)]}\n".encode())
            out.append(f"tagger Bench <bench@example.com> {when} +0000\n".encode())
            data(f"Assign {name} v1.{j}.0 to {stage}\n\nModel-Name: {name}\n"
                 f"Model-Version: v1.{j}.0\nModel-Stage: {stage}\n")
    return b"".join(out)


def git(root: Path, *args: str, input: bytes | None = None) -> str:
    return subprocess.run(["git", *args], cwd=root, input=input, capture_output=True,
                          check=True).stdout.decode()


def cli(root: Path, *args: str, env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "gitmodel", *args], cwd=root, check=True,
                   capture_output=True, env={**os.environ, **(env or {})})
    return time.perf_counter() - started


def best(samples: list[float]) -> str:
    return f"{min(samples):.3f} s (median {statistics.median(samples):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--versions", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the temp repo")
    opts = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-registry-"))
    root = tmp / "repo"
    root.mkdir()
    env_home = tmp / "home"
    env_home.mkdir()
    os.environ.update({"HOME": str(env_home), "GIT_CONFIG_NOSYSTEM": "1",
                       "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
                       "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com"})
    # PYTHONDONTWRITEBYTECODE would make every run recompile gitmodel (30-50 ms): compile once
    project = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(project / "gitmodel")],
                   check=True)
    try:
        git(root, "init", "-q", "-b", "main")
        started = time.perf_counter()
        stream = fast_import_stream(opts.models, opts.versions, int(time.time()) - 10**7)
        git(root, "fast-import", "--quiet", input=stream)
        git(root, "checkout", "-q", "main")
        ntags = len(git(root, "tag", "-l").split())
        print(f"repo: {ntags} tags over {opts.models} models, built in "
              f"{time.perf_counter() - started:.1f} s")
        t0 = time.perf_counter()
        git(root, "for-each-ref", "--format=%(refname)%(trailers)", "refs/tags")
        print(f"git for-each-ref with trailers alone: {time.perf_counter() - t0:.3f} s")
        # a real model with a cached object, for tag and resolve
        cli(root, "install")
        (root / "real.pt").write_bytes(os.urandom(1 << 20))
        cli(root, "add", "real.pt")
        git(root, "commit", "-q", "-m", "real model")
        name = f"m{opts.models // 2:03d}"
        results = {}
        results["list --json (10,000 loose refs)"] = [cli(root, "list", "--json")
                                                      for _ in range(opts.repeat)]
        git(root, "pack-refs", "--all")  # as a clone or `git gc` leaves them
        results["list --json"] = [cli(root, "list", "--json") for _ in range(opts.repeat)]
        results[f"show {name}#prod"] = [cli(root, "show", f"{name}#prod")
                                        for _ in range(opts.repeat)]
        results[f"history {name}"] = [cli(root, "history", name) for _ in range(opts.repeat)]
        tag_times = []
        for k in range(opts.repeat):
            tag_times.append(cli(root, "tag", "real", f"v1.{k}.0"))
            (root / "real.pt").write_bytes(os.urandom(1 << 20))
            cli(root, "add", "real.pt")
            git(root, "commit", "-q", "-m", f"real {k}")
        results["tag real vX"] = tag_times
        sys.path.insert(0, str(project))
        import gitmodel

        resolve_times = []
        for _ in range(opts.repeat):
            shutil.rmtree(root / ".git/model/resolved", ignore_errors=True)
            t0 = time.perf_counter()
            gitmodel.resolve("real@v1.0.0", cwd=root)
            resolve_times.append(time.perf_counter() - t0)
        results["resolve real@v1.0.0 (1 MiB, uncached)"] = resolve_times
        t0 = time.perf_counter()
        gitmodel.resolve("real@v1.0.0", cwd=root)
        results["resolve real@v1.0.0 (already resolved)"] = [time.perf_counter() - t0]
        trace = tmp / "trace.log"
        cli(root, "list", env={"GIT_TRACE": str(trace)})
        processes = sum(1 for line in trace.read_text().splitlines()
                        if "trace: built-in: git" in line or "trace: exec: git" in line)
        for label, samples in results.items():
            print(f"{label:42} {best(samples)}")
        print(f"{'git processes for list (GIT_TRACE)':42} {processes}")
    finally:
        if opts.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
