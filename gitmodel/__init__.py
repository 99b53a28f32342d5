"""gitmodel: version machine-learning models beside the code that made them."""

from __future__ import annotations

__version__ = "0.1.0"
