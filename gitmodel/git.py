"""The only module that runs git.

Every call goes through :func:`call`, the one place that starts git: :func:`run` returns stdout or
raises :class:`GitError` carrying the command, exit code and stderr; questions whose answer is
the exit code (``rev-parse --verify``, ``verify-tag``) read :func:`call`'s result. The one
exception is :func:`read_blob_prefix`, which streams and stops early. Reads that need many objects
use one batched call (``ls-files -z``, ``cat-file --batch``, ``for-each-ref``) rather than one
process per item: a git process costs about 1.4 ms here.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gitmodel.errors import GitError, NotARepositoryError

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
ZERO_OID = "0" * 40


def run(
    args: list[str],
    cwd: Path | str | None = None,
    *,
    input: bytes | None = None,
    check: bool = True,
    env: dict[str, str] | None = None,
) -> str:
    """Run ``git ARGS`` and return its stdout as text (surrogate-escaped, so odd bytes survive)."""
    return run_bytes(args, cwd, input=input, check=check, env=env).decode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: bytes
    stderr: bytes


def call(
    args: list[str],
    cwd: Path | str | None = None,
    *,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
) -> Completed:
    """Run ``git ARGS`` to completion whatever its exit code; every git process starts here."""
    full_env = None
    if env is not None:
        full_env = {**os.environ, **env}
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True,
                              env=full_env, check=False)
    except FileNotFoundError as exc:  # pragma: no cover - git is a hard requirement
        raise GitError(args, 127, "git is not installed or not on PATH") from exc
    return Completed(proc.returncode, proc.stdout, proc.stderr)


def run_bytes(
    args: list[str],
    cwd: Path | str | None = None,
    *,
    input: bytes | None = None,
    check: bool = True,
    env: dict[str, str] | None = None,
) -> bytes:
    proc = call(args, cwd, input=input, env=env)
    if check and proc.returncode != 0:
        raise failure(args, proc.returncode, proc.stderr.decode("utf-8", "replace"))
    return proc.stdout


def failure_line(stderr: str) -> str:
    """The line of git's stderr that says what went wrong: its first ``fatal:`` or ``error:``
    line, else the last line. (``git ls-remote /nonexistent.git`` ends with "and the repository
    exists."; the cause, "'/nonexistent.git' does not appear to be a git repository", comes
    first.)"""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for prefix in ("fatal:", "error:"):
        for line in lines:
            if line.startswith(prefix):
                return line
    return lines[-1] if lines else ""


def failure(args: list[str], returncode: int, stderr: str) -> GitError:
    """The :class:`GitError` for a failed ``git ARGS``, its message one line naming the cause."""
    error = GitError(args, returncode, stderr)
    detail = failure_line(stderr) or f"exit code {returncode}"
    error.args = (f"git {' '.join(args)} failed: {detail}",)
    return error


def succeeds(args: list[str], cwd: Path | str | None = None) -> bool:
    """True when ``git ARGS`` exits 0 (for questions such as ``diff --quiet``)."""
    return call(args, cwd).returncode == 0


@dataclass(frozen=True)
class Repo:
    """Where a work tree and its git directories are."""

    root: Path  # top of the work tree
    git_dir: Path  # this worktree's private git dir (.git, or .git/worktrees/NAME)
    common_dir: Path  # shared by all worktrees: objects, refs, and gitmodel's cache

    @property
    def model_dir(self) -> Path:
        """gitmodel's shared directory (cache, stat cache), inside the common dir."""
        return self.common_dir / "model"

    @property
    def worktree_state_dir(self) -> Path:
        """gitmodel's per-worktree state (what this work tree has materialized)."""
        return self.git_dir / "model"


