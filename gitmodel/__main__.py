"""``git-model`` executable (git runs it for ``git model``)."""

from __future__ import annotations

import sys


def main() -> None:
    # `--version` answers before Typer is imported: it is what scripts poll.
    if sys.argv[1:] == ["--version"]:
        from gitmodel import __version__

        print(f"git-model {__version__}")
        return
    # Start-up allocates a few hundred thousand objects (Typer, click, the core's classes) that
    # live until exit, so garbage collection passes over them find nothing to free: collect
    # nothing while importing; gitmodel.cli.run then freezes what is loaded and turns collection
    # back on for the command itself. ~20 ms of every command (benchmarks/NOTES.md).
    import gc

    gc.disable()
    from gitmodel.cli import run

    run()


if __name__ == "__main__":
    main()
