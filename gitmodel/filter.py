"""A long-running smudge filter (``filter.gitmodel.process``) that restores artifacts wherever git
writes a model file, including where git runs no hook: ``git reset --hard``, ``git stash`` and
``git stash pop``.

git 2.39 calls a filter declared for ``*.model.toml`` in ``.gitattributes`` exactly when it writes
a model file (docs/design.md, "How artifacts follow git"), so this costs nothing when no model file moves. The
model file's bytes pass through unchanged; the artifact is materialized beside it. The filter
never fails a checkout: problems are reported on stderr and ``git model status`` shows them.
Protocol: gitprotocol-long-running-process(5), pkt-line framing.
"""

from __future__ import annotations

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
# the core imported (benchmarks/RESULTS.md).


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
    """Materializes artifacts for model files as git writes them, one process per git command."""

    def __init__(self) -> None:
        _full_environment()
        from gitmodel import api
        from gitmodel.workspace import load_sync_record

        self.ws: Workspace = api.open_workspace()
        self.record = load_sync_record(self.ws)
        # objects the cache lacks come from the default remote, with short timeouts; the remote
        # module is imported only when an object is missing
        self.fetcher: CheckoutFetcher | None = None
        self.fetcher_made = False
        self.problems_said = 0

    def fetch(self, oids: list[str]) -> None:
        if not self.fetcher_made:
            from gitmodel.remote import checkout_fetcher

            self.fetcher = checkout_fetcher(self.ws)
            self.fetcher_made = True
        if self.fetcher is not None:
            self.fetcher(oids)

    def smudged(self, path: str, data: bytes) -> None:
        from gitmodel import modelfile
        from gitmodel.hook import report_fetch, report_sync
        from gitmodel.workspace import SyncReport, apply_model_file, save_sync_record

        if not modelfile.is_model_file_path(path):
            return
        report = SyncReport()
        entry = apply_model_file(self.ws, path, data, self.record.get(path), report,
                                 fetch=self.fetch)
        if entry is not None:
            self.record[path] = entry
            save_sync_record(self.ws, self.record)
        self.problems_said = report_fetch(self.fetcher, self.problems_said)
        report_sync(report, self.fetcher)


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    handshake(stdin, stdout)
    restorer: Restorer | None = None
    while True:
        try:
            headers = read_text_list(stdin)
        except EOFError:
            return
        fields = dict(h.split("=", 1) for h in headers if "=" in h)
        content = read_content(stdin)
        if fields.get("command") == "smudge":
            try:
                if restorer is None:
                    restorer = Restorer()
                restorer.smudged(fields.get("pathname", ""), content)
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
        serve(sys.stdin.buffer, sys.stdout.buffer)
    except (EOFError, BrokenPipeError):
        return 0
    except ProtocolError as exc:
        print(f"gitmodel: filter: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