def find_repo(cwd: Path | str | None = None) -> Repo:
    """The repo containing ``cwd``, or :class:`NotARepositoryError`."""
    try:
        out = run(
            ["rev-parse", "--path-format=absolute", "--show-toplevel", "--git-dir",
             "--git-common-dir"],
            cwd,
        )
    except GitError as exc:
        where = Path(cwd or Path.cwd()).resolve()
        raise NotARepositoryError(
            f"{where} is not inside a git work tree; run this in a clone, or `git init` first"
        ) from exc
    lines = out.splitlines()
    if len(lines) != 3 or not lines[0]:
        raise NotARepositoryError(
            f"{Path(cwd or Path.cwd()).resolve()} has no work tree (a bare repo?); "
            "run this in a clone"
        )
    return Repo(Path(lines[0]), Path(lines[1]), Path(lines[2]))


def config_set(repo_root: Path, key: str, value: str) -> None:
    run(["config", "--local", key, value], repo_root)


def config_unset(repo_root: Path, key: str) -> None:
    call(["config", "--local", "--unset-all", key], repo_root)  # exit 5: it was not set


def hooks_dir(repo: Repo) -> Path:
    """The directory git runs hooks from, honouring ``core.hooksPath``."""
    out = run(["rev-parse", "--path-format=absolute", "--git-path", "hooks"], repo.root).strip()
    return Path(out)


def ls_files(repo_root: Path, pathspecs: list[str], *, others: bool = False) -> list[str]:
    """Tracked (and, with ``others``, untracked unignored) paths matching ``pathspecs``."""
    args = ["-c", "core.quotepath=off", "ls-files", "-z", "--cached"]
    if others:
        args += ["--others", "--exclude-standard"]
    out = run([*args, "--", *pathspecs], repo_root)
    return sorted(set(p for p in out.split("\0") if p))


def index_paths(repo_root: Path, pathspecs: list[str]) -> tuple[list[str], set[str]]:
    """Paths in the index matching ``pathspecs`` (sorted), and those of them a merge left
    unmerged, from one ``ls-files --stage`` (what ls_files plus unmerged_paths ask in two)."""
    out = run(["ls-files", "-z", "--stage", "--", *pathspecs], repo_root)
    paths: set[str] = set()
    unmerged: set[str] = set()
    for entry in out.split("\0"):
        meta, tab, path = entry.partition("\t")
        if not tab:
            continue
        paths.add(path)
        if not meta.endswith(" 0"):
            unmerged.add(path)
    return sorted(paths), unmerged


def unmerged_paths(repo_root: Path, pathspecs: list[str]) -> set[str]:
    out = run(["ls-files", "-z", "--unmerged", "--", *pathspecs], repo_root)
    paths = set()
    for entry in out.split("\0"):
        if "\t" in entry:
            paths.add(entry.split("\t", 1)[1])
    return paths


def is_tracked(repo_root: Path, path: str) -> bool:
    return bool(run(["ls-files", "-z", "--", f":(literal){path}"], repo_root))


def index_entries(repo_root: Path, pathspecs: list[str]) -> dict[str, dict[int, str]]:
    """Path -> {stage: blob id} of every index entry matching ``pathspecs``, in one
    ``ls-files --stage`` call (stage 0 is a merged entry; 1-3 are the sides of a conflict)."""
    out = run(["ls-files", "--stage", "-z", "--", *pathspecs], repo_root)
    return _stage_entries(out)


def _stage_entries(out: str) -> dict[str, dict[int, str]]:
    """Path -> {stage: blob id} from ``ls-files --stage -z`` output."""
    entries: dict[str, dict[int, str]] = {}
    for entry in out.split("\0"):
        meta, tab, path = entry.partition("\t")
        parts = meta.split()
        if tab and len(parts) == 3 and parts[2].isdigit():
            entries.setdefault(path, {})[int(parts[2])] = parts[1]
    return entries


def tree_tracked(repo_root: Path, treeish: str, paths: list[str]) -> set[str]:
    """The files of ``treeish`` that are ``paths`` or lie under one of them (every file when
    ``paths`` is empty), in one ``ls-tree -r`` call (``paths`` literal, from the top)."""
    out = run(["--literal-pathspecs", "ls-tree", "-r", "-z", "--name-only", "--full-tree",
               treeish, "--", *paths], repo_root)
    return {p for p in out.split("\0") if p}


