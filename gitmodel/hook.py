"""Hook entry points: ``python -m gitmodel.hook HOOK ARGS...``, run by the scripts that
``git model install`` writes. Reports on plain stderr and imports only what a hook uses: the
standard library and gitmodel's middle layer (workspace, checks, the core below them), never
``gitmodel.api``, typer, rich or fsspec; a writer such as tomli_w only where it writes, and the
remotes package only when a checkout or push needs a remote (docs/hooks.md has the measured
import time; benchmarks/bench_latency.py measures it).
"""

from __future__ import annotations

import sys
import time

from gitmodel import checks
from gitmodel.errors import GitmodelError, environment_problem
from gitmodel.store import LinkMode
from gitmodel.workspace import SyncReport, open_workspace, sync

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitmodel.remote import CheckoutFetcher
    from gitmodel.workspace import Workspace


def _say(message: str) -> None:
    print(f"gitmodel: {message}", file=sys.stderr)


def report_sync(report: SyncReport, fetcher: CheckoutFetcher | None = None) -> None:
    for result in report.restored:
        if result.written:
            _say(f"restored {result.model} ({len(result.written)} file(s))")
    for rescue in report.rescued:
        _say(f"saved your unadded changes to {rescue.path} as {rescue.oid}; get them back with "
             f"`git model recover {rescue.oid} -o {rescue.path}`")
    for path in report.removed:
        model = report.left_model.get(path)
        why = (f"not part of {model} at this commit" if model is not None
               else "this commit has no model file for it")
        _say(f"removed {path}: {why} (its bytes stay in the cache)")
    for path in report.kept:
        model = report.left_model.get(path)
        if model is not None:
            _say(f"kept {path}: not part of {model} at this commit, but its bytes are not in "
                 "the cache; move it out of the folder or delete it yourself")
        else:
            _say(f"kept {path}: this commit has no model file for it, but its bytes are not "
                 "in the cache; `git model add` it or delete it yourself")
    for path in report.conflicted:
        _say(f"{path} has a merge conflict: pick a side with `git checkout --ours {path}` "
             "(or --theirs), then run `git model checkout`")
    for error in report.errors:
        _say(f"warning: {error}")
    if report.missing:
        _say(f"warning: {missing_summary(report.missing, fetcher)}")


def missing_summary(models: list[str], fetcher: CheckoutFetcher | None) -> str:
    """One line for every model left unrestored because its objects are not in the cache
    (issue 7: a fresh clone used to get one warning per object), with the next step."""
    head = (f"{len(models)} model(s) not restored, their objects are not in the cache: "
            f"{', '.join(models)}")
    if fetcher is None:
        return f"{head}; `git model pull` fetches them"
    if fetcher.no_remote:
        return f"{head}, and no model remote is configured to fetch them from (see above)"
    if fetcher.failed:
        return f"{head}; `git model pull` fetches them once {fetcher.remote_name} is reachable"
    return (f"{head}; remote {fetcher.remote_name} does not have them: whoever committed them "
            "should run `git model push`")


def report_fetch(fetcher: CheckoutFetcher | None, already: int = 0) -> int:
    """Say what fetch-on-checkout could not do; returns how many problems were said so far."""
    if fetcher is None:
        return already
    for problem in fetcher.problems[already:]:
        _say(f"warning: {problem}")
    return len(fetcher.problems)


