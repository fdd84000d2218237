"""Barycentric embedding of a render surface in a tetrahedral physics mesh.

Each surface vertex is tied to one tet by its four barycentric coordinates, so a displacement
field on the tet nodes moves the surface by P1 interpolation (SOFA's barycentric mapping).
Vertices inside the tet mesh use the tet that contains them. The smooth surface pokes out of the
voxel-built tet mesh here and there; such a vertex uses the tet owning the nearest boundary
face, with coordinates computed in that tet (some slightly negative: linear extrapolation).
Either way the coordinates reproduce the vertex exactly, so rigid motions and every affine
deformation of the nodes move the surface exactly.

Search: a k-d tree on tet centroids gives candidate tets, whose coordinates are tested together
(vectorised, in chunks); a k-d tree on boundary-face centroids plus exact point-triangle
distances handles the outside vertices. This works on non-convex meshes, unlike
``scipy.spatial.Delaunay.find_simplex``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree
from trimesh.triangles import closest_point

from surgiplan.errors import InputError
from surgiplan.twin.tetmesh import TetMesh

INSIDE_TOLERANCE = 1e-9
"""Barycentric coordinates down to ``-INSIDE_TOLERANCE`` count as inside."""

_CHUNK = 8192
_FACES = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])


@dataclass(frozen=True, eq=False)
class SurfaceEmbedding:
    """Surface vertices tied to the tets of a physics mesh.

    Attributes
    ----------
    tet_index : (nv,) int64 ndarray
        Tet holding (or nearest to) each vertex.
    barycentric : (nv, 4) float64 ndarray
        Coordinates of each vertex in its tet; rows sum to 1. Outside vertices have some
        (slightly) negative coordinates.
    node_index : (nv, 4) int64 ndarray
        Mesh nodes of each vertex's tet (``tets[tet_index]``).
    base_vertices_lps_mm : (nv, 3) float64 ndarray
        The vertices at rest, LPS mm.
    outside : (nv,) bool ndarray
        Vertices outside the tet mesh (extrapolated).
    """

    tet_index: np.ndarray
    barycentric: np.ndarray
    node_index: np.ndarray
    base_vertices_lps_mm: np.ndarray
    outside: np.ndarray

    @property
    def n_vertices(self) -> int:
        return int(len(self.tet_index))

    def interpolate(self, node_values: np.ndarray) -> np.ndarray:
        """P1 interpolation of node values ``(n,)`` or ``(n, d)`` at the vertices: ``(nv, ...)``."""
        values = np.asarray(node_values, dtype=np.float64)
        return np.einsum("vc,vc...->v...", self.barycentric, values[self.node_index])

    def deform(self, nodes_displacement_mm: np.ndarray) -> np.ndarray:
        """Vertex positions ``(nv, 3)`` LPS mm after node displacements ``(n, 3)`` mm.

        Zero displacement gives the rest vertices exactly.
        """
        displacement = np.asarray(nodes_displacement_mm, dtype=np.float64)
        if displacement.ndim != 2 or displacement.shape[1] != 3:
            raise InputError(f"node displacements must be an (n, 3) array in mm, got shape "
                             f"{displacement.shape}")
        if len(displacement) <= int(self.node_index.max(initial=-1)):
            raise InputError(f"{len(displacement)} node displacements given but the embedding "
                             "refers to more nodes: pass one row per node of the tet mesh")
        return self.base_vertices_lps_mm + self.interpolate(displacement)


def embed_surface(tets: TetMesh, vertices_lps_mm: np.ndarray) -> SurfaceEmbedding:
    """Tie surface vertices to the tets of a physics mesh.

    Parameters
    ----------
    tets : TetMesh
        The physics mesh (LPS mm).
    vertices_lps_mm : (nv, 3) float ndarray
        Render-surface vertices, LPS mm.

    Returns
    -------
    SurfaceEmbedding
        Tet and barycentric coordinates of each vertex.

    Raises
    ------
    InputError
        When the mesh has no tets or the vertices are not an ``(nv, 3)`` array.
    """
    points = np.asarray(vertices_lps_mm, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3:
        raise InputError(f"vertices must be an (nv, 3) array in LPS mm, got shape {points.shape}")
    if tets.n_tets == 0:
        raise InputError("the tet mesh has no tets: rebuild it before embedding a surface")
    corners = tets.nodes_lps_mm[tets.tets]
    inverse = np.linalg.inv(np.transpose(corners[:, 1:] - corners[:, :1], (0, 2, 1)))
    tet_index = _containing_tets(points, corners, inverse)
    outside = tet_index < 0
    if outside.any():
        tet_index[outside] = _nearest_boundary_tets(tets, points[outside])
    bary = _barycentric(points, corners[tet_index, 0], inverse[tet_index])
    return SurfaceEmbedding(tet_index=tet_index, barycentric=bary,
                            node_index=tets.tets[tet_index], base_vertices_lps_mm=points.copy(),
                            outside=outside)


def _barycentric(points: np.ndarray, origin: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """(..., 4) coordinates of points ``(..., 3)`` in tets with first corner ``origin`` (..., 3)
    and inverse edge matrices ``(..., 3, 3)``."""
    tail = np.einsum("...ij,...j->...i", inverse, points - origin)
    return np.concatenate([1.0 - tail.sum(axis=-1, keepdims=True), tail], axis=-1)


def _containing_tets(points: np.ndarray, corners: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """(nv,) index of a tet containing each point, -1 where no tet does.

    A tet containing a point has its centroid within ``reach`` (the largest corner-to-centroid
    distance) of it, so candidates are widened until they hold every centroid within reach.
    """
    centroids = corners.mean(axis=1)
    reach = float(np.linalg.norm(corners - centroids[:, None], axis=2).max())
    tree = cKDTree(centroids)
    found = np.full(len(points), -1, dtype=np.int64)
    pending, k = np.arange(len(points)), 16
    while len(pending):
        k = min(k, len(corners))
        chunk_size = max(256, _CHUNK * 16 // k)
        settled = np.zeros(len(pending), dtype=bool)
        for start in range(0, len(pending), chunk_size):
            chunk = pending[start:start + chunk_size]
            found[chunk], settled[start:start + chunk_size] = _first_containing(
                points[chunk], tree, corners, inverse, k, reach)
        if k == len(corners):
            break
        pending, k = pending[~settled], 4 * k
    return found


def _first_containing(points: np.ndarray, tree: cKDTree, corners: np.ndarray,
                      inverse: np.ndarray, k: int, reach: float) -> tuple[np.ndarray, np.ndarray]:
    """The nearest-centroid candidate tet containing each point (-1 if none) ``(c,)``, and
    whether that answer is final ``(c,)`` (found, or every tet within reach was tested)."""
    distance, candidates = tree.query(points, k=k)
    distance, candidates = distance.reshape(len(points), k), candidates.reshape(len(points), k)
    bary = _barycentric(points[:, None], corners[candidates, 0], inverse[candidates])
    inside = bary.min(axis=2) >= -INSIDE_TOLERANCE
    hit = candidates[np.arange(len(points)), np.argmax(inside, axis=1)]
    any_inside = inside.any(axis=1)
    return np.where(any_inside, hit, -1), any_inside | (distance[:, -1] > reach)


def _nearest_boundary_tets(tets: TetMesh, points: np.ndarray) -> np.ndarray:
    """(p,) the tet owning the boundary face nearest to each (outside) point."""
    faces, owner = _boundary_faces(tets.tets)
    triangles = tets.nodes_lps_mm[faces]
    k = min(8, len(faces))
    candidates = cKDTree(triangles.mean(axis=1)).query(points, k=k)[1].reshape(len(points), k)
    closest = closest_point(triangles[candidates].reshape(-1, 3, 3),
                            np.repeat(points, k, axis=0)).reshape(len(points), k, 3)
    distance = np.linalg.norm(closest - points[:, None], axis=2)
    best = candidates[np.arange(len(points)), np.argmin(distance, axis=1)]
    return owner[best]


def _boundary_faces(tets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Faces used by one tet only ``(f, 3)`` and the tet owning each ``(f,)``."""
    faces = tets[:, _FACES].reshape(-1, 3)
    ordered = np.sort(faces, axis=1)
    n = int(ordered.max()) + 1
    keys = (ordered[:, 0] * n + ordered[:, 1]) * n + ordered[:, 2] if n < 2**21 else ordered
    _, inverse, counts = np.unique(keys, axis=0 if keys.ndim == 2 else None,
                                   return_inverse=True, return_counts=True)
    single = np.flatnonzero(counts[inverse.reshape(-1)] == 1)
    return faces[single], single // 4
