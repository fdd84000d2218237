"""Points carried by a deformed organ: FEM node displacements interpolated at other surfaces.

A vessel inside (or attached to) an organ moves with it. Each point of the vessel's surface is
tied to the organ's physics tet mesh:

- a point inside the tet mesh takes the P1 (barycentric) interpolation of the displacements of
  the tet holding it (:func:`surgiplan.twin.embedding.embed_surface`);
- a point outside it but within ``reach_mm`` of its boundary (a vessel carved out of the organ's
  label sits in a tunnel of the organ's voxel-built mesh, its smooth surface up to about a cell
  away from the tunnel wall) takes the displacement at the nearest boundary point, interpolated
  in the tet owning that boundary face (clamped, never extrapolated: a strained tet does not
  amplify the motion of a point outside it);
- any other point does not move.

Everything is in patient LPS millimetres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree
from trimesh.triangles import closest_point

from surgiplan.errors import InputError
from surgiplan.twin.embedding import embed_surface
from surgiplan.twin.tetmesh import TET_FACES, TetMesh

DEFAULT_REACH_MM = 2.0
"""Reach of a mesh whose cell size is unknown, mm."""
FACE_CANDIDATES = 8
"""Boundary faces (nearest centroids) tested for each outside point."""


@dataclass(frozen=True)
class CarriedPoints:
    """Displacements an organ's deformation gives to a set of points.

    Attributes
    ----------
    displacement_mm : (p, 3) float64 ndarray
        Displacement of each point, LPS mm (zero where not carried).
    distance_mm : (p,) float64 ndarray
        Distance of each point to the organ's tet mesh, mm (0 inside; inf where the point is
        beyond the reach and not carried).
    """

    displacement_mm: np.ndarray
    distance_mm: np.ndarray

    @property
    def carried(self) -> np.ndarray:
        """(p,) bool: the points the organ moves."""
        return np.isfinite(self.distance_mm)


def reach_of(tets: TetMesh) -> float:
    """Default reach (mm) of a tet mesh: one cell of the grid it was cut from, at least 1 mm."""
    cell = float(tets.cell_size_mm)
    return max(cell, 1.0) if np.isfinite(cell) else DEFAULT_REACH_MM


def boundary_faces(tets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Faces used by one tet only ``(f, 3)`` and the tet owning each ``(f,)``."""
    faces = tets[:, TET_FACES].reshape(-1, 3)
    _, inverse, counts = np.unique(np.sort(faces, axis=1), axis=0, return_inverse=True,
                                   return_counts=True)
    single = np.flatnonzero(counts[inverse.reshape(-1)] == 1)
    return faces[single], single // 4


def _nearest_boundary(tets: TetMesh, points: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For points ``(p, 3)``: distance to the mesh boundary ``(p,)``, the nearest boundary
    point ``(p, 3)`` and the tet owning its face ``(p,)``."""
    faces, owner = boundary_faces(tets.tets)
    triangles = tets.nodes_lps_mm[faces]
    k = min(FACE_CANDIDATES, len(faces))
    candidates = cKDTree(triangles.mean(axis=1)).query(points, k=k)[1].reshape(len(points), k)
    closest = closest_point(triangles[candidates].reshape(-1, 3, 3),
                            np.repeat(points, k, axis=0)).reshape(len(points), k, 3)
    distance = np.linalg.norm(closest - points[:, None], axis=2)
    best = np.argmin(distance, axis=1)
    rows = np.arange(len(points))
    return distance[rows, best], closest[rows, best], owner[candidates[rows, best]]


def _tet_coordinates(tets: TetMesh, tet_index: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(p, 4) barycentric coordinates of points ``(p, 3)`` in tets ``(p,)``, clamped to >= 0."""
    corners = tets.nodes_lps_mm[tets.tets[tet_index]]
    edges = np.transpose(corners[:, 1:] - corners[:, :1], (0, 2, 1))
    tail = np.linalg.solve(edges, (points - corners[:, 0])[..., None])[..., 0]
    bary = np.clip(np.concatenate([1.0 - tail.sum(axis=1, keepdims=True), tail], axis=1),
                   0.0, None)
    return bary / bary.sum(axis=1, keepdims=True)


def carry_points(tets: TetMesh, displacement_mm: np.ndarray, points_lps_mm: np.ndarray, *,
                 reach_mm: float | None = None) -> CarriedPoints:
    """Displace points with a deformed tet mesh (see the module docstring).

    Parameters
    ----------
    tets : TetMesh
        The organ's physics mesh at rest, LPS mm.
    displacement_mm : (n, 3) float ndarray
        Displacement of each of its nodes, LPS mm (``FemState.displacement_mm``).
    points_lps_mm : (p, 3) float ndarray
        Points at rest (e.g. a vessel's surface vertices), LPS mm.
    reach_mm : float, optional
        Points outside the mesh but within this distance of it are carried; default
        :func:`reach_of`.

    Returns
    -------
    CarriedPoints
        Displacement and distance to the mesh of each point.

    Raises
    ------
    InputError
        Displacements that are not one row per node, or points that are not ``(p, 3)``.
    """
    points = np.asarray(points_lps_mm, dtype=np.float64)
    nodal = np.asarray(displacement_mm, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3:
        raise InputError(f"points must be a (p, 3) array in LPS mm, got shape {points.shape}")
    if nodal.shape != (tets.n_nodes, 3):
        raise InputError(f"displacements must be ({tets.n_nodes}, 3) mm, one row per node of "
                         f"the tet mesh, got {nodal.shape}")
    reach = reach_of(tets) if reach_mm is None else float(reach_mm)
    moved = np.zeros_like(points)
    distance = np.full(len(points), np.inf)
    if len(points) == 0:
        return CarriedPoints(moved, distance)
    low = tets.nodes_lps_mm.min(axis=0) - reach
    high = tets.nodes_lps_mm.max(axis=0) + reach
    near = np.flatnonzero(((points >= low) & (points <= high)).all(axis=1))
    if near.size == 0:
        return CarriedPoints(moved, distance)
    embedding = embed_surface(tets, points[near])
    inside = near[~embedding.outside]
    moved[inside] = embedding.interpolate(nodal)[~embedding.outside]
    distance[inside] = 0.0
    outside = near[embedding.outside]
    if outside.size:
        gap, foot, owner = _nearest_boundary(tets, points[outside])
        within = gap <= reach
        bary = _tet_coordinates(tets, owner[within], foot[within])
        corners = tets.tets[owner[within]]
        moved[outside[within]] = np.einsum("pc,pcd->pd", bary, nodal[corners])
        distance[outside[within]] = gap[within]
    return CarriedPoints(moved, distance)


__all__ = ["CarriedPoints", "boundary_faces", "carry_points", "reach_of"]
