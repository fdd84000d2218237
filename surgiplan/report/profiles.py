"""Distance from an instrument's planned path to each critical structure, along the path.

The path entry -> target is sampled every :data:`STEP_MM` and each sample is measured against
each critical structure the way the plan check measures an incision's clearance
(:func:`surgiplan.simulation.plan_check.incision_findings`): the collision proxy's distance to
the point (``CollisionProxy.distance_to_point``) and, inside the structure, 0 (the world's
``contains``). Subtracting the shaft radius gives the clearance of the shaft's surface at that
depth, the quantity the ``safety_margin`` rule compares with its thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from surgiplan.case.model import Case
from surgiplan.plan.catalogue import Catalogue
from surgiplan.plan.model import InstrumentPlacement
from surgiplan.simulation.collision import CollisionWorld

STEP_MM = 1.0
"""Spacing of the path samples (mm)."""
MAX_SAMPLES = 400
"""Most samples per path (long paths are sampled more coarsely)."""


@dataclass(frozen=True)
class DistanceProfile:
    """Clearance of one instrument's path to each critical structure, from entry to target.

    Attributes
    ----------
    item_id : str
        Instrument placement id.
    instrument : str
        Catalogue id.
    along_mm : (n,) float64 ndarray
        Arc length of each sample from the entry (mm), 0 .. path length.
    clearance_mm : dict of str to (n,) float64 ndarray
        Per critical structure: distance from the sample to its surface minus the shaft
        radius (mm); ``-shaft_radius_mm`` where the sample lies inside the structure.
    shaft_radius_mm : float
        Radius subtracted (mm).
    """

    item_id: str
    instrument: str
    along_mm: np.ndarray
    clearance_mm: dict[str, np.ndarray]
    shaft_radius_mm: float

    def closest(self) -> tuple[str, float, float] | None:
        """(structure, smallest clearance mm, depth mm where it occurs), or ``None``."""
        if not self.clearance_mm:
            return None
        name = min(self.clearance_mm, key=lambda n: float(self.clearance_mm[n].min()))
        values = self.clearance_mm[name]
        i = int(np.argmin(values))
        return name, float(values[i]), float(self.along_mm[i])


def path_of(placement: InstrumentPlacement) -> tuple[np.ndarray, np.ndarray] | None:
    """(entry, target) LPS mm of a placement's straight path, as the Slicer export defines it
    (:func:`surgiplan.plan.markups.trajectories_from_plan`); ``None`` when it has none."""
    if placement.entry_lps_mm is not None and placement.target_lps_mm is not None:
        return np.asarray(placement.entry_lps_mm), np.asarray(placement.target_lps_mm)
    if placement.insertion_depth_mm > 0:
        tip = placement.tip_lps_mm
        return tip - placement.axis * placement.insertion_depth_mm, tip
    return None


def distance_profile(case: Case, placement: InstrumentPlacement, world: CollisionWorld,
                     catalogue: Catalogue) -> DistanceProfile | None:
    """Sample ``placement``'s path and measure it against ``world``'s critical structures.

    Parameters
    ----------
    case : Case
        Its twin's collision proxies measure the distances.
    placement : InstrumentPlacement
        The instrument; ``None`` is returned when it has no path.
    world : CollisionWorld
        Built on ``case.twin``; its ``critical`` structures are measured.
    catalogue : Catalogue
        Gives the shaft radius (0 for an instrument missing from it).

    Returns
    -------
    DistanceProfile or None
    """
    path = path_of(placement)
    if path is None:
        return None
    entry, target = path
    length = float(np.linalg.norm(target - entry))
    count = int(min(MAX_SAMPLES, max(2, np.ceil(length / STEP_MM) + 1)))
    along = np.linspace(0.0, length, count)
    unit = (target - entry) / length if length > 0 else np.zeros(3)
    points = entry[None, :] + along[:, None] * unit[None, :]
    radius = (catalogue.get(placement.instrument).shaft_radius_mm
              if placement.instrument in catalogue else 0.0)
    clearance = {}
    for name in world.critical:
        proxy = case.twin.structure(name).collision
        entry_in_world = world.structure(name)
        distances = np.array([0.0 if entry_in_world.contains(point)
                              else proxy.distance_to_point(point).distance_mm
                              for point in points])
        clearance[name] = distances - radius
    return DistanceProfile(placement.id, placement.instrument, along, clearance, float(radius))
