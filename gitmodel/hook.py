"""Hook entry points: ``python -m gitmodel.hook HOOK ARGS...``, run by the scripts that
``git model install`` writes. Imports the standard library and gitmodel's core only (no typer,
rich or fsspec) and reports on plain stderr.
"""

from __future__ import annotations

import sys

from gitmodel import api, checks
from gitmodel.errors import GitmodelError
from gitmodel.store import LinkMode
from gitmodel.workspace import SyncReport, sync


def _say(message: str) -> None:
    print(f"gitmodel: {message}", file=sys.stderr)


def report_sync(report: SyncReport) -> None:
    for result in report.restored:
        if result.written:
            _say(f"restored {result.model} ({len(result.written)} file(s))")
    for rescue in report.rescued:
        _say(f"saved your unadded changes to {rescue.path} as {rescue.oid}; get them back with "
             f"`git model recover {rescue.oid} -o {rescue.path}`")
    for path in report.removed:
        _say(f"removed {path} (its model file is gone; the bytes stay in the cache)")
    for path in report.kept:
        _say(f"kept {path}: its model file is gone but its bytes are not in the cache; "
             "`git model add` it or delete it yourself")
    for path in report.conflicted:
        _say(f"{path} has a merge conflict: pick a side with `git checkout --ours {path}` "
             "(or --theirs), then run `git model checkout`")
    for error in report.errors:
        _say(f"warning: {error}")


def post_checkout_like() -> int:
    try:
        ws = api.open_workspace()
        report = sync(ws)
        report_sync(report)
        if ws.config.link is LinkMode.HARDLINK and any(r.written for r in report.restored):
            _say("warning: artifacts are hard links into the cache (model.link=hardlink): "
                 "never write them in place")
    except GitmodelError as exc:
        _say(f"warning: {exc}")
    return 0  # git ignores a post-* hook's exit code; never make the user think it failed


def pre_commit() -> int:
    ws = api.open_workspace()
    problems = checks.check_staged(ws)
    for problem in problems:
        _say(f"commit refused: {problem}")
    return 1 if problems else 0


def pre_push() -> int:
    updates = []
    for line in sys.stdin.read().splitlines():
        parts = line.split()
        if len(parts) == 4:
            updates.append((parts[0], parts[1], parts[2], parts[3]))
    ws = api.open_workspace()
    problems = checks.check_push(ws, updates)
    for problem in problems:
        _say(f"push refused: {problem}")
    return 1 if problems else 0


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
            return pre_push()
    except GitmodelError as exc:
        _say(f"{hook} refused: {exc}")
        return 1
    except KeyboardInterrupt:
        return 130
    _say(f"unknown hook {hook!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
