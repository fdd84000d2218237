"""Repair of small surface defects: duplicates, specks, fins, small holes, orientation."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import trimesh
from scipy import sparse
from scipy.sparse import csgraph

from surgiplan.twin.mesh import SurfaceMesh
from surgiplan.twin.quality import (
    MeshReport,
    _component_labels,
    _degenerate,
    _edge_groups,
    _nonmanifold_vertices,
    _sides,
    _signed_volume,
    _unique_face_index,
    _winding_consistent,
    check_mesh,
)


@dataclass(frozen=True)
class RepairResult:
    """A repaired mesh, the checks before and after, and what was done."""

    mesh: SurfaceMesh
    report_before: MeshReport
    report_after: MeshReport
    actions: list[str] = field(default_factory=list)


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
    if before.ok and (before.components == 1
                      or not _has_small_components(mesh, min_component_fraction)):
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


def _has_small_components(mesh: SurfaceMesh, fraction: float) -> bool:
    """Whether a component's area is under ``fraction`` of the largest (two lungs: no)."""
    faces, vertices = mesh.faces, mesh.vertices_lps_mm
    counts, inverse = _edge_groups(faces, len(vertices))
    labels = _component_labels(faces, counts, inverse)
    a, b, c = (vertices[faces[:, n]] for n in range(3))
    area = np.bincount(labels, 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1))
    return bool(np.any(area < fraction * area.max()))


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
