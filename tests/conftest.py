"""Shared fixtures: the real scans in ../shared/data (skipped cleanly when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SURGIPLAN_SHARED_DATA", REPO.parent / "shared" / "data"))


def _locate(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"shared dataset {name} not present at {SHARED_DATA}")
    return path


@pytest.fixture
def shared_data():
    """Return a function giving the path of a shared dataset, skipping when it is absent."""
    return _locate


@pytest.fixture(scope="module")
def shared_data_module():
    """:func:`shared_data` for module-scoped fixtures (load a big scan once per module)."""
    return _locate
