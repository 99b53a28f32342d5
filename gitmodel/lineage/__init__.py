"""Lineage: how a version was made (docs/model-file.md, "Lineage").

Owns capturing what a model file's lineage fields record, cheaply and without importing the
user's frameworks: ``environment`` (the Python environment, from its installed distributions'
metadata files). Never imported on the hook path: only ``add``, ``run`` and the reads that show
lineage need it.
"""

from gitmodel.lineage.environment import (
    Capture,
    Target,
    capture,
    cli_target,
    load_listing,
    process_target,
    save_listing,
)

__all__ = ["Capture", "Target", "capture", "cli_target", "load_listing", "process_target",
           "save_listing"]
