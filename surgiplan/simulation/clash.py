"""Clearance between two placed instruments (python-fcl shape-shape distance and collide)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import fcl
import numpy as np

from surgiplan.plan.catalogue import Instrument
from surgiplan.simulation.fcl_compat import nearest_points
from surgiplan.simulation.instrument_geometry import (
    InstrumentGeometry,
    instrument_geometry,
    rigid_pose,
)

_COLLIDE = fcl.CollisionRequest(num_max_contacts=8, enable_contact=True)
_DISTANCE = fcl.DistanceRequest(enable_nearest_points=True)


@dataclass(frozen=True)
class Clash:
    """Clearance between two placed instruments.

    Attributes
    ----------
    distance_mm : float
        Minimum distance between their primitives, mm (0 when they intersect).
    point_a_lps_mm, point_b_lps_mm : (3,) float64 ndarray
        Closest points on instrument a and on b, LPS mm (both the contact point when they
        intersect).
    colliding : bool
        Whether they intersect.
    part_a, part_b : str
        The parts the distance (or contact) is between.
    penetration_mm : float
        python-fcl's penetration depth of the deepest intersecting pair of parts (0 if none).
    """

    distance_mm: float
    point_a_lps_mm: np.ndarray
    point_b_lps_mm: np.ndarray
    colliding: bool
    part_a: str
    part_b: str
    penetration_mm: float = 0.0


def instrument_clash(instrument_a: Instrument | InstrumentGeometry, pose_a: Any,
                     instrument_b: Instrument | InstrumentGeometry, pose_b: Any) -> Clash:
    """Distance, closest points and intersection of two placed instruments.

    Parameters
    ----------
    instrument_a, instrument_b : Instrument or InstrumentGeometry
        The instruments (may be the same one, at two poses).
    pose_a, pose_b : (4, 4) float array
        Rigid tip frame -> LPS mm of each.

    Returns
    -------
    Clash
        Over every pair of their primitives (python-fcl shape-shape GJK/EPA).
    """
    geometry_a, geometry_b = instrument_geometry(instrument_a), instrument_geometry(instrument_b)
    objects_a = geometry_a.collision_objects(rigid_pose(pose_a, "pose_a"), slot=1)
    objects_b = geometry_b.collision_objects(rigid_pose(pose_b, "pose_b"), slot=2)
    deepest: tuple[float, Any, int, int] | None = None
    nearest: tuple[float, fcl.DistanceResult, int, int] | None = None
    for i, obj_a in enumerate(objects_a):
        for j, obj_b in enumerate(objects_b):
            result = fcl.CollisionResult()
            if fcl.collide(obj_a, obj_b, _COLLIDE, result):
                contact = max(result.contacts, key=lambda c: c.penetration_depth)
                if deepest is None or contact.penetration_depth > deepest[0]:
                    deepest = (float(contact.penetration_depth), contact, i, j)
            elif deepest is None:
                distance = fcl.DistanceResult()
                gap = fcl.distance(obj_a, obj_b, _DISTANCE, distance)
                if nearest is None or gap < nearest[0]:
                    nearest = (float(gap), distance, i, j)
    if deepest is not None:
        depth, contact, i, j = deepest
        point = np.asarray(contact.pos, dtype=np.float64)
        return Clash(0.0, point, point.copy(), True, geometry_a.parts[i].name,
                     geometry_b.parts[j].name, depth)
    gap, result, i, j = nearest
    point_a, point_b = nearest_points(result, objects_b[j], first_is_mesh=False)
    return Clash(gap, point_a, point_b, False, geometry_a.parts[i].name, geometry_b.parts[j].name)
