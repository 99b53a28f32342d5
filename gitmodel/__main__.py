"""``git-model`` executable (git runs it for ``git model``)."""

from __future__ import annotations

import sys


def main() -> None:
    # `--version` answers before Typer is imported: it is what scripts poll.
    if sys.argv[1:] == ["--version"]:
        from gitmodel import __version__

        print(f"git-model {__version__}")
        return
    from gitmodel.cli import run

    run()


if __name__ == "__main__":
    main()
