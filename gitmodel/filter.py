"""A long-running smudge filter (``filter.gitmodel.process``) that restores artifacts wherever git
writes a model file, including where git runs no hook: ``git reset --hard``, ``git stash`` and
``git stash pop``.

git 2.39 calls a filter declared for ``*.model.toml`` in ``.gitattributes`` exactly when it writes
a model file (docs/design.md, "How artifacts follow git"), so this costs nothing when no model
file moves. The model file's bytes pass through unchanged; the artifact is materialized beside it
when git is done (see :class:`Restorer`, and docs/security.md for why not earlier). The filter
never fails a checkout: problems are reported on stderr and ``git model status`` shows them.
Protocol: gitprotocol-long-running-process(5), pkt-line framing.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not imported from typing: that import alone costs ~3 ms here
if TYPE_CHECKING:
    from typing import BinaryIO

    from gitmodel.remote import CheckoutFetcher
    from gitmodel.workspace import Workspace

# git also starts this process when it only reads a model file (`git add`, or the index refresh
# of `git status` right after a checkout), just to learn that it offers no clean capability. So
# it is started as `python -I -S` (see install.filter_command), serves the protocol with `sys`
# alone, and sets up site-packages and imports gitmodel's core on the first smudge: such a start
# costs a bare interpreter (~8 ms here) instead of 20 ms with site and runpy, or 70-110 ms with
# the core imported (benchmarks/NOTES.md).


def _full_environment() -> None:
    """What `-S` skipped: site-packages (tomli_w, fsspec...), needed once there is work."""
    if "site" not in sys.modules:
        import site

        site.main()

MAX_PACKET_DATA = 65516


class ProtocolError(Exception):
    pass


def read_packet(stream: BinaryIO) -> bytes | None:
    """One pkt-line's payload, or None for a flush packet."""
    header = stream.read(4)
    if len(header) < 4:
        raise EOFError
    length = int(header, 16)
    if length == 0:
        return None
    if length < 4:
        raise ProtocolError(f"bad pkt-line length {length}")
    payload = stream.read(length - 4)
    if len(payload) != length - 4:
        raise EOFError
    return payload


def read_text_list(stream: BinaryIO) -> list[str]:
    lines = []
    while (packet := read_packet(stream)) is not None:
        lines.append(packet.decode("utf-8", "surrogateescape").rstrip("\n"))
    return lines


def read_content(stream: BinaryIO) -> bytes:
    chunks = []
    while (packet := read_packet(stream)) is not None:
        chunks.append(packet)
    return b"".join(chunks)


def write_packet(stream: BinaryIO, payload: bytes) -> None:
    stream.write(b"%04x" % (len(payload) + 4) + payload)


def flush(stream: BinaryIO) -> None:
    stream.write(b"0000")
    stream.flush()


def write_text(stream: BinaryIO, *lines: str) -> None:
    for line in lines:
        write_packet(stream, (line + "\n").encode())
    flush(stream)


def handshake(stdin: BinaryIO, stdout: BinaryIO) -> None:
    welcome = read_text_list(stdin)
    if "git-filter-client" not in welcome or "version=2" not in welcome:
        raise ProtocolError(f"unexpected filter handshake {welcome!r}")
    write_text(stdout, "git-filter-server", "version=2")
    capabilities = read_text_list(stdin)
    if "capability=smudge" not in capabilities:
        raise ProtocolError("git did not offer the smudge capability")
    write_text(stdout, "capability=smudge")


