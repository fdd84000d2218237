"""Check a surface mesh (closed, manifold, oriented, in one piece) and repair small defects.

Everything is vectorised over the ``(m, 3)`` face array: edges are sorted and grouped with
numpy, components come from ``scipy.sparse.csgraph``. A mesh ready for volume, printing and
collision is watertight, manifold, consistently wound, outward and free of degenerate faces
(:attr:`MeshReport.ok`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import trimesh
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


@dataclass(frozen=True)
class RepairResult:
    """A repaired mesh, the checks before and after, and what was done."""

    mesh: SurfaceMesh
    report_before: MeshReport
    report_after: MeshReport
    actions: list[str] = field(default_factory=list)


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


def repair_mesh(mesh: SurfaceMesh, *, max_hole_edges: int = 100,
                min_component_fraction: float = 0.01) -> RepairResult:
    """Fix small defects: duplicates, degenerate faces, specks, small holes, orientation.

    Steps, in order: merge vertices at the same position; remove faces with a repeated
    vertex or no area, and repeated faces; drop components whose area is below
    ``min_component_fraction`` of the largest component's area; close holes whose rim has at most
    ``max_hole_edges`` edges (a fan around the rim's centroid, wound to match its
    neighbours); make the winding consistent and the normals outward per component.

    Parameters
    ----------
    mesh : SurfaceMesh
        The mesh to repair (left unchanged).
    max_hole_edges : int
        Largest hole (number of rim edges) to close; larger openings are reported, not closed.
    min_component_fraction : float
        Components with less than this fraction of the largest component's surface area are
        removed (pieces of similar size are all kept).

    Returns
    -------
    RepairResult
        The repaired mesh, reports before and after, and one sentence per action taken.
    """
    before = check_mesh(mesh)
    actions: list[str] = []
    if before.ok and before.components == 1:
        return RepairResult(mesh, before, before, actions)
    work = trimesh.Trimesh(mesh.vertices_lps_mm, mesh.faces, process=False)
    _clean(work, actions)
    work = _cut_nonmanifold(work, actions)
    _drop_small_components(work, min_component_fraction, actions)
    vertices, faces = _fill_holes(work.vertices, work.faces, max_hole_edges, actions)
    work = trimesh.Trimesh(vertices, faces, process=False)
    _orient(work, actions)
    repaired = SurfaceMesh(np.asarray(work.vertices), np.asarray(work.faces))
    return RepairResult(repaired, before, check_mesh(repaired), actions)


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
    if len(faces) == 0:
        return 0
    order = np.argsort(inverse, kind="stable")
    same = inverse[order][1:] == inverse[order][:-1]
    a, b = order[:-1][same] // 3, order[1:][same] // 3
    graph = sparse.coo_matrix((np.ones(len(a)), (a, b)), shape=(len(faces), len(faces)))
    return int(csgraph.connected_components(graph, directed=False)[0])


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
    _, first = np.unique(np.sort(faces, axis=1), axis=0, return_index=True)
    return np.sort(first)


def _clean(work: trimesh.Trimesh, actions: list[str]) -> None:
    n_vertices = len(work.vertices)
    work.merge_vertices(merge_tex=True, merge_norm=True)
    if len(work.vertices) < n_vertices:
        actions.append(f"merged {n_vertices - len(work.vertices)} duplicate vertices")
    bad = _degenerate(np.asarray(work.vertices), np.asarray(work.faces))
    if bad.any():
        work.update_faces(~bad)
        actions.append(f"removed {int(bad.sum())} degenerate faces")
    keep = _unique_face_index(np.asarray(work.faces))
    if len(keep) < len(work.faces):
        actions.append(f"removed {len(work.faces) - len(keep)} duplicate faces")
        work.update_faces(keep)
    work.remove_unreferenced_vertices()


def _drop_small_components(work: trimesh.Trimesh, fraction: float, actions: list[str]) -> None:
    if len(work.faces) == 0 or fraction <= 0:
        return
    labels = trimesh.graph.connected_component_labels(work.face_adjacency, len(work.faces))
    area = np.bincount(labels, work.area_faces)
    small = area < fraction * area.max()
    if small.any():
        work.update_faces(~small[labels])
        work.remove_unreferenced_vertices()
        actions.append(f"dropped {int(small.sum())} small components "
                       f"({float(area[small].sum()):.3g} mm2)")


def _fill_holes(vertices: np.ndarray, faces: np.ndarray, max_edges: int,
                actions: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Close simple boundary loops of at most ``max_edges`` edges with a centroid fan."""
    n = len(vertices)
    counts, inverse = _edge_groups(faces, n)
    rim = _sides(faces)[counts[inverse] == 1]  # sides with no neighbour: hole rims
    if len(rim) == 0:
        return vertices, faces
    graph = sparse.coo_matrix((np.ones(len(rim)), (rim[:, 0], rim[:, 1])), shape=(n, n))
    _, loop = csgraph.connected_components(graph, directed=False)
    loop_of_edge = loop[rim[:, 0]]
    edges_per_loop = np.bincount(loop_of_edge, minlength=loop.max() + 1)
    out_degree = np.bincount(rim[:, 0], minlength=n)
    in_degree = np.bincount(rim[:, 1], minlength=n)
    pinched = np.zeros(len(edges_per_loop), dtype=bool)
    pinched[loop[(out_degree > 1) | (in_degree > 1)]] = True
    fill = (edges_per_loop >= 3) & (edges_per_loop <= max_edges) & ~pinched
    left_open = int(np.count_nonzero(~fill & (edges_per_loop > 0)))
    if left_open:
        actions.append(f"left {left_open} holes open (over {max_edges} edges or pinched)")
    chosen = fill[loop_of_edge]
    if not chosen.any():
        return vertices, faces
    loops, new_index = np.unique(loop_of_edge[chosen], return_inverse=True)
    centre = np.stack([np.bincount(new_index, vertices[rim[chosen, 0], axis],
                                   minlength=len(loops)) for axis in range(3)], axis=1)
    centre /= np.bincount(new_index, minlength=len(loops))[:, None]
    fan = np.stack([rim[chosen, 1], rim[chosen, 0], n + new_index], axis=1)
    actions.append(f"filled {len(loops)} holes ({int(chosen.sum())} rim edges)")
    return np.vstack([vertices, centre]), np.vstack([faces, fan])