# gitmodel's filter (install.FILTER_KEY) only smudges: it has no clean capability, so the bytes
# git hashes into the index are the file's own. git still starts it to learn that whenever it
# reads a model file into the index (`add`, and `status` refreshing an entry it cannot trust by
# its stat): a Python start, 10-25 ms here, twice per `git model add`. Commands that only read
# model files into the index run without it; the blobs are the same.
WITHOUT_FILTER = ["-c", "filter.gitmodel.process="]


def add(repo_root: Path, paths: list[str]) -> None:
    run_on_index([*WITHOUT_FILTER, "add", "--", *[f":(literal){p}" for p in paths]], repo_root)


def rm_cached(repo_root: Path, paths: list[str]) -> None:
    run_on_index(["rm", "-r", "--cached", "--quiet", "--",
                  *[f":(literal){p}" for p in paths]], repo_root)


INDEX_LOCK_WAIT_S = 5.0  # git itself gives up at once; an IDE's `git status` holds it for ms


def run_on_index(args: list[str], repo_root: Path) -> str:
    """:func:`run` for a command that writes the index: while another git process holds
    ``index.lock``, wait (with backoff, up to INDEX_LOCK_WAIT_S) and try again."""
    import time

    deadline = time.monotonic() + INDEX_LOCK_WAIT_S
    delay = 0.01
    while True:
        try:
            return run(args, repo_root)
        except GitError as exc:
            if "index.lock" not in exc.stderr or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def head_commit(repo_root: Path) -> str | None:
    proc = call(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], repo_root)
    return proc.stdout.decode().strip() or None  # nothing when there is no commit yet


def is_dirty(repo_root: Path, exclude: list[str] | None = None) -> bool:
    """Whether tracked files differ from HEAD (``exclude`` pathspecs are ignored)."""
    specs = [f":(exclude){e}" for e in (exclude or [])]
    out = run([*WITHOUT_FILTER, "status", "--porcelain", "--untracked-files=no", "--", ".",
               *specs], repo_root)
    return bool(out.strip())


def identity(repo_root: Path) -> str:
    """``Name <email>`` as git would record the author, or empty when unset."""
    proc = call(["var", "GIT_AUTHOR_IDENT"], repo_root)  # fails when no identity is set
    ident = proc.stdout.decode().strip()
    # "Name <email> 1700000000 +0000": drop the timestamp
    return ident.rsplit(" ", 2)[0] if ident.count(" ") >= 2 else ident


def staged_changes(repo_root: Path) -> list[tuple[str, str, str]]:
    """(status, blob oid, path) of each staged change against HEAD (or the empty tree)."""
    base = head_commit(repo_root) or EMPTY_TREE
    out = run(["diff-index", "--cached", "-z", "--no-renames", base], repo_root)
    fields = out.split("\0")
    changes = []
    i = 0
    while i + 1 < len(fields):
        meta, path = fields[i], fields[i + 1]
        i += 2
        parts = meta.lstrip(":").split()
        if len(parts) < 5:
            continue
        changes.append((parts[4], parts[3], path))
    return changes


def object_sizes(repo_root: Path, oids: list[str]) -> dict[str, int]:
    """Sizes of git objects, in one ``cat-file --batch-check`` call."""
    if not oids:
        return {}
    out = run(["cat-file", "--batch-check=%(objectname) %(objectsize)"], repo_root,
              input="".join(f"{o}\n" for o in oids).encode())
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes


