"""``git model`` commands for versions and stages (tag, assign, list, show, history, ...).

Part of the CLI layer: registers its commands on :data:`gitmodel.cli.app`.
"""

from __future__ import annotations
