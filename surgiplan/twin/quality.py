"""Check a surface mesh (closed, manifold, oriented, in one piece) and repair small defects.

Everything is vectorised over the ``(m, 3)`` face array: edges are sorted and grouped with
numpy, components come from ``scipy.sparse.csgraph``. A mesh ready for volume, printing and
collision is watertight, manifold, consistently wound, outward and free of degenerate faces
(:attr:`MeshReport.ok`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from surgiplan.twin.mesh import SurfaceMesh

DEGENERATE_AREA = 1e-12
"""Faces with area below this (mm^2) count as degenerate."""


@dataclass(frozen=True)
class MeshReport:
    """What :func:`check_mesh` found.

    Attributes
    ----------
    watertight : bool
        Every edge is shared by exactly two faces (closed, no boundary, no fins).
    manifold : bool
        No edge is shared by more than two faces and the faces around every vertex form a
        single fan (no two surfaces touching at a vertex).
    winding_consistent : bool
        Neighbouring faces traverse their shared edge in opposite directions.
    outward : bool
        The signed volume is positive: normals point out (meaningful for closed meshes).
    components : int
        Pieces connected through shared edges.
    boundary_edges : int
        Edges used by one face only (rims of holes).
    nonmanifold_edges : int
        Edges used by three faces or more.
    nonmanifold_vertices : int
        Vertices where separate fans of faces touch.
    degenerate_faces : int
        Faces with a repeated vertex or an area below ``DEGENERATE_AREA``.
    duplicate_faces : int
        Faces repeating the vertex set of an earlier face.
    n_vertices, n_triangles : int
        Sizes.
    """

    watertight: bool
    manifold: bool
    winding_consistent: bool
    outward: bool
    components: int
    boundary_edges: int
    nonmanifold_edges: int
    nonmanifold_vertices: int
    degenerate_faces: int
    duplicate_faces: int
    n_vertices: int
    n_triangles: int

    @property
    def ok(self) -> bool:
        """Closed, manifold, consistently and outward oriented, no bad faces."""
        return (self.watertight and self.manifold and self.winding_consistent and self.outward
                and self.degenerate_faces == 0 and self.duplicate_faces == 0)

    def problems(self) -> list[str]:
        """One sentence per defect, empty when :attr:`ok`."""
        found = []
        if self.boundary_edges:
            found.append(f"{self.boundary_edges} boundary edges: the surface has holes")
        if self.nonmanifold_edges:
            found.append(f"{self.nonmanifold_edges} edges shared by more than two faces")
        if self.nonmanifold_vertices:
            found.append(f"{self.nonmanifold_vertices} vertices where surfaces touch")
        if not self.winding_consistent:
            found.append("face winding is inconsistent")
        if self.winding_consistent and not self.outward:
            found.append("normals point inwards")
        if self.degenerate_faces:
            found.append(f"{self.degenerate_faces} degenerate faces")
        if self.duplicate_faces:
            found.append(f"{self.duplicate_faces} duplicate faces")
        return found


def check_mesh(mesh: SurfaceMesh) -> MeshReport:
    """Check topology and orientation of ``mesh``.

    Parameters
    ----------
    mesh : SurfaceMesh
        Vertices ``(n, 3)`` LPS mm and faces ``(m, 3)``.

    Returns
    -------
    MeshReport
        Counts and flags; see :class:`MeshReport`.
    """
    faces = mesh.faces
    counts, inverse = _edge_groups(faces, len(mesh.vertices_lps_mm))
    boundary = int(np.count_nonzero(counts == 1))
    fins = int(np.count_nonzero(counts > 2))
    bad_vertices = _nonmanifold_vertex_count(faces, len(mesh.vertices_lps_mm), counts, inverse)
    winding = _winding_consistent(faces, len(mesh.vertices_lps_mm))
    volume = _signed_volume(mesh.vertices_lps_mm, faces)
    return MeshReport(
        watertight=bool(len(faces) and boundary == 0 and fins == 0),
        manifold=fins == 0 and bad_vertices == 0,
        winding_consistent=winding,
        outward=volume > 0,
        components=_component_count(faces, counts, inverse),
        boundary_edges=boundary,
        nonmanifold_edges=fins,
        nonmanifold_vertices=bad_vertices,
        degenerate_faces=int(np.count_nonzero(_degenerate(mesh.vertices_lps_mm, faces))),
        duplicate_faces=int(len(faces) - len(_unique_face_index(faces))),
        n_vertices=mesh.n_vertices,
        n_triangles=mesh.n_triangles,
    )


def _edge_groups(faces: np.ndarray, n_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """Faces per undirected edge (e,) and the edge index of each face side (3m,).

    Face side ``3 * f + s`` is the edge from corner ``s`` to corner ``s + 1`` of face ``f``.
    """
    sides = _sides(faces)
    keys = np.sort(sides, axis=1) @ np.array([n_vertices, 1], dtype=np.int64)
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return counts, inverse


def _sides(faces: np.ndarray) -> np.ndarray:
    """Directed edges (3m, 2): for each face, corners 0->1, 1->2, 2->0."""
    return np.stack([faces, np.roll(faces, -1, axis=1)], axis=2).reshape(-1, 2).astype(np.int64)


def _winding_consistent(faces: np.ndarray, n_vertices: int) -> bool:
    """No directed edge appears twice (neighbours traverse shared edges oppositely)."""
    keys = np.sort(_sides(faces) @ np.array([n_vertices, 1], dtype=np.int64))
    return not bool(np.any(keys[1:] == keys[:-1]))


def _sorted_unique(keys: np.ndarray) -> np.ndarray:
    """Distinct values of an int64 array (sorting; faster than numpy's hash path here)."""
    keys = np.sort(keys)
    return keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys


def _manifold_pairs(counts: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """Face-side pairs (p, 2) sharing an edge used by exactly two faces."""
    order = np.argsort(inverse, kind="stable")
    sides_by_edge = inverse[order]
    first = np.r_[True, sides_by_edge[1:] != sides_by_edge[:-1]]
    edge_ids = sides_by_edge[first]
    two = counts[edge_ids] == 2
    position = np.flatnonzero(first)[two]
    return np.stack([order[position], order[position + 1]], axis=1)


def _component_count(faces: np.ndarray, counts: np.ndarray, inverse: np.ndarray) -> int:
    """Components of the face graph linked through shared edges (any edge use)."""
    return int(_component_labels(faces, counts, inverse).max(initial=-1) + 1)


def _component_labels(faces: np.ndarray, counts: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """(m,) component index of each face (faces linked through shared edges)."""
    if len(faces) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(inverse, kind="stable")
    same = inverse[order][1:] == inverse[order][:-1]
    a, b = order[:-1][same] // 3, order[1:][same] // 3
    graph = sparse.coo_matrix((np.ones(len(a)), (a, b)), shape=(len(faces), len(faces)))
    return csgraph.connected_components(graph, directed=False)[1]


def _nonmanifold_vertex_count(faces: np.ndarray, n_vertices: int, counts: np.ndarray,
                              inverse: np.ndarray) -> int:
    """Vertices whose corners do not form one fan through edges shared by two faces."""
    return int(np.count_nonzero(_nonmanifold_vertices(faces, n_vertices, counts, inverse)))


def _nonmanifold_vertices(faces: np.ndarray, n_vertices: int, counts: np.ndarray,
                          inverse: np.ndarray) -> np.ndarray:
    """(n_vertices,) bool: vertices whose corners form more than one fan."""
    if len(faces) == 0:
        return np.zeros(n_vertices, dtype=bool)
    pairs = _manifold_pairs(counts, inverse)  # face sides (3f + s)
    corner_a0, corner_b0 = _side_corners(pairs[:, 0]), _side_corners(pairs[:, 1])
    # side s of face f joins corners s and s+1; both faces of the edge hold the two vertices
    links = []
    for end_a in (0, 1):
        corner_a = corner_a0[end_a]
        vertex = faces.ravel()[corner_a]
        corner_b = np.where(faces.ravel()[corner_b0[0]] == vertex, corner_b0[0], corner_b0[1])
        links.append(np.stack([corner_a, corner_b], axis=1))
    links = np.concatenate(links)
    n_corners = faces.size
    graph = sparse.coo_matrix((np.ones(len(links)), (links[:, 0], links[:, 1])),
                              shape=(n_corners, n_corners))
    _, label = csgraph.connected_components(graph, directed=False)
    fans = _sorted_unique(faces.ravel().astype(np.int64) * n_corners + label) // n_corners
    return np.bincount(fans, minlength=n_vertices) > 1


def _side_corners(sides: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat corner indices (3f + s) at the two ends of face sides."""
    face, side = sides // 3, sides % 3
    return 3 * face + side, 3 * face + (side + 1) % 3


def _signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    if len(faces) == 0:
        return 0.0
    centre = vertices.mean(axis=0)
    a, b, c = (vertices[faces[:, n]] - centre for n in range(3))
    return float(np.einsum("ij,ij->", a, np.cross(b, c)) / 6.0)


def _degenerate(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    a, b, c = (vertices[faces[:, n]] for n in range(3))
    area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    repeated = (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (
        faces[:, 0] == faces[:, 2])
    return repeated | (area < DEGENERATE_AREA)


def _unique_face_index(faces: np.ndarray) -> np.ndarray:
    """Index of the first face of each distinct vertex set."""
    if len(faces) == 0:
        return np.zeros(0, dtype=np.int64)
    ordered = np.sort(faces, axis=1).astype(np.int64)
    n = int(ordered.max()) + 1
    if n ** 3 < 2 ** 62:  # one int64 key per face: a 1-D unique, ten times faster than axis=0
        keys = (ordered[:, 0] * n + ordered[:, 1]) * n + ordered[:, 2]
        _, first = np.unique(keys, return_index=True)
    else:
        _, first = np.unique(ordered, axis=0, return_index=True)
    return np.sort(first)
