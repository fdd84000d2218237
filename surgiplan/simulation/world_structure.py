"""One structure of a :class:`~surgiplan.simulation.collision.CollisionWorld`: its shared
python-fcl BVH, its Embree ray scene (inside tests, first crossings) and the balls that bound
its triangles for the broad phase. Everything in patient LPS millimetres."""

from __future__ import annotations

from dataclasses import dataclass, field

import fcl
import numpy as np
import trimesh

INSIDE_RAY = np.array([0.5773, 0.5681, 0.5866]) / np.linalg.norm([0.5773, 0.5681, 0.5866])
"""Direction of the inside test's ray: skewed off the voxel axes and diagonals."""
BALLS_PER_STRUCTURE = 64
"""Balls bounding each structure's triangles, for the lower bounds that skip fcl calls."""


@dataclass(eq=False)
class WorldStructure:
    """One structure of a :class:`CollisionWorld`: its shared BVH and ray scene, built once.

    Attributes
    ----------
    name : str
        Structure name.
    critical : bool
        Whether queries report the instrument's clearance to it.
    bvh : fcl.BVHModel
        The collision proxy's BVH (the same object, not a copy).
    vertices : (n, 3) float64 ndarray, faces : (m, 3) int64 ndarray
        The proxy surface, LPS mm.
    obj : fcl.CollisionObject
        ``bvh`` with an identity transform.
    box : (2, 3) float64 ndarray
        Axis-aligned bounds (min, max), LPS mm.
    face_normals : (m, 3) float64 ndarray
        Unit outward triangle normals.
    mesh : trimesh.Trimesh
        The proxy with its ray scene (Embree when installed) built at construction.
    balls : ((k, 3), (k,)) float64 ndarrays
        Centres and radii of balls that together contain every triangle (distance bounds).
    """

    name: str
    critical: bool
    bvh: fcl.BVHModel
    vertices: np.ndarray
    faces: np.ndarray
    obj: fcl.CollisionObject = field(init=False)
    box: np.ndarray = field(init=False)
    face_normals: np.ndarray = field(init=False)
    mesh: trimesh.Trimesh = field(init=False)
    balls: tuple[np.ndarray, np.ndarray] = field(init=False)

    def __post_init__(self) -> None:
        self.obj = fcl.CollisionObject(self.bvh, fcl.Transform())
        self.box = np.stack([self.vertices.min(axis=0), self.vertices.max(axis=0)])
        corners = self.vertices[self.faces]
        normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
        lengths = np.linalg.norm(normals, axis=1, keepdims=True)
        self.face_normals = normals / np.where(lengths > 0, lengths, 1.0)
        self.mesh = trimesh.Trimesh(self.vertices, self.faces, process=False)
        self.mesh.ray.intersects_first(self.box[:1] - 1.0, INSIDE_RAY[None])  # build the scene
        self.balls = bounding_balls(corners, BALLS_PER_STRUCTURE)

    def contains(self, point: np.ndarray) -> bool:
        """Whether ``point`` (3,) LPS mm lies inside the closed proxy (first ray hit's side)."""
        point = np.asarray(point, dtype=np.float64).reshape(3)
        if not ((point >= self.box[0]).all() and (point <= self.box[1]).all()):
            return False
        hit = self.mesh.ray.intersects_first(point[None], INSIDE_RAY[None])[0]
        return bool(hit >= 0 and self.face_normals[hit] @ INSIDE_RAY > 0.0)

    def first_crossing(self, start: np.ndarray, end: np.ndarray) -> tuple[float, int] | None:
        """First crossing (fraction of ``start`` -> ``end``, triangle) of the segment, or None."""
        step = end - start
        length = float(np.linalg.norm(step))
        if length < 1e-9:
            return None
        unit = step / length
        hit = int(self.mesh.ray.intersects_first(start[None], unit[None])[0])
        if hit < 0:
            return None
        normal = self.face_normals[hit]
        along = float(unit @ normal)
        t = float((self.vertices[self.faces[hit, 0]] - start) @ normal / along) if along else 0.0
        return (max(t, 0.0) / length, hit) if t <= length else None


def bounding_balls(corners: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """About ``count`` balls that together contain every triangle of a surface.

    Triangles are grouped by their centroid on a grid of cells of side sqrt(area / count);
    each group's ball is centred on its centroids' mean and reaches its farthest vertex.

    Parameters
    ----------
    corners : (m, 3, 3) float array
        Triangle corners, mm.
    count : int
        Wanted number of balls (the grid decides the exact number).

    Returns
    -------
    centres : (k, 3) float64 ndarray, radii : (k,) float64 ndarray
        mm.
    """
    centroids = corners.mean(axis=1)
    area = 0.5 * np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0],
                                         corners[:, 2] - corners[:, 0]), axis=1).sum()
    side = max(float(np.sqrt(area / count)), 1e-6)
    cells = np.floor((centroids - centroids.min(axis=0)) / side).astype(np.int64)
    _, group = np.unique(cells, axis=0, return_inverse=True)
    group = group.reshape(-1)
    sizes = np.bincount(group)
    centres = np.stack([np.bincount(group, centroids[:, i]) for i in range(3)], axis=1)
    centres /= sizes[:, None]
    reach = np.linalg.norm(corners - centres[group][:, None], axis=2).max(axis=1)
    radii = np.zeros(len(sizes))
    np.maximum.at(radii, group, reach)
    return centres, radii
