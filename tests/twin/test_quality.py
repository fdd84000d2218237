"""Mesh checks and repairs on meshes with known defects."""

from __future__ import annotations

import numpy as np
import trimesh

from surgiplan.twin.mesh import SurfaceMesh
from surgiplan.twin.quality import _unique_face_index, check_mesh
from surgiplan.twin.repair import repair_mesh


def sphere(radius=10.0, centre=(0.0, 0.0, 0.0), subdivisions=3) -> trimesh.Trimesh:
    mesh = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    mesh.apply_translation(centre)
    return mesh


def surface(mesh: trimesh.Trimesh) -> SurfaceMesh:
    return SurfaceMesh(mesh.vertices, mesh.faces)


def test_closed_sphere_is_ok():
    report = check_mesh(surface(sphere()))
    assert report.ok and report.problems() == []
    assert (report.components, report.boundary_edges, report.n_vertices,
            report.n_triangles) == (1, 0, 642, 1280)


def test_hole_is_found_and_filled():
    ico = sphere()
    keep = ~np.any(ico.faces == 0, axis=1)  # remove the fan of 5 faces around vertex 0
    holed = SurfaceMesh(ico.vertices, ico.faces[keep])
    report = check_mesh(holed)
    assert not report.watertight and report.boundary_edges == 5
    assert "holes" in report.problems()[0]
    result = repair_mesh(holed)
    assert result.report_before == report
    assert result.report_after.ok
    assert any("filled 1 holes" in action for action in result.actions)
    assert result.mesh.n_triangles == ico.faces.shape[0]


def test_large_hole_is_left_open_and_reported():
    ico = sphere()
    keep = ico.vertices[ico.faces].mean(axis=1)[:, 2] < 5.0  # cut off the cap
    result = repair_mesh(SurfaceMesh(ico.vertices, ico.faces[keep]), max_hole_edges=10)
    assert not result.report_after.watertight
    assert any("left 1 holes open" in action for action in result.actions)


def test_tiny_component_is_dropped_and_big_ones_kept():
    parts = [sphere(10.0), sphere(8.0, (30.0, 0.0, 0.0)), sphere(0.5, (0.0, 30.0, 0.0), 1)]
    mesh = surface(trimesh.util.concatenate(parts))
    assert check_mesh(mesh).components == 3
    result = repair_mesh(mesh)
    assert result.report_after.components == 2 and result.report_after.ok
    assert result.mesh.n_triangles == 2 * 1280
    assert any("dropped 1 small components" in action for action in result.actions)


def test_inverted_mesh_is_turned_outward():
    ico = sphere()
    inverted = SurfaceMesh(ico.vertices, ico.faces[:, ::-1])
    report = check_mesh(inverted)
    assert report.winding_consistent and not report.outward
    result = repair_mesh(inverted)
    assert result.report_after.ok and "flipped the normals outward" in result.actions


def test_inconsistent_winding_is_fixed():
    ico = sphere()
    faces = ico.faces.copy()
    faces[:40] = faces[:40, ::-1]
    report = check_mesh(SurfaceMesh(ico.vertices, faces))
    assert not report.winding_consistent and not report.ok
    result = repair_mesh(SurfaceMesh(ico.vertices, faces))
    assert result.report_after.ok
    assert "made the face winding consistent" in result.actions


def test_triangle_soup_is_merged_into_a_closed_mesh():
    ico = sphere()
    soup = SurfaceMesh(ico.vertices[ico.faces].reshape(-1, 3),
                       np.arange(3 * len(ico.faces)).reshape(-1, 3))
    assert check_mesh(soup).boundary_edges == 3 * len(ico.faces)
    result = repair_mesh(soup)
    assert result.report_after.ok and result.mesh.n_vertices == 642


def test_degenerate_and_duplicate_faces_are_counted_and_removed():
    ico = sphere()
    faces = np.vstack([ico.faces, ico.faces[:3, [1, 2, 0]], [[0, 0, 1]]])
    report = check_mesh(SurfaceMesh(ico.vertices, faces))
    assert report.degenerate_faces == 1 and report.duplicate_faces == 3
    assert report.nonmanifold_edges > 0 and not report.manifold
    result = repair_mesh(SurfaceMesh(ico.vertices, faces))
    assert result.report_after.ok and result.mesh.n_triangles == 1280


def test_surfaces_touching_at_a_vertex_are_not_manifold():
    first = trimesh.creation.box()
    second = trimesh.creation.box()
    second.apply_translation((1.0, 1.0, 1.0))  # corners meet at (0.5, 0.5, 0.5)
    touching = trimesh.util.concatenate([first, second])
    touching.merge_vertices()
    report = check_mesh(surface(touching))
    assert report.watertight and not report.manifold
    assert report.nonmanifold_vertices == 1 and report.nonmanifold_edges == 0


def test_fin_edge_is_not_manifold():
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1]], dtype=float)
    faces = np.array([[0, 1, 2], [1, 0, 3], [0, 1, 4]])
    report = check_mesh(SurfaceMesh(vertices, faces))
    assert report.nonmanifold_edges == 1 and not report.manifold and not report.watertight


def test_good_mesh_is_returned_untouched():
    mesh = surface(sphere())
    result = repair_mesh(mesh)
    assert result.mesh is mesh and result.actions == [] and result.report_after.ok


def test_two_good_components_of_similar_size_are_returned_untouched():
    both = surface(trimesh.util.concatenate([sphere(10.0), sphere(9.0, (100.0, 0.0, 0.0))]))
    result = repair_mesh(both)
    assert result.actions == []
    assert result.mesh is both
    assert result.report_after.components == 2


def test_duplicate_faces_are_found_in_any_vertex_order():
    faces = np.array([[0, 1, 2], [2, 0, 1], [1, 0, 3], [3, 1, 0], [0, 2, 3]])
    np.testing.assert_array_equal(_unique_face_index(faces), [0, 2, 4])
