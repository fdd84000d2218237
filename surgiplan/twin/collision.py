"""Collision proxies: a structure's surface (decimated to a budget) with its BVH built once.

The BVH (python-fcl ``BVHModel``, OBBRSS) is built in :meth:`CollisionProxy.from_mesh` and
reused by every query: :meth:`CollisionProxy.distance_to_point` moves one cached probe sphere,
and :meth:`CollisionProxy.collision_object` wraps the same BVH in new ``fcl.CollisionObject``
instances (cheap; the geometry is shared, not copied).

Deforming meshes: python-fcl 0.7 exposes no ``beginUpdate``/``updateVertex``/``endUpdate``
(refit) on ``BVHModel``, so :meth:`CollisionProxy.update_vertices` rebuilds the BVH (about 0.1 s
for 20k triangles). For tool-organ contact on a deforming organ, evaluate the tools' analytic
signed distances at the deformed vertices instead (physics.md 2.3).

Frames: the BVH is built in LPS mm. python-fcl 0.7 reports nearest points in each object's local
frame; the probe object has an identity transform, so its results are LPS mm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import fast_simplification
import fcl
import numpy as np

from surgiplan.errors import InputError
from surgiplan.twin.mesh import SurfaceMesh

PROBE_RADIUS_MM = 1e-6
"""Radius of the sphere standing in for a query point."""


@dataclass(frozen=True)
class ProxyDistance:
    """Unsigned distance from a point to a proxy surface.

    Attributes
    ----------
    distance_mm : float
        Distance from the point to the nearest surface triangle, mm (a point inside a closed
        surface gets its distance to the surface, not a negative value).
    closest_point_lps_mm : (3,) float64 ndarray
        Nearest point on the surface, LPS mm.
    """

    distance_mm: float
    closest_point_lps_mm: np.ndarray


@dataclass(frozen=True, eq=False)
class CollisionProxy:
    """A triangle surface and its fcl BVH, built once (use :meth:`from_mesh`).

    Attributes
    ----------
    vertices_lps_mm : (n, 3) float64 ndarray
        Proxy vertices, LPS mm.
    faces : (m, 3) int64 ndarray
        Proxy triangles.
    bvh : fcl.BVHModel
        The BVH over ``faces``, shared by every query and collision object.
    source_triangles : int
        Triangle count of the mesh before decimation.
    """

    vertices_lps_mm: np.ndarray
    faces: np.ndarray
    bvh: fcl.BVHModel
    source_triangles: int
    _object: fcl.CollisionObject = field(init=False, repr=False)
    _probe: fcl.CollisionObject = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_object", fcl.CollisionObject(self.bvh, fcl.Transform()))
        object.__setattr__(self, "_probe", fcl.CollisionObject(fcl.Sphere(PROBE_RADIUS_MM),
                                                               fcl.Transform()))

    @classmethod
    def from_mesh(cls, mesh: SurfaceMesh, *,
                  max_triangles: int | None = 20_000) -> CollisionProxy:
        """Proxy of ``mesh``, decimated (fast-simplification) when above ``max_triangles``.

        Parameters
        ----------
        mesh : SurfaceMesh
            The structure's surface, LPS mm.
        max_triangles : int or None
            Triangle budget; ``None`` keeps the mesh as it is.

        Returns
        -------
        CollisionProxy
            The (decimated) surface with its BVH.

        Raises
        ------
        InputError
            When the mesh has no triangles or the budget is below 4 triangles.

        Examples
        --------
        >>> import trimesh
        >>> ball = trimesh.creation.icosphere(subdivisions=3, radius=10.0)
        >>> proxy = CollisionProxy.from_mesh(SurfaceMesh(ball.vertices, ball.faces))
        >>> round(proxy.distance_to_point([25.0, 0.0, 0.0]).distance_mm, 1)
        15.0
        """
        if mesh.n_triangles == 0:
            raise InputError("the surface has no triangles: extract the structure's surface "
                             "before building its collision proxy")
        if max_triangles is not None and max_triangles < 4:
            raise InputError(f"max_triangles must be at least 4 (or None), got {max_triangles}")
        vertices, faces = mesh.vertices_lps_mm, mesh.faces
        if max_triangles is not None and len(faces) > max_triangles:
            vertices, faces = _decimated(vertices, faces, max_triangles)
        return cls(vertices, faces, _build_bvh(vertices, faces), mesh.n_triangles)

    @property
    def n_triangles(self) -> int:
        return int(len(self.faces))

    def collision_object(self, transform: np.ndarray | None = None) -> fcl.CollisionObject:
        """A new ``fcl.CollisionObject`` sharing this proxy's BVH.

        Parameters
        ----------
        transform : (4, 4) float ndarray, optional
            Rigid transform (rotation and translation in LPS mm) applied to the proxy;
            identity when omitted.
        """
        return fcl.CollisionObject(self.bvh, _fcl_transform(transform))

    def distance_to_point(self, point_lps_mm: np.ndarray) -> ProxyDistance:
        """Unsigned distance from a point to the proxy surface and the nearest surface point.

        Not thread-safe: the cached probe object is moved to the point.
        """
        point = np.asarray(point_lps_mm, dtype=np.float64).reshape(-1)
        if point.shape != (3,) or not np.isfinite(point).all():
            raise InputError(f"the query point must be 3 finite LPS mm coordinates, got {point}")
        self._probe.setTranslation(point)
        result = fcl.DistanceResult()
        gap = fcl.distance(self._object, self._probe,
                           fcl.DistanceRequest(enable_nearest_points=True), result)
        if gap < 1e-12:
            # Touching the probe: fcl leaves the nearest points unset; the point is on the surface.
            return ProxyDistance(0.0, point.copy())
        closest = np.asarray(result.nearest_points[0], dtype=np.float64)
        return ProxyDistance(float(np.linalg.norm(point - closest)), closest)

    def update_vertices(self, new_vertices_lps_mm: np.ndarray) -> CollisionProxy:
        """A proxy with the same faces at new vertex positions (rebuilds the BVH; see module)."""
        vertices = np.asarray(new_vertices_lps_mm, dtype=np.float64)
        if vertices.shape != self.vertices_lps_mm.shape:
            raise InputError(f"expected {self.vertices_lps_mm.shape} new vertex positions, got "
                             f"{vertices.shape}: pass one LPS mm position per proxy vertex")
        return CollisionProxy(vertices.copy(), self.faces, _build_bvh(vertices, self.faces),
                              self.source_triangles)


def _build_bvh(vertices: np.ndarray, faces: np.ndarray) -> fcl.BVHModel:
    """An OBBRSS BVH over ``faces`` (m, 3) of ``vertices`` (n, 3)."""
    bvh = fcl.BVHModel()
    bvh.beginModel(len(faces), len(vertices))
    bvh.addSubModel(vertices, faces)
    bvh.endModel()
    return bvh


def _decimated(vertices: np.ndarray, faces: np.ndarray,
               max_triangles: int) -> tuple[np.ndarray, np.ndarray]:
    """Quadric decimation to at most ``max_triangles`` triangles (a few passes if it overshoots)."""
    target = max_triangles
    for _ in range(4):
        points, triangles = fast_simplification.simplify(vertices, faces.astype(np.int32),
                                                         target_count=target)
        if len(triangles) <= max_triangles:
            break
        target = max(4, int(target * max_triangles / len(triangles)) - 1)
    else:
        raise InputError(f"the surface could not be decimated to {max_triangles} triangles; "
                         "raise max_triangles")
    return (np.ascontiguousarray(points, dtype=np.float64),
            np.ascontiguousarray(triangles, dtype=np.int64))


def _fcl_transform(transform: np.ndarray | None) -> fcl.Transform:
    """``fcl.Transform`` of a rigid (4, 4) matrix (identity for ``None``)."""
    if transform is None:
        return fcl.Transform()
    matrix = np.asarray(transform, dtype=np.float64)
    rotation = matrix[:3, :3] if matrix.shape == (4, 4) else None
    if rotation is None or not (np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-6)
                                and np.linalg.det(rotation) > 0):
        raise InputError("the transform must be a rigid 4x4 matrix (rotation and translation in "
                         "mm); scale or mirror the surface itself instead")
    return fcl.Transform(rotation, matrix[:3, 3])
