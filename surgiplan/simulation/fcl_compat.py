"""python-fcl 0.7 conventions: where nearest points come back, probed once and converted."""

from __future__ import annotations

import functools

import fcl
import numpy as np
import trimesh

_DISTANCE = fcl.DistanceRequest(enable_nearest_points=True)


@functools.cache
def _points_convention(first_is_mesh: bool) -> tuple[bool, bool]:
    """(swapped, local) of ``fcl.distance`` nearest points for a (BVH or box, box) pair.

    Probed once: a 2 mm cube at the origin (a BVH or an ``fcl.Box``) against a 2 mm box turned
    45 degrees about z at x = 10, whose nearest world point has x = 10 - sqrt(2).
    """
    cube = trimesh.creation.box(extents=(2.0, 2.0, 2.0))
    if first_is_mesh:
        geometry = fcl.BVHModel()
        geometry.beginModel(len(cube.faces), len(cube.vertices))
        geometry.addSubModel(cube.vertices, cube.faces)
        geometry.endModel()
    else:
        geometry = fcl.Box(2.0, 2.0, 2.0)
    turn = trimesh.transformations.rotation_matrix(np.pi / 4, [0, 0, 1])[:3, :3]
    first = fcl.CollisionObject(geometry, fcl.Transform())
    second = fcl.CollisionObject(fcl.Box(2.0, 2.0, 2.0), fcl.Transform(turn, [10.0, 0, 0]))
    result = fcl.DistanceResult()
    fcl.distance(first, second, _DISTANCE, result)
    p0, p1 = (np.asarray(p, dtype=float) for p in result.nearest_points)
    swapped = bool(abs(p0[0] - 1.0) > 1e-6)  # the cube's own nearest point has x = 1
    return swapped, bool(abs((p0 if swapped else p1)[0] - (10.0 - np.sqrt(2.0))) > 1e-6)


def nearest_points(result: fcl.DistanceResult, second: fcl.CollisionObject, *,
                   first_is_mesh: bool) -> tuple[np.ndarray, np.ndarray]:
    """World (LPS mm) nearest points (on the first, on the second) of an ``fcl.distance``.

    The first object must have an identity transform (world structures do).
    """
    swapped, local = _points_convention(first_is_mesh)
    p0, p1 = (np.asarray(p, dtype=np.float64) for p in result.nearest_points)
    if swapped:
        p0, p1 = p1, p0
    if local:
        p1 = second.getRotation() @ p1 + second.getTranslation()
    return p0, p1