class Restorer:
    """Notes the model files git writes during one git command, and materializes their
    artifacts when the command is done (:meth:`finish`).

    Not while git writes (issue 9): mid-checkout the index on disk is still the one from before
    the command, so a file that the same checkout adds (a tracked ``aaa.sh`` beside a model file
    naming it) would not count as tracked, and git may already have written it. When git closes
    our stdin, at its exit, it has written its new index, and git waits for this process, so
    the restores still finish before ``git checkout`` returns.
    """

    def __init__(self) -> None:
        # Made at the first smudge, while git waits for the answer: only the index's path is
        # found here, without git. The rest (site-packages, gitmodel's core, the repo's paths
        # from git) is set up on a thread while git writes the work tree and its index and
        # runs post-checkout: it used to come before that, ~60-90 ms of a switch (issue 11).
        import threading

        self.index_file = _guess_index_file()
        self.stamps_trusted = True
        self._prepared: list[BaseException] = []
        self._preparing = threading.Thread(target=self._prepare, name="gitmodel-prepare",
                                           daemon=True)
        self._preparing.start()
        self._ws: Workspace | None = None
        self.written: dict[str, Smudge] = {}  # the last write of each model file wins
        # objects the cache lacks come from the default remote, with short timeouts; the remote
        # module is imported only when an object is missing
        self.fetcher: CheckoutFetcher | None = None
        self.fetcher_made = False

    def _prepare(self) -> None:
        try:
            _full_environment()
            from gitmodel import git

            self.repo = git.find_repo()
            # what finish() imports, imported now (the import lock keeps a half-imported
            # module from being used by the main thread, which imports nothing until then)
            import gitmodel.hook
            import gitmodel.store.restore
            import gitmodel.workspace  # noqa: F401
        except BaseException as exc:
            self._prepared.append(exc)

    def ready(self) -> None:
        """Wait for :meth:`_prepare`; check that the index it stamped is git's own."""
        self._preparing.join()
        if self._prepared:
            raise self._prepared[0]
        index = os.environ.get("GIT_INDEX_FILE")
        actual = os.path.abspath(index) if index else str(self.repo.git_dir / "index")
        if os.path.realpath(actual) != os.path.realpath(self.index_file):
            # the guess was wrong: its stamps prove nothing about when git wrote the index
            self.index_file = actual
            self.stamps_trusted = False

    @property
    def ws(self) -> Workspace:
        """Opened when git is done, so that it reads the .gitmodel.toml git checked out."""
        if self._ws is None:
            from gitmodel import config
            from gitmodel.workspace import Workspace

            self._ws = Workspace.open(self.repo, config.load(self.repo.root))
        return self._ws

    def fetch(self, oids: list[str]) -> None:
        if not self.fetcher_made:
            from gitmodel.remote import checkout_fetcher

            self.fetcher = checkout_fetcher(self.ws)
            self.fetcher_made = True
        if self.fetcher is not None:
            self.fetcher(oids)

    def index_stamp(self) -> tuple[int, ...] | None:
        try:
            st = os.stat(self.index_file)
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def smudged(self, path: str, data: bytes, fields: dict[str, str]) -> None:
        if not path.endswith(".model.toml"):  # modelfile.SUFFIX, without importing it
            return
        self.written[path] = Smudge(data, fields.get("blob"), fields.get("treeish"),
                                    self.index_stamp())

    def finish(self) -> None:
        """git is done: restore the artifacts of the model files it wrote and left in place."""
        self.ready()
        import contextlib

        from gitmodel import git, modelfile
        from gitmodel.errors import GitmodelError
        from gitmodel.hook import report_fetch, report_sync
        from gitmodel.workspace import (
            Model,
            Tracked,
            load_sync_record,
            read_model_file,
            recorded_files,
            sync,
            tracked_pathspecs,
        )

        root = self.repo.root
        # what each written model file would write, and what its previous version left
        record = load_sync_record(self.ws)
        artifacts: list[str] = []
        for path, smudge in self.written.items():
            with contextlib.suppress(GitmodelError):  # sync reports it
                artifacts.append(Model(path, modelfile.loads(smudge.data, path)).artifact_path)
            artifacts += [rel for rel, _ in recorded_files(record.get(path))]
        # one git call: the model files in the new index, and what it tracks among the artifacts
        entries = git.index_entries(root, [modelfile.PATHSPEC, *tracked_pathspecs(root, artifacts)])
        tracked = Tracked(entries)
        index = {p: e for p, e in entries.items() if modelfile.is_model_file_path(p)}
        stamp = self.index_stamp()
        accepted: dict[str, bytes] = {}
        treeishes: set[str] = set()
        unconfirmed = []
        for path, smudge in self.written.items():
            try:
                # read_model_file stops one byte past the size limit: an oversize model
                # file still counts, so that sync reports it as invalid
                if read_model_file(root, path) != smudge.data[:modelfile.MAX_MODEL_FILE_BYTES + 1]:
                    continue  # a later step of the command replaced or removed it
            except (FileNotFoundError, GitmodelError):
                continue
            stages = index.get(path, {})
            if stages.get(0) == smudge.blob or (0 in stages and self.stamps_trusted
                                                and stamp != smudge.index_stamp):
                # the index holds this model file, or git wrote the index after writing it:
                # the index is the tree git checked out, and its tracked files are the guard
                accepted[path] = smudge.data
            elif 0 in stages and smudge.treeish:
                # git did not write its index (the command failed half-way, or wrote the work
                # tree only): the tree it named guards too, beside the index
                accepted[path] = smudge.data
                treeishes.add(smudge.treeish)
            else:
                unconfirmed.append(path)
        if treeishes:
            wanted = {a.casefold() for a in artifacts}
            for treeish in sorted(treeishes):
                # ls-tree knows no icase pathspec: the whole tree, compared here
                tracked.add(p for p in git.tree_tracked(root, treeish, [])
                            if p.casefold() in wanted or any(
                                a.casefold() in wanted for a in _ancestors(p)))
        if accepted:
            report = sync(self.ws, fetch=self.fetch, written=accepted, index=index,
                          tracked=tracked)
            report_fetch(self.fetcher)
            report_sync(report, self.fetcher)
        for path in unconfirmed:
            print(f"gitmodel: warning: git did not record {path} in the index (did the git "
                  "command fail?), so its artifact was not restored; run `git model checkout` "
                  "once the work tree is as you want it", file=sys.stderr)


