"""``get``: one version into a directory, without a clone."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitmodel import git, modelfile
from gitmodel.config import (
    CONFIG_FILE,
    CommittedRemote,
    default_remote_in,
    history_refs,
    remote_named_at,
)
from gitmodel.errors import ConfigError, GitError, GitmodelError, RemoteError, VersionError
from gitmodel.hashing import Progress
from gitmodel.remote.backends import open_remote
from gitmodel.remote.needs import needs_of_model
from gitmodel.remote.parallel import DEFAULT_JOBS
from gitmodel.remote.transfer import Plan, TransferReport, absent_error, fetch_objects
from gitmodel.semver import ModelSpec, Register, parse_spec, parse_tag
from gitmodel.store import ObjectStore
from gitmodel.workspace import Model

# -- get: one version into a directory, without a clone ----------------------------------------

@dataclass
class GetResult:
    name: str
    version: str
    commit: str
    tag: str
    remote: str
    files: list[str]
    report: TransferReport
    note: str = ""


def get(repo_url: str, spec_text: str, output: Path, *, remote_url: str | None = None,
        jobs: int = DEFAULT_JOBS, progress: Progress | None = None,
        plan: Plan | None = None) -> GetResult:
    """Write one version's artifact into ``output``, without a clone: a shallow fetch of that
    model's tags (and their commits, at depth 1) into a temporary bare repo, resolved by the
    same registry rules as in a clone, then only that version's objects, verified."""
    import tempfile

    from gitmodel import registry

    spec = parse_spec(spec_text)
    if spec.range is None and spec.stage is None:
        spec = parse_spec(f"{spec.name}@latest")
    local = Path(repo_url)
    if local.exists():
        repo_url = str(local.resolve())
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".gitmodel-get-", dir=output.parent) as tmp:
        bare = Path(tmp) / "repo.git"
        git.run(["init", "-q", "--bare", str(bare)], None)
        url = repo_url if not local.exists() else f"file://{repo_url}"
        all_tags = _list_tags(url, repo_url)
        refs = _tags_to_fetch(all_tags, url, spec)
        if not refs:
            raise VersionError(f"{repo_url} has no registered versions of {spec.name}")
        try:
            git.run(["fetch", "-q", "--depth", "1", "--no-tags", "--stdin", url], bare,
                    input="".join(f"+{r}:{r}\n" for r in refs).encode())
        except GitmodelError as exc:
            raise RemoteError(f"cannot fetch the tags of {spec.name} from {repo_url}: {exc}"
                              ) from None
        reg = registry.read(bare, spec.name)
        if not reg.model(spec.name).versions:
            raise VersionError(f"{repo_url} has no registered versions of {spec.name}")
        ver = registry.resolve_version(reg, spec)
        notes = [f"stage {spec.stage}: {ver.tag}"] if spec.stage is not None else []
        path, model_spec, _ = registry.model_file_of(bare, ver)
        model = Model(path, model_spec)
        options: dict[str, Any] = {}
        if remote_url is None:
            found = _find_remote(bare, url, repo_url, ver.commit, ver.tag, all_tags, refs)
            remote_url, options = found.url, found.options
            if found.where:
                # the version predates `git model remote add`: say where the remote came from
                notes.append(f"remote {found.name} from {found.where}")
        base = local if local.is_dir() else None
        remote = open_remote(remote_url, options, base=base, jobs=jobs)
        store = ObjectStore(Path(tmp) / "cache")
        version = ver.version
        output.mkdir(exist_ok=True)
        report = fetch_objects(store, remote, needs_of_model(model, version), jobs=jobs,
                               progress=progress, plan=plan)
        if report.absent:
            archive = report.archives.get(report.absent[0].oid)
            named = _archive_remote(bare, url, archive) if archive else None
            if named is not None and archive:
                # released to an archive the repository names as a remote: fetch from there
                source = open_remote(archive, named.options, base=base, jobs=jobs)
                again = fetch_objects(store, source, report.absent, jobs=jobs,
                                      progress=progress)
                if not again.absent:
                    notes.append(f"from the archive {named.name} ({archive}): "
                                 f"{report.released[report.absent[0].oid]}")
                    report.transferred += again.transferred
                    report.bytes += again.bytes
                    report.absent = []
        if report.absent:
            archive = report.archives.get(report.absent[0].oid)
            if archive:  # released to an archive: say how to get it from there
                raise RemoteError(f"{report.released[report.absent[0].oid]}; get it from "
                                  f"there with `git model get {repo_url} {spec_text} -o "
                                  f"{output} --remote {archive}`")
            raise absent_error(report)
        written = []
        artifact = model.spec.artifact
        for entry in model.spec.files:
            if model.spec.is_directory:
                relative = entry.path[len(artifact) + 1:] if entry.path.startswith(
                    artifact + "/") else entry.path
            else:
                relative = Path(entry.path).name
            modelfile.check_relative_path(relative, "path")
            target = output / relative
            store.materialize(entry.oid, target)
            written.append(relative)
    return GetResult(spec.name, version, ver.commit, ver.tag, remote_url, written, report,
                     "; ".join(notes))


