"""Triangle surface meshes in patient LPS millimetres."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SurfaceMesh:
    """A triangle mesh.

    Attributes
    ----------
    vertices_lps_mm : (n, 3) float64 ndarray
        Vertex positions in patient LPS millimetres.
    faces : (m, 3) int64 ndarray
        Vertex indices of each triangle, counter-clockwise seen from outside (outward normals).
    """

    vertices_lps_mm: np.ndarray
    faces: np.ndarray

    def __post_init__(self) -> None:
        vertices = np.ascontiguousarray(self.vertices_lps_mm, dtype=np.float64).reshape(-1, 3)
        faces = np.ascontiguousarray(self.faces, dtype=np.int64).reshape(-1, 3)
        object.__setattr__(self, "vertices_lps_mm", vertices)
        object.__setattr__(self, "faces", faces)

    @property
    def n_vertices(self) -> int:
        return int(len(self.vertices_lps_mm))

    @property
    def n_triangles(self) -> int:
        return int(len(self.faces))
