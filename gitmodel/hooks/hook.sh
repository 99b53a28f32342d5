#!/bin/sh
# gitmodel @HOOK@ hook (gitmodel-hook-version @VERSION@)
# Written by `git model install`; `git model install --uninstall` removes it. A hook that was
# here before is kept as @HOOK@.gitmodel-chained beside this file and still runs.
# The decisions below run in sh with at most one git call, so that a checkout or commit that
# moves no model file never starts Python (see docs/hooks.md).
GITMODEL_PYTHON='@PYTHON@'
hook='@HOOK@'
chained="$(dirname "$0")/$hook.gitmodel-chained"
pathspec='@PATHSPEC@'

case "$hook" in
  pre-push|post-rewrite) stdin_data=$(cat) ;;
esac

run_chained() {
  [ -x "$chained" ] || return 0
  if [ -n "${stdin_data:-}" ]; then
    printf '%s\n' "$stdin_data" | "$chained" "$@"
  else
    "$chained" "$@" </dev/null
  fi
}

run_gitmodel() {
  if [ ! -x "$GITMODEL_PYTHON" ]; then
    case "$hook" in
      pre-*)
        echo "gitmodel: the Python that installed this hook ($GITMODEL_PYTHON) is gone, so models cannot be checked; reinstall gitmodel and run \`git model install\` (or bypass once with --no-verify)" >&2
        return 1 ;;
      *)
        echo "gitmodel: warning: the Python that installed this hook ($GITMODEL_PYTHON) is gone, so artifacts were not restored; reinstall gitmodel and run \`git model install\`" >&2
        return 0 ;;
    esac
  fi
  if [ -n "${stdin_data:-}" ]; then
    printf '%s\n' "$stdin_data" | "$GITMODEL_PYTHON" -m gitmodel.hook "$hook" "$@"
  else
    "$GITMODEL_PYTHON" -m gitmodel.hook "$hook" "$@" </dev/null
  fi
}

case "$hook" in
  pre-commit|pre-push)
    # both run, so the user sees every reason at once; either can refuse
    run_chained "$@"
    status=$?
    case "$hook" in pre-push) [ -n "$stdin_data" ] || exit $status ;; esac
    run_gitmodel "$@" || exit $?
    exit $status ;;
  post-checkout)
    run_chained "$@"
    status=$?
    if [ "$3" = 1 ]; then
      old=$1
      [ "$old" = 0000000000000000000000000000000000000000 ] && old=4b825dc642cb6eb9a060e54bf8d69288fbee4904
      git diff --quiet "$old" "$2" -- "$pathspec" 2>/dev/null && exit $status
    fi
    run_gitmodel "$@"
    exit $status ;;
  post-merge)
    run_chained "$@"
    status=$?
    git diff --quiet ORIG_HEAD HEAD -- "$pathspec" 2>/dev/null && exit $status
    run_gitmodel "$@"
    exit $status ;;
  post-rewrite)
    run_chained "$@"
    status=$?
    # an amend leaves the work tree as it was
    [ "$1" = amend ] && exit $status
    run_gitmodel "$@"
    exit $status ;;
esac