def _archive_remote(bare: Path, url: str, archive: str) -> CommittedRemote | None:
    """The remote with URL ``archive`` that the repository's default branch names in its
    ``.gitmodel.toml`` (an archive is added long after the versions it ends up holding, so the
    version's own commit seldom names it): its name and options (an endpoint, a region)."""
    from gitmodel.config import parse_remotes

    with contextlib.suppress(GitError):
        if not git.run(["for-each-ref", HEAD_REF], bare).strip():
            git.run(["fetch", "-q", "--depth", "1", "--no-tags", url, f"+HEAD:{HEAD_REF}"],
                    bare)
    data = git.read_blobs(bare, [f"{HEAD_REF}:{CONFIG_FILE}"]).get(f"{HEAD_REF}:{CONFIG_FILE}")
    if data is None:
        return None
    try:
        import tomllib

        remotes, _, options = parse_remotes(tomllib.loads(data.decode()).get("remote", {}))
    except (ConfigError, ValueError, UnicodeDecodeError, RecursionError):
        return None
    for name, candidate in sorted(remotes.items()):
        if candidate.rstrip("/") == archive.rstrip("/"):
            return CommittedRemote(name, candidate, options.get(name, {}), where=HEAD_REF)
    return None


def _list_tags(url: str, shown: str) -> list[str]:
    """Every tag ref of the repository at ``url``: one ``git ls-remote``, no objects."""
    try:
        out = git.run(["ls-remote", "--tags", "--refs", url], None)
    except GitError as exc:
        cause = git.failure_line(exc.stderr).removeprefix("fatal: ") or str(exc)
        raise RemoteError(f"cannot read the repository {shown}: {cause}; check its URL or path"
                          ) from None
    return [line.split("\t", 1)[1] for line in out.splitlines() if "\t" in line]


def _tags_to_fetch(all_tags: list[str], url: str, spec: ModelSpec) -> list[str]:
    """The tag refs ``get`` needs: for an exact version only its tag (and a deregistration of
    it), so one commit crosses the network; for a range or a stage every tag of the model, since
    stages are resolved by tag dates as in a clone."""
    tagname = spec.name.replace(":", "=")
    at, hash_ = f"refs/tags/{tagname}@", f"refs/tags/{tagname}#"
    refs = [r for r in all_tags if r.startswith((at, hash_))]
    if spec.range is not None and spec.range.exact is not None and refs:
        exact = at + spec.range.exact.tag_text
        chosen = [r for r in refs if r == exact or r.startswith(exact + "!")]
        if not chosen:
            versions = sorted({r[len(at):] for r in refs
                               if isinstance(parse_tag(r[len("refs/tags/"):]), Register)})
            raise VersionError(f"{url} has no version {spec.range.exact.tag_text} of "
                               f"{spec.name} (versions: {', '.join(versions) or 'none'})")
        refs = chosen
    return refs


HEAD_REF = "refs/gitmodel-get/HEAD"


def _find_remote(bare: Path, url: str, shown: str, commit: str, tag: str, all_tags: list[str],
                 fetched: list[str]) -> CommittedRemote:
    """The default model remote for a version: the one its own commit's ``.gitmodel.toml``
    names; else (the version predates `git model remote add`, the usual order of events) the one
    the repository's default branch names, then the newest tag that names one. Each step fetches
    only when the one before found nothing: the branch tip at depth 1, then the other tags."""
    data = git.read_blobs(bare, [f"{commit}:{CONFIG_FILE}"]).get(f"{commit}:{CONFIG_FILE}")
    try:
        own = default_remote_in(data)
    except ConfigError as exc:
        raise RemoteError(f"{exc} at {tag}; pass --remote URL") from None
    if own is not None:
        return CommittedRemote(*own, where="")
    with contextlib.suppress(GitError):  # an empty repository has no HEAD to fetch
        git.run(["fetch", "-q", "--depth", "1", "--no-tags", url, f"+HEAD:{HEAD_REF}"], bare)
        found = remote_named_at(bare, [HEAD_REF])
        if found is not None:
            return CommittedRemote(found.name, found.url, found.options,
                                   where="the default branch")
    others = [r for r in all_tags if r not in fetched]
    if others:
        with contextlib.suppress(GitError):
            git.run(["fetch", "-q", "--depth", "1", "--no-tags", "--stdin", url], bare,
                    input="".join(f"+{r}:{r}\n" for r in others).encode())
    found = remote_named_at(bare, [r for r in history_refs(bare) if r.startswith("refs/tags/")])
    if found is not None:
        return CommittedRemote(found.name, found.url, found.options,
                               where=f"tag {found.where.removeprefix('refs/tags/')}")
    raise RemoteError(f"{shown} names no default model remote (not at {tag}, on its default "
                      "branch, or at any tag); pass --remote URL, or add one there with "
                      "`git model remote add origin URL --default` and commit .gitmodel.toml")