class _FetchWhenNeeded:
    """The fetch callback of a hook's restore, made (``remote.checkout_fetcher``) only when an
    object is missing: importing ``gitmodel.remote`` was ~40 % of the hook's imports
    (benchmarks/NOTES.md), and most checkouts find every object in the cache. A restore treats
    it as it treats no callback when fetching is off: the objects stay missing."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.fetcher: CheckoutFetcher | None = None
        self.made = False

    def __call__(self, oids: list[str]) -> None:
        if not self.made:
            self.made = True
            from gitmodel.remote import checkout_fetcher

            self.fetcher = checkout_fetcher(self.ws)
        if self.fetcher is not None:
            self.fetcher(oids)


def post_checkout_like() -> int:
    try:
        ws = open_workspace()
        # objects the cache lacks come from the default remote, with short timeouts
        fetch = _FetchWhenNeeded(ws)
        report = sync(ws, fetch=fetch)
        fetcher = fetch.fetcher
        if fetcher is not None and fetcher.fetched:
            _say(f"fetched {fetcher.fetched} object(s) from {fetcher.remote_name}")
        report_fetch(fetcher)
        report_sync(report, fetcher)
        if ws.config.link is LinkMode.HARDLINK and any(r.written for r in report.restored):
            _say("warning: artifacts are hard links into the cache (model.link=hardlink): "
                 "never write them in place")
    except GitmodelError as exc:
        _say(f"warning: {exc}")
    return 0  # git ignores a post-* hook's exit code; never make the user think it failed


def pre_commit() -> int:
    ws = open_workspace()
    problems = checks.check_staged(ws)
    for problem in problems:
        _say(f"commit refused: {problem}")
    return 1 if problems else 0


class _Meter:
    """Bytes and rate on one line, only when stderr is a terminal (hooks print no rich)."""

    def __init__(self) -> None:
        self.total = 0
        self.done = 0
        self.started = time.monotonic()
        self.shown = 0.0
        self.enabled = sys.stderr.isatty()

    def plan(self, count: int, nbytes: int) -> None:
        self.total = nbytes
        if count:
            _say(f"uploading {count} model object(s), {nbytes / (1 << 20):.1f} MiB")

    def __call__(self, nbytes: int) -> None:
        self.done += nbytes
        now = time.monotonic()
        if not self.enabled or now - self.shown < 0.2:
            return
        self.shown = now
        rate = self.done / max(now - self.started, 1e-6) / (1 << 20)
        sys.stderr.write(f"\rgitmodel: {self.done / (1 << 20):.0f}/{self.total / (1 << 20):.0f} "
                         f"MiB {rate:.0f} MiB/s\x1b[K")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.shown:
            sys.stderr.write("\r\x1b[K")


def pre_push(args: list[str]) -> int:
    updates = []
    for line in sys.stdin.read().splitlines():
        parts = line.split()
        if len(parts) == 4:
            updates.append((parts[0], parts[1], parts[2], parts[3]))
    ws = open_workspace()
    git_remote = args[0] if args else "origin"
    from gitmodel.remote import needs_of_push, pre_push_upload

    # one walk of the pushed range serves both the local check and the upload
    needs = needs_of_push(ws, git_remote, updates)
    problems = checks.missing_objects(ws, needs)
    for problem in problems:
        _say(f"push refused: {problem}")
    if problems:
        return 1
    meter = _Meter()
    retry = ("nothing was pushed; fix that and run `git push` again (objects already uploaded "
             "are not sent again), or bypass once with `git push --no-verify` (others will then "
             "lack the model bytes until `git model push`)")
    try:
        result = pre_push_upload(ws, git_remote, needs, progress=meter, plan=meter.plan,
                                 updates=updates)
    except GitmodelError as exc:
        meter.close()
        _say(f"push refused: uploading model objects failed: {exc}")
        _say(retry)
        return 1
    except KeyboardInterrupt:
        meter.close()
        _say("upload interrupted; nothing was pushed; run `git push` again to resume")
        return 130
    meter.close()
    if result.warning:
        _say(f"warning: {result.warning}")
    if result.report is not None and result.report.transferred:
        _say(f"uploaded {len(result.report.transferred)} model object(s) to {result.remote}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        _say("usage: python -m gitmodel.hook HOOK [ARGS...]")
        return 2
    hook = args[0]
    try:
        if hook in ("post-checkout", "post-merge", "post-rewrite"):
            return post_checkout_like()
        if hook == "pre-commit":
            return pre_commit()
        if hook == "pre-push":
            return pre_push(args[1:])
    except GitmodelError as exc:
        _say(f"{hook} refused: {exc}")
        return 1
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        problem = environment_problem(exc)
        if problem is None:
            raise
        # a full disk refuses a commit or push; after a checkout git has moved on already
        if hook.startswith("pre-"):
            _say(f"{hook} refused: {problem}")
            return 1
        _say(f"warning: artifacts not restored: {problem}; `git model checkout` finishes")
        return 0
    _say(f"unknown hook {hook!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
