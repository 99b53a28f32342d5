"""The ``git model`` command line: a thin Typer layer over :mod:`gitmodel.api` and the core.

Owns everything a user sees on a terminal: ``app`` holds the Typer application and the helpers
every command group shares (output, JSON, progress, the error funnel in ``run``); one module per
command group registers its commands on it. Nothing outside this package imports typer.
"""

from __future__ import annotations

# the import order is the order of `git model -h`: work-tree commands first
from gitmodel.cli import workspace

# isort: split
from gitmodel.cli import registry, remote
from gitmodel.cli.app import app, run

__all__ = ["app", "registry", "remote", "run", "workspace"]