def _guess_index_file() -> str:
    """The index git uses here, found without running git: ``$GIT_INDEX_FILE``, else ``index``
    in ``$GIT_DIR``, in the ``.git`` folder of the work tree's top (where git runs a filter), or
    where a linked worktree's ``.git`` file points. :meth:`Restorer.ready` checks it against
    git's answer."""
    index = os.environ.get("GIT_INDEX_FILE")
    if index:
        return os.path.abspath(index)
    git_dir = os.environ.get("GIT_DIR") or ".git"
    if not os.environ.get("GIT_DIR"):
        try:
            with open(".git", "rb") as stream:
                head = stream.read(4096)
        except OSError:  # a folder (IsADirectoryError), as usual
            head = b""
        if head.startswith(b"gitdir: "):
            git_dir = head[len(b"gitdir: "):].strip().decode("utf-8", "surrogateescape")
    return os.path.abspath(os.path.join(git_dir, "index"))


def _ancestors(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


class Smudge:
    """One model file as git wrote it."""

    __slots__ = ("blob", "data", "index_stamp", "treeish")

    def __init__(self, data: bytes, blob: str | None, treeish: str | None,
                 index_stamp: tuple[int, ...] | None) -> None:
        self.data = data
        self.blob = blob
        self.treeish = treeish
        self.index_stamp = index_stamp


def serve(stdin: BinaryIO, stdout: BinaryIO) -> Restorer | None:
    """Answer git until it closes the pipe; return what noted the model files it wrote."""
    handshake(stdin, stdout)
    restorer: Restorer | None = None
    while True:
        try:
            headers = read_text_list(stdin)
        except EOFError:
            return restorer
        fields = dict(h.split("=", 1) for h in headers if "=" in h)
        content = read_content(stdin)
        if fields.get("command") == "smudge":
            try:
                if restorer is None:
                    restorer = Restorer()
                restorer.smudged(fields.get("pathname", ""), content, fields)
            except Exception as exc:  # a checkout must never fail because of us
                print(f"gitmodel: warning: could not restore the artifact of "
                      f"{fields.get('pathname')}: {exc}", file=sys.stderr)
        write_text(stdout, "status=success")
        for start in range(0, len(content), MAX_PACKET_DATA):
            write_packet(stdout, content[start:start + MAX_PACKET_DATA])
        flush(stdout)
        flush(stdout)  # keep status=success


def main() -> int:
    try:
        restorer = serve(sys.stdin.buffer, sys.stdout.buffer)
    except (EOFError, BrokenPipeError):
        return 0
    except ProtocolError as exc:
        print(f"gitmodel: filter: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group: git says it
        return 130
    if restorer is not None:
        try:
            restorer.finish()
        except KeyboardInterrupt:
            print("gitmodel: interrupted; run `git model checkout` to finish restoring "
                  "artifacts", file=sys.stderr)
            return 130
        except Exception as exc:  # git is done; say what went wrong, never a traceback
            from gitmodel.errors import environment_problem

            print(f"gitmodel: warning: could not restore artifacts: "
                  f"{environment_problem(exc) or exc}; `git model checkout` finishes the job",
                  file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