def _cut_nonmanifold(work: trimesh.Trimesh, actions: list[str]) -> trimesh.Trimesh:
    """Remove the faces around non-manifold edges and vertices (decimation fins, bow-ties).

    The openings left behind are small and closed by the hole filling that follows.
    """
    faces, n_vertices = np.asarray(work.faces), len(work.vertices)
    removed = 0
    for _ in range(3):
        counts, inverse = _edge_groups(faces, n_vertices)
        fin_faces = np.unique(np.flatnonzero(counts[inverse] > 2) // 3)
        bad_vertex = _nonmanifold_vertices(faces, n_vertices, counts, inverse)
        bad = np.zeros(len(faces), dtype=bool)
        bad[fin_faces] = True
        bad |= bad_vertex[faces].any(axis=1)
        if not bad.any():
            break
        removed += int(bad.sum())
        faces = faces[~bad]
    if not removed:
        return work
    actions.append(f"removed {removed} faces around non-manifold edges or vertices")
    return trimesh.Trimesh(np.asarray(work.vertices), faces, process=False)


def _consistent_winding(work: trimesh.Trimesh) -> trimesh.Trimesh:
    """Propagate one winding over each connected piece (VTK, linear time)."""
    import vtk
    from vtk.util import numpy_support

    polydata = vtk.vtkPolyData()
    points = vtk.vtkPoints()
    points.SetData(numpy_support.numpy_to_vtk(np.asarray(work.vertices, dtype=np.float64),
                                              deep=True))
    faces = np.asarray(work.faces, dtype=np.int64)
    cells = vtk.vtkCellArray()
    offsets = numpy_support.numpy_to_vtkIdTypeArray(np.arange(0, 3 * len(faces) + 1, 3),
                                                    deep=True)
    connectivity = numpy_support.numpy_to_vtkIdTypeArray(faces.ravel(), deep=True)
    cells.SetData(offsets, connectivity)
    polydata.SetPoints(points)
    polydata.SetPolys(cells)
    normals = vtk.vtkPolyDataNormals()
    normals.SetInputData(polydata)
    normals.ConsistencyOn()
    normals.SplittingOff()
    normals.ComputePointNormalsOff()
    normals.ComputeCellNormalsOn()  # with neither normal asked for, VTK skips the traversal
    normals.AutoOrientNormalsOff()
    normals.Update()
    out = normals.GetOutput().GetPolys()
    fixed = numpy_support.vtk_to_numpy(out.GetConnectivityArray()).reshape(-1, 3)
    return trimesh.Trimesh(np.asarray(work.vertices), fixed.astype(np.int64), process=False)


def _orient(work: trimesh.Trimesh, actions: list[str]) -> None:
    """Consistent winding, then outward normals judged on the whole mesh's signed volume.

    The whole-mesh test keeps the inward normals of inner cavity walls; a separate piece that
    is inverted on its own is made consistent with its neighbours only if it shares edges.
    """
    if len(work.faces) == 0:
        return
    if not _winding_consistent(np.asarray(work.faces), len(work.vertices)):
        fixed = _consistent_winding(work)
        work.faces = fixed.faces
        actions.append("made the face winding consistent")
    if _signed_volume(np.asarray(work.vertices), np.asarray(work.faces)) < 0:
        work.invert()
        actions.append("flipped the normals outward")
