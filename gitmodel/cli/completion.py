"""``git model completion bash|zsh``: print the shell completion script (as gh and kubectl do).

The script is two parts. Its tables (every command, subcommand and option, which options take a
value, and what kind of word each argument is) are generated here from the click command tree,
so they follow the CLI without anyone editing them. Its functions are the resources under
``gitmodel/shell/``: on a TAB they ask git directly (``for-each-ref``, ``grep``, ``cat-file``)
for model names, versions, stages and remotes, so completing a model name costs a few
milliseconds where starting Python would cost ~60 (benchmarks/NOTES.md).
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated

import click
import typer

from gitmodel.cli.app import app

SHELLS = ("bash", "zsh")

# What each argument completes to, by "COMMAND PARAM" (see __git_model_kind in shell/common.sh):
# model (names in the work tree or the registry), wmodel (work tree only), spec
# (NAME, NAME@VERSION, NAME#STAGE), wspec (the same, names from the work tree), version (of the
# command's first argument), stage (any stage), mstage (stages the first argument holds),
# remote, tag, ref, file, none. A "..." suffix is added for arguments taking many words.
# Path arguments default to file; every other argument must be listed (a test checks).
ARG_KINDS = {
    "status names": "wmodel", "checkout names": "wspec", "recover oid": "none",
    "tag name": "model", "tag version": "none",
    "assign name": "model", "assign version": "version", "assign stage": "stage",
    "unassign name": "model", "unassign stage": "mstage", "unassign version": "version",
    "deregister name": "model", "deregister version": "version", "deprecate name": "model",
    "show spec": "spec", "history name": "model", "diff old": "spec", "diff new": "spec",
    "rollback name": "model", "rollback version": "version", "check-ref ref": "tag",
    "verify spec": "spec",
    "remote add name": "none", "remote add url": "file", "remote remove name": "remote",
    "push names": "wmodel", "pull specs": "wspec", "fetch specs": "wspec",
    "get repo": "file", "get spec": "none",
}
# What the value of an option completes to, by its long name; Path options default to file,
# Choice options to their choices, the rest to nothing (free text such as --message).
OPTION_KINDS = {"--remote": "remote", "--bump": "choice:major,minor,patch", "--rev": "ref"}
HELP_OPTIONS = ("-h", "--help")


def _kind(param: click.Parameter, where: str, table: dict[str, str]) -> str:
    if isinstance(param.type, click.Choice):
        kind = "choice:" + ",".join(str(c) for c in param.type.choices)
    elif where in table:
        kind = table[where]
    elif isinstance(param.type, click.Path):
        kind = "file"
    elif isinstance(param, click.Option):
        kind = "none"
    else:
        raise KeyError(f"completion: say what argument {where!r} completes to in ARG_KINDS")
    return kind + ("..." if param.nargs == -1 else "")


def _quote(lines: list[str]) -> str:
    body = "\n".join(lines)
    assert "'" not in body, body
    return f"'{body}'"


def _walk(command: click.Command, path: list[str]) -> list[tuple[str, click.Command]]:
    found = [(" ".join(path), command)] if path else []
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            if not sub.hidden:
                found += _walk(sub, [*path, name])
    return found


def tables() -> str:
    """The generated part of the script: __git_model_commands, __git_model_spec and
    __git_model_option_kind."""
    import typer.main

    from gitmodel.cli import load_commands

    load_commands()
    root = typer.main.get_command(app)
    assert isinstance(root, click.Group)
    option_kinds: dict[str, str] = {}
    branches = []
    for path, command in _walk(root, []):
        opts: list[str] = []
        valopts: list[str] = []
        args: list[str] = []
        for param in command.params:
            if isinstance(param, click.Option):
                names = [*param.opts, *param.secondary_opts]
                opts += names
                if param.is_flag or param.count:
                    continue
                valopts += param.opts
                longest = max(param.opts, key=len)
                kind = _kind(param, longest, OPTION_KINDS)
                for name in param.opts:
                    if option_kinds.setdefault(name, kind) != kind:
                        raise ValueError(f"completion: option {name} means two things")
            elif isinstance(param, click.Argument):
                args.append(_kind(param, f"{path} {param.name}", ARG_KINDS))
        subcommands = (sorted(n for n, c in command.commands.items() if not c.hidden)
                       if isinstance(command, click.Group) else [])
        branches.append(
            f"\t{path.replace(' ', chr(92) + ' ')})\n"
            f"\t\t__git_model_opts={_quote([*opts, *HELP_OPTIONS])}\n"
            f"\t\t__git_model_valopts=' {' '.join(valopts)} '\n"
            f"\t\t__git_model_subcommands={_quote(subcommands)}\n"
            f"\t\t__git_model_args='{' '.join(args)}' ;;")
    commands = sorted(n for n, c in root.commands.items() if not c.hidden)
    kinds = "\n".join(f"\t{name}) echo '{kind}' ;;" for name, kind in sorted(option_kinds.items()))
    return (
        f"__git_model_commands={_quote(commands)}\n\n"
        "# Sets __git_model_opts, _valopts (options taking a value), _subcommands and _args (the\n"
        "# kind of each argument) for the command path $1 (\"status\", \"remote add\").\n"
        "__git_model_spec () {\n"
        "\t__git_model_opts='' __git_model_valopts=' ' __git_model_subcommands=''\n"
        "\t__git_model_args=''\n"
        "\tcase \"$1\" in\n" + "\n".join(branches) + "\n\tesac\n}\n\n"
        "__git_model_option_kind () {\n\tcase \"$1\" in\n" + kinds + "\n\tesac\n}\n"
    )


def script(shell: str) -> str:
    """The whole completion script for ``shell`` (bash or zsh)."""
    if shell not in SHELLS:
        raise ValueError(f"no completion for {shell!r}; use one of {', '.join(SHELLS)}")
    from gitmodel import __version__

    folder = resources.files("gitmodel") / "shell"
    enable = {"bash": 'eval "$(git model completion bash)"  # in ~/.bashrc',
              "zsh": 'eval "$(git model completion zsh)"  # in ~/.zshrc, after compinit'}[shell]
    return (
        f"# `git model` completion for {shell}, generated by gitmodel {__version__}.\n"
        f"# Enable it with: {enable}\n\n"
        + tables() + "\n"
        + folder.joinpath("common.sh").read_text(encoding="utf-8") + "\n"
        + folder.joinpath(f"{shell}.sh").read_text(encoding="utf-8")
    )


@app.command()
def completion(
    shell: Annotated[str, typer.Argument(
        click_type=click.Choice(SHELLS),
        help="bash or zsh.", show_default=False)],
) -> None:
    """Print the shell completion script for bash or zsh."""
    typer.echo(script(shell), nl=False)
