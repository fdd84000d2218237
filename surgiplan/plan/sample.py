"""A sample plan on a twin: a percutaneous needle to a target and a subcostal incision.

Used by ``surgiplan demo`` on the bundled phantom, and as a worked example of the plan API.
The needle path is chosen the way a radiologist would start: the shortest straight path from
the skin to the target that crosses no bone and no critical structure and enters the skin at
a reasonable angle.
"""

from __future__ import annotations

import numpy as np

from surgiplan.errors import InputError
from surgiplan.plan.catalogue import Catalogue
from surgiplan.plan.model import Incision, InstrumentPlacement
from surgiplan.plan.placement import place_along_path
from surgiplan.plan.plan_json import PlanItems
from surgiplan.plan.trajectory import analyse_trajectory, surface_hits
from surgiplan.twin.tissues import tissue
from surgiplan.twin.twin import PatientTwin

MAX_SKIN_ANGLE_DEG = 45.0


def _directions(count: int = 400) -> np.ndarray:
    """(count, 3) unit vectors spread evenly over the sphere (Fibonacci lattice)."""
    n = np.arange(count) + 0.5
    polar = np.arccos(1 - 2 * n / count)
    azimuth = np.pi * (1 + 5**0.5) * n
    return np.stack([np.cos(azimuth) * np.sin(polar), np.sin(azimuth) * np.sin(polar),
                     np.cos(polar)], axis=1)


def _skin_exit(twin: PatientTwin, skin: str, target: np.ndarray,
               direction: np.ndarray) -> np.ndarray | None:
    hits = surface_hits(twin.structure(skin).surface, target, direction)
    leaving = hits.distances_mm[~hits.entering]
    return None if leaving.size == 0 else target + leaving[-1] * direction


def _forbidden(twin: PatientTwin, name: str, target_structure: str | None) -> bool:
    info = twin.structure(name).info
    rigid = not tissue(info.tissue).deformable
    return name != target_structure and (info.critical or rigid)


def safe_needle_path(twin: PatientTwin, target_lps_mm, *, reach_mm: float,
                     skin: str = "skin", target_structure: str | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The shortest skin entry -> target path crossing no bone or critical structure.

    Parameters
    ----------
    twin : PatientTwin
        With a closed skin (body outline) surface.
    target_lps_mm : (3,) float
        Where the tip must go (LPS mm).
    reach_mm : float
        Longest acceptable path (the instrument's working length).
    target_structure : str, optional
        The structure holding the target (it may be critical and still be crossed).

    Returns
    -------
    (entry_lps_mm, target_lps_mm)
        Each (3,) float64.

    Raises
    ------
    InputError
        When no direction gives a safe path within reach.
    """
    target = np.asarray(target_lps_mm, dtype=np.float64)
    best, best_length = None, np.inf
    for direction in _directions():
        entry = _skin_exit(twin, skin, target, direction)
        if entry is None:
            continue
        length = float(np.linalg.norm(entry - target))
        if length >= min(best_length, reach_mm):
            continue
        trajectory = analyse_trajectory(twin, entry, target, skin=skin)
        angle = trajectory.angle_to_skin_normal_deg
        crossed = {c.structure for c in trajectory.crossings}
        if angle is None or angle > MAX_SKIN_ANGLE_DEG:
            continue
        if any(_forbidden(twin, name, target_structure) for name in crossed):
            continue
        best, best_length = entry, length
    if best is None:
        raise InputError(f"no safe straight path of at most {reach_mm:.0f} mm reaches the "
                         "target: choose a longer instrument or plan another approach")
    return best, target


def subcostal_points(twin: PatientTwin, *, skin: str = "skin", ribs: str = "ribs",
                     below_mm: float = 25.0, count: int = 4) -> list[np.ndarray]:
    """Points on the anterior skin of the right upper abdomen, below the costal margin.

    The cut runs at a level ``below_mm`` under the lowest rib on the patient's right
    (negative L), from the lateral towards the midline, on the anterior (-P) skin.
    """
    rib_vertices = twin.structure(ribs).surface.vertices_lps_mm
    right = rib_vertices[rib_vertices[:, 0] < 0]
    level_z = float(right[:, 2].min()) - below_mm
    skin_vertices = twin.structure(skin).surface.vertices_lps_mm
    near = skin_vertices[np.abs(skin_vertices[:, 2] - level_z) < 10.0]
    centre_y = float(near[:, 1].mean())
    lateral_x = float(near[:, 0].min())
    points = []
    for x in np.linspace(0.75 * lateral_x, 0.15 * lateral_x, count):
        origin = np.array([x, centre_y, level_z])
        exit_point = _skin_exit(twin, skin, origin, np.array([0.0, -1.0, 0.0]))
        if exit_point is not None:
            points.append(exit_point)
    if len(points) < 2:
        raise InputError("could not place a subcostal incision on this skin surface")
    return points


def sample_plan(twin: PatientTwin, catalogue: Catalogue, target_lps_mm, *,
                target_structure: str = "tumour",
                needle: str = "biopsy_needle_18g") -> PlanItems:
    """A percutaneous needle to ``target_lps_mm`` and a right subcostal incision."""
    instrument = catalogue.get(needle)
    entry, target = safe_needle_path(twin, target_lps_mm, reach_mm=instrument.working_length_mm,
                                     target_structure=target_structure)
    placement: InstrumentPlacement = place_along_path("needle-1", instrument, entry, target)
    cut = Incision("subcostal-1", "skin",
                   tuple(tuple(float(v) for v in p) for p in subcostal_points(twin)),
                   depth_mm=10.0)
    return PlanItems(incisions=(cut,), instruments=(placement,))
