"""Registry speed at scale (issue 3), beside gto in the same run.

Builds repos with ``git fast-import`` (one commit and one annotated, trailer-carrying version tag
per version, plus a prod and a staging assignment per model), then times the real CLIs as a user
runs them (a fresh process each time, gitmodel and gto interleaved, median with min-max):

    growth curve over --sizes MODELSxVERSIONS (both tools):
        git model list --json | gto show;  show NAME#prod;  history NAME
    at the largest --big size (gitmodel only; gto would take minutes per command there):
        list --json, show NAME#prod, history NAME    target <= 0.5 s each
        tag (a real model whose object is cached)    target <= 0.3 s
        gitmodel.resolve(NAME@vX) in-process          target <= 0.2 s plus the copy
        git processes started by `list` (GIT_TRACE)   target <= 3

Run: python benchmarks/bench_registry.py [--sizes 20x5 40x10 60x25] [--big 200x50] [--repeat 5]
     [--gto PATH] [--write-results]
Results: benchmarks/RESULTS-registry.md.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (
    HERE,
    PROJECT,
    bench_parser,
    header,
    load_average,
    machine_line,
    scratch,
    spread,
    write_results,
)

RESULTS = HERE / "RESULTS-registry.md"

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


def timed(cmd: Sequence[str], root: Path, env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(list(cmd), cwd=root, check=True, capture_output=True,
                   env={**os.environ, **(env or {})})
    return time.perf_counter() - started


def gm(*args: str) -> list[str]:
    return [sys.executable, "-m", "gitmodel", *args]


def build(root: Path, models: int, versions: int) -> int:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    stream = fast_import_stream(models, versions, int(time.time()) - 10**7)
    git(root, "fast-import", "--quiet", input=stream)
    git(root, "checkout", "-q", "main")
    return len(git(root, "tag", "-l").split())


def interleaved(cmds: dict[str, list[str]], root: Path, repeat: int) -> dict[str, list[float]]:
    """Each command once to warm, then ``repeat`` rounds of all of them in turn."""
    for cmd in cmds.values():
        timed(cmd, root)
    out: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(repeat):
        for key, cmd in cmds.items():
            out[key].append(timed(cmd, root))
    return out


def parse_size(text: str) -> tuple[int, int]:
    models, _, versions = text.partition("x")
    return int(models), int(versions)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = bench_parser(__doc__, RESULTS, repeat=5)
    parser.add_argument("--sizes", nargs="+", default=["20x5", "40x10", "60x25"],
                        help="MODELSxVERSIONS repos for the growth curve, gto beside")
    parser.add_argument("--big", default="200x50", help="MODELSxVERSIONS of the target repo")
    parser.add_argument("--gto", default=shutil.which("gto"), help="the gto executable")
    opts = parser.parse_args(argv)
    load = load_average()
    tmp = scratch("bench-registry-", opts.write_results)
    gto_version: str | list[str] = "not installed"
    if opts.gto:
        gto_version = subprocess.run([opts.gto, "--version"], capture_output=True, text=True,
                                     check=False).stdout.strip().split()[-1:] or ["?"]
        gto_version = f"gto {gto_version[0]}"
    curve: list[tuple[int, dict[str, list[float]]]] = []
    big: dict[str, list[float]] = {}
    try:
        for size in opts.sizes:
            models, versions = parse_size(size)
            root = tmp / f"repo-{size}"
            ntags = build(root, models, versions)
            git(root, "pack-refs", "--all")
            name = f"m{models // 2:03d}"
            cmds = {"gm list": gm("list", "--json"), "gm show": gm("show", f"{name}#prod"),
                    "gm history": gm("history", name)}
            if opts.gto:
                cmds.update({"gto show": [opts.gto, "show"],
                             "gto show#prod": [opts.gto, "show", f"{name}#prod"],
                             "gto history": [opts.gto, "history", name]})
            samples = interleaved(cmds, root, opts.repeat)
            curve.append((ntags, samples))
            print(f"{ntags} tags: " + ", ".join(f"{k} {statistics.median(v):.3f} s"
                                                for k, v in samples.items()), file=sys.stderr)
            if not opts.keep:
                shutil.rmtree(root)

        models, versions = parse_size(opts.big)
        root = tmp / "repo-big"
        started = time.perf_counter()
        ntags_big = build(root, models, versions)
        built = time.perf_counter() - started
        t0 = time.perf_counter()
        git(root, "for-each-ref", "--format=%(refname)%(trailers)", "refs/tags")
        for_each_ref = time.perf_counter() - t0
        # a real model with a cached object, for tag and resolve
        timed(gm("install"), root)
        (root / "real.pt").write_bytes(os.urandom(1 << 20))
        timed(gm("add", "real.pt"), root)
        git(root, "commit", "-q", "-m", "real model")
        name = f"m{models // 2:03d}"
        big["list --json (loose refs)"] = [timed(gm("list", "--json"), root)
                                           for _ in range(opts.repeat)]
        git(root, "pack-refs", "--all")  # as a clone or `git gc` leaves them
        big.update(interleaved({"list --json": gm("list", "--json"),
                                "show": gm("show", f"{name}#prod"),
                                "history": gm("history", name)}, root, opts.repeat))
        tag_times = []
        for k in range(opts.repeat):
            tag_times.append(timed(gm("tag", "real", f"v1.{k}.0"), root))
            (root / "real.pt").write_bytes(os.urandom(1 << 20))
            timed(gm("add", "real.pt"), root)
            git(root, "commit", "-q", "-m", f"real {k}")
        big["tag"] = tag_times
        sys.path.insert(0, str(PROJECT))
        import gitmodel

        resolve_times = []
        for _ in range(opts.repeat):
            shutil.rmtree(root / ".git/model/resolved", ignore_errors=True)
            t0 = time.perf_counter()
            gitmodel.resolve("real@v1.0.0", cwd=root)
            resolve_times.append(time.perf_counter() - t0)
        big["resolve"] = resolve_times
        again = []
        for _ in range(opts.repeat):
            t0 = time.perf_counter()
            gitmodel.resolve("real@v1.0.0", cwd=root)
            again.append(time.perf_counter() - t0)
        big["resolve again"] = again
        trace = tmp / "trace.log"
        timed(gm("list"), root, env={"GIT_TRACE": str(trace)})
        processes = sum(1 for line in trace.read_text().splitlines()
                        if "trace: built-in: git" in line or "trace: exec: git" in line)
        described = machine_line(tmp)
    finally:
        if opts.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    def met(samples: list[float], limit: float) -> str:
        return "yes" if statistics.median(samples) <= limit else "NO"

    has_gto = bool(opts.gto)
    lines = [
        "# Registry benchmark results (issue 3)",
        "",
        "Written by the command in the header above. Each cell: the median wall-clock time of a "
        "fresh process over the runs, with min-max; gitmodel (`python -m gitmodel`) and gto "
        "interleaved in the same run, on repos built with `git fast-import` (one annotated, "
        "trailer-carrying version tag per commit as `git model tag` writes them, plus a prod "
        "and a staging assignment per model; refs packed). A target is met when the median "
        "meets it.",
        "",
        f"- machine: {described}",
        f"- gto: {gto_version} ({opts.gto})" if has_gto else "- gto: not installed (columns left out)",
        f"- load average at the start: {load}; at the end: {load_average()}",
        "",
        "## Growth with the number of tags, gitmodel beside gto",
        "",
        "| tags | `git model list --json` | `gto show` | `git model show M#prod` | "
        "`gto show M#prod` | `git model history M` | `gto history M` |",
        "| ---: | --- | --- | --- | --- | --- | --- |",
    ]
    for ntags, samples in curve:
        cells = [spread(samples.get(k, [])) for k in ("gm list", "gto show", "gm show",
                                                      "gto show#prod", "gm history", "gto history")]
        lines.append(f"| {ntags:,} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"## At {ntags_big:,} tags ({models} models x {versions} versions, gitmodel only)",
        "",
        f"Built in {built:.1f} s; `git for-each-ref` alone with the registry's trailers took "
        f"{for_each_ref:.3f} s.",
        "",
        "| what | target | measured | met |",
        "| --- | --- | --- | --- |",
        f"| `git model list --json` (refs packed, as after a clone or `git gc`) | ≤ 0.5 s | "
        f"{spread(big['list --json'])} | {met(big['list --json'], 0.5)} |",
        f"| `git model list --json` ({ntags_big:,} loose ref files, straight from fast-import) | | "
        f"{spread(big['list --json (loose refs)'])} | |",
        f"| `git model show {name}#prod` | ≤ 0.5 s | {spread(big['show'])} | "
        f"{met(big['show'], 0.5)} |",
        f"| `git model history {name}` | ≤ 0.5 s | {spread(big['history'])} | "
        f"{met(big['history'], 0.5)} |",
        f"| `git model tag real vX` (a real 1 MiB model, object cached) | ≤ 0.3 s | "
        f"{spread(big['tag'])} | {met(big['tag'], 0.3)} |",
        f"| `gitmodel.resolve(\"real@v1.0.0\")` in-process, 1 MiB, first time | ≤ 0.2 s + copy | "
        f"{spread(big['resolve'])} | {met(big['resolve'], 0.2)} |",
        f"| the same, already resolved | | {spread(big['resolve again'])} | |",
        f"| git processes started by `list` (`GIT_TRACE`) | ≤ 3 | {processes} | "
        f"{'yes' if processes <= 3 else 'NO'} |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if opts.write_results:
        write_results(RESULTS, header(argv, load, described), text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
