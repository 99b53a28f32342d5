#!/bin/sh
# gitmodel @HOOK@ hook (gitmodel-hook-version @VERSION@)
# Written by `git model install`; `git model install --uninstall` removes it. A hook that was
# here before is kept as @HOOK@.gitmodel-chained beside this file and still runs.
# The decisions below run in sh with a few git calls, about 1.5 ms each (post-checkout up to
# four, pre-commit three, post-merge one, pre-push one and, for version tags, up to five more), so
# that a checkout or commit that moves no model file never starts Python (docs/hooks.md).
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

# A pushed version tag needs its objects here (issue 3) and on the model remote. When every
# pushed tag names them in Model-Oid trailers (as `git model tag` writes), each is in the cache,
# and the record of what the model remote holds lists it, there is nothing to do. This reads the
# cache layout and the record that gitmodel/store.py and gitmodel/remote.py write; anything
# unexpected returns 1, and Python decides.
versions_in_place() {
  url=$(git config --get "model.remote.$1.url") ||
    { name=$(git config --get model.defaultremote) && url=$(git config --get "model.remote.$name.url"); } ||
    return 1
  common=$(git rev-parse --git-common-dir 2>/dev/null) || return 1
  record="$common/model/remotes/$(printf '%s' "$url" | sha256sum | cut -c1-16).oids"
  [ -f "$record" ] || return 1
  # the record holds only while no remote gc ran since Python last listed the gc records
  # (gitmodel/remote/records.py): trust a check made in the last 10 minutes, no older one
  [ -n "$(find "${record%.oids}.gc" -mmin -10 2>/dev/null)" ] || return 1
  # shellcheck disable=SC2086
  lines=$(git for-each-ref --format='x %(trailers:key=Model-Oid,valueonly,separator=%x20)' $tagrefs) ||
    return 1
  [ -n "$lines" ] || return 1
  while read -r mark oids; do
    [ -n "$oids" ] || return 1  # a tag without trailers (made by hand)
    for oid in $oids; do
      hex=${oid#sha256:}
      rest=${hex#??}
      [ -f "$common/model/objects/${hex%"$rest"}/$rest" ] || return 1
      grep -qxF "$oid" "$record" || return 1
    done
  done <<EOF
$lines
EOF
  return 0
}

case "$hook" in
  pre-commit)
    # both run, so the user sees every reason at once; either can refuse
    run_chained "$@"
    status=$?
    # Python only when a model file, a file of at least 64 KiB (the smallest size limit
    # gitmodel accepts), or a file a model file in the index describes (an artifact whose
    # ignore line was lost) is staged: a commit of code alone costs a few ms, not a Python start.
    if staged=$(git diff-index --cached --no-renames --diff-filter=AMT HEAD 2>/dev/null); then
      [ -n "$staged" ] || exit $status
      if ! printf '%s\n' "$staged" | grep -q '\.model\.toml"\{0,1\}$' &&
         ! printf '%s\n' "$staged" | awk '{print $4}' |
           git cat-file --batch-check='%(objectsize)' | awk '$1 >= 65536 {f=1} END {exit !f}' &&
         ! printf '%s\n' "$staged" | awk -F '\t' '{
             p = $2; print ":" p ".model.toml"
             while (sub(/\/[^\/]*$/, "", p)) print ":" p ".model.toml" }' |
           git cat-file --batch-check='%(objecttype)' | grep -q '^blob$'; then
        exit $status
      fi
    fi
    run_gitmodel "$@" || exit $?
    exit $status ;;
  pre-push)
    run_chained "$@"
    status=$?
    [ -n "$stdin_data" ] || exit $status
    # Python (and any upload) only when a pushed commit not yet on this git remote touches a
    # model file, or a pushed version tag's objects are not known to be in place: a few git
    # calls decide "nothing new" (docs/remotes.md)
    shas=
    tagrefs=
    others=
    while read -r lref lsha rref rsha; do
      [ "$lsha" = 0000000000000000000000000000000000000000 ] && continue
      case "$rref" in
        refs/tags/*@v*) tagrefs="$tagrefs $lref" ;;
        *) others=1 ;;
      esac
      shas="$shas $lsha"
    done <<EOF
$stdin_data
EOF
    [ -n "$shas" ] || exit $status
    # shellcheck disable=SC2086
    new=$(git log -1 --format=%h $shas --not --remotes="$1" -- "$pathspec" 2>/dev/null) || new=x
    if [ -z "$new" ]; then
      [ -z "$tagrefs" ] && exit $status
      [ -z "$others" ] && versions_in_place "$1" && exit $status
    fi
    run_gitmodel "$@" || exit $?
    exit $status ;;
  post-checkout)
    run_chained "$@"
    status=$?
    if [ "$3" = 1 ]; then
      old=$1
      [ "$old" = 0000000000000000000000000000000000000000 ] && old=4b825dc642cb6eb9a060e54bf8d69288fbee4904
      git diff --quiet "$old" "$2" -- "$pathspec" 2>/dev/null && exit $status
      # a deleted model file takes its artifact with it: that needs Python
      if ! git diff --quiet --no-renames --diff-filter=D "$old" "$2" -- "$pathspec" 2>/dev/null; then
        run_gitmodel "$@"
        exit $status
      fi
    fi
    # Every model file git wrote (a branch switch, or `checkout REV -- path` and `restore`, flag
    # 0) went through the gitmodel filter, which restored its artifact already: Python is
    # needed only where the filter is not in place.
    if [ -n "$(git config --get filter.gitmodel.process 2>/dev/null)" ]; then
      case "$(git check-attr filter -- gitmodel-probe.model.toml 2>/dev/null)" in
        *": filter: gitmodel") exit $status ;;
      esac
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