def read_blob_prefix(repo_root: Path, oid: str, limit: int) -> bytes:
    """The first ``limit`` bytes of a blob, streamed so a large blob is not read whole (the one
    git process not started by :func:`call`: it is killed once ``limit`` bytes are read)."""
    proc = subprocess.Popen(["git", "cat-file", "blob", oid], cwd=repo_root,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    data = proc.stdout.read(limit)
    proc.stdout.close()
    proc.kill()
    proc.wait()
    return data


def read_blobs(repo_root: Path, specs: list[str]) -> dict[str, bytes | None]:
    """Contents of ``REV:PATH`` or blob specs, in one ``cat-file --batch`` call."""
    if not specs:
        return {}
    out = run_bytes(["cat-file", "--batch"], repo_root,
                    input="".join(f"{s}\n" for s in specs).encode())
    result: dict[str, bytes | None] = {}
    pos = 0
    for spec in specs:
        end = out.index(b"\n", pos)
        header = out[pos:end].decode()
        pos = end + 1
        if header.endswith(" missing") or header.endswith(" ambiguous"):
            result[spec] = None
            continue
        size = int(header.split()[2])
        result[spec] = out[pos:pos + size]
        pos += size + 1
    return result


# -- registry helpers (versions and stages on tags; see gitmodel/registry.py) -------------------

def for_each_ref(repo_root: Path, fmt: str, patterns: list[str]) -> str:
    """``git for-each-ref --format=FMT PATTERNS``: every matching ref in one process."""
    return run(["for-each-ref", f"--format={fmt}", *patterns], repo_root)


def resolve_commit(repo_root: Path, rev: str) -> str | None:
    """The full id of the commit ``rev`` names, or None when it names none."""
    proc = call(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"],
                repo_root)
    return proc.stdout.decode().strip() or None


def tree_paths(repo_root: Path, rev: str, suffix: str) -> list[str]:
    """Paths of files ending in ``suffix`` in the tree of ``rev`` (one ``ls-tree -r`` call)."""
    out = run(["-c", "core.quotepath=off", "ls-tree", "-r", "-z", "--name-only", "--full-tree",
               rev], repo_root)
    return [p for p in out.split("\0") if p.endswith(suffix)]


def create_tag(repo_root: Path, name: str, target: str, message: str, *, sign: bool = False,
               force: bool = False, date: str | None = None) -> None:
    """An annotated (``sign``: signed) tag ``name`` on ``target`` with ``message`` verbatim.

    ``date`` (``@SECONDS +0000``) sets the tagger date, which orders registry events.
    """
    args = ["tag", "-s" if sign else "-a", "--cleanup=whitespace", "-F", "-"]
    if force:
        args.append("-f")
    env = {"GIT_COMMITTER_DATE": date} if date else None
    run([*args, "--", name, target], repo_root, input=message.encode(), env=env)


def verify_tag(repo_root: Path, name: str) -> tuple[bool, str]:
    """``git verify-tag NAME``: (whether the signature is good, git's report)."""
    proc = call(["verify-tag", "--", name], repo_root)
    report = (proc.stderr + proc.stdout).decode("utf-8", "replace").strip()
    return proc.returncode == 0, report


def commit_only(repo_root: Path, message: str, paths: list[str]) -> str:
    """Commit exactly ``paths`` (as in the work tree) with ``message``; return the new commit.

    Other staged changes stay staged and out of this commit (``git commit --only``). Hooks run.
    """
    run(["commit", "--quiet", "--only", "-F", "-", "--", *[f":(literal){p}" for p in paths]],
        repo_root, input=message.encode())
    return run(["rev-parse", "HEAD"], repo_root).strip()


def is_shallow(repo_root: Path) -> bool:
    return run(["rev-parse", "--is-shallow-repository"], repo_root).strip() == "true"


def index_blobs(repo_root: Path, paths: list[str]) -> dict[str, str]:
    """The blob id staged for each of ``paths`` (absent paths are left out), in one call."""
    out = run(["ls-files", "-s", "-z", "--", *[f":(literal){p}" for p in paths]], repo_root)
    blobs = {}
    for entry in out.split("\0"):
        meta, _, path = entry.partition("\t")
        parts = meta.split()
        if len(parts) == 3 and parts[2] == "0":
            blobs[path] = parts[1]
    return blobs


def blob_id(data: bytes) -> str:
    """The id git gives a blob of ``data`` (SHA-1 repositories)."""
    import hashlib

    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


# -- history of model files (retention, fsck: see gitmodel/retention.py) ------------------------

@dataclass(frozen=True)
class Change:
    """One model-file path a commit wrote, against one of its parents (``-m``), or against the
    empty tree for a root commit: ``blob`` is the new side (ZERO_OID when the path was deleted)."""

    path: str
    blob: str


@dataclass
class HistoryCommit:
    """A commit of :func:`model_file_history`, with its model-file changes against each parent."""

    commit: str
    time: int  # committer date, seconds since the epoch
    parents: tuple[str, ...]
    source: str  # the ref it was reached from (``--source``), e.g. ``refs/heads/main``
    changes: dict[str, list[Change]]  # parent (or EMPTY_TREE for a root) -> its changes


def _unquote_path(text: str) -> str:
    """A path as git's raw diff prints it: C-quoted (``"a\\"b"``) when it holds odd bytes."""
    if not (len(text) >= 2 and text.startswith('"') and text.endswith('"')):
        return text
    body = text[1:-1].encode("utf-8", "surrogateescape")
    out = bytearray()
    i = 0
    simple = {ord("n"): 10, ord("t"): 9, ord("r"): 13, ord('"'): 34, ord("\\"): 92,
              ord("a"): 7, ord("b"): 8, ord("f"): 12, ord("v"): 11}
    while i < len(body):
        ch = body[i]
        if ch == 92 and i + 1 < len(body):  # backslash
            nxt = body[i + 1]
            if nxt in simple:
                out.append(simple[nxt])
                i += 2
                continue
            if 48 <= nxt <= 55 and i + 3 < len(body) + 1:
                out.append(int(body[i + 1:i + 4], 8))
                i += 4
                continue
        out.append(ch)
        i += 1
    return out.decode("utf-8", "surrogateescape")


def model_file_history(repo_root: Path, starts: list[str], pathspec: str,
                       *, all_refs: bool = True, walk: bool = True) -> list[HistoryCommit]:
    """Every commit reachable from every ref (``all_refs``) and from ``starts`` that wrote a path
    matching ``pathspec``, with what it wrote against each parent, in ONE ``git log``.

    ``--full-history`` so a side branch whose change a merge dropped is still walked, ``-m`` so a
    merge's own resolution is seen, ``--raw --no-renames`` for plain blob ids; ``--pretty=raw``
    because only it says which parent a ``-m`` diff is against ("commit X (from P)"). ``starts``
    go in on stdin (thousands of them fit); ``walk=False`` shows only them (``--no-walk``).
    """
    args = ["-c", "core.quotepath=off", "-c", "log.showSignature=false", "log", "--source",
            "--full-history", "-m", "--root", "--raw", "--no-abbrev", "--no-renames",
            "--pretty=raw", "--no-color", "--no-ext-diff", "--no-textconv"]
    if all_refs:
        args.append("--all")
    if not walk:
        args.append("--no-walk=unsorted")
    if not all_refs and not starts:
        return []
    args += ["--stdin", "--", pathspec]
    out = run(args, repo_root, input="".join(f"{s}\n" for s in starts).encode())
    commits: dict[str, HistoryCommit] = {}
    order: list[HistoryCommit] = []
    current: HistoryCommit | None = None
    against = ""
    parents: list[str] = []
    for line in out.split("\n"):
        if line.startswith("commit "):
            head, _, source = line[7:].partition("\t")
            sha, _, rest = head.partition(" ")
            against = rest[len("(from "):-1] if rest.startswith("(from ") else ""
            current = commits.get(sha)
            if current is None:
                current = HistoryCommit(sha, 0, (), source, {})
                commits[sha] = current
                order.append(current)
            parents = []
            continue
        if current is None:
            continue
        if line.startswith("parent "):  # repeated under each -m header: kept once
            parents.append(line[7:].strip())
            if len(parents) > len(current.parents):
                current.parents = tuple(parents)
        elif line.startswith("committer "):
            fields = line.rsplit(" ", 2)
            if len(fields) == 3 and fields[1].lstrip("-").isdigit():
                current.time = int(fields[1])
        elif line.startswith(":"):
            meta, tab, path = line.partition("\t")
            parts = meta.split()
            if not tab or len(parts) < 5:
                continue
            key = against or (current.parents[0] if len(current.parents) == 1 else EMPTY_TREE)
            current.changes.setdefault(key, []).append(Change(_unquote_path(path), parts[3]))
    return order


def tree_ids(repo_root: Path, revs: list[str]) -> dict[str, str]:
    """The tree id of each of ``revs`` that names one (``REV^{tree}``), in one
    ``cat-file --batch-check``."""
    if not revs:
        return {}
    out = run(["cat-file", "--batch-check=%(objectname) %(objecttype)"], repo_root,
              input="".join(f"{r}^{{tree}}\n" for r in revs).encode())
    found = {}
    for rev, line in zip(revs, out.splitlines(), strict=False):
        parts = line.split()
        if len(parts) == 2 and parts[1] == "tree":
            found[rev] = parts[0]
    return found


def tree_files(repo_root: Path, trees: list[str], pathspec: str) -> dict[str, dict[str, str]]:
    """Path -> blob id of every file matching ``pathspec`` in each of ``trees`` (tree ids), in
    one ``diff-tree --stdin`` against the empty tree (``ls-tree`` takes one tree a process)."""
    unique = list(dict.fromkeys(trees))
    result: dict[str, dict[str, str]] = {t: {} for t in unique}
    if not unique:
        return result
    out = run_bytes(["-c", "core.quotepath=off", "diff-tree", "--stdin", "-r", "--no-abbrev",
                     "-z", "--no-renames", "--", pathspec], repo_root,
                    input="".join(f"{EMPTY_TREE} {t}\n" for t in unique).encode())
    pos = 0
    current: dict[str, str] | None = None
    size = len(out)
    while pos < size:
        if out[pos:pos + 1] == b":":
            meta_end = out.index(b"\0", pos)
            path_end = out.index(b"\0", meta_end + 1)
            parts = out[pos:meta_end].decode().split()
            path = out[meta_end + 1:path_end].decode("utf-8", "surrogateescape")
            if current is not None and len(parts) >= 5:
                current[path] = parts[3]
            pos = path_end + 1
        else:
            end = out.find(b"\n", pos)
            if end < 0:
                break
            pair = out[pos:end].decode().split()
            current = result.get(pair[1]) if len(pair) == 2 else None
            pos = end + 1
    return result


@dataclass(frozen=True)
class Worktree:
    path: Path
    head: str | None  # None for a worktree on an unborn branch
    branch: str | None
    git_dir: Path | None  # its private git dir, when found


def worktrees(repo_root: Path, common_dir: Path) -> list[Worktree]:
    """Every worktree of the repository (``worktree list --porcelain``), with its git dir, so a
    worktree whose folder is gone can still be read through its index file."""
    out = run(["worktree", "list", "--porcelain"], repo_root)
    private: dict[Path, Path] = {}
    folder = common_dir / "worktrees"
    if folder.is_dir():
        for entry in folder.iterdir():
            try:
                target = Path((entry / "gitdir").read_text().strip())
            except OSError:
                continue
            private[target.parent.resolve()] = entry
    found = []
    for block in out.split("\n\n"):
        path: Path | None = None
        head = branch = None
        bare = False
        for line in block.splitlines():
            key, _, value = line.partition(" ")
            if key == "worktree":
                path = Path(value)
            elif key == "HEAD":
                head = value if value != ZERO_OID else None
            elif key == "branch":
                branch = value
            elif key == "bare":
                bare = True
        if path is None or bare:
            continue
        git_dir = private.get(path.resolve(), common_dir if path.resolve() == repo_root.resolve()
                              or (path / ".git").is_dir() else None)
        found.append(Worktree(path, head, branch, git_dir))
    return found


# The files an operation that stopped half-way (a conflicted merge, a stopped rebase, a
# cherry-pick or revert) leaves in a worktree's git dir, naming commits the user may still
# take: only these point at them, so a gc that skipped them could remove what a
# `git merge --abort` or `git checkout --theirs` brings back.
OPERATION_FILES = ("MERGE_HEAD", "REBASE_HEAD", "ORIG_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD",
                   "rebase-merge/orig-head", "rebase-merge/onto", "rebase-merge/stopped-sha",
                   "rebase-apply/orig-head", "rebase-apply/onto", "rebase-apply/original-commit")
_TODO_FILES = ("rebase-merge/git-rebase-todo", "rebase-merge/done")


def operation_commits(git_dir: Path) -> list[tuple[str, str]]:
    """(commit id, the file naming it) for each commit an in-progress merge, rebase,
    cherry-pick or revert in the worktree of ``git_dir`` points at, the commits a stopped
    interactive rebase has still to pick (or picked) included. Ids as written: full or
    abbreviated hex only (the files are the user's, read as untrusted)."""
    found: list[tuple[str, str]] = []
    for name in OPERATION_FILES + _TODO_FILES:
        try:
            text = (git_dir / name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        todo = name in _TODO_FILES
        for line in text.splitlines():
            words = line.split()
            if todo:
                # "pick 1a2b3c4 subject", "fixup -C 1a2b3c4 subject": the first hex word
                words = [w for w in words[1:3] if not w.startswith("-")][:1]
            for word in words[:1]:
                if 4 <= len(word) <= 64 and all(c in "0123456789abcdef" for c in word):
                    found.append((word, name))
    return found


def index_entries_of(git_dir: Path, work_tree: Path, pathspecs: list[str]) -> dict[str, dict[int, str]]:
    """:func:`index_entries` of another worktree, read through its index file (so a worktree
    whose folder was deleted is still read)."""
    out = run(["ls-files", "--stage", "-z", "--", *pathspecs], work_tree if work_tree.is_dir()
              else git_dir, env={"GIT_INDEX_FILE": str(git_dir / "index"),
                                 "GIT_DIR": str(git_dir)} if not work_tree.is_dir() else None)
    return _stage_entries(out)


def stash_commits(repo_root: Path) -> list[str]:
    """Every stash entry's commit (``stash@{0}``, ``stash@{1}``…), newest first, from the stash
    reflog in one call (``--all`` sees only the newest)."""
    proc = call(["log", "--walk-reflogs", "--format=%H", "refs/stash", "--"], repo_root)
    if proc.returncode != 0:
        return []  # no stash
    return [line for line in proc.stdout.decode().split() if line]


def commits_since(repo_root: Path, since: int,
                  refs: list[str]) -> list[tuple[str, int, tuple[str, ...], str]]:
    """(commit, committer time, parents, the ref it was reached from) of the commits reachable
    from ``refs`` (``--branches`` and the like) made at or after ``since``, children before
    parents (``--topo-order``), in one ``git log``."""
    # --since-as-filter, not --since: a commit made in the window on top of one whose clock was
    # behind is still found (--since stops walking at the first older commit)
    out = run(["log", "--source", "--topo-order", f"--since-as-filter=@{since}",
               "--format=%H%x09%ct%x09%P%x09%S", *refs, "--"], repo_root)
    found = []
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 4 and parts[1].isdigit():
            found.append((parts[0], int(parts[1]), tuple(parts[2].split()), parts[3]))
    return found
