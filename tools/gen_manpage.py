"""Write man/man1/git-model.1 from the CLI itself, so `git model --help` (which git hands to
`man git-model`) always lists every command. Run: python tools/gen_manpage.py
tests/test_cli.py fails when the committed page is out of date."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import typer.main

from gitmodel import __version__
from gitmodel.cli import app

PAGE = Path(__file__).resolve().parents[1] / "man" / "man1" / "git-model.1"


def _escape(text: str) -> str:
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(("\\&" + line) if line.startswith((".", "'")) else line
                     for line in text.splitlines())


def render() -> str:
    group = typer.main.get_command(app)
    assert isinstance(group, click.Group)
    ctx = click.Context(group, info_name="git model")
    out = [
        f'.TH GIT\\-MODEL 1 "" "gitmodel {__version__}" "Git Manual"',
        ".SH NAME",
        "git\\-model \\- version machine\\-learning models beside the code that made them",
        ".SH SYNOPSIS",
        ".B git model",
        "\\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGS\\fR]",
        ".SH DESCRIPTION",
        _escape(
            "git model keeps large model files in a content-addressed cache outside git "
            "history and commits one small TOML model file per model (the pointer plus its "
            "metadata). Git hooks and a smudge filter restore the matching artifacts whenever "
            "git moves a model file, and the pre-commit hook refuses commits that would lose "
            "or corrupt one. `git model -h` prints a short summary; `git model COMMAND -h` "
            "the options of one command. Full documentation: the docs/ folder of the project."
        ),
        ".SH COMMANDS",
    ]
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        sub = click.Context(command, info_name=name, parent=ctx)
        usage = " ".join(command.collect_usage_pieces(sub))
        out += [".TP", f"\\fBgit model {_escape(name)}\\fR {_escape(usage)}",
                _escape(command.get_short_help_str(limit=200))]
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                flags = ", ".join(param.opts)
                out += [".RS", ".TP", f"\\fB{_escape(flags)}\\fR", _escape(param.help or ""),
                        ".RE"]
    out += [".SH EXIT STATUS",
            "0 success; 1 an error the message explains; 2 bad usage; 3 an unexpected error "
            "(a bug: the message names a log file); 130 interrupted.",
            ".SH SEE ALSO", "\\fBgit\\fR(1), \\fBgitattributes\\fR(5), \\fBgithooks\\fR(5)", ""]
    return "\n".join(out)


if __name__ == "__main__":
    PAGE.parent.mkdir(parents=True, exist_ok=True)
    PAGE.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {PAGE}\n")
