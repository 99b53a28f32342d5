"""``git model`` commands for remotes (remote, push, pull, fetch, get).

Part of the CLI layer: registers its commands on :data:`gitmodel.cli.app`.
"""

from __future__ import annotations
