"""Where SurgiPlan finds the data files it ships (presets, tables, the sample case)."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """The project's ``data/`` folder (``SURGIPLAN_DATA`` overrides it)."""
    override = os.environ.get("SURGIPLAN_DATA")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[1] / "data"


def data_file(name: str) -> Path:
    """A file in :func:`data_dir`."""
    return data_dir() / name
