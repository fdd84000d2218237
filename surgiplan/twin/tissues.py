"""The tissue table (``data/tissues.json``): which tissues deform and their default materials."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from surgiplan.io.json_data import read_json
from surgiplan.paths import data_file


@dataclass(frozen=True)
class Tissue:
    """Defaults of one tissue type (user-editable later; see physics.md section 1.6).

    Attributes
    ----------
    name : str
        Tissue type as used in :class:`surgiplan.segmentation.StructureInfo`.
    deformable : bool
        Whether structures of this tissue get a tetrahedral physics mesh.
    youngs_kpa, poisson, density_kg_m3 : float
        Young's modulus (kPa), Poisson's ratio, density (kg/m3).
    """

    name: str
    deformable: bool
    youngs_kpa: float
    poisson: float
    density_kg_m3: float


@lru_cache(maxsize=4)
def load_tissues(path: Path | None = None) -> dict[str, Tissue]:
    """All tissues of the table, by name."""
    table = read_json(path or data_file("tissues.json"), "tissue table")
    return {name: Tissue(name=name, **values) for name, values in table["tissues"].items()}


def tissue(name: str) -> Tissue:
    """The tissue called ``name``, or the default soft tissue when the table does not know it."""
    tissues = load_tissues()
    return tissues.get(name) or tissues["soft_tissue"]
